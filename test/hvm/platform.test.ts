// Xen's x86 HVM platform devices: what each claims per emulation flag, and the internal models'
// answers, against the rules of xen/arch/x86/hvm/{intercept,rtc,pmtimer,hpet,vpic,vioapic,vlapic}.c
// and emul-i8254.c at RELEASE-4.17.7.
import { describe, expect, it } from "vitest";
import { HvmPlatform, LIBXL_HVM_EMULATION_FLAGS, ManualClock, type InterceptRequest } from "../../src/hypervisor/hvm/index.js";
import * as P from "../../abi/xen/hvm_platform.js";

const pio = (addr: number, size: number, dir: "read" | "write", data = 0n, extra: Partial<InterceptRequest> = {}): InterceptRequest => ({
  type: "pio", addr: BigInt(addr), size, count: 1, dir, df: false, data, dataIsPtr: false, ...extra,
});
const mmio = (addr: number, size: number, dir: "read" | "write", data = 0n, extra: Partial<InterceptRequest> = {}): InterceptRequest => ({
  ...pio(addr, size, dir, data, extra), type: "mmio",
});

function platform(opts: Partial<ConstructorParameters<typeof HvmPlatform>[0]> = {}) {
  const clock = new ManualClock(0n, 1_700_000_000_000_000n); // 2023-11-14 22:13:20 UTC
  const offsets: number[] = [];
  const p = new HvmPlatform({ vcpus: 2, clock, onTimeOffset: (d) => offsets.push(d), ...opts });
  const rd = (addr: number, size = 1): bigint => {
    const r = p.intercept(pio(addr, size, "read"), 0);
    if (r?.rc !== "okay") throw new Error(`read ${addr.toString(16)}: ${JSON.stringify(r)}`);
    return r.data;
  };
  const wr = (addr: number, v: number, size = 1): void => {
    const r = p.intercept(pio(addr, size, "write", BigInt(v)), 0);
    if (r?.rc !== "okay") throw new Error(`write ${addr.toString(16)}: ${JSON.stringify(r)}`);
  };
  const rdm = (addr: number, size = 4, vcpu = 0): bigint => {
    const r = p.intercept(mmio(addr, size, "read"), vcpu);
    if (r?.rc !== "okay") throw new Error(`mmio read ${addr.toString(16)}: ${JSON.stringify(r)}`);
    return r.data;
  };
  const wrm = (addr: number, v: bigint, size = 4, vcpu = 0): void => {
    const r = p.intercept(mmio(addr, size, "write", v), vcpu);
    if (r?.rc !== "okay") throw new Error(`mmio write ${addr.toString(16)}: ${JSON.stringify(r)}`);
  };
  return { p, clock, offsets, rd, wr, rdm, wrm };
}

