// The memory DMOPs: track_dirty_vram (7), modified_memory (11), set_mem_type (12), relocate_memory (17).
// Every per-page loop of Xen is computed run by run on the range-map p2m (src/hypervisor/p2m.ts), with the
// same rc, stop point, written-back progress fields and number of preemption checks.
import type { OpContext, OpResult } from "../context.js";
import { CHUNK } from "../p2m.js";
import type { P2m } from "../p2m.js";
import { MEMTYPE_TO_P2M, p2m_ioreq_server, p2m_ram_logdirty, p2m_ram_rw } from "../p2m-types.js";

const EFAULT = -14, EINVAL = -22, ESRCH = -3, EOPNOTSUPP = -95, EOVERFLOW = -75, ERESTART = -85;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const INVALID_GFN = (1n << 64n) - 1n;
/** GB(1) >> PAGE_SHIFT */
const TRACK_DIRTY_VRAM_MAX = 262144;
/** ARRAY_SIZE(pages) in memory.c:xenmem_add_to_physmap: the IOMMU batch. */
const IOMMU_BATCH = 16;

export interface TrackDirtyVramPayload { nr: number; pad: number; first_pfn: bigint }
export interface ModifiedMemoryPayload { nr_extents: number; opaque: number }
export interface SetMemTypePayload { nr: number; mem_type: number; pad: number; first_pfn: bigint }
export interface RelocateMemoryPayload { size: number; pad: number; src_gfn: bigint; dst_gfn: bigint }

/** The range-map p2m of the target domain. */
function rangeP2m(ctx: OpContext): P2m {
  return ctx.d.p2m;
}

const res = (rc: number, constOp: boolean): OpResult => ({ rc, constOp });

/** mirrors dm.c:dm_op case XEN_DMOP_set_mem_type and dm.c:set_mem_type */
export function setMemType(ctx: OpContext, p: SetMemTypePayload): OpResult {
  // const_op is cleared before any check
  if (p.pad !== 0) return res(ctx.refuse(EINVAL, "set_mem_type.pad != 0", "dm.c:dm_op"), false);
  const p2m = rangeP2m(ctx);
  const last = U64(p.first_pfn + BigInt(p.nr) - 1n);
  if (p.first_pfn > last || last > BigInt(p2m.maxMappedPfn)) {
    return res(ctx.refuse(EINVAL, "set_mem_type: first_pfn > last or last > max_gpfn", "dm.c:set_mem_type"), false);
  }
  const nt = MEMTYPE_TO_P2M[p.mem_type];
  if (nt === undefined) {
    return res(ctx.refuse(EINVAL, "set_mem_type.mem_type is not 0, 1, 2 or 4", "dm.c:set_mem_type"), false);
  }
  if (nt === p2m_ioreq_server) {
    if (!ctx.d.hap) return res(ctx.refuse(EOPNOTSUPP, "ioreq_server needs HAP", "dm.c:set_mem_type"), false);
    if (p2m.ioreqClaim().server === null) {
      return res(ctx.refuse(EINVAL, "no ioreq server claims p2m_ioreq_server", "dm.c:set_mem_type"), false);
    }
  }
  const r = p2m.setMemTypeLoop(Number(p.first_pfn), p.nr, nt, () => ctx.preempt());
  if (r.rc === ERESTART) {
    p.first_pfn = U64(p.first_pfn + BigInt(r.done));
    p.nr -= r.done;
  } else if (r.rc !== 0) {
    ctx.refuse(r.rc, `set_mem_type refused at pfn ${String(Number(p.first_pfn) + r.done)}`, "dm.c:set_mem_type");
  }
  return res(r.rc, false);
}

