// Buffer 0 of every call: the 32-byte struct xen_dm_op, filled and read through the codec.
import { XEN_DMOP_OPS, dmOpMembers } from "../../abi/xen/dm_op.js";
import { getCodec, type StructCodec } from "../codec/index.js";

/** sizeof(struct xen_dm_op): the library always sends the whole struct. */
export const XEN_DM_OP_SIZE = 32;
/** sizeof(struct xen_dm_op_modified_memory_extent) */
export const EXTENT_SIZE = 16;

export type FieldValue = number | bigint;
export type OpName = keyof typeof XEN_DMOP_OPS extends `XEN_DMOP_${infer N}` ? N : never;

let extentCodec: StructCodec | undefined;

/** What fillOp / readOp need of one op, looked up once per op name. */
interface OpWire {
  op: number;
  member: string;
  /** The union member's struct, at offset 8 of struct xen_dm_op. */
  codec: StructCodec;
}
const OP_HEADER = 8;
const wires = new Map<OpName, OpWire>();
function wire(name: OpName): OpWire {
  let w = wires.get(name);
  if (w === undefined) {
    const op = XEN_DMOP_OPS[`XEN_DMOP_${name}`];
    const m = dmOpMembers[op]!;
    w = { op, member: m.member, codec: getCodec(m.type) };
    wires.set(name, w);
  }
  return w;
}

/**
 * Buffer 0 of each call is a 32-byte view into a shared zeroed slab, each slot used once: a fresh
 * small ArrayBuffer per call (what `new Uint8Array(32).buffer` makes) costs far more than the call.
 */
const SLAB_SIZE = 64 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabView = new DataView(slab);
let slabUsed = 0;

/** memset(&op, 0, sizeof(op)); op.op = XEN_DMOP_<name>; op.u.<member> = fields. */
export function fillOp(name: OpName, fields: Readonly<Record<string, FieldValue>>): Uint8Array {
  const w = wire(name);
  if (slabUsed + XEN_DM_OP_SIZE > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabView = new DataView(slab);
    slabUsed = 0;
  }
  const off = slabUsed;
  slabUsed += XEN_DM_OP_SIZE; // the slot is spent even if the codec throws half-way
  slabView.setUint32(off, w.op, true); // op; pad stays 0
  w.codec.write(slabView, off + OP_HEADER, fields);
  return new Uint8Array(slab, off, XEN_DM_OP_SIZE);
}

/** Reads the union member's fields of buffer 0 after the call. */
export function readOp(name: OpName, buf: Uint8Array): Readonly<Record<string, unknown>> {
  const w = wire(name);
  const m = w.codec.read(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), OP_HEADER) as unknown;
  if (typeof m !== "object" || m === null) throw new Error(`xen_dm_op codec returned no member '${w.member}'`);
  return m as Record<string, unknown>;
}

export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new Error(`expected an integer field, got ${typeof v}`);
}

export function big(v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(v);
  throw new Error(`expected an integer field, got ${typeof v}`);
}

export interface ModifiedMemoryExtent {
  first_pfn: FieldValue;
  nr: number;
  /** The pad as the caller's array holds it (sent unchanged; Xen refuses non-zero). */
  pad?: number;
}

/** Lays out a caller's array of struct xen_dm_op_modified_memory_extent, pads as given. */
export function extentsBytes(extents: readonly ModifiedMemoryExtent[]): Uint8Array {
  extentCodec ??= getCodec("xen_dm_op_modified_memory_extent", { checkPads: false });
  const out = new Uint8Array(extents.length * EXTENT_SIZE);
  const view = new DataView(out.buffer);
  extents.forEach((e, i) => {
    extentCodec!.write(view, i * EXTENT_SIZE, { nr: e.nr, pad: e.pad ?? 0, first_pfn: e.first_pfn });
  });
  return out;
}
