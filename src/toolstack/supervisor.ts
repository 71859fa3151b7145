// Starting, watching and stopping a device model process as libxl does for an HVM guest: spawn it with
// its environment, record its pid in xenstore, wait (bounded) until it is ready, and on destroy remove
// its xenstore directory and signal it. A process that exits or never becomes ready is a
// DeviceModelError carrying its last output lines.
// mirrors libxl_dm.c:libxl__spawn_local_dm, device_model_confirm, device_model_qmp_cb,
// libxl__destroy_device_model; libxl_exec.c:libxl__spawn_spawn (timeout, "died during startup");
// libxl_aoutils.c:libxl__kill_xs_path (SIGHUP)
import { spawn, type ChildProcess } from "node:child_process";
import { DeviceModelError, QmpError } from "./errors.js";
import { LastLines } from "./output.js";
import { QmpClient } from "./qmp.js";
import { deviceModelPath, deviceModelStatePath, domainPath } from "./layout.js";

/** LIBXL_DEVICE_MODEL_START_TIMEOUT, seconds */
export const DEVICE_MODEL_START_TIMEOUT_MS = 60_000;
/** LIBXL_QMP_CMD_TIMEOUT, seconds */
export const QMP_CMD_TIMEOUT_MS = 10_000;

/** The toolstack's xenstore connection, as far as the supervisor uses it. */
export interface SupervisorStore {
  read(path: string): Promise<string | null>;
  write(path: string, value: string): Promise<void>;
  rm(path: string): Promise<void>;
}

export interface DeviceModelSpawn {
  domid: number;
  argv: readonly string[];
  /** added to the parent's environment (libxl's env, LD_PRELOAD, XENDM_SOCKET, XENSTORED_PATH ...) */
  env?: Record<string, string>;
  /** the libxl-cmd QMP socket */
  qmpPath: string;
  /** `-S` was given: expect "prelaunch" from query-status, then `cont` */
  paused: boolean;
  /** xenstore: the pid is recorded and readiness is device-model/<domid>/state = running. Without
   * one, readiness is query-status "running" after `cont`. */
  store?: SupervisorStore;
  /** bound on the whole start, spawn to ready (default 60 s) */
  startTimeoutMs?: number;
  /** bound on each QMP command and on the exit after quit (default 10 s) */
  commandTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

const STATE_POLL_MS = 5;

export class DeviceModelProcess {
  readonly what: string;
  private readonly out = new LastLines();
  private exitInfo: ExitInfo | null = null;
  private readonly exitWaiters: ((e: ExitInfo) => void)[] = [];
  private spawnError: Error | null = null;
  private qmpClient: QmpClient | null = null;
  private readyAt: number | null = null;
  /** called once if the process exits after it was ready (libxl does not watch it then; the owner may) */
  onDeath: ((e: ExitInfo, lastLines: readonly string[]) => void) | null = null;

  private constructor(
    private readonly opts: DeviceModelSpawn,
    private readonly child: ChildProcess,
  ) {
    this.what = `domain ${opts.domid} device model`;
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (s: string) => {
      this.out.push(s);
    });
    child.stderr?.on("data", (s: string) => {
      this.out.push(s);
    });
    child.on("error", (e) => {
      this.spawnError = e;
      this.exited({ code: null, signal: null });
    });
    // "close" comes after the output pipes are drained, so the last lines are all there
    child.on("close", (code, signal) => {
      this.exited({ code, signal });
    });
  }

