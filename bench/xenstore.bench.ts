// The xenstored's speed.
//  1. READ/WRITE round trips per second from Debian's libxenstore (native/xsbench, timed in C) against
//     the server in this process, beside the C<->C baseline measured in the same run: a forked C server
//     answering the same xsd_sockmsg frames over a Unix socket pair (xsbench pingpong). Goal: >= 50%.
//  2. A tree of 100k nodes built through the core's request path: memory per node, DIRECTORY and
//     DIRECTORY_PART times.
//   npx tsx bench/xenstore.bench.ts [--quick] [--tree-only]
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { XS_DIRECTORY, XS_DIRECTORY_PART, XS_READ, XS_WRITE } from "../abi/xen/xs_wire.js";
import { XenstoreCore } from "../src/xenstore/core.js";
import { XenstoredServer } from "../src/xenstore/server.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 5_000 : 20_000;
const RUNS = quick ? 3 : 5;
const TREE = quick ? 20_000 : 100_000;
const ROOT = join(import.meta.dirname, "..");
const XSBENCH = join(ROOT, "native", "build", "xsbench");

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function xsbench(args: string[]): Promise<{ what: string; n: number; seconds: number }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(XSBENCH, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { out += s; });
    const t = setTimeout(() => { child.kill(); reject(new Error("xsbench timed out")); }, 120_000);
    child.on("exit", (code) => {
      clearTimeout(t);
      if (code !== 0) reject(new Error(`xsbench ${args.join(" ")} exited ${String(code)}`));
      else resolve(out.trim().split("\n").map((l) => JSON.parse(l) as { what: string; n: number; seconds: number }));
    });
  });
}

const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

async function roundTrips(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-xs-bench-"));
  const server = new XenstoredServer();
  const sock = join(dir, "xs.sock");
  await server.listen(sock);
  const rates: Record<string, number[]> = { pingpong: [], xs_read: [], xs_write: [] };
  const cpu: number[] = [];
  try {
    await xsbench(["xs", sock, String(N >> 3)]); // warm-up
    for (let r = 0; r < RUNS; r++) {
      // alternate the baseline and the server, so both see the same machine
      for (const l of await xsbench(["pingpong", String(N)])) rates[l.what]!.push(l.n / l.seconds);
      const c0 = process.cpuUsage();
      for (const l of await xsbench(["xs", sock, String(N)])) rates[l.what]!.push(l.n / l.seconds);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / (2 * N));
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(rates.pingpong!);
  const rows = ["pingpong", "xs_read", "xs_write"].map((k) => {
    const m = median(rates[k]!);
    return [k === "pingpong" ? "C<->C socket round trip (baseline)" : `libxenstore ${k} -> xendm xenstored`, fmt(m), spread(rates[k]!), (m / base).toFixed(2)];
  });
  process.stdout.write(`${table(["round trip", "per s (median)", `spread over ${RUNS} runs`, "ratio to C<->C"], rows)}\n`);
  process.stdout.write(`server CPU per request (median): ${median(cpu).toFixed(1)} µs\n\n`);
  return {
    n: N, runs: RUNS, rates, server_cpu_us_per_request: median(cpu),
    ratio_read: median(rates.xs_read!) / base, ratio_write: median(rates.xs_write!) / base,
  };
}

function z(...a: string[]): Buffer {
  return Buffer.from(a.map((s) => `${s}\0`).join(""), "latin1");
}

function bigTree(): Record<string, unknown> {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const core = new XenstoreCore();
  let last: Buffer = Buffer.alloc(0);
  const conn = core.connect(0, { reply: (_t, _r, _x, p) => { last = p; }, event: () => undefined, close: () => undefined });
  // TREE/100 directories of 100 nodes, and one directory with TREE/10 children (its list is far over
  // XENSTORE_PAYLOAD_MAX: DIRECTORY is E2BIG there, DIRECTORY_PART pages it)
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const per = 100;
  for (let i = 0; i < TREE; i++) {
    const path = `/bench/d${Math.floor(i / per)}/node-${i % per}`;
    core.process(conn, XS_WRITE, 1, 0, Buffer.concat([z(path), Buffer.from("value-0123456789")]));
  }
  const buildNs = Number(process.hrtime.bigint() - t0) / TREE;
  const cu = process.cpuUsage(c0);
  const buildCpuNs = ((cu.user + cu.system) * 1e3) / TREE;
  const wide = TREE / 10;
  for (let i = 0; i < wide; i++) core.process(conn, XS_WRITE, 1, 0, Buffer.concat([z(`/wide/child-${i}`), Buffer.from("x")]));
  gc();
  const nodes = core.store.db.size;
  const bytesPerNode = (process.memoryUsage().heapUsed - heap0) / nodes;
  const time = (fn: () => void, n: number): number => {
    fn();
    const s = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - s) / n / 1e3;
  };
  const dirUs = time(() => { core.process(conn, XS_DIRECTORY, 1, 0, z("/bench/d7")); }, 2000);
  const dirLen = last.length;
  const readUs = time(() => { core.process(conn, XS_READ, 1, 0, z("/bench/d142/node-17")); }, 20000);
  const pageAll = (): number => {
    let off = 0;
    let pages = 0;
    for (;;) {
      core.process(conn, XS_DIRECTORY_PART, 1, 0, z("/wide", String(off)));
      pages++;
      const body = last.subarray(last.indexOf(0) + 1);
      if (body.length <= 1 || (body[body.length - 1] === 0 && body[body.length - 2] === 0)) return pages;
      off += body.length;
    }
  };
  const pages = pageAll();
  const partMs = time(pageAll, 20) / 1e3;
  const rows = [
    ["nodes in the tree", String(nodes)],
    ["build: WRITE through the request path", `${(buildNs / 1e3).toFixed(2)} µs per node wall (${fmt(1e9 / buildNs)} per s), ${(buildCpuNs / 1e3).toFixed(2)} µs CPU`],
    ["heap per node (path, 16-byte value, perms, child entry)", `${bytesPerNode.toFixed(0)} bytes`],
    [`DIRECTORY of a ${per}-child node (${dirLen} bytes)`, `${dirUs.toFixed(1)} µs`],
    ["READ in the big tree", `${readUs.toFixed(2)} µs`],
    [`DIRECTORY_PART over a ${wide}-child node (${pages} pages)`, `${partMs.toFixed(2)} ms`],
  ];
  process.stdout.write(`${table(["100k-node tree", "measured"], rows)}\n`);
  return { nodes, build_us_per_node: buildNs / 1e3, build_cpu_us_per_node: buildCpuNs / 1e3, heap_bytes_per_node: bytesPerNode, directory_us: dirUs, read_us: readUs, directory_part_ms: partMs, directory_part_pages: pages };
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  if (!existsSync(XSBENCH)) {
    try { execFileSync("make", ["-s", "-C", join(ROOT, "native")], { stdio: "ignore" }); } catch { /* reported below */ }
  }
  if (process.argv.includes("--tree-only")) process.stdout.write("round trips skipped (--tree-only)\n\n");
  else if (existsSync(XSBENCH)) out.round_trips = await roundTrips();
  else process.stdout.write("round trips skipped: native/build/xsbench not built (needs libxenstore: make -C native)\n\n");
  out.tree = bigTree();
  if (!process.argv.includes("--tree-only")) writeResult("xenstore", out);
}

await main();
