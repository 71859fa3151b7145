// Shared by the native tests, the capture script and the shim bench: build the C parts, start the
// socket server in this process, run a program under the shim.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import type { PrivcmdDevice } from "../../src/privcmd/index.js";
import type { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { createFakeHost, worldForDomains } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { TraceWriter } from "../../src/transport/trace.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const NATIVE = join(ROOT, "native");
export const BUILD = join(NATIVE, "build");
export const SHIM = join(BUILD, "libxendm-shim.so");
export const CONFORMANCE = join(BUILD, "conformance");
export const RAWCLIENT = join(BUILD, "rawclient");
export const XENDEVICEMODEL_H = "/usr/include/xendevicemodel.h";

/** The domain the native tests drive. */
export const DOM = 1;
export const WORLD: WorldConfig = worldForDomains([DOM]);

/** Why the native parts cannot be built here, or undefined when they can. */
export function nativeMissing(): string | undefined {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
  } catch {
    return "gcc not found";
  }
  if (!existsSync(XENDEVICEMODEL_H)) return `${XENDEVICEMODEL_H} not found (install libxen-dev)`;
  return undefined;
}

export function buildNative(): void {
  execFileSync("make", ["-s", "-C", NATIVE], { stdio: ["ignore", "ignore", "inherit"] });
  if (!existsSync(CONFORMANCE)) throw new Error("native/build/conformance was not built (libxendevicemodel missing?)");
}

export interface RunningServer {
  path: string;
  hv: Hypervisor;
  device: PrivcmdDevice;
  server: XendmServer;
  close(): Promise<void>;
}

/**
 * A fresh fake host behind `xendm serve`'s server, listening on a socket in a new temp dir.
 * With `record`, every call is written there as `xendm serve --record` does.
 */
export async function startServer(world: WorldConfig = WORLD, record?: string): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-shim-"));
  const path = join(dir, "sock");
  const { hv, device } = createFakeHost(world);
  const trace = record === undefined ? undefined : new TraceWriter(record, { xendm_trace: 1, world });
  const server = new XendmServer(trace === undefined ? { hv, device } : { hv, device, trace });
  await server.listen(path);
  return {
    path,
    hv,
    device,
    server,
    close: async () => {
      await server.close();
      trace?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `xendm serve --socket PATH --record FILE` as a separate process (the CLI, through tsx). Resolves
 * once it listens; `stop()` sends SIGTERM and resolves with its stderr when it has exited.
 */
export async function startCliServer(record: string, extraArgs: readonly string[] = []): Promise<{ path: string; pid: number; stop(): Promise<string> }> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-serve-"));
  const path = join(dir, "sock");
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--socket", path, "--record", record, ...extraArgs],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } },
  );
  let stderr = "";
  await new Promise<void>((resolvePromise, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      if (stderr.includes("listening on")) resolvePromise();
    });
    child.once("error", reject);
    child.once("exit", (code) => { reject(new Error(`xendm serve exited ${String(code)}: ${stderr}`)); });
  });
  child.removeAllListeners("exit");
  return {
    path,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise<string>((resolvePromise) => {
        child.once("exit", () => {
          rmSync(dir, { recursive: true, force: true });
          resolvePromise(stderr);
        });
        child.kill("SIGTERM");
      }),
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args` asynchronously (the server lives in this process), with the shim preloaded unless env says otherwise. */
export function run(bin: string, args: readonly string[], env: Record<string, string | undefined>): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const base: Record<string, string | undefined> = { ...process.env };
    delete base.XENDM_SOCKET;
    delete base.XENDM_CAPTURE;
    delete base.XENDM_SHIM_NO_DMOP;
    delete base.XENDM_CALLER;
    const child = spawn(bin, args, { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
    child.on("error", reject);
    child.on("close", (code) => { resolvePromise({ code, stdout, stderr }); });
  });
}

/** The C stub server (`native/rawclient stub PATH`), once it says it listens: the baseline beside xendm's server. */
export async function startStub(path: string): Promise<ChildProcess> {
  const child = spawn(RAWCLIENT, ["stub", path], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => { resolve(); });
    child.once("error", reject);
    child.once("exit", (code) => { reject(new Error(`stub server exited ${String(code)}`)); });
  });
  return child;
}

export function shimEnv(socket: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LD_PRELOAD: SHIM, XENDM_SOCKET: socket, ...extra };
}

export type Json = Record<string, unknown>;

export function jsonLines(text: string): Json[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Json);
}

/** One conformance call with the ioctls the shim captured between its mark and the next one. */
export interface CapturedCall {
  fn: string;
  ioctls: Json[];
}

/** Groups capture lines by the driver's marks. Lines before the first mark are dropped. */
export function groupCapture(lines: readonly Json[]): CapturedCall[] {
  const out: CapturedCall[] = [];
  for (const l of lines) {
    if (typeof l.mark === "string") out.push({ fn: l.mark, ioctls: [] });
    else if (typeof l.ioctl === "string") out.at(-1)?.ioctls.push(l);
  }
  return out;
}