describe("claims per emulation flag", () => {
  it("libxl's HVM flags: every device but vPCI, at Xen's addresses", () => {
    expect(LIBXL_HVM_EMULATION_FLAGS).toBe(0x3ff);
    const { p } = platform();
    expect(p.claims()).toEqual([
      { handler: "pic", type: "pio", first: 0x20, last: 0x21 },
      { handler: "pic", type: "pio", first: 0xa0, last: 0xa1 },
      { handler: "elcr", type: "pio", first: 0x4d0, last: 0x4d0 },
      { handler: "elcr", type: "pio", first: 0x4d1, last: 0x4d1 },
      { handler: "rtc", type: "pio", first: 0x70, last: 0x71 },
      { handler: "debugcon", type: "pio", first: 0xe9, last: 0xe9 },
      { handler: "pit", type: "pio", first: 0x40, last: 0x43 },
      { handler: "pit-speaker", type: "pio", first: 0x61, last: 0x61 },
      { handler: "pmtimer", type: "pio", first: 0x1f48, last: 0x1f4b },
      { handler: "pm1a-evt", type: "pio", first: 0x1f40, last: 0x1f43 },
      { handler: "ioapic", type: "mmio", first: 0xfec00000, last: 0xfec000ff },
      { handler: "hpet", type: "mmio", first: 0xfed00000, last: 0xfed003ff },
      { handler: "lapic", type: "mmio", first: 0xfee00000, last: 0xfee00fff },
    ]);
  });

  it("each flag removes exactly its own devices; none leaves only the debug console", () => {
    const cases: [number, string[]][] = [
      [P.XEN_X86_EMU_PIC, ["pic", "elcr"]],
      [P.XEN_X86_EMU_PIT, ["pit", "pit-speaker"]],
      [P.XEN_X86_EMU_RTC, ["rtc"]],
      [P.XEN_X86_EMU_PM, ["pmtimer", "pm1a-evt"]],
      [P.XEN_X86_EMU_IOAPIC, ["ioapic"]],
      [P.XEN_X86_EMU_HPET, ["hpet"]],
      [P.XEN_X86_EMU_LAPIC, ["lapic"]],
    ];
    const all = new Set(platform().p.claims().map((c) => c.handler));
    for (const [flag, gone] of cases) {
      const names = new Set(platform({ emulationFlags: LIBXL_HVM_EMULATION_FLAGS & ~flag }).p.claims().map((c) => c.handler));
      expect([...all].filter((n) => !names.has(n)).sort()).toEqual([...gone].sort());
    }
    expect(platform({ emulationFlags: 0 }).p.claims().map((c) => c.handler)).toEqual(["debugcon"]);
    expect(() => new HvmPlatform({ vcpus: 1, emulationFlags: 0x800 })).toThrow(RangeError);
  });

  it("a port access is claimed only when every byte is inside the device (hvm_portio_accept)", () => {
    const { p } = platform();
    expect(p.find("pio", 0x70n, 2, 1, false, 0)?.name).toBe("rtc");
    expect(p.find("pio", 0x71n, 2, 1, false, 0)).toBeNull();
    expect(p.find("pio", 0x40n, 4, 1, false, 0)?.name).toBe("pit");
    expect(p.find("pio", 0x42n, 4, 1, false, 0)).toBeNull();
    // PM1a_CNT between the event block and the timer, and GPE0, are the device model's
    expect(p.find("pio", BigInt(P.ACPI_PM1A_CNT_BLK_ADDRESS_V0), 2, 1, false, 0)).toBeNull();
    expect(p.find("pio", BigInt(P.ACPI_GPE0_BLK_ADDRESS_V0), 1, 1, false, 0)).toBeNull();
    expect(p.find("pio", 0x3f8n, 1, 1, false, 0)).toBeNull();
    expect(p.find("pio", 0xcfcn, 4, 1, false, 0)).toBeNull();
  });

  it("HVM_PARAM_ACPI_IOPORTS_LOCATION moves both PM handlers between V0 and V1", () => {
    const { p } = platform();
    expect(p.setAcpiIoportsLocation(1)).toBe("ok");
    expect(p.find("pio", 0xb000n, 4, 1, false, 0)?.name).toBe("pm1a-evt");
    expect(p.find("pio", 0xb008n, 4, 1, false, 0)?.name).toBe("pmtimer");
    expect(p.find("pio", 0xb004n, 2, 1, false, 0)).toBeNull();
    expect(p.find("pio", 0x1f40n, 4, 1, false, 0)).toBeNull();
    expect(p.setAcpiIoportsLocation(3)).toBe("einval");
    expect(platform({ emulationFlags: 0 }).p.setAcpiIoportsLocation(1)).toBe("enodev");
  });

  it("an MMIO access that starts in a device and leaves it crashes the domain; one that starts outside is not claimed", () => {
    const { p } = platform();
    expect(p.intercept(mmio(0xfec000fc, 8, "read"), 0)).toMatchObject({ rc: "crash", handler: "ioapic" });
    expect(p.intercept(mmio(0xfebffffc, 8, "read"), 0)).toBeNull();
    // a df rep string: the first byte is the lowest address
    expect(p.find("mmio", 0xfed00004n, 4, 3, true, 0)).toBeNull();
    expect(p.find("mmio", 0xfed00008n, 4, 3, true, 0)?.name).toBe("hpet");
    expect(p.intercept(mmio(0xfed00010, 4, "read", 0n, { count: 3, df: true, dataIsPtr: true, data: 0x1000n }), 0)?.rc).toBe("okay");
  });
});

