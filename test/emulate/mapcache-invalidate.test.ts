// When a flagged vCPU sends the mapcache INVALIDATE. Xen 4.17.7 checks v->mapcache_invalidate at the end
// of vcpu_ioreq_handle_completion, which hvm_do_resume runs before the guest executes anything: no guest
// step of a flagged vCPU happens before the broadcast is answered, a plain RAM access included. During a
// split access the completion re-emulates first (the answered chunk is taken, the next one is sent), and
// only then comes the broadcast, which finds the next chunk's slot busy ("device model set bad IO state").
// mirrors common/ioreq.c:vcpu_ioreq_handle_completion, ioreq_signal_mapcache_invalidate, wait_for_io,
// get_pending_vcpu; arch/x86/hvm/hvm.c:hvm_do_resume
import { describe, expect, it } from "vitest";
import type { EmitEvent } from "../../src/hypervisor/emulate.js";
import { readSyncSlot } from "../../src/hypervisor/ioreq-send.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { createServer, dmop, host, mapRange, ok, setState, GUEST } from "./helpers.js";

const RAM = 0x200000;

function flagged() {
  const s = host();
  const a = createServer(s.hv, 0);
  const b = createServer(s.hv, 0);
  const pages = [a, b].map((id) => mapResource(s.hv, 0, GUEST, id, 1).page!);
  mapRange(s.hv, a, "MEMORY", 0xfeb00000, 0xfeb00fff);
  mapRange(s.hv, b, "MEMORY", 0xfeb01000, 0xfeb01fff);
  setState(s.hv, a, true);
  setState(s.hv, b, true);
  const emitted: EmitEvent[] = [];
  s.guest.onEmit((e) => emitted.push(e));
  const answer = (id: number, vcpu: number, data?: bigint): void => {
    const page = pages[id === a ? 0 : 1]!;
    if (data !== undefined) new DataView(page.buffer, page.byteOffset).setBigUint64(vcpu * 32 + 8, data, true);
    page[vcpu * 32 + 30] = (page[vcpu * 32 + 30]! & 0xf0) | 3;
  };
  const relocate = (): void => void ok(dmop(s.hv, "relocate_memory", { size: 1, src_gfn: 0x400n, dst_gfn: 0x500n }));
  return { ...s, a, b, pages, emitted, answer, relocate };
}

describe("a flagged vCPU broadcasts INVALIDATE before any guest step", () => {
  it("a plain RAM read waits for the broadcast and then reads", () => {
    const s = flagged();
    s.guest.memoryOf(GUEST).write(RAM, Uint8Array.of(0x11, 0x22, 0x33, 0x44));
    s.relocate();
    let final: unknown = null;
    const r = s.guest.mem(GUEST, 0, { addr: RAM, size: 4, dir: "read" }, (x) => (final = x));
    expect(r).toEqual({ status: "pending", server: s.b, vcpu: 0 });
    expect(s.emitted.map((e) => [e.server, e.fields.type])).toEqual([[s.b, 8], [s.a, 8]]);
    expect(final).toBeNull();
    s.answer(s.b, 0);
    s.answer(s.a, 0);
    expect(s.guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0x44332211n });
    expect(final).toMatchObject({ status: "done", value: 0x44332211n });
    // the flag is consumed: the next access goes straight to RAM
    expect(s.guest.mem(GUEST, 0, { addr: RAM, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0x11n });
    expect(s.emitted).toHaveLength(2);
  });

  it("a RAM write lands only after the broadcast is answered", () => {
    const s = flagged();
    s.relocate();
    expect(s.guest.mem(GUEST, 1, { addr: RAM, size: 2, dir: "write", data: 0xbeef })).toMatchObject({ status: "pending", vcpu: 1 });
    expect(s.guest.memoryOf(GUEST).read(RAM, 2)).toEqual(Uint8Array.of(0, 0));
    s.answer(s.b, 1);
    s.answer(s.a, 1);
    expect(s.guest.complete(GUEST, 1)).toMatchObject({ status: "done" });
    expect(s.guest.memoryOf(GUEST).read(RAM, 2)).toEqual(Uint8Array.of(0xef, 0xbe));
  });

  it("a discarded write to ram_ro waits as well", () => {
    const s = flagged();
    ok(dmop(s.hv, "set_mem_type", { mem_type: "HVMMEM_ram_ro", first_pfn: 0x300n, nr: 1 }));
    s.relocate();
    expect(s.guest.mem(GUEST, 0, { addr: 0x300000, size: 4, dir: "write", data: 1 })).toMatchObject({ status: "pending" });
    expect(s.emitted.map((e) => e.fields.type)).toEqual([8, 8]);
  });

  it("enabling a server whose pages were gfn-mapped flags every vCPU (the enable pauses the domain)", () => {
    const s = host();
    const id = createServer(s.hv, 0);
    ok(dmop(s.hv, "get_ioreq_server_info", { id })); // gfn-maps the pages
    setState(s.hv, id, true);
    const emitted: EmitEvent[] = [];
    s.guest.onEmit((e) => emitted.push(e));
    expect(s.guest.mem(GUEST, 1, { addr: RAM, size: 8, dir: "read" })).toEqual({ status: "pending", server: id, vcpu: 1 });
    expect(emitted.map((e) => [e.vcpu, e.fields.type])).toEqual([[1, 8]]);
  });
});

