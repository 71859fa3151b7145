// One connection's state: its privcmd file handle (opened as the HELLO's caller) and the execution of
// requests against it. Socket-free, so `xendm replay` runs recorded calls through the same code.
import type { DmOpBuf, PrivcmdDevice, PrivcmdHandle, IoctlResult } from "../privcmd/index.js";
import {
  DESC_UNREADABLE, ErrorCode, Kind, PROTOCOL_VERSION, ProtocolError, REPLY_BIT, dmOpContentsSent, encodeCallReply,
  encodeHelloReply, encodeRestrictReply, type Request, type WireBuf,
} from "./protocol.js";
import { hex, type TraceBuf, type TraceCall } from "./trace.js";

export const SERVER_NAME = "xendm-serve";
const SIZE_CAP = BigInt(Number.MAX_SAFE_INTEGER);

export interface Reply {
  kind: number;
  body: Uint8Array;
  /** Close the connection after sending. */
  close?: boolean;
}

export interface Executed {
  reply: Reply;
  /** What `--record` writes for this request (nothing for BYE). */
  trace?: TraceCall;
}

function toDmOpBuf(d: WireBuf): DmOpBuf {
  const size = d.size > SIZE_CAP ? Number(SIZE_CAP) : Number(d.size);
  if ((d.flags & DESC_UNREADABLE) !== 0) return { bytes: new Uint8Array(0), size, fault: { read: true, write: true } };
  return { bytes: d.bytes ?? new Uint8Array(0), size };
}

function traceBufs(bufs: readonly WireBuf[]): TraceBuf[] {
  return bufs.map((d) => ({ size: d.size.toString(), flags: d.flags, in: d.bytes === undefined ? null : hex(d.bytes) }));
}

function split(r: IoctlResult): { ret: number; errno: number } {
  return { ret: r.ret, errno: "errno" in r ? r.errno : 0 };
}

export class Session {
  caller = 0;
  abi = 0;
  #handle: PrivcmdHandle | undefined;
  #requests = 0;

  constructor(readonly id: number, private readonly device: PrivcmdDevice) {}

  get handle(): PrivcmdHandle {
    this.#handle ??= this.device.open(this.caller);
    return this.#handle;
  }

  /**
   * Runs one parsed request. Throws ProtocolError for a request out of place. With `record`, also
   * returns the trace line (hex of the buffers before and after).
   */
  execute(req: Request, seq: number, record = false): Executed {
    const first = this.#requests++ === 0;
    switch (req.kind) {
      case Kind.HELLO: {
        if (!first) throw new ProtocolError(ErrorCode.BAD_FRAME, "HELLO must be the first frame", seq);
        this.caller = req.caller;
        this.abi = req.abi;
        return {
          reply: { kind: Kind.HELLO | REPLY_BIT, body: encodeHelloReply({ protocol_version: PROTOCOL_VERSION, features: 0, name: SERVER_NAME }) },
          trace: { conn: this.id, kind: "hello", caller: req.caller, abi: req.abi, name: req.name },
        };
      }
      case Kind.DM_OP: {
        const before = record ? traceBufs(req.bufs) : [];
        const bufs = req.bufs.map(toDmOpBuf);
        const r = split(this.handle.dm_op(req.dom, req.num, bufs));
        // The buffers as they are after the call, when their contents travelled.
        const out = dmOpContentsSent(req.bufs) ? bufs.map((b) => b.bytes) : [];
        return {
          reply: { kind: Kind.DM_OP | REPLY_BIT, body: encodeCallReply({ ...r, bufs: out }) },
          ...(record ? { trace: { conn: this.id, kind: "dm_op", dom: req.dom, num: req.num, bufs: before, ...r, out: out.map(hex) } } : {}),
        };
      }
      case Kind.RESTRICT: {
        const r = (req.flags & DESC_UNREADABLE) !== 0 ? { ret: -1, errno: 14 } : split(this.handle.restrict(req.dom));
        return {
          reply: { kind: Kind.RESTRICT | REPLY_BIT, body: encodeRestrictReply(r.ret, r.errno) },
          trace: { conn: this.id, kind: "restrict", dom: req.dom, flags: req.flags, ...r },
        };
      }
      case Kind.HYPERCALL: {
        const before = record ? traceBufs(req.bufs) : [];
        const bufs = req.bufs.map(toDmOpBuf);
        const r = split(this.handle.hypercall(req.op, req.args, bufs));
        const out = req.bufs.some((d) => d.bytes !== undefined) ? req.bufs.map((d, i) => (d.bytes !== undefined ? bufs[i]!.bytes : new Uint8Array(0))) : [];
        return {
          reply: { kind: Kind.HYPERCALL | REPLY_BIT, body: encodeCallReply({ ...r, bufs: out }) },
          ...(record ? {
            trace: {
              conn: this.id, kind: "hypercall", op: req.op.toString(), args: req.args.map((a) => a.toString()),
              bufs: before, ...r, out: out.map(hex),
            },
          } : {}),
        };
      }
      case Kind.BYE:
        return { reply: { kind: Kind.BYE | REPLY_BIT, body: new Uint8Array(0), close: true } };
    }
  }

  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
  }
}
