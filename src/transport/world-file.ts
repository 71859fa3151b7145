// The world part of a scenario file (docs: the scenario format), for `xendm serve --world FILE`.
import { readFileSync } from "node:fs";
import { checkWorld, type WorldConfig } from "../hypervisor/world.js";

const WORLD_KEYS = ["format", "xen", "arch", "abi", "preempt", "domains"] as const;
const OTHER_SCENARIO_KEYS = new Set(["steps", "name", "description", "note", "xenstore"]);

/** Picks the world keys of a scenario object (its steps and notes are ignored); checks them. */
export function worldOf(json: unknown, what: string): WorldConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${what}: not a JSON object`);
  const obj = json as Record<string, unknown>;
  const world: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if ((WORLD_KEYS as readonly string[]).includes(k)) world[k] = v;
    else if (!OTHER_SCENARIO_KEYS.has(k)) throw new Error(`${what}: unknown key '${k}'`);
  }
  const w = world as WorldConfig;
  checkWorld(w);
  return w;
}

export function readWorldFile(path: string): WorldConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return worldOf(json, path);
}
