// Guest ioreq round trips per second through Debian's unmodified QEMU (16550 scratch-register reads
// at 0x3ff, each a sync ioreq answered by QEMU through the shim), in the same run as:
//   - the C example device model on the real libraries (native/example: port writes it answers);
//   - the floor: a 4-byte word over a socketpair and back between two C processes (native/pingpong).
// Also QEMU's start-to-running time against the fake (spawn to device-model state "running").
//   npx tsx bench/qemu.bench.ts [--quick]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { guestOf } from "../src/hypervisor/emulate.js";
import { QEMU_XEN_BINARY } from "../src/toolstack/argv.js";
import { DeviceModelError } from "../src/toolstack/errors.js";
import { GuestIo } from "../src/toolstack/guest-io.js";
import { defaultShimPath, launchQemu } from "../src/toolstack/qemu.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import { PrivcmdDevice } from "../src/privcmd/index.js";
import { launchUnderShim } from "../src/toolstack/launch.js";
import { BUILD } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 300 : 2000;
const RUNS = quick ? 3 : 5;
const STARTS = quick ? 3 : 5;
const GOAL = 0.5; // QEMU at least half the C example's rate
const DOM = 1;

const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}`;

async function timed(n: number, one: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await one();
  return (n / (performance.now() - t0)) * 1000;
}

/** Round trips per second over a socketpair between two C processes (native/pingpong). */
function pingpong(): number[] {
  const bin = join(BUILD, "pingpong");
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = spawnSync(bin, [String(N * 10)], { encoding: "utf8", timeout: 120_000 });
    // {"rounds", "seconds"} (older builds: {"round_trips", "ns"})
    const j = JSON.parse(res.stdout) as { rounds?: number; seconds?: number; round_trips?: number; ns?: number };
    const rounds = j.rounds ?? j.round_trips ?? NaN;
    const secs = j.seconds ?? (j.ns ?? NaN) / 1e9;
    if (!Number.isFinite(rounds / secs)) throw new Error(`pingpong printed ${res.stdout.trim()}`);
    out.push(rounds / secs);
  }
  return out;
}

/** Port writes per second answered by the C example device model (native/example). */
async function cExample(): Promise<number[] | string> {
  const bin = join(BUILD, "xendm-example-dm");
  if (!existsSync(bin)) return "native/build/xendm-example-dm not built";
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const hv = new Hypervisor({ format: 1, domains: [{ domid: DOM, vcpus: 1 }] });
    const dm = await launchUnderShim({ argv: [bin, "--domain", String(DOM)], device: new PrivcmdDevice(hv), hv, stdio: "capture" });
    try {
      const t0 = Date.now();
      while (!dm.stdout.includes(" ready ")) {
        if (!dm.running || Date.now() - t0 > 10_000) return `the C example did not start: ${dm.lastLines("stderr", 3).join(" / ") || "no ready line"}`;
        await new Promise((res) => setTimeout(res, 5));
      }
      const io = new GuestIo(guestOf(hv), DOM, { timeoutMs: 5000 });
      await io.pioWrite(0x100, 4, 0);
      let i = 0;
      out.push(await timed(N, () => io.pioWrite(0x100, 4, ++i)));
    } finally {
      await dm.close();
    }
  }
  return out;
}

async function qemuRates(): Promise<{ rates: number[]; startsMs: number[] } | string> {
  if (!existsSync(QEMU_XEN_BINARY)) return `${QEMU_XEN_BINARY} missing`;
  if (!existsSync(defaultShimPath())) return "the shim is not built";
  const startsMs: number[] = [];
  const rates: number[] = [];
  for (let r = 0; r < Math.max(RUNS, STARTS); r++) {
    let q;
    try {
      q = await launchQemu({ memoryMb: 64, vga: "none" });
    } catch (e) {
      if (e instanceof DeviceModelError) return `QEMU did not start: ${e.lastLines.join(" / ")}`;
      throw e;
    }
    try {
      startsMs.push(q.dm.startupMs);
      if (r < RUNS) {
        const io = new GuestIo(q.guest, q.domid, { timeoutMs: 5000 });
        await io.pioWrite(0x3ff, 1, 0x5a);
        rates.push(await timed(N, async () => {
          if ((await io.pioRead(0x3ff, 1)) !== 0x5a) throw new Error("the scratch register did not read back");
        }));
      }
    } finally {
      await q.stop();
    }
  }
  return { rates, startsMs };
}

const floor = pingpong();
const c = await cExample();
const qemu = await qemuRates();
const rows: (string | number)[][] = [["C <-> C socketpair round trip", fmt(median(floor)), spread(floor), "1"]];
const result: Record<string, unknown> = { n: N, runs: RUNS, socketpair_per_s: floor };
if (typeof c !== "string") {
  rows.push(["C example device model (native/example), port write", fmt(median(c)), spread(c), fmt(median(c) / median(floor), 3)]);
  result.c_example_per_s = c;
}
if (typeof qemu !== "string") {
  rows.push(["QEMU, 16550 scratch-register read", fmt(median(qemu.rates)), spread(qemu.rates), fmt(median(qemu.rates) / median(floor), 3)]);
  result.qemu_per_s = qemu.rates;
  result.qemu_start_ms = qemu.startsMs;
}
process.stdout.write(`${N} sequential guest accesses per run, ${RUNS} runs; medians and min..max\n\n`);
process.stdout.write(table(["round trip", "per s (median)", "spread", "vs socketpair"], rows));
if (typeof qemu !== "string") {
  process.stdout.write(`\nQEMU start to running (spawn, QMP, cont, state=running): median ${fmt(median(qemu.startsMs))} ms over ${qemu.startsMs.length} starts (${spread(qemu.startsMs)})\n`);
  if (typeof c !== "string") {
    const ratio = median(qemu.rates) / median(c);
    result.qemu_vs_c_example = ratio;
    process.stdout.write(`QEMU / C example: ${fmt(ratio, 2)} (goal at least ${GOAL})\n`);
  }
} else process.stdout.write(`\nQEMU not measured: ${qemu}\n`);
if (typeof c === "string") process.stdout.write(`C example not measured: ${c}\n`);
writeResult("qemu", result);
