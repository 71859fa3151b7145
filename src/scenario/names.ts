// Symbolic names in expectations are checked when a file is loaded: a misspelt name (`ram_rww`,
// `IOREQ_TYPE_COPPY`) makes the file invalid instead of an expectation that can never hold.
import { P2M_TYPES } from "../hypervisor/p2m-types.js";
import { errnoValue } from "../../abi/xen/errno.js";
import { ScenarioError } from "./errors.js";
import { isObject, symbols, symbolValue, type Json } from "./values.js";

/** Expectation keys whose string values are names. */
const NAMED_KEYS = new Set(["type", "types", "mem_type", "p2m", "state", "op", "reason", "handle_bufioreq", "errno"]);
/** Prefixes a name may be given without (`ram_rw` for `HVMMEM_ram_rw` or `p2m_ram_rw`, ...). */
const PREFIXES = ["", "HVMMEM_", "p2m_", "SHUTDOWN_", "XEN_DMOP_", "HVM_IOREQSRV_BUFIOREQ_", "IOREQ_TYPE_", "STATE_", "XEN_DMOP_IO_RANGE_"];
const NUMBER = /^-?(0x[0-9a-fA-F]+|[0-9]+)$/;

function known(name: string): boolean {
  if (NUMBER.test(name.trim())) return true;
  if (/^-?(XEN_)?E[A-Z0-9]+$/.test(name) && errnoValue(name) !== undefined) return true;
  const bare = name.startsWith("p2m_") ? name.slice(4) : name;
  if ((P2M_TYPES as readonly string[]).includes(bare)) return true;
  return PREFIXES.some((p) => symbolValue(p + name) !== undefined);
}

/** The known name closest to `name` (same family first), for the error message. */
function nearest(name: string): string | undefined {
  const pool = [...P2M_TYPES, ...Object.keys(symbols())];
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of pool) {
    if (Math.abs(c.length - name.length) > 2) continue;
    let d = 0;
    for (let i = 0; i < Math.max(c.length, name.length); i++) if (c[i] !== name[i]) d++;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= 2 ? best : undefined;
}

function checkName(x: string, p: string): void {
  if (known(x)) return;
  const near = nearest(x);
  throw new ScenarioError(p, `unknown name ${JSON.stringify(x)}${near !== undefined ? ` (did you mean ${JSON.stringify(near)}?)` : ""}`);
}

/** Walks an expectation and refuses unknown names under the keys that hold names. */
export function checkExpectationNames(v: Json, path: string): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      checkExpectationNames(x, `${path}[${i}]`);
    });
    return;
  }
  if (!isObject(v)) return;
  for (const [k, x] of Object.entries(v)) {
    const p = `${path}.${k}`;
    if (NAMED_KEYS.has(k)) {
      if (typeof x === "string") checkName(x, p);
      else if (Array.isArray(x)) x.forEach((e, i) => {
        if (typeof e === "string") checkName(e, `${p}[${i}]`);
      });
    }
    checkExpectationNames(x, p);
  }
}
