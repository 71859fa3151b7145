// Value parsing shared by the scenario parser and the expectation comparer.
import { constants } from "../../abi/index.js";
import { errnoValue } from "../../abi/xen/errno.js";
import { ScenarioError } from "./errors.js";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

let symbolTable: Readonly<Record<string, number>> | undefined;

/** Every symbolic constant (XEN_DMOP_*, HVMMEM_*, IOREQ_TYPE_*, STATE_*, SHUTDOWN_*, DOMID_*, ...). */
export function symbols(): Readonly<Record<string, number>> {
  symbolTable ??= constants("x86_64");
  return symbolTable;
}

/** The value of a symbolic name, accepting the bare op name for XEN_DMOP_*. */
export function symbolValue(name: string): number | undefined {
  const t = symbols();
  const own = (k: string): number | undefined => (Object.hasOwn(t, k) ? t[k] : undefined);
  return own(name) ?? own("XEN_DMOP_" + name);
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const INT_RE = /^-?(0x[0-9a-fA-F]+|[0-9]+)$/;

/** Parses an integer: a JSON number, a decimal or 0x string, or (when allowed) a symbolic name. */
export function parseInt64(v: unknown, path: string, opts: { symbolic?: boolean } = {}): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new ScenarioError(path, `not an integer: ${v}`);
    return BigInt(v);
  }
  if (typeof v === "string") {
    const s = v.trim();
    if (INT_RE.test(s)) return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
    if (opts.symbolic !== false) {
      const sym = symbolValue(s);
      if (sym !== undefined) return BigInt(sym);
    }
    throw new ScenarioError(path, `not an integer or known symbol: "${v}"`);
  }
  throw new ScenarioError(path, `expected an integer, got ${JSON.stringify(v)}`);
}

/** An integer in [min, max] as a number. */
export function parseIntIn(v: unknown, path: string, min: number, max: number): number {
  const b = parseInt64(v, path);
  if (b < BigInt(min) || b > BigInt(max)) throw new ScenarioError(path, `${b} is outside ${min}..${max}`);
  return Number(b);
}

/** An rc: a number, "-EINVAL" / "EINVAL" (both the negative value), or "0". */
export function parseRc(v: unknown, path: string): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new ScenarioError(path, `not an integer: ${v}`);
    return v;
  }
  if (typeof v === "string") {
    const s = v.trim();
    if (INT_RE.test(s)) return Number(parseInt64(s, path, { symbolic: false }));
    if (/^-?(XEN_)?E[A-Z0-9]+$/.test(s)) {
      const e = errnoValue(s);
      if (e !== undefined) return -e;
    }
    throw new ScenarioError(path, `not an rc or errno name: "${v}"`);
  }
  throw new ScenarioError(path, `expected an rc, got ${JSON.stringify(v)}`);
}

/** A positive errno: a number, or a name with or without the sign. */
export function parseErrno(v: unknown, path: string): number {
  const rc = parseRc(v, path);
  return Math.abs(rc);
}

/** Hex bytes; spaces (and `_`) are ignored; an optional 0x prefix is allowed. */
export function parseHex(v: unknown, path: string): Uint8Array {
  if (typeof v !== "string") throw new ScenarioError(path, `expected a hex string, got ${JSON.stringify(v)}`);
  const s = v.replace(/[\s_]/g, "").replace(/^0x/i, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new ScenarioError(path, `not an even-length hex string: "${v}"`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Checks that `obj` has only `allowed` keys; names the first unknown one. */
export function checkKeys(obj: JsonObject, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new ScenarioError(path === "" ? k : `${path}.${k}`, `unknown key (expected one of: ${allowed.join(", ")})`);
    }
  }
}

export function expectObject(v: unknown, path: string): JsonObject {
  if (!isObject(v)) throw new ScenarioError(path, `expected an object, got ${JSON.stringify(v)}`);
  return v;
}

export function expectBool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new ScenarioError(path, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A C bitfield of width 1 as scenario JSON gives it: 0, 1, true or false (or "0"/"1"). */
export function expectBit(v: unknown, path: string): boolean {
  if (typeof v === "boolean") return v;
  if (v === 0 || v === 1 || v === "0" || v === "1") return v === 1 || v === "1";
  throw new ScenarioError(path, `a one-bit field: expected 0, 1, true or false, got ${JSON.stringify(v)}`);
}

export function expectString(v: unknown, path: string): string {
  if (typeof v !== "string") throw new ScenarioError(path, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function expectArray(v: unknown, path: string): Json[] {
  if (!Array.isArray(v)) throw new ScenarioError(path, `expected an array, got ${JSON.stringify(v)}`);
  return v as Json[];
}
