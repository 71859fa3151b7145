// The xen_dm_op_buf descriptor array a raw HYPERVISOR_dm_op call points at, in the caller's ABI, laid
// out as the codec's `xen_dm_op_buf` (from the real headers): x86_64/arm64/arm32 16 bytes {h 8, size 8}
// (arm32's h is a union of the 32-bit pointer and a u64, read whole as Xen reads it); i386 8 bytes
// {h 4, size 4}.
import { layout } from "../codec/index.js";
import type { CallerAbi } from "./types.js";

export interface XenDmOpBufDesc {
  h: bigint;
  size: bigint;
}

interface DescLayout {
  size: number;
  hOffset: number;
  hBytes: 4 | 8;
  sizeOffset: number;
  sizeBytes: 4 | 8;
}

const cache = new Map<CallerAbi, DescLayout>();

function descLayout(abi: CallerAbi): DescLayout {
  let l = cache.get(abi);
  if (l !== undefined) return l;
  const t = layout("xen_dm_op_buf", { arch: abi }).types.find((x) => x.name === "xen_dm_op_buf");
  const h = t?.fields.find((f) => f.name === "h");
  const sz = t?.fields.find((f) => f.name === "size");
  const width = (n: number | undefined, what: string): 4 | 8 => {
    if (n === 4 || n === 8) return n;
    throw new Error(`codec layout of xen_dm_op_buf.${what} on ${abi}: unexpected size ${String(n)}`);
  };
  if (t === undefined || h === undefined || sz === undefined) throw new Error(`codec has no xen_dm_op_buf layout for ${abi}`);
  l = { size: t.size, hOffset: h.offset, hBytes: width(h.size, "h"), sizeOffset: sz.offset, sizeBytes: width(sz.size, "size") };
  cache.set(abi, l);
  return l;
}

export function xenDmOpBufSize(abi: CallerAbi): number {
  return descLayout(abi).size;
}

function readU(view: DataView, off: number, bytes: 4 | 8): bigint {
  return bytes === 8 ? view.getBigUint64(off, true) : BigInt(view.getUint32(off, true));
}

function writeU(view: DataView, off: number, bytes: 4 | 8, v: bigint, field: string): void {
  const max = bytes === 8 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
  if (v < 0n || v > max) throw new RangeError(`xen_dm_op_buf.${field}: ${v} does not fit in ${bytes * 8} bits`);
  if (bytes === 8) view.setBigUint64(off, v, true);
  else view.setUint32(off, Number(v), true);
}

/** Decodes `nr` descriptors from `bytes` (which must hold at least nr × descriptor size bytes). */
export function decodeXenDmOpBufs(bytes: Uint8Array, nr: number, abi: CallerAbi): XenDmOpBufDesc[] {
  const l = descLayout(abi);
  if (bytes.length < nr * l.size) {
    throw new RangeError(`xen_dm_op_buf[${nr}]: needs ${nr * l.size} bytes, have ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: XenDmOpBufDesc[] = [];
  for (let i = 0; i < nr; i++) {
    const base = i * l.size;
    out.push({ h: readU(view, base + l.hOffset, l.hBytes), size: readU(view, base + l.sizeOffset, l.sizeBytes) });
  }
  return out;
}

/** Encodes descriptors in the caller's ABI (the inverse of decodeXenDmOpBufs). */
export function encodeXenDmOpBufs(descs: readonly XenDmOpBufDesc[], abi: CallerAbi): Uint8Array {
  const l = descLayout(abi);
  const bytes = new Uint8Array(descs.length * l.size);
  const view = new DataView(bytes.buffer);
  descs.forEach((d, i) => {
    writeU(view, i * l.size + l.hOffset, l.hBytes, d.h, `[${i}].h`);
    writeU(view, i * l.size + l.sizeOffset, l.sizeBytes, d.size, `[${i}].size`);
  });
  return bytes;
}
