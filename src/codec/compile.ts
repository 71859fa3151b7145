// Generates a specialised reader and writer for each (aggregate layout, strictness) from the same
// declarations the reflective layout uses: straight-line DataView calls with constant offsets, nested
// aggregates inlined, unions switched on their selector. Errors are built only on the failure path.

import type { AggregateLayout, FieldLayout, IntLayout } from "../../abi/ctypes.js";
import { CodecError } from "./errors.js";
import { notArray, notObject, toBig, toNum, unknownField } from "./values.js";

/** A decoded C value: numbers (≤ 32-bit), bigints (64-bit), arrays, nested objects. */
export type CValue = { [field: string]: CField };
export type CField = number | bigint | CValue | CField[];

export interface Compiled {
  readonly layout: AggregateLayout;
  /** Reads one value at `o`; `p` is the path prefix used in errors (normally the type name). */
  readonly read: (v: DataView, o: number, p: string) => CValue;
  /** Writes `val` at `o`, every byte of the aggregate (implicit padding is zeroed). */
  readonly write: (v: DataView, o: number, val: unknown, p: string) => void;
}

type ReadFn = (v: DataView, o: number, p: string) => CValue;
type WriteFn = (v: DataView, o: number, val: unknown, p: string) => void;

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

function padError(path: string, offset: number, value: number | bigint): never {
  throw new CodecError("nonzero-pad", path, offset, `padding must be zero, found 0x${value.toString(16)}`);
}

function tailError(v: DataView, from: number, to: number, path: string): never {
  for (let i = from; i < to; i++) {
    const b = v.getUint8(i);
    if (b !== 0) throw new CodecError("nonzero-pad", path, i, path.endsWith(".(padding)") ? `compiler padding must be zero, found 0x${b.toString(16)}` : `bytes beyond the selected union member must be zero, found 0x${b.toString(16)}`);
  }
  throw new Error("unreachable: tail check");
}

function badOp(path: string, offset: number, op: number, valid: readonly number[]): never {
  throw new CodecError("bad-op", path, offset, `op ${op} names no operation (valid: ${valid.join(", ")})`);
}

function badMember(path: string, offset: number, got: string, want: string | undefined): never {
  throw new CodecError("bad-member", path, offset, want === undefined ? `no member may be given here, got ${JSON.stringify(got)}` : `member ${JSON.stringify(got)} given, the selector picks ${JSON.stringify(want)}`);
}

const RUNTIME = { toBig, toNum, unknownField, notObject, notArray, padError, tailError, badOp, badMember, EMPTY };

const getter = (t: IntLayout): string => ({ 1: "getUint8", 2: "getUint16", 4: "getUint32", 8: "getBigUint64" })[t.size];
const setter = (t: IntLayout): string => ({ 1: "setUint8", 2: "setUint16", 4: "setUint32", 8: "setBigUint64" })[t.size];

class Gen {
  readonly lines: string[] = [];
  readonly k: unknown[] = [];
  private n = 0;
  constructor(readonly strict: boolean) {}
  tmp(prefix = "t"): string {
    return `${prefix}${this.n++}`;
  }
  konst(x: unknown): string {
    this.k.push(x);
    return `K[${this.k.length - 1}]`;
  }
  emit(s: string): void {
    this.lines.push(s);
  }
}

const lit = (s: string): string => JSON.stringify(s);
const pathExpr = (path: string): string => `p + ${lit(path)}`;

/** Emits the OR of all bytes in [from, to) relative to o+base, read in the widest aligned chunks. */
function orBytes(base: number, from: number, to: number): string {
  const parts: string[] = [];
  let s = from;
  while (s < to && (base + s) % 4 !== 0) parts.push(`v.getUint8(o + ${base + s++})`);
  while (s + 4 <= to) {
    parts.push(`v.getUint32(o + ${base + s}, true)`);
    s += 4;
  }
  while (s < to) parts.push(`v.getUint8(o + ${base + s++})`);
  return parts.join(" | ") || "0";
}

/** Byte runs of a struct that no field covers (compiler-inserted padding). */
function paddingRuns(L: AggregateLayout): Array<[number, number]> {
  const covered = new Uint8Array(L.size);
  for (const f of L.fields) for (let b = f.offset; b < f.offset + f.size; b++) covered[b] = 1;
  const runs: Array<[number, number]> = [];
  for (let b = 0; b < L.size; b++) {
    if (covered[b] !== 0) continue;
    const from = b;
    while (b < L.size && covered[b] === 0) b++;
    runs.push([from, b]);
  }
  return runs;
}

