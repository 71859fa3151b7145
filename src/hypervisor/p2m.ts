// The host p2m of one HVM domain as a range map: sorted, disjoint runs over the gfn space, never per page.
//
// Each run holds a raw (stored) type, whether a frame owned by the domain backs it, and an EPT-style
// "recalculate" mark. Reads apply a pending mark the way ept_get_entry does (p2m_recalc_type); writes first
// resolve the marks of the whole 512-entry leaf block they touch, as ept_set_entry's resolve_misconfig does.
// A global type change is an epoch bump: every run stamped before the current epoch counts as marked.
import { IntervalSet } from "./p2m-intervals.js";
import { RunStore } from "./p2m-runs.js";
import {
  P2M_CHANGEABLE_TYPES, P2M_OWNED_FRAME_TYPES, P2M_PAGE_FROM_GFN_TYPES, P2M_PAGING_TYPES, allowP2mTypeChange,
  inGroup, memTypeOfCode, p2mTypeCode, p2mTypeName,
  p2m_grant_map_ro, p2m_grant_map_rw, p2m_invalid, p2m_ioreq_server, p2m_map_foreign, p2m_mmio_direct,
  p2m_mmio_dm, p2m_populate_on_demand, p2m_ram_logdirty, p2m_ram_paged, p2m_ram_paging_in, p2m_ram_rw,
  p2m_ram_shared,
} from "./p2m-types.js";
import type { P2mType } from "./p2m-types.js";

export type { P2mType } from "./p2m-types.js";
export { P2M_TYPES, p2mTypeCode, p2mTypeName, memTypeOfCode, allowP2mTypeChange } from "./p2m-types.js";

const EAGAIN = -11, ENOMEM = -12, EBUSY = -16, EINVAL = -22, EPERM = -1, ENXIO = -6, ERESTART = -85;

/** Exclusive end of the gfn space the map covers (JS numbers are exact below 2^53). */
export const GFN_SPACE_END = 2 ** 53;
/** A 4-level EPT maps gfns below 2^36; ept_set_entry refuses anything above (-EINVAL). */
export const EPT_GFN_LIMIT = 2 ** 36;
/** Entries in one EPT leaf table: resolve_misconfig recalculates a whole leaf table at once. */
export const EPT_LEAF_ENTRIES = 512;
/** Gfns per sweep chunk (dm.c map_mem_type_to_ioreq_server) and per set_mem_type preemption interval. */
export const CHUNK = 256;

const TYPE_MASK = 15, BACKED = 16, MARK = 32;
// group masks read once into module constants (hot paths test them per run)
const CHANGEABLE = P2M_CHANGEABLE_TYPES, OWNED = P2M_OWNED_FRAME_TYPES, PAGING = P2M_PAGING_TYPES;
const grp = (t: number, m: number): boolean => ((m >>> t) & 1) !== 0;

export interface P2mConfig {
  /** Inclusive [first, last] gfn ranges of ordinary RAM (ram_rw, backed). */
  ram: Array<[number, number]>;
  /** Applied after ram, in order. */
  overlays?: Array<{ first: number; last: number; type: P2mType }>;
}

export interface P2mRange { first: number; last: number; type: P2mType }

/** The result of a run-by-run loop: rc and how many pages were processed before it stopped. */
export interface LoopResult { rc: number; done: number }

export class P2m {
  private readonly r = new RunStore(0, p2m_invalid, 1);
  private epoch = 1;
  private maxMapped = 0;
  private claimServer: number | null = null;
  private claimFlags = 0;
  private entries = 0;
  /** p2m->logdirty_ranges (track_dirty_vram ranges). */
  readonly logdirtyRanges = new IntervalSet();
  /** p2m->global_logdirty */
  globalLogdirty = false;
  /** paging_mode_log_dirty(d): PG_log_dirty. */
  logDirtyEnabled = false;
  /** The log-dirty bitmap (paging_mark_pfn_dirty), as ranges. */
  readonly dirtyLog = new IntervalSet();
  /** d->arch.hvm.dirty_vram: the tracked [begin, end) (unsigned long arithmetic), null = never tracked. */
  dirtyVram: { begin: bigint; end: bigint } | null = null;
  /** p2m_mem_paging_populate requests made by lookups (count and last gfn). */
  pagingPopulateRequests = 0;
  lastPagingPopulate = -1;
  /** Pages removed from the physmap (each asks for a mapcache invalidation). */
  removals = 0;

