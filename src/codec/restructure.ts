// The ABI declarations as `restructure` types: the reflective, composable form of every layout (Struct,
// Array, Reserved from restructure; small types added for what it lacks: little-endian 64-bit bigints,
// GCC bitfields sharing storage units with other fields, fixed-size unions with tail padding, explicit
// compiler padding). Built from the same declarations as the compiled codec, and tested to agree with it
// byte for byte. The compiled codec adds strict checking and is the fast path.

import * as r from "restructure";
import type { AggregateLayout, FieldLayout, IntLayout } from "../../abi/ctypes.js";

type Parent = Record<string, unknown>;

/** The stream restructure types read and write (its DecodeStream / EncodeStream, as far as xendm needs). */
export interface RStream {
  buffer: Uint8Array;
  view: DataView;
  pos: number;
}

/** A restructure type (restructure 3 ships no declarations; this is the shape its types have). */
export interface RType<T = unknown> {
  size(value?: T | null, parent?: unknown): number;
  decode(stream: RStream, parent?: unknown): T;
  encode(stream: RStream, value: T, parent?: unknown): void;
}

/** uint64 little-endian as bigint (restructure has no 64-bit integers). */
export const uint64le: RType<bigint> = {
  size: () => 8,
  decode(stream) {
    const v = stream.view.getBigUint64(stream.pos, true);
    stream.pos += 8;
    return v;
  },
  encode(stream, value) {
    stream.view.setBigUint64(stream.pos, value, true);
    stream.pos += 8;
  },
};

const INT: Record<1 | 2 | 4 | 8, r.RType<number> | r.RType<bigint>> = { 1: r.uint8, 2: r.uint16le, 4: r.uint32le, 8: uint64le };

/**
 * A run of bitfields living in bytes [from, to) of their struct, read and written as one little-endian
 * unit. Decoding sets each field on the parent; encoding reads the siblings from the value being encoded.
 */
class BitfieldRun implements r.RType<undefined> {
  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly fields: readonly FieldLayout[],
  ) {}
  size(): number {
    return this.to - this.from;
  }
  decode(stream: r.DecodeStream, parent?: unknown): undefined {
    let unit = 0;
    for (let i = this.to - 1; i >= this.from; i--) unit = unit * 256 + (stream.buffer[stream.pos + i - this.from] ?? 0);
    for (const f of this.fields) (parent as Parent)[f.name] = Math.floor(unit / 2 ** (f.bitOffset! - this.from * 8)) % 2 ** f.bitWidth!;
    stream.pos += this.size();
    return undefined;
  }
  encode(stream: r.EncodeStream, _value: unknown, ctx?: unknown): void {
    const val = (ctx as { val: Parent }).val;
    let unit = 0;
    for (const f of this.fields) unit += (Number(val[f.name] ?? 0) % 2 ** f.bitWidth!) * 2 ** (f.bitOffset! - this.from * 8);
    for (let i = this.from; i < this.to; i++) {
      stream.buffer[stream.pos++] = unit % 256;
      unit = Math.floor(unit / 256);
    }
  }
}

/** A fixed-size union: one member (picked by a sibling selector, or the given member), then tail padding. */
class FixedUnion implements r.RType<Parent> {
  constructor(
    private readonly L: AggregateLayout,
    private readonly members: ReadonlyMap<string, r.RType>,
    private readonly select: FieldLayout["select"],
  ) {}
  private member(parent: unknown, value: Parent | undefined): string | undefined {
    if (this.select !== undefined) {
      const sel = Number((parent as Parent | undefined)?.[this.select.by] ?? (parent as { val?: Parent } | undefined)?.val?.[this.select.by]);
      return this.select.members[sel];
    }
    if (value !== undefined) return Object.keys(value)[0];
    return this.L.decodeAs ?? this.L.fields.find((f) => f.size === this.L.size)?.name ?? this.L.fields[0]?.name;
  }
  size(): number {
    return this.L.size;
  }
  decode(stream: r.DecodeStream, parent?: unknown): Parent {
    const start = stream.pos;
    const name = this.member(parent, undefined);
    const out: Parent = {};
    const t = name !== undefined ? this.members.get(name) : undefined;
    if (name !== undefined && t !== undefined) out[name] = t.decode(stream, parent);
    stream.pos = start + this.L.size;
    return out;
  }
  encode(stream: r.EncodeStream, value: Parent | undefined, ctx?: unknown): void {
    const start = stream.pos;
    const name = this.member(ctx, value);
    const t = name !== undefined ? this.members.get(name) : undefined;
    if (name !== undefined && t !== undefined) t.encode(stream, value?.[name] ?? {}, ctx);
    stream.fill(0, start + this.L.size - stream.pos);
  }
}