describe("the flag raised while a split access waits", () => {
  it("the next chunk goes first, then the broadcast, which skips the server holding that chunk", () => {
    const s = flagged();
    let final: unknown = null;
    // 8 bytes at 0xfeb00ffc: 4 to server a, 4 to server b
    expect(s.guest.mmio(GUEST, 0, { addr: 0xfeb00ffc, size: 8, dir: "read" }, (x) => (final = x))).toEqual({ status: "pending", server: s.a, vcpu: 0 });
    s.relocate();
    s.answer(s.a, 0, 0x88776655n);
    // completion takes a's chunk, re-emulation sends b's chunk, then INVALIDATE: b's slot is busy, a gets it
    expect(s.guest.complete(GUEST, 0)).toEqual({ status: "pending", server: s.b, vcpu: 0 });
    const tail = s.emitted.slice(1).map((e) => [e.server, e.fields.type, e.status]);
    expect(tail).toEqual([
      [s.b, 1, "retry"],
      [s.b, 8, "unhandled"],
      [s.a, 8, "retry"],
    ]);
    expect(s.emitted[2]!.reason).toBe("device model set bad IO state 1");
    expect(readSyncSlot(s.pages[0]!, 0)).toMatchObject({ type: 8, state: 1 });
    expect(readSyncSlot(s.pages[1]!, 0)).toMatchObject({ type: 1, addr: 0xfeb01000n, state: 1 });
    expect(s.guest.waitingOn(GUEST, 0)).toEqual([s.b, s.a]);
    // b answers its chunk with the data; a answers the INVALIDATE with its data field untouched (~0).
    // wait_for_io stores each answer's data into the pending chunk, in get_pending_vcpu's order (b, then a).
    s.answer(s.b, 0, 0x44332211n);
    s.answer(s.a, 0);
    expect(s.guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0xffffffff88776655n });
    expect(final).toMatchObject({ status: "done", value: 0xffffffff88776655n });
    expect(s.emitted).toHaveLength(4);
  });

  it("on the last chunk the access completes and then the broadcast goes to every server", () => {
    const s = flagged();
    expect(s.guest.mmio(GUEST, 0, { addr: 0xfeb00ff0, size: 4, dir: "read" })).toEqual({ status: "pending", server: s.a, vcpu: 0 });
    s.relocate();
    s.answer(s.a, 0, 0x1234n);
    expect(s.guest.complete(GUEST, 0)).toEqual({ status: "pending", server: s.b, vcpu: 0 });
    expect(s.emitted.slice(1).map((e) => [e.server, e.fields.type, e.status])).toEqual([
      [s.b, 8, "retry"],
      [s.a, 8, "retry"],
    ]);
    s.answer(s.b, 0);
    s.answer(s.a, 0);
    // the read's own answer is kept: the broadcast went out after the access had its data
    expect(s.guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0x1234n });
  });
});
