// Debian's unmodified QEMU (qemu-system-xen 7.2) as the device model of a fake HVM guest, started as
// libxl starts it, under the shim, against the fake host and the TypeScript xenstored.
// Until the host interfaces QEMU needs are all in place (/dev/xen/evtchn, MMAP_RESOURCE or
// MMAPBATCH_V2 of the ioreq pages), QEMU stops at start-up with one of the messages below: the suite
// then says so loudly and which interface was missing. Any other failure fails it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { QEMU_XEN_BINARY } from "../../src/toolstack/argv.js";
import { DeviceModelError } from "../../src/toolstack/errors.js";
import { GuestIo, GuestIoError } from "../../src/toolstack/guest-io.js";
import { defaultShimPath, launchQemu, type QemuGuest } from "../../src/toolstack/qemu.js";
import { enumeratePci } from "../../src/toolstack/lspci.js";

/** QEMU's messages when the host layer lacks an interface, and what each means. */
const HOST_GAPS: [RegExp, string][] = [
  [/event channel open: (No such file or directory|No such device)/, "/dev/xen/evtchn"],
  [/map shared IO page returned error 25|map buffered IO page returned error 25/, "IOCTL_PRIVCMD_MMAPBATCH_V2 of the ioreq pages"],
  [/failed to map ioreq server resources/, "IOCTL_PRIVCMD_MMAP_RESOURCE"],
];
/** QEMU's message when VRAM cannot be populated (multicall + memory_op XENMEM_populate_physmap). */
const VRAM_GAP = /failed to populate ram at/;

const have = existsSync(QEMU_XEN_BINARY) && existsSync(defaultShimPath());
if (!have) {
  const msg = `${QEMU_XEN_BINARY} or the shim (${defaultShimPath()}) is missing (apt-get install qemu-system-xen; make -C native)`;
  if (process.env.CI === "true") throw new Error(`QEMU integration: ${msg}`);
  console.warn(`\n*** QEMU integration tests SKIPPED: ${msg} ***\n`);
}

let q: QemuGuest | null = null;
let gap: string | null = null;
let vgaGap: string | null = null;

/** Starts a guest; a start that fails on a known host gap gives null and records the gap. */
async function start(vga: "cirrus" | "none"): Promise<QemuGuest | null> {
  try {
    return await launchQemu({ memoryMb: 64, vcpus: 1, startTimeoutMs: 30_000, vga });
  } catch (e) {
    if (!(e instanceof DeviceModelError)) throw e;
    const text = e.lastLines.join("\n");
    if (vga === "cirrus" && VRAM_GAP.test(text) && process.env.CI !== "true") {
      vgaGap = "multicall + memory_op XENMEM_populate_physmap (the VGA's VRAM)";
      console.warn(`\n*** QEMU VGA tests SKIPPED: the host layer lacks ${vgaGap}; QEMU said:\n    ${e.lastLines.join("\n    ")} ***\n`);
      return start("none");
    }
    const hit = HOST_GAPS.find(([re]) => re.test(text));
    if (hit === undefined) throw e;
    gap = hit[1];
    console.warn(`\n*** QEMU integration tests SKIPPED: the host layer lacks ${gap}; QEMU said:\n    ${e.lastLines.join("\n    ")} ***\n`);
    return null;
  }
}

beforeAll(async () => {
  if (have) q = await start("cirrus");
}, 90_000);

afterAll(async () => {
  await q?.stop().catch(() => undefined);
});

const io = (): GuestIo => new GuestIo(q!.guest, q!.domid, {
  timeoutMs: 5000,
  deviceModelGone: () => (q!.dm.exit === null ? null : `exited ${JSON.stringify(q!.dm.exit)}`),
});

