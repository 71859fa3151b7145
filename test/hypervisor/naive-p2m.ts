// A per-page reference model of the p2m and the memory DMOPs over a small gfn space: one array slot per
// gfn, Xen's loops written out page by page and chunk by chunk. Used to check the range map.
import {
  P2M_CHANGEABLE_TYPES, P2M_OWNED_FRAME_TYPES, P2M_PAGE_FROM_GFN_TYPES, P2M_PAGING_TYPES, MEMTYPE_TO_P2M,
  allowP2mTypeChange, inGroup, p2m_grant_map_ro, p2m_grant_map_rw, p2m_invalid, p2m_ioreq_server,
  p2m_map_foreign, p2m_mmio_direct, p2m_mmio_dm, p2m_populate_on_demand, p2m_ram_logdirty, p2m_ram_paged,
  p2m_ram_paging_in, p2m_ram_rw, p2m_ram_shared,
} from "../../src/hypervisor/p2m-types.js";

const EAGAIN = -11, ENOMEM = -12, EBUSY = -16, EINVAL = -22, EPERM = -1, ENXIO = -6, ERESTART = -85,
  EFAULT = -14, ESRCH = -3, EOPNOTSUPP = -95, EOVERFLOW = -75;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

export class NaiveP2m {
  readonly raw: Uint8Array;
  readonly backed: Uint8Array;
  readonly mark: Uint8Array;
  readonly logdirty: Uint8Array;
  readonly dirty: Uint8Array;
  /** Per 512-gfn leaf block: some entry in it may carry a mark (a shortcut for resolve, not state). */
  private readonly blockMarked: Uint8Array;
  globalLogdirty = false;
  logDirtyEnabled = false;
  maxMapped = 0;
  claim: number | null = null;
  claimFlags = 0;
  entryCount = 0;
  dirtyVram: { begin: bigint; end: bigint } | null = null;
  removals = 0;

  constructor(readonly n: number, ram: Array<[number, number]>, overlays: Array<[number, number, number]>) {
    this.raw = new Uint8Array(n).fill(p2m_invalid);
    this.backed = new Uint8Array(n);
    this.mark = new Uint8Array(n);
    this.logdirty = new Uint8Array(n);
    this.dirty = new Uint8Array(n);
    this.blockMarked = new Uint8Array(Math.ceil(n / 512));
    for (const [a, b] of ram) for (let g = a; g <= b; g++) this.set(g, p2m_ram_rw, true);
    for (const [a, b, t] of overlays) for (let g = a; g <= b; g++) this.set(g, t, inGroup(t, P2M_OWNED_FRAME_TYPES));
  }

  private isLogdirty(g: number): boolean {
    return this.globalLogdirty || this.logdirty[g] === 1;
  }

  private recalc(g: number): number {
    const t = this.raw[g]!;
    if (this.mark[g] !== 1 || !inGroup(t, P2M_CHANGEABLE_TYPES)) return t;
    if (t === p2m_ioreq_server && this.claim !== null) return t;
    return this.isLogdirty(g) ? p2m_ram_logdirty : p2m_ram_rw;
  }

  /** get_entry */
  query(g: number): number {
    if (g > this.maxMapped || g >= this.n) return p2m_mmio_dm;
    const t = this.recalc(g);
    return t === p2m_invalid ? p2m_mmio_dm : t;
  }

  /** resolve_misconfig for g's leaf block */
  resolve(g: number): void {
    const a = g - (g % 512);
    if (this.blockMarked[a / 512] !== 1) return;
    this.blockMarked[a / 512] = 0;
    for (let x = a; x < a + 512 && x < this.n; x++) {
      const nt = this.recalc(x);
      if (this.raw[x] === p2m_ioreq_server && nt !== p2m_ioreq_server) this.entryCount--;
      this.raw[x] = nt;
      this.mark[x] = 0;
    }
  }

  /** p2m_set_entry for one gfn */
  set(g: number, t: number, backed: boolean): void {
    this.resolve(g);
    const old = this.raw[g]!;
    if (t === p2m_ioreq_server && old !== p2m_ioreq_server) this.entryCount++;
    if (old === p2m_ioreq_server && t !== p2m_ioreq_server) this.entryCount--;
    this.raw[g] = t;
    this.backed[g] = backed ? 1 : 0;
    if (t !== p2m_invalid && g > this.maxMapped) this.maxMapped = g;
  }

  changeGlobal(ot: number, nt: number): void {
    this.mark.fill(1);
    this.blockMarked.fill(1);
    if (ot !== nt) this.globalLogdirty = nt === p2m_ram_logdirty;
  }

