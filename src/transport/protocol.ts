// The xendm socket protocol, version 1 (docs/protocol.md): frame layout, request and reply bodies.
// Pure functions over bytes: no I/O. Every parse is strict: a length, count or size that does not
// fit is a ProtocolError carrying the error code of the error reply, never an allocation.

import { __HYPERVISOR_hvm_op, __HYPERVISOR_memory_op, __HYPERVISOR_multicall } from "../../abi/xen/xen.js";
export const PROTOCOL_VERSION = 1;
/** Largest value of the leading u32 length (8 header bytes + body). */
export const MAX_FRAME = 1 << 20;
export const HEADER_SIZE = 8;
/** Linux privcmd defaults: dm_op_max_nr_bufs and dm_op_buf_max_size. */
export const DM_OP_MAX_NR_BUFS = 16;
export const DM_OP_BUF_MAX_SIZE = 4096;
/** Xen's dm_op takes at most 2 buffers; HYPERCALL carries descriptors only for 1 <= arg[1] <= 2. */
export const HYPERCALL_MAX_BUFS = 2;
export const HYPERVISOR_dm_op = 41;

export const Kind = {
  HELLO: 0x01,
  DM_OP: 0x02,
  RESTRICT: 0x03,
  HYPERCALL: 0x04,
  EVTCHN_OPEN: 0x10,
  EVTCHN_STREAM: 0x11,
  EVTCHN_IOCTL: 0x12,
  SHM_INFO: 0x20,
  MMAP_RESOURCE: 0x21,
  MMAPBATCH: 0x22,
  BYE: 0x7f,
  ERROR: 0xff,
} as const;
export type RequestKind = typeof Kind.HELLO | typeof Kind.DM_OP | typeof Kind.RESTRICT | typeof Kind.HYPERCALL
  | typeof Kind.EVTCHN_OPEN | typeof Kind.EVTCHN_STREAM | typeof Kind.EVTCHN_IOCTL | typeof Kind.SHM_INFO
  | typeof Kind.MMAP_RESOURCE | typeof Kind.MMAPBATCH | typeof Kind.BYE;
export const REPLY_BIT = 0x80;

