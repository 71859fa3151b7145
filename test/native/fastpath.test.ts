// The real libxendevicemodel through the shim on the shared-memory fast path: many handles at once,
// a client killed mid-call, and no CPU spent once the spin windows have passed.
// The other native suites run on whichever path XENDM_SHIM_FASTPATH selects (scripts/test.sh runs
// them both ways); this one checks the fast path itself.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { CONFORMANCE, DOM, WORLD, buildNative, jsonLines, nativeMissing, run, shimEnv, startCliServer } from "./harness.js";
import { cpuShare } from "./cpu.js";

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined) {
  if (ci) throw new Error(`native fast-path suite cannot run under CI=true: ${missing}`);
  process.stderr.write(`\n*** SKIPPING native fast-path tests: ${missing} ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

let dir: string;
let server: XendmServer;
let path: string;

suite("the shim on the fast path", () => {
  beforeAll(async () => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), "xendm-fpn-"));
    path = join(dir, "s.sock");
    server = new XendmServer({ device: createFakeHost(WORLD).device, fastpath: {} });
    await server.listen(path);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The regions this process (the server) still maps. */
  const regions = (): string[] => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/memfd:xendm-fp-"));

  it("takes the fast path unless XENDM_SHIM_FASTPATH=0", async () => {
    for (const [fp, through] of [["1", true], ["0", false]] as const) {
      const before = server.fastpathStats.served;
      const r = await run(CONFORMANCE, ["loop", "2000", String(DOM)], shimEnv(path, { XENDM_SHIM_FASTPATH: fp }));
      expect(r.code, r.stderr).toBe(0);
      expect(jsonLines(r.stdout)[0]).toMatchObject({ calls: 2000, failures: 0, vcpus: 2 });
      const served = server.fastpathStats.served - before;
      if (through) expect(served).toBeGreaterThanOrEqual(2000);
      else expect(served).toBe(0);
    }
    expect(regions()).toEqual([]);
  });

  it("32 handles x 5000 calls at once: no failure, every call through a region", async () => {
    const before = server.fastpathStats.served;
    const r = await run(CONFORMANCE, ["ploop", "32", "5000", String(DOM)], shimEnv(path, { XENDM_SHIM_FASTPATH: "1" }));
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ threads: 32, calls: 160000, failures: 0 });
    expect(server.fastpathStats.served - before).toBeGreaterThanOrEqual(160000);
    for (let i = 0; i < 200 && server.stats.open > 0; i++) await new Promise((r) => setTimeout(r, 10)); // the closes
    expect(server.stats.open).toBe(0);
  }, 120_000);

  it("survives clients killed mid-call, their regions removed", async () => {
    for (let round = 0; round < 3; round++) {
      const child = spawn(CONFORMANCE, ["ploop", "4", "1000000", String(DOM)], { env: { ...process.env, ...shimEnv(path, { XENDM_SHIM_FASTPATH: "1" }) }, stdio: "ignore" });
      const start = server.fastpathStats.served;
      for (let i = 0; i < 400 && server.fastpathStats.served < start + 500; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.fastpathStats.served).toBeGreaterThan(start);
      child.kill("SIGKILL");
      await new Promise<void>((resolve) => { child.once("exit", () => { resolve(); }); });
      for (let i = 0; i < 200 && server.stats.open > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.stats.open).toBe(0);
      expect(regions()).toEqual([]);
    }
    const r = await run(CONFORMANCE, ["loop", "100", String(DOM)], shimEnv(path));
    expect(jsonLines(r.stdout)[0]).toMatchObject({ calls: 100, failures: 0 });
  }, 60_000);

  it("spends no CPU once the spin windows have passed: a client waiting on a stopped server, and the idle server", async () => {
    const rec = join(dir, "idle.jsonl");
    const srv = await startCliServer(rec, ["--domain", String(DOM)]);
    const client = spawn(CONFORMANCE, ["loop", "100000000", String(DOM)], { env: { ...process.env, ...shimEnv(srv.path, { XENDM_SHIM_FASTPATH: "1" }) }, stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 500)); // calls flowing
      process.kill(srv.pid, "SIGSTOP"); // the client's call in flight now waits
      await new Promise((r) => setTimeout(r, 100)); // past its spin window (100 µs)
      const waiting = await cpuShare(client.pid!, 1500);
      process.kill(srv.pid, "SIGCONT");
      await new Promise((r) => setTimeout(r, 200));
      client.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 300)); // past the server's spin window (200 µs) and the close
      const idle = await cpuShare(srv.pid, 1500);
      expect(waiting).toBeLessThan(0.01);
      expect(idle).toBeLessThan(0.01);
    } finally {
      client.kill("SIGKILL");
      process.kill(srv.pid, "SIGCONT");
      await srv.stop();
    }
  }, 30_000);
});
