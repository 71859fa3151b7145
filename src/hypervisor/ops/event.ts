// ops 13 inject_event, 14 inject_msi, 16 remote_shutdown, 18 pin_memory_cacheattr, 20 nr_vcpus.
import { done } from "../context.js";
import type { OpHandler } from "../context.js";
import { EBUSY, EINVAL, ENOENT, ENOSPC, EPERM } from "../explain.js";
import { hex } from "../ioreq-server.js";

export interface InjectEvent {
  vcpuid: number; vector: number; type: number; insn_len: number; pad0: number; error_code: number; pad1: number; cr2: bigint;
}
export interface InjectMsi { data: number; pad: number; addr: bigint }
export interface RemoteShutdown { reason: number }
export interface PinMemoryCacheattr { start: bigint; end: bigint; type: number; pad: number }
export interface NrVcpus { vcpus: number }

// mirrors hvm/dm.c:inject_event
export const injectEvent: OpHandler<InjectEvent> = (ctx, p) => {
  const fn = "hvm/dm.c:inject_event";
  if (p.pad0 !== 0 || p.pad1 !== 0) return done(ctx.refuse(EINVAL, "inject_event.pad0/pad1 must be zero", "hvm/dm.c:dm_op"));
  const v = p.vcpuid < ctx.d.maxVcpus ? ctx.d.vcpus[p.vcpuid] : undefined;
  if (!v) return done(ctx.refuse(EINVAL, `vcpuid ${p.vcpuid} >= max_vcpus ${ctx.d.maxVcpus}`, fn));
  if (v.pendingEvent) return done(ctx.refuse(EBUSY, `vCPU ${p.vcpuid} already has an event pending`, fn));
  v.pendingEvent = { vector: p.vector, type: p.type, insn_len: p.insn_len, error_code: p.error_code, cr2: p.cr2 };
  return done(0);
};

// mirrors hvm/irq.c:hvm_inject_msi + vmsi.c:vmsi_deliver
export const injectMsi: OpHandler<InjectMsi> = (ctx, p) => {
  if (p.pad !== 0) return done(ctx.refuse(EINVAL, "inject_msi.pad must be zero", "hvm/dm.c:dm_op"));
  const rc = ctx.d.irq.injectMsi(p.addr, p.data);
  if (rc !== 0) {
    const why = (p.data & 0xff) === 0
      ? rc === -16
        ? `vector 0: another pirq already holds IRQ_MSI_EMU, so no pirq_info exists for the pirq of addr ${hex(p.addr)}`
        : `vector 0: pirq from addr ${hex(p.addr)} is not usable`
      : `delivery mode ${(p.data >>> 8) & 7} has no target or is unsupported`;
    ctx.refuse(rc, why, (p.data & 0xff) === 0 ? "hvm/irq.c:hvm_inject_msi" : "hvm/vmsi.c:vmsi_deliver");
  }
  return done(rc);
};

// mirrors common/domain.c:domain_shutdown (reason is a u8; the first code sticks)
export const remoteShutdown: OpHandler<RemoteShutdown> = (ctx, p) => {
  const s = ctx.d.shutdown;
  if (s.code === null) s.code = p.reason & 0xff;
  return done(0);
};

const CACHEATTR_TYPES = new Set([0, 1, 4, 5, 6, 7]);
const UNCACHED_TYPES = new Set([0, 1, 7]);
const DELETE_MEM_CACHEATTR = 0xffffffff;

// mirrors hvm/mtrr.c:hvm_set_mem_pinned_cacheattr
export const pinMemoryCacheattr: OpHandler<PinMemoryCacheattr> = (ctx, p) => {
  const fn = "hvm/mtrr.c:hvm_set_mem_pinned_cacheattr";
  if (p.pad !== 0) return done(ctx.refuse(EINVAL, "pin_memory_cacheattr.pad must be zero", "hvm/dm.c:dm_op"));
  const d = ctx.d;
  if (p.end < p.start || (p.start | p.end) >> BigInt(d.paddrBits) !== 0n) {
    return done(ctx.refuse(EINVAL, `bad range [${hex(p.start)}, ${hex(p.end)}] (end < start or beyond paddr_bits ${d.paddrBits})`, fn));
  }
  const list = d.cacheattr;
  if (p.type === DELETE_MEM_CACHEATTR) {
    const i = list.findIndex((r) => r.start === p.start && r.end === p.end);
    if (i < 0) return done(ctx.refuse(ENOENT, `no pinned range [${hex(p.start)}, ${hex(p.end)}]`, fn));
    list.splice(i, 1);
    return done(0);
  }
  if (!CACHEATTR_TYPES.has(p.type)) return done(ctx.refuse(EINVAL, `type ${p.type} is not a PAT type`, fn));
  if (ctx.persona.cacheattrRestricted && UNCACHED_TYPES.has(p.type) && !d.iommu && !d.ioResources) {
    return done(ctx.refuse(EPERM, `type ${p.type} (UC/UC-/WC) needs an IOMMU or I/O resources`, fn));
  }
  let nr = 0;
  for (const r of list) {
    if (r.start === p.start && r.end === p.end) {
      r.type = p.type;
      return done(0);
    }
    if (r.start <= p.end && p.start <= r.end) {
      return done(ctx.refuse(EBUSY, `[${hex(p.start)}, ${hex(p.end)}] overlaps pinned [${hex(r.start)}, ${hex(r.end)}]`, fn));
    }
    nr++;
  }
  if (nr >= 64) return done(ctx.refuse(ENOSPC, "64 pinned ranges already", fn));
  list.unshift({ start: p.start, end: p.end, type: p.type });
  return done(0);
};

// mirrors hvm/dm.c:dm_op case XEN_DMOP_nr_vcpus
export const nrVcpus: OpHandler<NrVcpus> = (ctx, p) => {
  p.vcpus = ctx.d.maxVcpus;
  return done(0, false);
};
