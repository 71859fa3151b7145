// Socket transport: one connection to `xendm serve` is one privcmd file handle (docs/protocol.md).
import { connect, type Socket } from "node:net";
import {
  ErrorCode, FrameReader, Kind, frame, REPLY_BIT, ProtocolError, parseCallReply, parseErrorReply,
  parseHelloReply, parseRestrictReply, requestFrame, type CallReply, type HelloReply, type Request, type WireBuf,
} from "./protocol.js";
import { FEATURE_FASTPATH, FastKind } from "./fastpath.js";
import { FastClientRegion } from "./fastpath-client.js";
import { bufSize, copyBack, type CallOutcome, type IoctlOutcome, type Transport, type TransportBuf, type TransportFactory } from "./types.js";

export const ABI_CODES = { x86_64: 0, i386: 1, arm64: 2, arm32: 3 } as const;
export type AbiName = keyof typeof ABI_CODES;

export interface SocketOptions {
  /** The calling domain (sent in HELLO; default 0). */
  caller?: number;
  abi?: AbiName;
  /** Client name sent in HELLO. */
  name?: string;
  /**
   * Take the server's shared-memory fast path when it offers one (HELLO features bit 0): DM_OP,
   * RESTRICT and HYPERCALL requests go through a region both processes map, one at a time, and each
   * call spins up to `spinUs` (default 100) for its reply before it waits on the socket. The spin
   * holds this thread (the event loop) for that long at most. Off by default.
   */
  fastpath?: boolean | { spinUs?: number };
}

/** The request kinds that travel through a fast-path region. */
const FAST_KINDS: ReadonlySet<number> = new Set([Kind.DM_OP, Kind.RESTRICT, Kind.HYPERCALL, Kind.EVTCHN_IOCTL]);

/** The server answered with an error frame, or the connection closed under a pending call. */
export class TransportError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = "TransportError";
  }
}

interface Pending {
  seq: number;
  kind: number;
  resolve: (body: Uint8Array) => void;
  reject: (e: Error) => void;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function wireBufs(bufs: readonly TransportBuf[]): WireBuf[] {
  return bufs.map((b) => ({ size: bufSize(b), flags: b.unreadable === true ? 1 : 0, bytes: b.bytes }));
}

export class SocketTransport implements Transport {
  #seq = 0;
  readonly #pending: Pending[] = [];
  readonly #reader = new FrameReader();
  #dead: Error | undefined;
  #server: HelloReply | undefined;
  #fast: FastClientRegion | undefined;
  /** The fast-path call waiting for its WAKE frame. */
  #fastWaiter: Pending | undefined;
  /** Fast-path calls run one at a time, in order: the last one's settling. */
  #fastTail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: Socket) {
    sock.on("data", (chunk: Buffer) => { this.#onData(chunk); });
    sock.on("error", (e) => { this.#fail(new TransportError(`socket: ${e.message}`)); });
    sock.on("close", () => { this.#fail(new TransportError("connection closed")); });
  }

  static async connect(path: string, opts: SocketOptions = {}): Promise<SocketTransport> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => { s.off("error", reject); resolve(s); });
      s.once("error", reject);
    });
    sock.setNoDelay(true);
    const t = new SocketTransport(sock);
    const body = await t.#call({ kind: Kind.HELLO, caller: opts.caller ?? 0, abi: ABI_CODES[opts.abi ?? "x86_64"], name: opts.name ?? "xendm-client" });
    t.#server = parseHelloReply(body);
    if (opts.fastpath !== undefined && opts.fastpath !== false && (t.#server.features & FEATURE_FASTPATH) !== 0) {
      const spinUs = typeof opts.fastpath === "object" ? opts.fastpath.spinUs ?? 100 : 100;
      if (!Number.isFinite(spinUs) || spinUs < 0 || spinUs > 100_000) throw new RangeError(`fastpath.spinUs ${spinUs}: a number of µs in 0..100000`);
      t.#fast = await t.#openRegion(spinUs);
    }
    return t;
  }

  /** Whether calls go through a fast-path region. */
  get fastpath(): boolean {
    return this.#fast !== undefined;
  }

  /** FASTPATH: the region's path, mapped; undefined (the socket it is) when the server has none to give. */
  async #openRegion(spinUs: number): Promise<FastClientRegion | undefined> {
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    const body = await new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.push({ seq, kind: FastKind.FASTPATH, resolve, reject });
      this.#send(frame(FastKind.FASTPATH, seq));
    });
    if (body.length < 8 || new DataView(body.buffer, body.byteOffset).getInt32(0, true) !== 0) return undefined;
    return FastClientRegion.open(new TextDecoder().decode(body.subarray(8)), spinUs);
  }

  /** The server's HELLO reply. */
  get server(): HelloReply | undefined {
    return this.#server;
  }

