// DeviceModel calls per second: in-process (fake hypervisor + privcmd layer in this process) and over
// the socket to a `xendm serve` child process; nr_vcpus (read an output) and set_mem_type (p2m write).
// Each call awaits its reply (as a C device model's synchronous call would); the last column keeps 32
// calls in flight on one connection (pipelined). Median of 5 runs, with the CPU time per call of this
// process (the client, or client + fake in-process) and of the server process.
//   npx tsx bench/client.bench.ts [--quick]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeviceModel } from "../src/devicemodel/index.js";
import { createFakeHost } from "../src/transport/fake.js";
import { InProcessTransportFactory } from "../src/transport/inprocess.js";
import { SocketTransportFactory } from "../src/transport/socket.js";
import type { TransportFactory } from "../src/transport/types.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const RUNS = 5;
const N_LOCAL = quick ? 5_000 : 50_000;
const N_SOCKET = quick ? 1_000 : 10_000;
const ROOT = join(fileURLToPath(import.meta.url), "..", "..");

type Call = (dm: DeviceModel) => Promise<unknown>;
const CALLS: Record<string, Call> = {
  nr_vcpus: (dm) => dm.nrVcpus(1),
  set_mem_type: (dm) => dm.setMemType(1, 0, 0x100, 1), // HVMMEM_ram_rw over RAM
};

/** CPU seconds (user + system) the process `pid` has used so far, from /proc (Linux); undefined elsewhere. */
function procCpu(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined;
  }
}

interface Measured { median: number; samples: number[]; cpuUs: number; serverCpuUs: number | undefined }

/** `inFlight` calls outstanding at a time (1: each call awaited before the next). */
async function callsPerSec(factory: TransportFactory, call: Call, n: number, inFlight = 1, serverPid?: number): Promise<Measured> {
  const dm = await DeviceModel.open(factory);
  for (let i = 0; i < Math.max(100, n >> 4); i++) await call(dm); // warm-up
  const samples: number[] = [];
  const cpu: number[] = [];
  const server: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const s0 = procCpu(serverPid);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += inFlight) await Promise.all(Array.from({ length: Math.min(inFlight, n - i) }, () => call(dm)));
    samples.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / n);
    const s1 = procCpu(serverPid);
    if (s0 !== undefined && s1 !== undefined) server.push(((s1 - s0) * 1e6) / n);
  }
  await dm.close();
  return { median: median(samples), samples, cpuUs: median(cpu), serverCpuUs: server.length > 0 ? median(server) : undefined };
}

async function startServer(sock: string): Promise<{ pid: number | undefined; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--socket", sock, "--domain", "1"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let err = "";
    child.stderr?.on("data", (d: Buffer) => { err += d.toString(); if (err.includes("listening on")) resolve(); });
    child.once("exit", () => { reject(new Error(`xendm serve exited: ${err}`)); });
  });
  return { pid: child.pid, stop: () => new Promise<void>((resolve) => { child.once("exit", () => { resolve(); }); child.kill("SIGTERM"); }) };
}

/**
 * This bench run at the commit before the hot-path work (04405d8), on the same machine just before the
 * "after" run: medians of calls/s and CPU µs per call.
 */
