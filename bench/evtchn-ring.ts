// For bench/fastpath.bench.ts: event-channel round trips alone, through Debian's libxenevtchn under the
// shim (`native/evtchnclient pingpong`): the fake raises a port, the program wakes in poll, reads it,
// unmasks it and notifies; the notify raises the port again at once. On the fast path the port takes
// the evtchn fd's event area while the program spins, and its unmask the other ring.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { BUILD, DOM, jsonLines, shimEnv, startServer } from "../test/native/harness.js";
import type { EvtchnStats } from "../src/transport/evtchn-files.js";

const CLIENT = join(BUILD, "evtchnclient");

/** XEN_DMOP_create_ioreq_server for domain 1 (no buffered ring): its vCPU port is bound by the program. */
function createIoreqServer(): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = 1; // XEN_DMOP_create_ioreq_server
  return b;
}

/** `n` round trips (after a warm-up of n / 8 in the same program): per second, and how the ports went. */
export async function evtchnRoundTrips(env: Record<string, string>, n: number): Promise<{ rate: number; stats: EvtchnStats }> {
  const srv = await startServer();
  try {
    if (srv.hv.dm_op(0, DOM, [{ bytes: createIoreqServer() }]) !== 0) throw new Error("create_ioreq_server failed");
    const remote = srv.hv.server(DOM, 0).ioreq_ports![0]!;
    const warm = n >> 3;
    let count = 0;
    let t0 = 0n;
    let t1 = 0n;
    srv.hv.onXenNotify((d, p) => {
      if (d !== DOM || p !== remote) return;
      count++;
      if (count === warm) t0 = process.hrtime.bigint();
      if (count === warm + n) t1 = process.hrtime.bigint();
      srv.hv.notify(DOM, remote);
    });
    const child = spawn(CLIENT, ["pingpong", String(DOM), String(warm + n), "poll", String(remote)], {
      env: { ...process.env, ...shimEnv(srv.path, env) }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let started = false;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!started && out.includes("\"ready\"")) {
        started = true;
        srv.hv.notify(DOM, remote);
      }
    });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const last = jsonLines(out).at(-1);
    if (code !== 0 || last?.rounds !== warm + n || t1 === 0n) throw new Error(`evtchnclient pingpong: ${out} ${err}`);
    return { rate: n / (Number(t1 - t0) / 1e9), stats: srv.server.evtchnStats };
  } finally {
    await srv.close();
  }
}
