// A QMP client: the JSON-lines control protocol of QEMU's monitor (`-mon chardev=...,mode=control`).
// Connect (retrying while QEMU has not made its socket yet), read the greeting, negotiate
// capabilities, then one command at a time with an id; events are kept apart. Every wait is bounded.
// mirrors libxl_qmp.c: the greeting, qmp_capabilities, then commands with an "id"
import { connect, type Socket } from "node:net";
import { QmpError } from "./errors.js";

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpStatus {
  /** "prelaunch", "running", "paused", "shutdown", ... */
  status: string;
  running: boolean;
}

export interface QmpConnectOptions {
  /** how long to keep retrying while the socket does not exist or refuses (default 10 s) */
  connectTimeoutMs?: number;
  /** bound on the greeting and on each command (default 10 s: LIBXL_QMP_CMD_TIMEOUT) */
  commandTimeoutMs?: number;
  /** called before each retry; a rejection stops the retries with that error (e.g. QEMU exited) */
  stillWorthIt?: () => void;
}

/** A line longer than this is not QMP we expect (replies here are a few hundred bytes). */
const MAX_LINE = 1 << 20;
/** Events kept for `events()`; older ones are dropped. */
const MAX_EVENTS = 256;
const RETRY_MS = 20;

interface Pending {
  id: number;
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class QmpClient {
  private buf = "";
  private pending: Pending | null = null;
  private queue: (() => void)[] = [];
  private nextId = 1;
  private closed: QmpError | null = null;
  private readonly eventLog: QmpEvent[] = [];
  private readonly eventWaiters = new Set<(e: QmpEvent) => void>();
  private greetingWaiter: ((v: Record<string, unknown>) => void) | null = null;
  private greetingFailer: ((e: Error) => void) | null = null;
  /** QEMU's version as the greeting gave it */
  version: { major: number; minor: number; micro: number } | null = null;

  private constructor(
    private readonly sock: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      this.onData(chunk);
    });
    sock.on("error", () => {
      /* the close handler reports it */
    });
    sock.on("close", () => {
      this.fail(new QmpError("closed", this.pending?.command ?? "connection", "QMP connection closed by QEMU"));
    });
  }

  /** Connects to a QMP socket, reads the greeting and enters command mode (qmp_capabilities). */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    const commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    const deadline = Date.now() + connectTimeoutMs;
    let lastErr = "";
    for (;;) {
      opts.stillWorthIt?.();
      try {
        const sock = await openSocket(path, Math.max(1, deadline - Date.now()));
        const c = new QmpClient(sock, commandTimeoutMs);
        await c.greeting();
        await c.execute("qmp_capabilities");
        return c;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (e instanceof QmpError) throw e;
        if (code !== "ENOENT" && code !== "ECONNREFUSED" && code !== "ETIMEDOUT") {
          throw new QmpError("protocol", "connect", `QMP socket ${path}: ${(e as Error).message}`);
        }
        lastErr = code;
      }
      if (Date.now() >= deadline) {
        throw new QmpError("connect-timeout", "connect", `QMP socket ${path} not reachable within ${connectTimeoutMs} ms (${lastErr})`);
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  private greeting(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new QmpError("timeout", "greeting", `no QMP greeting within ${this.commandTimeoutMs} ms`));
        this.close();
      }, this.commandTimeoutMs);
      this.greetingWaiter = (g) => {
        clearTimeout(timer);
        resolve(g);
      };
      this.greetingFailer = (e) => {
        clearTimeout(timer);
        reject(e);
      };
    });
  }

  /** Runs one command and returns its "return" value; QEMU's error is a QmpError "command-failed". */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed !== null) return Promise.reject(new QmpError("closed", command, `QMP ${command}: connection closed`));
    return new Promise((resolve, reject) => {
      const run = (): void => {
        if (this.closed !== null) {
          reject(new QmpError("closed", command, `QMP ${command}: connection closed`));
          this.runNext();
          return;
        }
        const id = this.nextId++;
        const timer = setTimeout(() => {
          this.pending = null;
          reject(new QmpError("timeout", command, `QMP ${command}: no answer within ${this.commandTimeoutMs} ms`));
          this.runNext();
        }, this.commandTimeoutMs);
        this.pending = { id, command, resolve, reject, timer };
        const msg: Record<string, unknown> = { execute: command, id };
        if (args !== undefined) msg.arguments = args;
        this.sock.write(JSON.stringify(msg) + "\n");
      };
      if (this.pending === null && this.queue.length === 0) run();
      else this.queue.push(run);
    });
  }

  /** query-status */
  async queryStatus(): Promise<QmpStatus> {
    const r = await this.execute("query-status");
    if (!isObject(r) || typeof r.status !== "string") {
      // libxl: "Missing 'status' in response to 'query-status'" (ERROR_QEMU_API)
      throw new QmpError("protocol", "query-status", `QMP query-status: no "status" in ${JSON.stringify(r)}`);
    }
    return { status: r.status, running: r.running === true };
  }

  cont(): Promise<unknown> {
    return this.execute("cont");
  }

  systemReset(): Promise<unknown> {
    return this.execute("system_reset");
  }

  /** quit: QEMU answers, then exits; the connection closing afterwards is expected. */
  async quit(): Promise<void> {
    try {
      await this.execute("quit");
    } catch (e) {
      if (!(e instanceof QmpError && e.code === "closed")) throw e;
    }
  }

  /** Events received so far (the newest MAX_EVENTS). */
  events(): readonly QmpEvent[] {
    return this.eventLog;
  }

  /** Waits for an event of that name that arrives after the call, within `timeoutMs`. */
  waitEvent(name: string, timeoutMs = this.commandTimeoutMs): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.eventWaiters.delete(w);
        reject(new QmpError("timeout", `event ${name}`, `no QMP ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (e: QmpEvent): void => {
        if (e.event !== name) return;
        clearTimeout(timer);
        this.eventWaiters.delete(w);
        resolve(e);
      };
      this.eventWaiters.add(w);
    });
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  close(): void {
    this.sock.destroy();
    this.fail(new QmpError("closed", "connection", "QMP connection closed"));
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > MAX_LINE && !this.buf.includes("\n")) {
      this.protocolError(`a QMP line longer than ${MAX_LINE} bytes`);
      return;
    }
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === "") continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        this.protocolError(`not JSON: ${line.slice(0, 80)}`);
        return;
      }
      if (!isObject(msg)) {
        this.protocolError(`not a JSON object: ${line.slice(0, 80)}`);
        return;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (isObject(msg.QMP)) {
      const v = isObject(msg.QMP.version) ? msg.QMP.version.qemu : undefined;
      if (isObject(v)) this.version = { major: Number(v.major), minor: Number(v.minor), micro: Number(v.micro) };
      this.greetingWaiter?.(msg.QMP);
      this.greetingWaiter = null;
      this.greetingFailer = null;
      return;
    }
    if (typeof msg.event === "string") {
      const ev: QmpEvent = { event: msg.event };
      if (isObject(msg.data)) ev.data = msg.data;
      if (isObject(msg.timestamp)) ev.timestamp = msg.timestamp as QmpEvent["timestamp"];
      this.eventLog.push(ev);
      if (this.eventLog.length > MAX_EVENTS) this.eventLog.shift();
      for (const w of [...this.eventWaiters]) w(ev);
      return;
    }
    const p = this.pending;
    if (p === null || msg.id !== p.id) {
      // an answer to a command that already timed out: dropped
      return;
    }
    clearTimeout(p.timer);
    this.pending = null;
    if ("return" in msg) p.resolve(msg.return);
    else if (isObject(msg.error)) {
      const cls = typeof msg.error.class === "string" ? msg.error.class : "GenericError";
      const desc = typeof msg.error.desc === "string" ? msg.error.desc : JSON.stringify(msg.error);
      p.reject(new QmpError("command-failed", p.command, `QMP ${p.command}: ${cls}: ${desc}`, cls));
    } else p.reject(new QmpError("protocol", p.command, `QMP ${p.command}: an answer with neither return nor error`));
    this.runNext();
  }

  private runNext(): void {
    const next = this.queue.shift();
    if (next !== undefined) next();
  }

  private protocolError(what: string): void {
    const e = new QmpError("protocol", this.pending?.command ?? "greeting", `QMP protocol error: ${what}`);
    this.sock.destroy();
    this.fail(e);
  }

  private fail(e: QmpError): void {
    if (this.closed !== null) return;
    this.closed = e;
    this.greetingFailer?.(e);
    this.greetingWaiter = null;
    this.greetingFailer = null;
    const p = this.pending;
    this.pending = null;
    if (p !== null) {
      clearTimeout(p.timer);
      p.reject(new QmpError(e.code, p.command, `QMP ${p.command}: ${e.message}`));
    }
    const q = this.queue;
    this.queue = [];
    for (const run of q) run();
  }
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
