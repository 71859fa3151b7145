// Where a guest access goes: range selection, the null handler, PCI config decode, MMIO splitting,
// p2m_ioreq_server pages and plain RAM. mirrors emulate.c:hvmemul_do_io and ioreq.c:ioreq_server_select.
import { describe, expect, it } from "vitest";
import { GuestAccessError, splitMmio, type EmitEvent } from "../../src/hypervisor/emulate.js";
import { readSyncSlot } from "../../src/hypervisor/ioreq-send.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { attachInProcess } from "../../src/transport/ioreq-inprocess.js";
import { createServer, dmop, host, mapRange, ok, setState, GUEST } from "./helpers.js";

function two() {
  const s = host();
  const a = createServer(s.hv, 0);
  const b = createServer(s.hv, 0);
  const pa = mapResource(s.hv, 0, GUEST, a, 1).page!;
  const pb = mapResource(s.hv, 0, GUEST, b, 1).page!;
  const emitted: EmitEvent[] = [];
  s.guest.onEmit((e) => emitted.push(e));
  return { ...s, a, b, pa, pb, emitted };
}

/** Answers every sync request of server `id` with `value` (reads) as soon as it arrives. */
function answer(hv: ReturnType<typeof host>["hv"], id: number, value: (addr: bigint) => bigint = () => 0n) {
  const client = attachInProcess(hv, { caller: 0, domid: GUEST, id });
  const seen: { type: number; addr: bigint; size: number; count: number; dir: number; data: bigint }[] = [];
  void client.serve((r) => {
    seen.push({ type: r.type, addr: r.addr, size: r.size, count: r.count, dir: r.dir, data: r.data });
    return value(r.addr);
  });
  return { client, seen };
}

describe("range selection", () => {
  it("the highest enabled id wins; disabled servers are skipped", () => {
    const { hv, guest, a, b } = two();
    mapRange(hv, a, "PORT", 0x3f8, 0x3ff);
    mapRange(hv, b, "PORT", 0x3f8, 0x3ff);
    setState(hv, a, true);
    setState(hv, b, true);
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending", server: b });
    setState(hv, b, false);
    expect(guest.pio(GUEST, 1, { port: 0x3f8, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending", server: a });
  });

  it("the whole port access must lie inside one range; count is not looked at", () => {
    const { hv, guest, a, emitted } = two();
    mapRange(hv, a, "PORT", 0x3f8, 0x3f9);
    setState(hv, a, true);
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 4, dir: "read" })).toEqual({ status: "done", value: 0xffffffffn, reps: 1 });
    expect(emitted).toHaveLength(0);
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 2, dir: "write", count: 100, data_is_ptr: true, data: 0x1000 })).toMatchObject({ status: "pending", server: a });
  });

  it("no server: reads are all ones cut to the size, writes vanish, nothing is emitted", () => {
    const { guest, emitted } = two();
    expect(guest.pio(GUEST, 0, { port: 0x80, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0xffn });
    expect(guest.pio(GUEST, 0, { port: 0x80, size: 2, dir: "read" })).toMatchObject({ status: "done", value: 0xffffn });
    expect(guest.mmio(GUEST, 0, { addr: 0xfee01000, size: 8, dir: "read" })).toMatchObject({ status: "done", value: 0xffffffffffffffffn });
    expect(guest.mmio(GUEST, 0, { addr: 0xfee01000, size: 4, dir: "write", data: 5 })).toMatchObject({ status: "done" });
    expect(emitted).toHaveLength(0);
  });

  it("rep ins with no server writes all ones into guest memory, downwards with df", () => {
    const { hv, guest } = two();
    const r = guest.pio(GUEST, 0, { port: 0x60, size: 2, dir: "read", count: 3, data_is_ptr: true, data: 0x5004, df: true });
    expect(r).toMatchObject({ status: "done" });
    const mem = guest.mem(GUEST, 0, { addr: 0x4ffe, size: 10, dir: "read" });
    expect(mem.status === "done" ? [...mem.bytes!] : []).toEqual([0, 0, 255, 255, 255, 255, 255, 255, 0, 0]);
    expect(hv.domain(GUEST)!.pciCf8).toBe(0);
  });

  it("MMIO ranges use [addr - (count-1)*size, addr + size - 1] with df", () => {
    const { hv, guest, a, emitted } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb0000f);
    setState(hv, a, true);
    // df=1, count 4, size 4 at 0xfeb0000c covers 0xfeb00000..0xfeb0000f
    expect(guest.mmio(GUEST, 0, { addr: 0xfeb0000c, size: 4, dir: "write", count: 4, df: true, data_is_ptr: true, data: 0x9000 })).toMatchObject({ status: "pending" });
    // the same access upwards would run past the range: null handler
    expect(guest.mmio(GUEST, 1, { addr: 0xfeb0000c, size: 4, dir: "write", count: 4, data_is_ptr: true, data: 0x9000 })).toMatchObject({ status: "done" });
    expect(emitted.map((e) => e.vcpu)).toEqual([0]);
  });

  it("4.9 ignored df for MMIO ranges", () => {
    const s = host({ xen: "4.9", domains: [{ domid: GUEST, vcpus: 2 }] });
    const id = createServer(s.hv, 0);
    mapRange(s.hv, id, "MEMORY", 0xfeb00000, 0xfeb0000f);
    setState(s.hv, id, true);
    // 4.9 maps the pages at gfns when the server is created; enabling removes them from the physmap,
    // but 4.9 has no ioreq_request_mapcache_invalidate there (only a guest's own decrease_reservation
    // asked for one), so the vCPU resumes without sending INVALIDATE
    expect(s.hv.domain(GUEST)!.mapcacheInvalidatePending).toBe(false);
    expect(s.guest.mmio(GUEST, 0, { addr: 0xfeb0000c, size: 4, dir: "write", count: 4, df: true, data_is_ptr: true, data: 0x9000 })).toMatchObject({ status: "done" });
  });
});

