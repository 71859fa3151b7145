// The p2m's run storage: a sequence of runs (start gfn, value, stamp) in fixed-capacity typed-array leaves,
// so inserting or removing a run moves at most one leaf's elements and allocates nothing in the common case.

const CAP = 1024;
/** A leaf fuller than this after an insert is split in two. */
const SPLIT_AT = CAP - 64;
/** Leaf size when leaves are rebuilt. */
const FILL = 512;

interface Leaf {
  s: Float64Array;
  v: Int32Array;
  t: Int32Array;
  n: number;
}

function newLeaf(): Leaf {
  return { s: new Float64Array(CAP), v: new Int32Array(CAP), t: new Int32Array(CAP), n: 0 };
}

export class RunStore {
  private leaves: Leaf[];
  /** Fenwick tree over the leaf sizes (1-based): run index <-> leaf in O(log leaves). */
  private fw: number[] = [0, 1];
  /** Start gfn of each leaf's first run. */
  private first: number[];
  private total = 1;
  /** The last located leaf and the global index of its first run (sequential scans stay O(1)). */
  private hk = 0;
  private ho = 0;
  private hv = true;

  constructor(start: number, val: number, stamp: number) {
    const l = newLeaf();
    l.s[0] = start;
    l.v[0] = val;
    l.t[0] = stamp;
    l.n = 1;
    this.leaves = [l];
    this.first = [start];
  }

  get length(): number {
    return this.total;
  }

  /** Sets hk/ho to the leaf holding run i. */
  private locate(i: number): void {
    const ls = this.leaves;
    if (this.hv) {
      const n = ls[this.hk]!.n;
      if (i >= this.ho && i < this.ho + n) return;
      const nx = ls[this.hk + 1];
      if (nx !== undefined && i >= this.ho + n && i < this.ho + n + nx.n) {
        this.ho += n;
        this.hk++;
        return;
      }
    }
    const fw = this.fw;
    const c = ls.length;
    let pos = 0;
    let rem = i;
    let step = 1;
    while (step * 2 <= c) step *= 2;
    for (; step > 0; step >>= 1) {
      const nxt = pos + step;
      if (nxt <= c && fw[nxt]! <= rem) {
        pos = nxt;
        rem -= fw[nxt]!;
      }
    }
    this.hk = Math.min(pos, c - 1);
    this.ho = i - rem;
    this.hv = true;
  }

  private prefix(k: number): number {
    let sum = 0;
    for (let x = k; x > 0; x -= x & -x) sum += this.fw[x]!;
    return sum;
  }

  private fwAdd(k: number, d: number): void {
    const c = this.leaves.length;
    for (let x = k + 1; x <= c; x += x & -x) this.fw[x]! += d;
  }

  private rebuildIndex(): void {
    const c = this.leaves.length;
    const fw = new Array<number>(c + 1).fill(0);
    for (let k = 1; k <= c; k++) {
      fw[k]! += this.leaves[k - 1]!.n;
      const p = k + (k & -k);
      if (p <= c) fw[p]! += fw[k]!;
    }
    this.fw = fw;
    this.first = this.leaves.map((x) => x.s[0]!);
    this.hv = false;
  }

  start(i: number): number {
    this.locate(i);
    return this.leaves[this.hk]!.s[i - this.ho]!;
  }

  val(i: number): number {
    this.locate(i);
    return this.leaves[this.hk]!.v[i - this.ho]!;
  }

  stamp(i: number): number {
    this.locate(i);
    return this.leaves[this.hk]!.t[i - this.ho]!;
  }