export const ErrorCode = {
  BAD_FRAME: 1,
  TOO_LARGE: 2,
  BAD_VERSION: 3,
  UNKNOWN_KIND: 4,
  BAD_BODY: 5,
  INTERNAL: 6,
  LIMIT: 7,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Descriptor flag bit 0: the caller's pointer was unreadable. */
export const DESC_UNREADABLE = 1;

const BUF_MAX_BIG = BigInt(DM_OP_BUF_MAX_SIZE);
const DM_OP_BIG = BigInt(HYPERVISOR_dm_op);
const HYPERCALL_MAX_BIG = BigInt(HYPERCALL_MAX_BUFS);
/** Field names of descriptor i, built once (error messages name them; the hot path builds no strings). */
const DESC_FIELDS = Array.from({ length: DM_OP_MAX_NR_BUFS }, (_, i) => ({
  size: `desc[${i}].size`, flags: `desc[${i}].flags`, reserved: `desc[${i}].reserved`, contents: `contents of buffer ${i}`,
}));
const ARG_FIELDS = Array.from({ length: 5 }, (_, i) => `arg[${i}]`);
/** memory_op / multicall: the multicall_entry array, then a reservation and its extents per entry. */
export const MEMOP_MAX_BUFS = 15;
/** Whether a HYPERCALL of this op (memory_op, multicall, hvm_op) carries the struct body form (every descriptor's contents follow). */
export function isMemopHypercall(op: bigint): boolean {
  return op === BigInt(__HYPERVISOR_memory_op) || op === BigInt(__HYPERVISOR_multicall) || op === BigInt(__HYPERVISOR_hvm_op);
}

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    readonly seq = 0,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

export interface FrameHeader {
  version: number;
  kind: number;
  flags: number;
  seq: number;
}

/** One buffer descriptor as the caller gave it. `bytes` is absent when its contents were not sent. */
export interface WireBuf {
  size: bigint;
  flags: number;
  bytes?: Uint8Array;
}

export interface HelloRequest { kind: typeof Kind.HELLO; caller: number; abi: number; name: string }
export interface DmOpRequest { kind: typeof Kind.DM_OP; dom: number; num: number; bufs: WireBuf[] }
export interface RestrictRequest { kind: typeof Kind.RESTRICT; dom: number; flags: number }
export interface HypercallRequest { kind: typeof Kind.HYPERCALL; op: bigint; args: bigint[]; bufs: WireBuf[] }
export interface ByeRequest { kind: typeof Kind.BYE }
/** Opens a /dev/xen/evtchn file (token 0) or attaches this connection to an open one (its token). */
export interface EvtchnOpenRequest { kind: typeof Kind.EVTCHN_OPEN; token: bigint }
/** Makes this connection the file's event stream: raw u32 ports from then on. */
export interface EvtchnStreamRequest { kind: typeof Kind.EVTCHN_STREAM; token: bigint }
/** IOCTL_EVTCHN_* by its nr; a0/a1 the argument struct's fields; flags bit 0: unreadable argument. */
export interface EvtchnIoctlRequest { kind: typeof Kind.EVTCHN_IOCTL; nr: number; flags: number; a0: number; a1: number }
/** Where the server's shared pages are (the file a client maps them from). */
export interface ShmInfoRequest { kind: typeof Kind.SHM_INFO }
/** MMAP_RESOURCE flag bits: argument unreadable, addr != 0, [addr, addr + num pages) inside one privcmd mapping. */
export const MMAP_ARG_FAULT = 1, MMAP_ADDR_SET = 2, MMAP_IN_VMA = 4;
/** IOCTL_PRIVCMD_MMAP_RESOURCE: privcmd_mmap_resource's fields (addr as the flags). */
export interface MmapResourceRequest { kind: typeof Kind.MMAP_RESOURCE; dom: number; flags: number; type: number; id: number; idx: number; num: bigint }
/** The most gfns one MMAPBATCH frame carries (the client splits larger batches). */
export const MMAPBATCH_MAX_GFNS = 65536;
/** The guest frames of an IOCTL_PRIVCMD_MMAPBATCH(_V2), after the driver's own checks (made by the client). */
export interface MmapBatchRequest { kind: typeof Kind.MMAPBATCH; dom: number; gfns: bigint[] }
export type Request = HelloRequest | DmOpRequest | RestrictRequest | HypercallRequest | EvtchnOpenRequest | EvtchnStreamRequest
  | EvtchnIoctlRequest | ShmInfoRequest | MmapResourceRequest | MmapBatchRequest | ByeRequest;

export interface CallReply { ret: number; errno: number; bufs: Uint8Array[] }
export interface HelloReply { protocol_version: number; features: number; name: string }

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: true });

/**
 * `n` bytes for a frame or body that the caller writes in full: a view into Node's shared allocation
 * pool (a fresh small ArrayBuffer per frame costs more than the rest of the call).
 */
