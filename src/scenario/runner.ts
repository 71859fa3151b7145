// Runs a scenario: builds the world, performs each step, checks each expectation.
import { PrivcmdDevice, RegionMemory, encodeXenDmOpBufs, type DmOpBuf, type IoctlResult, type PrivcmdHandle, type UserMemory } from "../privcmd/index.js";
import { compareSubset, show } from "./compare.js";
import { ScenarioError } from "./errors.js";
import { HostUnsupported, type Arch, type HostFactory, type QueryResult, type ScenarioCodec, type ScenarioHost } from "./host.js";
import { parseScenario } from "./parse.js";
import type { BufExpect, BufferSpec, DmopStep, PrivcmdStep, QueryStep, RamStep, Scenario, Step, StepKind, WaitStep } from "./types.js";
import { toHex, type Json } from "./values.js";
import { errnoName } from "../../abi/xen/errno.js";
import type { XenstoreCore } from "../xenstore/core.js";
import { runXenstoreStep, scenarioXenstore, xenstoreSummary, xenstoreView } from "./xenstore-steps.js";

export interface StepResult {
  index: number;
  action: StepKind;
  /** One short line: what happened. */
  summary: string;
  /** What the step produced (rc, out, errno, query answer, ...). */
  result: QueryResult;
  pass: boolean;
  /** On failure: one line per difference. */
  diff?: string[];
  note?: string;
  /** Why the hypervisor refused, when it says. */
  explain?: string;
  /** On failure, with a device model: the last lines it printed. */
  output?: string[];
}

export interface RunOptions {
  codec: ScenarioCodec;
  createHost: HostFactory;
  /** Called with the host once it is built (to inspect its state after the run). */
  onHost?: (host: ScenarioHost) => void;
}

/* Buffers are prepared once before anything runs, so a bad `op` is an invalid file, not a failed step. */

function rcText(rc: number): string {
  return rc < 0 ? `${rc} (-${errnoName(rc)})` : String(rc);
}

export function runScenario(json: unknown, opts: RunOptions): StepResult[] {
  const { ctx, sc, prepared } = prepareRun(json, opts);
  if (sc.device_model !== undefined) throw new ScenarioError("device_model", "a scenario with a device model runs asynchronously (runScenarioAsync; xendm run does)");
  return sc.steps.map((s, i) => runStep(ctx, s, prepared[i]!));
}

/** Parses and checks a scenario, builds its host and the per-run state. */
export function prepareRun(json: unknown, opts: RunOptions): { sc: Scenario; ctx: RunContext; prepared: Prepared[] } {
  const sc = parseScenario(json);
  const abi = (typeof sc.world.abi === "string" ? sc.world.abi : "x86_64") as Arch;
  const prepared = sc.steps.map((s) => prepare(s, opts.codec, abi));
  checkFds(sc);
  let host: ScenarioHost;
  try {
    host = opts.createHost(sc.world);
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    const path = typeof (e as { path?: unknown }).path === "string" ? (e as { path: string }).path : "";
    const msg = e instanceof Error ? e.message : String(e);
    throw new ScenarioError(path === "" ? "world" : "", msg, { cause: e });
  }
  opts.onHost?.(host);
  const memory = new StepMemory();
  const ctx: RunContext = { host, codec: opts.codec, abi, memory, device: new PrivcmdDevice(host, { abi, memory }), fds: new Map() };
  // the xenstore exists from the start when the scenario seeds it (its watches see every step)
  ctx.makeXenstore = () => scenarioXenstore(sc.world, sc.xenstore);
  if (sc.xenstore !== undefined) xenstoreOf(ctx);
  return { sc, ctx, prepared };
}

/** The device model's side of the `device_model` query. */
export interface DeviceModelView {
  query(): QueryResult;
  /** QEMU's first serial port so far (QEMU device models only) */
  serial?(): string;
}

export interface RunContext {
  host: ScenarioHost;
  codec: ScenarioCodec;
  abi: Arch;
  memory: StepMemory;
  device: PrivcmdDevice;
  fds: Map<string, PrivcmdHandle>;
  dm?: DeviceModelView;
  /** the scenario's xenstored, made when first used */
  xenstore?: XenstoreCore;
  makeXenstore?: () => XenstoreCore;
}

/** The scenario's xenstored (its world's domains, its seed), made on first use */
export function xenstoreOf(ctx: RunContext): XenstoreCore {
  ctx.xenstore ??= ctx.makeXenstore!();
  return ctx.xenstore;
}