  constructor(cfg: P2mConfig) {
    for (const [a, b] of cfg.ram) this.place(a, b, p2m_ram_rw);
    for (const o of cfg.overlays ?? []) this.place(o.first, o.last, p2mTypeCode(o.type));
  }

  private place(a: number, b: number, t: number): void {
    checkGfn(a, "first");
    checkGfn(b, "last");
    if (a > b) throw new RangeError(`p2m config range [${String(a)}, ${String(b)}] is empty`);
    this.write(a, b, () => t | (grp(t, OWNED) ? BACKED : 0));
  }

  // ---- run-map internals ----

  get runCount(): number {
    return this.r.length;
  }

  private find(g: number): number {
    return this.r.find(g);
  }

  private runEnd(i: number): number {
    return (i + 1 < this.r.length ? this.r.start(i + 1) : GFN_SPACE_END) - 1;
  }

  private isMarked(i: number): boolean {
    const v = this.r.val(i);
    return grp(v & TYPE_MASK, CHANGEABLE) && ((v & MARK) !== 0 || this.r.stamp(i) < this.epoch);
  }

  /** Normalised value: type | backed | mark (mark only where it can matter). */
  private key(i: number): number {
    return (this.r.val(i) & (TYPE_MASK | BACKED)) | (this.isMarked(i) ? MARK : 0);
  }

  /**
   * Replace the runs covering [a, b] by new runs (starts ns, values nv; ns[0] === a), merging equal
   * neighbours, with one splice. Cost: the runs replaced (plus the array move of the splice).
   */
  private replace(a: number, b: number, ns: number[], nv: number[]): void {
    const len = this.r.length;
    const i = this.find(a);
    const j = i + 1 < len && this.r.start(i + 1) > b ? i : this.find(b);
    let lo = i;
    let hi = j;
    const ms: number[] = [];
    const mv: number[] = [];
    let lastV = -1;
    if (this.r.start(i) < a) {
      lastV = this.key(i);
      ms.push(this.r.start(i));
      mv.push(lastV);
    } else if (i > 0) {
      lo = i - 1;
      lastV = this.key(lo);
      ms.push(this.r.start(lo));
      mv.push(lastV);
    }
    for (let k = 0; k < ns.length; k++) {
      const v = nv[k]!;
      if (v === lastV) continue;
      ms.push(ns[k]!);
      mv.push(v);
      lastV = v;
    }
    if (this.runEnd(j) > b) {
      const v = this.key(j);
      if (v !== lastV) {
        ms.push(b + 1);
        mv.push(v);
      }
    } else if (j + 1 < len) {
      hi = j + 1;
      const v = this.key(hi);
      if (v !== lastV) {
        ms.push(this.r.start(hi));
        mv.push(v);
      }
    }
    this.r.splice(lo, hi - lo + 1, ms, mv, this.epoch);
  }

  /** p2m_recalc_type for a marked changeable raw type over [x, y]: pieces with their resulting type. */
  private recalcPieces(raw: number, x: number, y: number, out: (x: number, y: number, t: number) => void): void {
    if (raw === p2m_ioreq_server && this.claimServer !== null) {
      out(x, y, raw);
      return;
    }
    if (this.globalLogdirty) {
      out(x, y, p2m_ram_logdirty);
      return;
    }
    let g = x;
    while (g <= y) {
      const inside = this.logdirtyRanges.has(g);
      const nb = Math.min(y, this.logdirtyRanges.nextBoundary(g) - 1);
      out(g, nb, inside ? p2m_ram_logdirty : p2m_ram_rw);
      g = nb + 1;
    }
  }