function alloc(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Builds one frame: u32 length, version, kind, flags, seq, body. */
export function frame(kind: number, seq: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const length = HEADER_SIZE + body.length;
  if (length > MAX_FRAME) throw new ProtocolError(ErrorCode.TOO_LARGE, `frame of ${length} bytes exceeds ${MAX_FRAME}`, seq);
  const out = alloc(4 + length);
  putHeader(out, length, kind, seq);
  out.set(body, 12);
  return out;
}

/** The 12 bytes of a frame's header (length word included); flags 0. */
function putHeader(out: Uint8Array, length: number, kind: number, seq: number): void {
  put32(out, 0, length);
  out[4] = PROTOCOL_VERSION;
  out[5] = kind;
  out[6] = 0;
  out[7] = 0;
  put32(out, 8, seq);
}

function put32(b: Uint8Array, o: number, x: number): void {
  b[o] = x & 0xff;
  b[o + 1] = (x >>> 8) & 0xff;
  b[o + 2] = (x >>> 16) & 0xff;
  b[o + 3] = (x >>> 24) & 0xff;
}

/** A little-endian writer into a buffer that grows by doubling. */
class Writer {
  private buf: Uint8Array;
  private v: DataView;
  private pos = 0;
  // Only bytes below pos are ever read (finish), and each of those is written first.
  constructor(hint = 64) {
    this.buf = alloc(hint);
    this.v = view(this.buf);
  }
  private room(n: number): number {
    const p = this.pos;
    if (p + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < p + n) cap *= 2;
      const nb = alloc(cap);
      nb.set(this.buf.subarray(0, p));
      this.buf = nb;
      this.v = view(nb);
    }
    this.pos += n;
    return p;
  }
  // room() may replace buf and v: take the offset first.
  u8(x: number): this { const o = this.room(1); this.v.setUint8(o, x); return this; }
  u16(x: number): this { const o = this.room(2); this.v.setUint16(o, x, true); return this; }
  u32(x: number): this { const o = this.room(4); this.v.setUint32(o, x >>> 0, true); return this; }
  i32(x: number): this { const o = this.room(4); this.v.setInt32(o, x | 0, true); return this; }
  u64(x: bigint): this { const o = this.room(8); this.v.setBigUint64(o, BigInt.asUintN(64, x), true); return this; }
  bytes(b: Uint8Array): this { const o = this.room(b.length); this.buf.set(b, o); return this; }
  finish(): Uint8Array { return this.buf.subarray(0, this.pos); }
}

/** A bounds-checked little-endian reader; running past the end is a BAD_BODY error. */
class Reader {
  private pos = 0;
  private readonly v: DataView;
  constructor(private readonly b: Uint8Array, private readonly what: string, private readonly seq: number) {
    this.v = view(b);
  }
  get remaining(): number { return this.b.length - this.pos; }
  private need(n: number, field: string): number {
    if (this.remaining < n) throw new ProtocolError(ErrorCode.BAD_BODY, `${this.what}: body too short for ${field}`, this.seq);
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8(f: string): number { return this.v.getUint8(this.need(1, f)); }
  u16(f: string): number { return this.v.getUint16(this.need(2, f), true); }
  u32(f: string): number { return this.v.getUint32(this.need(4, f), true); }
  i32(f: string): number { return this.v.getInt32(this.need(4, f), true); }
  u64(f: string): bigint { return this.v.getBigUint64(this.need(8, f), true); }
  /** A view of the body (not a copy): the receiver owns the frame's bytes. */
  bytes(n: number, f: string): Uint8Array { const p = this.need(n, f); return this.b.subarray(p, p + n); }
  rest(): Uint8Array { const p = this.pos; this.pos = this.b.length; return this.b.slice(p); }
  end(): void {
    if (this.remaining !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, `${this.what}: ${this.remaining} trailing bytes`, this.seq);
  }
}

function text(b: Uint8Array, what: string, seq: number): string {
  try {
    return utf8d.decode(b);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_BODY, `${what}: name is not UTF-8`, seq);
  }
}

/** Parses the 8 header bytes that follow the length word. Version is checked by the caller. */
export function parseHeader(b: Uint8Array): FrameHeader {
  return { version: b[0]!, kind: b[1]!, flags: b[2]! | (b[3]! << 8), seq: le32at(b, 4) };
}

