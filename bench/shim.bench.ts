// Calls per second from Debian's real libxendevicemodel through the LD_PRELOAD shim and the socket:
// `native/conformance loop N` (xendevicemodel_nr_vcpus N times, timed in C) against
//   - a minimal C server (native/rawclient stub: the ceiling of the shim + socket round trip),
//   - the xendm socket server in this process (fake hypervisor + privcmd checks),
// on the DM_OP ioctl path, the hypercall fallback, and with 4 threads on 4 handles.
//   npx tsx bench/shim.bench.ts [--quick]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFORMANCE, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer, startStub } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 2_000 : 10_000;
const RUNS = quick ? 3 : 5;
const GOAL = 50_000;
/**
 * This bench run at the commit before the hot-path work (04405d8), on the same machine just before the
 * "after" run: medians of calls/s and CPU µs per call.
 */
const BEFORE: Record<string, { calls_per_s: number; server_cpu_us_per_call: number | null; client_cpu_us_per_call: number }> = {
  "C stub server, ioctl path, 1 handle": { calls_per_s: 33275, server_cpu_us_per_call: null, client_cpu_us_per_call: 14.3 },
  "xendm server, ioctl path, 1 handle": { calls_per_s: 11434, server_cpu_us_per_call: 53.2, client_cpu_us_per_call: 26.5 },
  "xendm server, hypercall path, 1 handle": { calls_per_s: 10663, server_cpu_us_per_call: 66.0, client_cpu_us_per_call: 27.3 },
  "xendm server, ioctl path, 4 threads x 1 handle each": { calls_per_s: 13298, server_cpu_us_per_call: 49.3, client_cpu_us_per_call: 26.2 },
};

interface Case {
  name: string;
  server: "stub" | "xendm";
  args: (n: number) => string[];
  env?: Record<string, string>;
}

const CASES: Case[] = [
  { name: "C stub server, ioctl path, 1 handle", server: "stub", args: (n) => ["loop", String(n), String(DOM)] },
  { name: "xendm server, ioctl path, 1 handle", server: "xendm", args: (n) => ["loop", String(n), String(DOM)] },
  { name: "xendm server, hypercall path, 1 handle", server: "xendm", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_NO_DMOP: "1" } },
  { name: "xendm server, ioctl path, 4 threads x 1 handle each", server: "xendm", args: (n) => ["ploop", "4", String(n >> 2), String(DOM)] },
  { name: "C stub server, ioctl path, 1 handle, shim polls 200 us", server: "stub", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_SPIN_US: "200" } },
  { name: "xendm server, ioctl path, 1 handle, shim polls 200 us", server: "xendm", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_SPIN_US: "200" } },
];

interface Sample { callsPerSec: number; clientUs: number; serverUs: number | undefined }

async function once(c: Case, n: number, dir: string): Promise<Sample> {
  let stop: () => Promise<void>;
  let socket: string;
  if (c.server === "stub") {
    socket = join(dir, "stub.sock");
    const child = await startStub(socket);
    stop = () => new Promise<void>((resolve) => { child.removeAllListeners("exit"); child.once("exit", () => { resolve(); }); child.kill(); });
  } else {
    const srv = await startServer();
    socket = srv.path;
    stop = () => srv.close();
  }
  try {
    const cpu0 = process.cpuUsage();
    // the socket path, as before the fast path existed (bench/fastpath.bench.ts measures that one)
    const r = await run(CONFORMANCE, c.args(n), shimEnv(socket, { XENDM_SHIM_FASTPATH: "0", ...c.env }));
    const cpu = process.cpuUsage(cpu0);
    const line = jsonLines(r.stdout)[0];
    if (r.code !== 0 || line === undefined || line.failures !== 0) throw new Error(`${c.name}: ${r.stdout} ${r.stderr}`);
    const calls = Number(line.calls);
    return {
      callsPerSec: calls / (Number(line.ns) / 1e9),
      clientUs: Number(line.cpu_ns) / 1e3 / calls,
      // the xendm server runs in this process: its CPU time per call (plus this loop's, which is idle)
      serverUs: c.server === "xendm" ? (cpu.user + cpu.system) / calls : undefined,
    };
  } finally {
    await stop();
  }
}

async function main(): Promise<void> {
  const missing = nativeMissing();
  if (missing !== undefined) {
    process.stdout.write(`shim bench skipped: ${missing}\n`);
    return;
  }
  buildNative();
  const dir = mkdtempSync(join(tmpdir(), "xendm-shim-bench-"));
  const results: { name: string; calls_per_s: number; samples: number[]; client_cpu_us_per_call: number; server_cpu_us_per_call: number | null; before: (typeof BEFORE)[string] | null }[] = [];
  try {
    for (const c of CASES) {
      await once(c, Math.max(100, N >> 3), dir); // warm-up
      const runs: Sample[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await once(c, N, dir));
      const server = runs.map((x) => x.serverUs).filter((x): x is number => x !== undefined);
      results.push({
        name: c.name,
        calls_per_s: median(runs.map((x) => x.callsPerSec)),
        samples: runs.map((x) => x.callsPerSec),
        client_cpu_us_per_call: median(runs.map((x) => x.clientUs)),
        server_cpu_us_per_call: server.length > 0 ? median(server) : null,
        before: BEFORE[c.name] ?? null,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0]?.calls_per_s ?? 1;
  const rows = results.map((r) => [
    r.name, fmt(r.calls_per_s), r.before === null ? "-" : `${(r.calls_per_s / r.before.calls_per_s).toFixed(2)}x`,
    (r.calls_per_s / base).toFixed(2), (r.calls_per_s / GOAL).toFixed(2),
    `${r.client_cpu_us_per_call.toFixed(1)} (${r.before === null ? "-" : r.before.client_cpu_us_per_call.toFixed(1)})`,
    `${r.server_cpu_us_per_call === null ? "-" : r.server_cpu_us_per_call.toFixed(1)} (${r.before?.server_cpu_us_per_call == null ? "-" : r.before.server_cpu_us_per_call.toFixed(1)})`,
  ]);
  process.stdout.write(`calls per second, median of ${String(RUNS)} runs of ${String(N)} xendevicemodel_nr_vcpus calls\n\n`);
  process.stdout.write(table(["path", "calls/s", "vs before (04405d8)", "vs C stub", `vs goal ${fmt(GOAL, 0)}`, "client CPU µs/call (before)", "server CPU µs/call (before)"], rows) + "\n");
  writeResult("shim", { calls: N, runs: RUNS, goal_calls_per_s: GOAL, results });
}

await main();
