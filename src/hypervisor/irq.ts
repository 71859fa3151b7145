// Virtual interrupt state of one domain: PCI INTx, ISA IRQs, PCI links, GSIs, MSIs, injected events, Arm SPIs.
import { EBUSY, EINVAL, ERANGE, ESRCH } from "./explain.js";

export const NR_GSIS = 48;
export const NR_ISA_IRQS = 16;
export const NR_LINKS = 4;

/** mirrors irq.h:hvm_pci_intx_gsi */
export function pciIntxGsi(device: number, intx: number): number {
  return 16 + ((device * 4 + (device >> 3) + intx) & 31);
}
/** mirrors irq.h:hvm_pci_intx_link */
export function pciIntxLink(device: number, intx: number): number {
  return (device + intx) & 3;
}
/** mirrors irq.h:hvm_isa_irq_to_gsi */
export function isaIrqToGsi(isaIrq: number): number {
  return isaIrq === 0 ? 2 : isaIrq;
}

export interface MsiDelivery {
  vector: number;
  dest: number;
  destMode: number;
  deliveryMode: number;
  trigMode: number;
  /** vCPUs whose vLAPIC accepted the vector. */
  vcpus: number[];
}

/**
 * The vLAPIC state an MSI changes: IRR and TMR (256 bits each) and ESR's "receive illegal vector" bit.
 * mirrors vlapic.c:vlapic_set_irq
 */
export class VlapicIrqState {
  readonly irr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  esrRecvIllegal = false;

  /** vlapic_set_irq(vlapic, vec, trig) */
  setIrq(vec: number, trig: number): void {
    if (vec < 16) {
      this.esrRecvIllegal = true;
      return;
    }
    const w = vec >>> 5;
    const b = 1 << (vec & 31);
    if (trig !== 0) this.tmr[w]! |= b;
    else this.tmr[w]! &= ~b;
    this.irr[w]! |= b;
  }

  /** The vectors set in a 256-bit register, ascending. */
  static vectors(reg: Uint32Array): number[] {
    const out: number[] = [];
    for (let w = 0; w < 8; w++) for (let b = 0; b < 32; b++) if ((reg[w]! >>> b) & 1) out.push(w * 32 + b);
    return out;
  }
}

export class HvmIrq {
  /** One bit per (device, intx): index device*4 + intx. */
  readonly pciIntx = new Uint8Array(128);
  readonly isaIrq = new Uint8Array(NR_ISA_IRQS);
  readonly gsiAssertCount = new Uint32Array(NR_GSIS);
  readonly linkAssertCount = new Uint32Array(NR_LINKS);
  readonly linkRoute = new Uint8Array(NR_LINKS);
  /**
   * What delivered MSIs leave behind, as Xen keeps it: each vCPU's vLAPIC IRR/TMR bits (bounded by the
   * vCPUs and the 256 vectors), not a history.
   */
  readonly lapics: VlapicIrqState[];
  /** The last MSI delivered through a vLAPIC, decoded (one record, for explanations). */
  lastMsi: MsiDelivery | null = null;
  /** Emulated pirqs raised and not yet consumed (send_guest_pirq sets one pending bit per pirq). */
  readonly pirqsRaised = new Set<number>();
  /** pirq -> emuirq binding ("msi_emu" for MSIs injected by vector 0). */
  readonly pirqBinding = new Map<number, "msi_emu" | "other">();
  /** The pirq the emuirq -> pirq tree holds under IRQ_MSI_EMU (the first emulated MSI pirq), or null. */
  msiEmuPirq: number | null = null;
  private roundRobinPrev = 0;

  constructor(readonly nrVcpus: number, readonly nrPirqs: number, readonly pirqUnsigned = false) {
    this.lapics = [];
    for (let v = 0; v < nrVcpus; v++) this.lapics.push(new VlapicIrqState());
  }

  /** vmsi_inj_irq on each target, and the record of this delivery. */
  private deliver(m: MsiDelivery): void {
    for (const v of m.vcpus) this.lapics[v]?.setIrq(m.vector, m.trigMode);
    this.lastMsi = m;
  }

  gsiAsserted(gsi: number): boolean {
    return (this.gsiAssertCount[gsi] ?? 0) > 0;
  }

  // mirrors irq.c:__hvm_pci_intx_assert
  pciIntxAssert(device: number, intx: number): void {
    const bit = device * 4 + intx;
    if (this.pciIntx[bit]) return;
    this.pciIntx[bit] = 1;
    this.gsiAssertCount[pciIntxGsi(device, intx)]!++;
    const link = pciIntxLink(device, intx);
    const isa = this.linkRoute[link]!;
    if (this.linkAssertCount[link]!++ === 0 && isa !== 0) this.gsiAssertCount[isa]!++;
  }

