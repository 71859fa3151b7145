// Runs a program under the LD_PRELOAD shim against a fake host served in this process: the server
// listens before the program starts (no race), the program's output is captured (bounded) or passed
// through, and stopping it is SIGTERM, a bounded wait, then SIGKILL.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { PrivcmdDevice } from "../privcmd/index.js";
import { XenstoredServer, type XenstoredServerOptions } from "../xenstore/server.js";
import type { CallObserver } from "../transport/connection.js";
import { XendmServer } from "../transport/server.js";
import type { TraceWriter } from "../transport/trace.js";

/** Bytes of each output stream kept (the tail) when it is captured. */
export const OUTPUT_LIMIT = 64 * 1024;

export class LaunchError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "LaunchError";
  }
}

/** The shim: $XENDM_SHIM, else native/build/libxendm-shim.so of this package. */
export function shimPath(): string {
  const env = process.env.XENDM_SHIM;
  if (env !== undefined && env !== "") return resolve(env);
  // src/transport/ (tsx) and dist/src/transport/ (compiled) both sit below the package root
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, "native", "build", "libxendm-shim.so");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "native", "build", "libxendm-shim.so");
}

export interface LaunchOptions {
  /** The program and its arguments. */
  argv: readonly string[];
  /** The fake privcmd device to serve (its hypervisor is the host the program talks to). */
  device: PrivcmdDevice;
  /** That hypervisor: with it the server also offers its event channels (/dev/xen/evtchn). */
  hv?: Hypervisor;
  /** Extra environment for the program (on top of this process's). */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** "capture" keeps the tail of stdout and stderr; "inherit" passes them through (xendm exec). */
  stdio?: "capture" | "inherit";
  trace?: TraceWriter;
  log?: (line: string) => void;
  /** Sees every DM_OP and HYPERCALL request (xendm exec --conform). */
  observer?: CallObserver;
  /** Also serve a xenstored beside the fake (its socket in XENSTORED_PATH). */
  xenstore?: XenstoredServerOptions;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A bounded tail of a stream's text. */
class Tail {
  #text = "";
  #dropped = false;
  push(chunk: Buffer): void {
    this.#text += chunk.toString("utf8");
    if (this.#text.length > OUTPUT_LIMIT) {
      this.#text = this.#text.slice(this.#text.length - OUTPUT_LIMIT);
      this.#dropped = true;
    }
  }
  get text(): string {
    return this.#text;
  }
  get truncated(): boolean {
    return this.#dropped;
  }
}

export class LaunchedProgram {
  readonly #child: ChildProcess;
  readonly #out = new Tail();
  readonly #err = new Tail();
  #exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  #closed = false;

  constructor(
    child: ChildProcess,
    readonly server: XendmServer,
    readonly socketPath: string,
    private readonly dir: string,
    readonly xenstored: XenstoredServer | undefined,
  ) {
    this.#child = child;
    child.stdout?.on("data", (c: Buffer) => { this.#out.push(c); });
    child.stderr?.on("data", (c: Buffer) => { this.#err.push(c); });
    this.exited = new Promise<Exit>((res) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        res(this.#exit);
      });
      child.once("error", (e) => {
        // the program could not be started (not found, not executable): say so where its stderr would go
        const msg = `cannot start ${child.spawnfile}: ${e.message}\n`;
        if (child.stderr === null) process.stderr.write(msg);
        this.#err.push(Buffer.from(msg));
        this.#exit ??= { code: 127, signal: null };
        res(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** The exit status: a code, or 128 + the signal number as a shell reports it; null while running. */
  get exitCode(): number | null {
    if (this.#exit === null) return null;
    if (this.#exit.code !== null) return this.#exit.code;
    return 128 + signalNumber(this.#exit.signal);
  }

  get exit(): Exit | null {
    return this.#exit;
  }

  get stdout(): string {
    return this.#out.text;
  }

  get stderr(): string {
    return this.#err.text;
  }

  /** The last `n` lines of a captured stream. */
  lastLines(stream: "stdout" | "stderr", n: number): string[] {
    const lines = (stream === "stdout" ? this.stdout : this.stderr).split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return lines.slice(-n);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.#child.kill(sig);
  }

  /** SIGTERM, then waits up to `timeoutMs`; SIGKILL if it is still running. Resolves with how it ended. */
  async stop(timeoutMs: number): Promise<{ exit: Exit; killed: boolean }> {
    if (!this.running) return { exit: this.#exit!, killed: false };
    this.#child.kill("SIGTERM");
    const done = await withTimeout(this.exited, timeoutMs);
    if (done !== undefined) return { exit: done, killed: false };
    this.#child.kill("SIGKILL");
    const exit = await withTimeout(this.exited, 5000);
    return { exit: exit ?? { code: null, signal: "SIGKILL" }, killed: true };
  }

  /** Stops the program if it still runs, then the server; removes the socket's directory. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stop(timeoutMs);
    await this.server.close();
    await this.xenstored?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves with the promise's value, or undefined after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((res) => { timer = setTimeout(() => { res(undefined); }, ms); });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : (SIGNALS[sig] ?? 0);
}

/**
 * Serves `device` on a fresh socket, then starts the program under the shim with XENDM_SOCKET set.
 * Throws LaunchError when the shim or the program cannot be found.
 */
export async function launchUnderShim(opts: LaunchOptions): Promise<LaunchedProgram> {
  const prog = opts.argv[0];
  if (prog === undefined || prog === "") throw new LaunchError("exec", "no program given");
  const shim = shimPath();
  if (!existsSync(shim)) throw new LaunchError("shim", `${shim} not found (build it with 'make -C native')`);
  const cwd = opts.cwd ?? process.cwd();
  if (prog.includes("/") && !existsSync(resolve(cwd, prog))) throw new LaunchError("exec", `${prog} not found`);
  const dir = mkdtempSync(join(tmpdir(), "xendm-exec-"));
  const socketPath = join(dir, "privcmd.sock");
  const server = new XendmServer({ device: opts.device, ...(opts.hv ? { hv: opts.hv } : {}), ...(opts.trace ? { trace: opts.trace } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.observer ? { observer: opts.observer } : {}) });
  const xsPath = join(dir, "xenstored.sock");
  const xenstored = opts.xenstore !== undefined ? new XenstoredServer({ ...opts.xenstore, ...(opts.log ? { log: opts.log } : {}) }) : undefined;
  try {
    await server.listen(socketPath);
    await xenstored?.listen(xsPath);
  } catch (e) {
    await server.close();
    await xenstored?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const preload = process.env.LD_PRELOAD !== undefined && process.env.LD_PRELOAD !== "" ? `${shim}:${process.env.LD_PRELOAD}` : shim;
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, LD_PRELOAD: preload, XENDM_SOCKET: socketPath };
  if (xenstored !== undefined) env.XENSTORED_PATH = xsPath;
  const child = spawn(prog, opts.argv.slice(1), { cwd, env, stdio: opts.stdio === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"] });
  return new LaunchedProgram(child, server, socketPath, dir, xenstored);
}
