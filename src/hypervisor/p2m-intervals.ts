// A set of gfns kept as sorted, disjoint, non-adjacent inclusive intervals (numbers, not pages).
// Used for the p2m's log-dirty ranges (p2m->logdirty_ranges) and the log-dirty bitmap.

export class IntervalSet {
  private s: number[] = [];
  private e: number[] = [];

  get count(): number {
    return this.s.length;
  }

  /** Index of the last interval whose start is <= g, or -1. */
  private find(g: number): number {
    let lo = 0;
    let hi = this.s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.s[mid]! <= g) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  has(g: number): boolean {
    const i = this.find(g);
    return i >= 0 && g <= this.e[i]!;
  }

  /** First gfn > g where membership may change (end of the interval holding g, or next start). */
  nextBoundary(g: number): number {
    const i = this.find(g);
    if (i >= 0 && g <= this.e[i]!) return this.e[i]! + 1;
    const n = i + 1;
    return n < this.s.length ? this.s[n]! : Number.POSITIVE_INFINITY;
  }

  add(a: number, b: number): void {
    if (a > b) return;
    // intervals touching [a-1, b+1] merge
    let lo = this.find(a - 1);
    if (lo < 0 || this.e[lo]! < a - 1) lo++;
    let hi = this.find(b + 1);
    let na = a;
    let nb = b;
    if (lo <= hi) {
      na = Math.min(a, this.s[lo]!);
      nb = Math.max(b, this.e[hi]!);
    } else hi = lo - 1;
    this.s.splice(lo, hi - lo + 1, na);
    this.e.splice(lo, hi - lo + 1, nb);
  }

  remove(a: number, b: number): void {
    if (a > b) return;
    let lo = this.find(a);
    if (lo < 0 || this.e[lo]! < a) lo++;
    const hi = this.find(b);
    if (hi < lo) return;
    const ns: number[] = [];
    const ne: number[] = [];
    if (this.s[lo]! < a) {
      ns.push(this.s[lo]!);
      ne.push(a - 1);
    }
    if (this.e[hi]! > b) {
      ns.push(b + 1);
      ne.push(this.e[hi]!);
    }
    this.s.splice(lo, hi - lo + 1, ...ns);
    this.e.splice(lo, hi - lo + 1, ...ne);
  }

  clear(): void {
    this.s = [];
    this.e = [];
  }

  /** The intervals as [first, last] pairs, optionally clipped to [a, b]. */
  list(a = 0, b = Number.MAX_SAFE_INTEGER): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.s.length; i++) {
      const x = Math.max(a, this.s[i]!);
      const y = Math.min(b, this.e[i]!);
      if (x <= y) out.push([x, y]);
    }
    return out;
  }
}
