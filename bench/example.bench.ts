// ioreq round trips per second with a real device model: a guest PIO write in the fake → the record in
// the shared ioreq page → the event channel → the C example (native/example, under the shim) → its
// response → its notify → the vCPU completes. Beside it, in the same run and in alternation, the C-to-C
// baseline: two processes on a socketpair, one message each way (native/pingpong: the same two wake-ups).
//   npx tsx bench/example.bench.ts [--quick]
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { guestOf, type AccessResult } from "../src/hypervisor/emulate.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import { PrivcmdDevice } from "../src/privcmd/index.js";
import { launchUnderShim, withTimeout, type LaunchedProgram } from "../src/toolstack/launch.js";
import { BUILD, buildNative, nativeMissing } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 1_000 : 5_000;
const RUNS = quick ? 3 : 5;
const GOAL_RATIO = 0.5;
const DOM = 1;
const PORT = 0x100;
const EXAMPLE = join(BUILD, "xendm-example-dm");
const PINGPONG = join(BUILD, "pingpong");

function pingpong(n: number): number {
  const out = execFileSync(PINGPONG, [String(n)], { encoding: "utf8" });
  const r = JSON.parse(out) as { rounds: number; seconds: number };
  return r.rounds / r.seconds;
}

interface Example {
  hv: Hypervisor;
  dm: LaunchedProgram;
}

/** The example serving domain 1, ready (its ready line printed); or why it could not start. */
async function startExample(): Promise<Example | string> {
  const hv = new Hypervisor({ format: 1, domains: [{ domid: DOM, vcpus: 1 }] });
  const dm = await launchUnderShim({ argv: [EXAMPLE, "--domain", String(DOM)], device: new PrivcmdDevice(hv), hv, stdio: "capture" });
  const t0 = Date.now();
  while (!dm.stdout.includes(" ready ")) {
    if (!dm.running || Date.now() - t0 > 10_000) {
      const why = dm.lastLines("stderr", 3).join(" / ") || "no ready line within 10 s";
      await dm.close();
      return why;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { hv, dm };
}

/** `n` sequential guest PIO writes, each awaited until the device model's answer completes it. */
async function roundTrips(ex: Example, n: number): Promise<number> {
  const g = guestOf(ex.hv);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    let resolve: ((r: AccessResult) => void) | undefined;
    const p = new Promise<AccessResult>((res) => { resolve = res; });
    const first = g.pio(DOM, 0, { port: PORT, size: 4, dir: "write", data: i }, (r) => resolve?.(r));
    if (first.status !== "pending") throw new Error(`access ${i}: ${first.status} (expected to wait for the device model)`);
    const r = await withTimeout(p, 5000);
    if (r === undefined) throw new Error(`access ${i}: no answer within 5 s`);
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function main(): Promise<void> {
  const missing = nativeMissing();
  if (missing !== undefined) {
    process.stdout.write(`example bench skipped: ${missing}\n`);
    return;
  }
  buildNative();
  const ex = await startExample();
  const c: number[] = [];
  const x: number[] = [];
  pingpong(Math.max(100, N >> 3)); // warm-up
  if (typeof ex !== "string") await roundTrips(ex, Math.max(100, N >> 3));
  try {
    for (let i = 0; i < RUNS; i++) {
      c.push(pingpong(N));
      if (typeof ex !== "string") x.push(await roundTrips(ex, N));
    }
  } finally {
    if (typeof ex !== "string") await ex.dm.close();
  }
  const spread = (s: number[]): string => (s.length === 0 ? "-" : `${fmt(Math.min(...s))}–${fmt(Math.max(...s))}`);
  const cMed = median(c);
  const rows: (string | number)[][] = [["C ↔ C, socketpair (native/pingpong)", fmt(cMed), spread(c), "1.00"]];
  if (typeof ex === "string") rows.push(["fake → C example → fake", `unavailable: ${ex}`, "-", "-"]);
  else rows.push(["fake → C example → fake (xendm)", fmt(median(x)), spread(x), (median(x) / cMed).toFixed(2)]);
  process.stdout.write(`ioreq round trips per second, median (and range) of ${String(RUNS)} alternating runs of ${String(N)}; goal: xendm at least ${String(GOAL_RATIO)} of C ↔ C\n\n`);
  process.stdout.write(table(["path", "round trips/s", "range", "vs C ↔ C"], rows) + "\n");
  writeResult("example", {
    round_trips: N, runs: RUNS, goal_ratio: GOAL_RATIO,
    c_to_c: { median: cMed, samples: c },
    xendm: typeof ex === "string" ? { unavailable: ex } : { median: median(x), samples: x, ratio: median(x) / cMed },
  });
}

await main();
