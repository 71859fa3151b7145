// The local APIC Xen emulates for each vCPU at its APIC base (0xfee00000 after reset,
// XEN_X86_EMU_LAPIC; xAPIC mode, not x2APIC): the register page as vlapic_reset leaves it (ID = vCPU
// * 2, version 0x50014, LVTs masked, DFR all ones, SPIV 0xff) and the writable registers with the
// masks vlapic_reg_write applies. Byte and word accesses inside one 32-bit register are allowed.
// Not modelled: interrupts, EOI, IPIs (ICR is stored), the timer (TMCCT stays 0).
// mirrors arch/x86/hvm/vlapic.c: vlapic_range, vlapic_mmio_read, vlapic_mmio_write, vlapic_reg_write,
// vlapic_reset, vlapic_do_init
import { APIC_DEFAULT_PHYS_BASE, VLAPIC_VERSION } from "../../../abi/xen/hvm_platform.js";
import { OKAY, type IoHandler, type IoRc } from "./handler.js";

const APIC_ID = 0x20;
const APIC_LVR = 0x30;
const APIC_TASKPRI = 0x80;
const APIC_LDR = 0xd0;
const APIC_DFR = 0xe0;
const APIC_SPIV = 0xf0;
const APIC_ICR = 0x300;
const APIC_ICR2 = 0x310;
const APIC_LVTT = 0x320;
const APIC_LVTERR = 0x370;
const APIC_TMICT = 0x380;
const APIC_TDCR = 0x3e0;
const APIC_LVT_MASKED = 0x10000;
const PAGE = 0x1000;

/** Registers a write changes, with the bits it keeps (vlapic_reg_write). */
const WRITABLE = new Map<number, (v: number) => number>([
  [APIC_ID, (v) => v],
  [APIC_TASKPRI, (v) => v & 0xff],
  [APIC_LDR, (v) => v & 0xff000000],
  [APIC_DFR, (v) => v | 0x0fffffff],
  [APIC_SPIV, (v) => v & 0x3ff],
  [APIC_ICR, (v) => v],
  [APIC_ICR2, (v) => v & 0xff000000],
  [APIC_TMICT, (v) => v],
  [APIC_TDCR, (v) => v & 0xb],
]);

export class Vlapic implements IoHandler {
  readonly name = "lapic";
  readonly type = "mmio" as const;
  readonly ranges = [];
  /** per vCPU: the 4 KiB register page as 32-bit words at 16-byte strides */
  readonly regs: Map<number, number>[];
  /** per vCPU: the APIC base address (MSR bits 12+) */
  readonly base: number[];

  constructor(nrVcpus: number) {
    this.regs = Array.from({ length: nrVcpus }, (_, v) => {
      const r = new Map<number, number>([
        [APIC_ID, ((v * 2) << 24) >>> 0],
        [APIC_LVR, VLAPIC_VERSION],
        [APIC_DFR, 0xffffffff],
        [APIC_SPIV, 0xff],
      ]);
      for (let lvt = APIC_LVTT; lvt <= APIC_LVTERR; lvt += 0x10) r.set(lvt, APIC_LVT_MASKED);
      return r;
    });
    this.base = Array.from({ length: nrVcpus }, () => APIC_DEFAULT_PHYS_BASE);
  }

  check(addr: number, vcpu: number): boolean {
    const b = this.base[vcpu];
    return b !== undefined && addr >= b && addr - b < PAGE;
  }

  read(addr: number, size: number, vcpu: number): { rc: IoRc; value: bigint } {
    const off = addr - this.base[vcpu]!;
    const align = off & 0xf;
    if (align + size > 4 || off > APIC_TDCR + 3) return { rc: OKAY, value: 0n };
    const reg = this.regs[vcpu]!.get(off & ~0xf) ?? 0;
    const v = size === 4 ? reg : (reg >>> (align * 8)) & (size === 1 ? 0xff : 0xffff);
    return { rc: OKAY, value: BigInt(v >>> 0) };
  }

  write(addr: number, size: number, value: bigint, vcpu: number): IoRc {
    const off = addr - this.base[vcpu]!;
    const align = off & 0xf;
    const reg = off & ~0xf;
    if (align + size > 4 || reg > APIC_TDCR) return OKAY;
    const regs = this.regs[vcpu]!;
    let val = Number(value & 0xffffffffn);
    if (size < 4) {
      const old = regs.get(reg) ?? 0;
      const mask = (size === 1 ? 0xff : 0xffff) << (align * 8);
      val = ((old & ~mask) | ((val << (align * 8)) & mask)) >>> 0;
    }
    const keep = WRITABLE.get(reg);
    if (keep !== undefined) regs.set(reg, keep(val) >>> 0);
    else if (reg >= APIC_LVTT && reg <= APIC_LVTERR) {
      // a software-disabled APIC keeps every LVT masked
      const swDisabled = ((regs.get(APIC_SPIV) ?? 0) & 0x100) === 0;
      regs.set(reg, (swDisabled ? val | APIC_LVT_MASKED : val) >>> 0);
    }
    return OKAY;
  }
}
