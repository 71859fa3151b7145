// The x86 HVM platform devices of one domain, as Xen registers them for its emulation flags, and the
// first step of guest I/O: a port or MMIO access that one of them accepts is answered here, element
// by element, and never reaches an ioreq server unless the device itself declines it (UNHANDLEABLE,
// then only that first element goes on). Addresses claimed per flag:
//   PIC  0x20-0x21, 0xa0-0xa1, ELCR 0x4d0, 0x4d1        PIT  0x40-0x43, speaker 0x61
//   RTC  0x70-0x71 (CMOS index >= 14 passed on)         PM   PM1a_EVT (4) and PM_TMR (4), V0 or V1
//   IOAPIC 0xfec00000-0xfec000ff   HPET 0xfed00000-0xfed003ff   LAPIC 0xfee00000-0xfee00fff per vCPU
//   always: 0xe9 (the debug console; reads passed on)
// The 0xCF8 latch and stdvga stay in the routing code. libxl creates HVM guests with every flag but
// XEN_X86_EMU_VPCI (libxl_x86.c:libxl__arch_domain_prepare_config).
// mirrors arch/x86/hvm/intercept.c: hvm_find_io_handler, hvm_portio_accept, hvm_mmio_accept,
// hvm_process_io_intercept; hvm.c:hvm_domain_initialise (registration order)
import {
  XEN_X86_EMU_ALL, XEN_X86_EMU_HPET, XEN_X86_EMU_IOAPIC, XEN_X86_EMU_LAPIC, XEN_X86_EMU_PIC, XEN_X86_EMU_PIT,
  XEN_X86_EMU_PM, XEN_X86_EMU_RTC, XEN_X86_EMU_VPCI, HPET_BASE_ADDRESS, HPET_MMAP_SIZE, VIOAPIC_DEFAULT_BASE_ADDRESS,
  VIOAPIC_MEM_LENGTH, APIC_DEFAULT_PHYS_BASE,
} from "../../../abi/xen/hvm_platform.js";
import { HostClock, type GuestClock } from "./clock.js";
import { DebugConsole } from "./debugcon.js";
import type { IoHandler, IoRc } from "./handler.js";
import { Hpet } from "./hpet.js";
import { Pit } from "./pit.js";
import { PmTimer } from "./pmtimer.js";
import { Rtc } from "./rtc.js";
import { Vioapic } from "./vioapic.js";
import { Vlapic } from "./vlapic.js";
import { Vpic } from "./vpic.js";

/** libxl's emulation flags for an HVM guest */
export const LIBXL_HVM_EMULATION_FLAGS = XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI;

export interface PlatformOptions {
  /** xen_arch_domainconfig.emulation_flags (default libxl's for HVM) */
  emulationFlags?: number;
  vcpus: number;
  clock?: GuestClock;
  /** HVM_PARAM_ACPI_IOPORTS_LOCATION (default 0, as at domain creation; hvmloader sets 1) */
  acpiIoportsLocation?: 0 | 1;
  /** HVM_PARAM_HPET_ENABLED (default true: libxl's hpet=1) */
  hpetEnabled?: boolean;
  /** d->time_offset.seconds at creation */
  rtcTimeOffset?: number;
  /** the RTC was set by the guest: broadcast TIMEOFFSET (send_timeoffset_req) */
  onTimeOffset?: (delta: number) => void;
}

/** One access as hvm_process_io_intercept sees it (the ioreq_t fields it uses). */
export interface InterceptRequest {
  type: "pio" | "mmio";
  addr: bigint;
  size: number;
  count: number;
  dir: "read" | "write";
  df: boolean;
  /** with dataIsPtr: the guest buffer's address; else the value written */
  data: bigint;
  dataIsPtr: boolean;
}

/** What the caller provides to read and write the guest buffer of a data_is_ptr access. */
export interface GuestBuffer {
  read(gpa: bigint, size: number): bigint | null;
  write(gpa: bigint, size: number, value: bigint): boolean;
}

