// Scenario xenstore support (docs/scenarios.md, docs/xenstore.md): the top-level `xenstore` seed, the
// `{"xenstore": {...}}` step (write, read, rm, ls, mkdir), and the `{"query": {"xenstore": {"path"}}}` query.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XsLocalClient } from "../xenstore/client.js";
import { XenstoredServer } from "../xenstore/server.js";
import type { XenstoreCore } from "../xenstore/core.js";
import { XsError } from "../xenstore/errors.js";
import { coreForDomains, type XsDomainSpec, type XsSeed } from "../xenstore/host.js";
import { parsePerm } from "../xenstore/perms.js";
import { ScenarioError } from "./errors.js";
import type { QueryResult } from "./host.js";
import type { QueryArgs } from "./types.js";
import { checkKeys, expectArray, expectObject, expectString, parseIntIn, type JsonObject } from "./values.js";

export type XenstoreOp = "write" | "read" | "rm" | "ls" | "mkdir";
const OPS: readonly XenstoreOp[] = ["write", "read", "rm", "ls", "mkdir"];

export interface XenstoreStep {
  kind: "xenstore";
  index: number;
  note?: string;
  op: XenstoreOp;
  path: string;
  value?: string;
  perms?: string[];
  /** the caller domain (default 0) */
  domid: number;
  expect?: JsonObject;
}

function parsePerms(v: unknown, p: string): string[] {
  const list = expectArray(v, p).map((x, i) => expectString(x, `${p}[${i}]`));
  if (list.length === 0) throw new ScenarioError(p, `expected at least the owner, like ["n0", "r1"]`);
  list.forEach((s, i) => {
    try {
      parsePerm(s);
    } catch {
      throw new ScenarioError(`${p}[${i}]`, `"${s}" is not a permission (n, r, w or b, then a domain id)`);
    }
  });
  return list;
}

/** The top-level `xenstore` key: path -> value, or { value, perms } */
export function parseXenstoreSeed(v: unknown): XsSeed {
  const o = expectObject(v, "xenstore");
  const seed: XsSeed = {};
  for (const [path, e] of Object.entries(o)) {
    const p = `xenstore.${path}`;
    if (!path.startsWith("/")) throw new ScenarioError(p, "a seeded path is absolute");
    if (typeof e === "string") seed[path] = e;
    else {
      const eo = expectObject(e, p);
      checkKeys(eo, ["value", "perms"], p);
      const entry: { value?: string; perms?: string[] } = {};
      if (eo.value !== undefined) entry.value = expectString(eo.value, `${p}.value`);
      if (eo.perms !== undefined) entry.perms = parsePerms(eo.perms, `${p}.perms`);
      seed[path] = entry;
    }
  }
  return seed;
}

/** `{"xenstore": {"write": {"path", "value", "perms"?}}}`, `{"xenstore": {"read": PATH}}`, rm, ls, mkdir; optional "domid" */
export function parseXenstoreStep(o: JsonObject, p: string, index: number, expect: JsonObject | undefined): XenstoreStep {
  checkKeys(o, [...OPS, "domid"], p);
  const ops = OPS.filter((k) => o[k] !== undefined);
  if (ops.length !== 1) throw new ScenarioError(p, `expected exactly one of: ${OPS.join(", ")}`);
  const op = ops[0]!;
  const domid = o.domid === undefined ? 0 : parseIntIn(o.domid, `${p}.domid`, 0, 0x7fef);
  const step: XenstoreStep = { kind: "xenstore", index, op, path: "", domid };
  if (op === "write") {
    const w = expectObject(o.write, `${p}.write`);
    checkKeys(w, ["path", "value", "perms"], `${p}.write`);
    step.path = expectString(w.path, `${p}.write.path`);
    step.value = w.value === undefined ? "" : expectString(w.value, `${p}.write.value`);
    if (w.perms !== undefined) step.perms = parsePerms(w.perms, `${p}.write.perms`);
  } else step.path = expectString(o[op], `${p}.${op}`);
  if (expect !== undefined) step.expect = expect;
  return step;
}

