// Scenario files: parse, run, report (docs/scenarios.md).
import { jsonErrorAt } from "./json-error.js";
import { readFileSync } from "node:fs";
import { decode, encode } from "../codec/index.js";
import { ScenarioError } from "./errors.js";
import type { ScenarioCodec } from "./host.js";
import { runScenario as run, type RunOptions, type StepResult } from "./runner.js";
import { createXenHost } from "./xen-host.js";
import { runScenarioLive, type LiveOptions } from "./live.js";

export { ScenarioError } from "./errors.js";
export { parseScenario, MAX_QUERY_NR } from "./parse.js";
export { compareSubset, show } from "./compare.js";
export { HostUnsupported } from "./host.js";
export type { ScenarioHost, ScenarioCodec, HostFactory, QueryResult } from "./host.js";
export type { StepResult, RunOptions } from "./runner.js";
export type { LiveOptions } from "./live.js";
export type * from "./types.js";
export { createXenHost, XenHost } from "./xen-host.js";

/** The real codec, as the runner needs it. */
export const defaultCodec: ScenarioCodec = {
  encode: (type, value, opts) => encode(type, value, opts),
  decode: (type, bytes, opts) => decode(type, bytes, opts),
};

/** Runs a parsed JSON scenario against the fake hypervisor (or the host and codec given). */
export function runScenario(json: unknown, opts: Partial<RunOptions> = {}): StepResult[] {
  const o: RunOptions = { codec: opts.codec ?? defaultCodec, createHost: opts.createHost ?? createXenHost };
  if (opts.onHost !== undefined) o.onHost = opts.onHost;
  return run(json, o);
}

/**
 * Runs a scenario that may start a device model (the top-level `device_model`): the program runs
 * under the shim against this scenario's fake, served over a socket, and is stopped at the end.
 */
export async function runScenarioAsync(json: unknown, opts: Partial<LiveOptions> = {}): Promise<StepResult[]> {
  const o: LiveOptions = { codec: opts.codec ?? defaultCodec, createHost: opts.createHost ?? createXenHost };
  if (opts.onHost !== undefined) o.onHost = opts.onHost;
  if (opts.cwd !== undefined) o.cwd = opts.cwd;
  return runScenarioLive(json, o);
}

/** Reads and parses a scenario file; a JSON syntax error is a ScenarioError naming its line and column. */
export function loadScenarioFile(path: string): unknown {
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const at = jsonErrorAt(text);
    const where = at !== undefined ? `line ${at.line}, column ${at.column}: expected ${at.expected}` : e instanceof Error ? e.message : String(e);
    throw new ScenarioError("", `not valid JSON at ${where}`, { cause: e });
  }
}
