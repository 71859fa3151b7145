// Byte offsets to C fields, from the codec's layouts: which field of struct xen_dm_op a byte of
// buffer 0 belongs to, and where `size` sits in each ABI's descriptor structs.
import type { AggregateLayout } from "../../abi/ctypes.js";
import type { Arch } from "../../abi/profiles.js";
import { layoutOf } from "../codec/index.js";
import { XEN_DM_OP_SIZE, memberOf } from "./infer.js";
import type { ConformPath } from "./types.js";

/** One field (or a run of padding) of a buffer: [offset, offset + size). */
export interface Span {
  path: string;
  offset: number;
  size: number;
  note?: string;
}

function leaves(L: AggregateLayout, base: number, path: string, out: Span[]): void {
  for (const f of L.fields) {
    const p = `${path}.${f.name}`;
    if (f.type.kind === "int") out.push({ path: p, offset: base + f.offset, size: f.size });
    else if (f.type.kind === "struct" && f.count === undefined) leaves(f.type, base + f.offset, p, out);
    else out.push({ path: p, offset: base + f.offset, size: f.size });
  }
}

const dmOpSpans = new Map<number, readonly Span[]>();

/** Every byte of the 32-byte struct xen_dm_op for `op`, as fields, padding and the union tail. */
export function xenDmOpSpans(op: number): readonly Span[] {
  let spans = dmOpSpans.get(op);
  if (spans !== undefined) return spans;
  const member = memberOf(op);
  const head = layoutOf("xen_dm_op");
  const fields: Span[] = [];
  for (const f of head.fields) if (f.type.kind === "int") fields.push({ path: `xen_dm_op.${f.name}`, offset: f.offset, size: f.size });
  const u = head.fields.find((f) => f.name === "u")!;
  const m = (u.type as AggregateLayout).fields.find((f) => f.name === member)!;
  leaves(m.type as AggregateLayout, u.offset, `xen_dm_op.u.${member}`, fields);
  fields.sort((a, b) => a.offset - b.offset);
  // Fill the gaps: compiler padding inside the member, then the union's bytes beyond it.
  const out: Span[] = [];
  let at = 0;
  const memberEnd = u.offset + m.size;
  for (const f of fields) {
    if (f.offset > at) out.push({ path: `xen_dm_op.u.${member}`, offset: at, size: f.offset - at, note: "padding the compiler inserts (the library zeroes it)" });
    out.push(f);
    at = f.offset + f.size;
  }
  if (at < memberEnd) out.push({ path: `xen_dm_op.u.${member}`, offset: at, size: memberEnd - at, note: "padding the compiler inserts (the library zeroes it)" });
  if (memberEnd < XEN_DM_OP_SIZE) {
    out.push({ path: "xen_dm_op.u", offset: memberEnd, size: XEN_DM_OP_SIZE - memberEnd, note: `beyond xen_dm_op.u.${member} (the library zeroes the whole struct)` });
  }
  spans = out;
  dmOpSpans.set(op, spans);
  return spans;
}

/** The descriptor struct of a path on an ABI, and where its fields are. */
export interface DescriptorLayout {
  type: "privcmd_dm_op_buf" | "xen_dm_op_buf";
  size: number;
  ptr: { name: string; offset: number; size: number };
  len: { offset: number; size: number };
}

const descs: Record<ConformPath, Partial<Record<Arch, DescriptorLayout>>> = { ioctl: {}, hypercall: {} };

export function descriptorLayout(path: ConformPath, abi: Arch): DescriptorLayout {
  const known = descs[path][abi];
  if (known !== undefined) return known;
  const type = path === "ioctl" ? "privcmd_dm_op_buf" : "xen_dm_op_buf";
  const L = layoutOf(type, { arch: abi });
  const [p, s] = L.fields as [AggregateLayout["fields"][0], AggregateLayout["fields"][0]];
  const d: DescriptorLayout = { type, size: L.size, ptr: { name: p.name, offset: p.offset, size: p.size }, len: { offset: s.offset, size: s.size } };
  descs[path][abi] = d;
  return d;
}

/** The descriptor array's C path for buffer i, e.g. "privcmd_dm_op_buf[1].size", and its byte offset in the array. */
export function sizeField(path: ConformPath, abi: Arch, i: number): { field: string; offset: number } {
  const d = descriptorLayout(path, abi);
  return { field: `${d.type}[${i}].size`, offset: i * d.size + d.len.offset };
}

/** Where the buffer count sits: privcmd_dm_op.num, or privcmd_hypercall.arg[1]. */
export function countField(path: ConformPath, abi: Arch): { field: string; offset: number } {
  return path === "ioctl" ? { field: "privcmd_dm_op.num", offset: fieldOffset("privcmd_dm_op", "num", abi) } : hypercallArg(1, abi);
}

/** privcmd_hypercall.arg[k] and its byte offset. */
export function hypercallArg(k: number, abi: Arch): { field: string; offset: number } {
  return { field: `privcmd_hypercall.arg[${k}]`, offset: fieldOffset("privcmd_hypercall", "arg", abi) + 8 * k };
}

const offsets = new Map<string, number>();
function fieldOffset(type: string, name: string, abi: Arch): number {
  const key = `${type}.${name}/${abi}`;
  let o = offsets.get(key);
  if (o === undefined) {
    o = layoutOf(type, { arch: abi }).fields.find((f) => f.name === name)!.offset;
    offsets.set(key, o);
  }
  return o;
}

/** The little-endian integer in bytes [offset, offset + size) of b (as far as b reaches). */
export function readLe(b: Uint8Array, offset: number, size: number): bigint {
  let v = 0n;
  for (let i = Math.min(size, b.length - offset) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[offset + i]!);
  return v;
}

/** Values below 10 in decimal, others in hex. */
export function show(v: bigint | number): string {
  const x = BigInt(v);
  return x < 10n ? x.toString() : `0x${x.toString(16)}`;
}

/** Sizes in decimal unless huge. */
export function showSize(v: bigint): string {
  return v <= 0x10_0000n ? v.toString() : `0x${v.toString(16)}`;
}