/** `{"query": {"xenstore": {"path": P, "domid"?: D}}}` (a step, a `wait`, a device model's `ready`) */
export function parseXenstoreQueryArgs(a: JsonObject, p: string): QueryArgs {
  checkKeys(a, ["path", "domid"], p);
  return { path: expectString(a.path, `${p}.path`), domid: a.domid === undefined ? 0 : parseIntIn(a.domid, `${p}.domid`, 0, 0x7fef) };
}

/** The xenstore query's answer: {"exists": true, "value", "perms", "children"} or {"exists": false} */
export function xenstoreView(core: XenstoreCore, args: QueryArgs): QueryResult {
  const c = new XsLocalClient(core, args.domid);
  try {
    return { ...c.view(args.path ?? "/") };
  } catch (e) {
    if (e instanceof XsError) return { error: e.code };
    throw e;
  } finally {
    c.close();
  }
}

/** The world's domains as the xenstore integration needs them */
export function domainSpecs(world: JsonObject): XsDomainSpec[] {
  const list = Array.isArray(world.domains) ? world.domains : [];
  const specs = list.flatMap((d) => {
    if (d === null || typeof d !== "object" || Array.isArray(d)) return [];
    const domid = Number(d.domid);
    if (!Number.isInteger(domid) || domid === 0) return [];
    const spec: XsDomainSpec = { domid, type: d.type === "pv" ? "pv" : "hvm" };
    const vcpus = Number(d.vcpus ?? d.max_vcpus ?? 1);
    if (Number.isInteger(vcpus) && vcpus > 0 && vcpus <= 128) spec.vcpus = vcpus;
    if (d.target !== undefined && d.target !== null) spec.target = Number(d.target);
    return [spec];
  });
  // a guest's device_model domain serves it: SET_TARGET(dm, guest) when both are in the world
  for (const d of list) {
    if (d === null || typeof d !== "object" || Array.isArray(d) || d.device_model === undefined) continue;
    const dm = specs.find((x) => x.domid === Number(d.device_model));
    if (dm !== undefined && dm.target === undefined) dm.target = Number(d.domid);
  }
  return specs;
}

/** A scenario's xenstore: its world's domains made as libxl makes them, then its seed */
export function scenarioXenstore(world: JsonObject, seed: XsSeed | undefined): XenstoreCore {
  try {
    return coreForDomains(domainSpecs(world), seed !== undefined ? { seed } : {});
  } catch (e) {
    throw new ScenarioError("xenstore", e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/** Runs one xenstore step: { ok }, { value }, { children }, the query's view, or { error: "EACCES" } */
export function runXenstoreStep(core: XenstoreCore, s: XenstoreStep): QueryResult {
  const c = new XsLocalClient(core, s.domid);
  try {
    switch (s.op) {
      case "write":
        c.write(s.path, s.value ?? "");
        if (s.perms !== undefined) c.setPerms(s.path, s.perms);
        return { ok: true };
      case "mkdir":
        c.mkdir(s.path);
        return { ok: true };
      case "rm":
        c.rm(s.path);
        return { ok: true };
      case "read":
        return { value: c.read(s.path) };
      case "ls":
        return { children: c.ls(s.path) };
    }
  } catch (e) {
    if (e instanceof XsError) return { error: e.code };
    throw e;
  } finally {
    c.close();
  }
}

export function xenstoreSummary(s: XenstoreStep, r: QueryResult): string {
  const what = `${s.op} ${s.path}`;
  if (typeof r.error === "string") return `${what}: ${r.error}`;
  if (typeof r.value === "string" && s.op === "read") return `${what} = ${JSON.stringify(r.value)}`;
  if (Array.isArray(r.children) && s.op === "ls") return `${what}: ${r.children.length} children`;
  return `${what}: ok`;
}

/**
 * A scenario's xenstored on a private socket, for its device model (XENSTORED_PATH = `path`; domain d's
 * clients on `path.d<d>`); the directory goes when it is closed.
 */
export async function serveScenarioXenstore(core: XenstoreCore): Promise<{ path: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-xenstored-"));
  const path = join(dir, "xenstored.sock");
  const server = new XenstoredServer({ core });
  try {
    await server.listen(path);
    for (const d of core.domains.map.values()) if (d.introduced && d.domid !== 0) await server.listen(`${path}.d${d.domid}`, { domid: d.domid });
  } catch (e) {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    path,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
