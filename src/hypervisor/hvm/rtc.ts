// The MC146818 RTC Xen emulates at 0x70/0x71 for HVM guests with XEN_X86_EMU_RTC: the clock and
// calendar registers (BCD or binary, 12 or 24 hour), registers A-D, set mode, and the guest setting
// the time, which moves the domain's time offset and is broadcast to the device models as a
// TIMEOFFSET ioreq. CMOS indexes at or above RTC_CMOS_SIZE are not the RTC's: the index write and the
// data access are passed on (UNHANDLEABLE) so QEMU's CMOS answers them.
// Not modelled: the periodic, alarm and update interrupts (register C's flags stay clear).
// mirrors arch/x86/hvm/rtc.c: handle_rtc_io, rtc_ioport_write, rtc_ioport_read, rtc_set_time,
// rtc_copy_date, update_in_progress, rtc_init
import {
  RTC_24H, RTC_CMOS_SIZE, RTC_DAY_OF_MONTH, RTC_DAY_OF_WEEK, RTC_DM_BINARY, RTC_HOURS, RTC_HOURS_ALARM,
  RTC_MINUTES, RTC_MINUTES_ALARM, RTC_MONTH, RTC_PORT0, RTC_REF_CLCK_32KHZ, RTC_REG_A, RTC_REG_B, RTC_REG_C,
  RTC_REG_D, RTC_SECONDS, RTC_SECONDS_ALARM, RTC_SET, RTC_UIP, RTC_VRT, RTC_YEAR,
} from "../../../abi/xen/hvm_platform.js";
import type { GuestClock } from "./clock.js";
import { OKAY, UNHANDLEABLE, portioValue, type IoHandler, type IoRc } from "./handler.js";

interface Tm {
  sec: number;
  min: number;
  hour: number;
  mday: number;
  /** 0..11 */
  mon: number;
  /** years since 1900 */
  year: number;
  wday: number;
}

function gmtime(seconds: number): Tm {
  const d = new Date(seconds * 1000);
  return {
    sec: d.getUTCSeconds(),
    min: d.getUTCMinutes(),
    hour: d.getUTCHours(),
    mday: d.getUTCDate(),
    mon: d.getUTCMonth(),
    year: d.getUTCFullYear() - 1900,
    wday: d.getUTCDay(),
  };
}

/** Seconds since the epoch from calendar fields, by Gauss's formula as Xen computes it (so register
 * values out of range give what Xen gives). mirrors arch/x86/time.c:mktime */
function mktime(t: Tm): number {
  let year = t.year + 1900;
  let mon = t.mon + 1 - 2; // 1..12 -> 11,12,1..10: February last, it has the leap day
  if (mon <= 0) {
    mon += 12;
    year -= 1;
  }
  const days = Math.floor(year / 4) - Math.floor(year / 100) + Math.floor(year / 400) + Math.floor((367 * mon) / 12) + t.mday;
  return ((days + year * 365 - 719499) * 24 + t.hour) * 60 * 60 + t.min * 60 + t.sec;
}

const CALENDAR = new Set([RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR]);
const ALARMS = new Set([RTC_SECONDS_ALARM, RTC_MINUTES_ALARM, RTC_HOURS_ALARM]);

export interface RtcOptions {
  clock: GuestClock;
  /** d->time_offset.seconds at creation (libxl: rtc_timeoffset) */
  timeOffset?: number;
  /** send_timeoffset_req: the guest moved its clock by `delta` seconds (never called with 0) */
  onTimeOffset?: (delta: number) => void;
}

export class Rtc implements IoHandler {
  readonly name = "rtc";
  readonly type = "pio" as const;
  readonly ranges = [{ port: RTC_PORT0, size: 2 }];
  readonly cmos = new Uint8Array(RTC_CMOS_SIZE);
  index = 0;
  /** d->time_offset.seconds */
  timeOffset: number;
  private tm: Tm;

  constructor(private readonly opts: RtcOptions) {
    this.timeOffset = opts.timeOffset ?? 0;
    // rtc_init
    this.cmos[RTC_REG_A] = RTC_REF_CLCK_32KHZ | 6;
    this.cmos[RTC_REG_B] = RTC_24H;
    this.cmos[RTC_REG_C] = 0;
    this.cmos[RTC_REG_D] = RTC_VRT;
    this.tm = gmtime(this.localtime());
    this.copyDate();
  }

  /** get_localtime(d): the guest's wall clock in seconds */
  localtime(): number {
    return Number(this.opts.clock.wallclockUs() / 1_000_000n) + this.timeOffset;
  }

  read(port: number, size: number): { rc: IoRc; value: bigint } {
    // handle_rtc_io: only byte accesses
    if (size !== 1) return { rc: OKAY, value: portioValue(~0) };
    if ((port & 1) === 0) return { rc: OKAY, value: portioValue(~0) };
    if (this.index >= RTC_CMOS_SIZE) return { rc: UNHANDLEABLE, value: portioValue(~0) };
    return { rc: OKAY, value: BigInt(this.readData()) };
  }

