// The shared-memory fast path of one connection (docs/protocol.md, "Fast path"): a region file the
// server creates and both sides map. The client writes one request frame into the data area and
// publishes it with req_seq; the server copies it out, validates the copy as it would a socket
// frame, and writes the reply frame into the same area, published with rep_seq. Nothing read from
// the region is trusted: a bad frame there is a ProtocolError like a malformed socket frame.
import { closeSync } from "node:fs";
import { ErrorCode, HEADER_SIZE, Kind, PROTOCOL_VERSION, ProtocolError, type RawFrame } from "./protocol.js";
import { SharedMapping, sealedMemfd } from "./shm.js";

/** Fast-path frame kinds (the 0x08-0x0f range). */
export const FastKind = {
  /** Client asks for a region; reply (0x88): i32 ret, i32 errno, then the region file's path. */
  FASTPATH: 0x08,
  /** Client -> server: the region holds a request. No reply. */
  KICK: 0x09,
  /** Server -> client: the reply is in the region (sent only when the client asked for it). */
  WAKE: 0x89,
} as const;

/** HELLO reply `features` bit 0: this server accepts FASTPATH. */
export const FEATURE_FASTPATH = 1;

/** Region layout: byte offsets of the u32 words of the control page, then the data area. */
export const Layout = {
  MAGIC: 0x50464458, // "XDFP"
  VERSION: 2,
  OFF_MAGIC: 0,
  OFF_LAYOUT: 4,
  OFF_SIZE: 8,
  OFF_DATA_OFF: 12,
  OFF_DATA_SIZE: 16,
  OFF_REQ_SEQ: 64,
  OFF_REP_SEQ: 128,
  OFF_POLLING: 192,
  OFF_WAITING: 256,
  DATA_OFF: 4096,
  DATA_SIZE: 128 * 1024,
} as const;
export const REGION_SIZE = Layout.DATA_OFF + Layout.DATA_SIZE;

/** The request kinds a client may send through the region. */
const CHANNEL_KINDS: ReadonlySet<number> = new Set([Kind.DM_OP, Kind.RESTRICT, Kind.HYPERCALL, Kind.EVTCHN_IOCTL]);

const REQ = Layout.OFF_REQ_SEQ >> 2;
const REP = Layout.OFF_REP_SEQ >> 2;
const POLLING = Layout.OFF_POLLING >> 2;
const WAITING = Layout.OFF_WAITING >> 2;

export class FastChannel {
  readonly path: string;
  readonly #map: SharedMapping;
  readonly #i32: Int32Array;
  readonly #data: Uint8Array;
  readonly #dv: DataView;
  #lastReq = 0;
  /** The memfd, open until the client has opened it through `path`. */
  #fd: number | undefined;

  private constructor(fd: number, map: SharedMapping) {
    this.#fd = fd;
    this.path = `/proc/${process.pid}/fd/${fd}`;
    this.#map = map;
    this.#i32 = new Int32Array(map.buffer, 0, Layout.DATA_OFF >> 2);
    this.#data = new Uint8Array(map.buffer, Layout.DATA_OFF, Layout.DATA_SIZE);
    this.#dv = new DataView(map.buffer);
  }