function le32at(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

// ---- descriptors ------------------------------------------------------------------------------

/**
 * HYPERCALL: a descriptor's contents travel when it is unflagged and at most 4096 bytes, each on its
 * own (so buffer 0 still travels beside an oversized bitmap). A sender may also send no contents at
 * all; the receiver tells the two forms apart by the body length.
 */
export function hypercallContentSent(d: { size: bigint; flags: number }): boolean {
  return d.size <= BUF_MAX_BIG && (d.flags & DESC_UNREADABLE) === 0;
}

/** Whether DM_OP contents travel: every size within the kernel's limit and no descriptor flagged. */
export function dmOpContentsSent(bufs: readonly { size: bigint; flags: number }[]): boolean {
  if (bufs.length === 0) return false;
  for (const d of bufs) if (d.size > BUF_MAX_BIG || (d.flags & DESC_UNREADABLE) !== 0) return false;
  return true;
}

function writeDescs(w: Writer, bufs: readonly WireBuf[], sent: (d: WireBuf, i: number) => boolean): void {
  w.u32(bufs.length);
  for (const d of bufs) w.u64(d.size).u32(d.flags).u32(0);
  bufs.forEach((d, i) => {
    if (!sent(d, i)) return;
    const n = Number(d.size);
    const src = d.bytes ?? new Uint8Array(0);
    if (src.length === n) w.bytes(src);
    else {
      const c = new Uint8Array(n);
      c.set(src.subarray(0, n));
      w.bytes(c);
    }
  });
}

function readDescs(r: Reader, ndesc: number, what: string, seq: number, maxDesc: number): WireBuf[] {
  if (ndesc > maxDesc) throw new ProtocolError(ErrorCode.BAD_BODY, `${what}: ndesc ${ndesc} exceeds ${maxDesc}`, seq);
  const out: WireBuf[] = [];
  for (let i = 0; i < ndesc; i++) {
    const names = DESC_FIELDS[i]!;
    const size = r.u64(names.size);
    const flags = r.u32(names.flags);
    const reserved = r.u32(names.reserved);
    if (reserved !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, `${what}: desc[${i}].reserved is not 0`, seq);
    if ((flags & ~DESC_UNREADABLE) !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, `${what}: desc[${i}].flags has unknown bits`, seq);
    out.push({ size, flags });
  }
  return out;
}

// ---- requests ---------------------------------------------------------------------------------

export function encodeRequest(req: Request): { kind: number; body: Uint8Array } {
  const w = new Writer();
  writeRequestBody(w, req);
  return { kind: req.kind, body: w.finish() };
}

/** A request as a whole frame, header and body written once: equal to frame(kind, seq, encodeRequest(req).body). */
export function requestFrame(req: Request, seq: number): Uint8Array {
  const w = new Writer(HEADER_SIZE + 4 + 64);
  w.u32(0).u8(PROTOCOL_VERSION).u8(req.kind).u16(0).u32(seq);
  writeRequestBody(w, req);
  const out = w.finish();
  const length = out.length - 4;
  if (length > MAX_FRAME) throw new ProtocolError(ErrorCode.TOO_LARGE, `frame of ${length} bytes exceeds ${MAX_FRAME}`, seq);
  put32(out, 0, length);
  return out;
}

function writeRequestBody(w: Writer, req: Request): void {
  switch (req.kind) {
    case Kind.HELLO:
      w.u16(req.caller).u8(req.abi).u8(0).bytes(utf8.encode(req.name));
      break;
    case Kind.DM_OP: {
      w.u16(req.dom).u16(req.num);
      const inRange = req.num >= 1 && req.num <= DM_OP_MAX_NR_BUFS;
      const descs = inRange ? req.bufs.slice(0, req.num) : [];
      if (inRange && descs.length !== req.num) throw new ProtocolError(ErrorCode.BAD_BODY, `DM_OP: num ${req.num} but ${descs.length} buffers`);
      const sent = dmOpContentsSent(descs);
      writeDescs(w, descs, () => sent);
      break;
    }
    case Kind.RESTRICT:
      w.u16(req.dom).u16(req.flags);
      break;
    case Kind.HYPERCALL: {
      w.u64(req.op);
      for (let i = 0; i < 5; i++) w.u64(req.args[i] ?? 0n);
      if (isMemopHypercall(req.op)) writeDescs(w, req.bufs, () => true);
      else if (req.op === BigInt(HYPERVISOR_dm_op)) {
        const n = req.args[1] ?? 0n;
        const inRange = n >= 1n && n <= BigInt(HYPERCALL_MAX_BUFS);
        const descs = inRange ? req.bufs.slice(0, Number(n)) : [];
        if (inRange && BigInt(descs.length) !== n) throw new ProtocolError(ErrorCode.BAD_BODY, `HYPERCALL: arg[1] ${n} but ${descs.length} buffers`);
        writeDescs(w, descs, (d) => hypercallContentSent(d));
      }
      break;
    }
    case Kind.EVTCHN_OPEN:
    case Kind.EVTCHN_STREAM:
      w.u64(req.token);
      break;
    case Kind.EVTCHN_IOCTL:
      w.u32(req.nr).u32(req.flags).u32(req.a0).u32(req.a1);
      break;
    case Kind.SHM_INFO:
      break;
    case Kind.MMAP_RESOURCE:
      w.u16(req.dom).u16(req.flags).u32(req.type).u32(req.id).u32(req.idx).u64(req.num);
      break;
    case Kind.MMAPBATCH:
      w.u16(req.dom).u16(0).u32(req.gfns.length);
      for (const g of req.gfns) w.u64(g);
      break;
    case Kind.BYE:
      break;
  }
}

/** Parses a request body. Throws ProtocolError (UNKNOWN_KIND, BAD_BODY). */
export function parseRequest(kind: number, body: Uint8Array, seq: number): Request {
  switch (kind) {
    case Kind.HELLO: {
      const r = new Reader(body, "HELLO", seq);
      const caller = r.u16("caller");
      const abi = r.u8("abi");
      const reserved = r.u8("reserved");
      if (abi > 3) throw new ProtocolError(ErrorCode.BAD_BODY, `HELLO: abi ${abi} is not 0..3`, seq);
      if (reserved !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, "HELLO: reserved is not 0", seq);
      return { kind, caller, abi, name: text(r.rest(), "HELLO", seq) };
    }
    case Kind.DM_OP: {
      const r = new Reader(body, "DM_OP", seq);
      const dom = r.u16("dom");
      const num = r.u16("num");
      const ndesc = r.u32("ndesc");
      const expect = num >= 1 && num <= DM_OP_MAX_NR_BUFS ? num : 0;
      if (ndesc !== expect) throw new ProtocolError(ErrorCode.BAD_BODY, `DM_OP: ndesc ${ndesc} must be ${expect} for num ${num}`, seq);
      const bufs = readDescs(r, ndesc, "DM_OP", seq, DM_OP_MAX_NR_BUFS);
      if (dmOpContentsSent(bufs)) for (let i = 0; i < bufs.length; i++) { const d = bufs[i]!; d.bytes = r.bytes(Number(d.size), DESC_FIELDS[i]!.contents); }
      r.end();
      return { kind, dom, num, bufs };
    }
    case Kind.RESTRICT: {
      const r = new Reader(body, "RESTRICT", seq);
      const dom = r.u16("dom");
      const flags = r.u16("flags");
      if ((flags & ~DESC_UNREADABLE) !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, "RESTRICT: flags has unknown bits", seq);
      r.end();
      return { kind, dom, flags };
    }
    case Kind.HYPERCALL: {
      const r = new Reader(body, "HYPERCALL", seq);
      const op = r.u64("op");
      const args: bigint[] = [];
      for (let i = 0; i < 5; i++) args.push(r.u64(ARG_FIELDS[i]!));
      let bufs: WireBuf[] = [];
      if (isMemopHypercall(op)) {
        bufs = readDescs(r, r.u32("ndesc"), "HYPERCALL", seq, MEMOP_MAX_BUFS);
        for (let i = 0; i < bufs.length; i++) {
          const d = bufs[i]!;
          if ((d.flags & DESC_UNREADABLE) !== 0 && d.size !== 0n) throw new ProtocolError(ErrorCode.BAD_BODY, `HYPERCALL: desc[${i}] is flagged unreadable but its size is not 0`, seq);
          if (d.size > BigInt(r.remaining)) throw new ProtocolError(ErrorCode.BAD_BODY, `HYPERCALL: desc[${i}].size ${d.size} exceeds the ${r.remaining} bytes left`, seq);
          d.bytes = r.bytes(Number(d.size), DESC_FIELDS[i]!.contents);
        }
      } else if (op === DM_OP_BIG) {
        const n = args[1] ?? 0n;
        const expect = n >= 1n && n <= HYPERCALL_MAX_BIG ? Number(n) : 0;
        const ndesc = r.u32("ndesc");
        if (ndesc !== expect) throw new ProtocolError(ErrorCode.BAD_BODY, `HYPERCALL: ndesc ${ndesc} must be ${expect} for arg[1] ${n}`, seq);
        bufs = readDescs(r, ndesc, "HYPERCALL", seq, HYPERCALL_MAX_BUFS);
        // Either no contents at all, or those of every descriptor hypercallContentSent() accepts.
        if (r.remaining > 0) for (let i = 0; i < bufs.length; i++) { const d = bufs[i]!; if (hypercallContentSent(d)) d.bytes = r.bytes(Number(d.size), DESC_FIELDS[i]!.contents); }
      }
      r.end();
      return { kind, op, args, bufs };
    }
    case Kind.EVTCHN_OPEN:
    case Kind.EVTCHN_STREAM: {
      const what = kind === Kind.EVTCHN_OPEN ? "EVTCHN_OPEN" : "EVTCHN_STREAM";
      const r = new Reader(body, what, seq);
      const token = r.u64("token");
      r.end();
      if (kind === Kind.EVTCHN_STREAM && token === 0n) throw new ProtocolError(ErrorCode.BAD_BODY, "EVTCHN_STREAM: token 0 names no file", seq);
      return { kind, token };
    }
    case Kind.EVTCHN_IOCTL: {
      const r = new Reader(body, "EVTCHN_IOCTL", seq);
      const nr = r.u32("nr");
      const flags = r.u32("flags");
      const a0 = r.u32("a0");
      const a1 = r.u32("a1");
      r.end();
      if ((flags & ~DESC_UNREADABLE) !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, "EVTCHN_IOCTL: flags has unknown bits", seq);
      return { kind, nr, flags, a0, a1 };
    }
    case Kind.SHM_INFO:
      new Reader(body, "SHM_INFO", seq).end();
      return { kind };
    case Kind.MMAP_RESOURCE: {
      const r = new Reader(body, "MMAP_RESOURCE", seq);
      const dom = r.u16("dom");
      const flags = r.u16("flags");
      const type = r.u32("type");
      const id = r.u32("id");
      const idx = r.u32("idx");
      const num = r.u64("num");
      r.end();
      if ((flags & ~(MMAP_ARG_FAULT | MMAP_ADDR_SET | MMAP_IN_VMA)) !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, "MMAP_RESOURCE: flags has unknown bits", seq);
      return { kind, dom, flags, type, id, idx, num };
    }
    case Kind.MMAPBATCH: {
      const r = new Reader(body, "MMAPBATCH", seq);
      const dom = r.u16("dom");
      const pad = r.u16("pad");
      const n = r.u32("n");
      if (pad !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, "MMAPBATCH: pad is not 0", seq);
      if (n === 0 || n > MMAPBATCH_MAX_GFNS) throw new ProtocolError(ErrorCode.BAD_BODY, `MMAPBATCH: n ${n} is not 1..${MMAPBATCH_MAX_GFNS}`, seq);
      if (r.remaining !== n * 8) throw new ProtocolError(ErrorCode.BAD_BODY, `MMAPBATCH: ${r.remaining} bytes for ${n} gfns`, seq);
      const gfns = new Array<bigint>(n);
      for (let i = 0; i < n; i++) gfns[i] = r.u64("gfn");
      return { kind, dom, gfns };
    }
    case Kind.BYE:
      new Reader(body, "BYE", seq).end();
      return { kind };
    default:
      throw new ProtocolError(ErrorCode.UNKNOWN_KIND, `unknown kind 0x${kind.toString(16)}`, seq);
  }
}

// ---- replies ----------------------------------------------------------------------------------

export function encodeCallReply(rep: CallReply): Uint8Array {
  return putCallReply(rep.ret, rep.errno, rep.bufs, 0, 0, 0);
}

/**
 * A DM_OP / HYPERCALL reply as a whole frame (header and body in one allocation): what the server
 * writes. Equal to frame(kind, seq, encodeCallReply(...)).
 */
export function callReplyFrame(kind: number, seq: number, ret: number, errno: number, bufs: readonly Uint8Array[]): Uint8Array {
  return putCallReply(ret, errno, bufs, 4 + HEADER_SIZE, kind, seq);
}

function putCallReply(ret: number, errno: number, bufs: readonly Uint8Array[], head: number, kind: number, seq: number): Uint8Array {
  let n = head + 12;
  for (const b of bufs) n += 4 + b.length;
  if (head > 0 && n - 4 > MAX_FRAME) throw new ProtocolError(ErrorCode.TOO_LARGE, `frame of ${n - 4} bytes exceeds ${MAX_FRAME}`, seq);
  const out = alloc(n); // every byte is written below
  if (head > 0) putHeader(out, n - 4, kind, seq);
  put32(out, head, ret | 0);
  put32(out, head + 4, errno | 0);
  put32(out, head + 8, bufs.length);
  let o = head + 12;
  for (const b of bufs) {
    put32(out, o, b.length);
    out.set(b, o + 4);
    o += 4 + b.length;
  }
  return out;
}

export function parseCallReply(body: Uint8Array, seq = 0): CallReply {
  const r = new Reader(body, "reply", seq);
  const ret = r.i32("ret");
  const errno = r.i32("errno");
  const n = r.u32("nbufs");
  if (n > DM_OP_MAX_NR_BUFS) throw new ProtocolError(ErrorCode.BAD_BODY, `reply: nbufs ${n} exceeds ${DM_OP_MAX_NR_BUFS}`, seq);
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) bufs.push(r.bytes(r.u32(`buf[${i}].size`), `buf[${i}]`));
  r.end();
  return { ret, errno, bufs };
}

