// The codec: encode / encodeInto / decode / layout / getCodec over the ABI declarations in abi/.

import { allTypes, constants, findType, resolve, type AggregateLayout, type Arch, type FieldLayout } from "../../abi/index.js";
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import { compiled, type CValue, type CField, type Compiled } from "./compile.js";
import { CodecError } from "./errors.js";
import { dumpLayout, type DumpLine } from "./dump.js";
import type { DecodedTypes, EncodeTypes, TypeName } from "./types.generated.js";

export { CodecError, type CodecErrorCode } from "./errors.js";
export type { CValue, CField } from "./compile.js";
export type { Arch } from "../../abi/profiles.js";

/** Options of every codec call. */
export interface CodecOptions {
  /** the wire ABI (default x86_64) */
  readonly arch?: Arch;
}

/** Options of decode(): `mode: "hypervisor"` reads buffer 0 as Xen does (header + op_size[op], no pad checks). */
export interface DecodeOptions extends CodecOptions {
  /**
   * `strict` (default): exact size, zero pads, a valid op. `hypervisor`: for `xen_dm_op`, reads the 8-byte
   * header and then only the selected op's payload, the way Xen does, with no pad or length checks
   * beyond that; for other types, reads without pad checks and ignores trailing bytes.
   */
  readonly mode?: "strict" | "hypervisor";
}

/** A compiled codec for one type and ABI: the fast path. */
export interface StructCodec {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  read(view: DataView, offset: number): CValue;
  write(view: DataView, offset: number, value: unknown): void;
}

/** One field as the C probe prints it: `bit_offset` counts from the start of the aggregate. */
export interface LayoutField {
  name: string;
  offset: number;
  size: number;
  bit_offset?: number;
  bit_width?: number;
}
/** One aggregate: its size, alignment and fields. */
export interface LayoutType {
  name: string;
  size: number;
  align: number;
  fields: LayoutField[];
}
/** What layout() returns: the shape of fixtures/layouts/<arch>.json. */
export interface LayoutJson {
  arch: Arch;
  types: LayoutType[];
  constants: Record<string, number>;
}

const DEFAULT_ARCH: Arch = "x86_64";

interface Entry {
  readonly L: AggregateLayout;
  readonly strict: Compiled;
}
const entries: Record<Arch, Map<string, Entry>> = { x86_64: new Map(), i386: new Map(), arm64: new Map(), arm32: new Map() };

// One-entry memos in front of the caches: hot loops usually repeat the same type and buffer.
let lastType = "";
let lastArch: Arch = DEFAULT_ARCH;
let lastEntry: Entry | undefined;

/** The ABI an `arch` option names; anything else is a CodecError naming the option. */
export function checkArch(arch: unknown): Arch {
  if (arch === undefined) return DEFAULT_ARCH;
  if (typeof arch === "string" && Object.hasOwn(entries, arch)) return arch as Arch;
  throw new CodecError("bad-arch", "arch", 0, `unknown arch ${JSON.stringify(arch)} (one of ${Object.keys(entries).join(", ")})`);
}

function entry(type: string, arch: Arch | undefined): Entry {
  const a = arch ?? DEFAULT_ARCH;
  if (type === lastType && a === lastArch && lastEntry !== undefined) return lastEntry;
  const cache = entries[checkArch(a)];
  let e = cache.get(type);
  if (e === undefined) {
    const decl = findType(type, a);
    if (decl === undefined) throw new CodecError("unknown-type", type, 0, `no type ${JSON.stringify(type)} in the ${a} ABI (try 'xendm layout')`);
    const L = resolve(decl, a);
    e = { L, strict: compiled(L, true) };
    cache.set(type, e);
  }
  lastType = type;
  lastArch = a;
  lastEntry = e;
  return e;
}

/** The resolved layout of a type, by struct tag or typedef. */
export function layoutOf(type: string, opts: CodecOptions = {}): AggregateLayout {
  return entry(type, opts.arch).L;
}

/** The names of every type (tags and typedefs). */
export function typeNames(opts: CodecOptions = {}): string[] {
  const out: string[] = [];
  for (const d of allTypes(checkArch(opts.arch))) {
    out.push(d.name);
    if (d.typedef !== undefined) out.push(d.typedef);
  }
  return out;
}

/** sizeof the type under the ABI. */
export function sizeOf(type: string, opts: CodecOptions = {}): number {
  return layoutOf(type, opts).size;
}

