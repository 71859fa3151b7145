// The cost of `--conform` per call: is the check cheap enough to leave on?
//   1. in process: the server's execution of the real library's captured DM_OP / HYPERCALL requests
//      (Connection.execute: privcmd checks + fake Xen), without and with the conformance observer;
//   2. end to end: Debian's real libxendevicemodel (`native/conformance loop N`, nr_vcpus N times, timed
//      in C) through the LD_PRELOAD shim against a minimal C server (the baseline), `xendm serve`'s
//      server, and the same server with --conform, in the same run.
//   npx tsx bench/conform.bench.ts [--quick]
import { ConformReport, Conformance, conformObserver, type SentCall } from "../src/conform/index.js";
import { Connection } from "../src/transport/connection.js";
import { createFakeHost } from "../src/transport/fake.js";
import { Kind, type DmOpRequest, type HypercallRequest } from "../src/transport/protocol.js";
import { XendmServer } from "../src/transport/server.js";
import { CONFORMANCE, DOM, RAWCLIENT, WORLD, buildNative, jsonLines, nativeMissing, run, shimEnv } from "../test/native/harness.js";
import { capturedCalls } from "../test/conform/fixture.js";
import { fmt, median, table, writeResult } from "./lib.js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 3 : 5;
const N_INPROC = quick ? 20_000 : 100_000;
const N_E2E = quick ? 2_000 : 10_000;

function requestOf(c: SentCall): DmOpRequest | HypercallRequest {
  const bufs = c.bufs.map((b) => ({ size: b.size, flags: b.unreadable ? 1 : 0, ...(b.bytes !== undefined ? { bytes: b.bytes.slice() } : {}) }));
  if (c.path === "ioctl") return { kind: Kind.DM_OP, dom: c.dom, num: c.num, bufs };
  return { kind: Kind.HYPERCALL, op: 41n, args: [...(c.args ?? [])], bufs };
}

/** CPU ns per call of `fn`, run n times in batches of 64 with the microtasks drained between (as a server's event loop does). */
async function cpuNsPerCall(fn: (i: number) => void, n: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n;) {
    for (const end = Math.min(n, i + 64); i < end; i++) fn(i);
    await Promise.resolve();
  }
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / n;
}

async function inProcess(): Promise<{ plain: number[]; conform: number[]; check: number[] }> {
  const calls = capturedCalls().map((c) => c.call);
  const reqs = calls.map(requestOf);
  // The fake writes OUT fields into the request's buffers: each run starts from the captured bytes.
  const orig = reqs.map((r) => r.bufs.map((b) => b.bytes?.slice()));
  const fresh = (i: number): DmOpRequest | HypercallRequest => {
    const k = i % reqs.length, r = reqs[k]!;
    for (let j = 0; j < r.bufs.length; j++) { const o = orig[k]![j]; if (o !== undefined) r.bufs[j]!.bytes!.set(o); }
    return r;
  };
  const check = await Conformance.create();
  const make = (): Connection => new Connection(1, createFakeHost(WORLD).device);
  const out = { plain: [] as number[], conform: [] as number[], check: [] as number[] };
  const plain = make(), observed = make();
  const report = new ConformReport("libxendevicemodel-4.17", false);
  observed.observer = conformObserver({ check, report });
  await cpuNsPerCall((i) => { plain.execute(fresh(i), i); observed.execute(fresh(i), i); }, N_INPROC >> 2); // warm-up
  // alternate the three so that drift on a shared machine hits them alike
  for (let r = 0; r < RUNS; r++) {
    out.plain.push(await cpuNsPerCall((i) => { plain.execute(fresh(i), i); }, N_INPROC));
    out.conform.push(await cpuNsPerCall((i) => { observed.execute(fresh(i), i); }, N_INPROC));
    out.check.push(await cpuNsPerCall((i) => { check.check(calls[i % calls.length]!); }, N_INPROC));
  }
  if (report.differing !== 0 || report.conforming !== report.calls) throw new Error(`the captured calls did not all conform: ${JSON.stringify(report.toJson())}`);
  return out;
}

