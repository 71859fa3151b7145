// Strict parsing of scenario files: every unknown key, bad integer or errno name is an error naming
// the step index and the key.
import { checkWorld, WorldError } from "../hypervisor/world.js";
import { ScenarioError } from "./errors.js";
import { checkExpectationNames } from "./names.js";
import { parseDeviceModel, parseDeviceModelStep, parseRam, parseWait } from "./parse-live.js";
import {
  QUERY_KINDS,
  type BufExpect,
  type BufFaults,
  type BufferSpec,
  type DmopStep,
  type EmulatorStep,
  type GuestStep,
  type PrivcmdIoctl,
  type PrivcmdStep,
  type QueryArgs,
  type QueryKind,
  type QueryStep,
  type Scenario,
  type Step,
} from "./types.js";
import {
  checkKeys,
  expectArray,
  expectBit,
  expectBool,
  expectObject,
  expectString,
  isObject,
  parseErrno,
  parseHex,
  parseInt64,
  parseIntIn,
  parseRc,
  type JsonObject,
} from "./values.js";
import { parseXenstoreQueryArgs, parseXenstoreSeed, parseXenstoreStep } from "./xenstore-steps.js";

/** The top-level keys (schema/scenario.schema.json lists the same; a test checks it). */
export const TOP_KEYS = ["$schema", "format", "xen", "arch", "abi", "preempt", "domains", "steps", "name", "description", "note", "device_model", "xenstore"] as const;
const WORLD_KEYS = ["format", "xen", "arch", "abi", "preempt", "domains"] as const;
/** The step kinds (schema/scenario.schema.json lists the same; a test checks it). */
export const STEP_ACTIONS = ["dmop", "privcmd", "query", "guest", "emulator", "ram", "wait", "device_model", "xenstore"] as const;
const U16 = 0xffff;
const U32 = 0xffff_ffff;
/** A p2m query lists one type per gfn: keep it to something a person reads. */
export const MAX_QUERY_NR = 65536;

export function parseScenario(input: unknown): Scenario {
  const top = expectObject(input, "");
  checkKeys(top, TOP_KEYS, "");
  if (top.format !== undefined && top.format !== 1) throw new ScenarioError("format", `unsupported format ${JSON.stringify(top.format)} (expected 1)`);
  const world: JsonObject = {};
  for (const k of WORLD_KEYS) if (top[k] !== undefined) world[k] = top[k];
  try {
    checkWorld(world);
  } catch (e) {
    if (e instanceof WorldError) throw new ScenarioError(e.path, e.message.slice(e.path.length + 2), { cause: e });
    throw e;
  }
  if (world.abi !== undefined && !(typeof world.abi === "string" && ["x86_64", "i386", "arm64", "arm32"].includes(world.abi))) {
    throw new ScenarioError("abi", `unknown ABI ${JSON.stringify(world.abi)} (expected x86_64, i386, arm64 or arm32)`);
  }
  if (world.domains !== undefined) expectArray(world.domains, "domains");
  if (world.preempt !== undefined) parsePreempt(world.preempt);
  const steps = expectArray(top.steps ?? [], "steps").map((s, i) => parseStep(s, i));
  const out: Scenario = { world, steps };
  if (top.name !== undefined) out.name = expectString(top.name, "name");
  if (top.device_model !== undefined) out.device_model = parseDeviceModel(top.device_model, (q, ap, e) => parseQuery(q, ap, -1, e));
  if (top.xenstore !== undefined) out.xenstore = parseXenstoreSeed(top.xenstore);
  return out;
}

function parsePreempt(v: unknown): void {
  if (v === "never" || v === "always") return;
  const o = expectObject(v, "preempt");
  checkKeys(o, ["every", "at"], "preempt");
  if (Object.keys(o).length !== 1) throw new ScenarioError("preempt", `expected "never", {"every": N} or {"at": [k, ...]}`);
  if (o.every !== undefined) parseIntIn(o.every, "preempt.every", 1, Number.MAX_SAFE_INTEGER);
  if (o.at !== undefined) expectArray(o.at, "preempt.at").forEach((k, i) => parseIntIn(k, `preempt.at[${i}]`, 1, Number.MAX_SAFE_INTEGER));
}