// ---------- readers ----------

function readInt(g: Gen, t: IntLayout, off: number): string {
  return `v.${getter(t)}(o + ${off}${t.size > 1 ? ", true" : ""})`;
}

function readField(g: Gen, f: FieldLayout, base: number, path: string, siblings: Map<string, string>): string {
  const fpath = path + "." + f.name;
  const off = base + f.offset;
  const t = f.type;
  const out = g.tmp();
  if (f.bitWidth !== undefined && t.kind === "int") {
    const shift = f.bitOffset! - f.unitOffset! * 8;
    const unit: IntLayout = { kind: "int", name: t.name, size: f.unitSize!, align: f.unitSize! };
    const mask = f.bitWidth >= 32 ? "0xffffffff" : `0x${((2 ** f.bitWidth) - 1).toString(16)}`;
    g.emit(`const ${out} = (${readInt(g, unit, base + f.unitOffset!)} >>> ${shift}) & ${mask};`);
    if (f.pad && g.strict) g.emit(`if (${out} !== 0) R.padError(${pathExpr(fpath)}, o + ${base + Math.floor(f.bitOffset! / 8)}, ${out});`);
    return out;
  }
  if (t.kind === "int") {
    const zero = t.size === 8 ? "0n" : "0";
    if (f.count === undefined) {
      g.emit(`const ${out} = ${readInt(g, t, off)};`);
      if (f.pad && g.strict) g.emit(`if (${out} !== ${zero}) R.padError(${pathExpr(fpath)}, o + ${off}, ${out});`);
    } else {
      const els = Array.from({ length: f.count }, (_, i) => readInt(g, t, off + i * t.size));
      g.emit(`const ${out} = [${els.join(", ")}];`);
      if (f.pad && g.strict) {
        g.emit(`for (let i = 0; i < ${f.count}; i++) if (${out}[i] !== ${zero}) R.padError(${pathExpr(fpath)}, o + ${off}, ${out}[i]);`);
      }
    }
    siblings.set(f.name, out);
    return out;
  }
  // aggregate
  if (f.count !== undefined) {
    const fn = g.konst(compiled(t, g.strict).read);
    g.emit(`const ${out} = new Array(${f.count});`);
    g.emit(`for (let i = 0; i < ${f.count}; i++) ${out}[i] = ${fn}(v, o + ${off} + i * ${t.size}, ${pathExpr(fpath)} + "[" + i + "]");`);
    return out;
  }
  if (t.kind === "struct") return readAgg(g, t, off, fpath);
  return readUnion(g, t, f, off, fpath, siblings);
}

function readAgg(g: Gen, L: AggregateLayout, base: number, path: string): string {
  if (L.kind === "union") return readUnion(g, L, undefined, base, path, new Map());
  const siblings = new Map<string, string>();
  const vals = L.fields.map((f) => [f.name, readField(g, f, base, path, siblings)] as const);
  if (g.strict) {
    // implicit (compiler) padding is not a field, but a canonical buffer has it zero
    for (const [from, to] of paddingRuns(L)) {
      g.emit(`if ((${orBytes(base, from, to)}) !== 0) R.tailError(v, o + ${base + from}, o + ${base + to}, ${pathExpr(path + ".(padding)")});`);
    }
  }
  const out = g.tmp("s");
  g.emit(`const ${out} = {${vals.map(([n, x]) => `${lit(n)}: ${x}`).join(", ")}};`);
  return out;
}