export type InterceptResult =
  /** handled: `count` elements done (fewer than asked when a device declined one later on) */
  | { rc: "okay"; count: number; data: bigint; handler: string }
  /** the device declined the first element: only it goes on to ioreq server selection */
  | { rc: "unhandleable"; count: 1; handler: string }
  /** an MMIO access starts inside a device and ends outside: Xen crashes the domain */
  | { rc: "crash"; handler: string; reason: string };

export interface Claim {
  handler: string;
  type: "pio" | "mmio";
  first: number;
  last: number;
}

export class HvmPlatform {
  readonly flags: number;
  readonly handlers: IoHandler[] = [];
  readonly rtc: Rtc | null = null;
  readonly pit: Pit | null = null;
  readonly pm: PmTimer | null = null;
  readonly vpic: Vpic | null = null;
  readonly ioapic: Vioapic | null = null;
  readonly hpet: Hpet | null = null;
  readonly lapic: Vlapic | null = null;
  readonly debugcon = new DebugConsole();
  /** RTC time changes not yet broadcast (routing takes them after each access) */
  private timeOffsets: number[] = [];

  constructor(opts: PlatformOptions) {
    const flags = opts.emulationFlags ?? LIBXL_HVM_EMULATION_FLAGS;
    if (!Number.isInteger(flags) || flags < 0 || flags > XEN_X86_EMU_ALL) {
      throw new RangeError(`emulation_flags ${flags} is not a set of XEN_X86_EMU_* bits (0..${XEN_X86_EMU_ALL})`);
    }
    this.flags = flags;
    const clock = opts.clock ?? new HostClock();
    const has = (f: number): boolean => (flags & f) !== 0;
    // hvm_domain_initialise: vpic_init, vioapic_init, (stdvga), rtc_init, the debug console; then
    // pit_init, hpet_init and, with vCPU 0, vlapic_init and pmtimer_init
    if (has(XEN_X86_EMU_PIC)) {
      this.vpic = new Vpic();
      this.handlers.push(this.vpic.pic, this.vpic.elcr);
    }
    if (has(XEN_X86_EMU_IOAPIC)) this.handlers.push((this.ioapic = new Vioapic()));
    if (has(XEN_X86_EMU_RTC)) {
      const onTimeOffset = opts.onTimeOffset;
      const rtc = new Rtc({
        clock,
        timeOffset: opts.rtcTimeOffset ?? 0,
        onTimeOffset: (delta) => {
          this.timeOffsets.push(delta);
          onTimeOffset?.(delta);
        },
      });
      this.handlers.push((this.rtc = rtc));
    }
    this.handlers.push(this.debugcon);
    if (has(XEN_X86_EMU_PIT)) {
      this.pit = new Pit(clock);
      this.handlers.push(this.pit, this.pit.speaker);
    }
    if (has(XEN_X86_EMU_HPET)) this.handlers.push((this.hpet = new Hpet(clock, opts.hpetEnabled ?? true)));
    if (has(XEN_X86_EMU_LAPIC)) this.handlers.push((this.lapic = new Vlapic(opts.vcpus)));
    if (has(XEN_X86_EMU_PM)) {
      this.pm = new PmTimer(clock, opts.acpiIoportsLocation ?? 0);
      this.handlers.push(this.pm.timer, this.pm.events);
    }
  }

  /** The handler that takes an access, or null (hvm_find_io_handler: the first that accepts it). */
  find(type: "pio" | "mmio", addr: bigint, size: number, count: number, df: boolean, vcpu: number): IoHandler | null {
    if (type === "pio") {
      const a = Number(addr & 0xffffn);
      for (const h of this.handlers) {
        if (h.type !== "pio") continue;
        for (const r of h.ranges) if (a >= r.port && a + size <= r.port + r.size) return h;
      }
      return null;
    }
    const first = df && count > 1 ? addr - BigInt((count - 1) * size) : addr;
    if (first < 0n || first > 0xffffffffn) return null;
    for (const h of this.handlers) {
      if (h.type === "mmio" && h.check?.(Number(first), vcpu) === true) return h;
    }
    return null;
  }

