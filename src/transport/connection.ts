// One connection's state: its privcmd file handle (opened as the HELLO's caller) and the execution of
// requests against it. Socket-free, so `xendm replay` runs recorded calls through the same code.
import { PendingIoctl, type DmOpBuf, type PrivcmdDevice, type PrivcmdHandle, type IoctlResult } from "../privcmd/index.js";
import {
  DESC_UNREADABLE, ErrorCode, Kind, PROTOCOL_VERSION, ProtocolError, REPLY_BIT, callReplyFrame, dmOpContentsSent, isMemopHypercall,
  encodeEvtchnOpenReply, encodeHelloReply, encodeMmapBatchReply, encodeMmapResourceReply, encodeShmInfoReply, encodeRestrictReply, frame, type DmOpRequest, type HypercallRequest, type Request,
  type WireBuf,
} from "./protocol.js";
import { hex, type TraceAbandoned, type TraceBuf, type TraceCall } from "./trace.js";
import { evtchnIoctlName } from "../privcmd/evtchn.js";
import type { EvtchnEntry, EvtchnFiles } from "./evtchn-files.js";
import { errno as ERRNO } from "../../abi/xen/errno.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { SharedPages } from "./shared-pages.js";
import { mmapBatch, mmapResource } from "./mapping.js";
import { runMemopHypercall } from "./memop-call.js";
import { DOMID_INVALID } from "../privcmd/device.js";

const EFAULT = 14;

export const SERVER_NAME = "xendm-serve";
const SIZE_CAP = BigInt(Number.MAX_SAFE_INTEGER);

export interface Executed {
  /** The whole reply frame (header with the request's seq, then the body). */
  frame: Uint8Array;
  /** Close the connection after sending. */
  close?: boolean;
  /** From now on this connection is the event stream of that /dev/xen/evtchn file (raw u32 ports). */
  stream?: EvtchnEntry;
  /** What `--record` writes for this request (nothing for BYE). */
  trace?: TraceCall;
}

/**
 * A request whose hypercall is between continuation passes: run() it on, in slices, until it gives
 * the request's Executed (its reply frame and trace line, made once, at the end).
 */
export class PendingCall {
  constructor(
    private readonly ioctl: PendingIoctl,
    private readonly done: (r: IoctlResult) => Executed,
    /** With `record`: the trace line of the call if it is abandoned. */
    private readonly abandoned?: (passes: number) => TraceAbandoned,
  ) {}

  /** Passes for up to `sliceMs`: the Executed once the call returned, else undefined. */
  run(sliceMs: number): Executed | undefined {
    const r = this.ioctl.run(sliceMs);
    return r === undefined ? undefined : this.done(r);
  }

  /** One pass: the Executed once the call returned, else undefined. */
  step(): Executed | undefined {
    const r = this.ioctl.step();
    return r === undefined ? undefined : this.done(r);
  }

  /** Passes the call made so far. */
  get passes(): number {
    return this.ioctl.passes;
  }

  finish(): Executed {
    return this.done(this.ioctl.finish());
  }

  /** The connection went away: no more passes, no reply. Returns its trace line when recording. */
  abandon(): TraceAbandoned | undefined {
    this.ioctl.abandon();
    return this.abandoned?.(this.ioctl.passes);
  }
}

const EMPTY = new Uint8Array(0);
const FAULT = { read: true, write: true } as const;

function toDmOpBuf(d: WireBuf): DmOpBuf {
  const size = d.size > SIZE_CAP ? Number(SIZE_CAP) : Number(d.size);
  if ((d.flags & DESC_UNREADABLE) !== 0) return { bytes: EMPTY, size, fault: { ...FAULT } };
  return { bytes: d.bytes ?? EMPTY, size };
}

function toDmOpBufs(bufs: readonly WireBuf[]): DmOpBuf[] {
  const out: DmOpBuf[] = new Array<DmOpBuf>(bufs.length);
  for (let i = 0; i < bufs.length; i++) out[i] = toDmOpBuf(bufs[i]!);
  return out;
}

function traceBufs(bufs: readonly WireBuf[]): TraceBuf[] {
  return bufs.map((d) => ({ size: d.size.toString(), flags: d.flags, in: d.bytes === undefined ? null : hex(d.bytes) }));
}

function errnoOf(r: IoctlResult): number {
  return "errno" in r ? r.errno : 0;
}

function split(r: IoctlResult): { ret: number; errno: number } {
  return { ret: r.ret, errno: errnoOf(r) };
}

/**
 * Sees each DM_OP and HYPERCALL request before it runs (`xendm serve --conform`). An errno returned
 * answers the call -1/errno without running it, its buffers unchanged.
 */
