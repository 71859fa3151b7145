// The shared-memory fast path against the socket, from Debian's real libxendevicemodel through the
// LD_PRELOAD shim (`native/conformance loop|ploop`, xendevicemodel_nr_vcpus, timed in C), beside two
// C baselines measured in the same run on the same machine (`native/fastpath-baseline`):
//   - a C<->C shared-memory spin round trip (the ceiling of any shared-memory transport here),
//   - a C<->C socketpair round trip (what a blocking socket costs here).
// And ioreq round trips on both paths through the C example device model and through Debian's QEMU
// (their IOCTL_EVTCHN_NOTIFY takes the region; the events to them take their evtchn fd's event area
// while they spin in poll, the socket otherwise).
// Then the idle CPU, after the spin windows, of the server, of a client waiting on a stopped server, and
// of the C example device model waiting (in poll, its evtchn fd's event area armed) on an idle domain.
// Event-channel round trips alone (libxenevtchn's poll, read, unmask, notify) with and without the event area.
//   npx tsx bench/fastpath.bench.ts [--quick]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILD, CONFORMANCE, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startCliServer, startServer } from "../test/native/harness.js";
import { cpuShare } from "../test/native/cpu.js";
import { fmt, median, table, writeResult } from "./lib.js";
import { exampleIdle, ioreqRoundTrips, startExampleDm } from "./example-dm.js";
import { evtchnRoundTrips } from "./evtchn-ring.js";
import { QEMU_XEN_BINARY } from "../src/toolstack/argv.js";
import { GuestIo } from "../src/toolstack/guest-io.js";
import { launchQemu } from "../src/toolstack/qemu.js";

const quick = process.argv.includes("--quick");
const N = quick ? 5_000 : 40_000;
const RUNS = quick ? 3 : 5;
const GOAL = 250_000;
const IOREQ_GOAL = 100_000;
const BASELINE = join(BUILD, "fastpath-baseline");

interface Row { name: string; samples: number[]; median: number; clientUs?: number; serverUs?: number; serveUs?: number; wakes?: number }

const spread = (xs: readonly number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

async function pingpong(mode: "shm" | "sock", n: number): Promise<number> {
  const r = await run(BASELINE, [mode, String(n)], {});
  const l = jsonLines(r.stdout)[0];
  if (r.code !== 0 || l === undefined) throw new Error(`fastpath-baseline ${mode}: ${r.stderr}`);
  return Number(l.round_trips) / (Number(l.ns) / 1e9);
}

interface Case { name: string; args: (n: number) => string[]; env: Record<string, string> }
const CASES: Case[] = [
  { name: "fast path, 1 thread", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_FASTPATH: "1" } },
  { name: "fast path, process_vm copies (XENDM_SHIM_GUARD=0)", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_FASTPATH: "1", XENDM_SHIM_GUARD: "0" } },
  { name: "fast path, 4 threads x 1 handle each", args: (n) => ["ploop", "4", String(n >> 2), String(DOM)], env: { XENDM_SHIM_FASTPATH: "1" } },
  { name: "socket, 1 thread", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_FASTPATH: "0" } },
  { name: "socket, process_vm copies (XENDM_SHIM_GUARD=0)", args: (n) => ["loop", String(n), String(DOM)], env: { XENDM_SHIM_FASTPATH: "0", XENDM_SHIM_GUARD: "0" } },
  { name: "socket, 4 threads x 1 handle each", args: (n) => ["ploop", "4", String(n >> 2), String(DOM)], env: { XENDM_SHIM_FASTPATH: "0" } },
];

interface DmopRun { rate: number; clientUs: number; serverUs: number; serveUs: number; wakes: number }

async function dmop(c: Case, n: number): Promise<DmopRun> {
  const srv = await startServer();
  try {
    const fp0 = srv.server.fastpathStats;
    const cpu0 = process.cpuUsage();
    const r = await run(CONFORMANCE, c.args(n), shimEnv(srv.path, c.env));
    const cpu = process.cpuUsage(cpu0);
    const l = jsonLines(r.stdout)[0];
    if (r.code !== 0 || l === undefined || l.failures !== 0) throw new Error(`${c.name}: ${r.stdout} ${r.stderr}`);
    const calls = Number(l.calls);
    const fp = srv.server.fastpathStats;
    const served = fp.served - fp0.served;
    return {
      rate: calls / (Number(l.ns) / 1e9), clientUs: Number(l.cpu_ns ?? 0) / 1e3 / calls, serverUs: (cpu.user + cpu.system) / calls,
      serveUs: served > 0 ? ((fp.serveMs - fp0.serveMs) * 1000) / served : NaN, wakes: served > 0 ? (fp.wakes - fp0.wakes) / served : NaN,
    };
  } finally {
    await srv.close();
  }
}

