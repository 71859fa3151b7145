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

/** The world of `--world FILE` or `--domain N ...` (default domain 1) with `--xen`, as serve and exec take them. */
export function worldFromOptions(o: { world?: string | undefined; domain?: readonly string[] | undefined; xen?: string | undefined }): WorldConfig {
  if (o.world !== undefined) {
    if (o.domain !== undefined || o.xen !== undefined) throw new Error("--world cannot be combined with --domain or --xen");
    return readWorldFile(o.world);
  }
  const domains = (o.domain ?? ["1"]).map((d) => {
    if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(d) || Number(d) < 1 || Number(d) > 0x7fef) throw new Error(`--domain ${d}: not a domain id 1..0x7fef`);
    return { domid: Number(d), type: "hvm" as const };
  });
  const world: WorldConfig = { format: 1, domains };
  if (o.xen !== undefined) world.xen = o.xen as WorldConfig["xen"];
  checkWorld(world);
  return world;
}
