// /dev/xen/evtchn under the shim, with Debian's real libxenevtchn: the fake raising an ioreq port makes
// the program's fd readable (poll, select, epoll), and its NOTIFY reaches the waiting side of the port.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { beforeAll, describe, expect, it } from "vitest";
import { BUILD, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer, type Json } from "./harness.js";
import { dmop } from "../hypervisor/helpers.js";

const CLIENT = join(BUILD, "evtchnclient");
const EINVAL = 22, ESRCH = 3, ENOTCONN = 107, EACCES = 13, EFAULT = 14, ENOSYS = 38, EAGAIN = 11;

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/evtchn SKIPPED: ${missing}. /dev/xen/evtchn is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

/** An ioreq server on DOM created by domain 0 with a buffered ring: its vCPU ports and buffered port. */
function createServer(hv: import("../../src/hypervisor/hypervisor.js").Hypervisor): number[] {
  expect(hv.dm_op(0, DOM, [{ bytes: dmop(1, { handle_bufioreq: 1 }) }])).toBe(0);
  const s = hv.server(DOM, 0);
  return [...(s.ioreq_ports ?? []), s.bufioreq_port!];
}

suite("/dev/xen/evtchn through the shim (libxenevtchn)", () => {
  beforeAll(() => { buildNative(); });

  for (const how of ["poll", "select", "epoll"] as const) {
    it(`raising a bound port wakes the program (${how}); its notify reaches Xen's side of the channel`, async () => {
      const srv = await startServer();
      try {
        const remote = createServer(srv.hv);
        const notified: [number, number][] = [];
        srv.hv.onXenNotify((d, p) => notified.push([d, p]));
        const rounds = 6;
        const child = spawn(CLIENT, ["serve", String(DOM), String(rounds), how, ...remote.map(String)], {
          env: { ...process.env, ...shimEnv(srv.path) }, stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        const lines: Json[] = [];
        const exit = new Promise<number | null>((resolve) => child.on("close", resolve));
        const rl = createInterface({ input: child.stdout });
        let local: number[] = [];
        const expected: number[] = [];
        for await (const text of rl) {
          const l = JSON.parse(text) as Json;
          lines.push(l);
          if (Array.isArray(l.bound)) local = l.bound as number[];
          if (l.ready === true || l.event !== undefined) {
            const i = expected.length;
            if (i >= rounds) continue;
            const r = i % remote.length;
            expected.push(local[r]!);
            srv.hv.notify(DOM, remote[r]!); // Xen sends an ioreq on that port
          }
        }
        expect(await exit, stderr).toBe(0);
        expect(local).toEqual([1, 2, 3]);
        expect(lines.find((l) => l.initial !== undefined)?.initial).toEqual(local); // each binding starts pending once
        const events = lines.filter((l) => l.event !== undefined);
        expect(events.map((l) => l.event)).toEqual(expected);
        expect(events.every((l) => l.notify === 0)).toBe(true);
        expect(notified).toEqual(expected.map((p) => [DOM, remote[local.indexOf(p)]]));
        // the notifies (IOCTL_EVTCHN_NOTIFY) went through the fast-path region unless it is switched off
        if (process.env.XENDM_SHIM_FASTPATH !== "0") expect(srv.server.fastpathStats.served).toBeGreaterThanOrEqual(rounds);
        // the program's close released its ports: the guest's are unbound for domain 0 again
        await new Promise((r) => setTimeout(r, 50));
        for (const p of remote) expect(srv.hv.domain(DOM)!.evtchn.get(p)).toMatchObject({ state: "unbound", remoteDomid: 0 });
      } finally {
        await srv.close();
      }
    }, 30_000);
  }

  it("refuses as drivers/xen/evtchn.c and Xen do", async () => {
    const srv = await startServer();
    try {
      const remote = createServer(srv.hv);
      const r = await run(CLIENT, ["errors", String(DOM), String(remote[0])], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      const got = new Map(jsonLines(r.stdout).map((l) => [String(l.case), [Number(l.ret), Number(l.errno)]]));
      const want: Record<string, [number, number]> = {
        "bind port 0": [-1, EINVAL],
        "bind no such domain": [-1, ESRCH],
        "bind": [1, 0],
        "bind again": [-1, EINVAL],
        "notify unbound": [-1, ENOTCONN],
        "unbind out of range": [-1, EINVAL],
        "unbind not ours": [-1, ENOTCONN],
        "raw notify bad pointer": [-1, EFAULT],
        "raw unknown ioctl": [-1, ENOSYS],
        "bind virq": [-1, ENOSYS],
        "reset": [0, 0],
        "unbound port for dom": [2, 0],
        "restrict to 0": [-1, EINVAL],
        "restrict": [0, 0],
        "restrict again": [-1, EACCES],
        "restricted bind other domain": [-1, EACCES],
        "restricted unbound port": [-1, EACCES],
        "restricted notify": [0, 0],
        "unbind": [0, 0],
        "rebind after unbind": [1, 0],
        "nonblocking read, nothing pending": [-1, EAGAIN],
      };
      expect(Object.fromEntries(got)).toEqual(want);
      expect(srv.hv.domain(0)!.evtchn.get(2)).toBeUndefined(); // the program's close closed its unbound port
    } finally {
      await srv.close();
    }
  });
});