  /**
   * Query pieces over [a, b] as a lookup reports them (get_entry): pending marks applied, invalid and
   * anything beyond max_mapped_pfn reported as mmio_dm (ept_get_entry). cb gets (x, y, type, backed).
   */
  forEachQuery(a: number, b: number, cb: (x: number, y: number, t: number, backed: boolean) => boolean | undefined): void {
    const top = Math.min(b, this.maxMapped);
    let stop = false;
    if (a <= top) {
      for (let i = this.find(a); i < this.r.length && !stop; i++) {
        const x = Math.max(a, this.r.start(i));
        if (x > top) break;
        const y = Math.min(top, this.runEnd(i));
        const v = this.r.val(i);
        const raw = v & TYPE_MASK;
        const backed = (v & BACKED) !== 0;
        if (this.isMarked(i)) {
          this.recalcPieces(raw, x, y, (p, q, t) => {
            if (!stop && cb(p, q, t, backed) === false) stop = true;
          });
        } else if (cb(x, y, raw === p2m_invalid ? p2m_mmio_dm : raw, backed) === false) stop = true;
      }
    }
    if (!stop && b > this.maxMapped) cb(Math.max(a, this.maxMapped + 1), b, p2m_mmio_dm, false);
  }

  private queryOne(g: number): { t: number; backed: boolean } {
    let t = p2m_mmio_dm;
    let backed = false;
    this.forEachQuery(g, g, (_x, _y, tt, bb) => {
      t = tt;
      backed = bb;
      return false;
    });
    return { t, backed };
  }

  /** Resolve pending marks in every 512-entry leaf block touched by [a, b] (ept resolve_misconfig). */
  private resolveBlocks(a: number, b: number): void {
    const A = a - (a % EPT_LEAF_ENTRIES);
    const B = Math.min(b - (b % EPT_LEAF_ENTRIES) + EPT_LEAF_ENTRIES - 1, this.maxMapped);
    if (A > B) return;
    const i0 = this.find(A);
    let any = false;
    for (let i = i0; i < this.r.length && this.r.start(i) <= B; i++) {
      if (this.isMarked(i)) {
        any = true;
        break;
      }
    }
    if (!any) return;
    const ns: number[] = [];
    const nv: number[] = [];
    for (let i = i0; i < this.r.length && this.r.start(i) <= B; i++) {
      const x = Math.max(A, this.r.start(i));
      const y = Math.min(B, this.runEnd(i));
      const v = this.r.val(i);
      const raw = v & TYPE_MASK;
      if (this.isMarked(i)) {
        this.recalcPieces(raw, x, y, (p, q, t) => {
          if (raw === p2m_ioreq_server && t !== p2m_ioreq_server) this.entries -= q - p + 1;
          ns.push(p);
          nv.push(t | (v & BACKED));
        });
      } else {
        ns.push(x);
        nv.push(v & (TYPE_MASK | BACKED));
      }
    }
    this.replace(A, B, ns, nv);
  }

  /**
   * Write every entry of [a, b]: f maps (raw type, backed) to the new value. Resolves the touched leaf
   * blocks first and keeps entry_count exact (p2m_entry_modify).
   */
  private write(a: number, b: number, f: (t: number, backed: boolean) => number): void {
    this.resolveBlocks(a, b);
    const ns: number[] = [];
    const nv: number[] = [];
    let top = -1;
    for (let i = this.find(a); i < this.r.length && this.r.start(i) <= b; i++) {
      const x = Math.max(a, this.r.start(i));
      const y = Math.min(b, this.runEnd(i));
      const v = this.r.val(i);
      const old = v & TYPE_MASK;
      const nvv = f(old, (v & BACKED) !== 0) & (TYPE_MASK | BACKED);
      const nt = nvv & TYPE_MASK;
      if (old === p2m_ioreq_server && nt !== p2m_ioreq_server) this.entries -= y - x + 1;
      if (nt === p2m_ioreq_server && old !== p2m_ioreq_server) this.entries += y - x + 1;
      if (nt !== p2m_invalid) top = y;
      ns.push(x);
      nv.push(nvv);
    }
    this.replace(a, b, ns, nv);
    if (top > this.maxMapped) this.maxMapped = top;
  }

