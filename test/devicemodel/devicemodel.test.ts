// DeviceModel: the buffers each function sends, byte for byte as libxendevicemodel 4.17 builds them
// (expected bytes written out by hand from the C structs), on both the ioctl and the hypercall path.
import { describe, expect, it } from "vitest";
import { DeviceModel, DeviceModelArgumentError, XenError, XenPositiveReturn, type DmPath } from "../../src/devicemodel/index.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { InProcessTransportFactory } from "../../src/transport/inprocess.js";
import { TapFactory } from "./tap.js";

const WORLD = { domains: [{ domid: 1, type: "hvm" as const, vcpus: 2 }, { domid: 2, type: "hvm" as const, vcpus: 3 }] };

/** 32 bytes of struct xen_dm_op: op at 0, then hex strings placed at byte offsets. */
function op32(op: number, at: Record<number, string> = {}): string {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(op, 0);
  for (const [off, h] of Object.entries(at)) Buffer.from(h.replace(/ /g, ""), "hex").copy(b, Number(off));
  return b.toString("hex");
}

async function open(path: DmPath, positive?: number): Promise<{ dm: DeviceModel; tap: TapFactory }> {
  const { device } = createFakeHost(WORLD);
  const tap = new TapFactory(new InProcessTransportFactory(device), positive);
  const dm = await DeviceModel.open(tap, { path });
  return { dm, tap };
}

function asErrno(e: unknown): string {
  if (e instanceof XenError) return `E${e.errno}`;
  throw e;
}

type Case = [name: string, call: (dm: DeviceModel) => Promise<unknown>, bufs: string[], sizes?: bigint[]];

