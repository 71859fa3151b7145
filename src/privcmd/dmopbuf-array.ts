// The xen_dm_op_buf descriptor array a raw HYPERVISOR_dm_op call points at, in the caller's ABI.
// Layouts (docs/privcmd.md): x86_64/arm64 16 bytes {h u64, size u64}; arm32 16 bytes {h u32 in a u64
// union, size u64 at 8}; i386 8 bytes {h u32, size u32}.
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

const LAYOUTS: Readonly<Record<CallerAbi, DescLayout>> = {
  x86_64: { size: 16, hOffset: 0, hBytes: 8, sizeOffset: 8, sizeBytes: 8 },
  arm64: { size: 16, hOffset: 0, hBytes: 8, sizeOffset: 8, sizeBytes: 8 },
  arm32: { size: 16, hOffset: 0, hBytes: 4, sizeOffset: 8, sizeBytes: 8 },
  i386: { size: 8, hOffset: 0, hBytes: 4, sizeOffset: 4, sizeBytes: 4 },
};

export function xenDmOpBufSize(abi: CallerAbi): number {
  return LAYOUTS[abi].size;
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
  const l = LAYOUTS[abi];
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
  const l = LAYOUTS[abi];
  const bytes = new Uint8Array(descs.length * l.size);
  const view = new DataView(bytes.buffer);
  descs.forEach((d, i) => {
    writeU(view, i * l.size + l.hOffset, l.hBytes, d.h, `[${i}].h`);
    writeU(view, i * l.size + l.sizeOffset, l.sizeBytes, d.size, `[${i}].size`);
  });
  return bytes;
}
