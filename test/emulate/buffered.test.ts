// The buffered ring (ioreq.c:ioreq_send_buffered), stdvga, TIMEOFFSET and INVALIDATE broadcasts.
import { describe, expect, it } from "vitest";
import { sendBuffered, type IoreqServerLike, type IoreqFields } from "../../src/hypervisor/ioreq-send.js";
import { RangeSet } from "../../src/hypervisor/rangeset.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { readSyncSlot } from "../../src/hypervisor/ioreq-send.js";
import { createServer, dmop, host, mapRange, ok, setState, GUEST } from "./helpers.js";

function ringServer(handling: 0 | 1 | 2) {
  const page = new Uint8Array(4096);
  const s: IoreqServerLike = {
    id: 0,
    enabled: true,
    bufioreqHandling: handling,
    ranges: { port: new RangeSet(), memory: new RangeSet(), pci: new RangeSet() },
    ioreqPage: { page: new Uint8Array(4096) },
    bufioreqPage: { page: handling === 0 ? null : page },
    ioreqEvtchn: [1],
    bufioreqEvtchn: 2,
  };
  const view = new DataView(page.buffer);
  const raised: number[] = [];
  return {
    s,
    page,
    rp: () => view.getUint32(0, true),
    wp: () => view.getUint32(4, true),
    setRp: (v: number): void => {
      view.setUint32(0, v >>> 0, true);
    },
    setWp: (v: number): void => {
      view.setUint32(4, v >>> 0, true);
    },
    raised,
    env: (master = false) => ({ notify: (p: number) => raised.push(p), bufferedUnsupportedIsUnhandled: master }),
  };
}

const w = (addr: bigint, size: number, data = 0n, extra: Partial<IoreqFields> = {}): IoreqFields => ({
  addr, data, count: 1, size, vp_eport: 0, state: 1, data_is_ptr: 0, dir: 0, df: 0, type: 1, ...extra,
});

describe("ioreq_send_buffered", () => {
  it("stores one slot, advances write_pointer and raises the buffered port", () => {
    const r = ringServer(1);
    expect(sendBuffered(r.s, w(0xa0000n, 4, 7n), r.env())).toEqual({ status: "handled" });
    expect([r.rp(), r.wp()]).toEqual([0, 1]);
    expect(r.raised).toEqual([2]);
  });

  it("no buffered page, or size not 1/2/4/8: UNHANDLED", () => {
    expect(sendBuffered(ringServer(0).s, w(0xa0000n, 4), ringServer(0).env()).status).toBe("unhandled");
    const r = ringServer(1);
    expect(sendBuffered(r.s, w(0xa0000n, 3), r.env())).toMatchObject({ status: "unhandled", reason: "unexpected ioreq size: 3" });
  });

  it("addr > 0xfffff, data_is_ptr or count != 1: dropped as handled in 4.17, UNHANDLED in master", () => {
    for (const req of [w(0x100000n, 4), w(0xa0000n, 4, 0n, { data_is_ptr: 1 }), w(0xa0000n, 4, 0n, { count: 2 })]) {
      const r = ringServer(1);
      expect(sendBuffered(r.s, req, r.env(false)).status).toBe("handled");
      expect(r.wp()).toBe(0);
      expect(r.raised).toEqual([]);
      expect(sendBuffered(r.s, req, r.env(true)).status).toBe("unhandled");
    }
  });

  it("the ring is full at 511 slots (510 for an 8-byte request)", () => {
    const r = ringServer(1);
    r.setRp(1000);
    r.setWp(1000 + 510);
    expect(sendBuffered(r.s, w(0xa0000n, 8), r.env()).status).toBe("unhandled");
    expect(sendBuffered(r.s, w(0xa0000n, 4), r.env()).status).toBe("handled");
    expect(r.wp()).toBe(1511);
    expect(sendBuffered(r.s, w(0xa0000n, 1), r.env())).toMatchObject({ status: "unhandled", reason: "buffered ioreq ring is full" });
  });

  it("indexes wrap modulo 511; the second half of a quad word may wrap to slot 0", () => {
    const r = ringServer(1);
    r.setRp(510);
    r.setWp(510);
    sendBuffered(r.s, w(0xb8000n, 8, 0x1111111122222222n), r.env());
    const v = new DataView(r.page.buffer);
    expect(v.getUint32(8 + 510 * 8 + 4, true)).toBe(0x22222222);
    expect(v.getUint32(8 + 0 * 8 + 4, true)).toBe(0x11111111);
    expect(r.wp()).toBe(512); // LEGACY: never folded
  });

  it("ATOMIC folds both pointers by multiples of 511 once read_pointer >= 511", () => {
    const r = ringServer(2);
    r.setRp(1022 + 5);
    r.setWp(1022 + 7);
    sendBuffered(r.s, w(0xa0000n, 2), r.env());
    expect([r.rp(), r.wp()]).toEqual([5, 8]);
    const l = ringServer(1);
    l.setRp(1027);
    l.setWp(1029);
    sendBuffered(l.s, w(0xa0000n, 2), l.env());
    expect([l.rp(), l.wp()]).toEqual([1027, 1030]);
  });

  it("pointer arithmetic is u32: a write_pointer that wrapped past 2^32 still sees the right distance", () => {
    const r = ringServer(1);
    r.setRp(0xffff_fffe);
    r.setWp(0x0000_0003);
    expect(sendBuffered(r.s, w(0xa0000n, 4), r.env()).status).toBe("handled");
    expect(r.wp()).toBe(4);
  });
});

