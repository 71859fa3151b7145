// The check on a recorded trace (`xendm serve --record`, `xendm exec --record`): every DM_OP and
// HYPERCALL(dm_op) line, with its connection's ABI from the HELLO line, checked and counted.
import { readTrace } from "../transport/replay.js";
import { Kind, type DmOpRequest, type HypercallRequest, type WireBuf } from "../transport/protocol.js";
import { unhex, type TraceBuf } from "../transport/trace.js";
import type { Conformance } from "./check.js";
import { sentCall } from "./observer.js";
import type { ConformReport } from "./report.js";

function wire(bufs: readonly TraceBuf[], where: string): WireBuf[] {
  return bufs.map((b, i) => {
    const w: WireBuf = { size: BigInt(b.size), flags: b.flags };
    if (b.in !== null) w.bytes = unhex(b.in, `${where}.bufs[${i}].in`);
    return w;
  });
}

/** Checks every call of the trace at `path` into `report`; `warn` gets the warning lines. */
export function checkTrace(path: string, check: Conformance, report: ConformReport, warn?: (line: string) => void): void {
  const abi = new Map<number, number>();
  for (const { line, call } of readTrace(path).calls) {
    if (call.kind === "hello") abi.set(call.conn, call.abi);
    let req: DmOpRequest | HypercallRequest;
    const where = `${path}:${line}`;
    if (call.kind === "dm_op") req = { kind: Kind.DM_OP, dom: call.dom, num: call.num, bufs: wire(call.bufs, where) };
    else if (call.kind === "hypercall") req = { kind: Kind.HYPERCALL, op: BigInt(call.op), args: call.args.map((a) => BigInt(a)), bufs: wire(call.bufs, where) };
    else continue;
    const sent = sentCall(abi.get(call.conn) ?? 0, req);
    if (sent === undefined) continue;
    const lines = report.record(check.check(sent), { conn: call.conn, path: `${sent.path} (line ${line})` });
    if (warn !== undefined) for (const l of lines) warn(l);
  }
}