const CASES: Case[] = [
  ["create_ioreq_server (int 0x1ff -> u8)", (dm) => dm.createIoreqServer(1, 0x1ff), [op32(1, { 8: "ff" })]],
  ["get_ioreq_server_info, no gfns", (dm) => dm.getIoreqServerInfo(1, 0x1234), [op32(2, { 8: "3412 0100" })]],
  ["get_ioreq_server_info, ioreq_gfn", (dm) => dm.getIoreqServerInfo(1, 0x1234, { ioreq_gfn: true }), [op32(2, { 8: "3412 0000" })]],
  ["get_ioreq_server_info, bufioreq_gfn", (dm) => dm.getIoreqServerInfo(1, 7, { bufioreq_gfn: true }), [op32(2, { 8: "0700 0000" })]],
  ["map_io_range mmio", (dm) => dm.mapIoRangeToIoreqServer(1, 5, 7, 0xfed00000, 0xfed003ffn), [op32(3, { 8: "0500 0000 01000000", 16: "0000d0fe00000000 ff03d0fe00000000" })]],
  ["map_io_range port", (dm) => dm.mapIoRangeToIoreqServer(1, 5, 0, 0x3f8, 0x3ff), [op32(3, { 8: "0500 0000 00000000", 16: "f803000000000000 ff03000000000000" })]],
  ["unmap_io_range", (dm) => dm.unmapIoRangeFromIoreqServer(1, 5, true, 0xffff_ffff_ffff_ffffn, 0), [op32(4, { 8: "0500 0000 01000000", 16: "ffffffffffffffff 0000000000000000" })]],
  ["map_pcidev abcd:ef:1f.7", (dm) => dm.mapPcidevToIoreqServer(1, 5, 0xabcd, 0xef, 0x1f, 7), [op32(3, { 8: "0500 0000 02000000", 16: "ffefcdab00000000 ffefcdab00000000" })]],
  ["unmap_pcidev 0:0:3.1", (dm) => dm.unmapPcidevFromIoreqServer(1, 5, 0, 0, 3, 1), [op32(4, { 8: "0500 0000 02000000", 16: "1900000000000000 1900000000000000" })]],
  ["map_mem_type WRITE", (dm) => dm.mapMemTypeToIoreqServer(1, 5, 4, 2), [op32(15, { 8: "0500 0400 02000000" })]],
  ["map_mem_type unmap (flags 0)", (dm) => dm.mapMemTypeToIoreqServer(1, 5, 4, 0), [op32(15, { 8: "0500 0400 00000000" })]],
  ["destroy_ioreq_server", (dm) => dm.destroyIoreqServer(1, 0xbeef), [op32(6, { 8: "efbe" })]],
  ["set_ioreq_server_state !!256", (dm) => dm.setIoreqServerState(1, 5, 256), [op32(5, { 8: "0500 01" })]],
  ["set_pci_intx_level (level u8, dev unchecked)", (dm) => dm.setPciIntxLevel(1, 0x1234, 0x56, 0xff, 2, 0x101), [op32(8, { 8: "3412 56 ff 02 01" })]],
  ["set_isa_irq_level", (dm) => dm.setIsaIrqLevel(1, 5, 0x102), [op32(9, { 8: "05 02" })]],
  ["set_irq_level", (dm) => dm.setIrqLevel(1, 0x10000, 1), [op32(19, { 8: "00000100 01" })]],
  ["set_pci_link_route", (dm) => dm.setPciLinkRoute(1, 3, 11), [op32(10, { 8: "03 0b" })]],
  ["inject_msi", (dm) => dm.injectMsi(1, 0xfee01000, 0x4041), [op32(14, { 8: "41400000", 16: "0010e0fe00000000" })]],
  ["set_mem_type (enum -> u16)", (dm) => dm.setMemType(1, 0x10005, 0x100, 1), [op32(12, { 8: "01000000 0500", 16: "0001000000000000" })]],
  ["inject_event (reference example)", (dm) => dm.injectEvent(1, 2, 14, 3, 0x12, 0, 0xdeadbeefcafen), ["0d00000000000000020000000e0300001200000000000000fecaefbeadde0000"]],
  ["inject_event vcpu -1", (dm) => dm.injectEvent(1, -1, 2, 2, 0, 0, 0), [op32(13, { 8: "ffffffff 02 02 00" })]],
  ["shutdown (reason unchecked)", (dm) => dm.shutdown(1, 0xdeadbeef), [op32(16, { 8: "efbeadde" })]],
  ["relocate_memory", (dm) => dm.relocateMemory(1, 1, 0x100, 0x200), [op32(17, { 8: "01000000", 16: "0001000000000000 0002000000000000" })]],
  ["pin_memory_cacheattr DELETE", (dm) => dm.pinMemoryCacheattr(1, 0x100, 0x1ff, 0xffffffff), [op32(18, { 8: "0001000000000000 ff01000000000000 ffffffff" })]],
  ["nr_vcpus", (dm) => dm.nrVcpus(1), [op32(20)]],
  ["track_dirty_vram nr 70 -> 9 bytes", (dm) => dm.trackDirtyVram(1, 0x100, 70, new Uint8Array(32).fill(0xa5)),
    [op32(7, { 8: "46000000", 16: "0001000000000000" }), "a5".repeat(32)], [32n, 9n]],
  ["track_dirty_vram nr 0xfffffff9 -> size 0 (32-bit wrap)", (dm) => dm.trackDirtyVram(1, 0x100, 0xfffffff9),
    [op32(7, { 8: "f9ffffff", 16: "0001000000000000" }), ""], [32n, 0n]],
  ["modified_memory", (dm) => dm.modifiedMemory(1, 0x100, 4), [op32(11, { 8: "01000000" }), "04000000000000000001000000000000"], [32n, 16n]],
  ["modified_memory_bulk, caller's pad sent", (dm) => dm.modifiedMemoryBulk(1, [{ nr: 2, first_pfn: 0x100 }, { nr: 3, pad: 0x5a, first_pfn: 0x180 }]),
    [op32(11, { 8: "02000000" }), "0200000000000000000100000000000003000000" + "5a000000" + "8001000000000000"], [32n, 32n]],
  ["modified_memory_bulk nr 0", (dm) => dm.modifiedMemoryBulk(1, new Uint8Array(0)), [op32(11), ""], [32n, 0n]],
];

