// ioreq round trips per second with a real device model: a guest PIO write in the fake → the record in
// the shared ioreq page → the event channel → the C example (native/example, under the shim) → its
// response → its notify → the vCPU completes. Beside it, in the same run and in alternation, the C-to-C
// baseline: two processes on a socketpair, one message each way (native/pingpong: the same two wake-ups).
//   npx tsx bench/example.bench.ts [--quick]
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ioreqRoundTrips, startExampleDm } from "./example-dm.js";
import { BUILD, buildNative, nativeMissing } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 1_000 : 2_000;
const RUNS = quick ? 3 : 11;
const GOAL_RATIO = 0.5;
const PINGPONG = join(BUILD, "pingpong");

function pingpong(n: number): number {
  const out = execFileSync(PINGPONG, [String(n)], { encoding: "utf8" });
  const r = JSON.parse(out) as { rounds: number; seconds: number };
  return r.rounds / r.seconds;
}

/** The device model's configurations measured: as started, and with the shim polling for replies. */
const CONFIGS: { name: string; env: Record<string, string> }[] = [
  { name: "fake → C example → fake (xendm)", env: {} },
  { name: "the same, the example's shim polls 200 µs for replies (XENDM_SHIM_SPIN_US=200)", env: { XENDM_SHIM_SPIN_US: "200" } },
];

async function main(): Promise<void> {
  const missing = nativeMissing();
  if (missing !== undefined) {
    process.stdout.write(`example bench skipped: ${missing}\n`);
    return;
  }
  buildNative();
  const started = await Promise.all(CONFIGS.map((cfg) => startExampleDm(cfg.env)));
  const c: number[] = [];
  const x: number[][] = CONFIGS.map(() => []);
  pingpong(Math.max(100, N >> 3)); // warm-up
  for (const ex of started) if (typeof ex !== "string") await ioreqRoundTrips(ex, Math.max(100, N >> 3));
  try {
    for (let i = 0; i < RUNS; i++) {
      c.push(pingpong(N));
      for (const [k, ex] of started.entries()) if (typeof ex !== "string") x[k]!.push(await ioreqRoundTrips(ex, N));
    }
  } finally {
    for (const ex of started) if (typeof ex !== "string") await ex.dm.close();
  }
  const spread = (s: number[]): string => (s.length === 0 ? "-" : `${fmt(Math.min(...s))}–${fmt(Math.max(...s))}`);
  const cMed = median(c);
  const rows: (string | number)[][] = [["C ↔ C, socketpair (native/pingpong)", fmt(cMed), spread(c), "1.00"]];
  const out: Record<string, unknown>[] = [];
  for (const [k, cfg] of CONFIGS.entries()) {
    const ex = started[k]!;
    if (typeof ex === "string") {
      rows.push([cfg.name, `unavailable: ${ex}`, "-", "-"]);
      out.push({ name: cfg.name, unavailable: ex });
    } else {
      const m = median(x[k]!);
      // each xendm run against the C run just before it: the machine's load changes less within a pair
      const ratios = x[k]!.map((v, i) => v / c[i]!);
      const r = median(ratios);
      rows.push([cfg.name, fmt(m), spread(x[k]!), `${r.toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`]);
      out.push({ name: cfg.name, env: cfg.env, median: m, samples: x[k], ratio: r, pair_ratios: ratios });
    }
  }
  process.stdout.write(`ioreq round trips per second, median (and range) of ${String(RUNS)} alternating runs of ${String(N)}; the ratio is the median (and range) of each run over the C run just before it; goal: xendm at least ${String(GOAL_RATIO)} of C ↔ C\n\n`);
  process.stdout.write(table(["path", "round trips/s", "range", "vs C ↔ C, per pair"], rows) + "\n");
  writeResult("example", { round_trips: N, runs: RUNS, goal_ratio: GOAL_RATIO, c_to_c: { median: cMed, samples: c }, xendm: out });
}

await main();