function parseStep(v: unknown, index: number): Step {
  const p = `steps[${index}]`;
  const o = expectObject(v, p);
  const actions = STEP_ACTIONS.filter((a) => o[a] !== undefined);
  if (actions.length !== 1) {
    const unknown = Object.keys(o).find((k) => !(STEP_ACTIONS as readonly string[]).includes(k) && k !== "expect" && k !== "note");
    if (unknown !== undefined) throw new ScenarioError(`${p}.${unknown}`, `unknown key (a step has one of: ${STEP_ACTIONS.join(", ")}, and optionally expect, note)`);
    throw new ScenarioError(p, actions.length === 0 ? `no action (one of: ${STEP_ACTIONS.join(", ")})` : `more than one action: ${actions.join(", ")}`);
  }
  const action = actions[0]!;
  checkKeys(o, action === "wait" ? [action, "timeout_ms", "note"] : [action, "expect", "note"], p);
  const note = o.note === undefined ? undefined : expectString(o.note, `${p}.note`);
  const expect = o.expect === undefined ? undefined : expectObject(o.expect, `${p}.expect`);
  if (expect !== undefined) checkExpectationNames(expect, `${p}.expect`);
  const ap = `${p}.${action}`;
  if (action === "device_model") {
    const step = parseDeviceModelStep(o[action], ap, index, expect, `${p}.expect`);
    if (note !== undefined) step.note = note;
    return step;
  }
  const body = expectObject(o[action], `${p}.${action}`);
  let step: Step;
  switch (action) {
    case "dmop":
      step = parseDmop(body, ap, index, expect, `${p}.expect`);
      break;
    case "privcmd":
      step = parsePrivcmd(body, ap, index, expect, `${p}.expect`);
      break;
    case "query":
      step = parseQuery(body, ap, index, expect);
      break;
    case "guest":
      step = parseGuest(body, ap, index, expect, `${p}.expect`);
      break;
    case "emulator":
      step = parseEmulator(body, ap, index, expect, `${p}.expect`);
      break;
    case "ram":
      step = parseRam(body, ap, index, expect, `${p}.expect`);
      break;
    case "wait":
      step = parseWait(body, ap, index, o.timeout_ms, `${p}.timeout_ms`, (q, qp, e) => parseQuery(q, qp, index, e));
      break;
    case "xenstore":
      step = parseXenstoreStep(body, ap, index, expect);
      break;
  }
  if (note !== undefined) step.note = note;
  return step;
}

const BUF_KEYS = ["op", "bufs", "size0", "sizes", "faults"] as const;

function parseIndexList(v: unknown, path: string): number[] {
  return expectArray(v, path).map((x, i) => parseIntIn(x, `${path}[${i}]`, 0, 15));
}

function parseBuffers(o: JsonObject, p: string): BufferSpec {
  const spec: BufferSpec = { bufs: [], faults: { copy_out: false, unreadable: [], unwritable: [] } };
  if (o.op !== undefined) spec.op = expectObject(o.op, `${p}.op`);
  if (o.bufs !== undefined) spec.bufs = expectArray(o.bufs, `${p}.bufs`).map((b, i) => parseHex(b, `${p}.bufs[${i}]`));
  if (spec.op === undefined && spec.bufs.length === 0 && o.bufs === undefined) {
    throw new ScenarioError(p, `needs "op" (C-field JSON for buffer 0) or "bufs" (hex buffers)`);
  }
  if (o.size0 !== undefined) spec.size0 = parseIntIn(o.size0, `${p}.size0`, 0, U32);
  if (o.sizes !== undefined) {
    spec.sizes = expectArray(o.sizes, `${p}.sizes`).map((s, i) => (s === null ? null : parseIntIn(s, `${p}.sizes[${i}]`, 0, Number.MAX_SAFE_INTEGER)));
  }
  if (o.faults !== undefined) {
    const f = expectObject(o.faults, `${p}.faults`);
    checkKeys(f, ["copy_out", "unreadable", "unwritable"], `${p}.faults`);
    const faults: BufFaults = {
      copy_out: f.copy_out === undefined ? false : expectBool(f.copy_out, `${p}.faults.copy_out`),
      unreadable: f.unreadable === undefined ? [] : parseIndexList(f.unreadable, `${p}.faults.unreadable`),
      unwritable: f.unwritable === undefined ? [] : parseIndexList(f.unwritable, `${p}.faults.unwritable`),
    };
    spec.faults = faults;
  }
  return spec;
}

