// The HPET Xen emulates at 0xfed00000 (XEN_X86_EMU_HPET; answered only while HVM_PARAM_HPET_ENABLED
// is set, all ones otherwise): the capability register (3 timers, 64-bit, legacy capable, a tick of
// 16 ns), the configuration register, the main counter (running from guest time while enabled) and
// the timers' configuration and comparators as stored values. Accesses must be naturally aligned and
// at most 8 bytes. Not modelled: timer interrupts and the status register's bits.
// mirrors arch/x86/hvm/hpet.c: hpet_range, hpet_read, hpet_write, hpet_read64, hpet_set,
// hpet_check_access_length
import { HPET_BASE_ADDRESS, HPET_MMAP_SIZE } from "../../../abi/xen/hvm_platform.js";
import type { GuestClock } from "./clock.js";
import { OKAY, allOnes, type IoHandler, type IoRc } from "./handler.js";

const HPET_ID = 0x000;
const HPET_CFG = 0x010;
const HPET_STATUS = 0x020;
const HPET_COUNTER = 0x0f0;
const HPET_TIMER_NUM = 3;
const tnCfg = (n: number): number => 0x100 + 0x20 * n;
const tnCmp = (n: number): number => 0x108 + 0x20 * n;
const tnRoute = (n: number): number => 0x110 + 0x20 * n;
const HPET_CFG_ENABLE = 1n;
const HPET_CFG_LEGACY = 2n;
const STIME_PER_HPET_TICK = 16n;
// hpet_set: 0x80860001 | (timers - 1) << 8 | 64-bit counter | legacy route capable, and the tick in fs
const CAPABILITY = 0x80860001n | (BigInt(HPET_TIMER_NUM - 1) << 8n) | (1n << 13n) | (1n << 15n) | (16_000_000n << 32n);
// HPET_TN_INT_ROUTE_CAP_VAL (IOAPIC pins 20..23) | HPET_TN_64BIT_CAP | HPET_TN_PERIODIC_CAP
const TN_CFG_RESET = (0x00f00000n << 32n) | (1n << 5n) | (1n << 4n);
/** HPET_TN_LEVEL | HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_SETVAL | HPET_TN_32BIT | HPET_TN_ROUTE */
const TN_CFG_WRITABLE = 0x3f4en;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

export class Hpet implements IoHandler {
  readonly name = "hpet";
  readonly type = "mmio" as const;
  readonly ranges = [];
  config = 0n;
  private mc64 = 0n;
  private mcOffset = 0n;
  readonly timerConfig: bigint[] = Array.from({ length: HPET_TIMER_NUM }, () => TN_CFG_RESET);
  readonly comparator: bigint[] = Array.from({ length: HPET_TIMER_NUM }, () => U64(-1n));

  constructor(
    private readonly clock: GuestClock,
    /** HVM_PARAM_HPET_ENABLED */
    public enabled = true,
  ) {}

  check(addr: number): boolean {
    return addr >= HPET_BASE_ADDRESS && addr < HPET_BASE_ADDRESS + HPET_MMAP_SIZE;
  }

  private guestTime(): bigint {
    return this.clock.nowNs() / STIME_PER_HPET_TICK;
  }

  private mainCounter(): bigint {
    return this.config & HPET_CFG_ENABLE ? U64(this.guestTime() + this.mcOffset) : this.mc64;
  }

  private read64(addr: number): bigint {
    const a = addr & ~7;
    if (a === HPET_ID) return CAPABILITY;
    if (a === HPET_CFG) return this.config;
    if (a === HPET_STATUS) return 0n;
    if (a === HPET_COUNTER) return this.mainCounter();
    for (let n = 0; n < HPET_TIMER_NUM; n++) {
      if (a === tnCfg(n)) return this.timerConfig[n]!;
      if (a === tnCmp(n)) return this.comparator[n]!;
      if (a === tnRoute(n)) return 0n;
    }
    return 0n;
  }

  private static badLength(addr: number, len: number): boolean {
    return (addr & (len - 1)) !== 0 || len > 8;
  }

  read(addrIn: number, size: number): { rc: IoRc; value: bigint } {
    if (!this.enabled) return { rc: OKAY, value: allOnes(8) };
    const addr = addrIn & (HPET_MMAP_SIZE - 1);
    if (Hpet.badLength(addr, size)) return { rc: OKAY, value: allOnes(8) };
    const v = this.read64(addr);
    return { rc: OKAY, value: size === 8 ? v : (v >> BigInt((addr & 7) * 8)) & allOnes(size) };
  }

  write(addrIn: number, size: number, value: bigint): IoRc {
    if (!this.enabled) return OKAY;
    const addr = addrIn & (HPET_MMAP_SIZE - 1);
    if (Hpet.badLength(addr, size)) return OKAY;
    const old = this.read64(addr);
    let nv = value;
    if (size !== 8) {
      const shift = BigInt((addr & 7) * 8);
      const mask = allOnes(size) << shift;
      nv = (old & ~mask) | ((value << shift) & mask);
    }
    const a = addr & ~7;
    if (a === HPET_CFG) {
      const keep = HPET_CFG_ENABLE | HPET_CFG_LEGACY;
      this.config = (old & ~keep) | (nv & keep);
      if (!(old & HPET_CFG_ENABLE) && nv & HPET_CFG_ENABLE) this.mcOffset = U64(this.mc64 - this.guestTime());
      else if (old & HPET_CFG_ENABLE && !(nv & HPET_CFG_ENABLE)) this.mc64 = U64(this.mcOffset + this.guestTime());
    } else if (a === HPET_COUNTER) {
      // the counter is written only while halted (Xen warns and ignores it otherwise)
      if (!(this.config & HPET_CFG_ENABLE)) this.mc64 = U64(nv);
    } else {
      for (let n = 0; n < HPET_TIMER_NUM; n++) {
        // only level, enable, periodic, setval, 32-bit and the route are writable
        if (a === tnCfg(n)) this.timerConfig[n] = (old & ~TN_CFG_WRITABLE) | (nv & TN_CFG_WRITABLE);
        if (a === tnCmp(n)) this.comparator[n] = U64(nv);
      }
    }
    return OKAY;
  }
}