  write(port: number, size: number, value: bigint): IoRc {
    if (size !== 1) return OKAY;
    const data = Number(value & 0xffn);
    if ((port & 1) === 0) {
      this.index = data & 0x7f;
      return this.index < RTC_CMOS_SIZE ? OKAY : UNHANDLEABLE;
    }
    if (this.index >= RTC_CMOS_SIZE) return UNHANDLEABLE;
    this.writeData(data);
    return OKAY;
  }

  private readData(): number {
    const i = this.index;
    if (CALENDAR.has(i)) {
      if (!(this.cmos[RTC_REG_B]! & RTC_SET)) {
        this.tm = gmtime(this.localtime());
        this.copyDate();
      }
      return this.cmos[i]!;
    }
    if (i === RTC_REG_A) return this.cmos[i]! | (this.updateInProgress() ? RTC_UIP : 0);
    if (i === RTC_REG_C) {
      const r = this.cmos[i]!;
      this.cmos[RTC_REG_C] = 0;
      return r;
    }
    return this.cmos[i]!;
  }

  private writeData(data: number): void {
    const i = this.index;
    const orig = this.cmos[i]!;
    if (ALARMS.has(i)) {
      this.cmos[i] = data;
    } else if (CALENDAR.has(i)) {
      if (this.cmos[RTC_REG_B]! & RTC_SET) this.cmos[i] = data;
      else {
        // fetch the current time, change this one field, set the time from the registers
        this.tm = gmtime(this.localtime());
        this.copyDate();
        this.cmos[i] = data;
        this.setTime();
      }
    } else if (i === RTC_REG_A) {
      // UIP is read only
      this.cmos[RTC_REG_A] = (data & ~RTC_UIP) | (orig & RTC_UIP);
    } else if (i === RTC_REG_B) {
      if (data & RTC_SET) {
        this.cmos[RTC_REG_A]! &= ~RTC_UIP;
        if (!(orig & RTC_SET)) {
          this.tm = gmtime(this.localtime());
          this.copyDate();
        }
      } else if (orig & RTC_SET) {
        // leaving set mode: the registers become the time
        this.setTime();
      }
      this.cmos[RTC_REG_B] = data;
    }
    // registers C and D cannot be written
  }

  private toBcd(a: number): number {
    return this.cmos[RTC_REG_B]! & RTC_DM_BINARY ? a : (Math.floor(a / 10) << 4) | a % 10;
  }

  private fromBcd(a: number): number {
    return this.cmos[RTC_REG_B]! & RTC_DM_BINARY ? a : (a >> 4) * 10 + (a & 0x0f);
  }

  private convertHour(raw: number): number {
    let hour = this.fromBcd(raw & 0x7f);
    if (!(this.cmos[RTC_REG_B]! & RTC_24H)) {
      hour %= 12;
      if (raw & 0x80) hour += 12;
    }
    return hour;
  }

  private copyDate(): void {
    const t = this.tm;
    const c = this.cmos;
    c[RTC_SECONDS] = this.toBcd(t.sec);
    c[RTC_MINUTES] = this.toBcd(t.min);
    if (c[RTC_REG_B]! & RTC_24H) c[RTC_HOURS] = this.toBcd(t.hour);
    else {
      const h = t.hour % 12 !== 0 ? t.hour % 12 : 12;
      c[RTC_HOURS] = this.toBcd(h) | (t.hour >= 12 ? 0x80 : 0);
    }
    c[RTC_DAY_OF_WEEK] = this.toBcd(t.wday);
    c[RTC_DAY_OF_MONTH] = this.toBcd(t.mday);
    c[RTC_MONTH] = this.toBcd(t.mon + 1);
    c[RTC_YEAR] = this.toBcd(t.year % 100);
  }

  private setTime(): void {
    const before = mktime(this.tm);
    const c = this.cmos;
    this.tm = {
      sec: this.fromBcd(c[RTC_SECONDS]!),
      min: this.fromBcd(c[RTC_MINUTES]!),
      hour: this.convertHour(c[RTC_HOURS]!),
      wday: this.fromBcd(c[RTC_DAY_OF_WEEK]!),
      mday: this.fromBcd(c[RTC_DAY_OF_MONTH]!),
      mon: this.fromBcd(c[RTC_MONTH]!) - 1,
      year: this.fromBcd(c[RTC_YEAR]!) + 100,
    };
    const after = mktime(this.tm);
    const delta = after - before;
    // the guest's setting of the RTC defines the domain's local-time offset
    this.timeOffset += delta;
    // send_timeoffset_req: nothing is sent for no change
    if (delta !== 0) this.opts.onTimeOffset?.(delta);
  }

  /** UIP is set in the last 244 us of every second, outside set mode */
  private updateInProgress(): boolean {
    if (this.cmos[RTC_REG_B]! & RTC_SET) return false;
    const us = this.opts.clock.wallclockUs() % 1_000_000n;
    return us >= 1_000_000n - 244n;
  }
}