  // ---- the agreed interface ----

  get maxMappedPfn(): number {
    return this.maxMapped;
  }

  get entryCount(): number {
    return this.entries;
  }

  /** The type a query lookup reports (pending recalculation applied; absent/beyond max -> mmio_dm). */
  typeOf(gfn: number): P2mType {
    return p2mTypeName(this.typeCodeOf(gfn));
  }

  typeCodeOf(gfn: number): number {
    if (!Number.isSafeInteger(gfn) || gfn < 0) return p2m_mmio_dm;
    return this.queryOne(gfn).t;
  }

  /** Whether a frame owned by the domain backs gfn. */
  hasPage(gfn: number): boolean {
    if (!Number.isSafeInteger(gfn) || gfn < 0) return false;
    return this.queryOne(gfn).backed;
  }

  /** HVMOP_get_mem_type's HVMMEM value for gfn (mirrors hvm.c:hvmop_get_mem_type). */
  memTypeOf(gfn: number): number {
    return memTypeOfCode(this.typeCodeOf(gfn));
  }

  /**
   * Store type t over [first, last] (a p2m_set_entry per page, as the physmap code does: RAM types get a
   * frame, invalid/mmio types none). Accepts a P2mType or a p2m_type_t value.
   */
  setType(first: number, last: number, t: P2mType | number): void {
    const code = typeof t === "number" ? t : p2mTypeCode(t);
    if (!Number.isInteger(code) || code < 0 || code > TYPE_MASK) throw new RangeError(`p2m type ${String(t)}`);
    checkGfn(first, "first");
    checkGfn(last, "last");
    if (first > last) return;
    const removing = !grp(code, OWNED);
    this.write(first, last, (_old, backed) => {
      if (removing && backed) this.removals++;
      return code | (grp(code, OWNED) ? BACKED : 0);
    });
  }

  /**
   * gfn's entry of type ot becomes nt (order 0, the frame kept); false when the entry is not ot, as
   * Xen's -EBUSY. mirrors p2m.c:p2m_change_type_one
   */
  changeTypeOne(gfn: number, ot: number, nt: number): boolean {
    if (this.typeCodeOf(gfn) !== ot) return false;
    this.applyType(gfn, gfn, nt);
    return true;
  }

  ioreqClaim(): { server: number | null; flags: number } {
    return { server: this.claimServer, flags: this.claimFlags };
  }

  /** mirrors p2m.c:p2m_set_ioreq_server: flags 0 releases (only by the claimant), non-zero claims. */
  setIoreqServer(server: number, flags: number): number {
    if (flags === 0) {
      if (this.claimServer !== server) return EINVAL;
      this.claimServer = null;
      this.claimFlags = 0;
      return 0;
    }
    if (this.claimServer !== null) return EBUSY;
    if (this.entries !== 0) return EBUSY;
    this.claimServer = server;
    this.claimFlags = flags;
    return 0;
  }

  /** mirrors ioreq.c:arch_ioreq_server_map_mem_type_completed: queue the lazy ioreq_server -> ram_rw change. */
  mapMemTypeCompleted(flags: number): void {
    if (flags === 0 && this.entries !== 0) this.changeEntryTypeGlobal(p2m_ioreq_server, p2m_ram_rw);
  }

  /** mirrors arch_ioreq_server_destroy's release: the claim goes, entries stay ioreq_server. */
  releaseIoreqServerOnDestroy(server: number): void {
    if (this.claimServer === server) this.setIoreqServer(server, 0);
  }

  /** mirrors p2m.c:p2m_finish_type_change: recalc every gfn of [first, first+count-1] clipped to max. */
  finishTypeChange(firstGfn: number, count: number): number {
    if (count <= 0 || firstGfn > this.maxMapped) return 0;
    const last = Math.min(firstGfn + count - 1, this.maxMapped);
    this.resolveBlocks(firstGfn, last);
    return 0;
  }