describe.skipIf(!have)("the real QEMU against the fake", () => {
  it("starts as libxl starts it: paused, cont, device-model/<domid>/state = running", (ctx) => {
    if (gap !== null) ctx.skip();
    expect(q!.xenstore.readSync(`/local/domain/0/device-model/${q!.domid}/state`)).toBe("running");
    const s = q!.hv.server(q!.domid, 0);
    expect(s.exists).toBe(true);
    expect(s.enabled).toBe(true);
  });

  it("PCI config reads of the i440FX, PIIX3, the Xen platform device and the VGA", async (ctx) => {
    if (gap !== null) ctx.skip();
    const fns = await enumeratePci(io().pci);
    const ids = fns.map((f) => `${f.vendor.toString(16)}:${f.device.toString(16)}`);
    expect(ids).toContain("8086:1237");
    expect(ids).toContain("8086:7000");
    expect(ids).toContain("5853:1");
    if (vgaGap === null) expect(ids).toContain("1013:b8");
    // the platform device's BARs as QEMU sized them: 256 I/O ports, 16 MiB of prefetchable memory
    const xp = fns.find((f) => f.vendor === 0x5853)!;
    expect(xp.bars.map((b) => [b.kind, b.size])).toEqual([["io", 256n], ["mem", 16n << 20n]]);
  });

  it("programming a BAR and enabling decode moves QEMU's registered range", async (ctx) => {
    if (gap !== null) ctx.skip();
    const g = io();
    const bdf = 0x10; // 00:02.0, the Xen platform device
    await g.pci.write(bdf, 0x14, 4, 0xf2000000);
    await g.pci.write(bdf, 0x10, 4, 0xc100);
    await g.pci.write(bdf, 0x04, 2, 0x0003);
    const ranges = (): { port: [string, string][]; memory: [string, string][] } => q!.hv.server(q!.domid, 0).ranges!;
    const deadline = Date.now() + 2000;
    while (!ranges().memory.some(([a]) => a === "0xf2000000") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ranges().memory).toContainEqual(["0xf2000000", "0xf2ffffff"]);
    expect(ranges().port).toContainEqual(["0xc100", "0xc1ff"]);
    await g.pci.write(bdf, 0x04, 2, 0x0000);
  });

  it("rep outsb with data_is_ptr: QEMU reads the string from guest RAM", async (ctx) => {
    if (gap !== null) ctx.skip();
    const text = "Hello from guest RAM via rep outsb\n";
    q!.guest.memoryOf(q!.domid).write(0x123000, Buffer.from(text, "latin1"));
    expect(await io().pioWriteString(0x3f8, 1, 0x123000, text.length)).toBe(text.length);
    const deadline = Date.now() + 2000;
    while (!q!.serial().includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(q!.serial()).toContain(text);
  });

  it("a mapcache INVALIDATE is answered", async (ctx) => {
    if (gap !== null) ctx.skip();
    q!.guest.requestMapcacheInvalidate(q!.domid);
    await io().resume();
    expect(q!.guest.waitingOn(q!.domid, 0)).toEqual([]);
  });

  it("serial output from outb to 0x3f8; the scratch register written and read back", async (ctx) => {
    if (gap !== null) ctx.skip();
    const g = io();
    for (const c of Buffer.from("Hi\n")) await g.pioWrite(0x3f8, 1, c);
    await g.pioWrite(0x3ff, 1, 0x5a);
    expect(await g.pioRead(0x3ff, 1)).toBe(0x5a);
    const deadline = Date.now() + 2000;
    while (!q!.serial().includes("Hi\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(q!.serial()).toContain("Hi\n");
  });

  it("a buffered VGA memory write is read back through a sync read", async (ctx) => {
    if (gap !== null || vgaGap !== null) ctx.skip();
    const g = io();
    // the sequencer writes all planes, chained (chain-4), so 0xa0000 addresses VRAM bytes directly
    for (const [port, v] of [[0x3c4, 0x02], [0x3c5, 0x0f], [0x3c4, 0x04], [0x3c5, 0x0e]] as const) await g.pioWrite(port, 1, v);
    await g.mmioWrite(0xa0001, 1, 0xc3);
    expect(await g.mmioRead(0xa0001, 1)).toBe(0xc3n);
  });

  it("a write of 0x06 to 0xcf9 makes QEMU call remote_shutdown (reboot)", async (ctx) => {
    if (gap !== null) ctx.skip();
    await io().pioWrite(0xcf9, 1, 0x06).catch((e: unknown) => { if (!(e instanceof GuestIoError)) throw e; });
    const deadline = Date.now() + 2000;
    while (q!.hv.domain(q!.domid)!.shutdown.code === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(q!.hv.domain(q!.domid)!.shutdown.code).toBe(1);
  });

  it("a clean shutdown disables and destroys the ioreq server", async (ctx) => {
    if (gap !== null) ctx.skip();
    const domid = q!.domid;
    const hv = q!.hv;
    await q!.stop();
    q = null;
    expect(hv.server(domid, 0).exists).toBe(false);
  });
});

describe.skipIf(!have)("a QEMU that dies mid-request", () => {
  it("leaves the fake consistent: the access fails naming it, the server stays, the vCPU stays blocked", async (ctx) => {
    const g = await start("none");
    if (g === null) {
      ctx.skip();
      return;
    }
    try {
      const guestIo = new GuestIo(g.guest, g.domid, {
        timeoutMs: 10_000,
        deviceModelGone: () => (g.dm.exit === null ? null : `${g.dm.what} exited (${g.dm.exit.signal ?? `status ${g.dm.exit.code}`})`),
      });
      g.dm.kill("SIGSTOP");
      const pending = guestIo.pioRead(0x3ff, 1).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      expect(g.guest.waitingOn(g.domid, 0).length).toBe(1);
      g.dm.kill("SIGKILL");
      const t0 = Date.now();
      const e = await pending;
      expect(e).toBeInstanceOf(GuestIoError);
      expect((e as GuestIoError).code).toBe("device-model-died");
      expect((e as GuestIoError).message).toContain("SIGKILL");
      expect(Date.now() - t0).toBeLessThan(2000);
      // as on Xen: the ioreq server outlives its emulator's process, the vCPU waits on
      expect(g.hv.server(g.domid, 0).exists).toBe(true);
      expect(g.guest.waitingOn(g.domid, 0).length).toBe(1);
      // what libxl does then: remove device-model/<domid>, signal the pid (already gone)
      await g.dm.destroy();
      expect(g.xenstore.readSync(`/local/domain/0/device-model/${g.domid}`)).toBeNull();
    } finally {
      await g.stop().catch(() => undefined);
    }
  });
});

describe.skipIf(!have)("xendm qemu --lspci and demo --qemu", () => {
  it("xendm qemu --lspci lists QEMU's devices and exits 0", async (ctx) => {
    if (gap !== null) ctx.skip();
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(process.execPath, ["bin/xendm.js", "qemu", "--lspci", "--vga", vgaGap === null ? "cirrus" : "none"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("00:00.0 Host bridge [0600]: Intel Corporation 440FX - 82441FX PMC [Natoma] [8086:1237] (rev 02)");
    expect(r.stdout).toContain("[8086:7000]");
    expect(r.stdout).toContain("Xen Platform Device [5853:0001]");
    expect(r.stdout).toMatch(/Region 1: Memory at [0-9a-f]+ \(32-bit, prefetchable\) \[size=16M\]/);
  });

  it("the demo's every step holds", async (ctx) => {
    if (gap !== null) ctx.skip();
    const { runQemuDemo } = await import("../../src/demo/qemu.js");
    const steps: { title: string; ok: boolean }[] = [];
    expect(await runQemuDemo((s) => steps.push(s))).toBe(true);
    expect(steps.map((s) => s.ok)).not.toContain(false);
    expect(steps.length).toBe(6);
  });
});

describe.skipIf(!have)("scenarios with \"device_model\": {\"qemu\": ...}", () => {
  it("fixtures/scenarios/qemu/qemu.json: every step holds", async (ctx) => {
    if (gap !== null) ctx.skip();
    const { loadScenarioFile, runScenarioAsync } = await import("../../src/scenario/index.js");
    const results = await runScenarioAsync(loadScenarioFile("fixtures/scenarios/qemu/qemu.json"), {});
    expect(results.filter((r) => !r.pass).map((r) => [r.index, r.diff])).toEqual([]);
    expect(results).toHaveLength(15);
  });

  it("memory_mb must agree with the domain's RAM; the machine and vga are checked", async () => {
    const { parseScenario, runScenarioAsync, ScenarioError } = await import("../../src/scenario/index.js");
    const base = { format: 1, domains: [{ domid: 1, vcpus: 1, ram: [["0x0", "0x9f"], ["0xc0", "0x3fff"]] }], steps: [] };
    const bad = async (qemu: object): Promise<string> => {
      try {
        await runScenarioAsync({ ...base, device_model: { qemu } }, {});
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as InstanceType<typeof ScenarioError>).path;
      }
      return "";
    };
    expect(await bad({ memory_mb: 128 })).toBe("device_model.qemu.memory_mb");
    expect(() => parseScenario({ ...base, device_model: { qemu: { machine: "xenpvh" } } })).toThrow(/device_model.qemu.machine/);
    expect(() => parseScenario({ ...base, device_model: { qemu: { vga: "qxl" } } })).toThrow(/device_model.qemu.vga/);
    expect(() => parseScenario({ ...base, device_model: { qemu: {}, exec: ["x"] } })).toThrow(/device_model.exec/);
  });
});
