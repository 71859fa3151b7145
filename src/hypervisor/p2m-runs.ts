// The p2m's run storage: a sequence of runs (start gfn, value, stamp) in leaves of bounded size, so that
// inserting or removing a run costs a leaf's worth of array moves, not the whole map's.

const LEAF_MAX = 4096;
const LEAF_SPLIT = 2048;

export class RunStore {
  private ls: number[][];
  private lv: number[][];
  private lt: number[][];
  /** Global index of each leaf's first run. */
  private off: number[] = [0];
  /** Start gfn of each leaf's first run. */
  private first: number[];
  private n = 1;
  /** The leaf of the last lookup (sequential scans stay O(1) per step). */
  private hint = 0;

  constructor(start: number, val: number, stamp: number) {
    this.ls = [[start]];
    this.lv = [[val]];
    this.lt = [[stamp]];
    this.first = [start];
  }

  get length(): number {
    return this.n;
  }

  private leafOf(i: number): number {
    const h = this.hint;
    const off = this.off;
    if (i >= off[h]! && i < off[h]! + this.ls[h]!.length) return h;
    if (h + 1 < off.length && i >= off[h + 1]! && i < off[h + 1]! + this.ls[h + 1]!.length) return (this.hint = h + 1);
    let lo = 0;
    let hi = off.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (off[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return (this.hint = lo);
  }

  start(i: number): number {
    const k = this.leafOf(i);
    return this.ls[k]![i - this.off[k]!]!;
  }

  val(i: number): number {
    const k = this.leafOf(i);
    return this.lv[k]![i - this.off[k]!]!;
  }

  stamp(i: number): number {
    const k = this.leafOf(i);
    return this.lt[k]![i - this.off[k]!]!;
  }

  /** Index of the last run whose start is <= g (the first run starts at 0). */
  find(g: number): number {
    const f = this.first;
    let lo = 0;
    let hi = f.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (f[mid]! <= g) lo = mid;
      else hi = mid - 1;
    }
    const s = this.ls[lo]!;
    let a = 0;
    let b = s.length - 1;
    while (a < b) {
      const mid = (a + b + 1) >> 1;
      if (s[mid]! <= g) a = mid;
      else b = mid - 1;
    }
    this.hint = lo;
    return this.off[lo]! + a;
  }

  /** Replace runs [at, at+del) by the given runs, all stamped ep. */
  splice(at: number, del: number, ns: number[], nv: number[], ep: number): void {
    const cnt = ns.length;
    const ka = this.leafOf(Math.min(at, this.n - 1));
    const kb = del > 0 ? this.leafOf(at + del - 1) : ka;
    const la = at - this.off[ka]!;
    if (ka === kb && (del > 0 || la <= this.ls[ka]!.length)) {
      const s = this.ls[ka]!;
      const v = this.lv[ka]!;
      const t = this.lt[ka]!;
      if (cnt === del) {
        for (let k = 0; k < cnt; k++) {
          s[la + k] = ns[k]!;
          v[la + k] = nv[k]!;
          t[la + k] = ep;
        }
        if (la === 0) this.first[ka] = s[0]!;
        return;
      }
      if (cnt < 2048) {
        s.splice(la, del, ...ns);
        v.splice(la, del, ...nv);
        t.splice(la, del, ...new Array<number>(cnt).fill(ep));
        this.n += cnt - del;
        if (s.length === 0 && this.ls.length > 1) this.dropLeaf(ka);
        else {
          this.first[ka] = s[0]!;
          if (s.length > LEAF_MAX) this.splitLeaf(ka);
          this.reindex(ka);
        }
        return;
      }
    }
    // general case: rebuild leaves ka..kb
    const lb = at + del - this.off[kb]!;
    const S = this.ls[ka]!.slice(0, la).concat(ns, this.ls[kb]!.slice(lb));
    const V = this.lv[ka]!.slice(0, la).concat(nv, this.lv[kb]!.slice(lb));
    const T = this.lt[ka]!.slice(0, la).concat(new Array<number>(cnt).fill(ep), this.lt[kb]!.slice(lb));
    const nls: number[][] = [];
    const nlv: number[][] = [];
    const nlt: number[][] = [];
    for (let p = 0; p < S.length; p += LEAF_SPLIT) {
      nls.push(S.slice(p, p + LEAF_SPLIT));
      nlv.push(V.slice(p, p + LEAF_SPLIT));
      nlt.push(T.slice(p, p + LEAF_SPLIT));
    }
    this.ls.splice(ka, kb - ka + 1, ...nls);
    this.lv.splice(ka, kb - ka + 1, ...nlv);
    this.lt.splice(ka, kb - ka + 1, ...nlt);
    this.n += cnt - del;
    if (this.ls.length === 0) throw new Error("p2m run store emptied");
    this.first = this.ls.map((s) => s[0]!);
    this.off = new Array<number>(this.ls.length);
    this.reindex(0);
    this.hint = 0;
  }

  private splitLeaf(k: number): void {
    const s = this.ls[k]!;
    const v = this.lv[k]!;
    const t = this.lt[k]!;
    this.ls.splice(k + 1, 0, s.splice(LEAF_SPLIT));
    this.lv.splice(k + 1, 0, v.splice(LEAF_SPLIT));
    this.lt.splice(k + 1, 0, t.splice(LEAF_SPLIT));
    this.first.splice(k + 1, 0, this.ls[k + 1]![0]!);
    this.off.splice(k + 1, 0, 0);
  }

  private dropLeaf(k: number): void {
    this.ls.splice(k, 1);
    this.lv.splice(k, 1);
    this.lt.splice(k, 1);
    this.first.splice(k, 1);
    this.off.splice(k, 1);
    this.hint = 0;
    this.reindex(k > 0 ? k - 1 : 0);
  }

  private reindex(from: number): void {
    const off = this.off;
    const ls = this.ls;
    let o = from > 0 ? off[from - 1]! + ls[from - 1]!.length : 0;
    for (let k = from; k < ls.length; k++) {
      off[k] = o;
      o += ls[k]!.length;
    }
  }
}