// Cached by the Uint8Array itself: reading `.buffer` of a small typed array is a slow path in V8.
const views = new WeakMap<Uint8Array, DataView>();
let lastBytes: Uint8Array | undefined;
let lastView: DataView | undefined;
/** A DataView over exactly `bytes` (offset 0 is bytes[0]), cached so that hot paths allocate nothing. */
export function viewOf(bytes: Uint8Array): DataView {
  if (bytes === lastBytes && lastView !== undefined) return lastView;
  let v = views.get(bytes);
  if (v === undefined) {
    v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    views.set(bytes, v);
  }
  lastBytes = bytes;
  lastView = v;
  return v;
}

/**
 * A type name only known at run time (a `string`): the untyped overloads. A literal name the codec
 * knows must use the typed overload, so a mistyped value is a compile error rather than a fallback.
 */
export type Untyped<T extends string> = T extends TypeName ? never : T;

/**
 * Encodes a C-field value into a new buffer of exactly the type's size. With a literal type name the
 * value is checked field by field against the generated interface (`EncodeTypes`).
 */
export function encode<K extends TypeName>(type: K, value: EncodeTypes[K], opts?: CodecOptions): Uint8Array;
export function encode<T extends string>(type: Untyped<T>, value: unknown, opts?: CodecOptions): Uint8Array;
export function encode(type: string, value: unknown, opts: CodecOptions = {}): Uint8Array {
  const { L, strict } = entry(type, opts.arch);
  const out = new Uint8Array(L.size);
  strict.write(new DataView(out.buffer), 0, value, L.name);
  return out;
}

/** Encodes into the caller's buffer at `offset` without allocating; returns the bytes written. */
export function encodeInto<K extends TypeName>(type: K, value: EncodeTypes[K], buf: Uint8Array, offset?: number, opts?: CodecOptions): number;
export function encodeInto<T extends string>(type: Untyped<T>, value: unknown, buf: Uint8Array, offset?: number, opts?: CodecOptions): number;
export function encodeInto(type: string, value: unknown, buf: Uint8Array, offset = 0, opts?: CodecOptions): number {
  const { L, strict } = entry(type, opts?.arch);
  if (!Number.isSafeInteger(offset)) throw new CodecError("bad-offset", L.name, 0, `offset ${String(offset)} is not an integer byte offset`);
  if (offset < 0 || offset + L.size > buf.length) {
    throw new CodecError("truncated", L.name, offset, `destination holds ${Math.max(0, buf.length - offset)} bytes from offset ${offset}, ${L.name} needs ${L.size}`);
  }
  strict.write(viewOf(buf), offset, value, L.name);
  return L.size;
}

function firstMissing(L: AggregateLayout, length: number): FieldLayout | undefined {
  return L.fields.find((f) => f.offset + f.size > length);
}

/**
 * Decodes a whole buffer into a C-field value. Strict decoding with a literal type name returns the
 * generated interface (`DecodedTypes`): `xen_dm_op` is a union on `op`, so narrowing on it reaches the
 * member (`if (v.op === XEN_DMOP_nr_vcpus) v.u.nr_vcpus.vcpus`; `v.u.nr_vcpus?.vcpus` otherwise).
 */
export function decode<K extends TypeName>(type: K, bytes: Uint8Array, opts?: CodecOptions & { mode?: "strict" }): DecodedTypes[K];
export function decode(type: TypeName, bytes: Uint8Array, opts: DecodeOptions & { mode: "hypervisor" }): CValue;
export function decode<T extends string>(type: Untyped<T>, bytes: Uint8Array, opts?: DecodeOptions): CValue;
export function decode(type: string, bytes: Uint8Array, opts?: DecodeOptions): CValue {
  const { L, strict } = entry(type, opts?.arch);
  if (opts?.mode === "hypervisor") {
    const v = viewOf(bytes);
    if (L.name === "xen_dm_op") return decodeDmOpAsXen(L, bytes, opts.arch ?? DEFAULT_ARCH);
    if (bytes.length < L.size) truncated(L, bytes.length);
    return compiled(L, false).read(v, 0, L.name);
  }
  if (bytes.length !== L.size) {
    if (bytes.length < L.size) truncated(L, bytes.length);
    throw new CodecError("trailing", L.name, L.size, `${bytes.length - L.size} byte(s) after the end of ${L.name} (${L.size} bytes)`);
  }
  return strict.read(viewOf(bytes), 0, L.name);
}

function truncated(L: AggregateLayout, length: number): never {
  const f = firstMissing(L, length);
  throw new CodecError("truncated", f !== undefined ? `${L.name}.${f.name}` : L.name, f?.offset ?? length, `the buffer ends at ${length} bytes; ${L.name} needs ${L.size}`);
}

