// Compiled readers/writers for DMOP payload structs, derived from the ABI layouts (abi/xen/dm_op.ts).
// Payload objects use the C field names: number for <= 32-bit fields, bigint for 64-bit, number[] for arrays.
import { findType, resolve } from "../../../abi/index.js";
import type { Arch as AbiArch, FieldLayout } from "../../../abi/index.js";

export type PayloadValue = number | bigint | number[];
export type Payload = Record<string, PayloadValue>;

export interface PayloadCodec {
  readonly name: string;
  readonly size: number;
  read(view: DataView, offset: number): Payload;
  write(view: DataView, offset: number, value: Payload): void;
}

type Reader = (v: DataView, o: number) => number | bigint;
type Writer = (v: DataView, o: number, x: number | bigint) => void;

const readers: Record<number, Reader> = {
  1: (v, o) => v.getUint8(o),
  2: (v, o) => v.getUint16(o, true),
  4: (v, o) => v.getUint32(o, true),
  8: (v, o) => v.getBigUint64(o, true),
};
const writers: Record<number, Writer> = {
  1: (v, o, x) => { v.setUint8(o, Number(x)); },
  2: (v, o, x) => { v.setUint16(o, Number(x), true); },
  4: (v, o, x) => { v.setUint32(o, Number(x), true); },
  8: (v, o, x) => { v.setBigUint64(o, BigInt.asUintN(64, BigInt(x)), true); },
};

interface FlatField {
  name: string;
  offset: number;
  elem: number;
  count: number | undefined;
}

function flatten(fields: readonly FieldLayout[], type: string): FlatField[] {
  return fields.map((f) => {
    if (f.type.kind !== "int" || f.bitWidth !== undefined) throw new Error(`${type}.${f.name}: payload fields must be plain integers`);
    return { name: f.name, offset: f.offset, elem: f.type.size, count: f.count };
  });
}

const cache = new Map<string, PayloadCodec>();

/** The payload codec of a dm_op.h struct (by tag) for a caller ABI. */
export function payloadCodec(type: string, arch: AbiArch = "x86_64"): PayloadCodec {
  const key = `${arch}\0${type}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const decl = findType(type, arch);
  if (!decl) throw new Error(`unknown ABI type ${type}`);
  const layout = resolve(decl, arch);
  const fields = flatten(layout.fields, type);
  const codec: PayloadCodec = {
    name: type,
    size: layout.size,
    read(view, offset) {
      const out: Payload = {};
      for (const f of fields) {
        const r = readers[f.elem]!;
        if (f.count === undefined) out[f.name] = r(view, offset + f.offset);
        else {
          const a: number[] = [];
          for (let i = 0; i < f.count; i++) a.push(Number(r(view, offset + f.offset + i * f.elem)));
          out[f.name] = a;
        }
      }
      return out;
    },
    write(view, offset, value) {
      for (const f of fields) {
        const w = writers[f.elem]!;
        const x = value[f.name] ?? 0;
        if (f.count === undefined) w(view, offset + f.offset, Array.isArray(x) ? 0 : x);
        else for (let i = 0; i < f.count; i++) w(view, offset + f.offset + i * f.elem, Array.isArray(x) ? (x[i] ?? 0) : 0);
      }
    },
  };
  cache.set(key, codec);
  return codec;
}

/** Size of struct xen_dm_op (the whole-struct copy of the 4.9 dispatcher). */
export function xenDmOpSize(arch: AbiArch = "x86_64"): number {
  const decl = findType("xen_dm_op", arch);
  if (!decl) throw new Error("xen_dm_op missing from the ABI");
  return resolve(decl, arch).size;
}