export function encodeRestrictReply(ret: number, errno: number): Uint8Array {
  return new Writer().i32(ret).i32(errno).finish();
}

export function parseRestrictReply(body: Uint8Array, seq = 0): { ret: number; errno: number } {
  const r = new Reader(body, "reply", seq);
  const out = { ret: r.i32("ret"), errno: r.i32("errno") };
  r.end();
  return out;
}

/** EVTCHN_OPEN's reply: ret, errno and the file's token (0 on failure). */
export function encodeEvtchnOpenReply(ret: number, errno: number, token: bigint): Uint8Array {
  return new Writer().i32(ret).i32(errno).u64(token).finish();
}

export function parseEvtchnOpenReply(body: Uint8Array, seq = 0): { ret: number; errno: number; token: bigint } {
  const r = new Reader(body, "reply", seq);
  const out = { ret: r.i32("ret"), errno: r.i32("errno"), token: r.u64("token") };
  r.end();
  return out;
}

/** SHM_INFO's reply: ret, errno, the file's size and its path (empty on failure). */
export function encodeShmInfoReply(ret: number, errno: number, size: number, path: string): Uint8Array {
  return new Writer().i32(ret).i32(errno).u64(BigInt(size)).bytes(utf8.encode(path)).finish();
}

/** MMAP_RESOURCE's reply: ret, errno, nr_frames (the size query's answer), then the frames' file offsets. */
export function encodeMmapResourceReply(ret: number, errno: number, nrFrames: number, offsets: readonly number[]): Uint8Array {
  const w = new Writer(16 + 8 * offsets.length).i32(ret).i32(errno).u32(nrFrames).u32(offsets.length);
  for (const o of offsets) w.u64(BigInt(o));
  return w.finish();
}

