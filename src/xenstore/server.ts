// The socket server (xenstored_core.c:accept_connection / handle_input / handle_output): one Unix
// socket per caller domain, many clients on each, every message answered in order.
import { chmodSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { removeStale } from "../transport/server.js";
import type { XsConnection } from "./connection.js";
import { XenstoreCore, type XenstoreOptions } from "./core.js";
import { eventFrame, frame, XsFrameReader } from "./wire.js";

export interface XenstoredServerOptions extends XenstoreOptions {
  /** serve this core (default: a new one from the other options) */
  core?: XenstoreCore;
  /** a client that sent part of a message and nothing more for this long is dropped (default 5000 ms) */
  partialTimeoutMs?: number;
  /** queued output beyond which a client's requests are not read and its watch events dropped (default 1 MiB) */
  maxOutputBytes?: number;
  /** one line per connection event, for -v logging */
  log?: (line: string) => void;
}

interface Client {
  sock: Socket;
  conn: XsConnection;
  reader: XsFrameReader;
  out: Buffer[];
  outBytes: number;
  busy: boolean;
  flushQueued: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class XenstoredServer {
  readonly core: XenstoreCore;
  readonly #servers = new Map<string, Server>();
  readonly #clients = new Set<Client>();
  readonly #partialMs: number;
  readonly #maxOut: number;
  readonly stats = { connections: 0, dropped: 0, droppedEvents: 0 };

  constructor(private readonly opts: XenstoredServerOptions = {}) {
    this.core = opts.core ?? new XenstoreCore(opts);
    this.#partialMs = opts.partialTimeoutMs ?? 5000;
    this.#maxOut = opts.maxOutputBytes ?? 1 << 20;
  }

  /** bytes of replies and events queued for clients that have not read them yet */
  get queuedBytes(): number {
    let n = 0;
    for (const c of this.#clients) n += c.sock.writableLength + c.outBytes;
    return n;
  }

  /** the socket paths listened on */
  get paths(): string[] {
    return [...this.#servers.keys()];
  }

  /**
   * Listens on a Unix socket (mode 0600; a stale one is replaced). Its clients are connections of
   * domain `domid` (default 0, a dom0 tool): libxenstore reaches it with XENSTORED_PATH=path.
   */
  async listen(path: string, opts: { domid?: number } = {}): Promise<void> {
    const domid = opts.domid ?? 0;
    await removeStale(path);
    const server = createServer((sock) => { this.#accept(sock, domid); });
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => { server.off("error", reject); resolve(); });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
    this.#servers.set(path, server);
  }

  readonly #onClose: (() => void)[] = [];

  /** runs when the server closes */
  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  /** Stops listening, drops every client, unlinks the sockets. */
  async close(): Promise<void> {
    for (const fn of this.#onClose.splice(0)) fn();
    for (const c of [...this.#clients]) this.#drop(c);
    await Promise.all([...this.#servers].map(([path, s]) => new Promise<void>((resolve) => {
      s.close(() => {
        try { unlinkSync(path); } catch { /* already gone */ }
        resolve();
      });
    })));
    this.#servers.clear();
  }

  #accept(sock: Socket, domid: number): void {
    const client: Client = {
      sock, conn: undefined as unknown as XsConnection, reader: new XsFrameReader(), out: [], outBytes: 0, busy: false, flushQueued: false, timer: undefined,
    };
    client.conn = this.core.connect(domid, {
      reply: (type, reqId, txId, payload) => { this.#queue(client, frame(type, reqId, txId, payload)); },
      event: (path, token) => {
        const f = eventFrame(path, token);
        if (f === undefined) return;
        if (sock.writableLength + client.outBytes > this.#maxOut) {
          this.stats.droppedEvents++;
          return;
        }
        // mirrors xenstored_core.c:send_event: an identical event still waiting to be sent is not queued
        // twice (special events excepted)
        if (!path.startsWith("@") && client.out.some((q) => q.equals(f))) return;
        this.#queue(client, f);
      },
      close: () => { this.#flush(client); sock.end(); this.#drop(client, false); },
    });
    this.#clients.add(client);
    this.stats.connections++;
    this.opts.log?.(`conn ${client.conn.serial}: open (domain ${domid})`);
    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => { this.#onData(client, chunk); });
    sock.on("error", () => { this.#drop(client); });
    sock.on("close", () => { this.#drop(client); });
    sock.on("drain", () => { if (!client.conn.closed) sock.resume(); });
  }

  #queue(c: Client, f: Buffer): void {
    c.out.push(f);
    c.outBytes += f.length;
    if (!c.busy && !c.flushQueued) {
      c.flushQueued = true;
      queueMicrotask(() => { this.#flush(c); });
    }
  }

  #flush(c: Client): void {
    c.flushQueued = false;
    if (c.out.length === 0 || c.conn.closed && c.sock.destroyed) return;
    const data = c.out.length === 1 ? c.out[0]! : Buffer.concat(c.out, c.outBytes);
    c.out = [];
    c.outBytes = 0;
    c.sock.write(data);
    // a client that sends without reading: its requests wait until its replies drain
    if (c.sock.writableLength > this.#maxOut) c.sock.pause();
  }

  #onData(c: Client, chunk: Buffer): void {
    if (c.conn.closed) return;
    c.busy = true;
    try {
      c.reader.push(chunk, (m) => {
        if (!c.conn.closed) this.core.process(c.conn, m.type, m.reqId, m.txId, m.payload);
      });
    } catch (e) {
      // mirrors xenstored_core.c:handle_input: an oversized message ends that client only
      this.stats.dropped++;
      this.opts.log?.(`conn ${c.conn.serial}: dropped: ${e instanceof Error ? e.message : String(e)}`);
      c.busy = false;
      this.#flush(c);
      c.sock.end();
      this.#drop(c, false);
      return;
    }
    c.busy = false;
    this.#flush(c);
    this.#armTimer(c);
  }

  /** a partial message must be completed within partialTimeoutMs */
  #armTimer(c: Client): void {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
    if (!c.reader.partial || c.conn.closed) return;
    c.timer = setTimeout(() => {
      this.stats.dropped++;
      this.opts.log?.(`conn ${c.conn.serial}: dropped: partial message idle for ${this.#partialMs} ms`);
      this.#drop(c);
    }, this.#partialMs);
    c.timer.unref();
  }

  #drop(c: Client, destroy = true): void {
    if (!this.#clients.delete(c)) return;
    if (c.timer !== undefined) clearTimeout(c.timer);
    this.core.disconnect(c.conn);
    this.opts.log?.(`conn ${c.conn.serial}: closed`);
    if (destroy) c.sock.destroy();
  }
}

/** Starts a xenstored on `path` (dom0 clients) and, per entry of `domainSockets`, one for that domain. */
export async function startXenstored(path: string, opts: XenstoredServerOptions & { domainSockets?: Record<number, string> } = {}): Promise<XenstoredServer> {
  const s = new XenstoredServer(opts);
  await s.listen(path);
  for (const [d, p] of Object.entries(opts.domainSockets ?? {})) await s.listen(p, { domid: Number(d) });
  return s;
}