describe("DeviceModel buffers match libxendevicemodel 4.17", () => {
  for (const path of ["ioctl", "hypercall"] as const) {
    describe(`${path} path`, () => {
      for (const [name, call, bufs, sizes] of CASES) {
        it(name, async () => {
          const { dm, tap } = await open(path);
          await call(dm).catch((e: unknown) => { if (!(e instanceof XenError)) throw e; });
          const ops = tap.ops;
          expect(ops).toHaveLength(1);
          const c = ops[0]!;
          expect(c.ioctl).toBe(path === "ioctl" ? "dm_op" : "hypercall");
          expect(c.dom).toBe(1);
          expect(c.num).toBe(bufs.length);
          expect(c.before).toEqual(bufs.map((b, i) => b.slice(0, 2 * Number(sizes?.[i] ?? 32n))));
          expect(c.sizes).toEqual(sizes ?? bufs.map(() => 32n));
          if (path === "hypercall") expect(c.args).toEqual([1n, BigInt(bufs.length), 0n]);
          await dm.close();
        });
      }
    });
  }

  it("sends the same bytes and gets the same results on both paths, call for call", async () => {
    const a = await open("ioctl");
    const b = await open("hypercall");
    for (const [, call] of CASES) {
      const ra = await call(a.dm).catch(asErrno);
      const rb = await call(b.dm).catch(asErrno);
      expect(rb).toEqual(ra);
    }
    const strip = (t: TapFactory) => t.ops.map((c) => ({ before: c.before, after: c.after, ret: c.ret, errno: c.errno }));
    expect(strip(b.tap)).toEqual(strip(a.tap));
  });
});

describe("DeviceModel library-side checks (no call is made)", () => {
  const refused: [string, (dm: DeviceModel) => Promise<unknown>, string][] = [
    ["pcidev device 0x20", (dm) => dm.mapPcidevToIoreqServer(1, 0, 0, 0, 0x20, 0), "xendevicemodel_map_pcidev_to_ioreq_server"],
    ["pcidev function 8", (dm) => dm.unmapPcidevFromIoreqServer(1, 0, 0, 0, 3, 8), "xendevicemodel_unmap_pcidev_from_ioreq_server"],
    ["mem type READ", (dm) => dm.mapMemTypeToIoreqServer(1, 0, 4, 1), "xendevicemodel_map_mem_type_to_ioreq_server"],
    ["mem type READ|WRITE", (dm) => dm.mapMemTypeToIoreqServer(1, 0, 4, 3), "xendevicemodel_map_mem_type_to_ioreq_server"],
    ["mem type not ioreq_server", (dm) => dm.mapMemTypeToIoreqServer(1, 0, 0, 2), "xendevicemodel_map_mem_type_to_ioreq_server"],
  ];
  for (const [name, call, fn] of refused) {
    it(`${name} -> EINVAL`, async () => {
      const { dm, tap } = await open("ioctl");
      const e = await call(dm).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(XenError);
      expect(e).toMatchObject({ errno: 22, errnoName: "EINVAL", fn, where: "library" });
      expect(tap.ops).toHaveLength(0);
    });
  }

  it("rejects values outside the C parameter types, naming the field", async () => {
    const { dm, tap } = await open("ioctl");
    await expect(dm.setPciIntxLevel(1, 0, 0x100, 0, 0, 0)).rejects.toThrow(DeviceModelArgumentError);
    await expect(dm.setPciIntxLevel(1, 0, 0x100, 0, 0, 0)).rejects.toThrow(/bus/);
    await expect(dm.nrVcpus(0x10000)).rejects.toThrow(/domid/);
    await expect(dm.setMemType(1, 0, 2n ** 64n, 1)).rejects.toThrow(/first_pfn/);
    await expect(dm.injectEvent(1, 2 ** 31, 0, 0, 0, 0, 0)).rejects.toThrow(/vcpu/);
    await expect(dm.trackDirtyVram(1, 0, 70, new Uint8Array(8))).rejects.toThrow(/dirty_bitmap/);
    await expect(dm.modifiedMemoryBulk(1, new Uint8Array(17))).rejects.toThrow(/extents/);
    await expect(dm.shutdown(1, 1.5)).rejects.toThrow(/reason/);
    expect(tap.ops).toHaveLength(0);
  });
});

