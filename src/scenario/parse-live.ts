// Parsing of the keys for scenarios with a real device model: the top-level `device_model`, the `ram`
// and `wait` steps and `"device_model": "stop"` (docs/scenarios.md).
import { ScenarioError } from "./errors.js";
import type { DeviceModelSpec, DeviceModelStep, QueryStep, RamStep, WaitStep } from "./types.js";
import { checkKeys, expectArray, expectObject, expectString, parseHex, parseInt64, parseIntIn, type JsonObject } from "./values.js";

/** Parses a `{"query": {...}}` body with its expectation (parse.ts's parseQuery). */
export type QueryParser = (body: JsonObject, path: string, expect: JsonObject | undefined) => QueryStep;

const U16 = 0xffff;
/** Bound on every wait a scenario can ask for. */
export const MAX_TIMEOUT_MS = 600_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** A ram step moves at most this many bytes. */
export const MAX_RAM_BYTES = 1 << 20;

function parseTimeout(v: unknown, path: string, dflt: number): number {
  return v === undefined ? dflt : parseIntIn(v, path, 1, MAX_TIMEOUT_MS);
}

/** `{"query": {kind: args}, "expect": {...}}` as ready and wait take it. */
function parsePolledQuery(v: unknown, path: string, parseQuery: QueryParser): QueryStep & { expect: JsonObject } {
  const o = expectObject(v, path);
  checkKeys(o, ["query", "expect"], path);
  if (o.query === undefined) throw new ScenarioError(`${path}.query`, "missing");
  if (o.expect === undefined) throw new ScenarioError(`${path}.expect`, "missing (the expectation to wait for)");
  const q = parseQuery(expectObject(o.query, `${path}.query`), `${path}.query`, expectObject(o.expect, `${path}.expect`));
  return q as QueryStep & { expect: JsonObject };
}

export function parseDeviceModel(v: unknown, parseQuery: QueryParser): DeviceModelSpec {
  const p = "device_model";
  const o = expectObject(v, p);
  if (o.qemu !== undefined) return parseQemu(o, p);
  checkKeys(o, ["exec", "env", "ready", "timeout_ms"], p);
  if (o.exec === undefined) throw new ScenarioError(`${p}.exec`, "missing (the program and its arguments)");
  const exec = expectArray(o.exec, `${p}.exec`).map((a, i) => expectString(a, `${p}.exec[${i}]`));
  if (exec.length === 0 || exec[0] === "") throw new ScenarioError(`${p}.exec`, "needs at least the program");
  const env: Record<string, string> = {};
  if (o.env !== undefined) {
    const e = expectObject(o.env, `${p}.env`);
    for (const [k, x] of Object.entries(e)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ScenarioError(`${p}.env.${k}`, "not an environment variable name");
      if (k === "LD_PRELOAD" || k === "XENDM_SOCKET") throw new ScenarioError(`${p}.env.${k}`, "set by the runner");
      env[k] = expectString(x, `${p}.env.${k}`);
    }
  }
  const spec: DeviceModelSpec = { exec, env, timeout_ms: parseTimeout(o.timeout_ms, `${p}.timeout_ms`, DEFAULT_TIMEOUT_MS) };
  if (o.ready !== undefined) {
    const q = parsePolledQuery(o.ready, `${p}.ready`, parseQuery);
    spec.ready = { query: q.query, args: q.args, expect: q.expect };
  }
  return spec;
}

/** `{"qemu": {"machine", "memory_mb", "args", "vga"}, "timeout_ms"}`: ready is implied (state=running). */
function parseQemu(o: JsonObject, p: string): DeviceModelSpec {
  checkKeys(o, ["qemu", "timeout_ms"], p);
  const qp = `${p}.qemu`;
  const q = expectObject(o.qemu, qp);
  checkKeys(q, ["machine", "memory_mb", "args", "vga"], qp);
  const machine = q.machine === undefined ? "xenfv" : expectString(q.machine, `${qp}.machine`);
  if (machine !== "xenfv" && machine !== "pc") throw new ScenarioError(`${qp}.machine`, `"${machine}": expected "xenfv" or "pc" (QEMU 7.2 has no xenpvh)`);
  const vga = q.vga === undefined ? undefined : expectString(q.vga, `${qp}.vga`);
  if (vga !== undefined && vga !== "cirrus" && vga !== "std" && vga !== "none") throw new ScenarioError(`${qp}.vga`, `"${vga}": expected "cirrus", "std" or "none"`);
  const args = q.args === undefined ? [] : expectArray(q.args, `${qp}.args`).map((a, i) => expectString(a, `${qp}.args[${i}]`));
  const spec: DeviceModelSpec = {
    qemu: { machine, args, ...(vga !== undefined ? { vga } : {}) },
    exec: [],
    env: {},
    timeout_ms: parseTimeout(o.timeout_ms, `${p}.timeout_ms`, 30_000),
  };
  if (q.memory_mb !== undefined) spec.qemu!.memory_mb = parseIntIn(q.memory_mb, `${qp}.memory_mb`, 1, 4 << 20);
  return spec;
}

export function parseRam(o: JsonObject, p: string, index: number, expect: JsonObject | undefined, ep: string): RamStep {
  checkKeys(o, ["domid", "addr", "write", "read"], p);
  if (o.domid === undefined) throw new ScenarioError(`${p}.domid`, "missing");
  if (o.addr === undefined) throw new ScenarioError(`${p}.addr`, "missing");
  if ((o.write === undefined) === (o.read === undefined)) throw new ScenarioError(p, `expected exactly one of "write" (hex) or "read" (a byte count)`);
  const addr = parseInt64(o.addr, `${p}.addr`);
  if (addr < 0n) throw new ScenarioError(`${p}.addr`, "negative");
  const step: RamStep = { kind: "ram", index, domid: parseIntIn(o.domid, `${p}.domid`, 0, U16), addr };
  if (o.write !== undefined) {
    step.write = parseHex(o.write, `${p}.write`);
    if (step.write.length === 0 || step.write.length > MAX_RAM_BYTES) throw new ScenarioError(`${p}.write`, `${step.write.length} bytes (1 to ${MAX_RAM_BYTES})`);
  } else step.read = parseIntIn(o.read, `${p}.read`, 1, MAX_RAM_BYTES);
  if (expect !== undefined) {
    if (step.read === undefined) throw new ScenarioError(ep, "a ram write has nothing to expect (read it back)");
    checkKeys(expect, ["hex"], ep);
    if (expect.hex !== undefined) {
      const hex = parseHex(expect.hex, `${ep}.hex`);
      step.expect = { hex: Buffer.from(hex).toString("hex") };
    }
  }
  return step;
}

export function parseWait(o: JsonObject, p: string, index: number, timeout: unknown, tp: string, parseQuery: QueryParser): WaitStep {
  const q = parsePolledQuery(o, p, parseQuery);
  return { kind: "wait", index, query: q.query, args: q.args, until: q.expect, timeout_ms: parseTimeout(timeout, tp, 5000) };
}

export function parseDeviceModelStep(v: unknown, p: string, index: number, expect: JsonObject | undefined, ep: string): DeviceModelStep {
  if (v !== "stop") throw new ScenarioError(p, `expected "stop", got ${JSON.stringify(v)}`);
  const step: DeviceModelStep = { kind: "device_model", index, action: "stop" };
  if (expect !== undefined) {
    checkKeys(expect, ["exit_code"], ep);
    if (expect.exit_code !== undefined && expect.exit_code !== null) parseIntIn(expect.exit_code, `${ep}.exit_code`, 0, 255);
    step.expect = expect;
  }
  return step;
}