function readUnion(g: Gen, U: AggregateLayout, f: FieldLayout | undefined, base: number, path: string, siblings: Map<string, string>): string {
  const out = g.tmp("u");
  const member = (m: FieldLayout): string => {
    // a member is a field of the union at offset 0
    const x = readField(g, m, base, path, new Map());
    return `{${lit(m.name)}: ${x}}`;
  };
  const sel = f?.select;
  const selVar = sel !== undefined ? siblings.get(sel.by) : undefined;
  if (sel === undefined || selVar === undefined) {
    const m = U.fields.find((x) => x.name === U.decodeAs) ?? U.fields.find((x) => x.size === U.size) ?? U.fields[0];
    if (m === undefined) {
      g.emit(`const ${out} = {};`);
      return out;
    }
    g.emit(`let ${out};`);
    g.emit("{");
    g.emit(`${out} = ${member(m)};`);
    if (g.strict && m.size < U.size) g.emit(`if ((${orBytes(base, m.size, U.size)}) !== 0) R.tailError(v, o + ${base + m.size}, o + ${base + U.size}, ${pathExpr(path)});`);
    g.emit("}");
    return out;
  }
  g.emit(`let ${out};`);
  g.emit(`switch (${selVar}) {`);
  for (const [value, name] of Object.entries(sel.members)) {
    const m = U.fields.find((x) => x.name === name);
    if (m === undefined) throw new Error(`${U.name}: selector names missing member ${name}`);
    g.emit(`case ${value}: {`);
    g.emit(`${out} = ${member(m)};`);
    if (g.strict && m.size < U.size) g.emit(`if ((${orBytes(base, m.size, U.size)}) !== 0) R.tailError(v, o + ${base + m.size}, o + ${base + U.size}, ${pathExpr(path)});`);
    g.emit("break; }");
  }
  g.emit("default:");
  if (g.strict) {
    const valid = g.konst(Object.keys(sel.members).map(Number));
    g.emit(`R.badOp(p + ${lit(path.slice(0, path.lastIndexOf(".")) + "." + sel.by)}, o + ${base - (f?.offset ?? 0) + offsetOfSibling(sel.by, U, f)}, ${selVar}, ${valid});`);
  }
  g.emit(`${out} = {};`);
  g.emit("}");
  return out;
}

// The selector's offset is recorded on the parent; compile() passes it through this registry.
const selectorOffsets = new WeakMap<FieldLayout, number>();
function offsetOfSibling(_by: string, _U: AggregateLayout, f: FieldLayout | undefined): number {
  return f === undefined ? 0 : (selectorOffsets.get(f) ?? 0);
}

// ---------- writers ----------

/** Zeroes bytes [from, to) relative to o, in the widest stores. */
function emitZero(g: Gen, from: number, to: number): void {
  let b = from;
  while (b + 4 <= to) {
    g.emit(`v.setUint32(o + ${b}, 0);`);
    b += 4;
  }
  if (b + 2 <= to) {
    g.emit(`v.setUint16(o + ${b}, 0);`);
    b += 2;
  }
  if (b < to) g.emit(`v.setUint8(o + ${b}, 0);`);
}

/** Emits the conversion of one integer value; stores it unless it is a bitfield. Returns its variable. */
function writeInt(g: Gen, t: IntLayout, off: number, valExpr: string, fpath: string, en: string, bits?: number): string {
  const x = g.tmp();
  g.emit(`let ${x} = ${valExpr};`);
  if (t.size === 8) {
    g.emit(
      `if (${x} === undefined) ${x} = 0n; else if (typeof ${x} !== "bigint" || ${x} < 0n || ${x} > 0xffffffffffffffffn) ${x} = (typeof ${x} === "number" && ${x} >= 0 && ${x} <= 9007199254740991 && ${x} % 1 === 0) ? BigInt(${x}) : R.toBig(${x}, 8, ${en}, ${pathExpr(fpath)}, o + ${off});`,
    );
    g.emit(`v.setBigUint64(o + ${off}, ${x}, true);`);
    return x;
  }
  const width = bits ?? t.size * 8;
  // one integer test covers range and integrality: x & mask (or x >>> 0 for 32 bits) equals x only for
  // integers in [0, 2^width)
  const fits = width >= 32 ? `(${x} >>> 0) !== ${x}` : `(${x} & 0x${(2 ** width - 1).toString(16)}) !== ${x}`;
  g.emit(`if (${x} === undefined) ${x} = 0; else if (typeof ${x} !== "number" || ${fits}) ${x} = R.toNum(${x}, ${t.size}, ${en}, ${pathExpr(fpath)}, o + ${off}${bits !== undefined ? `, ${bits}` : ""});`);
  if (bits === undefined) g.emit(`v.${setter(t)}(o + ${off}, ${x}${t.size > 1 ? ", true" : ""});`);
  return x;
}

