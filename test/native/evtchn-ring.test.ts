// The event area through the shim, with Debian's real libxenevtchn: ports reach a program waiting in
// poll/ppoll/select/pselect through the ring while it spins and through its socket otherwise, its
// unmasks go back through the other ring, no port is lost when it is raised while the program stops
// spinning (tiny spin budgets, raises at every moment of the round trip), and a wait's timeout holds.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cpuShare } from "./cpu.js";
import { BUILD, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer, type Json, type RunningServer } from "./harness.js";
import { dmop } from "../hypervisor/helpers.js";

const CLIENT = join(BUILD, "evtchnclient");
const EAGAIN = 11;
const fastpath = process.env.XENDM_SHIM_FASTPATH !== "0";

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/evtchn-ring SKIPPED: ${missing}. The evtchn event area is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

/** One vCPU port of a new ioreq server on DOM (domain 0's side unbound, for the program to bind). */
function ioreqPort(srv: RunningServer): number {
  expect(srv.hv.dm_op(0, DOM, [{ bytes: dmop(1, { handle_bufioreq: 0 }) }])).toBe(0);
  return srv.hv.server(DOM, 0).ioreq_ports![0]!;
}

/**
 * `rounds` round trips: each notify from the program raises its port again, at once (it is then in
 * its IOCTL_EVTCHN_NOTIFY, not spinning), after the continuations, or after a short timer (it has
 * stopped spinning or is about to), in turn.
 */
async function pingpong(how: string, rounds: number, env: Record<string, string>, pause?: { after: number; measure: (pid: number) => Promise<void> }): Promise<{ stats: RunningServer["server"]["evtchnStats"]; lines: Json[] }> {
  const srv = await startServer();
  try {
    const remote = ioreqPort(srv);
    let n = 0;
    const proc: { pid?: number } = {};
    srv.hv.onXenNotify((d, p) => {
      if (d !== DOM || p !== remote) return;
      if (pause !== undefined && n === pause.after) {
        // the program waits on an idle domain for a while, then the round trips go on
        n++;
        void pause.measure(proc.pid ?? 0).finally(() => { srv.hv.notify(DOM, remote); });
        return;
      }
      const raise = (): void => { srv.hv.notify(DOM, remote); };
      const k = n++ % 3;
      if (k === 0) raise();
      else if (k === 1) setImmediate(raise);
      else setTimeout(raise, 0);
    });
    const child = spawn(CLIENT, ["pingpong", String(DOM), String(rounds), how, String(remote)], {
      env: { ...process.env, ...shimEnv(srv.path, env) }, stdio: ["ignore", "pipe", "pipe"],
    });
    proc.pid = child.pid;
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\"ready\"") && n === 0) { n = 1; srv.hv.notify(DOM, remote); }
    });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const last = jsonLines(out).at(-1);
    expect(last, err).toEqual({ rounds, wrong: 0 });
    expect(code).toBe(0);
    if (process.env.XENDM_TEST_VERBOSE === "1") process.stderr.write(`${how} ${JSON.stringify(srv.server.evtchnStats)}\n`);
    return { stats: srv.server.evtchnStats, lines: jsonLines(out) };
  } finally {
    await srv.close();
  }
}

