// Small helpers for the benchmarks: timing with medians, result files, markdown tables.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The committed figures: written only on purpose (`npm run bench -- --save`). */
export const COMMITTED_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

/**
 * Where a run writes its results: bench/out/ (ignored by git) unless XENDM_BENCH_OUT names another
 * directory; `npm run bench -- --save` sets it to bench/results/ to update the committed figures.
 */
export const RESULTS_DIR = process.env.XENDM_BENCH_OUT ?? join(dirname(fileURLToPath(import.meta.url)), "out");

/** The p-th percentile (nearest rank) of the samples. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Spread {
  min: number;
  median: number;
  p90: number;
  runs: number;
}

/** min / median / p90 of the samples of one figure. */
export function spread(xs: readonly number[]): Spread {
  return { min: Math.min(...xs), median: median(xs), p90: percentile(xs, 90), runs: xs.length };
}

/** `min / median / p90` for a table cell. */
export function spreadText(xs: readonly number[], f: (n: number) => string = (n) => fmt(n)): string {
  const s = spread(xs);
  return `${f(s.min)} / ${f(s.median)} / ${f(s.p90)}`;
}

/**
 * Keeps values a micro-benchmark computes observable, so the JIT cannot drop the work as dead code:
 * every call folds its argument into a running value that is written into the result file.
 */
let blackhole = 0;
export function consume(x: number | bigint | object | string | undefined): void {
  blackhole = (blackhole + (typeof x === "number" ? x : typeof x === "bigint" ? Number(x & 0xffffn) : typeof x === "string" ? x.length : x === undefined ? 0 : 1)) | 0;
}
export const blackholeValue = (): number => blackhole;

/** Adds min / median / p90 beside every `samples` array of a result (every figure gets its spread). */
function withSpread(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withSpread);
  if (typeof v !== "object" || v === null) return v;
  const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withSpread(x)]));
  const samples = (v as { samples?: unknown }).samples;
  if (Array.isArray(samples) && samples.length > 0 && samples.every((x) => typeof x === "number")) {
    const sp = spread(samples);
    o.spread = { min: sp.min, median: sp.median, p90: sp.p90 };
  }
  return o;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn(n)` (which performs n operations) `runs` times, after a warm-up unless told not to; returns the median ns/op. */
export function nsPerOp(fn: (n: number) => void, n: number, runs = 5, warmUp = true): { median: number; samples: number[] } {
  if (warmUp) fn(Math.max(1, n >> 3));
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / n);
  }
  return { median: median(samples), samples };
}

export function opsPerSec(nsOp: number): number {
  return 1e9 / nsOp;
}

export function fmt(n: number, digits = 1): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(digits)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(digits)}k`;
  return n.toFixed(digits);
}

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.map(String).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function writeResult(name: string, data: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  const body = withSpread({ name, date: new Date().toISOString(), node: process.version, ...(data as object), blackhole: blackholeValue() });
  writeFileSync(file, JSON.stringify(body, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x), 2) + "\n");
}
