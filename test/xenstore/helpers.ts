// Test helpers: a caller talking to a XenstoreCore directly (no socket), and a raw wire client.
import { connect, type Socket } from "node:net";
import { XS_ERROR, XS_WATCH_EVENT } from "../../abi/xen/xs_wire.js";
import type { XsConnection } from "../../src/xenstore/connection.js";
import type { XenstoreCore } from "../../src/xenstore/core.js";

export interface Reply {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

export const args = (...a: (string | Buffer)[]): Buffer =>
  Buffer.concat(a.map((x) => Buffer.concat([typeof x === "string" ? Buffer.from(x, "latin1") : x, Buffer.from([0])])));

/** NUL-separated strings of a payload (the last, empty one after a final NUL dropped) */
export const strings = (p: Buffer): string[] => {
  const s = p.toString("latin1").split("\0");
  if (s[s.length - 1] === "") s.pop();
  return s;
};

export class Caller {
  readonly conn: XsConnection;
  readonly replies: Reply[] = [];
  readonly events: [string, string][] = [];
  closed = false;
  private reqId = 0;

  constructor(readonly core: XenstoreCore, domid = 0) {
    this.conn = core.connect(domid, {
      reply: (type, reqId, txId, payload) => { this.replies.push({ type, reqId, txId, payload: Buffer.from(payload) }); },
      event: (path, token) => { this.events.push([path, token]); },
      close: () => { this.closed = true; },
    });
  }

  /** one request; the reply */
  raw(type: number, payload: Buffer, txId = 0): Reply {
    const reqId = ++this.reqId;
    this.core.process(this.conn, type, reqId, txId, payload);
    const r = this.replies.pop();
    if (r === undefined || r.reqId !== reqId) throw new Error("no reply");
    return r;
  }

  /** the reply payload as a string (errors thrown as Error(code)) */
  call(type: number, a: string[] = [], txId = 0): string {
    const r = this.raw(type, args(...a), txId);
    if (r.type === XS_ERROR) throw new Error(strings(r.payload)[0]);
    if (r.type !== type) throw new Error(`reply type ${r.type}`);
    return r.payload.toString("latin1");
  }

  /** the error code of a request that must fail */
  err(type: number, a: string[] = [], txId = 0): string {
    const r = this.raw(type, args(...a), txId);
    if (r.type !== XS_ERROR) throw new Error(`expected an error, got ${JSON.stringify(r.payload.toString("latin1"))}`);
    return strings(r.payload)[0]!;
  }

  takeEvents(): [string, string][] {
    return this.events.splice(0);
  }
}

/** A raw xsd_sockmsg client over a Unix socket */
export class WireClient {
  readonly sock: Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly messages: Reply[] = [];
  ended = false;

  private constructor(path: string) {
    this.sock = connect(path);
    this.sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 16 && this.buf.length >= 16 + this.buf.readUInt32LE(12)) {
        const len = this.buf.readUInt32LE(12);
        this.messages.push({ type: this.buf.readUInt32LE(0), reqId: this.buf.readUInt32LE(4), txId: this.buf.readUInt32LE(8), payload: this.buf.subarray(16, 16 + len) });
        this.buf = this.buf.subarray(16 + len);
      }
      this.wake();
    });
    this.sock.on("close", () => { this.ended = true; this.wake(); });
    this.sock.on("error", () => { this.ended = true; this.wake(); });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static open(path: string): Promise<WireClient> {
    const c = new WireClient(path);
    return new Promise((resolve, reject) => {
      c.sock.once("connect", () => { resolve(c); });
      c.sock.once("error", reject);
    });
  }

  send(type: number, reqId: number, txId: number, payload: Buffer): void {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(type, 0);
    h.writeUInt32LE(reqId, 4);
    h.writeUInt32LE(txId, 8);
    h.writeUInt32LE(payload.length, 12);
    this.sock.write(Buffer.concat([h, payload]));
  }

  /** the next message that is not a watch event (bounded wait) */
  async next(timeoutMs = 5000): Promise<Reply | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type !== XS_WATCH_EVENT);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (this.ended || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** resolves when the server closed the connection (bounded wait); true if it did */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.ended;
  }

  close(): void {
    this.sock.destroy();
  }
}
