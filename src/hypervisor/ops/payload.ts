// DMOP payload codecs: the compiled codec (src/codec) of each dm_op.h struct, reading declared pads
// without refusing them (the hypervisor checks pads itself, in Xen's order).
import { getCodec, sizeOf } from "../../codec/index.js";
import type { Arch as AbiArch, CValue } from "../../codec/index.js";

/** A payload as C fields: number for <= 32-bit fields, bigint for 64-bit, arrays for C arrays. */
export type Payload = CValue;

export interface PayloadCodec {
  readonly name: string;
  readonly size: number;
  read(view: DataView, offset: number): Payload;
  write(view: DataView, offset: number, value: Payload): void;
}

const cache = new Map<string, PayloadCodec>();

/** The payload codec of a dm_op.h struct (by tag) for a caller ABI. */
export function payloadCodec(type: string, arch: AbiArch = "x86_64"): PayloadCodec {
  const key = `${arch}\0${type}`;
  let c = cache.get(key);
  if (!c) {
    c = getCodec(type, { arch, checkPads: false });
    cache.set(key, c);
  }
  return c;
}

/** sizeof(struct xen_dm_op): what the 4.9 dispatcher copies in and out. */
export function xenDmOpSize(arch: AbiArch = "x86_64"): number {
  return sizeOf("xen_dm_op", { arch });
}
