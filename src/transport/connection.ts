// One connection's state: its privcmd file handle (opened as the HELLO's caller) and the execution of
// requests against it. Socket-free, so `xendm replay` runs recorded calls through the same code.
import type { DmOpBuf, PrivcmdDevice, PrivcmdHandle, IoctlResult } from "../privcmd/index.js";
import {
  DESC_UNREADABLE, ErrorCode, Kind, PROTOCOL_VERSION, ProtocolError, REPLY_BIT, dmOpContentsSent, encodeCallReply,
  encodeHelloReply, encodeRestrictReply, type Request, type WireBuf,
} from "./protocol.js";
import { hex, type TraceBuf, type TraceCall } from "./trace.js";

const EFAULT = 14;

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

export class Connection {
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
    const handler = HANDLERS[req.kind] as Handler<Request>;
    return handler(this, req, { seq, record, first });
  }

  /** HELLO: the connection's calling domain and ABI; the handle opens with them on first use. */
  hello(caller: number, abi: number): void {
    this.caller = caller;
    this.abi = abi;
  }

  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
  }
}

interface Ctx {
  seq: number;
  record: boolean;
  first: boolean;
}
type Handler<R extends Request> = (s: Connection, req: R, ctx: Ctx) => Executed;
type Handlers = { [K in Request["kind"]]: Handler<Extract<Request, { kind: K }>> };

const reply = (kind: number, body: Uint8Array, close = false): Reply => ({ kind: kind | REPLY_BIT, body, ...(close ? { close } : {}) });

/**
 * One handler per request kind. New kinds (event channels 0x10-0x1f, mappings 0x20-0x2f, other
 * hypercalls 0x30-0x3f, xenstore 0x40-0x4f) are a parser in protocol.ts and an entry here.
 */
const HANDLERS: Handlers = {
  [Kind.HELLO]: (s, req, { seq, first }) => {
    if (!first) throw new ProtocolError(ErrorCode.BAD_FRAME, "HELLO must be the first frame", seq);
    s.hello(req.caller, req.abi);
    return {
      reply: reply(Kind.HELLO, encodeHelloReply({ protocol_version: PROTOCOL_VERSION, features: 0, name: SERVER_NAME })),
      trace: { conn: s.id, kind: "hello", caller: req.caller, abi: req.abi, name: req.name },
    };
  },

  // IOCTL_PRIVCMD_DM_OP through the privcmd layer (the kernel's checks), then the hypervisor.
  [Kind.DM_OP]: (s, req, { record }) => {
    const before = record ? traceBufs(req.bufs) : [];
    const bufs = req.bufs.map(toDmOpBuf);
    const r = split(s.handle.dm_op(req.dom, req.num, bufs));
    // The buffers as they are after the call, when their contents travelled.
    const out = dmOpContentsSent(req.bufs) ? bufs.map((b) => b.bytes) : [];
    return {
      reply: reply(Kind.DM_OP, encodeCallReply({ ...r, bufs: out })),
      ...(record ? { trace: { conn: s.id, kind: "dm_op", dom: req.dom, num: req.num, bufs: before, ...r, out: out.map(hex) } } : {}),
    };
  },

  [Kind.RESTRICT]: (s, req) => {
    const r = (req.flags & DESC_UNREADABLE) !== 0 ? { ret: -1, errno: EFAULT } : split(s.handle.restrict(req.dom));
    return {
      reply: reply(Kind.RESTRICT, encodeRestrictReply(r.ret, r.errno)),
      trace: { conn: s.id, kind: "restrict", dom: req.dom, flags: req.flags, ...r },
    };
  },

  [Kind.HYPERCALL]: (s, req, { record }) => {
    const before = record ? traceBufs(req.bufs) : [];
    const bufs = req.bufs.map(toDmOpBuf);
    const r = split(s.handle.hypercall(req.op, req.args, bufs));
    const sent = req.bufs.some((d) => d.bytes !== undefined);
    const out = sent ? req.bufs.map((d, i) => (d.bytes !== undefined ? bufs[i]!.bytes : new Uint8Array(0))) : [];
    const trace: TraceCall = {
      conn: s.id, kind: "hypercall", op: req.op.toString(), args: req.args.map((a) => a.toString()),
      bufs: before, ...r, out: out.map(hex),
    };
    return { reply: reply(Kind.HYPERCALL, encodeCallReply({ ...r, bufs: out })), ...(record ? { trace } : {}) };
  },

  [Kind.BYE]: () => ({ reply: reply(Kind.BYE, new Uint8Array(0), true) }),
};