suite("evtchn event area through the shim (libxenevtchn)", () => {
  beforeAll(() => { buildNative(); });

  for (const how of ["poll", "ppoll", "select", "pselect", "pollv"]) {
    it(`delivers through the ring while the program spins in ${how}, unmasks through the ring, loses nothing`, async () => {
      const rounds = 1500;
      const { stats } = await pingpong(how, rounds, {});
      if (fastpath) {
        expect(stats.ringDeliveries).toBeGreaterThan(0);
        expect(stats.ringUnmasks).toBeGreaterThanOrEqual(rounds);
        expect(stats.socketUnmasks).toBe(0);
      } else {
        expect(stats.ringDeliveries + stats.ringUnmasks).toBe(0);
        expect(stats.socketDeliveries).toBeGreaterThanOrEqual(rounds);
      }
    }, 60_000);
  }

  it("loses no port raised while the program stops spinning (1 µs spins, 4000 round trips)", async () => {
    const { stats } = await pingpong("poll", 4000, { XENDM_SHIM_FASTPATH_SPIN_US: "1" });
    expect(stats.ringDeliveries + stats.socketDeliveries).toBeGreaterThanOrEqual(4000);
  }, 90_000);

  it("uses no CPU (< 1%) while it waits on an idle domain after round trips", async () => {
    let share = -1;
    await pingpong("poll", 600, {}, { after: 500, measure: async (pid) => { share = await cpuShare(pid, 1500); } });
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThan(0.01);
  }, 60_000);

  it("reports the set's other fds while events keep coming through the ring", async () => {
    const { lines } = await pingpong("poll2", 400, {});
    const lag = lines.find((l) => l.pipe_lag !== undefined)?.pipe_lag;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThanOrEqual(8);
  }, 60_000);

  it("delivers every answer when one thread waits and another notifies", async () => {
    const srv = await startServer();
    try {
      const remote = ioreqPort(srv);
      srv.hv.onXenNotify((d, p) => { if (d === DOM && p === remote) srv.hv.notify(DOM, remote); });
      const child = spawn(CLIENT, ["split", String(DOM), "500", String(remote)], {
        env: { ...process.env, ...shimEnv(srv.path) }, stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      let started = false;
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (!started && out.includes("\"ready\"")) { started = true; srv.hv.notify(DOM, remote); }
      });
      child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
      const kill = setTimeout(() => { child.kill("SIGKILL"); }, 20_000); // a lost answer must fail, not hang
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      clearTimeout(kill);
      expect(jsonLines(out).at(-1), err).toEqual({ rounds: 500, slow: 0 });
      expect(code).toBe(0);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it("delivers a port raised while masked as soon as the program unmasks it", async () => {
    const srv = await startServer();
    try {
      const remote = ioreqPort(srv);
      const child = spawn(CLIENT, ["late", String(DOM), "20", String(remote)], {
        env: { ...process.env, ...shimEnv(srv.path) }, stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      let seen = 0;
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const lines = jsonLines(out);
        // the port is masked now (the program unmasks it 20 ms later): the raise waits for the unmask
        for (const l of lines.slice(seen)) if (l.ready !== undefined || l.got !== undefined) srv.hv.notify(DOM, remote);
        seen = lines.length;
      });
      child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
      const kill = setTimeout(() => { child.kill("SIGKILL"); }, 30_000);
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      clearTimeout(kill);
      const last = jsonLines(out).at(-1);
      expect(last?.rounds, err).toBe(20);
      expect(Number(last?.worst_ms)).toBeLessThan(1000); // the unmask was kicked, not found at a later raise
      expect(code).toBe(0);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it("drops the ports the ring holds at IOCTL_EVTCHN_RESET, as those on the socket", async () => {
    const srv = await startServer();
    try {
      const remote = ioreqPort(srv);
      srv.hv.onXenNotify((d, p) => { if (d === DOM && p === remote) srv.hv.notify(DOM, remote); });
      const r = await run(CLIENT, ["reset", String(DOM), String(remote)], shimEnv(srv.path));
      expect(jsonLines(r.stdout)[0], r.stderr).toEqual({ notify: 0, reset: 0, read: -1, errno: EAGAIN });
      // the answer was raised while the notify was in flight: on the fast path it took the ring
      if (fastpath) expect(srv.server.evtchnStats.ringDeliveries).toBe(1);
    } finally {
      await srv.close();
    }
  }, 30_000);

  it("keeps epoll (which the shim does not see) on the socket", async () => {
    const { stats } = await pingpong("epoll", 300, {});
    expect(stats.ringDeliveries).toBe(0);
    expect(stats.socketDeliveries).toBeGreaterThanOrEqual(300);
  }, 60_000);

  for (const how of ["poll", "ppoll", "select", "pselect"]) {
    it(`honours the timeout of ${how} with nothing raised; then a non-blocking read is EAGAIN`, async () => {
      const srv = await startServer();
      try {
        const remote = ioreqPort(srv);
        const r = await run(CLIENT, ["timeout", String(DOM), how, "80", String(remote)], shimEnv(srv.path));
        const l = jsonLines(r.stdout)[0];
        expect(l?.ret, r.stderr).toBe(0);
        expect(Number(l?.ms)).toBeGreaterThanOrEqual(79);
        expect(Number(l?.ms)).toBeLessThan(80 + 400);
        // nothing in the ring nor on the socket: O_NONBLOCK gives EAGAIN (evtchn.c:evtchn_read)
        expect(l).toMatchObject({ nonblock_read: -1, nonblock_errno: EAGAIN });
        // a count below one port reads nothing (the driver's rule), with or without the event area
        expect(l?.small_read).toBe(0);
      } finally {
        await srv.close();
      }
    }, 30_000);
  }
});
