// ops 8, 9, 10 (x86 interrupt lines) and 19 (Arm SPI level).
import { done } from "../context.js";
import type { OpHandler } from "../context.js";
import { EINVAL } from "../explain.js";

export interface SetPciIntxLevel { domain: number; bus: number; device: number; intx: number; level: number }
export interface SetIsaIrqLevel { isa_irq: number; level: number }
export interface SetPciLinkRoute { link: number; isa_irq: number }
export interface SetIrqLevel { irq: number; level: number; pad: number[] }

// mirrors hvm/dm.c:set_pci_intx_level
export const setPciIntxLevel: OpHandler<SetPciIntxLevel> = (ctx, p) => {
  const fn = "hvm/dm.c:set_pci_intx_level";
  if (p.domain !== 0 || p.bus !== 0 || p.device > 31 || p.intx > 3) {
    return done(ctx.refuse(EINVAL, `bad INTx address domain=${p.domain} bus=${p.bus} device=${p.device} intx=${p.intx}`, fn));
  }
  if (p.level === 0) ctx.d.irq.pciIntxDeassert(p.device, p.intx);
  else if (p.level === 1) ctx.d.irq.pciIntxAssert(p.device, p.intx);
  else return done(ctx.refuse(EINVAL, `level ${p.level} is not 0 or 1`, fn));
  return done(0);
};

// mirrors hvm/dm.c:set_isa_irq_level
export const setIsaIrqLevel: OpHandler<SetIsaIrqLevel> = (ctx, p) => {
  const fn = "hvm/dm.c:set_isa_irq_level";
  if (p.isa_irq > 15) return done(ctx.refuse(EINVAL, `isa_irq ${p.isa_irq} > 15`, fn));
  if (p.level > 1) return done(ctx.refuse(EINVAL, `level ${p.level} is not 0 or 1`, fn));
  ctx.d.irq.isaIrqSet(p.isa_irq, p.level === 1);
  return done(0);
};

// mirrors hvm/irq.c:hvm_set_pci_link_route
export const setPciLinkRoute: OpHandler<SetPciLinkRoute> = (ctx, p) => {
  if (p.link > 3 || p.isa_irq > 15) {
    return done(ctx.refuse(EINVAL, `link ${p.link} > 3 or isa_irq ${p.isa_irq} > 15`, "hvm/irq.c:hvm_set_pci_link_route"));
  }
  ctx.d.irq.setLinkRoute(p.link, p.isa_irq);
  return done(0);
};

// mirrors arm/dm.c:dm_op case XEN_DMOP_set_irq_level (4.17 ignores a bad pad: the break leaves only the pad loop)
export const setIrqLevel: OpHandler<SetIrqLevel> = (ctx, p) => {
  const fn = "arm/dm.c:dm_op";
  const vgic = ctx.d.vgic;
  if (p.irq < 32 || p.irq >= vgic.nrIrqs) return done(ctx.refuse(EINVAL, `irq ${p.irq} is not an SPI (32..${vgic.nrIrqs - 1})`, fn));
  if (p.level !== 0 && p.level !== 1) return done(ctx.refuse(EINVAL, `level ${p.level} is not 0 or 1`, fn));
  if (ctx.persona.armIrqPadEnforced && p.pad.some((x) => x !== 0)) {
    return done(ctx.refuse(EINVAL, "set_irq_level.pad must be zero", fn));
  }
  if (vgic.allocated.has(p.irq)) return done(ctx.refuse(EINVAL, `irq ${p.irq} is allocated (hardware or Xen)`, fn));
  vgic.levels.set(p.irq, p.level);
  return done(0);
};
