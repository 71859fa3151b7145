// A set of 64-bit inclusive ranges kept as sorted, disjoint, non-adjacent nodes.
// mirrors common/rangeset.c (rangeset_add_range / rangeset_remove_range / contains / overlaps)

export const MAX_NR_IO_RANGES = 256;
const ENOMEM = -12;

export class RangeSet {
  private readonly s: bigint[] = [];
  private readonly e: bigint[] = [];

  constructor(readonly limit: number = MAX_NR_IO_RANGES) {}

  get size(): number {
    return this.s.length;
  }

  /** Index of the last node whose start is <= v, or -1 (mirrors rangeset.c:find_range). */
  private find(v: bigint): number {
    let lo = 0;
    let hi = this.s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.s[mid]! <= v) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  overlaps(first: bigint, last: bigint): boolean {
    const x = this.find(last);
    return x >= 0 && first <= this.e[x]!;
  }

  contains(first: bigint, last: bigint): boolean {
    const x = this.find(first);
    return x >= 0 && this.e[x]! >= last;
  }

  /** The node containing v, if any (fast path for routing). */
  containsValue(v: bigint): boolean {
    const x = this.find(v);
    return x >= 0 && this.e[x]! >= v;
  }

  /** Returns 0 or -ENOMEM when a new node is needed beyond the limit. */
  add(first: bigint, last: bigint): number {
    const y = this.find(last);
    // Xen allocates a node when the last node starting at or below `last` neither
    // covers nor touches `first` from the left (even if it would merge to the right).
    const needNode = y < 0 || (this.s[y]! <= first && this.e[y]! + 1n < first);
    if (needNode && this.s.length >= this.limit) return ENOMEM;
    // Merge every node that overlaps or touches [first, last].
    let lo = this.find(first);
    if (lo < 0 || this.e[lo]! + 1n < first) lo++;
    let hi = y;
    if (hi + 1 < this.s.length && this.s[hi + 1]! === last + 1n) hi++;
    let ns = first;
    let ne = last;
    if (lo <= hi) {
      if (this.s[lo]! < ns) ns = this.s[lo]!;
      if (this.e[hi]! > ne) ne = this.e[hi]!;
    }
    if (lo > hi && lo === this.s.length) {
      this.s.push(ns);
      this.e.push(ne);
    } else {
      this.s.splice(lo, hi - lo + 1, ns);
      this.e.splice(lo, hi - lo + 1, ne);
    }
    return 0;
  }

  /** Returns 0 or -ENOMEM when splitting a node needs one beyond the limit. */
  remove(first: bigint, last: bigint): number {
    const x = this.find(first);
    const y = this.find(last);
    if (x === y) {
      if (x < 0 || this.e[x]! < first) return 0;
      const xs = this.s[x]!;
      const xe = this.e[x]!;
      if (xs < first && xe > last) {
        if (this.s.length >= this.limit) return ENOMEM;
        this.e[x] = first - 1n;
        this.s.splice(x + 1, 0, last + 1n);
        this.e.splice(x + 1, 0, xe);
      } else if (xs === first && xe <= last) {
        if (x === this.s.length - 1) {
          this.s.pop();
          this.e.pop();
        } else {
          this.s.splice(x, 1);
          this.e.splice(x, 1);
        }
      } else if (xs === first) {
        this.s[x] = last + 1n;
      } else if (xe <= last) {
        this.e[x] = first - 1n;
      }
      return 0;
    }
    let i = x < 0 ? 0 : x;
    if (this.s[i]! < first) {
      if (this.e[i]! >= first) this.e[i] = first - 1n;
      i++;
    }
    // nodes i..y-1 lie wholly inside the range; y is cut at last+1
    const ye = this.e[y]!;
    this.s.splice(i, y - i + 1);
    this.e.splice(i, y - i + 1);
    if (last + 1n <= ye) {
      this.s.splice(i, 0, last + 1n);
      this.e.splice(i, 0, ye);
    }
    return 0;
  }

  clear(): void {
    this.s.length = 0;
    this.e.length = 0;
  }

  toArray(): [bigint, bigint][] {
    return this.s.map((s, i) => [s, this.e[i]!]);
  }
}
