// The memory DMOPs through the dispatcher: set_mem_type (12), modified_memory (11), track_dirty_vram (7),
// relocate_memory (17) — rc, copy-back bytes, continuations and preemption counts.
import { describe, expect, it } from "vitest";
import type { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import type { Payload } from "../../src/hypervisor/ops/payload.js";
import { call, dmop, hex, makeHv, out, p2mOf } from "./helpers.js";

const TRACK = 7, MODIFIED = 11, SMT = 12, MAP_MEM = 15, RELOCATE = 17, CREATE = 1;
const MAX = 0xffff; // the default world's max_mapped_pfn

function two(hv: Hypervisor, op: number, payload: Payload, buf1: Uint8Array, o: { nrBufs?: number; size1?: number } = {}): { rc: number; buf: Uint8Array } {
  const buf = dmop(op, payload);
  const rc = hv.dm_op(0, 1, [{ bytes: buf }, { bytes: buf1, size: o.size1 ?? buf1.length }], o.nrBufs ?? 2);
  return { rc, buf };
}

function extents(list: Array<[number | bigint, number, number?]>): Uint8Array {
  const b = new Uint8Array(list.length * 16);
  const dv = new DataView(b.buffer);
  list.forEach(([first, nr, pad], k) => {
    dv.setUint32(k * 16, nr, true);
    dv.setUint32(k * 16 + 4, pad ?? 0, true);
    dv.setBigUint64(k * 16 + 8, BigInt(first), true);
  });
  return b;
}

function claimedHv(world: WorldConfig = { domains: [{ domid: 1 }] }): Hypervisor {
  const hv = makeHv(world);
  expect(call(hv, CREATE).rc).toBe(0);
  expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(0);
  return hv;
}

describe("set_mem_type (op 12)", () => {
  it("pad != 0 -> -EINVAL, nothing written back", () => {
    const hv = makeHv();
    const r = call(hv, SMT, { nr: 1, mem_type: 1, pad: 1, first_pfn: 5n });
    expect(r.rc).toBe(-22);
    expect(hex(r.buf)).toBe(hex(dmop(SMT, { nr: 1, mem_type: 1, pad: 1, first_pfn: 5n })));
  });
  it("bounds: nr 0, wrap and last > max_gpfn are -EINVAL; last == max_gpfn is allowed", () => {
    const hv = makeHv();
    expect(call(hv, SMT, { nr: 0, mem_type: 1, first_pfn: 5n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 0, mem_type: 1, first_pfn: 0n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 2, mem_type: 1, first_pfn: (1n << 64n) - 1n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 0xffffffff, mem_type: 1, first_pfn: 0n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 2, mem_type: 1, first_pfn: BigInt(MAX) }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 1, mem_type: 1, first_pfn: BigInt(MAX) }).rc).toBe(0);
    expect(p2mOf(hv).typeOf(MAX)).toBe("ram_ro");
  });
  it("mem_type 3 (unused) and >= 5 -> -EINVAL", () => {
    const hv = makeHv();
    expect(call(hv, SMT, { nr: 1, mem_type: 3, first_pfn: 5n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 1, mem_type: 5, first_pfn: 5n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 1, mem_type: 0xffff, first_pfn: 5n }).rc).toBe(-22);
  });
  it("ioreq_server: -EOPNOTSUPP without HAP, -EINVAL without a claim; the caller need not own the claim", () => {
    expect(call(makeHv({ domains: [{ domid: 1, hap: false }] }), SMT, { nr: 1, mem_type: 4, first_pfn: 5n }).rc).toBe(-95);
    const hv = makeHv({ domains: [{ domid: 1 }, { domid: 2, target: 1 }] });
    expect(call(hv, SMT, { nr: 1, mem_type: 4, first_pfn: 5n }).rc).toBe(-22);
    call(hv, CREATE, {}, { caller: 2 });
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }, { caller: 2 }).rc).toBe(0);
    expect(call(hv, SMT, { nr: 1, mem_type: 4, first_pfn: 5n }, { caller: 0 }).rc).toBe(0);
    expect(p2mOf(hv).entryCount).toBe(1);
  });
  it("paging and shared pages -> -EAGAIN; earlier pages stay changed; no copy-back", () => {
    const hv = makeHv({ domains: [{ domid: 1, paging: [100], shared: [200] }] });
    const r = call(hv, SMT, { nr: 10, mem_type: 1, first_pfn: 95n });
    expect(r.rc).toBe(-11);
    expect(p2mOf(hv).typeOf(99)).toBe("ram_ro");
    expect(p2mOf(hv).typeOf(101)).toBe("ram_rw");
    expect(out(SMT, r.buf)).toMatchObject({ nr: 10, first_pfn: 95n });
    expect(call(hv, SMT, { nr: 10, mem_type: 1, first_pfn: 195n }).rc).toBe(-11);
  });
  it("continuation: first_pfn += done, nr -= done; the buffer ends with the last pass's values", () => {
    const hv = makeHv({ preempt: { at: [2] }, domains: [{ domid: 1 }] });
    const r = call(hv, SMT, { nr: 1000, mem_type: 1, first_pfn: 0x100n });
    expect(r.rc).toBe(0);
    expect(out(SMT, r.buf)).toEqual({ nr: 488, mem_type: 1, pad: 0, first_pfn: 0x300n });
    // checks: pass 1 at 256 and 512 (preempted); pass 2 (488 pages) at 256
    expect(hv.preemptHook.count).toBe(3);
    expect(p2mOf(hv).ranges(0x100, 0x4e7)).toEqual([{ first: 0x100, last: 0x4e7, type: "ram_ro" }]);
  });
  it("without preemption the payload is copied back unchanged", () => {
    const hv = makeHv();
    const r = call(hv, SMT, { nr: 600, mem_type: 2, first_pfn: 0x1000n });
    expect(r.rc).toBe(0);
    expect(out(SMT, r.buf)).toEqual({ nr: 600, mem_type: 2, pad: 0, first_pfn: 0x1000n });
    expect(hv.preemptHook.count).toBe(2);
  });
  it("ioreq_server -> ram_rw clears entries left by a destroyed claimant", () => {
    const hv = claimedHv();
    expect(call(hv, SMT, { nr: 3, mem_type: 4, first_pfn: 10n }).rc).toBe(0);
    expect(call(hv, 6, { id: 0 }).rc).toBe(0);
    expect(p2mOf(hv).typeOf(11)).toBe("ioreq_server");
    expect(call(hv, SMT, { nr: 3, mem_type: 1, first_pfn: 10n }).rc).toBe(-22);
    expect(call(hv, SMT, { nr: 3, mem_type: 0, first_pfn: 10n }).rc).toBe(0);
    expect(p2mOf(hv).entryCount).toBe(0);
  });
});

