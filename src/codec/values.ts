// Conversion of user-supplied field values (numbers, bigints, strings, symbolic names) to the exact
// integer a field holds, refusing anything that does not fit. Used on the slow path of the compiled
// encoders (the fast path accepts in-range numbers and bigints directly).

import { CodecError } from "./errors.js";
import type { EnumTable } from "../../abi/ctypes.js";

const INT_RE = /^(?:0x[0-9a-f]+|0b[01]+|0o[0-7]+|\d+)$/i;

function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "object") return x === null ? "null" : Array.isArray(x) ? "an array" : "an object";
  if (typeof x === "number" || typeof x === "boolean" || x === undefined) return String(x);
  return typeof x;
}

/** The value of a field as a bigint, or a CodecError. `undefined` means zero (a field left out). */
export function toBig(x: unknown, bytes: number, en: EnumTable | undefined, path: string, offset: number, bits?: number): bigint {
  let v: bigint;
  if (x === undefined) return 0n;
  if (typeof x === "bigint") v = x;
  else if (typeof x === "number") {
    if (!Number.isInteger(x)) throw new CodecError("bad-value", path, offset, `${x} is not an integer`);
    if (!Number.isSafeInteger(x)) throw new CodecError("out-of-range", path, offset, `${x} is beyond 2^53: pass a bigint or a string`);
    v = BigInt(x);
  } else if (typeof x === "string") {
    const s = x.trim();
    // own names only: "constructor" or "toString" are not C constants
    const sym = en !== undefined && Object.hasOwn(en, s) ? en[s] : undefined;
    if (sym !== undefined) v = BigInt(sym);
    else if (INT_RE.test(s)) v = BigInt(s);
    else if (typeof x === "string" && en !== undefined) {
      throw new CodecError("bad-value", path, offset, `unknown name ${JSON.stringify(x)} (expected one of ${Object.keys(en).filter((k) => /^[A-Z_][A-Za-z0-9_]*_/.test(k)).join(", ")})`);
    } else throw new CodecError("bad-value", path, offset, `${JSON.stringify(x)} is not an integer`);
  } else if (typeof x === "boolean") v = x ? 1n : 0n;
  else throw new CodecError("bad-value", path, offset, `${describe(x)} is not an integer`);
  const width = bits ?? bytes * 8;
  const max = (1n << BigInt(width)) - 1n;
  if (v < 0n || v > max) {
    throw new CodecError("out-of-range", path, offset, `${describe(x)} does not fit ${bits !== undefined ? `a ${bits}-bit field` : `${bytes} byte(s)`} (0..${max})`);
  }
  return v;
}

/** As toBig, for fields of at most 32 bits. */
export function toNum(x: unknown, bytes: number, en: EnumTable | undefined, path: string, offset: number, bits?: number): number {
  return Number(toBig(x, bytes, en, path, offset, bits));
}

/** Refuses keys a C structure does not have. */
export function unknownField(value: object, known: readonly string[], path: string, offset: number): never {
  const extra = Object.keys(value).filter((k) => !known.includes(k));
  throw new CodecError("unknown-field", path + "." + (extra[0] ?? "?"), offset, `no field ${JSON.stringify(extra[0])} (fields: ${known.join(", ")})`);
}

export function notObject(x: unknown, path: string, offset: number): never {
  throw new CodecError("bad-value", path, offset, `expected an object, got ${describe(x)}`);
}

export function notArray(x: unknown, count: number, path: string, offset: number): never {
  if (Array.isArray(x)) throw new CodecError("out-of-range", path, offset, `${x.length} elements, the array holds ${count}`);
  throw new CodecError("bad-value", path, offset, `expected an array of at most ${count} elements, got ${describe(x)}`);
}
