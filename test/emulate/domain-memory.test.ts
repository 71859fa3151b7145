// Guest RAM owned by the Domain: the bytes follow relocate_memory, the ioreq gfn pages are the guest's
// own pages, Domain.crashed, the `vga` world key and the persona flags the routing reads.
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { guestOf } from "../../src/hypervisor/emulate.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { XenHost } from "../../src/scenario/xen-host.js";
import { readSyncSlot } from "../../src/hypervisor/ioreq-send.js";
import { createServer, dmop, host, hex, mapRange, ok, setState, world, GUEST } from "./helpers.js";

const PAGE = 0x1000;

function relocate(s: ReturnType<typeof host>, src: number, dst: number, size = 1): number {
  return dmop(s.hv, "relocate_memory", { size, pad: 0, src_gfn: BigInt(src), dst_gfn: BigInt(dst) }).rc;
}

describe("guest RAM on the Domain", () => {
  it("the emulation layer and the Domain share one GuestMemory", () => {
    const s = host();
    s.guest.mem(GUEST, 0, { addr: 0x5010, size: 4, dir: "write", data: 0xdeadbeef });
    const d = s.hv.domain(GUEST)!;
    expect(s.guest.memoryOf(GUEST)).toBe(d.memory);
    expect(d.memory.readUint(0x5010, 4)).toBe(0xdeadbeefn);
  });

  it("relocate_memory moves the page's bytes to dst; src is left unmapped", () => {
    const s = host();
    const d = s.hv.domain(GUEST)!;
    s.guest.mem(GUEST, 0, { addr: 0x20 * PAGE + 8, size: 8, dir: "write", data: 0x1122334455667788n });
    expect(relocate(s, 0x20, 0x40)).toBe(0);
    expect(s.guest.mem(GUEST, 0, { addr: 0x40 * PAGE + 8, size: 8, dir: "read" })).toMatchObject({ status: "done", value: 0x1122334455667788n });
    expect(d.p2m.typeOf(0x20)).not.toBe("ram_rw");
    expect(d.memory.peekPage(0x20)).toBeUndefined();
    // src is a hole now: a read goes to the null handler (all ones), not to the old bytes
    expect(s.guest.mem(GUEST, 0, { addr: 0x20 * PAGE + 8, size: 8, dir: "read" })).toMatchObject({ status: "done", value: 0xffffffffffffffffn });
  });

  it("a RAM page at dst is freed: its bytes are replaced by src's, zeros if src was never written", () => {
    const s = host();
    s.guest.mem(GUEST, 0, { addr: 0x41 * PAGE, size: 4, dir: "write", data: 0xaabbccdd });
    s.guest.mem(GUEST, 0, { addr: 0x42 * PAGE, size: 4, dir: "write", data: 0x01020304 });
    s.guest.mem(GUEST, 0, { addr: 0x21 * PAGE, size: 2, dir: "write", data: 0x5566 });
    expect(relocate(s, 0x21, 0x41, 2)).toBe(0);
    expect(s.guest.mem(GUEST, 0, { addr: 0x41 * PAGE, size: 4, dir: "read" })).toMatchObject({ value: 0x5566n });
    // 0x22 was RAM but never written: 0x42 now reads zeros
    expect(s.guest.mem(GUEST, 0, { addr: 0x42 * PAGE, size: 4, dir: "read" })).toMatchObject({ value: 0n });
    expect(s.hv.domain(GUEST)!.memory.peekPage(0x42)).toBeUndefined();
  });

  it("a refused relocation moves no bytes", () => {
    const s = host();
    const d = s.hv.domain(GUEST)!;
    s.guest.mem(GUEST, 0, { addr: 0x30 * PAGE, size: 1, dir: "write", data: 0x7f });
    s.guest.mem(GUEST, 0, { addr: 0x50 * PAGE, size: 1, dir: "write", data: 0x6e });
    expect(relocate(s, 0x30, 0x31)).toBe(0);
    // 0x30 is a hole now: moving it is -EINVAL and leaves dst's page and bytes alone
    expect(relocate(s, 0x30, 0x50)).toBe(-22);
    expect(d.memory.readUint(0x50 * PAGE, 1)).toBe(0x6en);
    expect(d.memory.readUint(0x31 * PAGE, 1)).toBe(0x7fn);
  });

  it("an ioreq page at a gfn is the guest's page: contents visible until enable clears it", () => {
    const s = host();
    const id = createServer(s.hv, 0);
    const info = ok(dmop(s.hv, "get_ioreq_server_info", { id, flags: 0 }));
    const gfn = Number(info.ioreq_gfn);
    const d = s.hv.domain(GUEST)!;
    const page = d.memory.peekPage(gfn);
    expect(page).toBeDefined();
    // the guest writes its own page (still RAM while the server is disabled): the bytes are the ioreq page's
    s.guest.mem(GUEST, 0, { addr: gfn * PAGE, size: 4, dir: "write", data: 0x0badf00d });
    expect(hex(page!.subarray(0, 4))).toBe("0df0ad0b");
    setState(s.hv, id, true);
    expect(hex(page!.subarray(0, 4))).toBe("00000000");
  });
});

