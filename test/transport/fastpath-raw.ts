// A raw fast-path client for tests: HELLO and FASTPATH on a socket, the region mapped here, request
// frames written into it by hand (so a test can also scribble on it).
import { closeSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { FrameReader, Kind, encodeRequest, frame, type RawFrame, type Request } from "../../src/transport/protocol.js";
import { FastKind, Layout, REGION_SIZE } from "../../src/transport/fastpath.js";
import { SharedMapping } from "../../src/transport/shm.js";

export class RawFastClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  map: SharedMapping | undefined;
  path = "";
  features = 0;
  #seq = 0;
  #waiters: (() => void)[] = [];
  readonly #reader = new FrameReader();

  private constructor(readonly sock: Socket) {
    sock.on("data", (c: Buffer) => {
      this.frames.push(...this.#reader.push(new Uint8Array(c)));
      this.#notify();
    });
    sock.on("close", () => { this.closed = true; this.#notify(); });
    sock.on("error", () => { /* seen as close */ });
  }

  #notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  static async open(path: string, fastpath = true): Promise<RawFastClient> {
    const sock = connect(path);
    await new Promise<void>((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
    const c = new RawFastClient(sock);
    const hello = await c.exchange(frame(Kind.HELLO, c.nextSeq(), new Uint8Array([0, 0, 0, 0, 0x74])));
    c.features = new DataView(hello.body.buffer, hello.body.byteOffset).getUint32(4, true);
    if (fastpath) {
      const r = await c.exchange(frame(FastKind.FASTPATH, c.nextSeq()));
      const dv = new DataView(r.body.buffer, r.body.byteOffset, r.body.byteLength);
      if (dv.getInt32(0, true) !== 0) throw new Error(`FASTPATH: -1/${dv.getInt32(4, true)}`);
      c.path = new TextDecoder().decode(r.body.subarray(8));
      const fd = openSync(c.path, "r+");
      try { c.map = SharedMapping.map(fd, REGION_SIZE); } finally { closeSync(fd); }
    }
    return c;
  }

  /** The last seq used. */
  get seq(): number {
    return this.#seq;
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  /** The next frame from the server (or undefined once the connection closed). */
  async next(timeoutMs = 5000): Promise<RawFrame | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.closed) {
      if (Date.now() > end) throw new Error("no frame from the server");
      await new Promise<void>((resolve) => { this.#waiters.push(resolve); setTimeout(resolve, 50); });
    }
    return this.frames.shift();
  }

  async exchange(bytes: Uint8Array): Promise<RawFrame> {
    this.sock.write(bytes);
    const f = await this.next();
    if (f === undefined) throw new Error("connection closed");
    return f;
  }

  get i32(): Int32Array {
    return new Int32Array(this.map!.buffer, 0, Layout.DATA_OFF >> 2);
  }

  get data(): Uint8Array {
    return new Uint8Array(this.map!.buffer, Layout.DATA_OFF, Layout.DATA_SIZE);
  }

  /** Writes `bytes` (a whole frame) into the data area, publishes `seq` and kicks. */
  post(bytes: Uint8Array, seq: number, kick = true): void {
    this.data.set(bytes, 0);
    Atomics.store(this.i32, Layout.OFF_REQ_SEQ >> 2, seq);
    if (kick) this.sock.write(frame(FastKind.KICK, seq));
  }

  /** A request through the region; resolves with the reply frame read from it. */
  async call(req: Request, opts: { wait?: boolean; waiting?: number } = {}): Promise<RawFrame> {
    const seq = this.nextSeq();
    const { kind, body } = encodeRequest(req);
    // `wait`: ask for this call's WAKE (the waiting word holds its seq); `waiting`: store that word instead
    if (opts.wait === true || opts.waiting !== undefined) Atomics.store(this.i32, Layout.OFF_WAITING >> 2, opts.waiting ?? seq);
    this.post(frame(kind, seq, body), seq);
    const end = Date.now() + 5000;
    while ((Atomics.load(this.i32, Layout.OFF_REP_SEQ >> 2) >>> 0) !== seq) {
      if (this.closed || Date.now() > end) throw new Error(`no reply to ${seq} in the region`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const d = this.data;
    const len = new DataView(d.buffer, d.byteOffset).getUint32(0, true);
    const all = d.slice(0, 4 + len);
    return { version: all[4]!, kind: all[5]!, flags: all[6]! | (all[7]! << 8), seq: new DataView(all.buffer).getUint32(8, true), body: all.subarray(12) };
  }

  close(): void {
    this.map?.unmap();
    this.sock.destroy();
  }
}
