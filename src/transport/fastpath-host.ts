// The server's side of the fast path: FASTPATH and KICK frames, the connections' regions, and the
// bounded polling of active regions after serving (docs/protocol.md, "Fast path"). The socket
// server (server.ts) owns the connections; this module only sees them through FastConn.
import { Buffer } from "node:buffer";
import { performance } from "node:perf_hooks";
import { ErrorCode, Kind, ProtocolError, REPLY_BIT, frame, type RawFrame } from "./protocol.js";
import { FastChannel, FastKind } from "./fastpath.js";

const ENOSPC = 28;
const EEXIST = 17;
const EIO = 5;

export interface FastpathOptions {
  /** Offer the fast path in HELLO (default true). */
  enabled?: boolean;
  /** How long the server keeps polling its regions after the last request it served (default 200 µs). */
  spinUs?: number;
  /** Regions at most at once; a FASTPATH beyond gets -1/ENOSPC and stays on the socket (default 256). */
  maxChannels?: number;
}

/** What the fast path needs of one connection. */
export interface FastConn {
  readonly id: number;
  fp: FastChannel | undefined;
  readonly closing: boolean;
  /** Set while a call of this connection is in progress: its region waits until the call returned. */
  readonly busy: unknown;
  /** Writes a frame on the connection's socket. */
  send(frame: Uint8Array): void;
  /** Takes what the region's event area holds for the server (evtchn-ring.ts); throws ProtocolError. */
  drainEvents?: () => void;
}

/**
 * Runs one request frame (validated header) and returns its reply frame; throws ProtocolError.
 * undefined: the call goes on, and its reply comes through FastpathHost.complete.
 */
export type ServeFrame = (c: FastConn, f: RawFrame) => Uint8Array | undefined;
/** Answers a bad frame with an error reply and closes that connection. */
export type FailConn = (c: FastConn, e: unknown, seq: number) => void;

/** Microtask turns polling waits after a served event-channel ioctl (see #afterMicrotasks). */
const SETTLE_HOPS = 16;
/** A poll slice longer than this returns to the event loop (other sockets) before going on. */
const SLICE_MS = 2;
/** A look this long after the previous one: the server lost its CPU meanwhile (see #poll). */
const PREEMPTED_MS = 0.1;
/** A request found within this of the previous activity counts as one polling caught. */
const QUICK_MS = 0.02;
/** The adaptive window never shrinks below this. */
const MIN_WINDOW_MS = 0.01;
/** At the smallest window, polling is skipped but after every PROBE_EVERY-th KICK (which tries again). */
const PROBE_EVERY = 32;

export class FastpathHost {
  readonly enabled: boolean;
  readonly #spinMs: number;
  readonly #max: number;
  readonly #active = new Set<FastConn>();
  #polling = false;
  #again = false;
  /** The current polling window (ms): adapts between MIN_WINDOW_MS and spinUs. */
  #window: number;
  /** Requests served by the current polling session (before it sleeps). */
  #sessionServed = 0;
  /** KICKs served while polling was skipped (see PROBE_EVERY). */
  #skipped = 0;
  /**
   * Set when a served request may have settled promises in this process (an event-channel ioctl:
   * IOCTL_EVTCHN_NOTIFY completes a guest access waiting on its device model): polling then hands the
   * thread back for one turn of the event loop before it goes on, so what waits on that access runs
   * now rather than after the polling window.
   */
  #settle = false;
  /**
   * Requests served through regions, how many replies needed a WAKE frame, KICKs received, and the
   * time spent serving them (ms: copy-out, checks, the call itself, the reply's copy-in; not the WAKE).
   */
  readonly stats = { served: 0, wakes: 0, kicks: 0, serveMs: 0 };

  constructor(opts: FastpathOptions, private readonly serve: ServeFrame, private readonly fail: FailConn) {
    this.enabled = opts.enabled ?? true;
    this.#spinMs = (opts.spinUs ?? 200) / 1000;
    this.#max = opts.maxChannels ?? 256;
    this.#window = this.#spinMs;
  }

