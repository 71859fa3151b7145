// A programmable hypercall_preempt_check(): checks are counted from 1 over the world's life.

export type PreemptSpec = "never" | "always" | { every: number } | { at: readonly number[] };

export class Preempt {
  private spec: PreemptSpec = "never";
  private atSet: ReadonlySet<number> = new Set();
  /** Number of checks made so far. */
  count = 0;

  constructor(spec: PreemptSpec = "never") {
    this.set(spec);
  }

  set(spec: PreemptSpec): void {
    if (typeof spec === "object" && "every" in spec) {
      if (!Number.isSafeInteger(spec.every) || spec.every < 1) {
        throw new RangeError(`preempt.every must be a positive integer, got ${String(spec.every)}`);
      }
    } else if (typeof spec === "object") {
      for (const k of spec.at) {
        if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`preempt.at entries must be positive integers, got ${String(k)}`);
      }
      this.atSet = new Set(spec.at);
    }
    this.spec = spec;
  }

  /** One hypercall_preempt_check(). */
  check(): boolean {
    const n = ++this.count;
    const s = this.spec;
    if (s === "never") return false;
    if (s === "always") return true;
    if ("every" in s) return n % s.every === 0;
    return this.atSet.has(n);
  }
}
