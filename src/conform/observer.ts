// The conformance check on a server's connections: each DM_OP and HYPERCALL(__HYPERVISOR_dm_op)
// request, as the connection received it, is checked and counted; warnings go to `warn`. Strict:
// a differing call is answered -1/EINVAL and not run (whether or not Xen would have accepted it).
import { errno } from "../../abi/xen/errno.js";
import { __HYPERVISOR_dm_op } from "../../abi/xen/xen.js";
import type { CallObserver } from "../transport/connection.js";
import { DESC_UNREADABLE, Kind, type DmOpRequest, type HypercallRequest, type WireBuf } from "../transport/protocol.js";
import { ABI_BY_NUMBER, type Conformance } from "./check.js";
import type { ConformReport } from "./report.js";
import type { SentBuf, SentCall, Verdict } from "./types.js";

export interface ConformObserverOptions {
  check: Conformance;
  report: ConformReport;
  /** Receives each warning line (the first few of each kind). */
  warn?: (line: string) => void;
}

function sentBufs(bufs: readonly WireBuf[]): SentBuf[] {
  const out = new Array<SentBuf>(bufs.length);
  for (let i = 0; i < bufs.length; i++) {
    const d = bufs[i]!;
    const unreadable = (d.flags & DESC_UNREADABLE) !== 0;
    out[i] = d.bytes === undefined ? { size: d.size, unreadable } : { size: d.size, unreadable, bytes: d.bytes };
  }
  return out;
}

/** A request as the check sees it; undefined for hypercalls other than dm_op. */
export function sentCall(abi: number, req: DmOpRequest | HypercallRequest): SentCall | undefined {
  const arch = ABI_BY_NUMBER[abi] ?? "x86_64";
  if (req.kind === Kind.DM_OP) return { path: "ioctl", abi: arch, dom: req.dom, num: req.num, bufs: sentBufs(req.bufs) };
  if (req.op !== BigInt(__HYPERVISOR_dm_op)) return undefined;
  const a1 = req.args[1] ?? 0n;
  return {
    path: "hypercall", abi: arch, dom: Number((req.args[0] ?? 0n) & 0xffffn),
    num: a1 > 0xffffn ? 0xffff : Number(a1), bufs: sentBufs(req.bufs), args: req.args,
  };
}

export function conformObserver(opts: ConformObserverOptions): CallObserver {
  const { check, report, warn } = opts;
  return (conn, req) => {
    const call = sentCall(conn.abi, req);
    if (call === undefined) return undefined;
    let v: Verdict;
    try {
      v = check.check(call);
    } catch (e) {
      // A fault in the check itself must not cost the program its call: counted, named, and run.
      v = { status: "unchecked", op: "(check failed)", reason: `the conformance check failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    const lines = report.record(v, { conn: conn.id, path: call.path });
    if (warn !== undefined) for (const l of lines) warn(l);
    return v.status === "differs" && report.strict ? errno.EINVAL : undefined;
  };
}