describe("Domain.crashed", () => {
  it("domain_crash from the emulation layer shows in hv.snapshot() with its reason", () => {
    const s = host();
    const id = createServer(s.hv, 0);
    const page = mapResource(s.hv, 0, GUEST, id, 1).page!;
    mapRange(s.hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
    setState(s.hv, id, true);
    expect(s.hv.snapshot(GUEST)!.crashed).toBeNull();
    s.guest.mmio(GUEST, 0, { addr: 0xfeb00000, size: 4, dir: "read" });
    page[30] = (page[30]! & 0xf0) | 7;
    expect(s.guest.complete(GUEST, 0)).toMatchObject({ effect: "domain_crash" });
    expect(s.hv.domain(GUEST)!.crashed).toBe("Weird HVM iorequest state 7");
    expect(s.hv.snapshot(GUEST)!.crashed).toBe("Weird HVM iorequest state 7");
  });

  it("the scenario `query domain` result carries it", () => {
    const hv = new Hypervisor(world());
    const xh = new XenHost(hv);
    expect(xh.query("domain", { domid: GUEST })).toMatchObject({ crashed: null });
    const id = createServer(hv, 0);
    const page = mapResource(hv, 0, GUEST, id, 1).page!;
    mapRange(hv, id, "PORT", 0x60, 0x60);
    setState(hv, id, true);
    const g = guestOf(hv);
    g.pio(GUEST, 1, { port: 0x60, size: 1, dir: "read" });
    page[32 + 30] = (page[32 + 30]! & 0xf0) | 0xf;
    g.complete(GUEST, 1);
    expect(xh.query("domain", { domid: GUEST })).toMatchObject({ crashed: "Weird HVM iorequest state 15" });
  });
});

describe("the vga world key", () => {
  function vramWrite(vga: boolean | undefined) {
    const s = host(world({ domains: [{ domid: GUEST, vcpus: 1, ...(vga === undefined ? {} : { vga }) }] }));
    const id = createServer(s.hv, 1);
    const sync = mapResource(s.hv, 0, GUEST, id, 1).page!;
    mapRange(s.hv, id, "MEMORY", 0xa0000, 0xbffff);
    setState(s.hv, id, true);
    const r = s.guest.mmio(GUEST, 0, { addr: 0xa0010, size: 2, dir: "write", data: 0x1234 });
    return { r, sync, d: s.hv.domain(GUEST)! };
  }

  it("HVM domains have an emulated VGA by default: VRAM writes go buffered", () => {
    const { r, sync, d } = vramWrite(undefined);
    expect(d.vga).toBe(true);
    expect(r.status).toBe("done");
    expect(readSyncSlot(sync, 0).state).toBe(0);
  });

  it("vga: false sends VRAM writes synchronously", () => {
    const { r, sync, d } = vramWrite(false);
    expect(d.vga).toBe(false);
    expect(r).toMatchObject({ status: "pending" });
    expect(readSyncSlot(sync, 0)).toMatchObject({ state: 1, addr: 0xa0010n, data: 0x1234n, type: 1 });
  });

  it("a non-boolean world key is refused", () => {
    expect(() => host(world({ domains: [{ domid: GUEST, vga: "yes" as unknown as boolean }] }))).toThrow(/vga/);
  });
});

describe("persona flags read by the routing", () => {
  it("master: an unsupported buffered request is UNHANDLED; 4.9: df strings are selected upwards", async () => {
    const { makePersona } = await import("../../src/hypervisor/persona.js");
    expect(makePersona("master").bufferedUnsupportedUnhandled).toBe(true);
    expect(makePersona("4.17").bufferedUnsupportedUnhandled).toBe(false);
    expect(makePersona("4.17").selectDfDownwards).toBe(true);
    expect(makePersona("4.9").selectDfDownwards).toBe(false);
  });

  it("4.9 selects a df = 1 string by [addr, addr + span - 1], 4.17 by the bytes below addr", () => {
    for (const xen of ["4.17", "4.9"] as const) {
      const s = host(world({ xen }));
      const id = createServer(s.hv, 0);
      mapResource(s.hv, 0, GUEST, id, 1);
      mapRange(s.hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
      setState(s.hv, id, true);
      // 4 elements of 4 bytes backwards from 0xfeb00ffc: 4.17 sees 0xfeb00ff0..0xfeb00fff (the server's),
      // 4.9 sees 0xfeb00ffc..0xfeb0100b (past the range: the null handler)
      const r = s.guest.mmio(GUEST, 0, { addr: 0xfeb00ffc, size: 4, count: 4, df: true, dir: "read" });
      if (xen === "4.9") expect(r).toMatchObject({ status: "done" });
      else expect(r).toMatchObject({ status: "pending", server: id });
    }
  });
});