function parseBufExpect(e: JsonObject, p: string, extra: readonly string[]): BufExpect {
  checkKeys(e, ["rc", "out", "bufs", "unchanged", ...extra], p);
  const x: BufExpect = {};
  if (e.rc !== undefined) x.rc = parseRc(e.rc, `${p}.rc`);
  if (e.out !== undefined) x.out = expectObject(e.out, `${p}.out`);
  if (e.bufs !== undefined) x.bufs = expectArray(e.bufs, `${p}.bufs`).map((b, i) => parseHex(b, `${p}.bufs[${i}]`));
  if (e.unchanged !== undefined) x.unchanged = expectBool(e.unchanged, `${p}.unchanged`);
  return x;
}

function parseDmop(o: JsonObject, p: string, index: number, expect: JsonObject | undefined, ep: string): DmopStep {
  checkKeys(o, ["caller", "domid", "nr_bufs", ...BUF_KEYS], p);
  if (o.domid === undefined) throw new ScenarioError(`${p}.domid`, "missing");
  const step: DmopStep = {
    kind: "dmop",
    index,
    caller: o.caller === undefined ? 0 : parseIntIn(o.caller, `${p}.caller`, 0, U16),
    domid: parseIntIn(o.domid, `${p}.domid`, 0, U16),
    ...parseBuffers(o, p),
  };
  if (o.nr_bufs !== undefined) step.nr_bufs = parseIntIn(o.nr_bufs, `${p}.nr_bufs`, 0, U32);
  if (expect !== undefined) step.expect = parseBufExpect(expect, ep, []);
  return step;
}

const IOCTLS: readonly PrivcmdIoctl[] = ["dm_op", "restrict", "hypercall"];

function parsePrivcmd(o: JsonObject, p: string, index: number, expect: JsonObject | undefined, ep: string): PrivcmdStep {
  checkKeys(o, ["caller", "fd", "ioctl", "dom", "num", "hypercall", "nr_bufs", ...BUF_KEYS], p);
  const ioctl = expectString(o.ioctl, `${p}.ioctl`);
  if (!(IOCTLS as readonly string[]).includes(ioctl)) throw new ScenarioError(`${p}.ioctl`, `unknown ioctl "${ioctl}" (expected ${IOCTLS.join(", ")})`);
  if (o.dom === undefined) throw new ScenarioError(`${p}.dom`, "missing");
  const hasBufs = o.op !== undefined || o.bufs !== undefined;
  const spec: BufferSpec = hasBufs ? parseBuffers(o, p) : { bufs: [], faults: { copy_out: false, unreadable: [], unwritable: [] } };
  if (!hasBufs) for (const k of ["size0", "sizes", "faults"]) if (o[k] !== undefined) throw new ScenarioError(`${p}.${k}`, `needs "op" or "bufs"`);
  if (ioctl === "restrict") for (const k of ["op", "bufs", "num", "hypercall", "nr_bufs"]) if (o[k] !== undefined) throw new ScenarioError(`${p}.${k}`, "not used by the restrict ioctl");
  if (ioctl === "dm_op") for (const k of ["hypercall", "nr_bufs"]) if (o[k] !== undefined) throw new ScenarioError(`${p}.${k}`, "only for the hypercall ioctl");
  if (ioctl === "hypercall" && o.num !== undefined) throw new ScenarioError(`${p}.num`, "only for the dm_op ioctl (use nr_bufs)");
  const step: PrivcmdStep = {
    kind: "privcmd",
    index,
    caller: o.caller === undefined ? 0 : parseIntIn(o.caller, `${p}.caller`, 0, U16),
    fd: o.fd === undefined ? "default" : expectString(o.fd, `${p}.fd`),
    ioctl: ioctl as PrivcmdIoctl,
    dom: parseIntIn(o.dom, `${p}.dom`, 0, U16),
    hypercall: o.hypercall === undefined ? 41n : parseInt64(o.hypercall, `${p}.hypercall`),
    ...spec,
  };
  if (step.hypercall < 0n || step.hypercall > 0xffff_ffff_ffff_ffffn) throw new ScenarioError(`${p}.hypercall`, "not a u64");
  if (o.num !== undefined) step.num = parseIntIn(o.num, `${p}.num`, 0, U16);
  if (o.nr_bufs !== undefined) {
    step.nr_bufs = parseInt64(o.nr_bufs, `${p}.nr_bufs`);
    if (step.nr_bufs < 0n || step.nr_bufs > 0xffff_ffff_ffff_ffffn) throw new ScenarioError(`${p}.nr_bufs`, "not a u64");
  }
  if (expect !== undefined) {
    const x = parseBufExpect(expect, ep, ["errno"]) as NonNullable<PrivcmdStep["expect"]>;
    if (expect.errno !== undefined) x.errno = parseErrno(expect.errno, `${ep}.errno`);
    if (x.rc !== undefined && x.rc < -1) throw new ScenarioError(`${ep}.rc`, `an ioctl returns -1 with errno, not ${x.rc} (write "rc": -1 with "errno")`);
    step.expect = x;
  }
  return step;
}

