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
import { defaultShimPath, launchQemu, type QemuGuest } from "../../src/toolstack/launch.js";
import { enumeratePci } from "../../src/toolstack/lspci.js";

/** QEMU's messages when the host layer lacks an interface, and what each means. */
const HOST_GAPS: [RegExp, string][] = [
  [/event channel open: (No such file or directory|No such device)/, "/dev/xen/evtchn"],
  [/map shared IO page returned error 25|map buffered IO page returned error 25/, "IOCTL_PRIVCMD_MMAPBATCH_V2 of the ioreq pages"],
  [/failed to map ioreq server resources/, "IOCTL_PRIVCMD_MMAP_RESOURCE"],
];

const have = existsSync(QEMU_XEN_BINARY) && existsSync(defaultShimPath());
if (!have) {
  const msg = `${QEMU_XEN_BINARY} or the shim (${defaultShimPath()}) is missing (apt-get install qemu-system-xen; make -C native)`;
  if (process.env.CI === "true") throw new Error(`QEMU integration: ${msg}`);
  console.warn(`\n*** QEMU integration tests SKIPPED: ${msg} ***\n`);
}

let q: QemuGuest | null = null;
let gap: string | null = null;

beforeAll(async () => {
  if (!have) return;
  try {
    q = await launchQemu({ memoryMb: 64, vcpus: 1, startTimeoutMs: 30_000 });
  } catch (e) {
    if (!(e instanceof DeviceModelError)) throw e;
    const text = e.lastLines.join("\n");
    const hit = HOST_GAPS.find(([re]) => re.test(text));
    if (hit === undefined) throw e;
    gap = hit[1];
    console.warn(`\n*** QEMU integration tests SKIPPED: the host layer lacks ${gap}; QEMU said:\n    ${e.lastLines.join("\n    ")} ***\n`);
  }
}, 60_000);

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
    expect(ids).toContain("1013:b8");
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