/** mirrors dm.c:track_dirty_vram and hap.c:hap_track_dirty_vram (shadow domains get the same behaviour) */
export function trackDirtyVram(ctx: OpContext, p: TrackDirtyVramPayload): OpResult {
  if (p.pad !== 0) return res(ctx.refuse(EINVAL, "track_dirty_vram.pad != 0", "dm.c:dm_op"), true);
  if (ctx.nrBufs < 2) return res(ctx.refuse(EINVAL, "track_dirty_vram needs 2 buffers", "dm.c:dm_op"), true);
  if (p.nr > TRACK_DIRTY_VRAM_MAX) {
    return res(ctx.refuse(EINVAL, "track_dirty_vram.nr > 262144", "dm.c:track_dirty_vram"), true);
  }
  if (ctx.d.isDying) return res(ctx.refuse(ESRCH, "domain is dying", "dm.c:track_dirty_vram"), true);
  if (ctx.d.maxVcpus === 0) return res(ctx.refuse(EINVAL, "domain has no vCPUs", "dm.c:track_dirty_vram"), true);
  const size = Math.ceil(p.nr / 8);
  if (BigInt(size) > ctx.bufSize(1)) {
    return res(ctx.refuse(EINVAL, "bitmap larger than buffer 1", "dm.c:track_dirty_vram"), true);
  }
  const p2m = rangeP2m(ctx);
  const begin = p.first_pfn;
  if (p.nr === 0) {
    const v = p2m.dirtyVram;
    if (v !== null) {
      p2m.dirtyVram = null;
      const nrFrames = Number(BigInt.asUintN(32, v.end - v.begin));
      if (nrFrames !== 0) p2m.changeTypeRange(v.begin, U64(v.begin + BigInt(nrFrames)), p2m_ram_logdirty, p2m_ram_rw);
    }
    return res(0, true);
  }
  const end = U64(begin + BigInt(p.nr));
  const bitmap = new Uint8Array(size);
  const v = p2m.dirtyVram ?? { begin: 0n, end: 0n };
  if (begin !== v.begin || end !== v.end) {
    p2m.dirtyVram = { begin, end };
    if (v.end > v.begin) p2m.changeTypeRange(v.begin, v.end, p2m_ram_logdirty, p2m_ram_rw);
    p2m.changeTypeRange(begin, end, p2m_ram_rw, p2m_ram_logdirty);
    bitmap.fill(0xff);
  } else {
    p2m.dirtyVram = v;
    // mirrors paging.c:paging_log_dirty_range: ram_rw pages are reported and switched back to logdirty
    if (begin + BigInt(p.nr) < 1n << 64n && begin <= BigInt(p2m.maxMappedPfn)) {
      const a = Number(begin);
      const b = Math.min(a + p.nr - 1, p2m.maxMappedPfn);
      const hits: Array<[number, number]> = [];
      p2m.forEachQuery(a, b, (x, y, t) => {
        if (t === p2m_ram_rw) hits.push([x, y]);
        return undefined;
      });
      for (const [x, y] of hits) {
        p2m.setMemTypeLoop(x, y - x + 1, p2m_ram_logdirty, () => false);
        for (let i = x - a; i <= y - a; i++) bitmap[i >> 3]! |= 1 << (i & 7);
      }
    }
  }
  if (!ctx.copyToBuf(1, 0, bitmap)) return res(ctx.refuse(EFAULT, "bitmap copy to buffer 1 faulted", "hap.c:hap_track_dirty_vram"), true);
  return res(0, true);
}

/** mirrors dm.c:dm_op case XEN_DMOP_modified_memory and dm.c:modified_memory */
export function modifiedMemory(ctx: OpContext, p: ModifiedMemoryPayload): OpResult {
  if (ctx.persona.modifiedMemoryNeedsTwoBufs && ctx.nrBufs !== 2) {
    return res(ctx.refuse(EINVAL, "modified_memory needs exactly 2 buffers", "dm.c:dm_op"), true);
  }
  const p2m = rangeP2m(ctx);
  if (!p2m.logDirtyEnabled) return res(0, true);
  if (ctx.bufSize(1) / 16n < BigInt(p.nr_extents)) {
    return res(ctx.refuse(EINVAL, "buffer 1 holds fewer than nr_extents extents", "dm.c:modified_memory"), false);
  }
  let batchRem = CHUNK;
  const maxGpfn = BigInt(p2m.maxMappedPfn);
  while (p.nr_extents > 0) {
    const raw = ctx.copyFromBuf(1, (p.nr_extents - 1) * 16, 16);
    // 4.9.0 inverted the copy check: every extent "faulted" (fixed by 1c2ea5ee05)
    if (raw === null || ctx.persona.name === "4.9") {
      return res(ctx.refuse(EFAULT, "extent copy faulted", "dm.c:modified_memory"), false);
    }
    const dv = new DataView(raw.buffer, raw.byteOffset, 16);
    const nr = dv.getUint32(0, true);
    const pad = dv.getUint32(4, true);
    const first = dv.getBigUint64(8, true);
    if (pad !== 0) return res(ctx.refuse(EINVAL, "extent pad != 0", "dm.c:modified_memory"), false);
    const endPfn = U64(first + BigInt(nr));
    if (endPfn <= first || endPfn > maxGpfn) {
      return res(ctx.refuse(EINVAL, "extent empty, wraps or ends beyond max_gpfn", "dm.c:modified_memory"), false);
    }
    if (p.opaque >= nr) return res(ctx.refuse(EINVAL, "opaque >= extent nr", "dm.c:modified_memory"), false);
    // the extent's remaining pfns, in batches of what is left of the current 256-pfn batch
    const start = Number(first) + p.opaque;
    let remaining = nr - p.opaque;
    let pos = start;
    for (;;) {
      const batch = Math.min(remaining, batchRem);
      pos += batch;
      remaining -= batch;
      batchRem -= batch;
      if (remaining > 0) p.opaque += batch;
      else {
        p.nr_extents--;
        p.opaque = 0;
      }
      if (batchRem === 0 && p.nr_extents > 0) {
        if (ctx.preempt()) {
          p2m.markModified(start, pos - 1);
          return res(ERESTART, false);
        }
        batchRem = CHUNK;
      }
      if (remaining === 0) break;
    }
    p2m.markModified(start, pos - 1);
  }
  return res(0, true);
}