/** CPU share of a client waiting on a stopped server, and of the server idle after its client left. */
async function idle(dir: string): Promise<{ waitingClient: number; idleServer: number }> {
  const srv = await startCliServer(join(dir, "idle.jsonl"), ["--domain", String(DOM)]);
  const client = spawn(CONFORMANCE, ["loop", "100000000", String(DOM)], { env: { ...process.env, ...shimEnv(srv.path, { XENDM_SHIM_FASTPATH: "1" }) }, stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 500));
    process.kill(srv.pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, 100));
    const waitingClient = await cpuShare(client.pid!, 2000);
    process.kill(srv.pid, "SIGCONT");
    client.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    const idleServer = await cpuShare(srv.pid, 2000);
    return { waitingClient, idleServer };
  } finally {
    client.kill("SIGKILL");
    process.kill(srv.pid, "SIGCONT");
    await srv.stop();
  }
}

/** Sequential guest reads of the 16550 scratch register at 0x3ff, each a sync ioreq answered by Debian's QEMU. */
async function qemuRoundTrips(fp: string): Promise<number[] | string> {
  if (!existsSync(QEMU_XEN_BINARY)) return `${QEMU_XEN_BINARY} missing`;
  const q = await launchQemu({ memoryMb: 64, vga: "none", env: { XENDM_SHIM_FASTPATH: fp } });
  try {
    const io = new GuestIo(q.guest, q.domid, { timeoutMs: 5000 });
    await io.pioWrite(0x3ff, 1, 0x5a);
    const m = quick ? 1_000 : 5_000;
    const one = async (n: number): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) if ((await io.pioRead(0x3ff, 1)) !== 0x5a) throw new Error("the scratch register did not read back");
      return (n / (performance.now() - t0)) * 1000;
    };
    await one(m); // warm-up, discarded: one whole run (the JIT compiles the guest-access path first)
    const out: number[] = [];
    for (let i = 0; i < RUNS; i++) out.push(await one(m));
    return out;
  } finally {
    await q.stop();
  }
}