describe("map_mem_type_to_ioreq_server disclaim through the p2m (op 15)", () => {
  it("disclaim sweeps; continuation opaque values are multiples of 256", () => {
    const hv = claimedHv();
    expect(call(hv, SMT, { nr: 1, mem_type: 4, first_pfn: 0x8000n }).rc).toBe(0);
    hv.setPreempt({ every: 10 });
    const before = hv.preemptHook.count;
    const r = call(hv, MAP_MEM, { id: 0, type: 4, flags: 0 });
    expect(r.rc).toBe(0);
    // the entry's leaf block 0x8000 is reached by the chunk at 0x8000: 0x80 chunks and a check after each
    expect(hv.preemptHook.count - before).toBe(0x81);
    expect(out(MAP_MEM, r.buf)).toMatchObject({ opaque: 0x7800n });
    expect(p2mOf(hv).entryCount).toBe(0);
    expect(p2mOf(hv).typeOf(0x8000)).toBe("ram_rw");
  });
});

describe("modified_memory (op 11)", () => {
  const ld: WorldConfig = { domains: [{ domid: 1, log_dirty: true }] };
  it("nr_bufs != 2 -> -EINVAL (4.17); 4.9 has no such check", () => {
    const hv = makeHv(ld);
    expect(call(hv, MODIFIED, { nr_extents: 0 }).rc).toBe(-22);
    const old = makeHv({ xen: "4.9", domains: [{ domid: 1, log_dirty: true }] });
    expect(call(old, MODIFIED, { nr_extents: 0 }).rc).toBe(0);
  });
  it("log-dirty off -> 0 with nothing checked", () => {
    const hv = makeHv();
    expect(two(hv, MODIFIED, { nr_extents: 99, opaque: 7 }, new Uint8Array(0)).rc).toBe(0);
  });
  it("too few extents in buffer 1 -> -EINVAL", () => {
    expect(two(makeHv(ld), MODIFIED, { nr_extents: 2 }, extents([[0, 1]])).rc).toBe(-22);
  });
  it("extents from last to first; pages before the failure stay marked; no copy-back on error", () => {
    const hv = makeHv(ld);
    const r = two(hv, MODIFIED, { nr_extents: 2, opaque: 0 }, extents([[10, 1, 1], [20, 5]]));
    expect(r.rc).toBe(-22);
    expect(p2mOf(hv).isDirty(22)).toBe(true);
    expect(p2mOf(hv).isDirty(10)).toBe(false);
    expect(out(MODIFIED, r.buf)).toEqual({ nr_extents: 2, opaque: 0 });
  });
  it("bounds: end == max_gpfn is allowed, so pfn max_gpfn can never be marked; nr 0 and wraps refused", () => {
    const hv = makeHv(ld);
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[MAX - 3, 3]])).rc).toBe(0);
    expect(p2mOf(hv).isDirty(MAX - 1)).toBe(true);
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[MAX - 3, 4]])).rc).toBe(-22);
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[5, 0]])).rc).toBe(-22);
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[(1n << 64n) - 2n, 4]])).rc).toBe(-22);
    expect(two(hv, MODIFIED, { nr_extents: 1, opaque: 3 }, extents([[5, 3]])).rc).toBe(-22);
  });
  it("a copy fault on an extent -> -EFAULT", () => {
    const hv = makeHv(ld);
    expect(two(hv, MODIFIED, { nr_extents: 2 }, extents([[5, 3]]), { size1: 32 }).rc).toBe(-14);
  });
  it("only pages with a frame are marked (holes, grants, mmio are skipped)", () => {
    const hv = makeHv({ domains: [{ domid: 1, log_dirty: true, grant_map_rw: [0xa1], mmio_direct: [0xa2] }] });
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[0x9e, 6]])).rc).toBe(0);
    expect(p2mOf(hv).dirtyLog.list()).toEqual([[0x9e, 0x9f]]);
  });
  it("256-pfn batches; a check only while extents remain; progress written back on -ERESTART", () => {
    const hv = makeHv({ preempt: "never", domains: [{ domid: 1, log_dirty: true }] });
    expect(two(hv, MODIFIED, { nr_extents: 1 }, extents([[0, 1000]])).rc).toBe(0);
    expect(hv.preemptHook.count).toBe(3); // after 256, 512, 768 (the extent is not finished yet)
    expect(two(hv, MODIFIED, { nr_extents: 2 }, extents([[0, 256], [1000, 256]])).rc).toBe(0);
    expect(hv.preemptHook.count).toBe(4); // one check between the two extents, none after the last
    hv.setPreempt("always");
    const r = two(hv, MODIFIED, { nr_extents: 2 }, extents([[0, 300], [1000, 300]]));
    expect(r.rc).toBe(0);
    // pass 1 stops after 256 pfns of extent 1; pass 2 finishes it (44) and does 212 of extent 0, then stops
    expect(out(MODIFIED, r.buf)).toEqual({ nr_extents: 1, opaque: 212 });
  });
});