  /**
   * The internal handler step for one access: null when no platform device claims it (the access
   * goes on to ioreq server selection whole), else what hvm_process_io_intercept made of it.
   */
  intercept(req: InterceptRequest, vcpu: number, mem?: GuestBuffer): InterceptResult | null {
    const h = this.find(req.type, req.addr, req.size, req.count, req.df, vcpu);
    if (h === null) return null;
    if (req.type === "mmio") {
      // hvm_mmio_accept: the whole access must be the handler's, or the domain is crashed
      const span = BigInt(req.count * req.size - 1);
      const first = req.df ? req.addr - span + BigInt(req.size - 1) : req.addr;
      const last = req.df ? req.addr + BigInt(req.size - 1) : req.addr + span;
      if (last !== first && h.check?.(Number(last), vcpu) !== true) {
        return { rc: "crash", handler: h.name, reason: `${h.name}: access at ${hex(first)}..${hex(last)} leaves the device` };
      }
    }
    const step = BigInt(req.df ? -req.size : req.size);
    let rc: IoRc = "okay";
    let data = req.dataIsPtr ? req.data : req.dir === "read" ? 0n : req.data;
    let i = 0;
    for (; i < req.count; i++) {
      const addr = req.type === "mmio" ? req.addr + step * BigInt(i) : req.addr;
      const a = Number(req.type === "pio" ? addr & 0xffffn : addr);
      if (req.dir === "read") {
        const r = h.read(a, req.size, vcpu);
        rc = r.rc;
        if (rc !== "okay") break;
        // a buffer the guest cannot write drops the element, as real hardware would
        if (req.dataIsPtr) mem?.write(req.data + step * BigInt(i), req.size, r.value);
        else data = r.value;
      } else {
        const v = req.dataIsPtr ? (mem?.read(req.data + step * BigInt(i), req.size) ?? (1n << BigInt(req.size * 8)) - 1n) : req.data;
        rc = h.write(a, req.size, v, vcpu);
        if (rc !== "okay") break;
      }
    }
    if (i > 0) return { rc: "okay", count: i, data, handler: h.name };
    // the first element was declined: don't forward the whole batch, only it
    return rc === "unhandleable" ? { rc: "unhandleable", count: 1, handler: h.name } : { rc: "okay", count: req.count, data, handler: h.name };
  }

  /** The RTC changes made since the last call, oldest first (each becomes a TIMEOFFSET broadcast). */
  takeTimeOffsets(): number[] {
    if (this.timeOffsets.length === 0) return [];
    const t = this.timeOffsets;
    this.timeOffsets = [];
    return t;
  }

  /** HVM_PARAM_ACPI_IOPORTS_LOCATION set to 0 or 1 (pmtimer_change_ioport); -ENODEV without PM. */
  setAcpiIoportsLocation(location: number): "ok" | "enodev" | "einval" {
    if (this.pm === null) return "enodev";
    const old = this.pm.ioportsLocation;
    if (location === old) return "ok";
    if ((location ^ old) !== 1) return "einval";
    this.pm.relocate(location as 0 | 1);
    return "ok";
  }

  /** Every address range a platform device claims (LAPIC as vCPU 0 sees it). */
  claims(): Claim[] {
    const out: Claim[] = [];
    for (const h of this.handlers) {
      if (h.type === "pio") for (const r of h.ranges) out.push({ handler: h.name, type: "pio", first: r.port, last: r.port + r.size - 1 });
    }
    if (this.ioapic !== null) out.push({ handler: "ioapic", type: "mmio", first: VIOAPIC_DEFAULT_BASE_ADDRESS, last: VIOAPIC_DEFAULT_BASE_ADDRESS + VIOAPIC_MEM_LENGTH - 1 });
    if (this.hpet !== null) out.push({ handler: "hpet", type: "mmio", first: HPET_BASE_ADDRESS, last: HPET_BASE_ADDRESS + HPET_MMAP_SIZE - 1 });
    if (this.lapic !== null) {
      const b = this.lapic.base[0] ?? APIC_DEFAULT_PHYS_BASE;
      out.push({ handler: "lapic", type: "mmio", first: b, last: b + 0xfff });
    }
    return out;
  }
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}