  /**
   * A fresh region: a sealed memfd (its size cannot change: a client cannot truncate it under the
   * server's mapping), mapped, its header written. Clients open it as /proc/<pid>/fd/<fd>.
   */
  static create(tag: string): FastChannel {
    const fd = sealedMemfd(`xendm-fp-${tag}`, REGION_SIZE);
    let map: SharedMapping;
    try {
      map = SharedMapping.map(fd, REGION_SIZE);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const ch = new FastChannel(fd, map);
    const dv = ch.#dv;
    dv.setUint32(Layout.OFF_MAGIC, Layout.MAGIC, true);
    dv.setUint32(Layout.OFF_LAYOUT, Layout.VERSION, true);
    dv.setUint32(Layout.OFF_SIZE, REGION_SIZE, true);
    dv.setUint32(Layout.OFF_DATA_OFF, Layout.DATA_OFF, true);
    dv.setUint32(Layout.OFF_DATA_SIZE, Layout.DATA_SIZE, true);
    return ch;
  }

  get open(): boolean {
    return this.#map.mapped;
  }

  /** The seq of a request not yet taken, or 0. */
  pending(): number {
    if (!this.#map.mapped) return 0;
    const seq = Atomics.load(this.#i32, REQ) >>> 0;
    return seq !== this.#lastReq ? seq : 0;
  }

  /**
   * Copies the request frame published as `seq` out of the region and checks it: the copy is what
   * runs, whatever the client writes there meanwhile.
   */
  take(seq: number): RawFrame {
    this.#lastReq = seq;
    this.unlink(); // the client has it mapped by now
    const len = this.#dv.getUint32(Layout.DATA_OFF, true);
    const at = `fast-path region byte ${Layout.DATA_OFF}`;
    if (len < HEADER_SIZE) throw new ProtocolError(ErrorCode.BAD_FRAME, `${at}: frame length ${len} is shorter than the ${HEADER_SIZE}-byte header`, seq);
    if (len > Layout.DATA_SIZE - 4) throw new ProtocolError(ErrorCode.TOO_LARGE, `${at}: frame length ${len} exceeds the ${Layout.DATA_SIZE - 4} bytes of the data area`, seq);
    const copy = this.#data.slice(0, 4 + len);
    const cv = new DataView(copy.buffer);
    const f: RawFrame = { version: copy[4]!, kind: copy[5]!, flags: cv.getUint16(6, true), seq: cv.getUint32(8, true), body: copy.subarray(12) };
    if (cv.getUint32(0, true) !== len) throw new ProtocolError(ErrorCode.BAD_FRAME, `${at}: frame length changed while it was read`, seq);
    if (f.seq !== seq) throw new ProtocolError(ErrorCode.BAD_FRAME, `fast-path region byte ${Layout.DATA_OFF + 8}: frame seq ${f.seq} is not req_seq ${seq}`, seq);
    if (!CHANNEL_KINDS.has(f.kind)) throw new ProtocolError(ErrorCode.UNKNOWN_KIND, `fast-path region byte ${Layout.DATA_OFF + 5}: kind 0x${f.kind.toString(16)} does not travel through the region (DM_OP, RESTRICT, HYPERCALL, EVTCHN_IOCTL do)`, seq);
    if (f.version !== PROTOCOL_VERSION) throw new ProtocolError(ErrorCode.BAD_VERSION, `fast-path region byte ${Layout.DATA_OFF + 4}: version ${f.version}, this server speaks ${PROTOCOL_VERSION}`, seq);
    return f;
  }

  /**
   * Writes the reply frame for `seq` and publishes it. True when the client is asleep and must be
   * sent a WAKE frame on the socket (the compare-exchange makes the server the owner of that duty).
   */
  reply(frame: Uint8Array, seq: number): boolean {
    if (!this.#map.mapped) return false;
    if (frame.length > Layout.DATA_SIZE) throw new ProtocolError(ErrorCode.INTERNAL, `reply of ${frame.length} bytes exceeds the fast-path data area`, seq);
    this.#data.set(frame, 0);
    Atomics.store(this.#i32, REP, seq | 0);
    // `waiting` holds the seq the client sleeps for: a late look after the client went on to its next
    // call (and asked for that one's WAKE) does not match.
    return Atomics.compareExchange(this.#i32, WAITING, seq | 0, 0) === (seq | 0);
  }

  /** The server's polling word: while 1 the client sends no KICK. */
  setPolling(on: boolean): void {
    if (this.#map.mapped) Atomics.store(this.#i32, POLLING, on ? 1 : 0);
  }

  /** Closes the memfd (the mapping stays): nobody can open the region any more. */
  unlink(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  close(): void {
    this.unlink();
    this.#map.unmap();
  }
}