describe("DeviceModel results and errors", () => {
  it("reads outputs and raises XenError with the errno of a failing call", async () => {
    const { dm } = await open("ioctl");
    expect(await dm.nrVcpus(1)).toBe(2);
    expect(await dm.nrVcpus(2)).toBe(3);
    const id = await dm.createIoreqServer(1, 1);
    const info = await dm.getIoreqServerInfo(1, id, { ioreq_gfn: true, bufioreq_gfn: true });
    expect(typeof info.ioreq_gfn).toBe("bigint");
    expect(typeof info.bufioreq_gfn).toBe("bigint");
    expect(Object.keys(await dm.getIoreqServerInfo(1, id))).toEqual(["bufioreq_port"]);
    const e = await dm.nrVcpus(0x1234).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ fn: "xendevicemodel_nr_vcpus", errno: 3, errnoName: "ESRCH", where: "ioctl" });
    expect(String(e)).toMatch(/xendevicemodel_nr_vcpus: ESRCH \(3\)/);
  });

  it("ioctl path: a positive return is 0 and the outputs are read", async () => {
    const { dm } = await open("ioctl", 7);
    expect(await dm.nrVcpus(1)).toBe(2);
    expect(await dm.setIsaIrqLevel(1, 5, 1)).toBe(0);
  });

  it("hypercall path: a positive return is returned as-is; output functions return early", async () => {
    const { dm } = await open("hypercall", 7);
    expect(await dm.setIsaIrqLevel(1, 5, 1)).toBe(7);
    await expect(dm.nrVcpus(1)).rejects.toThrow(XenPositiveReturn);
    await expect(dm.createIoreqServer(1, 0)).rejects.toMatchObject({ rc: 7, fn: "xendevicemodel_create_ioreq_server" });
  });

  it("track_dirty_vram writes the caller's bitmap (size bytes only) on both paths", async () => {
    for (const path of ["ioctl", "hypercall"] as const) {
      const { dm } = await open(path);
      const bitmap = new Uint8Array(16).fill(0xa5);
      const out = await dm.trackDirtyVram(1, 0x100, 70, bitmap);
      expect(out).toBe(bitmap);
      expect(Buffer.from(bitmap).toString("hex")).toBe("ff".repeat(9) + "a5".repeat(7));
    }
  });

  it("restrict: ioctl path restricts only the DM_OP handle; hypercall path is EOPNOTSUPP without a call", async () => {
    const a = await open("ioctl");
    expect(await a.dm.restrict(1)).toBe(0);
    expect(await a.dm.restrict(1)).toBe(0);
    await expect(a.dm.restrict(2)).rejects.toMatchObject({ errno: 22, fn: "xendevicemodel_restrict" });
    await expect(a.dm.nrVcpus(2)).rejects.toMatchObject({ errno: 1, errnoName: "EPERM" });
    expect(await a.dm.nrVcpus(1)).toBe(2);
    const b = await open("hypercall");
    await expect(b.dm.restrict(1)).rejects.toMatchObject({ errno: 95, errnoName: "EOPNOTSUPP", where: "library" });
    expect(b.tap.calls).toHaveLength(0);
  });

  it("open probes DM_OP with {DOMID_INVALID, num 0} and falls back to the hypercall when it fails", async () => {
    const { device } = createFakeHost(WORLD);
    const tap = new TapFactory(new InProcessTransportFactory(device));
    const dm = await DeviceModel.open(tap);
    expect(dm.path).toBe("ioctl");
    expect(tap.calls[0]).toMatchObject({ ioctl: "dm_op", dom: 0x7ff4, num: 0, ret: 0 });
    // A handle restricted before the probe (as a domU kernel opens it) fails the probe with EPERM.
    const restricted = { open: async () => { const t = await tap.open(); await t.restrict(1); return t; } };
    const dm2 = await DeviceModel.open(restricted);
    expect(dm2.path).toBe("hypercall");
    // ... and every op then fails with EPERM, since the xencall handle is restricted too.
    await expect(dm2.nrVcpus(1)).rejects.toMatchObject({ errno: 1, where: "hypercall" });
    await expect(DeviceModel.open(restricted, { path: "ioctl" })).rejects.toMatchObject({ fn: "xendevicemodel_open", errno: 1 });
  });

  it("open: a missing second device (ENOENT/ENXIO/ENODEV) means the hypercall path; other errors are fatal", async () => {
    const { device } = createFakeHost(WORLD);
    const inner = new InProcessTransportFactory(device);
    const failingSecond = (errno: number) => {
      let n = 0;
      return { open: () => (n++ === 0 ? inner.open() : Promise.reject(Object.assign(new Error("open"), { errno }))) };
    };
    for (const errno of [2, 6, 19]) expect((await DeviceModel.open(failingSecond(errno))).path).toBe("hypercall");
    await expect(DeviceModel.open(failingSecond(13))).rejects.toMatchObject({ errno: 13 });
    await expect(DeviceModel.open(failingSecond(2), { path: "ioctl" })).rejects.toMatchObject({ errno: 2 });
  });

  it("a closed handle refuses calls", async () => {
    const { dm } = await open("ioctl");
    await dm.close();
    await dm.close();
    await expect(dm.nrVcpus(1)).rejects.toThrow(/closed/);
  });
});
