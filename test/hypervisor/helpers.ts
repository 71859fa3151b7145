// Test helpers: a small stand-in p2m (until the real one is wired) and DMOP buffer builders.
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import type { P2mApi } from "../../src/hypervisor/domain.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import { payloadCodec } from "../../src/hypervisor/ops/payload.js";
import type { Payload } from "../../src/hypervisor/ops/payload.js";

const RAM_RW = 0, MMIO_DM = 4, IOREQ = 15;

/** Minimal p2m: per-gfn types, claim, entry_count and a lazy reset after disclaim. */
export class TestP2m implements P2mApi {
  readonly types = new Map<number, number>();
  maxMappedPfn = 0;
  entryCount = 0;
  server: number | null = null;
  flags = 0;
  resetPending = false;

  constructor(init: { ram: [number, number][] }) {
    for (const [a, b] of init.ram) {
      for (let g = a; g <= b; g++) this.types.set(g, RAM_RW);
      this.maxMappedPfn = Math.max(this.maxMappedPfn, b);
    }
  }
  typeOf(gfn: number): number {
    const t = this.types.get(gfn) ?? MMIO_DM;
    return t === IOREQ && this.resetPending ? RAM_RW : t;
  }
  setType(first: number, last: number, t: number): void {
    for (let g = first; g <= last; g++) {
      const old = this.types.get(g);
      if (old === IOREQ && t !== IOREQ) this.entryCount--;
      if (old !== IOREQ && t === IOREQ) this.entryCount++;
      if (t === 1) this.types.delete(g);
      else this.types.set(g, t);
    }
  }
  ioreqClaim(): { server: number | null; flags: number } {
    return { server: this.server, flags: this.flags };
  }
  setIoreqServer(server: number, flags: number): number {
    if (flags === 0) {
      if (this.server !== server) return -22;
      this.server = null;
      this.flags = 0;
      if (this.entryCount !== 0) this.resetPending = true;
      return 0;
    }
    if (this.server !== null || this.entryCount !== 0) return -16;
    this.server = server;
    this.flags = flags;
    return 0;
  }
  finishTypeChange(firstGfn: number, count: number): number {
    this.sweeps.push(firstGfn);
    if (!this.resetPending) return 0;
    for (let g = firstGfn; g < firstGfn + count && g <= this.maxMappedPfn; g++) {
      if (this.types.get(g) === IOREQ) this.setType(g, g, RAM_RW);
    }
    if (this.entryCount === 0) this.resetPending = false;
    return 0;
  }
  readonly sweeps: number[] = [];
}

export function makeHv(world: WorldConfig = { domains: [{ domid: 1 }] }): Hypervisor {
  return new Hypervisor(world, { p2m: (init) => new TestP2m(init) });
}

export function p2mOf(hv: Hypervisor, domid = 1): TestP2m {
  return hv.domain(domid)!.p2m as TestP2m;
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