  // mirrors irq.c:__hvm_pci_intx_deassert
  pciIntxDeassert(device: number, intx: number): void {
    const bit = device * 4 + intx;
    if (!this.pciIntx[bit]) return;
    this.pciIntx[bit] = 0;
    this.gsiAssertCount[pciIntxGsi(device, intx)]!--;
    const link = pciIntxLink(device, intx);
    const isa = this.linkRoute[link]!;
    if (--this.linkAssertCount[link]! === 0 && isa !== 0) this.gsiAssertCount[isa]!--;
  }

  // mirrors irq.c:hvm_isa_irq_assert / hvm_isa_irq_deassert
  isaIrqSet(isaIrq: number, level: boolean): void {
    const gsi = isaIrqToGsi(isaIrq);
    if (level) {
      if (!this.isaIrq[isaIrq]) {
        this.isaIrq[isaIrq] = 1;
        this.gsiAssertCount[gsi]!++;
      }
    } else if (this.isaIrq[isaIrq]) {
      this.isaIrq[isaIrq] = 0;
      this.gsiAssertCount[gsi]!--;
    }
  }

  // mirrors irq.c:hvm_set_pci_link_route (bounds checked by the caller)
  setLinkRoute(link: number, isaIrq: number): void {
    const old = this.linkRoute[link]!;
    if (old === isaIrq) return;
    this.linkRoute[link] = isaIrq;
    if (this.linkAssertCount[link] === 0) return;
    if (old !== 0) this.gsiAssertCount[old]!--;
    if (isaIrq !== 0) this.gsiAssertCount[isaIrq]!++;
  }

  /** xAPIC physical ID of a vCPU (Xen gives vCPU n the ID 2n). */
  private static apicId(vcpu: number): number {
    return (vcpu * 2) & 0xff;
  }

  // mirrors vlapic.c:vlapic_match_dest for a no-shorthand destination; LDR is 0 after reset
  private matchDest(vcpu: number, dest: number, destMode: number): boolean {
    if (destMode) return false;
    return dest === 0xff || dest === HvmIrq.apicId(vcpu);
  }

  // mirrors irq.c:hvm_inject_msi + vmsi.c:vmsi_deliver
  injectMsi(addr: bigint, data: number): number {
    const lo = Number(addr & 0xffffffffn);
    const dest = (lo >>> 12) & 0xff;
    const destMode = (lo >>> 2) & 1;
    const deliveryMode = (data >>> 8) & 7;
    const trigMode = (data >>> 15) & 1;
    const vector = data & 0xff;
    if (vector === 0) {
      const raw = (Number((addr >> 32n) & 0xffffff00n) | dest) >>> 0;
      // 4.17: an int, so bit 31 makes it negative (-ERANGE); master: unsigned, and the negative int then
      // fails map_domain_emuirq_pirq's range check (-EINVAL)
      const pirq = raw | 0;
      if (this.pirqUnsigned ? raw === 0 : pirq <= 0) return ERANGE;
      const bound = this.pirqBinding.get(pirq);
      if (bound === undefined) {
        // mirrors irq.c:map_domain_emuirq_pirq range check
        if (pirq < 0 || pirq >= this.nrPirqs) return EINVAL;
        // every emulated MSI shares the tree key IRQ_MSI_EMU: a second pirq is "already mapped" (rc 0,
        // nothing allocated), and hvm_inject_msi then finds no pirq_info for it
        if (this.msiEmuPirq !== null && this.msiEmuPirq !== pirq) return EBUSY;
        this.msiEmuPirq = pirq;
        this.pirqBinding.set(pirq, "msi_emu");
      } else if (bound !== "msi_emu") {
        return EINVAL;
      }
      this.pirqsRaised.add(pirq);
      return 0;
    }
    if (deliveryMode === 1) {
      // vlapic.c:vlapic_lowest_prio: no vCPU to start the round robin from -> no target
      if (this.nrVcpus === 0) return ESRCH;
      let target = -1;
      const old = this.roundRobinPrev;
      let v = old;
      do {
        v = v + 1 < this.nrVcpus ? v + 1 : 0;
        if (target < 0 && this.matchDest(v, dest, destMode)) target = v;
      } while (v !== old);
      if (target < 0) return ESRCH;
      this.roundRobinPrev = target;
      this.deliver({ vector, dest, destMode, deliveryMode, trigMode, vcpus: [target] });
      return 0;
    }
    if (deliveryMode === 0) {
      const vcpus: number[] = [];
      for (let v = 0; v < this.nrVcpus; v++) if (this.matchDest(v, dest, destMode)) vcpus.push(v);
      this.deliver({ vector, dest, destMode, deliveryMode, trigMode, vcpus });
      return 0;
    }
    return EINVAL;
  }
}

/** A pending event injection (HVM_EVENT_VECTOR_UNSET when null). */
export interface PendingEvent {
  vector: number;
  type: number;
  insn_len: number;
  error_code: number;
  cr2: bigint;
}

/** Arm vGIC SPI levels. */
export class Vgic {
  readonly levels = new Map<number, number>();
  constructor(readonly nrIrqs: number, readonly allocated: ReadonlySet<number>) {}
}