const QUERY_ARG_KEYS: Readonly<Record<QueryKind, readonly string[]>> = {
  p2m: ["domid", "first_gfn", "nr", "internal"],
  server: ["domid", "id"],
  claim: ["domid"],
  entry_count: ["domid"],
  domain: ["domid"],
  irq: ["domid"],
  event: ["domid", "vcpu"],
  msi: ["domid"],
  dirty: ["domid", "first_gfn", "nr"],
  cacheattr: ["domid"],
  device_model: [],
  serial: [],
  xenstore: ["path", "domid"],
};

function parseQuery(o: JsonObject, p: string, index: number, expect: JsonObject | undefined): QueryStep {
  const kinds = Object.keys(o);
  if (kinds.length !== 1) throw new ScenarioError(p, `expected exactly one of: ${QUERY_KINDS.join(", ")}`);
  const kind = kinds[0]!;
  if (!(QUERY_KINDS as readonly string[]).includes(kind)) throw new ScenarioError(`${p}.${kind}`, `unknown query (expected one of: ${QUERY_KINDS.join(", ")})`);
  const q = kind as QueryKind;
  const ap = `${p}.${q}`;
  const a = expectObject(o[q], ap);
  checkKeys(a, QUERY_ARG_KEYS[q], ap);
  if (q === "device_model" || q === "serial") {
    const step: QueryStep = { kind: "query", index, query: q, args: { domid: 0 } };
    if (expect !== undefined) step.expect = expect;
    return step;
  }
  if (q === "xenstore") {
    const step: QueryStep = { kind: "query", index, query: q, args: parseXenstoreQueryArgs(a, ap) };
    if (expect !== undefined) step.expect = expect;
    return step;
  }
  if (a.domid === undefined) throw new ScenarioError(`${ap}.domid`, "missing");
  const args: QueryArgs = { domid: parseIntIn(a.domid, `${ap}.domid`, 0, U16) };
  if (a.id !== undefined) args.id = parseIntIn(a.id, `${ap}.id`, 0, U16);
  else if (q === "server") throw new ScenarioError(`${ap}.id`, "missing");
  if (a.vcpu !== undefined) args.vcpu = parseIntIn(a.vcpu, `${ap}.vcpu`, 0, U32);
  if (a.first_gfn !== undefined) {
    args.first_gfn = parseInt64(a.first_gfn, `${ap}.first_gfn`);
    if (args.first_gfn < 0n) throw new ScenarioError(`${ap}.first_gfn`, "negative");
  } else if (q === "p2m") throw new ScenarioError(`${ap}.first_gfn`, "missing");
  if (a.nr !== undefined) args.nr = parseIntIn(a.nr, `${ap}.nr`, 1, MAX_QUERY_NR);
  if (a.internal !== undefined) args.internal = expectBool(a.internal, `${ap}.internal`);
  const step: QueryStep = { kind: "query", index, query: q, args };
  if (expect !== undefined) step.expect = expect;
  return step;
}

