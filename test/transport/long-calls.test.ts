// Long calls in the server: a DMOP that continues (hypercall continuations) runs a slice at a time and
// the other connections are served between its slices; its own connection's later frames wait for it;
// a connection closing mid-call abandons it; the call is recorded once, with its final result.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import { FrameReader, Kind, encodeRequest, frame, parseCallReply, type RawFrame } from "../../src/transport/protocol.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { replayTrace } from "../../src/transport/replay.js";
import { XendmServer, type ServerOptions } from "../../src/transport/server.js";
import { SocketTransport } from "../../src/transport/socket.js";
import { TRACE_FORMAT, TraceWriter, type TraceCall } from "../../src/transport/trace.js";
import { RawFastClient } from "./fastpath-raw.js";

const WORLD: WorldConfig = { preempt: "always", domains: [{ domid: 1 }] };
const RELOCATE = 17, NR_VCPUS = 20;
const PAGES = 0x7000;

/** relocate_memory of PAGES pages from 0x100 to 0x20000: one pass per page with preempt "always". */
function relocateOp(pages = PAGES, dst = 0x20000n): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, RELOCATE, true);
  dv.setUint32(8, pages, true);
  dv.setBigUint64(16, 0x100n, true);
  dv.setBigUint64(24, dst, true);
  return b;
}
function nrVcpusOp(): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = NR_VCPUS;
  return b;
}

/** What the synchronous path gives for the relocation on a fresh host: rc, bytes written back, p2m. */
function syncRelocation(): { rc: number; out: string; p2m: unknown; passes: number } {
  const hv = new Hypervisor(WORLD);
  const b = relocateOp();
  const rc = hv.dm_op(0, 1, [{ bytes: b }]);
  return { rc, out: Buffer.from(b).toString("hex"), p2m: p2mState(hv), passes: hv.lastPasses };
}
function p2mState(hv: Hypervisor): unknown {
  const p = hv.domain(1)!.p2m;
  return { src: p.ranges(0x0, 0x8000), dst: p.ranges(0x20000, 0x28000) };
}

let dir: string;
let path: string;
let hv: Hypervisor;
let server: XendmServer | undefined;

async function start(opts: Partial<ServerOptions> = {}, world: WorldConfig = WORLD): Promise<XendmServer> {
  const host = createFakeHost(world);
  hv = host.hv;
  server = new XendmServer({ hv, device: host.device, sharedMemory: false, ...opts });
  await server.listen(path);
  return server;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "xendm-long-"));
  path = join(dir, "s.sock");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** B's nr_vcpus calls, one after the other, until `stop()` is true; the log gets "B" per reply. */
async function shortCalls(t: SocketTransport, log: string[], stop: () => boolean): Promise<number> {
  let n = 0;
  while (!stop()) {
    const r = await t.dmOp(1, [{ bytes: nrVcpusOp() }]);
    expect(r.ret).toBe(0);
    expect(new DataView(r.bufs[0]!.buffer, r.bufs[0]!.byteOffset).getUint32(8, true)).toBe(2);
    log.push("B");
    n++;
  }
  return n;
}