async function endToEnd(dir: string, server: "stub" | "plain" | "conform"): Promise<number> {
  const sock = join(dir, `${server}-${String(Math.random()).slice(2, 8)}.sock`);
  let stop: () => Promise<void>;
  if (server === "stub") {
    const child = spawn(RAWCLIENT, ["stub", sock], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => { child.stdout.once("data", () => { resolve(); }); child.once("error", reject); });
    stop = () => new Promise<void>((resolve) => { child.once("exit", () => { resolve(); }); child.kill(); });
  } else {
    const { device } = createFakeHost(WORLD);
    const observer = server === "conform"
      ? conformObserver({ check: await Conformance.create(), report: new ConformReport("libxendevicemodel-4.17", false) })
      : undefined;
    const srv = new XendmServer(observer !== undefined ? { device, observer } : { device });
    await srv.listen(sock);
    stop = () => srv.close();
  }
  try {
    const r = await run(CONFORMANCE, ["loop", String(N_E2E), String(DOM)], shimEnv(sock));
    const line = jsonLines(r.stdout)[0];
    if (r.code !== 0 || line === undefined || line.failures !== 0) throw new Error(`${server}: ${r.stdout} ${r.stderr}`);
    return Number(line.calls) / (Number(line.ns) / 1e9);
  } finally {
    await stop();
  }
}

function spread(xs: readonly number[]): string {
  return `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;
}

async function main(): Promise<void> {
  const ip = await inProcess();
  const plain = median(ip.plain), conform = median(ip.conform), chk = median(ip.check);
  process.stdout.write(`in process: Connection.execute of the ${String(capturedCalls().length)} captured library requests, round robin; CPU ns per call, median of ${String(RUNS)} x ${String(N_INPROC)}\n\n`);
  process.stdout.write(table(["", "CPU ns/call", "range", "vs plain"], [
    ["plain server path", plain.toFixed(0), `${Math.min(...ip.plain).toFixed(0)}-${Math.max(...ip.plain).toFixed(0)}`, "1.00"],
    ["with --conform", conform.toFixed(0), `${Math.min(...ip.conform).toFixed(0)}-${Math.max(...ip.conform).toFixed(0)}`, (conform / plain).toFixed(2)],
    ["the check alone (Conformance.check)", chk.toFixed(0), `${Math.min(...ip.check).toFixed(0)}-${Math.max(...ip.check).toFixed(0)}`, (chk / plain).toFixed(2)],
  ]) + "\n\n");

  const missing = nativeMissing();
  const results: Record<string, unknown> = { in_process_ns_per_call: { plain, conform, check: chk, samples: ip } };
  if (missing !== undefined) {
    process.stdout.write(`end-to-end part skipped: ${missing}\n`);
  } else {
    buildNative();
    const dir = mkdtempSync(join(tmpdir(), "xendm-conform-bench-"));
    const e2e: Record<"stub" | "plain" | "conform", number[]> = { stub: [], plain: [], conform: [] };
    try {
      for (const s of ["stub", "plain", "conform"] as const) await endToEnd(dir, s); // warm-up
      for (let r = 0; r < RUNS; r++) for (const s of ["stub", "plain", "conform"] as const) e2e[s].push(await endToEnd(dir, s));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const m = { stub: median(e2e.stub), plain: median(e2e.plain), conform: median(e2e.conform) };
    process.stdout.write(`end to end: real libxendevicemodel nr_vcpus through the shim, calls/s, median of ${String(RUNS)} x ${String(N_E2E)}\n\n`);
    process.stdout.write(table(["server", "calls/s", "range", "vs C stub", "vs plain xendm"], [
      ["C stub (native/rawclient stub)", fmt(m.stub), spread(e2e.stub), "1.00", (m.stub / m.plain).toFixed(2)],
      ["xendm server", fmt(m.plain), spread(e2e.plain), (m.plain / m.stub).toFixed(2), "1.00"],
      ["xendm server --conform", fmt(m.conform), spread(e2e.conform), (m.conform / m.stub).toFixed(2), (m.conform / m.plain).toFixed(2)],
    ]) + "\n");
    results.end_to_end_calls_per_s = { ...m, samples: e2e };
  }
  writeResult("conform", { runs: RUNS, ...results });
}

await main();