/** MMAPBATCH's reply: ret 0, errno 0, n, then per gfn `i32 err` (0 or -errno), `u32 0`, `u64 offset`. */
export function encodeMmapBatchReply(maps: readonly { err: number; offset: number }[]): Uint8Array {
  const w = new Writer(12 + 16 * maps.length).i32(0).i32(0).u32(maps.length);
  for (const m of maps) w.i32(m.err).u32(0).u64(BigInt(m.offset));
  return w.finish();
}

export function encodeHelloReply(rep: HelloReply): Uint8Array {
  return new Writer().u32(rep.protocol_version).u32(rep.features).bytes(utf8.encode(rep.name)).finish();
}

export function parseHelloReply(body: Uint8Array, seq = 0): HelloReply {
  const r = new Reader(body, "HELLO reply", seq);
  return { protocol_version: r.u32("protocol_version"), features: r.u32("features"), name: text(r.rest(), "HELLO reply", seq) };
}

export function encodeErrorReply(code: number, message: string): Uint8Array {
  return new Writer().u32(code).bytes(utf8.encode(message.slice(0, 1024))).finish();
}

export function parseErrorReply(body: Uint8Array): { code: number; message: string } {
  const r = new Reader(body, "error reply", 0);
  const code = r.u32("code");
  return { code, message: new TextDecoder().decode(r.rest()) };
}

