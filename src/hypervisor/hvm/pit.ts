// The i8254 PIT Xen emulates at 0x40-0x43 and the speaker/gate port 0x61 (XEN_X86_EMU_PIT): three
// counters in every mode, counter and status latches, the read-back command, LSB/MSB/word access and
// the channel 2 gate. Counters run from guest time at PIT_FREQ. Not modelled: channel 0's periodic
// timer interrupt (IRQ 0).
// mirrors arch/x86/emul-i8254.c: handle_pit_io, pit_ioport_write, pit_ioport_read, pit_get_count,
// pit_get_out, pit_set_gate, pit_load_count, pit_latch_count, pit_latch_status, pit_reset,
// handle_speaker_io
import { PIT_BASE, PIT_FREQ, PIT_SPEAKER_PORT } from "../../../abi/xen/hvm_platform.js";
import type { GuestClock } from "./clock.js";
import { OKAY, portioValue, type IoHandler, type IoRc } from "./handler.js";

// RW_STATE_LSB (1) is the default case below
const RW_STATE_MSB = 2;
const RW_STATE_WORD0 = 3;
const RW_STATE_WORD1 = 4;
const SYSTEM_TIME_HZ = 1_000_000_000n;

interface Channel {
  count: number;
  latchedCount: number;
  countLatched: number;
  statusLatched: number;
  status: number;
  readState: number;
  writeState: number;
  writeLatch: number;
  rwMode: number;
  mode: number;
  bcd: number;
  gate: number;
  /** guest time (ns) the count was loaded */
  loadTime: bigint;
}

export class Pit implements IoHandler {
  readonly name = "pit";
  readonly type = "pio" as const;
  readonly ranges = [{ port: PIT_BASE, size: 4 }];
  readonly channels: Channel[];
  speakerDataOn = 0;

  constructor(private readonly clock: GuestClock) {
    this.channels = [0, 1, 2].map((i) => ({
      count: 0, latchedCount: 0, countLatched: 0, statusLatched: 0, status: 0, readState: 0, writeState: 0,
      writeLatch: 0, rwMode: 0, mode: 0xff, bcd: 0, gate: i !== 2 ? 1 : 0, loadTime: 0n,
    }));
    // pit_reset: the init mode, then a zero count (= 0x10000)
    for (let i = 0; i < 3; i++) this.loadCount(i, 0);
  }

  /** The 0x61 handler, a second IoHandler sharing this PIT's state. */
  readonly speaker: IoHandler = {
    name: "pit-speaker",
    type: "pio",
    ranges: [{ port: PIT_SPEAKER_PORT, size: 1 }],
    read: () => {
      // refresh clock toggles about every 15 us, approximated as 2^14 ns
      const refresh = Number((this.clock.nowNs() >> 14n) & 1n);
      const v = (this.speakerDataOn << 1) | this.channels[2]!.gate | (this.getOut(2) << 5) | (refresh << 4);
      return { rc: OKAY, value: BigInt(v) };
    },
    write: (_port, _size, value) => {
      const v = Number(value & 0xffn);
      this.speakerDataOn = (v >> 1) & 1;
      this.setGate(2, v & 1);
      return OKAY;
    },
  };

  private elapsed(ch: number): bigint {
    // muldiv64(now - count_load_time, PIT_FREQ, SYSTEM_TIME_HZ)
    const d = this.clock.nowNs() - this.channels[ch]!.loadTime;
    return (d * BigInt(PIT_FREQ)) / SYSTEM_TIME_HZ;
  }

  getCount(ch: number): number {
    const c = this.channels[ch]!;
    const d = this.elapsed(ch);
    const count = BigInt(c.count);
    switch (c.mode) {
      case 0:
      case 1:
      case 4:
      case 5:
        return Number(BigInt.asUintN(16, count - d));
      case 3:
        // may be incorrect for odd counts, as in Xen
        return Number(count - ((2n * d) % count));
      default:
        return Number(count - (d % count));
    }
  }

  getOut(ch: number): number {
    const c = this.channels[ch]!;
    const d = this.elapsed(ch);
    const count = BigInt(c.count);
    switch (c.mode) {
      case 1:
        return d < count ? 1 : 0;
      case 2:
        return d % count === 0n && d !== 0n ? 1 : 0;
      case 3:
        return d % count < (count + 1n) >> 1n ? 1 : 0;
      case 4:
      case 5:
        return d === count ? 1 : 0;
      default:
        return d >= count ? 1 : 0;
    }
  }