describe("RTC (rtc.c)", () => {
  it("reads the time in BCD, 24-hour mode, with register A and D at their reset values", () => {
    const { rd, wr } = platform();
    const reg = (i: number): number => { wr(0x70, i); return Number(rd(0x71)); };
    expect(reg(P.RTC_SECONDS)).toBe(0x20);
    expect(reg(P.RTC_MINUTES)).toBe(0x13);
    expect(reg(P.RTC_HOURS)).toBe(0x22);
    expect(reg(P.RTC_DAY_OF_MONTH)).toBe(0x14);
    expect(reg(P.RTC_MONTH)).toBe(0x11);
    expect(reg(P.RTC_YEAR)).toBe(0x23);
    expect(reg(P.RTC_DAY_OF_WEEK)).toBe(2); // Tuesday
    expect(reg(P.RTC_REG_A)).toBe(0x26);
    expect(reg(P.RTC_REG_B)).toBe(0x02);
    expect(reg(P.RTC_REG_D)).toBe(0x80);
    expect(rd(0x70)).toBe(0xffffffffn);
  });

  it("binary and 12-hour modes", () => {
    const { rd, wr } = platform();
    wr(0x70, P.RTC_REG_B);
    wr(0x71, P.RTC_DM_BINARY); // binary, 12-hour
    wr(0x70, P.RTC_HOURS);
    expect(rd(0x71)).toBe(BigInt(10 | 0x80)); // 22:00 is 10 pm
    wr(0x70, P.RTC_MINUTES);
    expect(rd(0x71)).toBe(13n);
  });

  it("CMOS indexes from 14 up are passed on: the index write and the data access", () => {
    const { p, rd, wr } = platform();
    expect(p.intercept(pio(0x70, 1, "write", 0x0fn), 0)).toEqual({ rc: "unhandleable", count: 1, handler: "rtc" });
    expect(p.intercept(pio(0x71, 1, "read"), 0)?.rc).toBe("unhandleable");
    expect(p.intercept(pio(0x71, 1, "write", 5n), 0)?.rc).toBe("unhandleable");
    // bit 7 (NMI disable) is not part of the index
    expect(p.intercept(pio(0x70, 1, "write", 0x80n | 0x0an), 0)?.rc).toBe("okay");
    expect(rd(0x71)).toBe(0x26n);
    wr(0x70, 0x0d);
    expect(rd(0x71)).toBe(0x80n);
    // a wide access is answered with all ones and never passed on
    expect(p.intercept(pio(0x70, 2, "read"), 0)).toMatchObject({ rc: "okay", data: 0xffffffffn });
  });

  it("setting the clock moves the time offset and broadcasts the change once; no change, no broadcast", () => {
    const { p, rd, wr, offsets } = platform();
    wr(0x70, P.RTC_REG_B);
    wr(0x71, P.RTC_24H | P.RTC_SET);
    wr(0x70, P.RTC_HOURS);
    wr(0x71, 0x23); // 22 -> 23 h
    wr(0x70, P.RTC_YEAR);
    wr(0x71, 0x24); // 2023 -> 2024
    expect(offsets).toEqual([]);
    wr(0x70, P.RTC_REG_B);
    wr(0x71, P.RTC_24H);
    const delta = 3600 + 366 * 86400 - 0; // to 2024-11-14 23:13:20 (2024 is a leap year, Feb 29 passed)
    expect(offsets).toEqual([delta]);
    expect(p.rtc?.timeOffset).toBe(delta);
    wr(0x70, P.RTC_HOURS);
    expect(rd(0x71)).toBe(0x23n);
    // a direct write outside set mode changes one field
    wr(0x70, P.RTC_MINUTES);
    wr(0x71, 0x14);
    expect(offsets).toEqual([delta, 60]);
    wr(0x71, 0x14);
    expect(offsets).toEqual([delta, 60]);
  });

  it("UIP is set in the last 244 us of a second, never in set mode; register C reads clear", () => {
    const { clock, rd, wr } = platform();
    clock.advance(999_800_000n);
    wr(0x70, P.RTC_REG_A);
    expect(rd(0x71) & 0x80n).toBe(0x80n);
    wr(0x70, P.RTC_REG_B);
    wr(0x71, P.RTC_24H | P.RTC_SET);
    wr(0x70, P.RTC_REG_A);
    expect(rd(0x71) & 0x80n).toBe(0n);
    wr(0x70, P.RTC_REG_C);
    expect(rd(0x71)).toBe(0n);
  });
});