const GUEST_EXPECT = ["ioreq", "ioreqs", "none", "result", "pending", "retry", "unhandled", "crash", "refused"] as const;
const EMULATOR_EXPECT = ["guest_result", "ioreq", "ioreqs", "none", "result", "pending", "retry", "unhandled", "crash", "refused"] as const;

function parseGuest(o: JsonObject, p: string, index: number, expect: JsonObject | undefined, ep: string): GuestStep {
  checkKeys(o, ["domid", "vcpu", "pio", "mmio", "mem"], p);
  const kinds = (["pio", "mmio", "mem"] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) throw new ScenarioError(p, `expected exactly one of pio, mmio, mem`);
  const access = kinds[0]!;
  const ap = `${p}.${access}`;
  const a = expectObject(o[access], ap);
  const addrKey = access === "pio" ? "port" : "addr";
  checkKeys(a, [addrKey, "size", "dir", "data", "count", "df", "data_is_ptr"], ap);
  if (a[addrKey] === undefined) throw new ScenarioError(`${ap}.${addrKey}`, "missing");
  const dir = expectString(a.dir, `${ap}.dir`);
  if (dir !== "read" && dir !== "write") throw new ScenarioError(`${ap}.dir`, `expected "read" or "write", got "${dir}"`);
  if (o.domid === undefined) throw new ScenarioError(`${p}.domid`, "missing");
  const step: GuestStep = {
    kind: "guest",
    index,
    domid: parseIntIn(o.domid, `${p}.domid`, 0, U16),
    vcpu: o.vcpu === undefined ? 0 : parseIntIn(o.vcpu, `${p}.vcpu`, 0, U32),
    access,
    addr: parseInt64(a[addrKey], `${ap}.${addrKey}`),
    size: parseIntIn(a.size ?? 1, `${ap}.size`, 0, 4096),
    dir,
  };
  if (step.addr < 0n) throw new ScenarioError(`${ap}.${addrKey}`, "negative");
  if (a.data !== undefined) step.data = parseInt64(a.data, `${ap}.data`);
  if (a.count !== undefined) step.count = parseIntIn(a.count, `${ap}.count`, 0, U32);
  if (a.df !== undefined) step.df = expectBit(a.df, `${ap}.df`);
  if (a.data_is_ptr !== undefined) step.data_is_ptr = expectBit(a.data_is_ptr, `${ap}.data_is_ptr`);
  if (expect !== undefined) {
    checkKeys(expect, GUEST_EXPECT, ep);
    step.expect = expect;
  }
  return step;
}

function parseEmulator(o: JsonObject, p: string, index: number, expect: JsonObject | undefined, ep: string): EmulatorStep {
  checkKeys(o, ["domid", "server", "vcpu", "respond"], p);
  if (o.domid === undefined) throw new ScenarioError(`${p}.domid`, "missing");
  const step: EmulatorStep = {
    kind: "emulator",
    index,
    domid: parseIntIn(o.domid, `${p}.domid`, 0, U16),
    server: o.server === undefined ? 0 : parseIntIn(o.server, `${p}.server`, 0, U16),
    vcpu: o.vcpu === undefined ? 0 : parseIntIn(o.vcpu, `${p}.vcpu`, 0, U32),
  };
  if (o.respond !== undefined) {
    const r = expectObject(o.respond, `${p}.respond`);
    checkKeys(r, ["data", "state"], `${p}.respond`);
    step.respond = {};
    if (r.data !== undefined) step.respond.data = parseInt64(r.data, `${p}.respond.data`);
    if (r.state !== undefined) step.respond.state = parseIntIn(r.state, `${p}.respond.state`, 0, 255);
  }
  if (expect !== undefined) {
    checkKeys(expect, EMULATOR_EXPECT, ep);
    step.expect = expect;
  }
  return step;
}

export { isObject };