/** Buffer 0 as Xen reads it: the header, then op_size[op] payload bytes if present. */
function decodeDmOpAsXen(L: AggregateLayout, bytes: Uint8Array, arch: Arch): CValue {
  if (bytes.length < 8) truncated(L, bytes.length);
  const v = viewOf(bytes);
  const o = 0;
  const op = v.getUint32(o, true);
  const pad = v.getUint32(o + 4, true);
  const m = op < dmOpMembers.length ? dmOpMembers[op] : undefined;
  if (m === undefined) return { op, pad, u: {} };
  const P = layoutOf(m.type, { arch });
  if (bytes.length < 8 + P.size) return { op, pad, u: {} };
  return { op, pad, u: { [m.member]: compiled(P, false).read(v, o + 8, `xen_dm_op.u.${m.member}`) } };
}

/** The compiled fast path for one type. `checkPads: false` reads declared pads without refusing them. */
export function getCodec(type: string, opts: CodecOptions & { checkPads?: boolean } = {}): StructCodec {
  const L = layoutOf(type, opts);
  const c: Compiled = compiled(L, opts.checkPads !== false);
  const name = L.name;
  const size = L.size;
  const fits = (view: DataView, offset: number): void => {
    if (!Number.isSafeInteger(offset)) throw new CodecError("bad-offset", name, 0, `offset ${String(offset)} is not an integer byte offset`);
    if (offset < 0 || offset + size > view.byteLength) {
      throw new CodecError("truncated", name, offset, `${view.byteLength - offset} bytes available at offset ${offset}, ${name} needs ${size}`);
    }
  };
  return {
    name,
    size,
    align: L.align,
    read(view: DataView, offset: number): CValue {
      fits(view, offset);
      return c.read(view, offset, name);
    },
    write(view: DataView, offset: number, value: unknown): void {
      fits(view, offset);
      c.write(view, offset, value, name);
    },
  };
}

function layoutType(L: AggregateLayout): LayoutType {
  return {
    name: L.name,
    size: L.size,
    align: L.align,
    fields: L.fields.map((f) => ({
      name: f.name,
      offset: f.offset,
      size: f.size,
      ...(f.bitOffset !== undefined ? { bit_offset: f.bitOffset, bit_width: f.bitWidth! } : {}),
    })),
  };
}

/**
 * The aggregates in the order the headers declare them, as the C probe lists them: the guest handle
 * (xen.h) first, then each type followed by the anonymous aggregates declared inside it (`xen_dm_op.u`).
 */
function headerOrder(arch: Arch): AggregateLayout[] {
  const all = allTypes(arch).map((d) => resolve(d, arch));
  const anonymous = (L: AggregateLayout): boolean => L.name.includes(".");
  const out = all.filter((L) => L.name.startsWith("__guest_handle"));
  for (const L of all) {
    if (anonymous(L) || out.includes(L)) continue;
    out.push(L, ...all.filter((x) => anonymous(x) && x.name.startsWith(`${L.name}.`)));
  }
  return [...out, ...all.filter((L) => !out.includes(L))];
}

/** Every aggregate of the ABI, resolved, in header order (`xendm layout`). */
export function layoutsOf(opts: CodecOptions = {}): AggregateLayout[] {
  return headerOrder(checkArch(opts.arch));
}

/**
 * Sizes, offsets and bit positions in the same shape and type order the C probe prints
 * (fixtures/layouts/<arch>.json): `bit_offset` counts from the start of the aggregate.
 */
export function layout(type?: string, opts: CodecOptions = {}): LayoutJson {
  const arch = checkArch(opts.arch);
  const types = type === undefined ? headerOrder(arch).map(layoutType) : [layoutType(layoutOf(type, { arch }))];
  return { arch, types, constants: { ...constants(arch) } };
}

/** 64-bit values as decimal strings: a JSON-safe copy of a decoded value (the convention of ./json.ts). */
export function toJson(value: CField): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, toJson(x)]));
  return value;
}

/**
 * An annotated dump, one line per field (offset, raw bytes, C path, value, meaning). When the bytes do
 * not decode strictly, the line holding the offending byte carries the error.
 */
export function dump(type: string, bytes: Uint8Array, opts: CodecOptions = {}): DumpLine[] {
  const L = layoutOf(type, opts);
  let err: CodecError | undefined;
  try {
    decode(type, bytes, opts);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    err = e;
  }
  return dumpLayout(L, bytes, err);
}

export { formatDump, meaningOf, type DumpLine } from "./dump.js";
export type * from "./types.generated.js";
export type { IntIn, Only, OneOf } from "./typed.js";
export { jsonReplacer, stringifyJson } from "./json.js";
export { holesOf, holeText, type Hole } from "./holes.js";
export { formatLayout } from "./layout-text.js";