// ---- stream deframing -------------------------------------------------------------------------

export interface RawFrame extends FrameHeader { body: Uint8Array }

/**
 * Splits a byte stream into frames. `push` returns the complete frames; a length word that is
 * short or over the limit is a ProtocolError at once (before the body arrives), so a hostile length
 * never makes the reader wait for or buffer a megabyte it will refuse.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  push(chunk: Uint8Array): RawFrame[] {
    if (this.buffered === 0) return this.#pushWhole(chunk);
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: RawFrame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const len = le32at(this.peek(4), 0);
      if (len < HEADER_SIZE) throw new ProtocolError(ErrorCode.BAD_FRAME, `frame length ${len} is shorter than the ${HEADER_SIZE}-byte header`);
      if (len > MAX_FRAME) throw new ProtocolError(ErrorCode.TOO_LARGE, `frame length ${len} exceeds ${MAX_FRAME}`);
      if (this.buffered < 4 + len) break;
      const all = this.take(4 + len);
      out.push({ version: all[4]!, kind: all[5]!, flags: all[6]! | (all[7]! << 8), seq: le32at(all, 8), body: all.subarray(12) });
    }
    return out;
  }

  /** Nothing buffered: frames are cut straight out of the chunk; only a partial tail is kept. */
  #pushWhole(chunk: Uint8Array): RawFrame[] {
    const out: RawFrame[] = [];
    let o = 0;
    const n = chunk.length;
    while (n - o >= 4) {
      const len = le32at(chunk, o);
      if (len < HEADER_SIZE) throw new ProtocolError(ErrorCode.BAD_FRAME, `frame length ${len} is shorter than the ${HEADER_SIZE}-byte header`);
      if (len > MAX_FRAME) throw new ProtocolError(ErrorCode.TOO_LARGE, `frame length ${len} exceeds ${MAX_FRAME}`);
      if (n - o < 4 + len) break;
      out.push({ version: chunk[o + 4]!, kind: chunk[o + 5]!, flags: chunk[o + 6]! | (chunk[o + 7]! << 8), seq: le32at(chunk, o + 8), body: chunk.subarray(o + 12, o + 4 + len) });
      o += 4 + len;
    }
    if (o < n) {
      this.chunks.push(o === 0 ? chunk : chunk.subarray(o));
      this.buffered = n - o;
    }
    return out;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.coalesce();
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      this.coalesce();
      const all = this.chunks[0]!;
      out = all.subarray(0, n);
      this.chunks = all.length === n ? [] : [all.subarray(n)];
    }
    this.buffered -= n;
    return out;
  }

  private coalesce(): void {
    const all = new Uint8Array(this.buffered);
    let o = 0;
    for (const c of this.chunks) { all.set(c, o); o += c.length; }
    this.chunks = [all];
  }
}