  /** Spawns the device model and waits until it is ready (or fails with a DeviceModelError). */
  static async start(opts: DeviceModelSpawn): Promise<DeviceModelProcess> {
    const [bin, ...args] = opts.argv;
    if (bin === undefined) throw new DeviceModelError("spawn-failed", `domain ${opts.domid} device model`, "empty argv", []);
    const child = spawn(bin, args, {
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const dm = new DeviceModelProcess(opts, child);
    try {
      await dm.becomeReady();
    } catch (e) {
      dm.kill("SIGKILL");
      await dm.waitExit(1000).catch(() => undefined);
      throw e;
    }
    return dm;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get qmp(): QmpClient {
    if (this.qmpClient === null) throw new Error(`${this.what}: no QMP connection`);
    return this.qmpClient;
  }

  /** Exit code or signal once the process has exited, else null. */
  get exit(): ExitInfo | null {
    return this.exitInfo;
  }

  lastLines(): string[] {
    return this.out.get();
  }

  /** Milliseconds from spawn to ready. */
  startupMs = 0;

  private async becomeReady(): Promise<void> {
    const t0 = performance.now();
    const startTimeout = this.opts.startTimeoutMs ?? DEVICE_MODEL_START_TIMEOUT_MS;
    const deadline = Date.now() + startTimeout;
    const commandTimeoutMs = this.opts.commandTimeoutMs ?? QMP_CMD_TIMEOUT_MS;
    const store = this.opts.store;
    const dom = domainPath(this.opts.domid);
    if (store !== undefined && this.child.pid !== undefined) {
      // libxl__spawn_record_pid
      await store.write(`${dom}/image/device-model-pid`, String(this.child.pid));
    }
    const timeout = (): DeviceModelError =>
      new DeviceModelError("start-timeout", this.what, `${this.what}: startup timed out after ${startTimeout} ms`, this.out.get());
    const alive = (): void => {
      this.throwIfExited();
      if (Date.now() > deadline) throw timeout();
    };
    try {
      this.qmpClient = await QmpClient.connect(this.opts.qmpPath, {
        connectTimeoutMs: Math.max(1, deadline - Date.now()),
        commandTimeoutMs,
        stillWorthIt: alive,
      });
    } catch (e) {
      if (e instanceof QmpError && e.code === "connect-timeout") throw timeout();
      await this.throwIfExitedSoon();
      throw this.wrap(e);
    }
    try {
      if (this.opts.paused) {
        // device_model_qmp_cb: a fresh (not restored) guest must be in "prelaunch"
        const st = await this.qmp.queryStatus();
        if (st.status !== "prelaunch") {
          throw new DeviceModelError("not-ready", this.what, `${this.what}: unexpected QEMU status: ${st.status}`, this.out.get());
        }
        await this.qmp.cont();
      }
      if (store !== undefined) {
        // device_model_confirm: wait for device-model/<domid>/state = "running"
        const path = deviceModelStatePath(this.opts.domid);
        for (;;) {
          alive();
          if ((await store.read(path)) === "running") break;
          await new Promise((r) => setTimeout(r, STATE_POLL_MS));
        }
      } else {
        for (;;) {
          alive();
          if ((await this.qmp.queryStatus()).running) break;
          await new Promise((r) => setTimeout(r, STATE_POLL_MS));
        }
      }
    } catch (e) {
      await this.throwIfExitedSoon();
      throw this.wrap(e);
    }
    this.startupMs = performance.now() - t0;
    this.readyAt = Date.now();
  }

  private wrap(e: unknown): Error {
    if (e instanceof DeviceModelError) return e;
    if (e instanceof QmpError) {
      return new DeviceModelError("not-ready", this.what, `${this.what}: ${e.message}`, this.out.get());
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  private throwIfExited(): void {
    const x = this.exitInfo;
    if (x === null) return;
    if (this.spawnError !== null) {
      throw new DeviceModelError("spawn-failed", this.what, `${this.what}: could not start ${this.opts.argv[0]}: ${this.spawnError.message}`, this.out.get());
    }
    // libxl_exec.c:libxl__spawn_watch_... "failed startup with non-zero exit status" / "died during startup"
    const how =
      x.signal !== null
        ? `died during startup due to fatal signal ${x.signal}`
        : x.code === 0
          ? "unexpectedly exited with exit status 0, when we were waiting for it to confirm startup"
          : `failed startup with non-zero exit status ${x.code}`;
    throw new DeviceModelError("exited", this.what, `${this.what} [${this.child.pid}]: ${how}`, this.out.get(), x);
  }

  /** A QMP failure usually means the process is exiting: give it a moment so the error says so. */
  private async throwIfExitedSoon(): Promise<void> {
    await this.waitExit(500).catch(() => undefined);
    this.throwIfExited();
  }

  private exited(e: ExitInfo): void {
    if (this.exitInfo !== null) return;
    this.exitInfo = e;
    for (const w of this.exitWaiters.splice(0)) w(e);
    if (this.readyAt !== null && this.onDeath !== null) this.onDeath(e, this.out.get());
  }

  /** Resolves when the process has exited; rejects after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<ExitInfo> {
    if (this.exitInfo !== null) return Promise.resolve(this.exitInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.exitWaiters.indexOf(done);
        if (i >= 0) this.exitWaiters.splice(i, 1);
        reject(new DeviceModelError("stop-timeout", this.what, `${this.what}: still running after ${timeoutMs} ms`, this.out.get()));
      }, timeoutMs);
      const done = (e: ExitInfo): void => {
        clearTimeout(timer);
        resolve(e);
      };
      this.exitWaiters.push(done);
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitInfo === null) {
      try {
        this.child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }

  /**
   * Clean shutdown: QMP quit, then wait (bounded) for the exit (QEMU disables and destroys its ioreq
   * server on the way out). If it does not exit in time it is killed and a stop-timeout is thrown.
   */
  async stop(): Promise<ExitInfo> {
    const bound = this.opts.commandTimeoutMs ?? QMP_CMD_TIMEOUT_MS;
    if (this.exitInfo === null && this.qmpClient !== null && !this.qmpClient.isClosed) {
      await this.qmpClient.quit().catch(() => undefined);
    }
    try {
      return await this.waitExit(bound);
    } catch (e) {
      this.kill("SIGKILL");
      await this.waitExit(1000).catch(() => undefined);
      throw e;
    } finally {
      this.qmpClient?.close();
    }
  }

  /**
   * libxl__destroy_device_model: remove device-model/<domid> from xenstore and send SIGHUP to the pid
   * (a process that already died is simply gone). Waits (bounded) for it to exit; SIGKILL after that.
   */
  async destroy(): Promise<ExitInfo> {
    const store = this.opts.store;
    if (store !== undefined) {
      await store.rm(deviceModelPath(this.opts.domid));
      await store.rm(`${domainPath(this.opts.domid)}/image/device-model-pid`);
    }
    this.qmpClient?.close();
    this.kill("SIGHUP");
    try {
      return await this.waitExit(this.opts.commandTimeoutMs ?? QMP_CMD_TIMEOUT_MS);
    } catch {
      this.kill("SIGKILL");
      return await this.waitExit(2000);
    }
  }
}
