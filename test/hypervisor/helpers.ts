// Test helpers: worlds and DMOP buffer builders.
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import type { P2m } from "../../src/hypervisor/p2m.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import { payloadCodec } from "../../src/hypervisor/ops/payload.js";
import type { Payload } from "../../src/hypervisor/ops/payload.js";

export function makeHv(world: WorldConfig = { domains: [{ domid: 1 }] }): Hypervisor {
  return new Hypervisor(world);
}

export function p2mOf(hv: Hypervisor, domid = 1): P2m {
  return hv.domain(domid)!.p2m;
}

/** Buffer 0 for op `op` with the payload's C fields; `size` defaults to 32 (sizeof(struct xen_dm_op)). */
export function dmop(op: number, payload: Payload = {}, opts: { size?: number; pad?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(opts.size ?? 32);
  const view = new DataView(bytes.buffer);
  if (bytes.length >= 4) view.setUint32(0, op, true);
  if (bytes.length >= 8) view.setUint32(4, opts.pad ?? 0, true);
  const m = dmOpMembers[op];
  if (m && bytes.length >= 32) payloadCodec(m.type).write(view, 8, payload);
  return bytes;
}

/** Reads buffer 0's payload back as C fields. */
export function out(op: number, bytes: Uint8Array): Payload {
  const m = dmOpMembers[op]!;
  return payloadCodec(m.type).read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 8);
}

/** One dm_op with a single buffer; returns rc and the buffer. */
export function call(hv: Hypervisor, op: number, payload: Payload = {}, o: { caller?: number; domid?: number; size?: number; pad?: number } = {}): { rc: number; buf: Uint8Array } {
  const buf = dmop(op, payload, o);
  const rc = hv.dm_op(o.caller ?? 0, o.domid ?? 1, [{ bytes: buf }]);
  return { rc, buf };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