function writeAgg(g: Gen, L: AggregateLayout, base: number, valVar: string, path: string): void {
  if (L.kind === "union") {
    writeUnion(g, L, undefined, base, valVar, path, new Map());
    return;
  }
  const v = g.tmp("w");
  g.emit(`let ${v} = ${valVar};`);
  g.emit(`if (${v} === undefined) ${v} = R.EMPTY; else if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) R.notObject(${v}, ${pathExpr(path)}, o + ${base});`);
  const known = g.tmp("n");
  g.emit(`let ${known} = 0;`);
  // zero the bytes no field covers (bitfield bytes are written whole below)
  for (const [from, to] of paddingRuns(L)) emitZero(g, base + from, base + to);
  const siblings = new Map<string, string>();
  const bitVals: Array<[FieldLayout, string]> = [];
  for (const f of L.fields) {
    const fpath = path + "." + f.name;
    const fv = g.tmp("f");
    g.emit(`const ${fv} = ${v}[${lit(f.name)}];`);
    if (!f.pad) g.emit(`if (${fv} !== undefined) ${known}++;`);
    const t = f.type;
    const off = base + f.offset;
    if (f.bitWidth !== undefined && t.kind === "int") {
      const x = writeInt(g, t, base + Math.floor(f.bitOffset! / 8), fv, fpath, f.enum !== undefined ? g.konst(f.enum) : "undefined", f.bitWidth);
      bitVals.push([f, x]);
      continue;
    }
    if (t.kind === "int") {
      const en = f.enum !== undefined ? g.konst(f.enum) : "undefined";
      if (f.count === undefined) {
        siblings.set(f.name, writeInt(g, t, off, fv, fpath, en));
      } else {
        const arr = g.tmp("a");
        g.emit(`const ${arr} = ${fv} === undefined ? R.EMPTY : ${fv};`);
        g.emit(`if (${fv} !== undefined && (!Array.isArray(${fv}) || ${fv}.length > ${f.count})) R.notArray(${fv}, ${f.count}, ${pathExpr(fpath)}, o + ${off});`);
        for (let i = 0; i < f.count; i++) writeInt(g, t, off + i * t.size, `${arr}[${i}]`, `${fpath}[${i}]`, en);
      }
      continue;
    }
    if (f.count !== undefined) {
      const fn = g.konst(compiled(t, g.strict).write);
      g.emit(`if (${fv} !== undefined && (!Array.isArray(${fv}) || ${fv}.length > ${f.count})) R.notArray(${fv}, ${f.count}, ${pathExpr(fpath)}, o + ${off});`);
      g.emit(`for (let i = 0; i < ${f.count}; i++) ${fn}(v, o + ${off} + i * ${t.size}, ${fv} === undefined ? undefined : ${fv}[i], ${pathExpr(fpath)} + "[" + i + "]");`);
      continue;
    }
    if (t.kind === "struct") writeAgg(g, t, off, fv, fpath);
    else writeUnion(g, t, f, off, fv, fpath, siblings);
  }
  emitBitRuns(g, base, bitVals);
  const names = g.konst(L.fields.map((f) => f.name));
  // A key the structure does not have is looked for only when a (non-pad) field is missing: a misspelt
  // key always leaves the field it meant out, and complete values (the hot path) skip the key scan.
  const nonPad = L.fields.filter((f) => !f.pad).length;
  const padNames = g.konst(L.fields.filter((f) => f.pad).map((f) => f.name));
  g.emit(`if (${known} !== ${nonPad}) { let c = 0; for (const k in ${v}) if (!${padNames}.includes(k)) c++; if (c !== ${known}) R.unknownField(${v}, ${names}, ${pathExpr(path)}, o + ${base}); }`);
}

/**
 * Writes bitfields run by run: the fields whose bits fall in the same bytes are combined into one value
 * and stored once (a run never holds a non-bitfield byte: those lie outside its byte span).
 */
function emitBitRuns(g: Gen, base: number, vals: ReadonlyArray<[FieldLayout, string]>): void {
  const runs: Array<{ from: number; to: number; parts: Array<[FieldLayout, string]> }> = [];
  for (const [f, x] of vals) {
    const from = Math.floor(f.bitOffset! / 8);
    const to = Math.ceil((f.bitOffset! + f.bitWidth!) / 8);
    const last = runs[runs.length - 1];
    if (last !== undefined && from < last.to) {
      last.to = Math.max(last.to, to);
      last.parts.push([f, x]);
    } else runs.push({ from, to, parts: [[f, x]] });
  }
  for (const run of runs) {
    const w = g.tmp("b");
    const expr = run.parts.map(([f, x]) => `(${x} << ${f.bitOffset! - run.from * 8})`).join(" | ");
    g.emit(`const ${w} = (${expr}) >>> 0;`);
    const len = run.to - run.from;
    const at = base + run.from;
    if (len === 1) g.emit(`v.setUint8(o + ${at}, ${w});`);
    else if (len === 2) g.emit(`v.setUint16(o + ${at}, ${w}, true);`);
    else if (len === 4) g.emit(`v.setUint32(o + ${at}, ${w}, true);`);
    else for (let i = 0; i < len; i++) g.emit(`v.setUint8(o + ${at + i}, (${w} >>> ${8 * i}) & 255);`);
  }
}