  /** Query types over [first, last], merged into maximal runs. */
  ranges(first: number, last: number): P2mRange[] {
    const out: P2mRange[] = [];
    if (first > last) return out;
    this.forEachQuery(first, last, (x, y, t) => {
      const prev = out[out.length - 1];
      const name = p2mTypeName(t);
      if (prev && prev.type === name && prev.last + 1 === x) prev.last = y;
      else out.push({ first: x, last: y, type: name });
      return undefined;
    });
    return out;
  }

  // ---- global and range type changes, log-dirty ----

  /** mirrors p2m.c:change_entry_type_global (EPT: mark everything for recalculation). */
  changeEntryTypeGlobal(ot: number, nt: number): void {
    this.epoch++;
    if (ot !== nt) this.globalLogdirty = nt === p2m_ram_logdirty;
  }

  /** mirrors p2m.c:change_type_range for [start, endExclusive) in unsigned long arithmetic. */
  changeTypeRange(start: bigint, endExclusive: bigint, ot: number, nt: number): void {
    let end = BigInt.asUintN(64, endExclusive - 1n);
    const max = BigInt(this.maxMapped);
    if (end > max) end = max;
    if (start > end) return;
    const s = Number(start);
    const e = Number(end);
    if (s < e) {
      if (s === 0 && e === this.maxMapped) this.epoch++;
      else this.markRange(s, e);
    }
    if (nt === p2m_ram_rw && ot === p2m_ram_logdirty) this.logdirtyRanges.remove(s, e);
    else if (nt === p2m_ram_logdirty && ot === p2m_ram_rw) this.logdirtyRanges.add(s, e);
  }

  private markRange(a: number, b: number): void {
    const ns: number[] = [];
    const nv: number[] = [];
    for (let i = this.find(a); i < this.r.length && this.r.start(i) <= b; i++) {
      const v = this.r.val(i);
      ns.push(Math.max(a, this.r.start(i)));
      nv.push((v & (TYPE_MASK | BACKED)) | (grp(v & TYPE_MASK, CHANGEABLE) ? MARK : 0));
    }
    this.replace(a, b, ns, nv);
  }

  /**
   * Turn log-dirty mode on (mirrors hap.c:hap_enable_log_dirty). 4.17 refuses only a global enable while
   * ioreq_server entries are outstanding; master refuses any enable then.
   */
  enableLogDirty(global: boolean, persona: "4.17" | "master" | "4.9" = "4.17"): number {
    if ((global || persona === "master") && this.entries !== 0) return EBUSY;
    this.logDirtyEnabled = true;
    if (global) this.changeEntryTypeGlobal(p2m_ram_rw, p2m_ram_logdirty);
    return 0;
  }

  /** mirrors hap.c:hap_disable_log_dirty */
  disableLogDirty(): void {
    this.logDirtyEnabled = false;
    this.changeEntryTypeGlobal(p2m_ram_logdirty, p2m_ram_rw);
  }

  isDirty(pfn: number): boolean {
    return this.dirtyLog.has(pfn);
  }

  /**
   * modified_memory's per-pfn step over [a, b]: pfns for which get_page_from_gfn(P2M_UNSHARE) yields a page
   * are marked dirty; populate-on-demand entries are populated first; paged-out ones ask for a page-in.
   */
  markModified(a: number, b: number): void {
    const pod: Array<[number, number]> = [];
    const marks: Array<[number, number]> = [];
    this.forEachQuery(a, b, (x, y, t) => {
      if (t === p2m_populate_on_demand) pod.push([x, y]);
      if (inGroup(t, P2M_PAGE_FROM_GFN_TYPES) || t === p2m_populate_on_demand) marks.push([x, y]);
      if (t === p2m_ram_paged || t === p2m_ram_paging_in) {
        this.pagingPopulateRequests += y - x + 1;
        this.lastPagingPopulate = y;
      }
      return undefined;
    });
    for (const [x, y] of pod) this.write(x, y, () => p2m_ram_rw | BACKED);
    for (const [x, y] of marks) this.dirtyLog.add(x, y);
  }

