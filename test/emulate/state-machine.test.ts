// The sync slot's life: NONE -> READY -> (INPROCESS) -> IORESP_READY -> NONE, and what happens when
// an emulator breaks it. mirrors common/ioreq.c:ioreq_send / wait_for_io.
import { describe, expect, it } from "vitest";
import { readSyncSlot, waitPass } from "../../src/hypervisor/ioreq-send.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { createServer, host, mapRange, setState, GUEST } from "./helpers.js";

function ready() {
  const s = host();
  const id = createServer(s.hv, 0);
  const page = mapResource(s.hv, 0, GUEST, id, 1).page!;
  mapRange(s.hv, id, "PORT", 0x3f8, 0x3ff);
  mapRange(s.hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
  setState(s.hv, id, true);
  const raised: number[] = [];
  s.hv.onNotify((d, p) => raised.push(d * 1000 + p));
  const view = new DataView(page.buffer, page.byteOffset);
  const setStateNibble = (vcpu: number, st: number): void => {
    const o = vcpu * 32 + 30;
    page[o] = (page[o]! & 0xf0) | st;
  };
  const respond = (vcpu: number, data: bigint): void => {
    view.setBigUint64(vcpu * 32 + 8, data, true);
    setStateNibble(vcpu, 3);
  };
  return { ...s, id, page, raised, setStateNibble, respond };
}

describe("the sync state machine", () => {
  it("a send writes the record READY, with the vCPU's port, and raises that port", () => {
    const { guest, page, raised } = ready();
    expect(readSyncSlot(page, 0)).toMatchObject({ state: 0, vp_eport: 1 });
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" });
    expect(readSyncSlot(page, 0)).toMatchObject({ state: 1, vp_eport: 1, addr: 0x3f8n, dir: 1 });
    expect(raised).toEqual([GUEST * 1000 + 1]);
  });

  it("READY and INPROCESS keep the vCPU waiting; IORESP_READY completes it, takes data, and resets the slot", () => {
    const { guest, page, setStateNibble, respond, id } = ready();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 4, dir: "read" });
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: id, vcpu: 0 });
    setStateNibble(0, 2);
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: id, vcpu: 0 });
    expect(guest.waitingOn(GUEST, 0)).toEqual([id]);
    respond(0, 0x1_2345_6789n);
    expect(guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0x23456789n }); // cut to 4 bytes
    expect(readSyncSlot(page, 0).state).toBe(0);
    expect(guest.waitingOn(GUEST, 0)).toEqual([]);
  });

  it("a state going backwards between wake-ups is not noticed: each wake-up starts wait_for_io afresh", () => {
    const { guest, setStateNibble, respond, id } = ready();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" });
    setStateNibble(0, 2);
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: id, vcpu: 0 });
    setStateNibble(0, 1);
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: id, vcpu: 0 });
    expect(guest.crashed(GUEST)).toBeNull();
    respond(0, 0x77n);
    expect(guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0x77n });
  });

  it("within one pass, a state lower than the one before crashes the domain (waitPass)", () => {
    expect(waitPass([1])).toBe("waiting");
    expect(waitPass([1, 2, 2])).toBe("waiting");
    expect(waitPass([1, 2, 3])).toBe("done");
    expect(waitPass([2, 1])).toEqual({ crash: "Weird HVM ioreq state transition 2 -> 1" });
    expect(waitPass([1, 0])).toBe("done");
    expect(waitPass([5])).toEqual({ crash: "Weird HVM iorequest state 5" });
  });

  it("a state above 3 crashes the domain", () => {
    const { guest, setStateNibble } = ready();
    guest.mmio(GUEST, 1, { addr: 0xfeb00000, size: 4, dir: "read" });
    setStateNibble(1, 9);
    expect(guest.complete(GUEST, 1)).toMatchObject({ status: "unhandled", effect: "domain_crash" });
    expect(guest.crashed(GUEST)).toBe("Weird HVM iorequest state 9");
  });

  it("an emulator that puts the slot back to NONE ends the wait with data ~0", () => {
    const { guest, setStateNibble } = ready();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 2, dir: "read" });
    setStateNibble(0, 0);
    expect(guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0xffffn });
    expect(guest.crashed(GUEST)).toBeNull();
  });

  it("a slot that is not NONE at send time makes the send fail: MMIO gets #GP, port I/O crashes the domain", () => {
    const { guest, setStateNibble } = ready();
    setStateNibble(1, 3);
    expect(guest.mmio(GUEST, 1, { addr: 0xfeb00000, size: 4, dir: "read" })).toEqual({
      status: "unhandled",
      reason: "device model set bad IO state 3",
      effect: "gp_fault",
    });
    expect(guest.crashed(GUEST)).toBeNull();
    expect(guest.pio(GUEST, 1, { port: 0x3f8, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "unhandled", effect: "domain_crash" });
    expect(guest.crashed(GUEST)).toMatch(/bad IO state 3/);
  });

  it("a vp_eport that does not match makes the send fail", () => {
    const { guest, page } = ready();
    new DataView(page.buffer).setUint32(24, 77, true);
    expect(guest.mmio(GUEST, 0, { addr: 0xfeb00000, size: 4, dir: "read" })).toMatchObject({ reason: "device model set bad event channel 77" });
  });

  it("a server enabled before its pages exist never gets vp_eport: sends fail until disable + enable", () => {
    const s = host();
    const id = createServer(s.hv, 0);
    mapRange(s.hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
    setState(s.hv, id, true);
    const page = mapResource(s.hv, 0, GUEST, id, 1).page!;
    expect(s.guest.mmio(GUEST, 0, { addr: 0xfeb00000, size: 4, dir: "read" })).toMatchObject({ status: "unhandled", reason: "device model set bad event channel 0" });
    setState(s.hv, id, false);
    setState(s.hv, id, true);
    expect(s.guest.mmio(GUEST, 0, { addr: 0xfeb00000, size: 4, dir: "read" })).toMatchObject({ status: "pending" });
    expect(readSyncSlot(page, 0).vp_eport).toBe(1);
  });

  it("port writes retire at once but the vCPU stays blocked until the answer; data is not taken", () => {
    const { guest, respond, page } = ready();
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x41 })).toMatchObject({ status: "pending" });
    expect(() => guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x42 })).toThrow(/blocked/);
    respond(0, 0xffn);
    expect(guest.complete(GUEST, 0)).toEqual({ status: "done", reps: 1 });
    expect(readSyncSlot(page, 0).state).toBe(0);
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x42 })).toMatchObject({ status: "pending" });
  });

  it("the other vCPU runs while one waits", () => {
    const { guest } = ready();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" });
    expect(guest.pio(GUEST, 1, { port: 0x3f9, size: 1, dir: "read" })).toMatchObject({ status: "pending", vcpu: 1 });
  });

  it("a notification on the vCPU's port wakes it (the emulator side's evtchn notify)", () => {
    const { guest, respond } = ready();
    let got: unknown = null;
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" }, (r) => (got = r));
    respond(0, 0x5an);
    expect(guest.notified(GUEST, 3)).toBeUndefined(); // not the port vCPU 0 waits on
    expect(got).toBeNull();
    expect(guest.notified(GUEST, 1)).toMatchObject({ status: "done", value: 0x5an });
    expect(got).toMatchObject({ status: "done", value: 0x5an });
  });

  it("a domain that is shutting down retries instead of sending", () => {
    const { hv, guest, page } = ready();
    hv.domain(GUEST)!.shutdown.code = 0;
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" })).toEqual({ status: "retry" });
    expect(readSyncSlot(page, 0).state).toBe(0);
  });
});
