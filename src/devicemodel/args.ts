// C parameter types of xendevicemodel.h: a value is checked against its parameter type (what a C
// caller can pass); the library's own conversions (int -> uint8_t field, ...) are applied by wire.ts.
import { DeviceModelArgumentError } from "./errors.js";

export type U64Like = number | bigint;

interface IntRange { min: bigint; max: bigint; c: string }
const RANGES = {
  u8: { min: 0n, max: 0xffn, c: "uint8_t" },
  u16: { min: 0n, max: 0xffffn, c: "uint16_t" },
  u32: { min: 0n, max: 0xffff_ffffn, c: "uint32_t / unsigned int" },
  int: { min: -(2n ** 31n), max: 2n ** 31n - 1n, c: "int" },
  u64: { min: 0n, max: 2n ** 64n - 1n, c: "uint64_t" },
} as const satisfies Record<string, IntRange>;
export type CType = keyof typeof RANGES;

function check(fn: string, field: string, v: unknown, t: CType): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else throw new DeviceModelArgumentError(fn, field, `${String(v)} is not an integer`);
  const r = RANGES[t];
  if (b < r.min || b > r.max) throw new DeviceModelArgumentError(fn, field, `${b} does not fit ${r.c}`);
  return b;
}

/** The ranges of RANGES as numbers, for the common case of a number argument (no BigInt made). */
const NUM_RANGES: Record<Exclude<CType, "u64">, { min: number; max: number }> = {
  u8: { min: 0, max: 0xff },
  u16: { min: 0, max: 0xffff },
  u32: { min: 0, max: 0xffff_ffff },
  int: { min: -(2 ** 31), max: 2 ** 31 - 1 },
};
const U64_MAX = 2n ** 64n - 1n;

/** Checks a 32-bit-or-narrower argument; returns it as a number. */
export function arg(fn: string, field: string, v: unknown, t: Exclude<CType, "u64">): number {
  if (typeof v === "number") {
    const r = NUM_RANGES[t];
    if (Number.isSafeInteger(v) && v >= r.min && v <= r.max) return v === 0 ? 0 : v; // no -0
  }
  return Number(check(fn, field, v, t));
}

/** Checks a uint64_t argument; returns it as a bigint. */
export function arg64(fn: string, field: string, v: unknown): bigint {
  if (typeof v === "bigint" && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return check(fn, field, v, "u64");
}