export interface Prepared {
  bufs: Uint8Array[];
}

function prepare(s: Step, codec: ScenarioCodec, abi: Arch): Prepared {
  if (s.kind !== "dmop" && s.kind !== "privcmd") return { bufs: [] };
  const bufs = [...s.bufs];
  if (s.op !== undefined) {
    const path = `steps[${s.index}].${s.kind}.op`;
    try {
      bufs.unshift(codec.encode("xen_dm_op", s.op, { arch: abi }));
    } catch (e) {
      const sub = typeof (e as { path?: unknown }).path === "string" ? (e as { path: string }).path : "";
      const msg = e instanceof Error ? e.message : String(e);
      throw new ScenarioError(sub === "" ? path : `${path} (${sub})`, msg, { cause: e });
    }
  }
  if (s.size0 !== undefined) {
    const b0 = bufs[0] ?? new Uint8Array(0);
    const n = new Uint8Array(s.size0);
    n.set(b0.subarray(0, Math.min(b0.length, s.size0)));
    bufs[0] = n;
  }
  return { bufs };
}

function checkFds(sc: Scenario): void {
  const owner = new Map<string, number>();
  for (const s of sc.steps) {
    if (s.kind !== "privcmd") continue;
    const o = owner.get(s.fd);
    if (o === undefined) owner.set(s.fd, s.caller);
    else if (o !== s.caller) {
      throw new ScenarioError(`steps[${s.index}].privcmd.caller`, `fd "${s.fd}" was opened by domain ${o}, not ${s.caller}`);
    }
  }
}

/** Fresh copies of the prepared buffers as DmOpBufs, with size overrides and faults. */
function makeBufs(spec: BufferSpec, prep: Prepared): DmOpBuf[] {
  return prep.bufs.map((b, i) => {
    const d: DmOpBuf = { bytes: b.slice() };
    const size = spec.sizes?.[i];
    if (size !== undefined && size !== null) d.size = size;
    const read = spec.faults.unreadable.includes(i);
    const write = spec.faults.unwritable.includes(i) || (i === 0 && spec.faults.copy_out);
    if (read || write) d.fault = { ...(read ? { read } : {}), ...(write ? { write } : {}) };
    return d;
  });
}

export function runStep(ctx: RunContext, s: Step, prep: Prepared): StepResult {
  let r: StepResult;
  try {
    switch (s.kind) {
      case "dmop":
        r = runDmop(ctx, s, prep);
        break;
      case "privcmd":
        r = runPrivcmd(ctx, s, prep);
        break;
      case "query":
        r = runQuery(ctx, s);
        break;
      case "xenstore": {
        const res = runXenstoreStep(xenstoreOf(ctx), s);
        r = finish(s, res, xenstoreSummary(s, res), s.expect);
        break;
      }
      case "guest":
      case "emulator": {
        const fn = s.kind === "guest" ? ctx.host.guest?.bind(ctx.host) : ctx.host.emulator?.bind(ctx.host);
        if (fn === undefined) throw new HostUnsupported(`this hypervisor has no ${s.kind} emulation`);
        const res = (fn as (x: Step) => QueryResult)(s);
        r = finish(s, res, accessSummary(res), s.expect === undefined ? undefined : normalizeHex(s.expect));
        break;
      }
      case "ram":
        r = runRam(ctx, s);
        break;
      case "wait":
        r = waitOnce(ctx, s);
        break;
      case "device_model":
        throw new HostUnsupported("this scenario starts no device model");
    }
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    r = { index: s.index, action: s.kind, summary: `error: ${msg}`, result: { error: msg }, pass: false, diff: [msg] };
  }
  if (s.note !== undefined) r.note = s.note;
  return r;
}

/** `hex` expectations may carry spaces and capitals: compare them as bare lowercase hex. */
export function normalizeHex(v: Json): Json {
  if (Array.isArray(v)) return v.map(normalizeHex);
  if (v === null || typeof v !== "object") return v;
  const o: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) o[k] = k === "hex" && typeof x === "string" ? x.replace(/[\s_]/g, "").toLowerCase() : normalizeHex(x);
  return o;
}