  // ---- run-by-run versions of Xen's per-page loops ----

  /**
   * set_mem_type's loop over [first, first+nr-1] to internal type nt (mirrors dm.c:set_mem_type), computed
   * run by run. preempt is asked exactly when Xen asks hypercall_preempt_check: after every 256th page that
   * succeeded, while pages remain. done = pages changed.
   */
  setMemTypeLoop(first: number, nr: number, nt: number, preempt: () => boolean): LoopResult {
    const last = first + nr - 1;
    let stopAt = -1;
    let stopRc = 0;
    // unmarked runs are read directly; marked ones through the recalculation
    const top = Math.min(last, this.maxMapped);
    let g = first;
    for (let i = this.find(first); g <= top && stopAt < 0; i++) {
      const y = Math.min(top, this.runEnd(i));
      const v = this.r.val(i);
      if (!this.isMarked(i)) {
        const raw = v & TYPE_MASK;
        const rc = setMemTypeRefusal(raw === p2m_invalid ? p2m_mmio_dm : raw, nt);
        if (rc !== 0) {
          stopAt = g;
          stopRc = rc;
        }
      } else {
        this.recalcPieces(v & TYPE_MASK, g, y, (x, _q, t) => {
          const rc = stopAt < 0 ? setMemTypeRefusal(t, nt) : 0;
          if (rc !== 0) {
            stopAt = x;
            stopRc = rc;
          }
        });
      }
      g = y + 1;
    }
    if (stopAt < 0 && last > this.maxMapped) {
      const rc = setMemTypeRefusal(p2m_mmio_dm, nt);
      if (rc !== 0) {
        stopAt = Math.max(first, this.maxMapped + 1);
        stopRc = rc;
      }
    }
    const ok = stopAt < 0 ? nr : stopAt - first;
    for (let iter = CHUNK; iter <= ok && iter < nr; iter += CHUNK) {
      if (preempt()) {
        this.applyType(first, first + iter - 1, nt);
        return { rc: ERESTART, done: iter };
      }
    }
    if (ok > 0) this.applyType(first, first + ok - 1, nt);
    if (stopAt >= 0 && stopRc === EAGAIN && inGroup(this.typeCodeOf(stopAt), P2M_PAGING_TYPES)) {
      this.pagingPopulateRequests++;
      this.lastPagingPopulate = stopAt;
    }
    return { rc: stopRc, done: ok };
  }

  private applyType(a: number, b: number, nt: number): void {
    this.write(a, b, (old, backed) => nt | (backed || old === p2m_populate_on_demand ? BACKED : 0));
  }

  /**
   * The synchronous sweep of map_mem_type_to_ioreq_server (dm.c, flags == 0) from gfn opaque: 256-gfn
   * chunks while entry_count != 0 and g <= max_mapped_pfn, a preemption check after every chunk that is not
   * the last. Returns rc 0 or -ERESTART with the next opaque. Computed from the runs: the chunk after which
   * entry_count reaches 0 is found from the last convertible entry, and the leaf blocks of all processed
   * chunks are resolved in one pass.
   */
  sweepIoreq(opaque: bigint, preempt: () => boolean): { rc: number; opaque: bigint } {
    const max = this.maxMapped;
    if (this.entries === 0 || opaque > BigInt(max)) return { rc: 0, opaque };
    const g0 = Number(opaque);
    // convertible entries: marked raw ioreq_server runs at or after g0's leaf block, with no claimant
    const from = g0 - (g0 % EPT_LEAF_ENTRIES);
    let convertible = 0;
    let lastConv = -1;
    if (this.claimServer === null) {
      for (let i = this.find(from); i < this.r.length && this.r.start(i) <= max; i++) {
        if ((this.r.val(i) & TYPE_MASK) !== p2m_ioreq_server || !this.isMarked(i)) continue;
        const x = Math.max(from, this.r.start(i));
        const y = Math.min(max, this.runEnd(i));
        if (x > y) continue;
        convertible += y - x + 1;
        lastConv = y;
      }
    }
    // index of the chunk after which entry_count is 0 (or the last chunk when it never gets there)
    const lastChunk = Math.floor((max - g0) / CHUNK);
    let endChunk = lastChunk;
    if (convertible === this.entries && lastConv >= 0) {
      const blk = lastConv - (lastConv % EPT_LEAF_ENTRIES);
      endChunk = Math.min(lastChunk, Math.max(0, Math.ceil((blk - (CHUNK - 1) - g0) / CHUNK)));
    }
    for (let k = 0; k <= endChunk; k++) {
      const g = g0 + CHUNK * (k + 1);
      if (g <= max && preempt()) {
        this.finishTypeChange(g0, g - g0);
        return { rc: ERESTART, opaque: BigInt(g) };
      }
    }
    this.finishTypeChange(g0, CHUNK * (endChunk + 1));
    return { rc: 0, opaque };
  }