describe("long calls in the server", () => {
  it("another connection's DMOPs are answered while a preempted relocate_memory runs; its result is the synchronous one", async () => {
    await start();
    const want = syncRelocation();
    expect(want.rc).toBe(0);
    expect(want.passes).toBe(PAGES);
    const a = await SocketTransport.connect(path);
    const b = await SocketTransport.connect(path);
    const log: string[] = [];
    let aDone = false;
    const op = relocateOp();
    const t0 = performance.now();
    const aCall = a.dmOp(1, [{ bytes: op }]).then((r) => { aDone = true; log.push("A"); return r; });
    const served = await shortCalls(b, log, () => aDone);
    const ra = await aCall;
    const took = performance.now() - t0;
    // B was answered many times before A's reply came; A's reply is the last thing in the log
    expect(served).toBeGreaterThanOrEqual(10);
    expect(log.indexOf("A")).toBeGreaterThanOrEqual(10);
    expect(took).toBeGreaterThan(2); // it did take several slices
    expect(ra.ret).toBe(want.rc);
    expect(Buffer.from(ra.bufs[0]!).toString("hex")).toBe(want.out);
    expect(Buffer.from(op).toString("hex")).toBe(want.out);
    expect(p2mState(hv)).toEqual(want.p2m);
    expect(hv.explain()).toBeNull();
    await a.close();
    await b.close();
  });

  it("on its own connection the frames after a long call wait for it; replies keep the request order", async () => {
    await start();
    const a = await SocketTransport.connect(path);
    const order: string[] = [];
    // pipelined: the relocation, then a short call and a raw dm_op hypercall on the same connection
    const p1 = a.dmOp(1, [{ bytes: relocateOp() }]).then((r) => { order.push("relocate"); return r; });
    const p2 = a.dmOp(1, [{ bytes: nrVcpusOp() }]).then((r) => { order.push("nr_vcpus"); return r; });
    const p3 = a.hypercall(41, [1, 1, 0], [{ bytes: nrVcpusOp() }]).then((r) => { order.push("hypercall"); return r; });
    const [r1, r2, r3] = await Promise.all([p1, p2, p3]);
    expect(order).toEqual(["relocate", "nr_vcpus", "hypercall"]);
    expect([r1.ret, r2.ret, r3.ret]).toEqual([0, 0, 0]);
    expect(p2mState(hv)).toEqual(syncRelocation().p2m);
    await a.close();
  });

  it("a raw dm_op hypercall continues in slices too", async () => {
    await start();
    const a = await SocketTransport.connect(path);
    const b = await SocketTransport.connect(path);
    const log: string[] = [];
    let aDone = false;
    const aCall = a.hypercall(41, [1, 1, 0], [{ bytes: relocateOp() }]).then((r) => { aDone = true; log.push("A"); return r; });
    const served = await shortCalls(b, log, () => aDone);
    const r = await aCall;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(r.ret).toBe(0);
    expect(Buffer.from(r.bufs[0]!).toString("hex")).toBe(syncRelocation().out);
    await a.close();
    await b.close();
  });

  it("a connection closed mid-call abandons it: no more passes, the server goes on", async () => {
    const s = await start();
    const sock = connect(path);
    await new Promise<void>((resolve) => sock.once("connect", resolve));
    sock.on("error", () => undefined);
    const hello = frame(Kind.HELLO, 1, new Uint8Array([0, 0, 0, 0, 0x74]));
    const { kind, body } = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: relocateOp() }] });
    sock.write(Buffer.concat([hello, frame(kind, 2, body)]));
    // wait until the call is under way, then go
    const t0 = Date.now();
    while (hv.preemptHook.count < 200 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 1));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 30));
    const stopped = hv.preemptHook.count;
    expect(stopped).toBeGreaterThan(0);
    expect(stopped).toBeLessThan(PAGES - 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(hv.preemptHook.count).toBe(stopped);
    expect(s.stats.open).toBe(0);
    // the pages moved before the close stay moved, the rest stay where they were
    const p = hv.domain(1)!.p2m;
    expect(p.typeOf(0x20000)).toBe("ram_rw");
    expect(p.typeOf(0x100 + PAGES - 1)).toBe("ram_rw");
    const b = await SocketTransport.connect(path);
    expect((await b.dmOp(1, [{ bytes: nrVcpusOp() }])).ret).toBe(0);
    await b.close();
  });

  it("records a call abandoned mid-way with the passes it made; replay makes the same passes and leaves the same state", async () => {
    const file = join(dir, "t.jsonl");
    const trace = new TraceWriter(file, { xendm_trace: TRACE_FORMAT, world: WORLD });
    await start({ trace });
    const b = await SocketTransport.connect(path);
    const sock = connect(path);
    await new Promise<void>((resolve) => sock.once("connect", resolve));
    sock.on("error", () => undefined);
    const { kind, body } = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: relocateOp() }] });
    sock.write(Buffer.concat([frame(Kind.HELLO, 1, new Uint8Array([0, 0, 0, 0, 0x74])), frame(kind, 2, body)]));
    const t0 = Date.now();
    while (hv.preemptHook.count < 300 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 1));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 30));
    expect((await b.dmOp(1, [{ bytes: nrVcpusOp() }])).ret).toBe(0);
    await b.close();
    const made = hv.preemptHook.count;
    const state = p2mState(hv);
    await server!.close();
    server = undefined;
    trace.close();
    const lines = readFileSync(file, "utf8").trim().split("\n").slice(1).map((l) => JSON.parse(l) as TraceCall);
    const left = lines.filter((l) => l.kind === "abandoned");
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ of: "dm_op", dom: 1, num: 1, passes: made });
    expect(made).toBeGreaterThan(1);
    expect(made).toBeLessThan(PAGES);
    expect(lines.findIndex((l) => l.kind === "abandoned")).toBeLessThan(lines.findIndex((l) => l.kind === "close"));
    const again = createFakeHost(WORLD);
    expect(replayTrace(file, again.device).divergence).toBeUndefined();
    expect(p2mState(again.hv)).toEqual(state);
    expect(again.hv.preemptHook.count).toBe(made);
    // a recording that claims other passes diverges
    const text = readFileSync(file, "utf8").replace(`"passes":${made}`, `"passes":${made + 1}`);
    writeFileSync(file, text);
    expect(replayTrace(file).divergence).toMatchObject({ kind: "abandoned", field: "out" });
  });

  it("the frame timer does not run while the connection waits for its call: a frame split around it is served", async () => {
    // RAM from pfn 0x100 to 0x7ffff: a relocation of 0xffff pages (the most one call moves), one pass per page
    await start({ frameTimeoutMs: 20 }, { preempt: "always", domains: [{ domid: 1, ram: [[0x100, 0x7ffff]] }] });
    const big = 0xffff;
    const sock = connect(path);
    await new Promise<void>((resolve) => sock.once("connect", resolve));
    const reader = new FrameReader();
    const got: RawFrame[] = [];
    sock.on("data", (d: Buffer) => { got.push(...reader.push(new Uint8Array(d))); });
    let closed = false;
    sock.on("close", () => { closed = true; });
    const hello = frame(Kind.HELLO, 1, new Uint8Array([0, 0, 0, 0, 0x74]));
    const long = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: relocateOp(big, 0x100000n) }] });
    const short = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: nrVcpusOp() }] });
    const shortFrame = frame(short.kind, 3, short.body);
    const longFrame = frame(long.kind, 2, long.body);
    // the long call split over two writes (the frame timer starts at the first), half of the next
    // frame after it, the other half well after frameTimeoutMs
    sock.write(Buffer.concat([hello, longFrame.subarray(0, 10)]));
    await new Promise((r) => setTimeout(r, 2));
    sock.write(Buffer.concat([longFrame.subarray(10), shortFrame.subarray(0, 10)]));
    await new Promise((r) => setTimeout(r, 30));
    const running = hv.preemptHook.count;
    sock.write(shortFrame.subarray(10));
    const t0 = Date.now();
    while (got.length < 3 && !closed && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    sock.destroy();
    expect(running).toBeLessThan(big - 1); // the second half came while the call still ran
    expect(got.map((f) => [f.kind, f.seq])).toEqual([[Kind.HELLO | 0x80, 1], [Kind.DM_OP | 0x80, 2], [Kind.DM_OP | 0x80, 3]]);
    expect(parseCallReply(got[1]!.body).ret).toBe(0);
    expect(parseCallReply(got[2]!.body).ret).toBe(0);
  });

  it("refuses a callSliceMs that is not a number of ms >= 0", () => {
    const { hv: h, device } = createFakeHost(WORLD);
    for (const bad of [-1, Number.NaN]) {
      expect(() => new XendmServer({ hv: h, device, sharedMemory: false, callSliceMs: bad })).toThrow(/callSliceMs must be a number of ms >= 0/);
    }
  });

  it("records a long call once, with its final result, and the trace replays", async () => {
    const file = join(dir, "t.jsonl");
    const trace = new TraceWriter(file, { xendm_trace: TRACE_FORMAT, world: WORLD });
    await start({ trace });
    const a = await SocketTransport.connect(path);
    const b = await SocketTransport.connect(path);
    let aDone = false;
    const aCall = a.dmOp(1, [{ bytes: relocateOp() }]).then((r) => { aDone = true; return r; });
    const served = await shortCalls(b, [], () => aDone);
    const r = await aCall;
    await a.close();
    await b.close();
    await server!.close();
    server = undefined;
    trace.close();
    const lines = readFileSync(file, "utf8").trim().split("\n").slice(1).map((l) => JSON.parse(l) as TraceCall);
    const relocations = lines.filter((l) => l.kind === "dm_op" && l.bufs[0]!.in!.startsWith("11000000"));
    expect(relocations).toHaveLength(1);
    expect(relocations[0]).toMatchObject({ ret: 0, errno: 0, out: [syncRelocation().out] });
    expect(r.ret).toBe(0);
    expect(lines.filter((l) => l.kind === "dm_op")).toHaveLength(served + 1);
    expect(replayTrace(file)).toEqual({ calls: lines.filter((l) => l.kind !== "close").length });
  });

  it("through the fast-path region: the reply comes in the region once the call returned; others are served meanwhile", async () => {
    await start();
    const fc = await RawFastClient.open(path);
    const b = await SocketTransport.connect(path);
    try {
      const log: string[] = [];
      let aDone = false;
      const aCall = fc.call({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: relocateOp() }] }, { wait: true })
        .then((f) => { aDone = true; log.push("A"); return f; });
      const served = await shortCalls(b, log, () => aDone);
      const f = await aCall;
      expect(served).toBeGreaterThanOrEqual(10);
      const r = parseCallReply(f.body);
      expect(r.ret).toBe(0);
      expect(Buffer.from(r.bufs[0]!).toString("hex")).toBe(syncRelocation().out);
      expect(p2mState(hv)).toEqual(syncRelocation().p2m);
    } finally {
      fc.close();
      await b.close();
    }
  });
});