  changeTypeRange(start: bigint, endEx: bigint, ot: number, nt: number): void {
    let end = U64(endEx - 1n);
    if (end > BigInt(this.maxMapped)) end = BigInt(this.maxMapped);
    if (start > end) return;
    const s = Number(start), e = Number(end);
    if (s < e) {
      if (s === 0 && e === this.maxMapped) {
        this.mark.fill(1);
        this.blockMarked.fill(1);
      } else {
        for (let g = s; g <= e; g++) {
          this.mark[g] = 1;
          this.blockMarked[Math.floor(g / 512)] = 1;
        }
      }
    }
    if (nt === p2m_ram_rw && ot === p2m_ram_logdirty) for (let g = s; g <= e; g++) this.logdirty[g] = 0;
    if (nt === p2m_ram_logdirty && ot === p2m_ram_rw) for (let g = s; g <= e; g++) this.logdirty[g] = 1;
  }

  setIoreqServer(s: number, flags: number): number {
    if (flags === 0) {
      if (this.claim !== s) return EINVAL;
      this.claim = null;
      this.claimFlags = 0;
      return 0;
    }
    if (this.claim !== null || this.entryCount !== 0) return EBUSY;
    this.claim = s;
    this.claimFlags = flags;
    return 0;
  }

  /** op 15's p2m part: claim step (when opaque == 0), completion, sweep. Returns rc and the new opaque. */
  mapMemType(s: number, flags: number, opaque: bigint, preempt: () => boolean): { rc: number; opaque: bigint } {
    let rc = 0;
    if (opaque === 0n) {
      rc = this.setIoreqServer(s, flags);
      if (rc === 0 && flags === 0 && this.entryCount !== 0) this.changeGlobal(p2m_ioreq_server, p2m_ram_rw);
    }
    let g = opaque;
    if (rc === 0 && flags === 0) {
      while (this.entryCount !== 0 && g <= BigInt(this.maxMapped)) {
        const last = Math.min(Number(g) + 255, this.maxMapped);
        // p2m_finish_type_change: recalc per gfn; one resolve covers a whole leaf block
        for (let x = Number(g); x <= last; x++) if (x === Number(g) || x % 512 === 0) this.resolve(x);
        g += 256n;
        if (g <= BigInt(this.maxMapped) && preempt()) return { rc: ERESTART, opaque: g };
      }
    }
    return { rc, opaque };
  }

  setMemType(p: { nr: number; mem_type: number; pad: number; first_pfn: bigint }, hap: boolean,
    preempt: () => boolean): number {
    if (p.pad !== 0) return EINVAL;
    const last = U64(p.first_pfn + BigInt(p.nr) - 1n);
    if (p.first_pfn > last || last > BigInt(this.maxMapped)) return EINVAL;
    const nt = MEMTYPE_TO_P2M[p.mem_type];
    if (nt === undefined) return EINVAL;
    if (nt === p2m_ioreq_server) {
      if (!hap) return EOPNOTSUPP;
      if (this.claim === null) return EINVAL;
    }
    let iter = 0;
    while (iter < p.nr) {
      const pfn = Number(p.first_pfn) + iter;
      let t = this.query(pfn);
      if (t === p2m_populate_on_demand) {
        this.set(pfn, p2m_ram_rw, true);
        t = p2m_ram_rw;
      }
      if (inGroup(t, P2M_PAGING_TYPES)) return EAGAIN;
      if (t === p2m_ram_shared) return EAGAIN;
      if (!allowP2mTypeChange(t, nt)) return EINVAL;
      this.set(pfn, nt, this.backed[pfn] === 1);
      iter++;
      if (iter < p.nr && (iter & 0xff) === 0 && preempt()) {
        p.first_pfn += BigInt(iter);
        p.nr -= iter;
        return ERESTART;
      }
    }
    return 0;
  }

  trackDirtyVram(p: { nr: number; pad: number; first_pfn: bigint }, nrBufs: number, buf1Size: bigint,
    dying: boolean, maxVcpus: number): { rc: number; bitmap: Uint8Array | null } {
    if (p.pad !== 0 || nrBufs < 2 || p.nr > 262144) return { rc: EINVAL, bitmap: null };
    if (dying) return { rc: ESRCH, bitmap: null };
    if (maxVcpus === 0 || BigInt(Math.ceil(p.nr / 8)) > buf1Size) return { rc: EINVAL, bitmap: null };
    if (p.nr === 0) {
      const v = this.dirtyVram;
      if (v) {
        this.dirtyVram = null;
        const nr = Number(BigInt.asUintN(32, v.end - v.begin));
        if (nr) this.changeTypeRange(v.begin, U64(v.begin + BigInt(nr)), p2m_ram_logdirty, p2m_ram_rw);
      }
      return { rc: 0, bitmap: null };
    }
    const bm = new Uint8Array(Math.ceil(p.nr / 8));
    const v = this.dirtyVram ?? { begin: 0n, end: 0n };
    const end = U64(p.first_pfn + BigInt(p.nr));
    if (p.first_pfn !== v.begin || end !== v.end) {
      this.dirtyVram = { begin: p.first_pfn, end };
      if (v.end > v.begin) this.changeTypeRange(v.begin, v.end, p2m_ram_logdirty, p2m_ram_rw);
      this.changeTypeRange(p.first_pfn, end, p2m_ram_rw, p2m_ram_logdirty);
      bm.fill(0xff);
    } else {
      this.dirtyVram = v;
      for (let i = 0; BigInt(i) < BigInt(p.nr) && p.first_pfn + BigInt(i) < 1n << 64n &&
        p.first_pfn + BigInt(p.nr) < 1n << 64n; i++) {
        const pfn = p.first_pfn + BigInt(i);
        if (pfn >= BigInt(this.n)) break;
        if (this.query(Number(pfn)) === p2m_ram_rw) {
          this.set(Number(pfn), p2m_ram_logdirty, this.backed[Number(pfn)] === 1);
          bm[i >> 3]! |= 1 << (i & 7);
        }
      }
    }
    return { rc: 0, bitmap: bm };
  }