export function accessSummary(res: QueryResult): string {
  const n = Array.isArray(res.ioreqs) ? res.ioreqs.length : 0;
  const parts = [typeof res.status === "string" ? res.status : res.woke === false ? "no vCPU woke" : "?"];
  if (n > 0) parts.push(`${n} ioreq${n > 1 ? "s" : ""}`);
  if (res.result !== undefined && res.result !== null) parts.push(`result=${show(res.result)}`);
  if (res.guest_result !== undefined && res.guest_result !== null) parts.push(`guest_result=${show(res.guest_result)}`);
  if (typeof res.unhandled === "string") parts.push(res.unhandled);
  if (res.crash === true) parts.push("domain crashed");
  return parts.join(" ");
}

export function finish(s: Step, result: QueryResult, summary: string, expect: Json | undefined, extraDiffs: string[] = []): StepResult {
  const diffs = [...extraDiffs];
  if (expect !== undefined) compareSubset(expect, result, "", diffs);
  const r: StepResult = { index: s.index, action: s.kind, summary, result, pass: diffs.length === 0 };
  if (diffs.length > 0) r.diff = diffs;
  return r;
}

/** Compares the buffer expectations shared by dmop and privcmd steps. */
function bufDiffs(ctx: RunContext, x: BufExpect | undefined, sent: Uint8Array[], after: DmOpBuf[], result: QueryResult): string[] {
  const diffs: string[] = [];
  if (x === undefined) return diffs;
  const b0 = after[0]?.bytes;
  if (x.out !== undefined) {
    if (b0 === undefined) diffs.push("out: there is no buffer 0");
    else {
      const full = new Uint8Array(Math.max(32, b0.length));
      full.set(b0);
      const out = ctx.codec.decode("xen_dm_op", full.subarray(0, 32), { arch: ctx.abi, mode: "hypervisor" });
      result.out = out;
      compareSubset(x.out, out, "out", diffs);
    }
  }
  if (x.bufs !== undefined) {
    const got = after.map((b) => toHex(b.bytes));
    result.bufs = got;
    const want = x.bufs.map(toHex);
    if (want.length !== got.length) diffs.push(`bufs: expected ${want.length} buffers, got ${got.length}`);
    want.forEach((w, i) => {
      if (got[i] !== undefined && got[i] !== w) diffs.push(`bufs[${i}]: expected ${w}, got ${got[i]}`);
    });
  }
  if (x.unchanged !== undefined) {
    const same = b0 !== undefined && sent[0] !== undefined && toHex(b0) === toHex(sent[0]);
    if (same !== x.unchanged) {
      diffs.push(`unchanged: expected ${x.unchanged}, buffer 0 ${same ? "is unchanged" : `is now ${b0 === undefined ? "absent" : toHex(b0)}`}`);
    }
  }
  return diffs;
}

function runDmop(ctx: RunContext, s: DmopStep, prep: Prepared): StepResult {
  const bufs = makeBufs(s, prep);
  // nr_bufs other than the buffers given: the descriptors past the array point nowhere.
  const nr = s.nr_bufs ?? bufs.length;
  const rc = ctx.host.dm_op(s.caller, s.domid, nr < bufs.length ? bufs.slice(0, nr) : bufs, nr);
  const result: QueryResult = { rc };
  const r = finish(s, result, `rc=${rcText(rc)}`, s.expect?.rc === undefined ? undefined : { rc: s.expect.rc }, bufDiffs(ctx, s.expect, prep.bufs, bufs, result));
  if (!r.pass && rc < 0) {
    const why = ctx.host.explain?.();
    if (why !== undefined) r.explain = why;
  }
  return r;
}

const PAGE = 0x1000n;

function runPrivcmd(ctx: RunContext, s: PrivcmdStep, prep: Prepared): StepResult {
  let h = ctx.fds.get(s.fd);
  if (h === undefined) {
    h = ctx.device.open(s.caller);
    ctx.fds.set(s.fd, h);
  }
  const bufs = makeBufs(s, prep);
  let res: IoctlResult;
  if (s.ioctl === "restrict") res = h.restrict(s.dom);
  else if (s.ioctl === "dm_op") res = h.dm_op(s.dom, s.num ?? bufs.length, bufs);
  else res = hypercall(ctx, h, s, bufs);
  const result: QueryResult = { rc: res.ret };
  if ("errno" in res) result.errno = res.errno;
  const summary = "errno" in res ? `ret=-1 errno=${errnoName(res.errno)}` : `ret=${res.ret}`;
  const want: Record<string, Json> = {};
  if (s.expect?.rc !== undefined) want.rc = s.expect.rc;
  if (s.expect?.errno !== undefined) want.errno = s.expect.errno;
  const extra: string[] = [];
  if (s.expect?.rc === -1 && s.expect.errno === undefined && !("errno" in res)) extra.push(`rc: expected -1, got ${res.ret}`);
  if (s.expect?.errno !== undefined) {
    if ("errno" in res) {
      if (res.errno !== s.expect.errno) extra.push(`errno: expected ${errnoName(s.expect.errno)}, got ${errnoName(res.errno)}`);
    } else extra.push(`errno: expected ${errnoName(s.expect.errno)}, the ioctl returned ${res.ret}`);
  }
  delete want.errno;
  return finish(s, result, summary, Object.keys(want).length > 0 ? want : undefined, [...extra, ...bufDiffs(ctx, s.expect, prep.bufs, bufs, result)]);
}

