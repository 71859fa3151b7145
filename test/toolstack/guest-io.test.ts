// Guest accesses as promises against an in-process emulator: PCI configuration through CF8/CFC becomes
// PCI_CONFIG ioreqs the emulator answers, so enumeratePci runs over them; an emulator that never
// answers is a bounded timeout, one that is gone is named at once.
import { describe, expect, it } from "vitest";
import { attachInProcess } from "../../src/transport/ioreq-inprocess.js";
import { IOREQ_TYPE_PCI_CONFIG } from "../../src/hypervisor/ioreq-record.js";
import { GuestIo, GuestIoError } from "../../src/toolstack/guest-io.js";
import { enumeratePci } from "../../src/toolstack/lspci.js";
import { GUEST, createServer, host, mapRange, setState } from "../emulate/helpers.js";

function setup() {
  const s = host();
  const id = createServer(s.hv, 0);
  mapRange(s.hv, id, "PCI", 0, 0xff);
  mapRange(s.hv, id, "PORT", 0x3f8, 0x3ff);
  return { ...s, id };
}

describe("GuestIo", () => {
  it("PCI config reads and BAR sizing go to the emulator as PCI_CONFIG ioreqs", async () => {
    const { hv, guest, id } = setup();
    const client = attachInProcess(hv, { caller: 0, domid: GUEST, id });
    setState(hv, id, true);
    // one device at 00:03.0 with a 4 KiB memory BAR 0
    let bar0 = 0xf3000000;
    const seen: bigint[] = [];
    void client.serve((r) => {
      if (r.type !== IOREQ_TYPE_PCI_CONFIG) return 0n;
      seen.push(r.addr);
      const sbdf = Number(r.addr >> 32n);
      const reg = Number(r.addr & 0xfffn);
      if (sbdf !== 0x18) return 0xffffffffn;
      if (r.dir === 0) {
        if (reg === 0x10) bar0 = Number(r.data & 0xfffff000n);
        return 0n;
      }
      const regs: Record<number, number> = { 0x00: 0x00b81013, 0x08: 0x03000000, 0x0c: 0, 0x10: bar0 };
      const v = regs[reg & ~3] ?? 0;
      return BigInt((v >>> ((reg & 3) * 8)) & (r.size === 4 ? 0xffffffff : r.size === 2 ? 0xffff : 0xff));
    });
    const io = new GuestIo(guest, GUEST);
    expect(await io.pci.read(0x18, 0, 4)).toBe(0x00b81013);
    const fns = await enumeratePci(io.pci);
    expect(fns).toHaveLength(1);
    expect(fns[0]).toMatchObject({ bdf: 0x18, vendor: 0x1013, device: 0xb8, classCode: 0x0300 });
    expect(fns[0]!.bars).toEqual([{ index: 0, kind: "mem", is64: false, prefetchable: false, base: 0xf3000000n, size: 4096n }]);
    expect(seen).toContain((0x18n << 32n) | 0x10n);
    client.close();
  });

  it("no answer is a timeout at the bound; a gone device model is named at once", async () => {
    const { hv, guest, id } = setup();
    attachInProcess(hv, { caller: 0, domid: GUEST, id });
    setState(hv, id, true);
    const io = new GuestIo(guest, GUEST, { timeoutMs: 200 });
    const t0 = Date.now();
    const e = await io.pioWrite(0x3f8, 1, 0x41).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GuestIoError);
    expect((e as GuestIoError).code).toBe("timeout");
    expect(Date.now() - t0).toBeLessThan(2000);
    const s2 = setup();
    attachInProcess(s2.hv, { caller: 0, domid: GUEST, id: s2.id });
    setState(s2.hv, s2.id, true);
    const io2 = new GuestIo(s2.guest, GUEST, { timeoutMs: 10_000, deviceModelGone: () => "domain 1 device model [123]: killed by SIGKILL" });
    const t1 = Date.now();
    const e2 = await io2.pioRead(0x3f8, 1).catch((x: unknown) => x);
    expect((e2 as GuestIoError).code).toBe("device-model-died");
    expect((e2 as GuestIoError).message).toContain("SIGKILL");
    expect(Date.now() - t1).toBeLessThan(1000);
    // as on Xen, the vCPU stays blocked on the ioreq
    expect(s2.guest.waitingOn(GUEST, 0).length).toBeGreaterThan(0);
  });
});