const BEFORE: Record<string, { in_process: number; socket: number; piped: number; in_process_cpu_us: number; socket_client_cpu_us: number; socket_server_cpu_us: number }> = {
  nr_vcpus: { in_process: 111057, socket: 11172, piped: 35093, in_process_cpu_us: 9.0, socket_client_cpu_us: 44.9, socket_server_cpu_us: 46.0 },
  set_mem_type: { in_process: 59022, socket: 9091, piped: 38499, in_process_cpu_us: 9.5, socket_client_cpu_us: 52.4, socket_server_cpu_us: 55.0 },
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-bench-"));
  const sock = join(dir, "s.sock");
  const server = await startServer(sock);
  const rows: (string | number)[][] = [];
  const cpuRows: (string | number)[][] = [];
  const fastRows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  const us = (x: number | undefined): string => (x === undefined ? "-" : x.toFixed(1));
  try {
    for (const [name, call] of Object.entries(CALLS)) {
      const local = await callsPerSec(new InProcessTransportFactory(createFakeHost({ domains: [{ domid: 1, type: "hvm" }] }).device), call, N_LOCAL);
      const remote = await callsPerSec(new SocketTransportFactory(sock), call, N_SOCKET, 1, server.pid);
      const piped = await callsPerSec(new SocketTransportFactory(sock), call, N_SOCKET * 2, 32, server.pid);
      const fast = await callsPerSec(new SocketTransportFactory(sock, { fastpath: true }), call, N_SOCKET * 4, 1, server.pid);
      fastRows.push([name, fmt(remote.median), fmt(fast.median), `${(fast.median / remote.median).toFixed(1)}x`, `${(fast.median / piped.median).toFixed(1)}x`, us(fast.cpuUs), us(fast.serverCpuUs)]);
      const before = BEFORE[name];
      const vs = (now: number, then: number | undefined): string => (then === undefined ? "-" : `${(now / then).toFixed(1)}x`);
      rows.push([
        name, fmt(local.median), vs(local.median, before?.in_process), fmt(remote.median), vs(remote.median, before?.socket),
        `${(local.median / remote.median).toFixed(1)}x`, fmt(piped.median), vs(piped.median, before?.piped), `${(piped.median / remote.median).toFixed(1)}x`,
      ]);
      cpuRows.push([
        name, `${us(local.cpuUs)} (${us(before?.in_process_cpu_us)})`, `${us(remote.cpuUs)} (${us(before?.socket_client_cpu_us)})`,
        `${us(remote.serverCpuUs)} (${us(before?.socket_server_cpu_us)})`, us(piped.cpuUs), us(piped.serverCpuUs),
      ]);
      results.push({
        call: name, in_process_calls_per_s: local.median, socket_calls_per_s: remote.median, socket_32_in_flight_calls_per_s: piped.median,
        in_process_cpu_us_per_call: local.cpuUs,
        socket_client_cpu_us_per_call: remote.cpuUs, socket_server_cpu_us_per_call: remote.serverCpuUs ?? null,
        socket_32_in_flight_client_cpu_us_per_call: piped.cpuUs, socket_32_in_flight_server_cpu_us_per_call: piped.serverCpuUs ?? null,
        before: before ?? null,
        in_process_samples: local.samples, socket_samples: remote.samples, socket_32_in_flight_samples: piped.samples,
        fastpath_calls_per_s: fast.median, fastpath_samples: fast.samples, fastpath_client_cpu_us_per_call: fast.cpuUs, fastpath_server_cpu_us_per_call: fast.serverCpuUs ?? null,
      });
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`DeviceModel calls/s (median of ${RUNS}; each call awaited; socket server in a child process; "vs before": the same bench at 04405d8)\n\n`);
  process.stdout.write(table(["call", "in-process", "vs before", "socket", "vs before", "in-process / socket", "socket, 32 in flight", "vs before", "vs 1 in flight"], rows) + "\n\n");
  process.stdout.write("CPU µs per call (median; before in parentheses): this process (client; in-process: client and fake) and the server process\n\n");
  process.stdout.write(table(["call", "in-process", "socket client", "socket server", "32 in flight client", "32 in flight server"], cpuRows) + "\n\n");
  process.stdout.write("The same server, SocketTransport with `fastpath: true` (the shared-memory region; each call awaited; CPU includes spinning)\n\n");
  process.stdout.write(table(["call", "socket", "fast path", "vs socket", "vs socket, 32 in flight", "client CPU µs", "server CPU µs"], fastRows) + "\n");
  writeResult("client", { runs: RUNS, calls_in_process: N_LOCAL, calls_socket: N_SOCKET, results });
}

await main();
