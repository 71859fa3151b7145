// Scenarios with a real device model: the runner serves the scenario's fake over a socket (a server
// over the same in-process Hypervisor), starts the program under the shim, polls `ready`, and runs the
// steps; guest accesses wait (bounded) for the program's answers, `wait` polls, `"device_model": "stop"`
// ends it (docs/scenarios.md).
import { LaunchError, launchUnderShim, type LaunchedProgram } from "../toolstack/launch.js";
import { compareSubset, show } from "./compare.js";
import { ScenarioError } from "./errors.js";
import type { QueryResult } from "./host.js";
import { accessSummary, answer, finish, normalizeHex, prepareRun, runStep, summarize, xenstoreOf, type RunContext, type RunOptions, type StepResult } from "./runner.js";
import { serveScenarioXenstore } from "./xenstore-steps.js";
import type { DeviceModelSpec, DeviceModelStep, GuestStep, QueryArgs, QueryKind, Step, WaitStep } from "./types.js";
import type { JsonObject } from "./values.js";
import { DeviceModelError } from "../toolstack/errors.js";
import { startQemuDeviceModel, type LiveDeviceModel } from "./qemu-dm.js";
import type { XenstoreCore } from "../xenstore/core.js";

export interface LiveOptions extends RunOptions {
  /** Where the device model's program runs (and relative `exec` paths resolve): default the current directory. */
  cwd?: string;
}

/** Lines of each output stream a failing step shows. */
const OUTPUT_LINES = 8;
/** Pause between two looks at a polled query: the socket server runs meanwhile. */
const POLL_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

let qemuFailure: string | null = null;

/** QEMU for the scenario's guest; null (qemuFailure says why) when it exits or is not ready in time. */
async function startQemu(ctx: RunContext, world: JsonObject, spec: DeviceModelSpec, xenstore: { core: XenstoreCore; path: string }): Promise<LiveDeviceModel | null> {
  if (ctx.host.served === undefined) throw new ScenarioError("device_model", "this host cannot serve a device model");
  const served = ctx.host.served(ctx.abi);
  if (served.hv === undefined) throw new ScenarioError("device_model", "this host cannot serve a device model");
  try {
    return await startQemuDeviceModel(world, spec.qemu!, { device: served.device, hv: served.hv }, spec.timeout_ms, xenstore);
  } catch (e) {
    if (!(e instanceof DeviceModelError)) throw e;
    qemuFailure = e.message;
    return null;
  }
}

function dmState(dm: LiveDeviceModel): QueryResult {
  return { running: dm.running, exit_code: dm.exitCode, stdout: dm.stdout, stderr: dm.stderr };
}

function lastOutput(dm: LiveDeviceModel): string[] {
  return [...dm.lastLines("stdout", OUTPUT_LINES).map((l) => `stdout| ${l}`), ...dm.lastLines("stderr", OUTPUT_LINES).map((l) => `stderr| ${l}`)];
}

/** A step's failure from an exception (as runStep reports them). */
function failed(s: Step, e: unknown): StepResult {
  if (e instanceof ScenarioError) throw e;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { index: s.index, action: s.kind, summary: `error: ${msg}`, result: { error: msg }, pass: false, diff: [msg] };
}

/** Looks at a query until its expectation holds, `giveUp()` says stop, or `timeoutMs` passes. */
async function poll(ctx: RunContext, kind: QueryKind, args: QueryArgs, expect: JsonObject, timeoutMs: number, giveUp: () => boolean): Promise<{ ok: boolean; last: QueryResult; diffs: string[]; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const last = answer(ctx, kind, args);
    const diffs: string[] = [];
    compareSubset(expect, last, "", diffs);
    const ms = Date.now() - t0;
    if (diffs.length === 0) return { ok: true, last, diffs, ms };
    if (ms >= timeoutMs || giveUp()) return { ok: false, last, diffs, ms };
    await sleep(POLL_MS);
  }
}

async function guestStep(ctx: RunContext, s: GuestStep, dm: LiveDeviceModel, timeoutMs: number): Promise<StepResult> {
  const gone = dm.exited.then(() => `the device model exited (status ${String(dm.exitCode)})`);
  const res = await ctx.host.guestLive!(s, timeoutMs, gone);
  const extra = typeof res.timeout === "string" ? [res.timeout] : [];
  return finish(s, res, accessSummary(res), s.expect === undefined ? undefined : normalizeHex(s.expect), extra);
}

