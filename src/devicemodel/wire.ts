// Buffer 0 of every call: the 32-byte struct xen_dm_op, filled and read through the codec.
import { XEN_DMOP_OPS, dmOpMembers } from "../../abi/xen/dm_op.js";
import { getCodec, type StructCodec } from "../codec/index.js";

/** sizeof(struct xen_dm_op): the library always sends the whole struct. */
export const XEN_DM_OP_SIZE = 32;
/** sizeof(struct xen_dm_op_modified_memory_extent) */
export const EXTENT_SIZE = 16;

export type FieldValue = number | bigint;
export type OpName = keyof typeof XEN_DMOP_OPS extends `XEN_DMOP_${infer N}` ? N : never;

let dmOpCodec: StructCodec | undefined;
let extentCodec: StructCodec | undefined;
function codec(): StructCodec {
  dmOpCodec ??= getCodec("xen_dm_op");
  return dmOpCodec;
}

/** memset(&op, 0, sizeof(op)); op.op = XEN_DMOP_<name>; op.u.<member> = fields. */
export function fillOp(name: OpName, fields: Readonly<Record<string, FieldValue>>): Uint8Array {
  const op = XEN_DMOP_OPS[`XEN_DMOP_${name}`];
  const member = dmOpMembers[op]!.member;
  const buf = new Uint8Array(XEN_DM_OP_SIZE);
  codec().write(new DataView(buf.buffer), 0, { op, u: { [member]: fields } });
  return buf;
}

/** Reads the union member's fields of buffer 0 after the call. */
export function readOp(name: OpName, buf: Uint8Array): Readonly<Record<string, unknown>> {
  const op = XEN_DMOP_OPS[`XEN_DMOP_${name}`];
  const member = dmOpMembers[op]!.member;
  const v = codec().read(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0) as { u?: Record<string, unknown> };
  const m = v.u?.[member];
  if (typeof m !== "object" || m === null) throw new Error(`xen_dm_op codec returned no member '${member}'`);
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
