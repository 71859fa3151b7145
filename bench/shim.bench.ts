// Calls per second from Debian's real libxendevicemodel through the LD_PRELOAD shim and the socket:
// `native/conformance loop N` (xendevicemodel_nr_vcpus N times, timed in C) against
//   - a minimal C server (native/rawclient stub: the ceiling of the shim + socket round trip),
//   - the xendm socket server in this process (fake hypervisor + privcmd checks),
// on the DM_OP ioctl path, the hypercall fallback, and with 4 threads on 4 handles.
//   npx tsx bench/shim.bench.ts [--quick]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFORMANCE, DOM, RAWCLIENT, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer } from "../test/native/harness.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 2_000 : 10_000;
const RUNS = quick ? 3 : 5;
const GOAL = 50_000;

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
];

async function startStub(path: string): Promise<ChildProcess> {
  const child = spawn(RAWCLIENT, ["stub", path], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => { resolve(); });
    child.once("error", reject);
    child.once("exit", (code) => { reject(new Error(`stub server exited ${String(code)}`)); });
  });
  return child;
}

async function once(c: Case, n: number, dir: string): Promise<number> {
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
    const r = await run(CONFORMANCE, c.args(n), shimEnv(socket, c.env));
    const line = jsonLines(r.stdout)[0];
    if (r.code !== 0 || line === undefined || line.failures !== 0) throw new Error(`${c.name}: ${r.stdout} ${r.stderr}`);
    return Number(line.calls) / (Number(line.ns) / 1e9);
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
  const results: { name: string; calls_per_s: number; samples: number[] }[] = [];
  try {
    for (const c of CASES) {
      await once(c, Math.max(100, N >> 3), dir); // warm-up
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(await once(c, N, dir));
      results.push({ name: c.name, calls_per_s: median(samples), samples });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0]?.calls_per_s ?? 1;
  const rows = results.map((r) => [r.name, fmt(r.calls_per_s), (r.calls_per_s / base).toFixed(2), (r.calls_per_s / GOAL).toFixed(2)]);
  process.stdout.write(`calls per second, median of ${String(RUNS)} runs of ${String(N)} xendevicemodel_nr_vcpus calls\n\n`);
  process.stdout.write(table(["path", "calls/s", "vs C stub", `vs goal ${fmt(GOAL, 0)}`], rows) + "\n");
  writeResult("shim", { calls: N, runs: RUNS, goal_calls_per_s: GOAL, results });
}

await main();