  private setGate(ch: number, val: number): void {
    const c = this.channels[ch]!;
    // modes 1, 2, 3, 5 restart counting on a rising edge
    if ((c.mode === 1 || c.mode === 2 || c.mode === 3 || c.mode === 5) && c.gate < val) c.loadTime = this.clock.nowNs();
    c.gate = val;
  }

  private loadCount(ch: number, val: number): void {
    const c = this.channels[ch]!;
    c.loadTime = this.clock.nowNs();
    c.count = val === 0 ? 0x10000 : val;
  }

  private latchCount(ch: number): void {
    const c = this.channels[ch]!;
    if (!c.countLatched) {
      c.latchedCount = this.getCount(ch);
      c.countLatched = c.rwMode;
    }
  }

  private latchStatus(ch: number): void {
    const c = this.channels[ch]!;
    if (!c.statusLatched) {
      // NULL COUNT (bit 6) is not reported, as in Xen
      c.status = (this.getOut(ch) << 7) | (c.rwMode << 4) | (c.mode << 1) | c.bcd;
      c.statusLatched = 1;
    }
  }

  read(port: number, size: number): { rc: IoRc; value: bigint } {
    if (size !== 1) return { rc: OKAY, value: portioValue(~0) };
    // a read of the control word register (A1:A0 = 3) leaves the value as it was (~0)
    if ((port & 3) === 3) return { rc: OKAY, value: portioValue(~0) };
    return { rc: OKAY, value: BigInt(this.readChannel(port & 3)) };
  }

  write(port: number, size: number, value: bigint): IoRc {
    if (size !== 1) return OKAY;
    this.writePort(port & 3, Number(value & 0xffn));
    return OKAY;
  }

  private writePort(addr: number, val: number): void {
    if (addr === 3) {
      let channel = val >> 6;
      if (channel === 3) {
        // read-back command
        for (channel = 0; channel < 3; channel++) {
          if (val & (2 << channel)) {
            if (!(val & 0x20)) this.latchCount(channel);
            if (!(val & 0x10)) this.latchStatus(channel);
          }
        }
        return;
      }
      const c = this.channels[channel]!;
      const access = (val >> 4) & 3;
      if (access === 0) {
        this.latchCount(channel);
        return;
      }
      c.rwMode = access;
      c.readState = access;
      c.writeState = access;
      c.mode = (val >> 1) & 7;
      if (c.mode > 5) c.mode -= 4;
      c.bcd = val & 1;
      return;
    }
    const c = this.channels[addr]!;
    switch (c.writeState) {
      case RW_STATE_MSB:
        this.loadCount(addr, val << 8);
        break;
      case RW_STATE_WORD0:
        c.writeLatch = val;
        c.writeState = RW_STATE_WORD1;
        break;
      case RW_STATE_WORD1:
        this.loadCount(addr, c.writeLatch | (val << 8));
        c.writeState = RW_STATE_WORD0;
        break;
      default:
        this.loadCount(addr, val);
    }
  }

  private readChannel(addr: number): number {
    const c = this.channels[addr]!;
    if (c.statusLatched) {
      c.statusLatched = 0;
      return c.status;
    }
    if (c.countLatched) {
      switch (c.countLatched) {
        case RW_STATE_MSB:
          c.countLatched = 0;
          return c.latchedCount >> 8;
        case RW_STATE_WORD0:
          c.countLatched = RW_STATE_MSB;
          return c.latchedCount & 0xff;
        default:
          c.countLatched = 0;
          return c.latchedCount & 0xff;
      }
    }
    switch (c.readState) {
      case RW_STATE_MSB:
        return (this.getCount(addr) >> 8) & 0xff;
      case RW_STATE_WORD0:
        c.readState = RW_STATE_WORD1;
        return this.getCount(addr) & 0xff;
      case RW_STATE_WORD1:
        c.readState = RW_STATE_WORD0;
        return (this.getCount(addr) >> 8) & 0xff;
      default:
        return this.getCount(addr) & 0xff;
    }
  }
}