describe("PIT (emul-i8254.c)", () => {
  it("channel 0 in mode 2 counts down from its reload value at 1.193182 MHz, read through a latch", () => {
    const { clock, rd, wr } = platform();
    wr(0x43, 0x34); // channel 0, LSB then MSB, mode 2
    wr(0x40, 1000 & 0xff);
    wr(0x40, 1000 >> 8);
    clock.advance(100_000n); // 100 us = 119 ticks
    wr(0x43, 0x00); // latch channel 0
    clock.advance(50_000n); // the latch holds
    const lo = Number(rd(0x40));
    const hi = Number(rd(0x40));
    expect(lo | (hi << 8)).toBe(1000 - 119);
    // mode 2 wraps at the reload value
    clock.advance(838_000n - 150_000n); // to 838 us: 999 ticks -> 1
    wr(0x43, 0x00);
    expect(Number(rd(0x40)) | (Number(rd(0x40)) << 8)).toBe(1);
  });

  it("read-back latches status and count; a read of the control port is all ones", () => {
    const { rd, wr } = platform();
    wr(0x43, 0xb0); // channel 2, word, mode 0
    wr(0x42, 0x00);
    wr(0x42, 0x10); // 0x1000
    wr(0x43, 0xc8); // read-back: count and status of channel 2
    // status: out 0, rw 3, mode 0, binary
    expect(rd(0x42)).toBe(0x30n);
    expect(Number(rd(0x42)) | (Number(rd(0x42)) << 8)).toBe(0x1000);
    expect(rd(0x43)).toBe(0xffffffffn);
  });

  it("port 0x61 drives channel 2's gate and shows its output", () => {
    const { clock, rd, wr } = platform();
    expect(Number(rd(0x61)) & 1).toBe(0); // gate of channel 2 is low after reset
    wr(0x43, 0xb2); // channel 2, word, mode 1 (one-shot, restarts on the gate's rising edge)
    wr(0x42, 100);
    wr(0x42, 0);
    wr(0x61, 0x03); // gate up, speaker data on
    const v = Number(rd(0x61));
    expect(v & 3).toBe(3);
    expect(v & 0x20).toBe(0x20); // mode 1: out high while counting
    clock.advance(100_000n); // 119 ticks > 100
    expect(Number(rd(0x61)) & 0x20).toBe(0);
  });
});

