// DeviceModel calls per second: in-process (fake hypervisor + privcmd layer in this process) and over
// the socket to a `xendm serve` child process; nr_vcpus (read an output) and set_mem_type (p2m write).
// Each call awaits its reply (as a C device model's synchronous call would); the last column keeps 32
// calls in flight on one connection (pipelined). Median of 5 runs.
//   npx tsx bench/client.bench.ts [--quick]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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

/** `inFlight` calls outstanding at a time (1: each call awaited before the next). */
async function callsPerSec(factory: TransportFactory, call: Call, n: number, inFlight = 1): Promise<{ median: number; samples: number[] }> {
  const dm = await DeviceModel.open(factory);
  for (let i = 0; i < Math.max(100, n >> 4); i++) await call(dm); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += inFlight) await Promise.all(Array.from({ length: Math.min(inFlight, n - i) }, () => call(dm)));
    samples.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  await dm.close();
  return { median: median(samples), samples };
}

async function startServer(sock: string): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--socket", sock, "--domain", "1"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let err = "";
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); if (err.includes("listening on")) resolve(); });
    child.once("exit", () => { reject(new Error(`xendm serve exited: ${err}`)); });
  });
  return () => new Promise<void>((resolve) => { child.once("exit", () => { resolve(); }); child.kill("SIGTERM"); });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-bench-"));
  const sock = join(dir, "s.sock");
  const stop = await startServer(sock);
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  try {
    for (const [name, call] of Object.entries(CALLS)) {
      const local = await callsPerSec(new InProcessTransportFactory(createFakeHost({ domains: [{ domid: 1, type: "hvm" }] }).device), call, N_LOCAL);
      const remote = await callsPerSec(new SocketTransportFactory(sock), call, N_SOCKET);
      const piped = await callsPerSec(new SocketTransportFactory(sock), call, N_SOCKET * 2, 32);
      rows.push([name, fmt(local.median), fmt(remote.median), `${(local.median / remote.median).toFixed(1)}x`, fmt(piped.median), `${(piped.median / remote.median).toFixed(1)}x`]);
      results.push({
        call: name, in_process_calls_per_s: local.median, socket_calls_per_s: remote.median, socket_32_in_flight_calls_per_s: piped.median,
        in_process_samples: local.samples, socket_samples: remote.samples, socket_32_in_flight_samples: piped.samples,
      });
    }
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`DeviceModel calls/s (median of ${RUNS}; each call awaited; socket server in a child process)\n\n`);
  process.stdout.write(table(["call", "in-process", "socket", "in-process / socket", "socket, 32 in flight", "vs 1 in flight"], rows) + "\n");
  writeResult("client", { runs: RUNS, calls_in_process: N_LOCAL, calls_socket: N_SOCKET, results });
}

await main();
