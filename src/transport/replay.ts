// Replays a trace written by `xendm serve --record` on a fresh fake with the same world, and reports
// the first call whose result or buffers differ.
import { readFileSync } from "node:fs";
import type { PrivcmdDevice } from "../privcmd/index.js";
import { createFakeHost } from "./fake.js";
import { Kind, type Request, type WireBuf } from "./protocol.js";
import { Connection, PendingCall } from "./connection.js";
import { TRACE_FORMAT, unhex, type TraceAbandoned, type TraceBuf, type TraceCall, type TraceHeader } from "./trace.js";
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
    calls.push({ line: i + 1, call: checkCall(v, `${path}:${i + 1}`) });
  });
  if (header === undefined) throw new Error(`${path}: empty trace`);
  return { header, calls };
}

type FieldKind = "int" | "string" | "u64" | "bufs" | "u64s" | "hexes";

/** The fields each kind of trace line must carry (what replay reads), with their kinds. */
const CALL_FIELDS: Readonly<Record<string, Readonly<Record<string, FieldKind>>>> = {
  hello: { caller: "int", abi: "int", name: "string" },
  dm_op: { dom: "int", num: "int", bufs: "bufs", ret: "int", errno: "int", out: "hexes" },
  restrict: { dom: "int", flags: "int", ret: "int", errno: "int" },
  hypercall: { op: "u64", args: "u64s", bufs: "bufs", ret: "int", errno: "int", out: "hexes" },
  abandoned: { of: "string", bufs: "bufs", passes: "int", out: "hexes" },
  close: {},
  error: { code: "int", message: "string" },
};

const U64_RE = /^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/;
const isU64 = (x: unknown): boolean => typeof x === "string" && U64_RE.test(x) && BigInt(x) < 1n << 64n;
const isHex = (x: unknown): boolean => typeof x === "string" && /^([0-9a-fA-F]{2})*$/.test(x);
const isBuf = (b: unknown): boolean => {
  if (typeof b !== "object" || b === null) return false;
  const r = b as Record<string, unknown>;
  return isU64(r.size) && Number.isInteger(r.flags) && (r.in === null || isHex(r.in));
};
const FIELD_OK: Readonly<Record<FieldKind, (x: unknown) => boolean>> = {
  int: (x) => Number.isSafeInteger(x),
  string: (x) => typeof x === "string",
  u64: isU64,
  bufs: (x) => Array.isArray(x) && x.every(isBuf),
  u64s: (x) => Array.isArray(x) && x.every(isU64),
  hexes: (x) => Array.isArray(x) && x.every(isHex),
};
const FIELD_WANT: Readonly<Record<FieldKind, string>> = {
  int: "an integer", string: "a string", u64: "a u64 as a decimal or 0x string",
  bufs: "a list of {size, flags, in}", u64s: "a list of u64 strings", hexes: "a list of hex strings",
};

/** A trace line checked against CALL_FIELDS: an incomplete or mistyped line names its field. */
function checkCall(v: unknown, where: string): TraceCall {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${where}: not a trace call (expected an object)`);
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r.conn)) throw new Error(`${where}: not a trace call: "conn" must be an integer`);
  const kind = r.kind;
  const fields = typeof kind === "string" && Object.hasOwn(CALL_FIELDS, kind) ? CALL_FIELDS[kind]! : undefined;
  if (fields === undefined) throw new Error(`${where}: not a trace call: unknown kind ${JSON.stringify(kind)} (one of ${Object.keys(CALL_FIELDS).join(", ")})`);
  checkFields(r, fields, String(kind), where);
  if (kind === "abandoned") {
    // the abandoned call's own request fields
    const of = r.of;
    if (of !== "dm_op" && of !== "hypercall") throw new Error(`${where}: abandoned line: "of" must be "dm_op" or "hypercall", got ${JSON.stringify(of)}`);
    const { bufs: _b, ret: _r, errno: _e, out: _o, ...own } = CALL_FIELDS[of]!;
    checkFields(r, own, "abandoned", where);
  }
  return v as TraceCall;
}

function checkFields(r: Record<string, unknown>, fields: Readonly<Record<string, FieldKind>>, kind: string, where: string): void {
  for (const [name, fk] of Object.entries(fields)) {
    if (!(name in r)) throw new Error(`${where}: incomplete ${kind} line: "${name}" is missing`);
    if (!FIELD_OK[fk](r[name])) throw new Error(`${where}: ${kind} line: "${name}" must be ${FIELD_WANT[fk]}, got ${JSON.stringify(r[name])}`);
  }
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
    case "abandoned": return c.of === "dm_op" ? request({ ...c, kind: "dm_op", ret: 0, errno: 0 }, where) : request({ ...c, kind: "hypercall", ret: 0, errno: 0 }, where);
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
    n++;
    if (call.kind === "abandoned") {
      const d = replayAbandoned(s, req, call);
      if (d !== undefined) return { calls: n, divergence: { line, conn: call.conn, kind: call.kind, ...d } };
      continue;
    }
    const got = s.execute(req, 0, true).trace;
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

/**
 * An abandoned call again: the same passes (the server makes at least two before a call can be left),
 * then abandoned; what differs from the recording, or undefined.
 */
function replayAbandoned(s: Connection, req: Request, call: TraceAbandoned): Pick<Divergence, "field" | "recorded" | "replayed"> | undefined {
  const r = s.start(req, 0, true, 0);
  if (!(r instanceof PendingCall)) return { field: "passes", recorded: call.passes, replayed: "returned in its first slice" };
  while (r.passes < call.passes) {
    if (r.step() !== undefined) return { field: "passes", recorded: call.passes, replayed: `returned after ${r.passes}` };
  }
  const left = r.abandon();
  if (r.passes !== call.passes) return { field: "passes", recorded: call.passes, replayed: r.passes };
  if (JSON.stringify(left?.out) !== JSON.stringify(call.out)) return { field: "out", recorded: call.out, replayed: left?.out };
  return undefined;
}