describe("PM timer and PM1a (pmtimer.c)", () => {
  it("TMR_VAL runs at 3.579545 MHz, 4-byte reads only; STS is write-1-to-clear, EN is plain", () => {
    const { p, clock, rd, wr } = platform();
    const t0 = rd(P.ACPI_PM_TMR_BLK_ADDRESS_V0, 4);
    clock.advance(1_000_000_000n);
    const t1 = rd(P.ACPI_PM_TMR_BLK_ADDRESS_V0, 4);
    expect(Number(t1 - t0)).toBeGreaterThanOrEqual(3579544);
    expect(Number(t1 - t0)).toBeLessThanOrEqual(3579545);
    expect(rd(P.ACPI_PM_TMR_BLK_ADDRESS_V0, 2)).toBe(0xffffffffn);
    wr(P.ACPI_PM1A_EVT_BLK_ADDRESS_V0 + 2, 0x0121, 2);
    expect(rd(P.ACPI_PM1A_EVT_BLK_ADDRESS_V0, 4)).toBe(0x0121n << 16n);
    // the counter's top bit flips after 2^31 ticks (600 s): TMR_STS
    clock.advance(600_000_000_000n);
    rd(P.ACPI_PM_TMR_BLK_ADDRESS_V0, 4);
    expect(p.pm?.pm1aSts).toBe(1);
    wr(P.ACPI_PM1A_EVT_BLK_ADDRESS_V0, 0x01, 1);
    expect(p.pm?.pm1aSts).toBe(0);
  });
});

describe("PIC and ELCR (vpic.c)", () => {
  it("ICW1-4 then OCW1 masks; OCW3 selects ISR; ELCR keeps its fixed bits", () => {
    const { rd, wr } = platform();
    wr(0x20, 0x11); // ICW1: cascade, ICW4 needed
    wr(0x21, 0x08); // ICW2: vectors 0x08
    wr(0x21, 0x04); // ICW3
    wr(0x21, 0x01); // ICW4
    wr(0x21, 0xfb); // OCW1
    expect(rd(0x21)).toBe(0xfbn);
    wr(0x20, 0x0b); // OCW3: read ISR
    expect(rd(0x20)).toBe(0n);
    wr(0x20, 0x0c); // OCW3: poll, nothing pending
    expect(rd(0x20)).toBe(0xffn);
    wr(0xa1, 0x5a);
    expect(rd(0xa1)).toBe(0x5an);
    wr(0x4d0, 0xff);
    expect(rd(0x4d0)).toBe(0xf8n); // IRQ 0-2 are always edge; 2 hidden
    wr(0x4d1, 0xff);
    expect(rd(0x4d1)).toBe(0xden); // IRQ 8 and 13 always edge
  });
});

describe("IOAPIC (vioapic.c)", () => {
  it("48 pins, version 0x11, redirection entries reset masked, read-only bits kept", () => {
    const { rdm, wrm } = platform();
    const sel = (r: number): void => { wrm(0xfec00000, BigInt(r)); };
    sel(0x01);
    expect(rdm(0xfec00010)).toBe(0x002f0011n);
    sel(0x10);
    expect(rdm(0xfec00010)).toBe(0x10000n);
    wrm(0xfec00010, 0x1030n | (1n << 12n)); // vector 0x30, level... plus the read-only delivery status
    expect(rdm(0xfec00010)).toBe(0x1030n & ~(1n << 12n));
    sel(0x11);
    wrm(0xfec00010, 0x01000000n);
    expect(rdm(0xfec00010)).toBe(0x01000000n);
    sel(0x00);
    wrm(0xfec00010, 0x05000000n);
    expect(rdm(0xfec00010)).toBe(0x05000000n);
    expect(rdm(0xfec00000)).toBe(0n);
    sel(0x10 + 2 * 48); // past the last pin
    expect(rdm(0xfec00010)).toBe(0n);
  });
});

describe("HPET (hpet.c)", () => {
  it("capabilities, a counter that runs only while enabled, all ones when the param is off", () => {
    const { clock, rdm, wrm } = platform();
    expect(rdm(0xfed00000, 8)).toBe(0x00f42400_8086a201n);
    expect(rdm(0xfed00004, 4)).toBe(0x00f42400n);
    clock.advance(1600n);
    expect(rdm(0xfed000f0, 8)).toBe(0n);
    wrm(0xfed00010, 1n); // enable
    clock.advance(1600n); // 100 ticks of 16 ns
    expect(rdm(0xfed000f0, 8)).toBe(100n);
    wrm(0xfed00010, 0n);
    clock.advance(1600n);
    expect(rdm(0xfed000f0, 8)).toBe(100n);
    expect(rdm(0xfed00002, 4)).toBe(0xffffffffffffffffn); // misaligned
    expect(rdm(0xfed00108, 8)).toBe(0xffffffffffffffffn); // timer 0 comparator
    const off = platform({ hpetEnabled: false });
    expect(off.rdm(0xfed00000, 4)).toBe(0xffffffffffffffffn);
  });
});