export type CallObserver = (conn: Connection, req: DmOpRequest | HypercallRequest) => number | undefined;

export class Connection {
  caller = 0;
  abi = 0;
  observer: CallObserver | undefined;
  /** The HELLO reply's `features` word (what the server in front of this connection offers). */
  features = 0;
  #handle: PrivcmdHandle | undefined;
  #requests = 0;
  /** The /dev/xen/evtchn file this connection issues ioctls for (EVTCHN_OPEN). */
  evtchn: EvtchnEntry | undefined;

  constructor(
    readonly id: number,
    private readonly device: PrivcmdDevice,
    /** The server's open evtchn files; without them the evtchn kinds answer ENODEV. */
    readonly evtchnFiles?: EvtchnFiles,
    /** The fake host and its shared pages, for the mapping kinds (without them: ENODEV). */
    readonly host?: { hv: Hypervisor; shared: SharedPages | undefined },
  ) {}

  get handle(): PrivcmdHandle {
    this.#handle ??= this.device.open(this.caller);
    return this.#handle;
  }

  /**
   * Runs one parsed request. Throws ProtocolError for a request out of place. With `record`, also
   * returns the trace line (hex of the buffers before and after).
   */
  execute(req: Request, seq: number, record = false): Executed {
    const r = this.start(req, seq, record);
    return r instanceof PendingCall ? r.finish() : r;
  }

  /**
   * execute(), except that a DM_OP or raw dm_op HYPERCALL still going on after `sliceMs` of
   * continuations comes back as a PendingCall, to be run on later (docs/protocol.md, "Long calls").
   */
  start(req: Request, seq: number, record = false, sliceMs?: number): Executed | PendingCall {
    const first = this.#requests++ === 0;
    const handler = HANDLERS[req.kind] as Handler<Request>;
    return handler(this, req, { seq, record, first, slice: sliceMs });
  }

  /** HELLO: the connection's calling domain and ABI; the handle opens with them on first use. */
  hello(caller: number, abi: number): void {
    this.caller = caller;
    this.abi = abi;
  }

  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
    if (this.evtchn !== undefined) this.evtchnFiles?.dropControl(this.evtchn);
    this.evtchn = undefined;
  }
}

interface Ctx {
  seq: number;
  record: boolean;
  first: boolean;
  /** Set: a long hypercall may come back as a PendingCall after this many ms. */
  slice: number | undefined;
}
type Handler<R extends Request> = (s: Connection, req: R, ctx: Ctx) => Executed | PendingCall;
type Handlers = { [K in Request["kind"]]: Handler<Extract<Request, { kind: K }>> };

const reply = (kind: number, seq: number, body: Uint8Array): Uint8Array => frame(kind | REPLY_BIT, seq, body);

/** A call an observer refused: -1/errno, the buffers back as they came; the fake never saw it (no trace line). */
function refuse(req: DmOpRequest | HypercallRequest, seq: number, errno: number): Executed {
  const out = req.bufs.some((d) => d.bytes !== undefined) ? req.bufs.map((d) => d.bytes ?? EMPTY) : [];
  return { frame: callReplyFrame(req.kind | REPLY_BIT, seq, -1, errno, out) };
}

/** An abandoned HYPERCALL's buffers as it left them (hex), where their contents travelled. */
function contentsLeft(wire: readonly WireBuf[], bufs: readonly DmOpBuf[]): string[] {
  return wire.some((d) => d.bytes !== undefined) ? bufs.map((b, i) => (wire[i]!.bytes !== undefined ? hex(b.bytes) : "")) : [];
}

/** A DM_OP's reply and trace line, from the ioctl's result and the buffers as the call left them. */
function dmOpExecuted(s: Connection, req: DmOpRequest, seq: number, record: boolean, before: TraceBuf[], bufs: DmOpBuf[], res: IoctlResult): Executed {
  const ret = res.ret;
  const errno = errnoOf(res);
  // The buffers as they are after the call, when their contents travelled.
  let out: Uint8Array[] = [];
  if (dmOpContentsSent(req.bufs)) {
    out = new Array<Uint8Array>(bufs.length);
    for (let i = 0; i < bufs.length; i++) out[i] = bufs[i]!.bytes;
  }
  const f = callReplyFrame(Kind.DM_OP | REPLY_BIT, seq, ret, errno, out);
  if (!record) return { frame: f };
  return { frame: f, trace: { conn: s.id, kind: "dm_op", dom: req.dom, num: req.num, bufs: before, ret, errno, out: out.map(hex) } };
}