/** restructure's Struct fills missing fields with nothing: C fields left out encode as zero. */
class CStruct extends r.Struct {
  constructor(
    fields: Record<string, r.RType>,
    private readonly zeroes: Record<string, unknown>,
  ) {
    super(fields);
  }
  override encode(stream: r.EncodeStream, value: Record<string, unknown>, parent?: unknown): void {
    super.encode(stream, { ...this.zeroes, ...value }, parent);
  }
  override size(value?: Record<string, unknown> | null, parent?: unknown): number {
    return super.size({ ...this.zeroes, ...(value ?? {}) }, parent);
  }
}

function intType(t: IntLayout): r.RType {
  return INT[t.size];
}

function fieldType(f: FieldLayout): r.RType {
  const t = f.type;
  const one = t.kind === "int" ? intType(t) : restructureType(t);
  return f.count !== undefined ? (new r.Array(one, f.count)) : one;
}

const built = new WeakMap<AggregateLayout, r.RType>();

/** The restructure type for a resolved layout (cached). */
export function restructureType(L: AggregateLayout): RType {
  const hit = built.get(L);
  if (hit !== undefined) return hit;
  let out: r.RType;
  if (L.kind === "union") {
    out = new FixedUnion(L, new Map(L.fields.map((f) => [f.name, fieldType(f)])), undefined);
  } else {
    const fields: Record<string, r.RType> = {};
    const zeroes: Record<string, unknown> = {};
    let pos = 0;
    let gap = 0;
    const fl = L.fields;
    for (let i = 0; i < fl.length; i++) {
      const f = fl[i]!;
      if (f.bitWidth !== undefined) {
        // a maximal run of bitfields, possibly sharing the unit of a preceding byte field
        const run = [f];
        while (fl[i + 1]?.bitWidth !== undefined) run.push(fl[++i]!);
        const from = Math.max(pos, Math.floor(f.bitOffset! / 8));
        const last = run[run.length - 1]!;
        const to = Math.ceil((last.bitOffset! + last.bitWidth!) / 8);
        if (from > pos) fields[`(padding ${gap++})`] = new r.Reserved(r.uint8, from - pos);
        fields[`(bits ${from})`] = new BitfieldRun(from, to, run);
        for (const b of run) zeroes[b.name] = 0;
        pos = to;
        continue;
      }
      if (f.offset > pos) fields[`(padding ${gap++})`] = new r.Reserved(r.uint8, f.offset - pos);
      const ft = f.type;
      if (ft.kind === "union") {
        fields[f.name] = new FixedUnion(ft, new Map(ft.fields.map((m) => [m.name, fieldType(m)])), f.select);
        zeroes[f.name] = {};
      } else {
        fields[f.name] = fieldType(f);
        zeroes[f.name] =
          ft.kind === "int"
            ? f.count !== undefined
              ? new Array<number | bigint>(f.count).fill(ft.size === 8 ? 0n : 0)
              : ft.size === 8
                ? 0n
                : 0
            : f.count !== undefined
              ? Array.from({ length: f.count }, () => ({}))
              : {};
      }
      pos = f.offset + f.size;
    }
    if (L.size > pos) fields[`(padding ${gap})`] = new r.Reserved(r.uint8, L.size - pos);
    out = new CStruct(fields, zeroes);
  }
  built.set(L, out);
  return out;
}

/** Decodes with the restructure form (no strictness: the reflective reference path). */
export function restructureDecode(L: AggregateLayout, bytes: Uint8Array): Record<string, unknown> {
  const t = restructureType(L);
  return t.decode(new r.DecodeStream(bytes)) as Record<string, unknown>;
}

/** Encodes with the restructure form. */
export function restructureEncode(L: AggregateLayout, value: unknown): Uint8Array {
  const t = restructureType(L);
  const out = new Uint8Array(L.size);
  t.encode(new r.EncodeStream(out), value);
  return out;
}
