// Ioreq round trips out of process: a guest port read in the fake (this process) -> the record in the
// shared ioreq page -> the event channel -> a C device model on Debian's libraries under the shim
// (native/ioreqclient) -> its answer in the page -> its notify -> the vCPU completes; the next read is
// issued at once. Compared with a C-to-C round trip over a socketpair measured in the same run
// (native/pingpong: the same two sleeps and wake-ups).
//   npx tsx bench/ioreq-oop.bench.ts [--quick]
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { guestOf } from "../src/hypervisor/emulate.js";
import { BUILD, DOM, buildNative, nativeMissing, shimEnv, startServer } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 2_000 : 10_000;
const RUNS = quick ? 3 : 5;

function cBaseline(n: number): number {
  const out = JSON.parse(execFileSync(join(BUILD, "pingpong"), [String(n)], { encoding: "utf8" })) as { rounds: number; seconds: number };
  return out.rounds / out.seconds;
}

async function xendm(n: number): Promise<number> {
  const srv = await startServer({ format: 1, domains: [{ domid: DOM, type: "hvm", vcpus: 1 }] });
  try {
    const child = spawn(join(BUILD, "ioreqclient"), [String(DOM), String(n)], { env: { ...process.env, ...shimEnv(srv.path) }, stdio: ["ignore", "pipe", "inherit"] });
    const exit = new Promise<number | null>((resolve) => child.on("close", resolve));
    await new Promise<void>((resolve) => {
      let buf = "";
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes("\"ready\":true")) resolve();
      });
    });
    const g = guestOf(srv.hv);
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      const next = (): void => {
        const r = g.pio(DOM, 0, { port: 0x100, size: 4, dir: "read" }, () => {
          if (++done === n) resolve();
          else setImmediate(next);
        });
        if (r.status !== "pending") reject(new Error(`access not sent to the device model: ${r.status}`));
      };
      next();
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if ((await exit) !== 0) throw new Error("ioreqclient failed");
    return n / secs;
  } finally {
    await srv.close();
  }
}

const missing = nativeMissing();
if (missing !== undefined) {
  process.stdout.write(`skipped: ${missing}\n`);
} else {
  buildNative();
  const c: number[] = [];
  const x: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    // alternated, so that both see the same machine load
    c.push(cBaseline(N));
    x.push(await xendm(N));
  }
  const mc = median(c), mx = median(x);
  const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  process.stdout.write(table(["path", "round trips/s (median)", "range", "ratio to C↔C"], [
    ["C ↔ C over a socketpair (baseline)", fmt(mc), spread(c), "1.00"],
    ["fake → shared page + evtchn → C device model → notify → vCPU completes", fmt(mx), spread(x), (mx / mc).toFixed(2)],
  ]) + `\n\n${RUNS} runs of ${N} round trips each, alternated.\n`);
  writeResult("ioreq-oop", { rounds: N, runs: RUNS, c_rounds_per_s: c, xendm_rounds_per_s: x, ratio: mx / mc });
}