describe("rep MMIO is cut at the page", () => {
  it("upwards: count shrinks to what fits in the page", () => {
    const { hv, guest, a, pa } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb01fff);
    setState(hv, a, true);
    guest.mmio(GUEST, 0, { addr: 0xfeb00ff8, size: 4, dir: "write", count: 10, data_is_ptr: true, data: 0x9000 });
    expect(readSyncSlot(pa, 0)).toMatchObject({ count: 2, addr: 0xfeb00ff8n, data_is_ptr: 1 });
  });

  it("downwards: (offset + size) / size elements", () => {
    const { hv, guest, a, pa } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb01fff);
    setState(hv, a, true);
    guest.mmio(GUEST, 0, { addr: 0xfeb00008, size: 4, dir: "write", count: 10, df: true, data_is_ptr: true, data: 0x9000 });
    expect(readSyncSlot(pa, 0)).toMatchObject({ count: 3, df: 1 });
  });

  it("an element that itself crosses the page: count 1", () => {
    const { hv, guest, a, pa } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb01fff);
    setState(hv, a, true);
    guest.mmio(GUEST, 0, { addr: 0xfeb00ffe, size: 4, dir: "write", count: 10, data_is_ptr: true, data: 0x9000 });
    expect(readSyncSlot(pa, 0)).toMatchObject({ count: 1 });
  });

  it("the result reports the reps done", () => {
    const { hv, guest, a } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb01fff);
    answer(hv, a);
    setState(hv, a, true);
    expect(guest.mmio(GUEST, 0, { addr: 0xfeb00ff8, size: 4, dir: "write", count: 10, data_is_ptr: true, data: 0x9000 })).toEqual({ status: "done", reps: 2 });
  });
});

