import { describe, expect, it } from "vitest";
import {
  DOMID_INVALID,
  PrivcmdArgumentError,
  PrivcmdDevice,
  RegionMemory,
  decodeXenDmOpBufs,
  encodeXenDmOpBufs,
  xenDmOpBufSize,
  type DmOpBuf,
} from "../../src/privcmd/index.js";

interface Call {
  caller: number;
  domid: number;
  bufs: DmOpBuf[];
}

/** A dm_op stand-in that records every call and answers with `rc`. */
function recorder(rc = 0): { calls: Call[]; fn: (caller: number, domid: number, bufs: DmOpBuf[]) => number } {
  const calls: Call[] = [];
  return { calls, fn: (caller, domid, bufs) => (calls.push({ caller, domid, bufs }), rc) };
}

const buf = (n = 32): DmOpBuf => ({ bytes: new Uint8Array(n) });

describe("PrivcmdHandle.restrict", () => {
  it("sets on the first call, accepts the same domid again, refuses another with EINVAL", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    expect(h.restriction).toBe(DOMID_INVALID);
    expect(h.restrict(1)).toEqual({ ret: 0 });
    expect(h.restriction).toBe(1);
    expect(h.restrict(1)).toEqual({ ret: 0 });
    expect(h.restrict(2)).toEqual({ ret: -1, errno: 22 });
    expect(h.restriction).toBe(1);
  });
  it("is per handle", () => {
    const dev = new PrivcmdDevice(recorder().fn);
    const a = dev.open(0);
    const b = dev.open(0);
    a.restrict(1);
    expect(b.restriction).toBe(DOMID_INVALID);
    expect(b.restrict(2)).toEqual({ ret: 0 });
  });
  it("rejects a domid that is not a u16", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    expect(() => h.restrict(0x10000)).toThrow(PrivcmdArgumentError);
    expect(() => h.restrict(-1)).toThrow(/dom/);
  });
});

