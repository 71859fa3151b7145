// A guest meeting Debian's unmodified QEMU through the fake, told step by step: QEMU started as libxl
// starts it, the PCI bus enumerated through CF8/CFC, the serial port, string I/O out of guest RAM, a
// buffered VGA write read back, and a reset that QEMU turns into remote_shutdown.
import { SHUTDOWN_reboot } from "../../abi/xen/xen.js";
import { GuestIo } from "../toolstack/guest-io.js";
import { QEMU_XEN_BINARY } from "../toolstack/argv.js";
import { launchQemu, type QemuGuest } from "../toolstack/qemu.js";
import { enumeratePci, formatLspci } from "../toolstack/lspci.js";
import { DeviceModelError } from "../toolstack/errors.js";

export interface DemoStep {
  title: string;
  lines: string[];
  ok: boolean;
}

const VGA_GAP = /failed to populate ram at/;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return false;
    await sleep(10);
  }
  return true;
}

/** Runs the story; each step says what happened. Throws a DeviceModelError when QEMU cannot start. */
export async function runQemuDemo(out: (s: DemoStep) => void): Promise<boolean> {
  let vgaNote: string | null = null;
  let q: QemuGuest;
  try {
    q = await launchQemu({ memoryMb: 64 });
  } catch (e) {
    // without VRAM (populate_physmap through multicall) QEMU cannot have its VGA: start without it
    if (!(e instanceof DeviceModelError) || !VGA_GAP.test(e.lastLines.join("\n"))) throw e;
    vgaNote = `the VGA needs its VRAM populated (multicall + XENMEM_populate_physmap), which this host layer lacks: started with vga none (QEMU said "${e.lastLines.at(-1) ?? ""}")`;
    q = await launchQemu({ memoryMb: 64, vga: "none" });
  }
  let allOk = true;
  const step = (title: string, lines: string[], ok = true): void => {
    allOk &&= ok;
    out({ title, lines, ok });
  };
  try {
    const gone = (): string | null => (q.dm.exit === null ? null : `exited ${JSON.stringify(q.dm.exit)}`);
    const io = new GuestIo(q.guest, q.domid, { deviceModelGone: gone });
    const st = await q.qmp.queryStatus();
    step("QEMU started as libxl starts it", [
      `${QEMU_XEN_BINARY} -xen-domid ${q.domid} ... -S, QMP cont, device-model/${q.domid}/state = ${q.xenstore.readSync(`/local/domain/0/device-model/${q.domid}/state`) ?? "?"}`,
      `pid ${q.dm.pid}, running in ${q.dm.startupMs.toFixed(0)} ms; QMP query-status: ${st.status}; QEMU ${q.qmp.version ? `${q.qmp.version.major}.${q.qmp.version.minor}.${q.qmp.version.micro}` : "?"}`,
      `ioreq server 0: ${q.hv.server(q.domid, 0).ranges?.port.length ?? 0} port ranges, ${q.hv.server(q.domid, 0).ranges?.memory.length ?? 0} MMIO ranges, ${q.hv.server(q.domid, 0).ranges?.pci.length ?? 0} PCI devices registered`,
      ...(vgaNote !== null ? [vgaNote] : []),
    ]);

    const fns = await enumeratePci(io.pci);
    step("the guest enumerates its PCI bus (CF8/CFC -> PCI_CONFIG ioreqs QEMU answers; BARs sized with all ones)", formatLspci(fns).trimEnd().split("\n"));

    for (const c of Buffer.from("Hi from outb\n")) await io.pioWrite(0x3f8, 1, c);
    const text = "Hello from guest RAM via rep outsb\n";
    q.guest.memoryOf(q.domid).write(0x123000, Buffer.from(text, "latin1"));
    const reps = await io.pioWriteString(0x3f8, 1, 0x123000, text.length);
    await io.pioWrite(0x3ff, 1, 0xa5);
    const scratch = await io.pioRead(0x3ff, 1);
    const seen = await until(() => q.serial().includes(text), 2000);
    step("the serial port: outb, then rep outsb with data_is_ptr (QEMU reads the bytes from guest RAM)", [
      `rep outsb: ${reps} bytes from gpa 0x123000`,
      `16550 scratch register: wrote 0xa5, read 0x${scratch.toString(16)}`,
      ...q.serial().trimEnd().split("\n").map((l) => `serial0| ${l}`),
    ], seen && scratch === 0xa5);

    if (vgaNote === null) {
      // as firmware does before it draws: the sequencer writes all four planes (map mask) and
      // addresses them chained (memory mode chain-4), so a byte at 0xa0000 is a byte of VRAM
      await io.pioWrite(0x3c4, 1, 0x02);
      await io.pioWrite(0x3c5, 1, 0x0f);
      await io.pioWrite(0x3c4, 1, 0x04);
      await io.pioWrite(0x3c5, 1, 0x0e);
      await io.mmioWrite(0xa0000, 1, 0x5a);
      const back = await io.mmioRead(0xa0000, 1);
      step("a VGA memory write goes on the buffered ring, a sync read brings it back", [
        "sequencer: map mask 0x0f, memory mode 0x0e (chain-4)",
        `mmio write 0xa0000 <- 0x5a (buffered), mmio read 0xa0000 -> 0x${back.toString(16)}`,
      ], back === 0x5an);
    } else step("a buffered VGA write read back", ["not shown: no VGA in this guest (see above)"], true);

    await io.pioWrite(0xcf9, 1, 0x06);
    const d = q.hv.domain(q.domid)!;
    const reset = await until(() => d.shutdown.code !== null, 2000);
    step("the guest resets through 0xcf9: QEMU calls remote_shutdown", [
      `outb 0xcf9 <- 0x06; the domain's shutdown code: ${String(d.shutdown.code)} (SHUTDOWN_reboot = ${SHUTDOWN_reboot})`,
    ], reset && d.shutdown.code === SHUTDOWN_reboot);
  } finally {
    const hv = q.hv;
    const domid = q.domid;
    await q.stop();
    step("QMP quit: QEMU disables and destroys its ioreq server", [`ioreq server 0 exists: ${String(hv.server(domid, 0).exists)}`], !hv.server(domid, 0).exists);
  }
  return allOk;
}