  /** The HELLO reply's features bits. */
  get features(): number {
    return this.enabled ? 1 : 0;
  }

  /** A FASTPATH or KICK frame: handled here (true), with any reply written to the socket. */
  onFrame(c: FastConn, f: RawFrame): boolean {
    if (f.kind !== FastKind.FASTPATH && f.kind !== FastKind.KICK) return false;
    if (!this.enabled) throw new ProtocolError(ErrorCode.UNKNOWN_KIND, `unknown kind 0x${f.kind.toString(16)} (the fast path is off)`, f.seq);
    if (f.body.length !== 0) throw new ProtocolError(ErrorCode.BAD_BODY, `${f.kind === FastKind.KICK ? "KICK" : "FASTPATH"} body: ${f.body.length} bytes, must be empty`, f.seq);
    if (f.kind === FastKind.FASTPATH) {
      c.send(frame(FastKind.FASTPATH | REPLY_BIT, f.seq, this.#open(c)));
      return true;
    }
    if (c.fp === undefined) throw new ProtocolError(ErrorCode.BAD_FRAME, "KICK on a connection without a fast-path region", f.seq);
    this.stats.kicks++;
    if (this.serveOne(c)) this.#startPolling();
    return true;
  }

  #open(c: FastConn): Uint8Array {
    const out = (ret: number, errno: number, path = ""): Uint8Array => {
      const p = Buffer.from(path, "utf8");
      const b = new Uint8Array(8 + p.length);
      const dv = new DataView(b.buffer);
      dv.setInt32(0, ret, true);
      dv.setInt32(4, errno, true);
      b.set(p, 8);
      return b;
    };
    if (c.fp !== undefined) return out(-1, EEXIST);
    if (this.#active.size >= this.#max) return out(-1, ENOSPC);
    try {
      c.fp = FastChannel.create(String(c.id));
    } catch (e) {
      const errno = typeof (e as { errno?: unknown }).errno === "number" ? Math.abs((e as { errno: number }).errno) : EIO;
      return out(-1, errno);
    }
    this.#active.add(c);
    return out(0, 0, c.fp.path);
  }

  /** Serves the request waiting in c's region, if any (true when one was). */
  serveOne(c: FastConn): boolean {
    const fp = c.fp;
    if (fp === undefined || c.closing || c.busy !== undefined || !fp.open) return false;
    if (c.drainEvents !== undefined) {
      // Unmasks first: a port the client unmasked before this request is enabled when it runs.
      try {
        c.drainEvents();
      } catch (e) {
        this.fail(c, e, 0);
        return true;
      }
      if (c.closing || !fp.open) return true;
    }
    const seq = fp.pending();
    if (seq === 0) return false;
    const t0 = performance.now();
    let wake = false;
    try {
      const f = fp.take(seq);
      if (f.kind === Kind.EVTCHN_IOCTL) this.#settle = true;
      const reply = this.serve(c, f);
      if (reply !== undefined) wake = this.#publish(fp, reply, seq);
    } catch (e) {
      this.fail(c, e, seq);
    }
    this.stats.serveMs += performance.now() - t0;
    if (wake) this.#wake(c, seq);
    return true;
  }

  /** The reply of a request whose call went on (ServeFrame gave undefined) is ready. */
  complete(c: FastConn, seq: number, reply: Uint8Array): void {
    const fp = c.fp;
    if (fp === undefined || c.closing) return;
    let wake = false;
    try {
      wake = this.#publish(fp, reply, seq);
    } catch (e) {
      this.fail(c, e, seq);
    }
    if (wake) this.#wake(c, seq);
  }

  /** Writes the reply into the region; true when the client sleeps and needs a WAKE. */
  #publish(fp: FastChannel, reply: Uint8Array, seq: number): boolean {
    this.stats.served++;
    return fp.reply(reply, seq);
  }

  #wake(c: FastConn, seq: number): void {
    // The write wakes the client's sleeping thread: on a VM that costs the sender 20-40 µs of its own.
    this.stats.wakes++;
    c.send(frame(FastKind.WAKE, seq));
  }

