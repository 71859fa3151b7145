// Fairness under long calls: a C device model (Debian's libxendevicemodel through the LD_PRELOAD shim,
// `native/conformance loop N`: xendevicemodel_nr_vcpus N times, timed in C) against the xendm socket
// server in this process, while another connection keeps the server busy with preempted
// relocate_memory calls (world preempt "always": one continuation per page), with the server's slices
// (1 ms) and without them (callSliceMs Infinity: the whole call at once, as before slicing). Baselines
// in the same run: the C stub server (native/rawclient stub, the shim + socket ceiling) and the idle
// xendm server. Also: the long call's own time over the socket in slices vs run synchronously here.
//   npx tsx bench/long-call.bench.ts [--quick]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CONFORMANCE, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startStub } from "../test/native/harness.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../src/hypervisor/world.js";
import { createFakeHost, worldForDomains } from "../src/transport/fake.js";
import { XendmServer } from "../src/transport/server.js";
import { SocketTransport } from "../src/transport/socket.js";
import { fmt, median, spread, spreadText, table, writeResult, type Spread } from "./lib.js";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 3 : 5;
const PAGES = 0x1000;
const WORLD: WorldConfig = { ...worldForDomains([DOM]), preempt: "always" };

interface Case {
  name: string;
  server: "stub" | "xendm";
  /** Another connection runs relocations back to back meanwhile. */
  busy: boolean;
  sliceMs?: number;
  calls: number;
}

const CASES: Case[] = [
  { name: "C stub server, idle", server: "stub", busy: false, calls: quick ? 2_000 : 10_000 },
  { name: "xendm server, idle", server: "xendm", busy: false, calls: quick ? 2_000 : 10_000 },
  { name: "xendm server, long calls on another connection, 1 ms slices", server: "xendm", busy: true, calls: quick ? 300 : 2_000 },
  { name: "xendm server, long calls on another connection, unsliced", server: "xendm", busy: true, sliceMs: Infinity, calls: quick ? 20 : 100 },
];

function relocation(src: bigint, dst: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 17, true); // XEN_DMOP_relocate_memory
  dv.setUint32(8, PAGES, true);
  dv.setBigUint64(16, src, true);
  dv.setBigUint64(24, dst, true);
  return b;
}
const THERE = (): Uint8Array => relocation(0x100n, 0x20000n);
const BACK = (): Uint8Array => relocation(0x20000n, 0x100n);

interface Sample { callsPerSec: number; longMs: number[] }

/** Relocations there and back on their own connection until `stop()`; each one's time in ms. */
async function longCalls(path: string, stop: () => boolean): Promise<number[]> {
  const t = await SocketTransport.connect(path);
  const times: number[] = [];
  let there = true;
  try {
    while (!stop()) {
      const t0 = performance.now();
      const r = await t.dmOp(DOM, [{ bytes: there ? THERE() : BACK() }]);
      if (r.ret !== 0) throw new Error(`relocate_memory: ${r.ret}/${String(r.errno)}`);
      times.push(performance.now() - t0);
      there = !there;
    }
  } finally {
    await t.close();
  }
  return times;
}

async function once(c: Case, dir: string): Promise<Sample> {
  const path = join(dir, `${c.server}.sock`);
  let stop: () => Promise<void>;
  if (c.server === "stub") {
    const child = await startStub(path);
    stop = () => new Promise<void>((resolve) => { child.removeAllListeners("exit"); child.once("exit", () => { resolve(); }); child.kill(); });
  } else {
    const { hv, device } = createFakeHost(WORLD);
    const server = new XendmServer({ hv, device, sharedMemory: false, ...(c.sliceMs !== undefined ? { callSliceMs: c.sliceMs } : {}) });
    await server.listen(path);
    stop = () => server.close();
  }
  try {
    let done = false;
    const busy = c.busy ? longCalls(path, () => done) : Promise.resolve([]);
    if (c.busy) await new Promise((r) => setTimeout(r, 20)); // the first relocation under way
    const r = await run(CONFORMANCE, ["loop", String(c.calls), String(DOM)], shimEnv(path, { XENDM_SHIM_FASTPATH: "0" }));
    done = true;
    const longMs = await busy;
    const line = jsonLines(r.stdout)[0];
    if (r.code !== 0 || line === undefined || line.failures !== 0) throw new Error(`${c.name}: ${r.stdout} ${r.stderr}`);
    return { callsPerSec: Number(line.calls) / (Number(line.ns) / 1e9), longMs };
  } finally {
    await stop();
  }
}

/** The same relocation run synchronously in this process (no server): ms per call. */
function syncRelocationMs(): number[] {
  const hv = new Hypervisor(WORLD);
  const out: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    if (hv.dm_op(0, DOM, [{ bytes: i % 2 === 0 ? THERE() : BACK() }]) !== 0) throw new Error("relocate_memory failed");
    out.push(performance.now() - t0);
  }
  return out.slice(10); // after the JIT warmed up
}

async function main(): Promise<void> {
  const missing = nativeMissing();
  if (missing !== undefined) {
    process.stdout.write(`long-call bench skipped: ${missing}\n`);
    return;
  }
  buildNative();
  const dir = mkdtempSync(join(tmpdir(), "xendm-long-bench-"));
  const results: { name: string; calls_per_s: number; samples: number[]; long_call_ms: number[] }[] = [];
  const summary = (xs: number[]): Spread | null => (xs.length === 0 ? null : spread(xs));
  try {
    for (const c of CASES) {
      await once({ ...c, calls: Math.max(10, c.calls >> 3) }, dir); // warm-up
      const runs: Sample[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await once(c, dir));
      results.push({ name: c.name, calls_per_s: median(runs.map((x) => x.callsPerSec)), samples: runs.map((x) => x.callsPerSec), long_call_ms: runs.flatMap((x) => x.longMs) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sync = syncRelocationMs();
  const stub = results[0]!.calls_per_s;
  const idle = results[1]!.calls_per_s;
  const rows = results.map((r) => [
    r.name, fmt(r.calls_per_s), spreadText(r.samples), (r.calls_per_s / stub).toFixed(3), (r.calls_per_s / idle).toFixed(3),
    r.long_call_ms.length === 0 ? "-" : `${median(r.long_call_ms).toFixed(1)} (${(median(r.long_call_ms) / median(sync)).toFixed(2)}x)`,
  ]);
  process.stdout.write(`C client xendevicemodel_nr_vcpus calls per second (median of ${String(RUNS)} runs; spread min / median / p90); `
    + `the other connection's relocate_memory of ${String(PAGES)} pages, preempt "always"\n\n`);
  process.stdout.write(table(["server", "C calls/s", "spread", "vs C stub", "vs idle xendm", "long call ms (vs in-process sync)"], rows) + "\n");
  process.stdout.write(`\nthe relocation run synchronously in this process: ${median(sync).toFixed(1)} ms (median of ${String(sync.length)})\n`);
  writeResult("long-call", {
    pages: PAGES, runs: RUNS, sync_relocation_ms: spread(sync),
    results: results.map((r) => ({ name: r.name, calls_per_s: r.calls_per_s, samples: r.samples, long_call_ms: summary(r.long_call_ms) })),
  });
}

await main();