describe("track_dirty_vram (op 7)", () => {
  it("argument checks in order", () => {
    const hv = makeHv();
    expect(two(hv, TRACK, { nr: 8, pad: 1, first_pfn: 0n }, new Uint8Array(1)).rc).toBe(-22);
    expect(two(hv, TRACK, { nr: 8, first_pfn: 0n }, new Uint8Array(1), { nrBufs: 1 }).rc).toBe(-22);
    expect(two(hv, TRACK, { nr: 262145, first_pfn: 0n }, new Uint8Array(40000)).rc).toBe(-22);
    expect(two(makeHv({ domains: [{ domid: 1, dying: true }] }), TRACK, { nr: 8, first_pfn: 0n }, new Uint8Array(1)).rc).toBe(-3);
    expect(two(makeHv({ domains: [{ domid: 1, vcpus: 0 }] }), TRACK, { nr: 8, first_pfn: 0n }, new Uint8Array(1)).rc).toBe(-22);
    expect(two(hv, TRACK, { nr: 9, first_pfn: 0n }, new Uint8Array(1)).rc).toBe(-22);
  });
  it("a new range: all ones, ram_rw pages become ram_logdirty; same range: written pages reported", () => {
    const hv = claimedHv();
    call(hv, SMT, { nr: 1, mem_type: 4, first_pfn: 0x105n });
    call(hv, SMT, { nr: 1, mem_type: 1, first_pfn: 0x106n });
    const bm = new Uint8Array(2);
    const r = two(hv, TRACK, { nr: 16, first_pfn: 0x100n }, bm);
    expect(r.rc).toBe(0);
    expect(hex(bm)).toBe("ffff");
    const p = p2mOf(hv);
    expect(p.typeOf(0x100)).toBe("ram_logdirty");
    expect(p.typeOf(0x105)).toBe("ioreq_server");
    expect(p.typeOf(0x106)).toBe("ram_ro");
    // the guest writes 0x102 and 0x10f (the write fault turns them back to ram_rw)
    p.setType(0x102, 0x102, "ram_rw");
    p.setType(0x10f, 0x10f, "ram_rw");
    expect(two(hv, TRACK, { nr: 16, first_pfn: 0x100n }, bm).rc).toBe(0);
    expect(hex(bm)).toBe("0480");
    expect(p.typeOf(0x102)).toBe("ram_logdirty");
    expect(two(hv, TRACK, { nr: 16, first_pfn: 0x100n }, bm).rc).toBe(0);
    expect(hex(bm)).toBe("0000");
    // buffer 0 is never written
    expect(hex(r.buf)).toBe(hex(dmop(TRACK, { nr: 16, first_pfn: 0x100n })));
  });
  it("nr 0 stops tracking and puts the logdirty pages back", () => {
    const hv = makeHv();
    two(hv, TRACK, { nr: 16, first_pfn: 0x100n }, new Uint8Array(2));
    expect(two(hv, TRACK, { nr: 0, first_pfn: 0n }, new Uint8Array(0)).rc).toBe(0);
    expect(p2mOf(hv).typeOf(0x100)).toBe("ram_rw");
    expect(p2mOf(hv).dirtyVram).toBeNull();
  });
  it("a one-page range only updates the log-dirty ranges (change_type_range's start < end test)", () => {
    const hv = makeHv();
    const bm = new Uint8Array(1);
    expect(two(hv, TRACK, { nr: 1, first_pfn: 0x100n }, bm).rc).toBe(0);
    expect(hex(bm)).toBe("ff");
    expect(p2mOf(hv).typeOf(0x100)).toBe("ram_rw");
    expect(two(hv, TRACK, { nr: 1, first_pfn: 0x100n }, bm).rc).toBe(0);
    expect(hex(bm)).toBe("01");
    expect(p2mOf(hv).typeOf(0x100)).toBe("ram_logdirty");
  });
  it("a faulting bitmap copy -> -EFAULT", () => {
    const hv = makeHv();
    const buf = dmop(TRACK, { nr: 16, first_pfn: 0x100n });
    expect(hv.dm_op(0, 1, [{ bytes: buf }, { bytes: new Uint8Array(2), fault: { write: true } }])).toBe(-14);
  });
});

