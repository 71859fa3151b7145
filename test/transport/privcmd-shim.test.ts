// The koffi privcmd transport in a child process whose /dev/xen/privcmd is the LD_PRELOAD shim
// talking to an in-test `xendm serve`: same results and buffers as the in-process transport.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeHost } from "../../src/transport/fake.js";
import { replayTrace } from "../../src/transport/replay.js";
import { TRACE_FORMAT, TraceWriter } from "../../src/transport/trace.js";
import { InProcessTransportFactory } from "../../src/transport/inprocess.js";
import { TapFactory } from "../devicemodel/tap.js";
import { serve, type Served } from "./harness.js";
import { everyFunction } from "./sequence.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SHIM = join(ROOT, "native", "build", "libxendm-shim.so");
const CONFORMANCE = join(ROOT, "native", "build", "conformance");
const WORLD = { domains: [{ domid: 1, type: "hvm" as const, vcpus: 2 }, { domid: 2, type: "hvm" as const, vcpus: 3 }] };

function haveShim(): boolean {
  if (existsSync(SHIM)) return true;
  try {
    execFileSync("make", ["-s", "-C", join(ROOT, "native"), "shim"], { stdio: "ignore" });
  } catch {
    /* reported below */
  }
  return existsSync(SHIM);
}

const present = haveShim();
if (!present) {
  const msg = `LD_PRELOAD shim not built (${SHIM}; needs gcc: make -C native)`;
  if (process.env.CI === "true") throw new Error(msg);
  console.warn(`SKIPPING privcmd transport under the shim: ${msg}`);
}

const CHILD = `
import { PrivcmdTransportFactory } from ${JSON.stringify(join(ROOT, "src/transport/privcmd.ts"))};
import { TapFactory } from ${JSON.stringify(join(ROOT, "test/devicemodel/tap.ts"))};
import { everyFunction } from ${JSON.stringify(join(ROOT, "test/transport/sequence.ts"))};
const tap = new TapFactory(new PrivcmdTransportFactory());
const out = await everyFunction(tap);
process.stdout.write(JSON.stringify({ ...out, calls: tap.calls }, (_k, v) => (typeof v === "bigint" ? v.toString() + "n" : v)));
`;

function runChild(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    child.on("exit", (code) => { if (code === 0) resolve(out); else reject(new Error(`child exited ${code}: ${err}`)); });
  });
}

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() + "n" : x)));

describe.skipIf(!present)("PrivcmdTransport (koffi) under the LD_PRELOAD shim", () => {
  let s: Served;
  let script: string;
  beforeAll(async () => {
    s = await serve(WORLD);
    script = join(mkdtempSync(join(tmpdir(), "xendm-shim-")), "child.mts");
    writeFileSync(script, CHILD);
  });
  afterAll(async () => { await s.stop(); });

  it("ioctl path: the same results and buffers as in-process", async () => {
    const got = JSON.parse(await runChild(script, { LD_PRELOAD: SHIM, XENDM_SOCKET: s.path })) as { path: string };
    const tap = new TapFactory(new InProcessTransportFactory(createFakeHost(WORLD).device));
    const want = { ...(await everyFunction(tap)), calls: tap.calls };
    expect(got.path).toBe("ioctl");
    expect(got).toEqual(json(want));
  });

  it("a kernel without DM_OP: the probe fails and the hypercall path gives the same results", async () => {
    const fresh = await serve(WORLD);
    const got = JSON.parse(await runChild(script, { LD_PRELOAD: SHIM, XENDM_SOCKET: fresh.path, XENDM_SHIM_NO_DMOP: "1" })) as { path: string; calls: { ioctl: string; ret: number; errno: number }[] };
    await fresh.stop();
    expect(got.path).toBe("hypercall");
    expect(got.calls[0]).toMatchObject({ ioctl: "dm_op", ret: -1, errno: 25 }); // ENOTTY
    const tap = new TapFactory(new InProcessTransportFactory(createFakeHost(WORLD).device));
    const want = json(await everyFunction(tap, { path: "hypercall" })) as { results: unknown[] };
    const results = (got as unknown as { results: unknown[] }).results;
    // Known gap: the shim sends no contents at all when one buffer exceeds 4096 bytes (docs/protocol.md
    // allows both forms for HYPERCALL), so buffer 0 of this hostile track_dirty_vram faults (EFAULT)
    // where the in-process fake, like Xen, refuses nr first (EINVAL).
    const hostile = want.results.indexOf("xendevicemodel_track_dirty_vram: EINVAL");
    expect(hostile).toBeGreaterThan(0);
    expect(results[hostile]).toMatch(/xendevicemodel_track_dirty_vram: E(INVAL|FAULT)/);
    results[hostile] = want.results[hostile];
    expect({ path: got.path, results }).toEqual(want);
    const notHostile = (c: unknown): boolean => !JSON.stringify(c).includes('"0700000000000000f8ffffff');
    expect(got.calls.slice(1).filter(notHostile)).toEqual((json(tap.calls) as unknown[]).filter(notHostile));
  });
});

describe.skipIf(!present)("the real libxendevicemodel under the shim, recorded and replayed", () => {
  it("a conformance run recorded by serve --record replays without divergence", async (ctx) => {
    if (!existsSync(CONFORMANCE)) {
      const msg = `${CONFORMANCE} not built (needs libxen-dev: make -C native)`;
      if (process.env.CI === "true") throw new Error(msg);
      console.warn(`SKIPPING conformance record/replay: ${msg}`);
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "xendm-rec-"));
    const file = join(dir, "trace.jsonl");
    const world = { format: 1, domains: [{ domid: 1, type: "hvm" as const }] };
    const trace = new TraceWriter(file, { xendm_trace: TRACE_FORMAT, world });
    const s = await serve(world, trace);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(CONFORMANCE, ["all", "1"], { env: { ...process.env, LD_PRELOAD: SHIM, XENDM_SOCKET: s.path }, stdio: ["ignore", "pipe", "pipe"] });
      let o = "";
      child.stdout.on("data", (d: Buffer) => { o += d.toString(); });
      child.on("exit", (code) => { if (code === 0) resolve(o); else reject(new Error(`conformance exited ${code}`)); });
    });
    await s.stop();
    trace.close();
    const calls = out.trim().split("\n").map((l) => JSON.parse(l) as { fn: string; rc: number });
    expect(calls.find((c) => c.fn === "xendevicemodel_nr_vcpus")).toMatchObject({ rc: 0, out: { vcpus: 2 } });
    const r = replayTrace(file);
    expect(r.divergence).toBeUndefined();
    expect(r.calls).toBeGreaterThan(60);
  });
});
