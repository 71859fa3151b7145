// Xen's platform devices in the guest-access routing: what they claim never reaches an ioreq server
// (even one that registered the range, as QEMU registers 0x70-0x71), what they decline does, and the
// RTC's time changes reach the servers as buffered TIMEOFFSET records.
import { describe, expect, it } from "vitest";
import type { EmitEvent } from "../../src/hypervisor/emulate.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { WorldError, type WorldConfig } from "../../src/hypervisor/world.js";
import { IOREQ_TYPE_TIMEOFFSET } from "../../src/hypervisor/ioreq-record.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { GUEST, createServer, host, mapRange, setState } from "../emulate/helpers.js";

function qemuLike(w?: WorldConfig) {
  const s = host(w);
  const id = createServer(s.hv, 1); // HVM_IOREQSRV_BUFIOREQ_LEGACY: buffered records go to it
  for (const [a, b] of [[0x70, 0x71], [0x40, 0x43], [0x61, 0x61], [0x20, 0x21], [0xe9, 0xe9], [0x3f8, 0x3ff]] as const) mapRange(s.hv, id, "PORT", a, b);
  mapRange(s.hv, id, "MEMORY", 0xfec00000, 0xfec00fff);
  mapRange(s.hv, id, "MEMORY", 0xfed00000, 0xfed003ff);
  // the emulator maps the server's pages (bufioreq frame 0, ioreq frame 1), as QEMU does
  mapResource(s.hv, 0, GUEST, id, 0);
  mapResource(s.hv, 0, GUEST, id, 1);
  setState(s.hv, id, true);
  const emitted: EmitEvent[] = [];
  s.guest.onEmit((e) => emitted.push(e));
  return { ...s, id, emitted };
}

describe("platform devices take their accesses before range selection", () => {
  it("RTC registers are answered by Xen; CMOS 0x0e goes to the device model as two port ioreqs", () => {
    const { guest, emitted } = qemuLike();
    guest.resume(GUEST, 0);
    emitted.length = 0;
    expect(guest.pio(GUEST, 0, { port: 0x70, size: 1, dir: "write", data: 0x0a })).toMatchObject({ status: "done" });
    expect(guest.pio(GUEST, 0, { port: 0x71, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0x26n });
    expect(emitted).toEqual([]);
    expect(guest.pio(GUEST, 0, { port: 0x70, size: 1, dir: "write", data: 0x0e })).toMatchObject({ status: "pending" });
    expect(emitted.map((e) => [e.slot, e.fields.addr, e.fields.dir, e.fields.data])).toEqual([["sync", 0x70n, 0, 0x0en]]);
  });

  it("PIT, PIC, IOAPIC and HPET accesses emit nothing; the serial port still goes to the server", () => {
    const { guest, emitted } = qemuLike();
    guest.resume(GUEST, 0);
    emitted.length = 0;
    expect(guest.pio(GUEST, 0, { port: 0x43, size: 1, dir: "write", data: 0x34 })).toMatchObject({ status: "done" });
    expect(guest.pio(GUEST, 0, { port: 0x21, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0n });
    expect(guest.mmio(GUEST, 0, { addr: 0xfec00000, size: 4, dir: "write", data: 1 })).toMatchObject({ status: "done" });
    expect(guest.mmio(GUEST, 0, { addr: 0xfec00010, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0x002f0011n });
    expect(guest.mmio(GUEST, 0, { addr: 0xfed00000, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0x8086a201n });
    expect(emitted).toEqual([]);
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x41 })).toMatchObject({ status: "pending" });
    expect(emitted).toHaveLength(1);
  });

  it("with no emulation flags the same accesses reach the server", () => {
    const { guest, emitted } = qemuLike({ domains: [{ domid: GUEST, vcpus: 2, emulation_flags: [] }] });
    guest.resume(GUEST, 0);
    emitted.length = 0;
    expect(guest.pio(GUEST, 0, { port: 0x70, size: 1, dir: "write", data: 0x0a })).toMatchObject({ status: "pending" });
    expect(emitted.map((e) => e.fields.addr)).toEqual([0x70n]);
  });

  it("an MMIO access that runs off the IOAPIC's window crashes the domain, as hvm_mmio_accept does", () => {
    const { hv, guest } = qemuLike();
    guest.resume(GUEST, 0);
    const r = guest.mmio(GUEST, 0, { addr: 0xfec000fc, size: 8, dir: "read" });
    expect(r).toMatchObject({ status: "unhandled" });
    expect(hv.domain(GUEST)?.crashed).toMatch(/ioapic/);
  });
});

describe("the RTC's time change", () => {
  it("is broadcast buffered as TIMEOFFSET with the delta, once", () => {
    const { guest, emitted, hv } = qemuLike();
    guest.resume(GUEST, 0);
    emitted.length = 0;
    const w = (port: number, data: number): void => { guest.pio(GUEST, 0, { port, size: 1, dir: "write", data }); };
    w(0x70, 0x0b);
    w(0x71, 0x82); // set mode, 24 h
    w(0x70, 0x09);
    guest.pio(GUEST, 0, { port: 0x71, size: 1, dir: "read" });
    const rtc = hv.domain(GUEST)!.platform!.rtc!;
    const year = rtc.cmos[9]!;
    w(0x71, year === 0x99 ? 0x00 : ((year >> 4) * 10 + (year & 0xf) + 1) % 10 === 0 ? year + 7 : year + 1); // one year on
    w(0x70, 0x0b);
    w(0x71, 0x02); // leave set mode: the time is set
    const t = emitted.filter((e) => e.fields.type === IOREQ_TYPE_TIMEOFFSET);
    expect(t).toHaveLength(1);
    expect(t[0]!.slot).toBe("buffered");
    const delta = Number(BigInt.asIntN(64, t[0]!.fields.data));
    expect([365 * 86400, 366 * 86400]).toContain(delta);
    expect(rtc.timeOffset).toBe(delta);
  });
});

describe("world keys", () => {
  it("are checked and named", () => {
    const bad: [object, string][] = [
      [{ emulation_flags: ["rtc", "nope"] }, "domains[0].emulation_flags[1]"],
      [{ emulation_flags: 0x800 }, "domains[0].emulation_flags"],
      [{ acpi_ioports_location: 2 }, "domains[0].acpi_ioports_location"],
      [{ hpet_enabled: 1 }, "domains[0].hpet_enabled"],
      [{ rtc_timeoffset: "x" }, "domains[0].rtc_timeoffset"],
    ];
    for (const [keys, path] of bad) {
      let err: unknown;
      try {
        new Hypervisor({ domains: [{ domid: 1, ...keys }] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WorldError);
      expect((err as WorldError).path).toBe(path);
    }
    const hv = new Hypervisor({ domains: [{ domid: 1, emulation_flags: ["rtc", "pit"], acpi_ioports_location: 1 }, { domid: 2, type: "pv" }] });
    expect(hv.domain(1)?.platform?.claims().map((c) => c.handler)).toEqual(["rtc", "debugcon", "pit", "pit-speaker"]);
    expect(hv.domain(2)?.platform).toBeNull();
    expect(hv.domain(0)?.platform).toBeNull();
  });
});
