// Socket transport: one connection to `xendm serve` is one privcmd file handle (docs/protocol.md).
import { connect, type Socket } from "node:net";
import {
  ErrorCode, FrameReader, Kind, REPLY_BIT, ProtocolError, parseCallReply, parseErrorReply,
  parseHelloReply, parseRestrictReply, requestFrame, type CallReply, type HelloReply, type Request, type WireBuf,
} from "./protocol.js";
import { bufSize, copyBack, type CallOutcome, type IoctlOutcome, type Transport, type TransportBuf, type TransportFactory } from "./types.js";

export const ABI_CODES = { x86_64: 0, i386: 1, arm64: 2, arm32: 3 } as const;
export type AbiName = keyof typeof ABI_CODES;

export interface SocketOptions {
  /** The calling domain (sent in HELLO; default 0). */
  caller?: number;
  abi?: AbiName;
  /** Client name sent in HELLO. */
  name?: string;
}

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
    return t;
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
