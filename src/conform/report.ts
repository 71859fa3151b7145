// The conformance report: per libxendevicemodel function, calls seen, conforming and differing, the
// first difference of each kind; one warning line per difference as calls arrive (the first few of
// each kind; the rest are counted). Memory is bounded: keys are function names and C field paths.
import type { Difference, Verdict } from "./types.js";

/** Warning lines printed per (function, kind, field) before further ones are only counted. */
const LINES_PER_KIND = 3;
/** First differences kept per function. */
const FIRST_PER_OP = 32;

export interface OperationSummary {
  /** The xendevicemodel_* function (absent for calls the library never makes). */
  fn?: string;
  op: string;
  calls: number;
  conforming: number;
  differing: number;
  not_library: number;
  unchecked: number;
  /** The first difference of each kind and field. */
  first_differences: Difference[];
  /** Why the library never makes such a call, or why it could not be checked (the first reason seen). */
  first_reason?: string;
}

export interface ConformReportJson {
  conform: string;
  strict: boolean;
  calls: number;
  conforming: number;
  differing: number;
  not_library: number;
  unchecked: number;
  operations: OperationSummary[];
}

export interface CallContext {
  conn: number;
  path: string;
}

/** "buffer 0 xen_dm_op.u.set_mem_type.pad at byte offset 14: expected 0, sent 0x1234 (note)" */
export function describeDifference(d: Difference): string {
  const where = d.buffer !== undefined && !d.field.includes(`[${d.buffer}]`) ? `buffer ${d.buffer} ` : "";
  const note = d.note !== undefined ? ` (${d.note})` : "";
  return `${where}${d.field} at byte offset ${d.offset}: expected ${d.expected}, sent ${d.sent}${note}`;
}

interface Entry extends OperationSummary {
  firstKeys: Set<string>;
}

export class ConformReport {
  readonly #ops = new Map<string, Entry>();
  readonly #printed = new Map<string, number>();
  calls = 0;
  conforming = 0;
  differing = 0;
  notLibrary = 0;
  unchecked = 0;

  constructor(readonly target: string, readonly strict: boolean) {}

  /** Counts a verdict; returns the warning lines to show for it (none when it conforms). */
  record(v: Verdict, ctx: CallContext): string[] {
    this.calls++;
    const key = v.status === "not-a-library-call" || v.status === "unchecked" ? v.op : v.fn;
    let e = this.#ops.get(key);
    if (e === undefined) {
      const counts = { op: v.op, calls: 0, conforming: 0, differing: 0, not_library: 0, unchecked: 0, first_differences: [], firstKeys: new Set<string>() };
      e = v.status === "not-a-library-call" || v.status === "unchecked" ? counts : { fn: v.fn, ...counts };
      this.#ops.set(key, e);
    }
    e.calls++;
    if (v.status === "conforms") {
      this.conforming++;
      e.conforming++;
      return [];
    }
    const head = `conn ${ctx.conn} ${ctx.path}`;
    if (v.status === "unchecked") {
      this.unchecked++;
      e.unchecked++;
      e.first_reason ??= v.reason;
      return this.#limit(`${key}|unchecked`, `note: ${head}: not checked: ${v.reason}`);
    }
    if (v.status === "not-a-library-call") {
      this.notLibrary++;
      e.not_library++;
      e.first_reason ??= v.reason;
      return this.#limit(`${key}|reason`, `note: ${head} ${v.op}: not a call libxendevicemodel makes: ${v.reason}`);
    }
    this.differing++;
    e.differing++;
    const lines: string[] = [];
    const level = this.strict ? "FAIL (EINVAL)" : "warning";
    for (const d of v.differences) {
      const k = `${d.kind}|${d.field}`;
      if (!e.firstKeys.has(k) && e.first_differences.length < FIRST_PER_OP) {
        e.firstKeys.add(k);
        e.first_differences.push(d);
      }
      lines.push(...this.#limit(`${key}|${k}`, `${level}: ${head} ${v.fn}: ${describeDifference(d)}`));
    }
    return lines;
  }

  #limit(key: string, line: string): string[] {
    const n = (this.#printed.get(key) ?? 0) + 1;
    this.#printed.set(key, n);
    if (n <= LINES_PER_KIND) return [line];
    if (n === LINES_PER_KIND + 1) return [`${line} (further ones like this are counted in the report, not shown)`];
    return [];
  }

  toJson(): ConformReportJson {
    const operations = [...this.#ops.values()].map(({ firstKeys: _k, ...o }) => o);
    operations.sort((a, b) => (a.fn ?? a.op).localeCompare(b.fn ?? b.op));
    return {
      conform: this.target, strict: this.strict, calls: this.calls, conforming: this.conforming,
      differing: this.differing, not_library: this.notLibrary, unchecked: this.unchecked, operations,
    };
  }

  format(): string {
    const j = this.toJson();
    const out = [`conformance to ${j.conform}${j.strict ? " (strict)" : ""}: ${j.calls} calls, ${j.conforming} conforming, ${j.differing} differing, ${j.not_library} not library calls${j.unchecked > 0 ? `, ${j.unchecked} unchecked` : ""}`];
    const width = Math.max(0, ...j.operations.map((o) => (o.fn ?? o.op).length));
    for (const o of j.operations) {
      out.push(`  ${(o.fn ?? o.op).padEnd(width)}  calls ${o.calls}, conforming ${o.conforming}, differing ${o.differing}${o.not_library > 0 ? `, not library calls ${o.not_library}` : ""}${o.unchecked > 0 ? `, unchecked ${o.unchecked}` : ""}`);
      for (const d of o.first_differences) out.push(`    ${d.kind}: ${describeDifference(d)}`);
      if (o.first_reason !== undefined) out.push(`    ${o.first_reason}`);
    }
    return out.join("\n") + "\n";
  }
}