describe("single MMIO accesses are split", () => {
  const sizes = (addr: bigint, size: number): number[] => splitMmio(addr, size, 1, new Uint8Array(size)).map((c) => c.size);
  it("into power-of-two chunks of at most 8, largest first", () => {
    expect(sizes(0x1000n, 1)).toEqual([1]);
    expect(sizes(0x1000n, 3)).toEqual([2, 1]);
    expect(sizes(0x1000n, 7)).toEqual([4, 2, 1]);
    expect(sizes(0x1000n, 12)).toEqual([8, 4]);
    expect(sizes(0x1000n, 16)).toEqual([8, 8]);
    expect(sizes(0x1000n, 64)).toEqual([8, 8, 8, 8, 8, 8, 8, 8]);
  });
  it("at the page boundary first", () => {
    expect(sizes(0x1ffdn, 7)).toEqual([2, 1, 4]);
    expect(splitMmio(0x1ffdn, 7, 1, new Uint8Array(7)).map((c) => Number(c.addr))).toEqual([0x1ffd, 0x1fff, 0x2000]);
  });

  it("each chunk is routed on its own and sent after the previous one completed", () => {
    const { hv, guest, a, b } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb00fff);
    mapRange(hv, b, "MEMORY", 0xfeb01000, 0xfeb01fff);
    setState(hv, a, true);
    setState(hv, b, true);
    const ca = attachInProcess(hv, { caller: 0, domid: GUEST, id: a });
    const cb = attachInProcess(hv, { caller: 0, domid: GUEST, id: b });
    const r = guest.mmio(GUEST, 0, { addr: 0xfeb00ffe, size: 4, dir: "read" });
    expect(r).toEqual({ status: "pending", server: a, vcpu: 0 });
    expect(cb.poll()).toBe(0); // the second half has not gone out yet
    return (async () => {
      const first = (await ca.next())!;
      expect(first).toMatchObject({ addr: 0xfeb00ffen, size: 2 });
      ca.respond(first, 0xbbaa);
      const second = (await cb.next())!;
      expect(second).toMatchObject({ addr: 0xfeb01000n, size: 2 });
      cb.respond(second, 0xddcc);
      expect(guest.lastResult(GUEST, 0)).toMatchObject({ status: "done", value: 0xddccbbaan });
    })();
  });

  it("a write's bytes are cut the same way", () => {
    const { hv, guest, a } = two();
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb00fff);
    const { seen } = answer(hv, a);
    setState(hv, a, true);
    expect(guest.mmio(GUEST, 0, { addr: 0xfeb00100, size: 7, dir: "write", data: 0x07060504030201n })).toMatchObject({ status: "done" });
    expect(seen.map((s) => [Number(s.addr), s.size, s.data])).toEqual([
      [0xfeb00100, 4, 0x04030201n],
      [0xfeb00104, 2, 0x0605n],
      [0xfeb00106, 1, 0x07n],
    ]);
  });
});

describe("PCI config through 0xCF8 / 0xCFC", () => {
  it("4-byte writes to 0xCF8 are latched and also routed as port writes", () => {
    const { hv, guest, a } = two();
    mapRange(hv, a, "PORT", 0xcf8, 0xcff);
    const { seen } = answer(hv, a);
    setState(hv, a, true);
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80001810 });
    expect(guest.cf8(GUEST)).toBe(0x80001810);
    expect(seen[0]).toMatchObject({ type: 0, addr: 0xcf8n, size: 4, data: 0x80001810n });
    guest.pio(GUEST, 0, { port: 0xcf8, size: 2, dir: "write", data: 0x1234 });
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "read" });
    expect(guest.cf8(GUEST)).toBe(0x80001810);
  });

  it("with bit 31 set, 0xCFC-0xCFF match pci ranges by SBDF and become type 2; port ranges are not used", () => {
    const { hv, guest, a, b } = two();
    mapRange(hv, a, "PCI", 0x18, 0x18);
    mapRange(hv, b, "PORT", 0xcfc, 0xcff);
    const sa = answer(hv, a, () => 0x8086n);
    const sb = answer(hv, b);
    setState(hv, a, true);
    setState(hv, b, true);
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80001810 });
    expect(guest.pio(GUEST, 0, { port: 0xcfe, size: 2, dir: "read" })).toMatchObject({ status: "done", value: 0x8086n });
    expect(sa.seen).toEqual([{ type: 2, addr: 0x0000_0018_0000_0012n, size: 2, count: 1, dir: 1, data: 0n }]);
    // another device: no pci range matches -> null handler, never the port range
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80002000 });
    expect(guest.pio(GUEST, 0, { port: 0xcfc, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0xffffffffn });
    expect(sb.seen).toEqual([]);
    // bit 31 clear: 0xCFC is an ordinary port again
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x00001810 });
    guest.pio(GUEST, 0, { port: 0xcfc, size: 1, dir: "write", data: 7 });
    expect(sb.seen).toEqual([{ type: 0, addr: 0xcfcn, size: 1, count: 1, dir: 0, data: 7n }]);
  });

  it("a PCI config write through PIO does not wait for data but still blocks the vCPU", () => {
    const { hv, guest, a, pa } = two();
    mapRange(hv, a, "PCI", 0x18, 0x18);
    setState(hv, a, true);
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80001804 });
    expect(guest.pio(GUEST, 0, { port: 0xcfc, size: 2, dir: "write", data: 0x0106 })).toMatchObject({ status: "pending" });
    expect(readSyncSlot(pa, 0)).toMatchObject({ type: 2, addr: 0x1800000004n, data: 0x106n, dir: 0 });
    expect(() => guest.pio(GUEST, 0, { port: 0x80, size: 1, dir: "read" })).toThrow(GuestAccessError);
  });

  it("AMD extended config bits extend the register when enabled", () => {
    const s = host(undefined, { amdExtendedCf8: true });
    const id = createServer(s.hv, 0);
    mapResource(s.hv, 0, GUEST, id, 1);
    mapRange(s.hv, id, "PCI", 0x18, 0x18);
    setState(s.hv, id, true);
    s.guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x83001810 });
    s.guest.pio(GUEST, 0, { port: 0xcfc, size: 4, dir: "read" });
    expect(readSyncSlot(mapResource(s.hv, 0, GUEST, id, 1).page!, 0).addr).toBe(0x1800000310n);
  });
});