  /** The connection is gone: its region is unmapped and its file removed. */
  drop(c: FastConn): void {
    if (c.fp === undefined) return;
    this.#active.delete(c);
    c.fp.close();
    c.fp = undefined;
  }

  /**
   * After serving: poll every active region until none had a request for the spin window, in slices
   * of at most SLICE_MS between which the event loop runs. While polling, the regions' polling word
   * is 1 (clients send no KICK); it goes back to 0, and each region is looked at once more, before
   * the server sleeps (the other half of the client's store-then-load on req_seq / polling).
   */
  #startPolling(): void {
    if (this.#spinMs <= 0) return;
    // Polling that keeps catching nothing (the window at its floor) is skipped: every request then
    // comes with a KICK, as on the socket; now and then a session probes whether polling pays again.
    if (this.#window <= MIN_WINDOW_MS && !this.#polling && ++this.#skipped % PROBE_EVERY !== 0) return;
    if (this.#polling) {
      this.#again = true;
      return;
    }
    // After the promise continuations the reply may have released (a guest access waiting on this
    // notify goes on at once), not before them.
    this.#polling = true;
    setImmediate(() => { this.#poll(); });
  }

  /**
   * Goes on polling once the promise jobs a served request queued have run (a guest access its NOTIFY
   * completed, and what awaits it, a few promise hops deep): SETTLE_HOPS microtask turns, without the
   * cost of an event-loop turn. The slice's bound still hands the thread to the event loop.
   */
  #afterMicrotasks(sliceStart: number): void {
    let hops = 0;
    const hop = (): void => {
      if (++hops < SETTLE_HOPS) queueMicrotask(hop);
      else this.#poll(sliceStart);
    };
    queueMicrotask(hop);
  }

  /**
   * The window adapts: it doubles (up to spinUs) after a session that caught requests while polling
   * and halves after one that caught none (a
   * request found more than QUICK_MS after the previous activity is not a catch: sleeping and
   * being woken would have cost no more). A look that comes PREEMPTED_MS after the previous one
   * means the server lost its CPU meanwhile (an oversubscribed machine, where the two sides do not
   * run at once and a client's KICK wakes the server sooner than polling finds its request): the
   * session ends at once, as one that caught nothing.
   */
  #poll(sliceStart?: number): void {
    this.#polling = true;
    this.#again = false;
    const conns = [...this.#active];
    for (const c of conns) c.fp?.setPolling(true);
    const t = performance.now();
    const start = sliceStart ?? t;
    let last = t;
    let prev = t;
    for (;;) {
      let any = false;
      for (const c of conns) if (this.serveOne(c)) any = true;
      const now = performance.now();
      const preempted = !any && now - prev >= PREEMPTED_MS;
      prev = now;
      if (any) {
        if (now - last <= QUICK_MS) this.#sessionServed++;
        last = now;
      } else if (preempted || now - last >= this.#window) {
        for (const c of conns) c.fp?.setPolling(false);
        let late = false;
        for (const c of conns) if (this.serveOne(c)) late = true;
        if (!late) {
          this.#window = this.#sessionServed > 0 ? Math.min(this.#spinMs, this.#window * 2) : Math.max(MIN_WINDOW_MS, this.#window / 2);
          this.#sessionServed = 0;
          break;
        }
        for (const c of conns) c.fp?.setPolling(true);
        last = prev = performance.now();
      }
      if (this.#settle && now - start < SLICE_MS) {
        this.#settle = false;
        this.#afterMicrotasks(start);
        return;
      }
      if (now - start >= SLICE_MS) {
        this.#settle = false;
        // Let the sockets in; polling goes on right after (the polling words stay 1 meanwhile).
        setImmediate(() => { this.#poll(); });
        return;
      }
    }
    this.#polling = false;
    if (this.#again) this.#poll();
  }
}