async function main(): Promise<void> {
  const missing = nativeMissing();
  if (missing !== undefined) {
    process.stdout.write(`fastpath bench skipped: ${missing}\n`);
    return;
  }
  buildNative();
  const dir = mkdtempSync(join(tmpdir(), "xendm-fp-bench-"));
  const rows: Row[] = [];
  try {
    const shm: number[] = [];
    const sock: number[] = [];
    await pingpong("shm", N);
    for (let i = 0; i < RUNS; i++) {
      shm.push(await pingpong("shm", N * 5));
      sock.push(await pingpong("sock", N));
    }
    rows.push({ name: "C<->C shared-memory spin round trip", samples: shm, median: median(shm) });
    rows.push({ name: "C<->C socketpair round trip", samples: sock, median: median(sock) });
    await dmop(CASES[0]!, N); // the server's code compiled by the JIT before the first measured case
    for (const c of CASES) {
      await dmop(c, Math.max(200, N >> 3)); // warm-up
      const s: DmopRun[] = [];
      for (let i = 0; i < RUNS; i++) s.push(await dmop(c, N));
      rows.push({
        name: `DM_OP via libxendevicemodel, ${c.name}`, samples: s.map((x) => x.rate), median: median(s.map((x) => x.rate)),
        clientUs: median(s.map((x) => x.clientUs)), serverUs: median(s.map((x) => x.serverUs)),
        serveUs: median(s.map((x) => x.serveUs)), wakes: median(s.map((x) => x.wakes)),
      });
    }
    for (const fp of ["1", "0"]) {
      const name = `ioreq round trip via the C example device model, ${fp === "1" ? "fast path" : "socket"}`;
      const ex = await startExampleDm({ XENDM_SHIM_FASTPATH: fp });
      if (typeof ex === "string") {
        process.stdout.write(`${name}: unavailable: ${ex}\n`);
        continue;
      }
      try {
        const m = quick ? 1_000 : 5_000;
        await ioreqRoundTrips(ex, m); // warm-up, discarded: one whole run
        const s: number[] = [];
        for (let i = 0; i < RUNS; i++) s.push(await ioreqRoundTrips(ex, m));
        rows.push({ name, samples: s, median: median(s) });
      } finally {
        await ex.dm.close();
      }
    }
    // Event-channel round trips alone (no ioreq record): what the event area changes, beside the socket.
    const ringShare: number[] = [];
    for (const fp of ["1", "0"]) {
      const name = `event-channel round trip via libxenevtchn (poll, read, unmask, notify), ${fp === "1" ? "event area" : "socket"}`;
      const m = quick ? 2_000 : 10_000;
      const s: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await evtchnRoundTrips({ XENDM_SHIM_FASTPATH: fp }, m);
        s.push(r.rate);
        if (fp === "1") ringShare.push(r.stats.ringDeliveries / Math.max(1, r.stats.ringDeliveries + r.stats.socketDeliveries));
      }
      rows.push({ name, samples: s, median: median(s) });
    }
    for (const fp of ["1", "0"]) {
      const name = `ioreq round trip via QEMU (16550 scratch register read), ${fp === "1" ? "fast path" : "socket"}`;
      const s = await qemuRoundTrips(fp);
      if (typeof s === "string") process.stdout.write(`${name}: unavailable: ${s}\n`);
      else rows.push({ name, samples: s, median: median(s) });
    }
    const cpu = { ...(await idle(dir)), exampleDm: await exampleIdle() };
    const shmM = rows[0]!.median;
    const sockM = rows[1]!.median;
    process.stdout.write(`round trips or calls per second: median of ${String(RUNS)} runs (spread min–max); ratios of the medians\n\n`);
    process.stdout.write(table(
      ["case", "per s", "spread", "vs C shm spin", "vs C socketpair", `vs goal (${fmt(GOAL, 0)} DM_OP, ${fmt(IOREQ_GOAL, 0)} ioreq)`, "client CPU µs/call", "server CPU µs/call", "server serving µs/call", "calls that slept"],
      rows.map((r) => [
        r.name, fmt(r.median), spread(r.samples), (r.median / shmM).toFixed(3), (r.median / sockM).toFixed(2),
        r.clientUs === undefined ? (r.name.startsWith("ioreq") ? (r.median / IOREQ_GOAL).toFixed(2) : "-") : (r.median / GOAL).toFixed(2),
        r.clientUs === undefined ? "-" : r.clientUs.toFixed(1), r.serverUs === undefined ? "-" : r.serverUs.toFixed(1),
        r.serveUs === undefined || Number.isNaN(r.serveUs) ? "-" : r.serveUs.toFixed(2),
        r.wakes === undefined || Number.isNaN(r.wakes) ? "-" : `${(r.wakes * 100).toFixed(1)}%`,
      ]),
    ) + "\n\n");
    process.stdout.write("CPU columns include spinning (client waiting for a reply, server polling its regions); \"serving\" is the server's\n"
      + "time inside a request (copy-out, checks, the call, the reply's copy-in): the rest of a round trip is the machine's\n"
      + "(the two CPUs handing cache lines across, as in the C shared-memory spin row) and the client's (libxendevicemodel, the shim).\n"
      + "\"calls that slept\": replies that came after the client's spin budget, or after it lost its CPU, and needed a WAKE.\n\n");
    process.stdout.write(`event area: ${ringShare.length === 0 ? "-" : (median(ringShare) * 100).toFixed(1)}% of the ports of the event-channel round trips took the ring (median of the runs), the rest the socket\n`);
    process.stdout.write(`idle CPU after the spin windows (share of one CPU over 2 s): client waiting on a stopped server ${(cpu.waitingClient * 100).toFixed(2)}%, server with no requests ${(cpu.idleServer * 100).toFixed(2)}%, example device model on an idle domain ${cpu.exampleDm === undefined ? "unavailable" : `${(cpu.exampleDm * 100).toFixed(2)}%`} (goal < 1%)\n`);
    writeResult("fastpath", { calls: N, runs: RUNS, goal_calls_per_s: GOAL, rows, idle_cpu: cpu, event_area_ring_share: ringShare });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