function hypercallExecuted(s: Connection, req: HypercallRequest, seq: number, record: boolean, before: TraceBuf[], bufs: DmOpBuf[], r: { ret: number; errno: number }): Executed {
  const sent = req.bufs.some((d) => d.bytes !== undefined);
  const out = sent ? req.bufs.map((d, i) => (d.bytes !== undefined ? bufs[i]!.bytes : EMPTY)) : [];
  const f = callReplyFrame(Kind.HYPERCALL | REPLY_BIT, seq, r.ret, r.errno, out);
  if (!record) return { frame: f };
  const trace: TraceCall = {
    conn: s.id, kind: "hypercall", op: req.op.toString(), args: req.args.map((a) => a.toString()),
    bufs: before, ...r, out: out.map(hex),
  };
  return { frame: f, trace };
}

/**
 * One handler per request kind. New kinds (event channels 0x10-0x1f, mappings 0x20-0x2f, other
 * hypercalls 0x30-0x3f, xenstore 0x40-0x4f) are a parser in protocol.ts and an entry here.
 */
const HANDLERS: Handlers = {
  [Kind.HELLO]: (s, req, { seq, first }) => {
    if (!first) throw new ProtocolError(ErrorCode.BAD_FRAME, "HELLO must be the first frame", seq);
    s.hello(req.caller, req.abi);
    return {
      frame: reply(Kind.HELLO, seq, encodeHelloReply({ protocol_version: PROTOCOL_VERSION, features: s.features, name: SERVER_NAME })),
      trace: { conn: s.id, kind: "hello", caller: req.caller, abi: req.abi, name: req.name },
    };
  },

  // IOCTL_PRIVCMD_DM_OP through the privcmd layer (the kernel's checks), then the hypervisor.
  [Kind.DM_OP]: (s, req, { seq, record, slice }) => {
    const refused = s.observer?.(s, req);
    if (refused !== undefined) return refuse(req, seq, refused);
    const before = record ? traceBufs(req.bufs) : [];
    const bufs = toDmOpBufs(req.bufs);
    const res = slice === undefined ? s.handle.dm_op(req.dom, req.num, bufs) : s.handle.dmOpSliced(req.dom, req.num, bufs, slice);
    if (res instanceof PendingIoctl) {
      const left = (passes: number): TraceAbandoned => ({
        conn: s.id, kind: "abandoned", of: "dm_op", dom: req.dom, num: req.num, bufs: before, passes,
        out: dmOpContentsSent(req.bufs) ? bufs.map((b) => hex(b.bytes)) : [],
      });
      return new PendingCall(res, (r) => dmOpExecuted(s, req, seq, record, before, bufs, r), record ? left : undefined);
    }
    return dmOpExecuted(s, req, seq, record, before, bufs, res);
  },

  [Kind.RESTRICT]: (s, req, { seq }) => {
    const r = (req.flags & DESC_UNREADABLE) !== 0 ? { ret: -1, errno: EFAULT } : split(s.handle.restrict(req.dom));
    return {
      frame: reply(Kind.RESTRICT, seq, encodeRestrictReply(r.ret, r.errno)),
      trace: { conn: s.id, kind: "restrict", dom: req.dom, flags: req.flags, ...r },
    };
  },

  [Kind.HYPERCALL]: (s, req, { seq, record, slice }) => {
    const refused = s.observer?.(s, req);
    if (refused !== undefined) return refuse(req, seq, refused);
    const before = record ? traceBufs(req.bufs) : [];
    const bufs = toDmOpBufs(req.bufs);
    const host = s.host;
    const memop = isMemopHypercall(req.op);
    if (!memop) {
      const res = slice === undefined ? s.handle.hypercall(req.op, req.args, bufs) : s.handle.hypercallSliced(req.op, req.args, bufs, slice);
      if (res instanceof PendingIoctl) {
        const left = (passes: number): TraceAbandoned => ({
          conn: s.id, kind: "abandoned", of: "hypercall", op: req.op.toString(), args: req.args.map((a) => a.toString()),
          bufs: before, passes, out: contentsLeft(req.bufs, bufs),
        });
        return new PendingCall(res, (r) => hypercallExecuted(s, req, seq, record, before, bufs, split(r)), record ? left : undefined);
      }
      return hypercallExecuted(s, req, seq, record, before, bufs, split(res));
    }
    const r = host === undefined ? { ret: -1, errno: ERRNO.ENOSYS }
      : runMemopHypercall(host.hv, s.caller, s.handle.restriction !== DOMID_INVALID, req.op, req.args, req.bufs);
    for (let i = 0; i < bufs.length; i++) bufs[i]!.bytes = req.bufs[i]!.bytes ?? EMPTY;
    return hypercallExecuted(s, req, seq, record, before, bufs, r);
  },

  // /dev/xen/evtchn: open (or attach to) a file; make this connection its stream; its ioctls.
  [Kind.EVTCHN_OPEN]: (s, req, { seq }) => {
    let r: { ret: number; errno: number; token: bigint };
    const files = s.evtchnFiles;
    if (files === undefined) r = { ret: -1, errno: ERRNO.ENODEV, token: 0n };
    else if (s.evtchn !== undefined) r = { ret: -1, errno: ERRNO.EBUSY, token: 0n };
    else {
      const e = req.token === 0n ? files.open(s.caller) : files.attach(req.token);
      if (typeof e === "number") r = { ret: -1, errno: -e, token: 0n };
      else {
        s.evtchn = e;
        r = { ret: 0, errno: 0, token: e.token };
      }
    }
    return {
      frame: reply(Kind.EVTCHN_OPEN, seq, encodeEvtchnOpenReply(r.ret, r.errno, r.token)),
      trace: { conn: s.id, kind: "evtchn_open", token_given: req.token !== 0n, ret: r.ret, errno: r.errno },
    };
  },

  [Kind.EVTCHN_STREAM]: (s, req, { seq }) => {
    const files = s.evtchnFiles;
    const e = files?.get(req.token);
    let r: { ret: number; errno: number } = { ret: -1, errno: files === undefined ? ERRNO.ENODEV : ERRNO.EBADF };
    let stream: EvtchnEntry | undefined;
    if (e !== undefined) {
      if (e.streamed) r = { ret: -1, errno: ERRNO.EBUSY };
      else {
        r = { ret: 0, errno: 0 };
        stream = e;
      }
    }
    const out: Executed = {
      frame: reply(Kind.EVTCHN_STREAM, seq, encodeRestrictReply(r.ret, r.errno)),
      trace: { conn: s.id, kind: "evtchn_stream", ...r },
    };
    if (stream !== undefined) out.stream = stream;
    return out;
  },

  [Kind.EVTCHN_IOCTL]: (s, req, { seq }) => {
    const name = evtchnIoctlName(req.nr);
    let r: { ret: number; errno: number };
    if (s.evtchn === undefined) r = { ret: -1, errno: s.evtchnFiles === undefined ? ERRNO.ENODEV : ERRNO.EBADF };
    else if (name === undefined) r = { ret: -1, errno: ERRNO.ENOSYS };
    else r = split(s.evtchn.file.ioctl(name, { a0: req.a0, a1: req.a1, fault: (req.flags & DESC_UNREADABLE) !== 0 }));
    return {
      frame: reply(Kind.EVTCHN_IOCTL, seq, encodeRestrictReply(r.ret, r.errno)),
      trace: { conn: s.id, kind: "evtchn_ioctl", op: name ?? String(req.nr), a0: req.a0, a1: req.a1, flags: req.flags, ...r },
    };
  },

  // Where the shared pages are: the client opens this file once and maps frames from it.
  [Kind.SHM_INFO]: (s, _req, { seq }) => {
    const shared = s.host?.shared;
    const body = shared === undefined ? encodeShmInfoReply(-1, ERRNO.ENODEV, 0, "") : encodeShmInfoReply(0, 0, shared.size, shared.path);
    return { frame: reply(Kind.SHM_INFO, seq, body) };
  },

  [Kind.MMAP_RESOURCE]: (s, req, { seq }) => {
    const host = s.host;
    const r = host === undefined
      ? { ret: -1, errno: ERRNO.ENODEV, nrFrames: 0, offsets: [] }
      : mmapResource(host.hv, host.shared, s.caller, s.handle.restriction, req);
    return {
      frame: reply(Kind.MMAP_RESOURCE, seq, encodeMmapResourceReply(r.ret, r.errno, r.nrFrames, r.offsets)),
      trace: {
        conn: s.id, kind: "mmap_resource", dom: req.dom, type: req.type, id: req.id, idx: req.idx, num: req.num.toString(),
        flags: req.flags, ret: r.ret, errno: r.errno, frames: r.offsets.length, nr_frames: r.nrFrames,
      },
    };
  },

  [Kind.MMAPBATCH]: (s, req, { seq }) => {
    const host = s.host;
    const maps = host === undefined
      ? req.gfns.map(() => ({ err: -ERRNO.ENODEV, offset: 0 }))
      : mmapBatch(host.hv, host.shared, s.caller, req.dom, req.gfns);
    let failed = 0;
    for (const m of maps) if (m.err !== 0) failed++;
    return {
      frame: reply(Kind.MMAPBATCH, seq, encodeMmapBatchReply(maps)),
      trace: { conn: s.id, kind: "mmapbatch", dom: req.dom, n: req.gfns.length, first: req.gfns[0]!.toString(), failed },
    };
  },

  [Kind.BYE]: (_s, _req, { seq }) => ({ frame: reply(Kind.BYE, seq, EMPTY), close: true }),
};