describe("LAPIC (vlapic.c)", () => {
  it("per-vCPU ID and version; TPR and DFR keep only their bits", () => {
    const { rdm, wrm } = platform();
    expect(rdm(0xfee00020, 4, 0)).toBe(0n);
    expect(rdm(0xfee00020, 4, 1)).toBe(0x02000000n);
    expect(rdm(0xfee00030)).toBe(0x00050014n);
    expect(rdm(0xfee00320)).toBe(0x10000n);
    wrm(0xfee00080, 0x1234n);
    expect(rdm(0xfee00080)).toBe(0x34n);
    wrm(0xfee000e0, 0n);
    expect(rdm(0xfee000e0)).toBe(0x0fffffffn);
    expect(rdm(0xfee00031, 1)).toBe(0x00n);
    expect(rdm(0xfee00032, 1)).toBe(0x05n);
    expect(rdm(0xfee00032, 4)).toBe(0n); // crosses the 32-bit register
  });
});

describe("hvm_process_io_intercept", () => {
  it("rep insb from the RTC stores each element in guest memory; rep outsb to 0xe9 makes debug console lines", () => {
    const { p, wr } = platform();
    const mem = new Map<bigint, bigint>();
    const buf = {
      read: (gpa: bigint) => mem.get(gpa) ?? 0n,
      write: (gpa: bigint, _n: number, v: bigint) => { mem.set(gpa, v); return true; },
    };
    wr(0x70, P.RTC_REG_A);
    const r = p.intercept(pio(0x71, 1, "read", 0x1000n, { count: 3, dataIsPtr: true }), 0, buf);
    expect(r).toEqual({ rc: "okay", count: 3, data: 0x1000n, handler: "rtc" });
    expect([mem.get(0x1000n), mem.get(0x1001n), mem.get(0x1002n)]).toEqual([0x26n, 0x26n, 0x26n]);
    const text = "hi\nthere\n";
    Buffer.from(text, "latin1").forEach((c, i) => mem.set(0x2000n + BigInt(i), BigInt(c)));
    expect(p.intercept(pio(0xe9, 1, "write", 0x2000n, { count: text.length, dataIsPtr: true }), 0, buf)?.rc).toBe("okay");
    expect(p.debugcon.lines).toEqual(["hi", "there"]);
  });

  it("a first element the device declines goes on alone (count 1): debug console reads, CMOS 0x0e", () => {
    const { p } = platform();
    expect(p.intercept(pio(0xe9, 1, "read", 0n, { count: 4, dataIsPtr: true }), 0)).toEqual({ rc: "unhandleable", count: 1, handler: "debugcon" });
    expect(p.intercept(pio(0x70, 1, "write", 0x0en), 0)?.rc).toBe("unhandleable");
    expect(p.intercept(pio(0x71, 1, "read", 0x1000n, { count: 8, dataIsPtr: true }), 0)).toEqual({ rc: "unhandleable", count: 1, handler: "rtc" });
  });

  it("a later element declined ends the batch there, done elements counted", () => {
    const { p } = platform();
    // rep outsb to 0x70: index 0x0b (handled), then 0x0e (declined)
    const mem = new Map<bigint, bigint>([[0x3000n, 0x0bn], [0x3001n, 0x0en], [0x3002n, 0x01n]]);
    const buf = { read: (gpa: bigint) => mem.get(gpa) ?? 0n, write: () => true };
    expect(p.intercept(pio(0x70, 1, "write", 0x3000n, { count: 3, dataIsPtr: true }), 0, buf)).toMatchObject({ rc: "okay", count: 1 });
  });
});