async function waitStep(ctx: RunContext, s: WaitStep): Promise<StepResult> {
  const p = await poll(ctx, s.query, s.args, s.until, s.timeout_ms, () => false);
  const r = finish(s, p.last, `${s.query} ${summarize(p.last)} after ${p.ms} ms`, undefined, p.diffs);
  if (!p.ok) r.diff = [`did not hold within ${s.timeout_ms} ms; the last answer: ${show(p.last)}`, ...p.diffs];
  return r;
}

async function stopStep(dm: LiveDeviceModel, s: DeviceModelStep, timeoutMs: number): Promise<StepResult> {
  const { exit, killed } = await dm.stop(timeoutMs);
  const res = dmState(dm);
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${String(exit.code)}`;
  const extra = killed ? [`did not exit within ${timeoutMs} ms of SIGTERM: killed`] : [];
  return finish(s, res, `stopped: ${how}`, s.expect, extra);
}

/**
 * Runs a scenario; one with a `device_model` starts it, runs the steps against it and stops it.
 * Resolves with one StepResult per step (and, when the device model never became ready, one failed
 * `device_model` result with index -1 instead of the steps).
 */
export async function runScenarioLive(json: unknown, opts: LiveOptions): Promise<StepResult[]> {
  const { sc, ctx, prepared } = prepareRun(json, opts);
  const spec = sc.device_model;
  if (spec === undefined) return sc.steps.map((s, i) => runStep(ctx, s, prepared[i]!));
  // the device model always has a xenstored: the scenario's own, on a private socket
  const xs = await serveScenarioXenstore(xenstoreOf(ctx));
  let dm: LiveDeviceModel | null;
  try {
    dm = spec.qemu !== undefined
      ? await startQemu(ctx, sc.world, spec, { core: xenstoreOf(ctx), path: xs.path })
      : await start(ctx, { ...spec, env: { XENSTORED_PATH: xs.path, ...spec.env } }, opts.cwd);
  } catch (e) {
    await xs.close();
    throw e;
  }
  if (dm === null) {
    await xs.close();
    return [{ index: -1, action: "device_model", summary: "qemu: not ready", result: {}, pass: false, diff: [qemuFailure ?? "QEMU did not start"] }];
  }
  const live = dm;
  ctx.dm = live.serial !== undefined ? { query: () => dmState(live), serial: () => live.serial?.() ?? "" } : { query: () => dmState(live) };
  const results: StepResult[] = [];
  try {
    if (spec.ready !== undefined) {
      const p = await poll(ctx, spec.ready.query, spec.ready.args, spec.ready.expect, spec.timeout_ms, () => !dm.running);
      if (!p.ok) {
        const why = dm.running ? `not ready within ${spec.timeout_ms} ms` : `exited (status ${String(dm.exitCode)}) before it was ready`;
        results.push({
          index: -1, action: "device_model", summary: `${spec.exec[0] ?? ""}: ${why}`, result: p.last, pass: false,
          diff: [`ready: ${show(p.last)}`, ...p.diffs], output: lastOutput(dm),
        });
        return results;
      }
    }
    for (const [i, s] of sc.steps.entries()) {
      let r: StepResult;
      try {
        if (s.kind === "guest") r = await guestStep(ctx, s, dm, spec.timeout_ms);
        else if (s.kind === "wait") r = await waitStep(ctx, s);
        else if (s.kind === "device_model") r = await stopStep(dm, s, spec.timeout_ms);
        else r = runStep(ctx, s, prepared[i]!);
      } catch (e) {
        r = failed(s, e);
      }
      if (s.note !== undefined) r.note = s.note;
      if (!r.pass) r.output = lastOutput(dm);
      results.push(r);
    }
  } finally {
    await dm.close(spec.timeout_ms);
    await xs.close();
  }
  return results;
}

async function start(ctx: RunContext, spec: DeviceModelSpec, cwd: string | undefined): Promise<LaunchedProgram> {
  if (ctx.host.served === undefined || ctx.host.guestLive === undefined) throw new ScenarioError("device_model", "this host cannot serve a device model");
  const served = ctx.host.served(ctx.abi);
  try {
    // spec.env names the scenario's own xenstored (XENSTORED_PATH), which the steps and queries use too
    return await launchUnderShim({ argv: spec.exec, env: spec.env, ...served, stdio: "capture", ...(cwd !== undefined ? { cwd } : {}) });
  } catch (e) {
    if (e instanceof LaunchError) throw new ScenarioError(`device_model.${e.field}`, e.message.slice(e.field.length + 2), { cause: e });
    throw e;
  }
}