  modifiedMemory(p: { nr_extents: number; opaque: number }, extents: Uint8Array, preempt: () => boolean): number {
    if (!this.logDirtyEnabled) return 0;
    if (BigInt(extents.length) / 16n < BigInt(p.nr_extents)) return EINVAL;
    let batchRem = 256;
    while (p.nr_extents > 0) {
      const off = (p.nr_extents - 1) * 16;
      if (off + 16 > extents.length) return EFAULT;
      const dv = new DataView(extents.buffer, extents.byteOffset + off, 16);
      const nr = dv.getUint32(0, true), pad = dv.getUint32(4, true), first = dv.getBigUint64(8, true);
      if (pad) return EINVAL;
      let endPfn = U64(first + BigInt(nr));
      if (endPfn <= first || endPfn > BigInt(this.maxMapped)) return EINVAL;
      if (p.opaque >= nr) return EINVAL;
      let pfn = Number(first) + p.opaque;
      let batch = nr - p.opaque;
      if (batch > batchRem) {
        batch = batchRem;
        p.opaque += batch;
        endPfn = BigInt(pfn + batch);
      } else {
        p.nr_extents--;
        p.opaque = 0;
      }
      batchRem -= batch;
      for (; pfn < Number(endPfn); pfn++) {
        let t = this.query(pfn);
        if (t === p2m_populate_on_demand) {
          this.set(pfn, p2m_ram_rw, true);
          t = p2m_ram_rw;
        }
        if (inGroup(t, P2M_PAGE_FROM_GFN_TYPES)) this.dirty[pfn] = 1;
      }
      if (batchRem === 0 && p.nr_extents > 0) {
        if (preempt()) return ERESTART;
        batchRem = 256;
      }
    }
    return 0;
  }

  private relocateOne(src: number, dst: number): number {
    let t = this.query(src);
    if (t === p2m_populate_on_demand) {
      this.set(src, p2m_ram_rw, true);
      t = p2m_ram_rw;
    }
    if (t === p2m_ram_shared) return ENOMEM;
    const b = src < this.n && src <= this.maxMapped && this.backed[src] === 1;
    if (!b || t === p2m_grant_map_rw || t === p2m_grant_map_ro || t === p2m_map_foreign || t === p2m_mmio_direct ||
      t === p2m_ram_paged || t === p2m_ram_paging_in) return EINVAL;
    const dt = this.query(dst);
    const db = dst <= this.maxMapped && this.backed[dst] === 1;
    if (dt === p2m_mmio_direct) return EPERM;
    if (dst !== src) {
      if (dt === p2m_grant_map_rw || dt === p2m_grant_map_ro || dt === p2m_map_foreign) return ENXIO;
      if (db) {
        this.set(dst, p2m_invalid, false);
        this.removals++;
      }
      this.set(src, p2m_invalid, false);
      this.removals++;
    }
    this.set(dst, p2m_ram_rw, true);
    return 0;
  }

  /** master: overlapping ranges with dst above src are processed downwards (memory.c, 7acc7dd36b). */
  relocate(p: { size: number; pad: number; src_gfn: bigint; dst_gfn: bigint }, iommu: boolean,
    preempt: () => boolean, master = false): number {
    if (p.pad !== 0) return EINVAL;
    if (p.dst_gfn === (1n << 64n) - 1n) return EINVAL;
    if (U64(p.dst_gfn + BigInt(p.size)) < p.dst_gfn || U64(p.src_gfn + BigInt(p.size)) < p.src_gfn) return EOVERFLOW;
    let done = 0;
    let rc = 0;
    const down = master && p.dst_gfn > p.src_gfn && p.dst_gfn < p.src_gfn + BigInt(p.size);
    while (p.size > done) {
      const i = BigInt(down ? p.size - 1 - done : done);
      const s = p.src_gfn + i, d = p.dst_gfn + i;
      rc = s >= BigInt(this.n) || d >= BigInt(this.n) ? EINVAL : this.relocateOne(Number(s), Number(d));
      if (rc < 0) break;
      done++;
      if (p.size > done && ((iommu && done >= 16) || preempt())) {
        rc = done;
        break;
      }
    }
    if (rc > 0) {
      p.size -= rc;
      if (!down) {
        p.src_gfn += BigInt(rc);
        p.dst_gfn += BigInt(rc);
      }
      return ERESTART;
    }
    return rc;
  }
}