describe("relocate_memory (op 17)", () => {
  it("pad, INVALID_GFN, -EOVERFLOW, size 0", () => {
    const hv = makeHv();
    expect(call(hv, RELOCATE, { size: 1, pad: 1, src_gfn: 0n, dst_gfn: 0x20000n }).rc).toBe(-22);
    expect(call(hv, RELOCATE, { size: 1, src_gfn: 0n, dst_gfn: (1n << 64n) - 1n }).rc).toBe(-22);
    expect(call(hv, RELOCATE, { size: 2, src_gfn: 0n, dst_gfn: (1n << 64n) - 2n }).rc).toBe(-75);
    expect(call(hv, RELOCATE, { size: 2, src_gfn: (1n << 64n) - 1n, dst_gfn: 0n }).rc).toBe(-75);
    expect(call(hv, RELOCATE, { size: 0, src_gfn: 0xa0n, dst_gfn: 0x20000n }).rc).toBe(0);
  });
  it("moves pages: source unmapped, destination ram_rw, entry_count adjusted, mapcache invalidation", () => {
    const hv = claimedHv();
    call(hv, SMT, { nr: 1, mem_type: 4, first_pfn: 0x11n });
    const r = call(hv, RELOCATE, { size: 4, src_gfn: 0x10n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    const p = p2mOf(hv);
    expect(p.ranges(0x10, 0x13)).toEqual([{ first: 0x10, last: 0x13, type: "mmio_dm" }]);
    expect(p.ranges(0x20000, 0x20003)).toEqual([{ first: 0x20000, last: 0x20003, type: "ram_rw" }]);
    expect(p.entryCount).toBe(0);
    expect(p.maxMappedPfn).toBe(0x20003);
    expect(hv.domain(1)!.mapcacheInvalidatePending).toBe(true);
  });
  it("per-page errors: hole source -EINVAL, shared source -ENOMEM, mmio_direct destination -EPERM; no copy-back", () => {
    const hv = makeHv({ domains: [{ domid: 1, shared: [0x50], mmio_direct: [0x60] }] });
    const r = call(hv, RELOCATE, { size: 4, src_gfn: 0x9en, dst_gfn: 0x20000n });
    expect(r.rc).toBe(-22);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 4, pad: 0, src_gfn: 0x9en, dst_gfn: 0x20000n });
    expect(p2mOf(hv).typeOf(0x20001)).toBe("ram_rw");
    expect(call(hv, RELOCATE, { size: 1, src_gfn: 0x50n, dst_gfn: 0x30000n }).rc).toBe(-12);
    expect(call(hv, RELOCATE, { size: 1, src_gfn: 0x51n, dst_gfn: 0x60n }).rc).toBe(-1);
    expect(p2mOf(hv).typeOf(0x51)).toBe("ram_rw");
  });
  it("with an IOMMU the 16-page split is deterministic; the buffer ends with the last pass's values", () => {
    const hv = makeHv({ domains: [{ domid: 1, iommu: true }] });
    const r = call(hv, RELOCATE, { size: 40, src_gfn: 0x100n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 8, pad: 0, src_gfn: 0x120n, dst_gfn: 0x20020n });
    // preempt is asked after pages 1..15 of each 16-page pass (not after the 16th) and 1..7 of the last
    expect(hv.preemptHook.count).toBe(15 + 15 + 7);
    expect(p2mOf(hv).ranges(0x20000, 0x20027)).toEqual([{ first: 0x20000, last: 0x20027, type: "ram_rw" }]);
  });
  it("without an IOMMU preempt is asked after every page but the last", () => {
    const hv = makeHv({ preempt: { at: [3] }, domains: [{ domid: 1 }] });
    const r = call(hv, RELOCATE, { size: 5, src_gfn: 0x100n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 2, pad: 0, src_gfn: 0x103n, dst_gfn: 0x20003n });
    expect(hv.preemptHook.count).toBe(4);
  });
  it("overlapping, destination above source: 4.17 works upwards (pages move twice), master downwards", () => {
    const old = makeHv({ preempt: { at: [1] }, domains: [{ domid: 1 }] });
    const r = call(old, RELOCATE, { size: 3, src_gfn: 0x100n, dst_gfn: 0x101n });
    expect(r.rc).toBe(0);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 2, pad: 0, src_gfn: 0x101n, dst_gfn: 0x102n });
    const m = makeHv({ xen: "master", preempt: { at: [1] }, domains: [{ domid: 1 }] });
    const rm = call(m, RELOCATE, { size: 3, src_gfn: 0x100n, dst_gfn: 0x101n });
    expect(rm.rc).toBe(0);
    // src_gfn/dst_gfn keep their starting values; only size shrinks
    expect(out(RELOCATE, rm.buf)).toEqual({ size: 2, pad: 0, src_gfn: 0x100n, dst_gfn: 0x101n });
    // 4.17: the one page is carried along to 0x103 and the pages it lands on are freed
    expect(p2mOf(old).ranges(0x100, 0x103)).toEqual([{ first: 0x100, last: 0x102, type: "mmio_dm" }, { first: 0x103, last: 0x103, type: "ram_rw" }]);
    expect(p2mOf(m).ranges(0x100, 0x103)).toEqual([{ first: 0x100, last: 0x100, type: "mmio_dm" }, { first: 0x101, last: 0x103, type: "ram_rw" }]);
  });
});
