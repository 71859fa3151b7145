// Expectations compare only the keys they name; integers compare by value whatever their spelling.
import { isObject, symbols, symbolValue, type Json } from "./values.js";
import { errnoName, errnoValue } from "../../abi/xen/errno.js";

/** JSON text for a value that may hold bigints (written as decimal strings when above 2^53). */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? (x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : `0x${x.toString(16)}`) : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x)) ?? "undefined";
}

/** An integer from an expectation: a number, a decimal/hex string, a symbol, or "-EINVAL". */
export function expectedInt(v: number | string): bigint | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  const s = v.trim();
  const m = /^(-?)(0x[0-9a-fA-F]+|[0-9]+)$/.exec(s);
  if (m !== null) return m[1] === "-" ? -BigInt(m[2]!) : BigInt(m[2]!);
  const sym = symbolValue(s);
  if (sym !== undefined) return BigInt(sym);
  if (/^-(XEN_)?E[A-Z0-9]+$/.test(s)) {
    const e = errnoValue(s);
    if (e !== undefined) return BigInt(-e);
  }
  return undefined;
}

function actualInt(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === "string") return expectedInt(v);
  return undefined;
}

/** Prefixes a symbolic expectation may carry that a plain-name answer leaves out. */
const NAME_PREFIXES = ["HVMMEM_", "p2m_", "SHUTDOWN_", "XEN_DMOP_", "HVM_IOREQSRV_BUFIOREQ_", "IOREQ_TYPE_", "STATE_"];

function sameName(expected: string, actual: string): boolean {
  if (expected === actual) return true;
  return NAME_PREFIXES.some((p) => expected.startsWith(p) && expected.slice(p.length) === actual);
}

/** The constant families a field's values come from, by field name (the last part of the path). */
const FIELD_FAMILIES: Readonly<Record<string, readonly string[]>> = {
  type: ["IOREQ_TYPE_"],
  state: ["STATE_"],
  mem_type: ["HVMMEM_"],
  op: ["XEN_DMOP_"],
  reason: ["SHUTDOWN_"],
  handle_bufioreq: ["HVM_IOREQSRV_BUFIOREQ_"],
};

/** The family of a symbolic expectation: its name up to the last "_" that other constants share. */
function familyOf(name: string): string | undefined {
  const table = symbols();
  for (let cut = name.lastIndexOf("_"); cut > 0; cut = name.lastIndexOf("_", cut - 1)) {
    const prefix = name.slice(0, cut + 1);
    if (Object.keys(table).filter((k) => k.startsWith(prefix)).length > 1) return prefix;
  }
  return undefined;
}

/** A value as a diff shows it: the written form, and the symbolic name when the field has one. */
function named(path: string, written: unknown, v: bigint, hint?: string): string {
  const key = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(path)?.[1] ?? "";
  const shown = show(written);
  if (key === "rc") return v < 0n && v >= -200n ? `${shown} (-${errnoName(Number(-v))})` : shown;
  if (typeof written === "string" && !/^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(written)) return `${written} (${v})`;
  const families = hint !== undefined ? [hint] : key === "type" && /mem_type/.test(path) ? ["HVMMEM_"] : (FIELD_FAMILIES[key] ?? []);
  const table = symbols();
  for (const f of families) {
    const hit = Object.keys(table).find((k) => k.startsWith(f) && BigInt(table[k]!) === v);
    if (hit !== undefined) return `${shown} (${hit})`;
  }
  return shown;
}

/** Appends one line per difference between `expected` (a subset) and `actual`. */
export function compareSubset(expected: Json, actual: unknown, path: string, diffs: string[]): void {
  const here = path === "" ? "(value)" : path;
  if (expected === null) {
    if (actual !== null && actual !== undefined) diffs.push(`${here}: expected null, got ${show(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      diffs.push(`${here}: expected a list, got ${show(actual)}`);
      return;
    }
    if (actual.length !== expected.length) {
      diffs.push(`${here}: expected ${expected.length} entries, got ${actual.length}: ${show(actual)}`);
      return;
    }
    expected.forEach((e, i) => {
      compareSubset(e, actual[i], `${path}[${i}]`, diffs);
    });
    return;
  }
  if (isObject(expected) && Array.isArray(actual)) {
    // {"3": 5} names entries of a list by index
    for (const [k, e] of Object.entries(expected)) {
      const p = `${path}[${k}]`;
      if (!/^\d+$/.test(k) || Number(k) >= actual.length) diffs.push(`${p}: no such entry (the list has ${actual.length})`);
      else compareSubset(e, actual[Number(k)], p, diffs);
    }
    return;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) {
      diffs.push(`${here}: expected an object, got ${show(actual)}`);
      return;
    }
    for (const [k, e] of Object.entries(expected)) {
      const p = path === "" ? k : `${path}.${k}`;
      if (!(k in actual)) diffs.push(`${p}: missing (expected ${show(e)})`);
      else compareSubset(e, (actual as Record<string, unknown>)[k], p, diffs);
    }
    return;
  }
  if (typeof expected === "boolean") {
    if (actual !== expected) diffs.push(`${here}: expected ${expected}, got ${show(actual)}`);
    return;
  }
  // number or string
  if (typeof actual === "string" && typeof expected === "string" && sameName(expected, actual)) return;
  const e = expectedInt(expected);
  const a = actualInt(actual);
  if (e !== undefined && a !== undefined) {
    if (e !== a) {
      const hint = typeof expected === "string" ? familyOf(expected) : undefined;
      diffs.push(`${here}: expected ${named(path, expected, e)}, got ${named(path, actual, a, hint)}`);
    }
    return;
  }
  if (actual !== expected) diffs.push(`${here}: expected ${show(expected)}, got ${show(actual)}`);
}
