// `xendm serve`: the socket protocol (docs/protocol.md) in front of a fake privcmd device.
// One connection = one Connection = one privcmd file handle. A malformed frame gets an error reply and
// closes its own connection; every other connection goes on.
import { chmodSync, lstatSync, renameSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { Buffer } from "node:buffer";
import { connect, createServer, type Server, type Socket } from "node:net";
import { PrivcmdDevice } from "../privcmd/index.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { EvtchnFiles, PortWords, type EvtchnEntry, type EvtchnStats } from "./evtchn-files.js";
import { SharedPages } from "./shared-pages.js";
import {
  ErrorCode, FrameReader, Kind, PROTOCOL_VERSION, ProtocolError, encodeErrorReply, frame, parseRequest, type RawFrame,
} from "./protocol.js";
import { Connection, PendingCall, type CallObserver, type Executed } from "./connection.js";
import { FastpathHost, type FastConn, type FastpathOptions } from "./fastpath-host.js";
import type { FastChannel } from "./fastpath.js";
import { EventRing } from "./evtchn-ring.js";
import type { TraceWriter } from "./trace.js";

export interface ServerOptions {
  /** The fake host. With it the server also offers /dev/xen/evtchn (and builds `device` if absent). */
  hv?: Hypervisor;
  /** The privcmd driver in front of the host (default: a PrivcmdDevice over `hv`, in its ABI). */
  device?: PrivcmdDevice;
  /** Writes every call (see trace.ts). */
  trace?: TraceWriter;
  /**
   * With `hv`: put the pages the fake allocates from now on in a shared file (a sealed memfd that
   * clients open as /proc/<pid>/fd/<n>, or a file in `dir`; `bytes` of address space, default 1 GiB)
   * so clients can map them; false: no file.
   */
  sharedMemory?: false | { dir?: string; bytes?: number };
  /** Connections served at once (default 256); one more gets an error reply (code 7) and is closed. */
  maxConnections?: number;
  /** A frame must be complete this long after its first byte arrived (default 10000 ms), else code 7. */
  frameTimeoutMs?: number;
  /**
   * A call that continues (Xen's hypercall continuations) runs for this long at a time, the other
   * connections served between (default 1 ms); see docs/protocol.md, "Long calls".
   */
  callSliceMs?: number;
  /** Called with one line per connection event, for -v logging. */
  log?: (line: string) => void;
  /** Sees every DM_OP and HYPERCALL request before it runs (see Connection). */
  observer?: CallObserver;
  /** The shared-memory fast path (fastpath-host.ts): offered in HELLO unless `enabled: false`. */
  fastpath?: FastpathOptions;
}

/** sizeof(sockaddr_un.sun_path) - 1: the longest path a Unix socket address holds with its NUL. */
export const SUN_PATH_MAX = 107;

let tmpSeq = 0;
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_FRAME_TIMEOUT_MS = 10_000;
export const DEFAULT_CALL_SLICE_MS = 1;

interface Conn extends FastConn {
  sock: Socket;
  state: Connection;
  reader: FrameReader;
  closing: boolean;
  fp: FastChannel | undefined;
  /** Armed while a frame is incomplete. */
  timer?: ReturnType<typeof setTimeout>;
  /** Set once the connection became an evtchn file's stream: raw u32 unmasks in, ports out. */
  stream?: { entry: EvtchnEntry; words: PortWords };
  /** The event area of its region, once it opened an evtchn file (evtchn-ring.ts). */
  ring?: EventRing;
  /** The connection's call in progress (at most one), and the frames parsed after it. */
  busy: Busy | undefined;
  /** Chunks that arrived while busy, unparsed. */
  held: Buffer[];
}

interface Busy {
  call: PendingCall;
  seq: number;
  /** It came through the fast-path region (its reply goes there). */
  fast: boolean;
  rest: RawFrame[];
}

export class XendmServer {
  readonly #server: Server;
  readonly #conns = new Set<Conn>();
  #nextId = 1;
  #path: string | undefined;
  /** The socket file this server created (device and inode): close() unlinks only that file. */
  #made: { dev: number; ino: number } | undefined;
  #stats = { connections: 0, requests: 0, errors: 0 };
  readonly #fast: FastpathHost;
  readonly #slice: number;
  readonly #device: PrivcmdDevice;
  /** The open /dev/xen/evtchn files (only with a hypervisor). */
  readonly evtchn: EvtchnFiles | undefined;
  /** The shared file of the fake's pages (only with a hypervisor). */
  readonly shared: SharedPages | undefined;

  constructor(private readonly opts: ServerOptions) {
    const dev = opts.device ?? (opts.hv !== undefined ? new PrivcmdDevice(opts.hv, { abi: opts.hv.abi }) : undefined);
    if (dev === undefined) throw new TypeError("XendmServer: give `hv` (the fake host) or `device`");
    this.#device = dev;
    this.#slice = opts.callSliceMs ?? DEFAULT_CALL_SLICE_MS;
    if (!(this.#slice >= 0)) throw new RangeError(`XendmServer: callSliceMs must be a number of ms >= 0, got ${String(opts.callSliceMs)}`);
    this.evtchn = opts.hv !== undefined ? new EvtchnFiles(opts.hv) : undefined;
    let shared: SharedPages | undefined;
    if (opts.hv !== undefined && opts.sharedMemory !== false) {
      // No shared memory (or no room): the server still runs; clients cannot map pages (SHM_INFO: ENODEV).
      try {
        shared = new SharedPages(opts.sharedMemory ?? {});
        opts.hv.usePages(shared);
      } catch (e) {
        opts.log?.(`no shared memory: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.shared = shared;
    this.#server = createServer((sock) => { this.#accept(sock); });
    this.#fast = new FastpathHost(
      opts.fastpath ?? {},
      (c, f) => this.#runFast(c as Conn, f),
      (c, e, seq) => { this.#fail(c as Conn, e, seq); },
    );
  }

  /** Requests served through fast-path regions, WAKE frames sent, KICK frames received, ms spent serving. */
  get fastpathStats(): Readonly<{ served: number; wakes: number; kicks: number; serveMs: number }> {
    return { ...this.#fast.stats };
  }

  /** Ports delivered and unmasks taken through event areas and through stream sockets. */
  get evtchnStats(): Readonly<EvtchnStats> {
    return { ...(this.evtchn?.stats ?? { ringDeliveries: 0, socketDeliveries: 0, ringUnmasks: 0, socketUnmasks: 0 }) };
  }

  get stats(): Readonly<{ connections: number; requests: number; errors: number; open: number }> {
    return { ...this.#stats, open: this.#conns.size };
  }

  /**
   * Listens on a Unix socket created with mode 0600. A stale socket file is replaced. A path longer
   * than sockaddr_un's sun_path holds (107 bytes and a NUL) is refused rather than truncated.
   */
  async listen(path: string): Promise<void> {
    const bytes = Buffer.byteLength(path);
    if (bytes > SUN_PATH_MAX) throw new Error(`socket path ${path}: ${bytes} bytes, longer than the ${SUN_PATH_MAX} a Unix socket address holds`);
    await removeStale(path);
    // Bound under a private name and renamed into place: the listener's own cleanup (which unlinks
    // by name) then never touches the public path, and close() removes it only if it is still ours.
    const tmp = join(dirname(path), `.xendm-${process.pid}-${(tmpSeq++).toString(36)}`);
    const bindAt = Buffer.byteLength(tmp) <= SUN_PATH_MAX ? tmp : path;
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once("error", reject);
        this.#server.listen(bindAt, () => { this.#server.off("error", reject); resolve(); });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(bindAt, 0o600);
    if (bindAt !== path) renameSync(bindAt, path);
    const st = lstatSync(path);
    this.#made = { dev: st.dev, ino: st.ino };
    this.#path = path;
  }

  /** Stops accepting, drops every connection, unlinks the socket. */
  async close(): Promise<void> {
    for (const c of this.#conns) this.#drop(c);
    this.evtchn?.closeAll();
    this.shared?.close();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
    if (this.#path !== undefined) {
      // Only the socket this server made: a file put there since (another server's socket) stays.
      try {
        const st = lstatSync(this.#path);
        if (st.isSocket() && st.dev === this.#made?.dev && st.ino === this.#made.ino) unlinkSync(this.#path);
      } catch { /* already gone */ }
      this.#path = undefined;
    }
  }

  #accept(sock: Socket): void {
    const max = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.#conns.size >= max) {
      this.#stats.errors++;
      this.opts.log?.(`refused a connection: ${max} open`);
      sock.on("error", () => undefined);
      sock.end(frame(Kind.ERROR, 0, encodeErrorReply(ErrorCode.LIMIT, `server limit: ${max} connections open`)));
      return;
    }
    const state = new Connection(this.#nextId++, this.#device, this.evtchn, this.opts.hv !== undefined ? { hv: this.opts.hv, shared: this.shared } : undefined);
    const c: Conn = {
      sock, state, reader: new FrameReader(), closing: false, fp: undefined, id: state.id, busy: undefined, held: [],
      send: (f) => { if (!c.closing) sock.write(f); },
    };
    c.state.observer = this.opts.observer;
    c.state.features = this.#fast.features;
    this.#conns.add(c);
    this.#stats.connections++;
    this.opts.log?.(`conn ${c.state.id}: open`);
    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => { this.#onData(c, chunk); });
    sock.on("error", () => { this.#drop(c); });
    sock.on("close", () => { this.#drop(c); });
  }

  #onData(c: Conn, chunk: Buffer): void {
    if (c.closing) return;
    if (c.stream !== undefined) {
      // write() on the evtchn fd: whole u32 ports, each an unmask (a partial word waits for the rest)
      const entry = c.stream.entry;
      const files = this.evtchn;
      c.stream.words.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), (port) => { files?.socketUnmask(entry, port); });
      return;
    }
    if (c.busy) {
      // Its call is in progress: what comes meanwhile waits, unread, and the socket is not read.
      c.held.push(chunk);
      c.sock.pause();
      return;
    }
    let frames: RawFrame[];
    try {
      // A plain Uint8Array view: Buffer methods (slice is a view there) must not reach the fake.
      frames = c.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.#fail(c, e, 0);
      return;
    }
    this.#serveFrames(c, frames, 0);
  }

  /** Serves frames[from...] in order; stops at a call that goes on (the rest waits for it). */
  #serveFrames(c: Conn, frames: RawFrame[], from: number): void {
    let seq = 0;
    // Replies to every frame of this chunk go out in one write.
    let one: Uint8Array | undefined;
    let more: Uint8Array[] | undefined;
    try {
      for (let i = from; i < frames.length; i++) {
        const f = frames[i]!;
        seq = f.seq;
        if (f.kind >= 0x08 && f.kind <= 0x0f) {
          checkHeader(f);
          // Replies queued so far go first: FASTPATH's reply and WAKE frames are written at once.
          this.#flush(c, one, more);
          one = more = undefined;
          if (this.#fast.onFrame(c, f)) {
            // A KICK whose request goes on: the frames after it wait for that call too.
            if (c.busy !== undefined) {
              c.busy.rest = frames.slice(i + 1);
              return;
            }
            continue;
          }
        }
        const done = this.#run(c, f);
        if (done instanceof PendingCall) {
          this.#flush(c, one, more);
          this.#hold(c, done, f.seq, false, frames.slice(i + 1));
          return;
        }
        if (one === undefined) one = done.frame;
        else (more ??= [one]).push(done.frame);
        if (done.close === true) {
          this.#flush(c, one, more);
          this.#end(c);
          return;
        }
        if (done.stream !== undefined) {
          if (frames.length > i + 1 || c.reader.pending > 0) {
            throw new ProtocolError(ErrorCode.BAD_FRAME, "bytes after EVTCHN_STREAM before its reply", f.seq);
          }
          this.#flush(c, one, more);
          this.#startStream(c, done.stream);
          return;
        }
      }
      this.#flush(c, one, more);
      this.#frameTimer(c);
    } catch (e) {
      this.#flush(c, one, more);
      this.#fail(c, e, seq);
    }
  }

  /**
   * A call went on past its first slice: the connection waits for it (its later frames, `rest`, and
   * whatever arrives, unread), and the call runs on a slice at a time, the event loop between.
   */
  #hold(c: Conn, call: PendingCall, seq: number, fast: boolean, rest: RawFrame[]): void {
    c.busy = { call, seq, fast, rest };
    c.sock.pause();
    if (c.timer !== undefined) clearTimeout(c.timer); // the frame timer starts again once the call returned
    c.timer = undefined;
    setImmediate(() => { this.#goOn(c); });
  }

  #goOn(c: Conn): void {
    const b = c.busy;
    if (b === undefined || c.closing) return;
    let done: Executed | undefined;
    try {
      done = b.call.run(this.#slice);
    } catch (e) {
      c.busy = undefined;
      this.#fail(c, e, b.seq);
      return;
    }
    if (done === undefined) {
      setImmediate(() => { this.#goOn(c); });
      return;
    }
    c.busy = undefined;
    if (done.trace !== undefined) this.opts.trace?.write(done.trace);
    if (b.fast) this.#fast.complete(c, b.seq, done.frame);
    else this.#flush(c, done.frame, undefined);
    // Then the frames that waited, in order, until one more call goes on.
    if (b.rest.length > 0) this.#serveFrames(c, b.rest, 0);
    else this.#frameTimer(c);
    while (c.busy === undefined && !c.closing && c.held.length > 0) this.#onData(c, c.held.shift()!);
    if (c.busy === undefined && !c.closing && !c.sock.writableNeedDrain) c.sock.resume();
  }

  /**
   * One request frame (from the socket or a fast-path region) through the connection's handlers.
   * A call still going on after a slice comes back pending (its trace line is written when it returns).
   */
  #run(c: Conn, f: RawFrame): Executed | PendingCall {
    checkHeader(f);
    const req = parseRequest(f.kind, f.body, f.seq);
    this.#stats.requests++;
    const trace = this.opts.trace;
    const done = c.state.start(req, f.seq, trace !== undefined, this.#slice);
    if (!(done instanceof PendingCall) && done.trace !== undefined) trace?.write(done.trace);
    if (req.kind === Kind.EVTCHN_OPEN && req.token === 0n) this.#armEvents(c);
    return done;
  }

  /**
   * A file freshly opened on a connection with a region gets that region's event area: its ports go
   * through the ring while the client spins, its unmasks come back through the other ring.
   */
  #armEvents(c: Conn): void {
    const entry = c.state.evtchn;
    if (c.fp === undefined || entry === undefined || c.ring !== undefined || this.evtchn === undefined) return;
    const ring = new EventRing(c.fp, (e) => { this.#fail(c, e, 0); });
    c.ring = ring;
    this.evtchn.useRing(entry, ring);
    const files = this.evtchn;
    c.drainEvents = () => { files.drainRing(entry); };
  }

  /** A fast-path request: its reply frame, or undefined when its call goes on (the reply comes later). */
  #runFast(c: Conn, f: RawFrame): Uint8Array | undefined {
    const done = this.#run(c, f);
    if (!(done instanceof PendingCall)) return done.frame;
    this.#hold(c, done, f.seq, true, []);
    return undefined;
  }

  /** A bad frame: the error reply, then that connection is closed. */
  #fail(c: Conn, e: unknown, seq: number): void {
    if (c.closing) return;
    const pe = e instanceof ProtocolError ? e : new ProtocolError(ErrorCode.INTERNAL, `internal error: ${e instanceof Error ? e.message : String(e)}`, seq);
    this.#stats.errors++;
    this.opts.log?.(`conn ${c.state.id}: error ${pe.code}: ${pe.message}`);
    this.opts.trace?.write({ conn: c.state.id, kind: "error", code: pe.code, message: pe.message });
    c.sock.write(frame(Kind.ERROR, pe.seq || seq, encodeErrorReply(pe.code, pe.message)));
    this.#end(c);
  }

  /** Bounds how long a connection may hold an incomplete frame (and the memory it buffers). */
  #frameTimer(c: Conn): void {
    if (c.reader.pending === 0 || c.busy !== undefined) {
      if (c.timer !== undefined) clearTimeout(c.timer);
      c.timer = undefined;
      return;
    }
    if (c.timer !== undefined) return;
    const ms = this.opts.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.closing) return;
      const message = `server limit: a frame still incomplete after ${ms} ms (${c.reader.pending} bytes held)`;
      this.#stats.errors++;
      this.opts.log?.(`conn ${c.state.id}: error ${ErrorCode.LIMIT}: ${message}`);
      this.opts.trace?.write({ conn: c.state.id, kind: "error", code: ErrorCode.LIMIT, message });
      c.sock.write(frame(Kind.ERROR, 0, encodeErrorReply(ErrorCode.LIMIT, message)));
      this.#end(c);
    }, ms);
    c.timer.unref();
  }

  /** The connection carries the file's ports from now on; its close is the file's last close. */
  #startStream(c: Conn, entry: EvtchnEntry): void {
    c.stream = { entry, words: new PortWords() };
    this.evtchn?.stream(entry.token, (bytes) => { if (!c.closing) c.sock.write(bytes); });
  }

  #flush(c: Conn, one: Uint8Array | undefined, more: Uint8Array[] | undefined): void {
    if (one === undefined) return;
    if (!c.sock.write(more === undefined ? one : Buffer.concat(more)) && !c.closing) {
      // A client that sends without reading: stop reading its requests until its replies drain.
      c.sock.pause();
      c.sock.once("drain", () => { if (c.busy === undefined) c.sock.resume(); });
    }
  }

  /** Half-closes after the queued replies, then forgets the connection. */
  #end(c: Conn): void {
    c.closing = true;
    c.sock.end();
    this.#drop(c, false);
  }

  #drop(c: Conn, destroy = true): void {
    if (!this.#conns.delete(c)) return;
    c.closing = true;
    c.ring?.close();
    this.#fast.drop(c);
    // A call in progress is abandoned: no more passes, no reply; the trace says how far it went.
    const left = c.busy?.call.abandon();
    if (left !== undefined) this.opts.trace?.write(left);
    c.busy = undefined;
    c.held.length = 0;
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.state.close();
    if (c.stream !== undefined) this.evtchn?.streamClosed(c.stream.entry);
    this.opts.trace?.write({ conn: c.state.id, kind: "close" });
    this.opts.log?.(`conn ${c.state.id}: closed`);
    if (destroy) c.sock.destroy();
  }
}

function checkHeader(f: RawFrame): void {
  if (f.version !== PROTOCOL_VERSION) throw new ProtocolError(ErrorCode.BAD_VERSION, `version ${f.version}, this server speaks ${PROTOCOL_VERSION}`, f.seq);
  if (f.flags !== 0) throw new ProtocolError(ErrorCode.BAD_FRAME, `flags 0x${f.flags.toString(16)} must be 0`, f.seq);
}

/** Removes `path` if it is a socket nobody listens on; refuses a live socket or another file. */
export async function removeStale(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => { resolve(false); });
  });
  if (live) throw new Error(`${path}: a server is already listening`);
  unlinkSync(path);
}