  /**
   * One page of relocate_memory (mirrors p2m.c:xenmem_add_to_physmap_one, XENMAPSPACE_gmfn): move the frame
   * at src to dst as ram_rw. dst may be any non-negative number (>= 2^36 cannot be mapped).
   */
  relocateOne(src: number, dst: number): number {
    let s = this.queryOne(src);
    if (s.t === p2m_populate_on_demand) {
      this.write(src, src, () => p2m_ram_rw | BACKED);
      s = { t: p2m_ram_rw, backed: true };
    }
    if (s.t === p2m_ram_paged || s.t === p2m_ram_paging_in) {
      this.pagingPopulateRequests++;
      this.lastPagingPopulate = src;
    }
    if (s.t === p2m_ram_shared) return ENOMEM;
    const owned = s.backed && s.t !== p2m_grant_map_rw && s.t !== p2m_grant_map_ro && s.t !== p2m_map_foreign &&
      s.t !== p2m_mmio_direct;
    if (!owned) return EINVAL;
    const mappable = dst < EPT_GFN_LIMIT;
    const d = mappable ? this.queryOne(dst) : { t: p2m_mmio_dm, backed: false };
    if (d.t === p2m_mmio_direct) return EPERM;
    if (dst !== src) {
      if (d.t === p2m_grant_map_rw || d.t === p2m_grant_map_ro || d.t === p2m_map_foreign) return ENXIO;
      if (d.backed) this.setType(dst, dst, p2m_invalid);
      this.setType(src, src, p2m_invalid);
    }
    if (!mappable) return EINVAL;
    this.write(dst, dst, () => p2m_ram_rw | BACKED);
    return 0;
  }

  /** A structural self-check for tests: runs sorted, no equal neighbours, entry_count matches. */
  checkInvariants(): string | null {
    let count = 0;
    for (let i = 0; i < this.r.length; i++) {
      if (i > 0 && this.r.start(i) <= this.r.start(i - 1)) return `runs not sorted at ${String(i)}`;
      if ((this.r.val(i) & TYPE_MASK) === p2m_ioreq_server) count += this.runEnd(i) - this.r.start(i) + 1;
    }
    if (this.r.start(0) !== 0) return "first run does not start at 0";
    if (count !== this.entries) return `entry_count ${String(this.entries)} != ${String(count)} raw ioreq_server entries`;
    return null;
  }
}

/** set_mem_type's per-page refusal for a page read as t (dm.c:set_mem_type): 0 = allowed. */
function setMemTypeRefusal(t: number, nt: number): number {
  if (grp(t, PAGING)) return EAGAIN;
  if (t === p2m_ram_shared) return EAGAIN;
  return allowP2mTypeChange(t === p2m_populate_on_demand ? p2m_ram_rw : t, nt) ? 0 : EINVAL;
}

function checkGfn(g: number, field: string): void {
  if (!Number.isSafeInteger(g) || g < 0) throw new RangeError(`p2m ${field} gfn ${String(g)} is not a gfn`);
}