describe("PrivcmdHandle.dm_op, checks in the kernel's order", () => {
  it("passes the call through with the caller and returns the hypervisor's value", () => {
    const r = recorder(5);
    const h = new PrivcmdDevice(r.fn).open(3);
    const b = buf();
    expect(h.dm_op(1, 1, [b])).toEqual({ ret: 5 });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]).toMatchObject({ caller: 3, domid: 1 });
    expect(r.calls[0]!.bufs[0]!.bytes).toBe(b.bytes);
  });
  it("turns a negative rc into -1/errno", () => {
    const h = new PrivcmdDevice(recorder(-3).fn).open(0);
    expect(h.dm_op(9, 1, [buf()])).toEqual({ ret: -1, errno: 3 });
  });
  it("restricted handle, other dom → EPERM, before the num == 0 shortcut", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    h.restrict(1);
    expect(h.dm_op(DOMID_INVALID, 0, [])).toEqual({ ret: -1, errno: 1 });
    expect(h.dm_op(2, 1, [buf()])).toEqual({ ret: -1, errno: 1 });
    expect(h.dm_op(1, 0, [])).toEqual({ ret: 0 });
    expect(h.dm_op(1, 1, [buf()])).toEqual({ ret: 0 });
    expect(r.calls).toHaveLength(1);
  });
  it("EPERM comes before E2BIG", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    h.restrict(1);
    expect(h.dm_op(2, 17, [])).toEqual({ ret: -1, errno: 1 });
  });
  it("num == 0 → 0 without reaching the hypervisor (the library's probe)", () => {
    const r = recorder(-99);
    const h = new PrivcmdDevice(r.fn).open(0);
    expect(h.dm_op(DOMID_INVALID, 0, [])).toEqual({ ret: 0 });
    expect(r.calls).toHaveLength(0);
  });
  it("num > 16 → E2BIG; 16 reaches the hypervisor", () => {
    const r = recorder(-7);
    const h = new PrivcmdDevice(r.fn).open(0);
    const many = Array.from({ length: 17 }, () => buf(8));
    expect(h.dm_op(1, 17, many)).toEqual({ ret: -1, errno: 7 });
    expect(r.calls).toHaveLength(0);
    expect(h.dm_op(1, 16, many)).toEqual({ ret: -1, errno: 7 });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.bufs).toHaveLength(16);
  });
  it("num larger than the descriptor array → EFAULT", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    expect(h.dm_op(1, 2, [buf()])).toEqual({ ret: -1, errno: 14 });
    expect(r.calls).toHaveLength(0);
  });
  it("a buffer over 4096 → E2BIG, even after an earlier good one; 4096 passes", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    expect(h.dm_op(1, 2, [buf(), { bytes: new Uint8Array(8), size: 4097 }])).toEqual({ ret: -1, errno: 7 });
    expect(h.dm_op(1, 1, [{ bytes: new Uint8Array(4096) }])).toEqual({ ret: 0 });
    expect(r.calls).toHaveLength(1);
  });
  it("an unreadable pointer → EFAULT, checked per buffer after its size", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    const bad: DmOpBuf = { bytes: new Uint8Array(8), fault: { read: true } };
    expect(h.dm_op(1, 1, [bad])).toEqual({ ret: -1, errno: 14 });
    // buffer 0 unreadable, buffer 1 too big: the loop stops at buffer 0
    expect(h.dm_op(1, 2, [bad, { bytes: new Uint8Array(1), size: 5000 }])).toEqual({ ret: -1, errno: 14 });
    // buffer 0 too big, buffer 1 unreadable: E2BIG first
    expect(h.dm_op(1, 2, [{ bytes: new Uint8Array(1), size: 5000 }, bad])).toEqual({ ret: -1, errno: 7 });
  });
  it("every buffer is pinned writable: a read-only one → EFAULT after all size checks", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    const ro: DmOpBuf = { bytes: new Uint8Array(8), fault: { write: true } };
    expect(h.dm_op(1, 1, [ro])).toEqual({ ret: -1, errno: 14 });
    expect(h.dm_op(1, 2, [ro, { bytes: new Uint8Array(1), size: 5000 }])).toEqual({ ret: -1, errno: 7 });
    expect(r.calls).toHaveLength(0);
  });
  it("module parameters change the limits", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn, { dm_op_max_nr_bufs: 2, dm_op_buf_max_size: 64 }).open(0);
    expect(h.dm_op(1, 3, [buf(), buf(), buf()])).toEqual({ ret: -1, errno: 7 });
    expect(h.dm_op(1, 1, [buf(65)])).toEqual({ ret: -1, errno: 7 });
    expect(h.dm_op(1, 2, [buf(64), buf(64)])).toEqual({ ret: 0 });
  });
  it("a zero-size buffer passes by default and fails with EFAULT under zero_page_buf_efault", () => {
    const r = recorder();
    expect(new PrivcmdDevice(r.fn).open(0).dm_op(1, 2, [buf(), buf(0)])).toEqual({ ret: 0 });
    expect(new PrivcmdDevice(r.fn, { zero_page_buf_efault: true }).open(0).dm_op(1, 2, [buf(), buf(0)])).toEqual({
      ret: -1,
      errno: 14,
    });
  });
  it("passes only the first num buffers", () => {
    const r = recorder();
    new PrivcmdDevice(r.fn).open(0).dm_op(1, 1, [buf(), buf()]);
    expect(r.calls[0]!.bufs).toHaveLength(1);
  });
  it("accepts an object with a dm_op method", () => {
    const r = recorder(4);
    const hv = { dm_op: r.fn };
    expect(new PrivcmdDevice(hv).open(0).dm_op(1, 1, [buf()])).toEqual({ ret: 4 });
  });
  it("refuses use after close and non-u16 fields", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    expect(() => h.dm_op(1, 0x10000, [])).toThrow(/num/);
    expect(() => h.dm_op(1.5, 1, [buf()])).toThrow(/dom/);
    h.close();
    expect(() => h.dm_op(1, 1, [buf()])).toThrow(/closed/);
  });
});

