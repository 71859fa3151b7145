// Replays a trace written by `xendm serve --record` on a fresh fake with the same world, and reports
// the first call whose result or buffers differ.
import { readFileSync } from "node:fs";
import type { PrivcmdDevice } from "../privcmd/index.js";
import { createFakeHost } from "./fake.js";
import { Kind, type Request, type WireBuf } from "./protocol.js";
import { Connection } from "./connection.js";
import { TRACE_FORMAT, unhex, type TraceBuf, type TraceCall, type TraceHeader } from "./trace.js";
import { worldOf } from "./world-file.js";

export interface Divergence {
  /** 1-based line number in the trace file. */
  line: number;
  conn: number;
  kind: string;
  field: string;
  recorded: unknown;
  replayed: unknown;
}

export interface ReplayResult {
  calls: number;
  divergence?: Divergence;
}

export function readTrace(path: string): { header: TraceHeader; calls: { line: number; call: TraceCall }[] } {
  const lines = readFileSync(path, "utf8").split("\n");
  let header: TraceHeader | undefined;
  const calls: { line: number; call: TraceCall }[] = [];
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (i === 0) {
      const h = v as Partial<TraceHeader>;
      if (h.xendm_trace !== TRACE_FORMAT) throw new Error(`${path}:1: not an xendm trace (format ${TRACE_FORMAT})`);
      header = h as TraceHeader;
      return;
    }
    const c = v as TraceCall;
    if (typeof c !== "object" || typeof c.conn !== "number" || typeof c.kind !== "string") throw new Error(`${path}:${i + 1}: not a trace call`);
    calls.push({ line: i + 1, call: c });
  });
  if (header === undefined) throw new Error(`${path}: empty trace`);
  return { header, calls };
}

function wire(bufs: readonly TraceBuf[], what: string): WireBuf[] {
  return bufs.map((b, i) => {
    const w: WireBuf = { size: BigInt(b.size), flags: b.flags };
    if (b.in !== null) w.bytes = unhex(b.in, `${what}.bufs[${i}].in`);
    return w;
  });
}

function request(c: TraceCall, where: string): Request | undefined {
  switch (c.kind) {
    case "hello": return { kind: Kind.HELLO, caller: c.caller, abi: c.abi, name: c.name };
    case "dm_op": return { kind: Kind.DM_OP, dom: c.dom, num: c.num, bufs: wire(c.bufs, where) };
    case "restrict": return { kind: Kind.RESTRICT, dom: c.dom, flags: c.flags };
    case "hypercall": return { kind: Kind.HYPERCALL, op: BigInt(c.op), args: c.args.map((a) => BigInt(a)), bufs: wire(c.bufs, where) };
    default: return undefined;
  }
}

/** Re-runs every call in order; connections keep their own privcmd handles as when recorded. */
export function replayTrace(path: string, device?: PrivcmdDevice): ReplayResult {
  const { header, calls } = readTrace(path);
  const dev = device ?? createFakeHost(worldOf(header.world, `${path}: world`)).device;
  const conns = new Map<number, Connection>();
  let n = 0;
  for (const { line, call } of calls) {
    const where = `${path}:${line}`;
    if (call.kind === "close") {
      conns.get(call.conn)?.close();
      conns.delete(call.conn);
      continue;
    }
    const req = request(call, where);
    if (req === undefined) continue; // error lines: the frame never reached the device
    let s = conns.get(call.conn);
    if (s === undefined) {
      s = new Connection(call.conn, dev);
      conns.set(call.conn, s);
    }
    const got = s.execute(req, 0, true).trace;
    n++;
    if (got === undefined) continue;
    for (const field of ["ret", "errno", "out"] as const) {
      const rec = (call as Record<string, unknown>)[field];
      const rep = (got as Record<string, unknown>)[field];
      if (JSON.stringify(rec) !== JSON.stringify(rep)) {
        return { calls: n, divergence: { line, conn: call.conn, kind: call.kind, field, recorded: rec, replayed: rep } };
      }
    }
  }
  for (const s of conns.values()) s.close();
  return { calls: n };
}