  #onData(chunk: Buffer): void {
    let frames;
    try {
      frames = this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.#fail(new TransportError(`bad reply stream: ${(e as Error).message}`));
      this.sock.destroy();
      return;
    }
    for (const f of frames) {
      if (f.kind === FastKind.WAKE) {
        this.#onWake(f.seq);
        continue;
      }
      // An error reply has at least its 4-byte code; BYE's reply (0x7f | 0x80) is the same kind, empty.
      if (f.kind === Kind.ERROR && f.body.length > 0) {
        const { code, message } = parseErrorReply(f.body);
        this.#fail(new TransportError(`server error ${code}: ${message}`, code));
        this.sock.destroy();
        return;
      }
      const p = this.#pending.shift();
      if (p === undefined || f.seq !== p.seq || f.kind !== (p.kind | REPLY_BIT)) {
        p?.reject(new TransportError(`reply kind 0x${f.kind.toString(16)} seq ${f.seq} does not match the request`));
        this.#fail(new TransportError("reply out of order"));
        this.sock.destroy();
        return;
      }
      p.resolve(f.body);
    }
  }

  #fail(e: Error): void {
    this.#dead ??= e;
    for (const p of this.#pending.splice(0)) p.reject(e);
    const w = this.#fastWaiter;
    this.#fastWaiter = undefined;
    w?.reject(e);
  }

  #onWake(seq: number): void {
    const w = this.#fastWaiter;
    if (w === undefined || w.seq !== seq || this.#fast === undefined) {
      this.#fail(new TransportError(`WAKE for seq ${seq}, which no fast-path call waits for`));
      this.sock.destroy();
      return;
    }
    this.#fastWaiter = undefined;
    try {
      w.resolve(this.#fast.reply(seq, w.kind));
    } catch (e) {
      this.#fail(new TransportError((e as Error).message));
      this.sock.destroy();
    }
  }

  /** One request through the region, after the ones before it. */
  #fastCall(fast: FastClientRegion, f: Uint8Array, seq: number, kind: number): Promise<Uint8Array> {
    const run = (): Promise<Uint8Array> => {
      if (this.#dead !== undefined) return Promise.reject(this.#dead);
      const out = fast.call(f, seq, () => { this.sock.write(frame(FastKind.KICK, seq)); });
      if (out.done) return Promise.resolve(out.body);
      return new Promise<Uint8Array>((resolve, reject) => { this.#fastWaiter = { seq, kind, resolve, reject }; });
    };
    const p = this.#fastTail.then(run, run);
    this.#fastTail = p.catch(() => undefined);
    return p;
  }

  #queued: Uint8Array[] = [];
  /** Frames written in one tick go out in one write. */
  #send(f: Uint8Array): void {
    this.#queued.push(f);
    if (this.#queued.length > 1) return;
    queueMicrotask(() => {
      const q = this.#queued;
      this.#queued = [];
      this.sock.write(q.length === 1 ? q[0]! : concat(q));
    });
  }

  /** One request of any kind; resolves with its reply body (the kinds beyond privcmd use this). */
  request(req: Request): Promise<Uint8Array> {
    return this.#call(req);
  }

  #call(req: Request): Promise<Uint8Array> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    const kind = req.kind;
    // Built before the call is queued: a request that cannot be framed leaves no reply expected.
    const f = requestFrame(req, seq);
    const fast = this.#fast;
    if (fast !== undefined && FAST_KINDS.has(kind) && fast.fits(f.length)) return this.#fastCall(fast, f, seq, kind);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.push({ seq, kind, resolve, reject });
      this.#send(f);
    });
  }

  async #callReply(req: Request, bufs: readonly TransportBuf[]): Promise<CallOutcome> {
    const rep: CallReply = parseCallReply(await this.#call(req));
    copyBack(bufs, rep.bufs);
    return rep.ret === -1 ? { ret: -1, errno: rep.errno, bufs: rep.bufs } : { ret: rep.ret, bufs: rep.bufs };
  }

  dmOp(dom: number, bufs: TransportBuf[], num = bufs.length): Promise<CallOutcome> {
    return this.#callReply({ kind: Kind.DM_OP, dom, num, bufs: wireBufs(bufs) }, bufs);
  }

  async restrict(dom: number): Promise<IoctlOutcome> {
    const r = parseRestrictReply(await this.#call({ kind: Kind.RESTRICT, dom, flags: 0 }));
    return r.ret === -1 ? { ret: -1, errno: r.errno } : { ret: r.ret };
  }

  hypercall(op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    return this.#callReply({ kind: Kind.HYPERCALL, op: BigInt(op), args: args.map((a) => BigInt.asUintN(64, BigInt(a))), bufs: wireBufs(bufs) }, bufs);
  }

  async close(): Promise<void> {
    if (this.#dead === undefined) {
      try {
        await this.#call({ kind: Kind.BYE });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
      }
    }
    this.sock.destroy();
    this.#fast?.close();
  }

  /** For tests: raw bytes onto the connection. */
  writeRaw(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }
}

export class SocketTransportFactory implements TransportFactory {
  constructor(readonly path: string, readonly opts: SocketOptions = {}) {}
  open(): Promise<Transport> {
    return SocketTransport.connect(this.path, this.opts);
  }
}

export { ErrorCode, ProtocolError };