function writeUnion(g: Gen, U: AggregateLayout, f: FieldLayout | undefined, base: number, valVar: string, path: string, siblings: Map<string, string>): void {
  const uv = g.tmp("uv");
  g.emit(`let ${uv} = ${valVar};`);
  g.emit(`if (${uv} === undefined) ${uv} = R.EMPTY; else if (typeof ${uv} !== "object" || ${uv} === null || Array.isArray(${uv})) R.notObject(${uv}, ${pathExpr(path)}, o + ${base});`);
  const writeMember = (m: FieldLayout | undefined): void => {
    const want = m?.name;
    const check = `for (const k in ${uv}) if (k !== ${lit(want ?? "")}) R.badMember(${pathExpr(path)} + "." + k, o + ${base}, k, ${want === undefined ? "undefined" : lit(want)});`;
    g.emit(want === undefined ? check : `if (${uv}[${lit(want)}] === undefined) { ${check} }`);
    if (m !== undefined) {
      const t = m.type;
      if (t.kind === "int") writeInt(g, t, base, `${uv}[${lit(m.name)}]`, path + "." + m.name, "undefined");
      else writeAgg(g, t, base, `${uv}[${lit(m.name)}]`, path + "." + m.name);
    }
    const from = m?.size ?? 0;
    emitZero(g, base + from, base + U.size);
  };
  const sel = f?.select;
  const selVar = sel !== undefined ? siblings.get(sel.by) : undefined;
  if (sel === undefined || selVar === undefined) {
    // no selector: exactly one member may be given; any member is accepted
    const keys = g.tmp("keys");
    g.emit(`const ${keys} = Object.keys(${uv});`);
    g.emit(`if (${keys}.length > 1) R.badMember(${pathExpr(path)}, o + ${base}, ${keys}.join(","), undefined);`);
    g.emit(`switch (${keys}[0]) {`);
    for (const m of U.fields) {
      g.emit(`case ${lit(m.name)}: {`);
      writeMember(m);
      g.emit("break; }");
    }
    g.emit("default: {");
    writeMember(undefined);
    g.emit("} }");
    return;
  }
  g.emit(`switch (${selVar}) {`);
  for (const [value, name] of Object.entries(sel.members)) {
    g.emit(`case ${value}: {`);
    writeMember(U.fields.find((x) => x.name === name));
    g.emit("break; }");
  }
  g.emit("default: {");
  const valid = g.konst(Object.keys(sel.members).map(Number));
  g.emit(`R.badOp(p + ${lit(path.slice(0, path.lastIndexOf(".")) + "." + sel.by)}, o + ${base - f!.offset + (selectorOffsets.get(f!) ?? 0)}, ${selVar}, ${valid});`);
  writeMember(undefined);
  g.emit("} }");
}

// ---------- compile + cache ----------

const strictCache = new WeakMap<AggregateLayout, Compiled>();
const laxCache = new WeakMap<AggregateLayout, Compiled>();

function registerSelectors(L: AggregateLayout): void {
  for (const f of L.fields) {
    if (f.select !== undefined) {
      const by = L.fields.find((x) => x.name === f.select!.by);
      if (by !== undefined) selectorOffsets.set(f, by.offset);
    }
    if (f.type.kind !== "int") registerSelectors(f.type);
  }
}

/** The compiled codec of a layout; `strict` adds the pad, tail and op checks to reads. */
export function compiled(L: AggregateLayout, strict: boolean): Compiled {
  const cache = strict ? strictCache : laxCache;
  const hit = cache.get(L);
  if (hit !== undefined) return hit;
  registerSelectors(L);
  const rg = new Gen(strict);
  const r = readAgg(rg, L, 0, "");
  const readSrc = `${rg.lines.join("\n")}\nreturn ${r};`;
  const wg = new Gen(strict);
  writeAgg(wg, L, 0, "val", "");
  const writeSrc = wg.lines.join("\n");
  // Generated code is the point of this module: the source is built from layouts only, never from input.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const mkRead = new Function("R", "K", `return function read_${L.name.replace(/\W/g, "_")}(v, o, p) {\n${readSrc}\n};`) as (
    r: typeof RUNTIME,
    k: unknown[],
  ) => ReadFn;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const mkWrite = new Function("R", "K", `return function write_${L.name.replace(/\W/g, "_")}(v, o, val, p) {\n${writeSrc}\n};`) as (
    r: typeof RUNTIME,
    k: unknown[],
  ) => WriteFn;
  const out: Compiled = { layout: L, read: mkRead(RUNTIME, rg.k), write: mkWrite(RUNTIME, wg.k) };
  cache.set(L, out);
  return out;
}