function vgaHost(bufioreq: number, vga = true) {
  const s = host(undefined, { vga });
  const id = createServer(s.hv, bufioreq);
  const sync = mapResource(s.hv, 0, GUEST, id, 1).page!;
  const buf = bufioreq !== 0 ? mapResource(s.hv, 0, GUEST, id, 0).page! : null;
  mapRange(s.hv, id, "MEMORY", 0xa0000, 0xbffff);
  setState(s.hv, id, true);
  return { ...s, id, sync, buf };
}

describe("stdvga", () => {
  it("single direct writes in 0xA0000-0xBFFFF go buffered; the vCPU does not wait", () => {
    const { guest, buf, sync } = vgaHost(1);
    expect(guest.mmio(GUEST, 0, { addr: 0xa1234, size: 4, dir: "write", data: 0xcafe })).toMatchObject({ status: "done" });
    expect(new DataView(buf!.buffer).getUint32(4, true)).toBe(1);
    expect(readSyncSlot(sync, 0).state).toBe(0);
  });

  it("reads and rep writes go the synchronous way", () => {
    const { guest, sync } = vgaHost(1);
    expect(guest.mmio(GUEST, 0, { addr: 0xa0000, size: 2, dir: "read" })).toMatchObject({ status: "pending" });
    expect(readSyncSlot(sync, 0)).toMatchObject({ state: 1, dir: 1 });
    expect(guest.mmio(GUEST, 1, { addr: 0xa0000, size: 2, dir: "write", count: 4, data_is_ptr: true, data: 0x1000 })).toMatchObject({ status: "pending" });
  });

  it("bufioreq off falls back to a sync send", () => {
    const { guest, sync } = vgaHost(0);
    expect(guest.mmio(GUEST, 0, { addr: 0xa0000, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending" });
    expect(readSyncSlot(sync, 0)).toMatchObject({ state: 1, addr: 0xa0000n, data: 1n });
  });

  it("a full ring falls back to a sync send", () => {
    const { guest, buf, sync } = vgaHost(1);
    new DataView(buf!.buffer).setUint32(4, 511, true);
    expect(guest.mmio(GUEST, 0, { addr: 0xa0000, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending" });
    expect(readSyncSlot(sync, 0).state).toBe(1);
  });

  it("without emulated VGA everything is synchronous", () => {
    const { guest, buf } = vgaHost(1, false);
    expect(guest.mmio(GUEST, 0, { addr: 0xa0000, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending" });
    expect(new DataView(buf!.buffer).getUint32(4, true)).toBe(0);
  });
});

describe("TIMEOFFSET broadcast", () => {
  it("goes to every enabled server with bufioreq; disabled and bufioreq-off servers are skipped", () => {
    const s = host();
    const a = createServer(s.hv, 1);
    const b = createServer(s.hv, 0);
    const c = createServer(s.hv, 2);
    const pages = [a, c].map((id) => mapResource(s.hv, 0, GUEST, id, 0).page!);
    mapResource(s.hv, 0, GUEST, b, 1);
    for (const id of [a, b, c]) setState(s.hv, id, true);
    expect(s.guest.timeOffset(GUEST, 60)).toEqual({ failed: 0, sent: [c, a] });
    setState(s.hv, c, false);
    expect(s.guest.timeOffset(GUEST, 60)).toEqual({ failed: 0, sent: [a] });
    expect(pages.map((p) => new DataView(p.buffer).getUint32(4, true))).toEqual([4, 2]);
  });

  it("a zero change sends nothing; a full ring counts as a failure with no fallback", () => {
    const s = host();
    const a = createServer(s.hv, 1);
    const page = mapResource(s.hv, 0, GUEST, a, 0).page!;
    setState(s.hv, a, true);
    expect(s.guest.timeOffset(GUEST, 0)).toEqual({ failed: 0, sent: [] });
    new DataView(page.buffer).setUint32(4, 510, true);
    expect(s.guest.timeOffset(GUEST, 1)).toEqual({ failed: 1, sent: [] });
  });
});

describe("INVALIDATE broadcast", () => {
  function inv() {
    const s = host();
    const a = createServer(s.hv, 0);
    const b = createServer(s.hv, 0);
    const c = createServer(s.hv, 0);
    const pages = [a, b, c].map((id) => mapResource(s.hv, 0, GUEST, id, 1).page!);
    setState(s.hv, a, true);
    setState(s.hv, b, true);
    mapRange(s.hv, a, "PORT", 0x60, 0x60);
    return { ...s, a, b, c, pages };
  }
  const answer = (page: Uint8Array, vcpu: number): void => {
    page[vcpu * 32 + 30] = (page[vcpu * 32 + 30]! & 0xf0) | 3;
  };

  it("after relocate_memory every vCPU sends it to every enabled server before running on, then the access goes", () => {
    const { hv, guest, a, b, pages } = inv();
    ok(dmop(hv, "relocate_memory", { size: 1, src_gfn: 0x200n, dst_gfn: 0x300n }));
    expect(guest.pio(GUEST, 0, { port: 0x60, size: 1, dir: "read" })).toEqual({ status: "pending", server: b, vcpu: 0 });
    expect(readSyncSlot(pages[1]!, 0)).toMatchObject({ type: 8, size: 4, count: 0, data: 0xffffffffffffffffn, dir: 0, state: 1 });
    expect(readSyncSlot(pages[0]!, 0)).toMatchObject({ type: 8, state: 1 });
    expect(readSyncSlot(pages[2]!, 0).state).toBe(0); // disabled server c gets nothing
    answer(pages[1]!, 0);
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: a, vcpu: 0 });
    answer(pages[0]!, 0);
    // both answered: the port read goes out to server a
    expect(guest.complete(GUEST, 0)).toEqual({ status: "pending", server: a, vcpu: 0 });
    expect(readSyncSlot(pages[0]!, 0)).toMatchObject({ type: 0, addr: 0x60n, state: 1 });
    // vCPU 1 was flagged as well
    expect(guest.resume(GUEST, 1)).toEqual({ status: "pending", server: b, vcpu: 1 });
  });

  it("with no enabled server the flag is simply cleared", () => {
    const s = host();
    ok(dmop(s.hv, "relocate_memory", { size: 1, src_gfn: 0x200n, dst_gfn: 0x300n }));
    expect(s.guest.resume(GUEST, 0)).toEqual({ status: "done" });
    expect(s.guest.resume(GUEST, 0)).toEqual({ status: "done" });
  });
});