describe("PrivcmdHandle.hypercall", () => {
  it("restricted handle → EPERM for any op", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    h.restrict(1);
    expect(h.hypercall(41, [1n, 1n, 0n], [buf()])).toEqual({ ret: -1, errno: 1 });
    expect(h.hypercall(34, [])).toEqual({ ret: -1, errno: 1 });
    expect(r.calls).toHaveLength(0);
  });
  it("ops other than dm_op → ENOSYS", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    expect(h.hypercall(34n, [0n])).toEqual({ ret: -1, errno: 38 });
  });
  it("op 41 with resolved buffers: domid cut to 16 bits, nr buffers", () => {
    const r = recorder(0);
    const h = new PrivcmdDevice(r.fn).open(0);
    const b0 = buf();
    const b1 = buf(16);
    expect(h.hypercall(41, [0x10001n, 1n, 0x1000n], [b0, b1])).toEqual({ ret: 0 });
    expect(r.calls[0]!.domid).toBe(1);
    expect(r.calls[0]!.bufs).toEqual([b0]);
  });
  it("nr 0 reaches the hypervisor (unlike the DM_OP ioctl), nr > 2 reaches it as more than two", () => {
    const r = recorder(-61);
    const h = new PrivcmdDevice(r.fn).open(0);
    expect(h.hypercall(41, [1n, 0n, 0n], [])).toEqual({ ret: -1, errno: 61 });
    expect(r.calls[0]!.bufs).toHaveLength(0);
    h.hypercall(41, [1n, 0xffff_ffffn, 0n], []);
    expect(r.calls[1]!.bufs.length).toBeGreaterThan(2);
    expect(r.calls[1]!.bufs.length).toBeLessThan(4);
  });
  it("missing descriptors → EFAULT", () => {
    const r = recorder();
    const h = new PrivcmdDevice(r.fn).open(0);
    expect(h.hypercall(41, [1n, 2n, 0n], [buf()])).toEqual({ ret: -1, errno: 14 });
    expect(r.calls).toHaveLength(0);
  });
  it("op 41 through the caller's memory: x86_64 16-byte descriptors", () => {
    const mem = new RegionMemory();
    const b0 = new Uint8Array(32);
    const b1 = new Uint8Array(16);
    mem.map(0x10000n, b0);
    mem.map(0x20000n, b1);
    const arr = encodeXenDmOpBufs([{ h: 0x10000n, size: 32n }, { h: 0x20008n, size: 8n }], "x86_64");
    expect(arr.length).toBe(32);
    mem.map(0x30000n, arr);
    const r = recorder();
    const h = new PrivcmdDevice(r.fn, { memory: mem }).open(0);
    expect(h.hypercall(41, [1n, 2n, 0x30000n])).toEqual({ ret: 0 });
    const got = r.calls[0]!.bufs;
    expect(got[0]!.bytes.length).toBe(32);
    got[0]!.bytes[0] = 7;
    expect(b0[0]).toBe(7); // a view of the caller's memory, written in place
    got[1]!.bytes[0] = 9;
    expect(b1[8]).toBe(9);
  });
  it("op 41 through the caller's memory: i386 8-byte descriptors", () => {
    const mem = new RegionMemory();
    const b0 = new Uint8Array(32);
    mem.map(0x8000n, b0);
    const arr = encodeXenDmOpBufs([{ h: 0x8000n, size: 32n }], "i386");
    expect(Array.from(arr)).toEqual([0x00, 0x80, 0, 0, 32, 0, 0, 0]);
    mem.map(0x9000n, arr);
    const r = recorder();
    const h = new PrivcmdDevice(r.fn, { memory: mem, abi: "i386" }).open(0);
    expect(h.hypercall(41, [1n, 1n, 0x9000n])).toEqual({ ret: 0 });
    expect(r.calls[0]!.bufs[0]!.size).toBe(32);
  });
  it("an unmapped descriptor array → EFAULT; an unmapped buffer reaches Xen as a faulting buffer", () => {
    const mem = new RegionMemory();
    mem.map(0x9000n, encodeXenDmOpBufs([{ h: 0xdead000n, size: 32n }], "x86_64"));
    const r = recorder(-14);
    const h = new PrivcmdDevice(r.fn, { memory: mem }).open(0);
    expect(h.hypercall(41, [1n, 1n, 0x5000n])).toEqual({ ret: -1, errno: 14 });
    expect(r.calls).toHaveLength(0);
    h.hypercall(41, [1n, 1n, 0x9000n]);
    expect(r.calls[0]!.bufs[0]!.fault).toEqual({ read: true, write: true });
  });
  it("rejects more than five arguments and values that are not u64", () => {
    const h = new PrivcmdDevice(recorder().fn).open(0);
    expect(() => h.hypercall(41, [0n, 0n, 0n, 0n, 0n, 0n])).toThrow(/at most 5/);
    expect(() => h.hypercall(41, [-1n])).toThrow(/arg\[0\]/);
    expect(() => h.hypercall(1n << 64n, [])).toThrow(/op/);
  });
});

describe("xen_dm_op_buf arrays", () => {
  it("have the per-ABI sizes and round-trip", () => {
    expect([xenDmOpBufSize("x86_64"), xenDmOpBufSize("arm64"), xenDmOpBufSize("arm32"), xenDmOpBufSize("i386")]).toEqual([
      16, 16, 16, 8,
    ]);
    for (const abi of ["x86_64", "arm64", "arm32", "i386"] as const) {
      const d = [{ h: 0x1234n, size: 24n }, { h: 0xfffff000n, size: 4096n }];
      expect(decodeXenDmOpBufs(encodeXenDmOpBufs(d, abi), 2, abi)).toEqual(d);
    }
  });
  it("arm32 keeps the pointer in the low 4 bytes and the size at 8", () => {
    const a = encodeXenDmOpBufs([{ h: 0x11223344n, size: 5n }], "arm32");
    expect(Array.from(a)).toEqual([0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
  });
  it("refuses values that do not fit and short input", () => {
    expect(() => encodeXenDmOpBufs([{ h: 1n << 32n, size: 0n }], "i386")).toThrow(/\[0\]\.h/);
    expect(() => decodeXenDmOpBufs(new Uint8Array(8), 1, "x86_64")).toThrow(RangeError);
  });
});