/** Memory of the calling process for one raw hypercall: remapped by every step. */
export class StepMemory implements UserMemory {
  inner = new RegionMemory();
  view(addr: bigint, len: number): Uint8Array | null {
    return this.inner.view(addr, len);
  }
}

/** IOCTL_PRIVCMD_HYPERCALL: the buffers and a xen_dm_op_buf array in the world's ABI, in the caller's memory. */
function hypercall(ctx: RunContext, h: PrivcmdHandle, s: PrivcmdStep, bufs: DmOpBuf[]): IoctlResult {
  const nr = s.nr_bufs ?? BigInt(bufs.length);
  const wide = ctx.abi === "x86_64" || ctx.abi === "arm64";
  const base = wide ? 0x7f00_0000_0000n : 0x1000_0000n; // 32-bit callers keep pointers below 4 GiB
  const mem = new RegionMemory();
  const descs = bufs.map((b, i) => {
    const addr = base + BigInt(i + 1) * 0x10n * PAGE;
    if (b.fault?.read !== true) mem.map(addr, b.bytes);
    return { h: addr, size: BigInt(b.size ?? b.bytes.length) };
  });
  const at = mem.map(base, encodeXenDmOpBufs(descs, ctx.abi));
  ctx.memory.inner = mem;
  const args = [BigInt(s.dom), nr, at];
  // Plain memory cannot refuse writes: with a write fault the resolved buffers are passed instead.
  return bufs.some((b) => b.fault?.write === true) ? h.hypercall(s.hypercall, args, bufs) : h.hypercall(s.hypercall, args);
}

/** A query's answer; the device_model and serial queries are answered by the runner. */
export function answer(ctx: RunContext, kind: QueryStep["query"], args: QueryStep["args"]): QueryResult {
  if (kind === "xenstore") return xenstoreView(xenstoreOf(ctx), args);
  if (kind !== "device_model" && kind !== "serial") return ctx.host.query(kind, args);
  if (ctx.dm === undefined) throw new HostUnsupported("this scenario starts no device model");
  if (kind === "serial") {
    // QEMU's first serial port as captured so far
    if (ctx.dm.serial === undefined) throw new HostUnsupported("the serial query needs a QEMU device model");
    return { text: ctx.dm.serial() };
  }
  return ctx.dm.query();
}

function runQuery(ctx: RunContext, s: QueryStep): StepResult {
  const res = answer(ctx, s.query, s.args);
  return finish(s, res, `${s.query} ${summarize(res)}`, s.expect);
}

function runRam(ctx: RunContext, s: RamStep): StepResult {
  if (ctx.host.ram === undefined) throw new HostUnsupported("this host cannot reach guest RAM directly");
  const res = ctx.host.ram(s.domid, s.addr, s.write, s.read);
  const summary = s.write !== undefined ? `wrote ${s.write.length} bytes at 0x${s.addr.toString(16)}` : `read ${s.read ?? 0} bytes at 0x${s.addr.toString(16)}: ${summarize(res)}`;
  return finish(s, res, summary, s.expect);
}

/** A wait without a device model: nothing else runs, so the query is looked at once. */
function waitOnce(ctx: RunContext, s: WaitStep): StepResult {
  const res = answer(ctx, s.query, s.args);
  const r = finish(s, res, `${s.query} ${summarize(res)}`, s.until);
  if (!r.pass) r.diff = [...(r.diff ?? []), "nothing else runs without a device model: the answer cannot change"];
  return r;
}

export function summarize(res: QueryResult): string {
  const t = show(res);
  return t.length > 100 ? t.slice(0, 97) + "..." : t;
}