/**
 * One frame moved with its bytes: the page that was at dst is freed (its bytes gone), src is left
 * unmapped. A frame taken off src but not mapped at dst (dst beyond the p2m) loses its bytes too.
 */
function relocateFrame(ctx: OpContext, p2m: P2m, src: number, dst: number): number {
  const had = p2m.hasPage(src);
  const rc = p2m.relocateOne(src, dst);
  if (rc === 0) ctx.d.memory.move(src, dst);
  else if (had && !p2m.hasPage(src)) ctx.d.memory.discard(src);
  return rc;
}

/** mirrors dm.c:dm_op case XEN_DMOP_relocate_memory and memory.c:xenmem_add_to_physmap (gmfn_range) */
export function relocateMemory(ctx: OpContext, p: RelocateMemoryPayload): OpResult {
  if (p.pad !== 0) return res(ctx.refuse(EINVAL, "relocate_memory.pad != 0", "dm.c:dm_op"), true);
  if (p.dst_gfn === INVALID_GFN) return res(ctx.refuse(EINVAL, "dst_gfn is INVALID_GFN", "memory.c:xenmem_add_to_physmap"), true);
  // xatp.size = data->size: struct xen_add_to_physmap's size is a uint16_t, so one pass handles the low
  // 16 bits and the dispatcher turns "data->size != xatp.size" into a continuation
  const chunk = p.size & 0xffff;
  const size = BigInt(chunk);
  if (U64(p.dst_gfn + size) < p.dst_gfn || U64(p.src_gfn + size) < p.src_gfn) {
    return res(ctx.refuse(EOVERFLOW, "src_gfn or dst_gfn + size wraps", "memory.c:xenmem_add_to_physmap"), true);
  }
  const p2m = rangeP2m(ctx);
  const removalsBefore = p2m.removals;
  const iommu = ctx.d.iommu;
  let done = 0;
  let rc = 0;
  const big = (g: bigint): number => (g < BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : Number.MAX_SAFE_INTEGER);
  // master (7acc7dd36b) works downwards when the destination overlaps above the source
  const down = ctx.persona.name === "master" && p.dst_gfn > p.src_gfn && p.dst_gfn < p.src_gfn + size;
  while (chunk > done) {
    const step = BigInt(down ? chunk - 1 - done : done);
    const src = p.src_gfn + step;
    const dst = p.dst_gfn + step;
    rc = src > BigInt(p2m.maxMappedPfn) ? EINVAL : relocateFrame(ctx, p2m, Number(src), big(dst));
    if (rc < 0) break;
    done++;
    if (chunk > done && ((iommu && done >= IOMMU_BATCH) || ctx.preempt())) {
      rc = done;
      break;
    }
  }
  if (p2m.removals !== removalsBefore) ctx.d.requestMapcacheInvalidate();
  if (rc === 0 && p.size !== chunk) {
    // the whole truncated chunk is done: dm.c makes rc = xatp.size. master (7acc7dd36b) also adds it to
    // xatp.idx/gpfn, which already point past the chunk (or, downwards, just below it)
    rc = chunk;
    if (ctx.persona.name === "master" && rc > 0) {
      const delta = down ? BigInt(rc) - 1n : BigInt(2 * rc);
      p.size -= rc;
      p.src_gfn = U64(p.src_gfn + delta);
      p.dst_gfn = U64(p.dst_gfn + delta);
      return res(ERESTART, false);
    }
  }
  if (rc > 0) {
    p.size -= rc;
    if (!down) {
      p.src_gfn = U64(p.src_gfn + BigInt(rc));
      p.dst_gfn = U64(p.dst_gfn + BigInt(rc));
    }
    return res(ERESTART, false);
  }
  if (rc < 0) ctx.refuse(rc, `relocate_memory stopped at page ${String(done)}`, "p2m.c:xenmem_add_to_physmap_one");
  return res(rc, true);
}