  /** Index of the last run whose start is <= g (the first run starts at 0). */
  find(g: number): number {
    const f = this.first;
    let lo = this.hk;
    if (!(this.hv && f[lo]! <= g && (lo + 1 >= f.length || f[lo + 1]! > g))) {
      lo = 0;
      let hi = f.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (f[mid]! <= g) lo = mid;
        else hi = mid - 1;
      }
    }
    const l = this.leaves[lo]!;
    const s = l.s;
    let a = 0;
    let b = l.n - 1;
    while (a < b) {
      const mid = (a + b + 1) >> 1;
      if (s[mid]! <= g) a = mid;
      else b = mid - 1;
    }
    if (!this.hv || this.hk !== lo) {
      this.hk = lo;
      this.ho = this.prefix(lo);
      this.hv = true;
    }
    return this.ho + a;
  }

  /** Replace runs [at, at+del) by the given runs, all stamped ep. */
  splice(at: number, del: number, ns: number[], nv: number[], ep: number): void {
    const cnt = ns.length;
    this.locate(Math.min(at, this.total - 1));
    const ka = this.hk;
    const la = at - this.ho;
    let kb = ka;
    let lb = la + del;
    if (del > 0) {
      this.locate(at + del - 1);
      kb = this.hk;
      lb = at + del - this.ho;
    }
    const l = this.leaves[ka]!;
    if (ka === kb && la <= l.n && l.n - del + cnt <= CAP) {
      const tail = la + del;
      if (cnt !== del) {
        l.s.copyWithin(la + cnt, tail, l.n);
        l.v.copyWithin(la + cnt, tail, l.n);
        l.t.copyWithin(la + cnt, tail, l.n);
      }
      for (let k = 0; k < cnt; k++) {
        l.s[la + k] = ns[k]!;
        l.v[la + k] = nv[k]!;
        l.t[la + k] = ep;
      }
      l.n += cnt - del;
      this.total += cnt - del;
      this.first[ka] = l.s[0]!;
      if (l.n === 0 && this.leaves.length > 1) {
        this.leaves.splice(ka, 1);
        this.rebuildIndex();
      } else if (l.n > SPLIT_AT) this.split(ka);
      else if (cnt !== del) {
        this.fwAdd(ka, cnt - del);
        // leaf ka's own offset is unchanged: keep the hint on it
        this.hk = ka;
        this.ho = this.prefix(ka);
        this.hv = true;
      }
      return;
    }
    this.rebuild(ka, kb, la, lb, ns, nv, ep);
  }

  /** Rebuild leaves ka..kb as head(ka, <la) + new runs + tail(kb, >=lb), in leaves of FILL runs. */
  private rebuild(ka: number, kb: number, la: number, lb: number, ns: number[], nv: number[], ep: number): void {
    const A = this.leaves[ka]!;
    const B = this.leaves[kb]!;
    let old = 0;
    for (let k = ka; k <= kb; k++) old += this.leaves[k]!.n;
    const size = la + ns.length + (B.n - lb);
    const out: Leaf[] = [];
    let cur = newLeaf();
    const push = (s: number, v: number, t: number): void => {
      if (cur.n === FILL) {
        out.push(cur);
        cur = newLeaf();
      }
      cur.s[cur.n] = s;
      cur.v[cur.n] = v;
      cur.t[cur.n] = t;
      cur.n++;
    };
    for (let k = 0; k < la; k++) push(A.s[k]!, A.v[k]!, A.t[k]!);
    for (let k = 0; k < ns.length; k++) push(ns[k]!, nv[k]!, ep);
    for (let k = lb; k < B.n; k++) push(B.s[k]!, B.v[k]!, B.t[k]!);
    if (cur.n > 0 || out.length === 0) out.push(cur);
    this.leaves.splice(ka, kb - ka + 1, ...out);
    this.total += size - old;
    this.rebuildIndex();
  }

  private split(k: number): void {
    const l = this.leaves[k]!;
    const r = newLeaf();
    const h = l.n >> 1;
    r.s.set(l.s.subarray(h, l.n));
    r.v.set(l.v.subarray(h, l.n));
    r.t.set(l.t.subarray(h, l.n));
    r.n = l.n - h;
    l.n = h;
    this.leaves.splice(k + 1, 0, r);
    this.rebuildIndex();
  }
}