describe("plain memory and p2m_ioreq_server pages", () => {
  function claimed() {
    const t = two();
    ok(dmop(t.hv, "map_mem_type_to_ioreq_server", { id: t.a, type: "HVMMEM_ioreq_server", flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE" }));
    ok(dmop(t.hv, "set_mem_type", { mem_type: "HVMMEM_ioreq_server", first_pfn: 0x100n, nr: 2 }));
    return t;
  }

  it("RAM is real bytes; untouched RAM reads zeros", () => {
    const { guest, emitted } = two();
    expect(guest.mem(GUEST, 0, { addr: 0x5000, size: 8, dir: "read" })).toMatchObject({ status: "done", value: 0n });
    guest.mem(GUEST, 0, { addr: 0x5ffe, size: 4, dir: "write", data: 0xaabbccdd });
    expect(guest.mem(GUEST, 1, { addr: 0x5ffe, size: 4, dir: "read" })).toMatchObject({ value: 0xaabbccddn });
    expect(emitted).toHaveLength(0);
  });

  it("writes to ram_ro are discarded", () => {
    const { hv, guest } = two();
    guest.mem(GUEST, 0, { addr: 0x7000, size: 4, dir: "write", data: 0x11223344 });
    ok(dmop(hv, "set_mem_type", { mem_type: "HVMMEM_ram_ro", first_pfn: 0x7n, nr: 1 }));
    expect(guest.mem(GUEST, 0, { addr: 0x7000, size: 4, dir: "write", data: 0x55 })).toMatchObject({ status: "done" });
    expect(guest.mem(GUEST, 0, { addr: 0x7000, size: 4, dir: "read" })).toMatchObject({ value: 0x11223344n });
  });

  it("writes go to the claimant with no range check and no enabled check; reads come from RAM", () => {
    const { hv, guest, a, pa, emitted } = claimed();
    // enable once (writes vp_eport into the slots), then disable; server a has no ranges
    setState(hv, a, true);
    setState(hv, a, false);
    expect(guest.mem(GUEST, 0, { addr: 0x100ff0, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0n });
    expect(guest.mem(GUEST, 0, { addr: 0x100008, size: 4, dir: "write", data: 0xdeadbeef })).toEqual({ status: "pending", server: a, vcpu: 0 });
    expect(readSyncSlot(pa, 0)).toMatchObject({ type: 1, addr: 0x100008n, size: 4, dir: 0, data: 0xdeadbeefn, state: 1 });
    expect(emitted).toHaveLength(1);
  });

  it("a claimant that was never enabled has vp_eport 0 in its slots: the send fails (#GP)", () => {
    const { guest, pa, emitted } = claimed();
    expect(guest.mem(GUEST, 0, { addr: 0x100008, size: 4, dir: "write", data: 1 })).toMatchObject({ status: "unhandled", effect: "gp_fault" });
    expect(emitted[0]).toMatchObject({ status: "unhandled", reason: "device model set bad event channel 0" });
    expect(readSyncSlot(pa, 0).state).toBe(0);
  });

  it("the read half of a read-modify-write (an MMIO read there) is served from RAM", () => {
    const { hv, guest, a, emitted } = claimed();
    ok(dmop(hv, "set_mem_type", { mem_type: "HVMMEM_ram_rw", first_pfn: 0x101n, nr: 1 }));
    guest.mem(GUEST, 0, { addr: 0x101000, size: 4, dir: "write", data: 0x01020304 });
    ok(dmop(hv, "set_mem_type", { mem_type: "HVMMEM_ioreq_server", first_pfn: 0x101n, nr: 1 }));
    expect(guest.mmio(GUEST, 0, { addr: 0x101000, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0x01020304n });
    expect(emitted).toHaveLength(0);
    expect(guest.waitingOn(GUEST, 0)).not.toContain(a);
  });

  it("no claimant: writes are retried, nothing is sent (destroyed claimant, §4.6)", () => {
    const { hv, guest, a, emitted } = claimed();
    ok(dmop(hv, "destroy_ioreq_server", { id: a }));
    expect(guest.mem(GUEST, 0, { addr: 0x100000, size: 4, dir: "write", data: 1 })).toEqual({ status: "retry" });
    expect(guest.mem(GUEST, 0, { addr: 0x100000, size: 4, dir: "read" })).toMatchObject({ status: "done" });
    expect(emitted).toHaveLength(0);
  });

  it("after disclaim the pages are ram_rw and writes land in RAM", () => {
    const { hv, guest, a, emitted } = claimed();
    ok(dmop(hv, "map_mem_type_to_ioreq_server", { id: a, type: "HVMMEM_ioreq_server", flags: 0 }));
    expect(guest.mem(GUEST, 0, { addr: 0x100000, size: 4, dir: "write", data: 9 })).toMatchObject({ status: "done" });
    expect(guest.mem(GUEST, 0, { addr: 0x100000, size: 4, dir: "read" })).toMatchObject({ value: 9n });
    expect(emitted).toHaveLength(0);
  });

  it("MMIO holes take the MMIO path from a plain access", () => {
    const { hv, guest, a } = two();
    mapRange(hv, a, "MEMORY", 0xa0000, 0xbffff);
    setState(hv, a, true);
    expect(guest.mem(GUEST, 0, { addr: 0xa0000, size: 1, dir: "read" })).toMatchObject({ status: "pending", server: a });
  });
});

describe("hostile rep counts", () => {
  it("string instructions do at most 4096 repetitions per emulation", () => {
    const { guest } = two();
    const t0 = Date.now();
    expect(guest.pio(GUEST, 0, { port: 0x61, size: 1, dir: "read", count: 0xffffffff, data_is_ptr: true, data: 0x10000 })).toEqual({ status: "done", reps: 4096 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(guest.memoryOf(GUEST).touchedPages).toBe(1);
  });
  it("the clipped count is what the ioreq carries", () => {
    const { hv, guest, a, pa } = two();
    mapRange(hv, a, "PORT", 0x1f0, 0x1f7);
    setState(hv, a, true);
    guest.pio(GUEST, 0, { port: 0x1f0, size: 2, dir: "write", count: 100000, data_is_ptr: true, data: 0x2000 });
    expect(readSyncSlot(pa, 0).count).toBe(4096);
  });
});

describe("architectures", () => {
  it("an Arm host attaches no domain: guest accesses are refused, not routed the x86 way", () => {
    const s = host({ arch: "arm", domains: [{ domid: GUEST }] });
    expect(() => s.guest.mmio(GUEST, 0, { addr: 0x1000, size: 4, dir: "read" })).toThrow(/not attached/);
  });
});

describe("bad input", () => {
  it("is refused with the field named", () => {
    const { guest } = two();
    expect(() => guest.pio(GUEST, 0, { port: 0x10000, size: 1, dir: "read" })).toThrow(/port/);
    expect(() => guest.pio(GUEST, 0, { port: 0x60, size: 8, dir: "read" })).toThrow(/size/);
    expect(() => guest.pio(GUEST, 0, { port: 0x60, size: 1, dir: "read", count: 0 })).toThrow(/count/);
    expect(() => guest.pio(GUEST, 7, { port: 0x60, size: 1, dir: "read" })).toThrow(/vCPU 7/);
    expect(() => guest.mmio(GUEST, 0, { addr: 0x1000, size: 65, dir: "read" })).toThrow(/size/);
    expect(() => guest.mem(9, 0, { addr: 0x1000, size: 1, dir: "read" })).toThrow(/domain 9/);
    expect(() => guest.mmio(GUEST, 0, { addr: 0x1000, size: Number.NaN, dir: "read", count: 2, data_is_ptr: true })).toThrow(GuestAccessError);
    expect(() => guest.mmio(GUEST, 0, { addr: -1, size: 4, dir: "read" })).toThrow(/addr/);
    expect(() => guest.mem(GUEST, 0, { addr: 2 ** 52, size: 4, dir: "read" })).toThrow(/addr/);
    expect(() => guest.pio(GUEST, 0, { port: 0x60, size: 1, dir: "write", data: 2 ** 60 })).toThrow(/data/);
  });
  it("a rep element of a size Xen cannot emulate is unhandled (#GP), with a hostile count not looped over", () => {
    const { guest } = two();
    expect(guest.mmio(GUEST, 0, { addr: 0xfee00000, size: 3, dir: "read", count: 0xffffffff, data_is_ptr: true, data: 0 })).toMatchObject({
      status: "unhandled",
      effect: "gp_fault",
    });
  });
});
