// Small helpers for the benchmarks: timing with medians, result files, markdown tables.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

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
  writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), node: process.version, ...(data as object) }, null, 2) + "\n");
}
