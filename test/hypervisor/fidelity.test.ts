// Fidelity findings: rules of Xen's dm_op paths the fake once answered differently, each cited.
import { describe, expect, it } from "vitest";
import { mapResource } from "../../src/hypervisor/resource.js";
import { call, makeHv, out } from "./helpers.js";

const CREATE = 1, INFO = 2, STATE = 5, DESTROY = 6;

describe("event channels of ioreq servers", () => {
  // event_channel.c:get_free_port, 4.17.7 (and 4.9.0): a dying domain gets no new port (-EINVAL), so
  // ioreq_server_add_vcpu, hence ioreq_server_create, fails for a domain with vCPUs.
  it("create_ioreq_server on a dying domain fails -EINVAL (get_free_port) and leaves nothing", () => {
    for (const xen of ["4.17", "master"] as const) {
      const hv = makeHv({ xen, domains: [{ domid: 1, dying: true }] });
      expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(-22);
      expect(hv.explain()?.mirrors).toBe("event_channel.c:get_free_port");
      expect(hv.server(1, 0).exists).toBe(false);
      expect(hv.domain(1)!.evtchn.list()).toEqual([]);
    }
  });
  it("a dying domain without vCPUs still gets a server (no port is asked for)", () => {
    const hv = makeHv({ domains: [{ domid: 1, dying: true, vcpus: 0 }] });
    expect(call(hv, CREATE).rc).toBe(0);
  });

  // event_channel.c:evtchn_allocate_port, 4.17.7: port > d->max_evtchn_port is -ENOSPC; the domain's
  // max_evtchn_port comes from XEN_DOMCTL_createdomain, which libxl fills with event_channels (default
  // 1023, libxl_create.c:libxl__domain_build_info_setdefault).
  it("ports stop at max_evtchn_port (default 1023): 8 servers x 129 ports do not fit", () => {
    const hv = makeHv({ domains: [{ domid: 1, vcpus: 128 }] });
    for (let i = 0; i < 7; i++) expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(0);
    // 7 x 129 = 903 ports used (1..903); the 8th needs 129 more, past 1023
    expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(-28);
    expect(hv.server(1, 7).exists).toBe(false);
    expect(hv.domain(1)!.evtchn.list().length).toBe(903);
    // the failed server's ports were all given back: a small server still fits
    const small = makeHv({ domains: [{ domid: 1, vcpus: 128, max_evtchn_port: 4095 }] });
    for (let i = 0; i < 8; i++) expect(call(small, CREATE, { handle_bufioreq: 1 }).rc).toBe(0);
  });
  it("max_evtchn_port is a checked world key", () => {
    expect(() => makeHv({ domains: [{ domid: 1, max_evtchn_port: -1 }] })).toThrow(/max_evtchn_port/);
  });
});

describe("ioreq pages mapped at guest frames", () => {
  // memory.c:check_get_page_from_gfn, 4.17.7 (CONFIG_X86): a p2m_mmio_direct gfn is -EPERM for
  // prepare_ring_for_helper, so hvm_map_ioreq_gfn and get_ioreq_server_info fail -EPERM.
  it("4.17: a pool gfn that is mmio_direct fails get_info with -EPERM; the gfn goes back to the pool", () => {
    const hv = makeHv({ domains: [{ domid: 1, mmio_direct: ["0xfff0"] }] });
    call(hv, CREATE);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-1);
    expect(hv.explain()?.mirrors).toBe("memory.c:check_get_page_from_gfn");
    expect(hv.domain(1)!.ioreq.gfnPool.mask & 1n).toBe(1n);
  });
  // memory.c:prepare_ring_for_helper, 4.9.0: no mmio_direct case; no page -> -EINVAL
  it("4.9: the same gfn is -EINVAL at create", () => {
    const hv = makeHv({ xen: "4.9", domains: [{ domid: 1, mmio_direct: ["0xfff0"] }] });
    expect(call(hv, CREATE).rc).toBe(-22);
  });

  // ioreq.c:ioreq_server_alloc_pages, 4.17.7: when the sync page is already gfn-mapped,
  // ioreq_server_alloc_mfn(s, false) is -EPERM and the failure path still runs
  // ioreq_server_free_mfn(s, false): the server forgets its sync page but keeps ioreq.gfn. The next
  // get_info (hvm_map_ioreq_gfn sees no page) takes a fresh gfn from the pool; the old one is never
  // given back.
  it("acquire_resource after get_info: -EPERM, and the server drops its gfn-mapped sync page", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    call(hv, CREATE, { handle_bufioreq: 1 });
    const first = out(INFO, call(hv, INFO, { id: 0 }).buf);
    expect(first).toMatchObject({ ioreq_gfn: 0xfff0n, bufioreq_gfn: 0xfff1n });
    expect(mapResource(hv, 0, 1, 0, 1).rc).toBe(-1);
    const s = hv.domain(1)!.ioreq.servers[0]!;
    expect(s.ioreqPage.page).toBeNull();
    expect(s.bufioreqPage.page).not.toBeNull();
    const again = out(INFO, call(hv, INFO, { id: 0 }).buf);
    expect(again).toMatchObject({ ioreq_gfn: 0xfff2n, bufioreq_gfn: 0xfff1n });
    // 0xfff0 stays taken (leaked) even after destroy
    expect(call(hv, DESTROY, { id: 0 }).rc).toBe(0);
    expect(hv.domain(1)!.ioreq.gfnPool.mask & 0xffn).toBe(0xfen);
  });
  it("acquire_resource frame 0 after get_info: pages are set up before the frame is chosen, so the sync page goes too", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    call(hv, CREATE, { handle_bufioreq: 1 });
    call(hv, INFO, { id: 0 });
    expect(mapResource(hv, 0, 1, 0, 0).rc).toBe(-1);
    const s = hv.domain(1)!.ioreq.servers[0]!;
    expect(s.ioreqPage).toMatchObject({ gfn: 0xfff0, page: null });
    expect(s.bufioreqPage.gfn).toBe(0xfff1);
    expect(s.bufioreqPage.page).not.toBeNull();
  });
  it("acquire_resource before get_info still works and get_info is then -EPERM", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    call(hv, CREATE, { handle_bufioreq: 1 });
    expect(mapResource(hv, 0, 1, 0, 1).rc).toBe(0);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-1);
    expect(call(hv, INFO, { id: 0, flags: 1 }).rc).toBe(0);
    expect(call(hv, STATE, { id: 0, enabled: 1 }).rc).toBe(0);
  });
});

describe("an ioreq page at a gfn is the guest's own page", () => {
  // x86 hvm/ioreq.c:hvm_map_ioreq_gfn, 4.17.7: prepare_ring_for_helper maps the page the guest already
  // has at the gfn (no clear_page there); hvm_remove_ioreq_gfn (enable) and hvm_add_ioreq_gfn (disable)
  // clear it.
  it("get_info shares the guest's bytes; enable and disable zero them", async () => {
    const { guestOf } = await import("../../src/hypervisor/emulate.js");
    const hv = makeHv({ domains: [{ domid: 1 }] });
    const mem = guestOf(hv).memoryOf(1);
    expect(mem).toBe(hv.domain(1)!.memory);
    mem.write(0xfff0 * 4096 + 8, Uint8Array.of(0xaa, 0xbb));
    call(hv, CREATE, { handle_bufioreq: 1 });
    expect(out(INFO, call(hv, INFO, { id: 0 }).buf)).toMatchObject({ ioreq_gfn: 0xfff0n });
    const s = hv.domain(1)!.ioreq.servers[0]!;
    expect([...s.ioreqPage.page!.subarray(8, 10)]).toEqual([0xaa, 0xbb]);
    // the emulator writing the mapped page is seen by the guest (the page is still in its physmap)
    s.bufioreqPage.page![0] = 0x77;
    expect(mem.read(0xfff1 * 4096, 1)[0]).toBe(0x77);
    expect(call(hv, STATE, { id: 0, enabled: 1 }).rc).toBe(0);
    // cleared, then ioreq_server_update_evtchn writes each vCPU's vp_eport
    expect([...s.ioreqPage.page!.subarray(8, 10)]).toEqual([0, 0]);
    expect(s.bufioreqPage.page![0]).toBe(0);
    mem.write(0xfff0 * 4096, Uint8Array.of(5));
    expect(call(hv, STATE, { id: 0, enabled: 0 }).rc).toBe(0);
    expect(mem.read(0xfff0 * 4096, 16).every((b) => b === 0)).toBe(true);
  });
  it("4.9: the pages taken at create are the guest's pages too", () => {
    const hv = makeHv({ xen: "4.9", domains: [{ domid: 1 }] });
    hv.domain(1)!.memory.write(0xfff0 * 4096, Uint8Array.of(9));
    const id = out(CREATE, call(hv, CREATE).buf).id as number;
    expect(hv.domain(1)!.ioreq.servers[id]!.ioreqPage.page![0]).toBe(9);
  });
});

describe("inject_msi", () => {
  // vlapic.c:vlapic_lowest_prio, 4.17.7: d->vcpu[round_robin_prev_vcpu] is NULL for a domain without
  // vCPUs, so no target is found and vmsi_deliver returns -ESRCH.
  it("lowest priority on a domain with no vCPUs is -ESRCH; fixed delivery reaches nobody (0)", () => {
    const hv = makeHv({ domains: [{ domid: 1, vcpus: 0 }] });
    const INJECT_MSI = 14;
    expect(call(hv, INJECT_MSI, { addr: 0xfee00000n, data: (1 << 8) | 0x30 }).rc).toBe(-3);
    expect(call(hv, INJECT_MSI, { addr: 0xfee00000n, data: 0x30 }).rc).toBe(0);
    expect(hv.domain(1)!.irq.lastMsi).toEqual({ vector: 0x30, dest: 0, destMode: 0, deliveryMode: 0, trigMode: 0, vcpus: [] });
  });
});

describe("mapcache invalidation requests", () => {
  // ioreq.c:ioreq_request_mapcache_invalidate, 4.17.7: called by p2m_remove_page from a DMOP (current is
  // the device model, never the target), it flags the target's vCPUs only once d->creation_finished.
  it("4.17: enabling a gfn-mapped server of a domain under construction asks for no invalidation", () => {
    const hv = makeHv({ domains: [{ domid: 1, creation_finished: false }] });
    call(hv, CREATE);
    call(hv, INFO, { id: 0 });
    expect(call(hv, STATE, { id: 0, enabled: 1 }).rc).toBe(0);
    expect(hv.domain(1)!.mapcacheInvalidatePending).toBe(false);
    expect(hv.domain(1)!.p2m.typeOf(0xfff0)).not.toBe("ram_rw");
  });
  it("4.17: once the domain has run (the default), it does", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    call(hv, CREATE);
    call(hv, INFO, { id: 0 });
    call(hv, STATE, { id: 0, enabled: 1 });
    expect(hv.domain(1)!.mapcacheInvalidatePending).toBe(true);
  });
  // 4.9.0 hvm/ioreq.c:hvm_remove_ioreq_gmfn -> guest_physmap_remove_page: 4.9 has no
  // ioreq_request_mapcache_invalidate; only the guest's own decrease_reservation set the flag.
  it("4.9: enabling a server asks for no invalidation", () => {
    const hv = makeHv({ xen: "4.9", domains: [{ domid: 1 }] });
    const id = out(CREATE, call(hv, CREATE).buf).id as number;
    expect(call(hv, STATE, { id, enabled: 1 }).rc).toBe(0);
    expect(hv.domain(1)!.mapcacheInvalidatePending).toBe(false);
  });
});

describe("relocate_memory: struct xen_add_to_physmap.size is a uint16_t", () => {
  const RELOCATE = 17;
  // dm.c:dm_op XEN_DMOP_relocate_memory, 4.17.7: xatp.size = data->size truncates to 16 bits;
  // xenmem_add_to_physmap moves xatp.size pages, then "rc == 0 && data->size != xatp.size" turns the
  // finished chunk into a continuation (size -= chunk, gfns += chunk). A pass whose low 16 bits are 0
  // moves nothing and returns 0: only size & 0xffff pages ever move.
  it("4.17: size 0x10000 moves nothing and returns 0, buffer untouched", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    const r = call(hv, RELOCATE, { size: 0x10000, src_gfn: 0x10n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 0x10000, pad: 0, src_gfn: 0x10n, dst_gfn: 0x20000n });
    expect(hv.domain(1)!.p2m.typeOf(0x10)).toBe("ram_rw");
    expect(hv.domain(1)!.p2m.typeOf(0x20000)).not.toBe("ram_rw");
  });
  it("4.17: size 0x10003 moves 3 pages; the buffer keeps the continuation's size 0x10000", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    const r = call(hv, RELOCATE, { size: 0x10003, src_gfn: 0x10n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    expect(hv.lastPasses).toBe(2);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 0x10000, pad: 0, src_gfn: 0x13n, dst_gfn: 0x20003n });
    const p = hv.domain(1)!.p2m;
    expect(p.ranges(0x20000, 0x20003)).toEqual([
      { first: 0x20000, last: 0x20002, type: "ram_rw" }, { first: 0x20003, last: 0x20003, type: p.typeOf(0x20003) },
    ]);
    expect(p.typeOf(0x13)).toBe("ram_rw");
  });
  it("4.17: the wrap check sees the truncated size", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    // 2^64-2 + 1 does not wrap (size & 0xffff = 1), so this is not -EOVERFLOW; gfn 2^64-2 is beyond the p2m
    expect(call(hv, RELOCATE, { size: 0x10001, src_gfn: 0x10n, dst_gfn: (1n << 64n) - 2n }).rc).not.toBe(-75);
  });
  // master (7acc7dd36b): the finished-chunk continuation adds the chunk to xatp.idx/gpfn, which already
  // point past it, so the written-back gfns advance by twice the chunk.
  it("master: the truncated chunk's continuation advances the gfns twice", () => {
    const hv = makeHv({ xen: "master", domains: [{ domid: 1 }] });
    const r = call(hv, RELOCATE, { size: 0x10003, src_gfn: 0x10n, dst_gfn: 0x20000n });
    expect(r.rc).toBe(0);
    expect(out(RELOCATE, r.buf)).toEqual({ size: 0x10000, pad: 0, src_gfn: 0x16n, dst_gfn: 0x20006n });
  });
});

describe("inject_msi with vector 0 (emulated pirqs)", () => {
  const INJECT_MSI = 14;
  const pirqAddr = (pirq: number): bigint => (BigInt(pirq & ~0xff) << 32n) | 0xfee00000n | BigInt((pirq & 0xff) << 12);
  // x86/irq.c:map_domain_emuirq_pirq, 4.17.7: the emuirq -> pirq radix tree is keyed by the emuirq, and
  // every emulated MSI uses the one key IRQ_MSI_EMU. Once pirq A holds it, binding another pirq B finds
  // old_pirq A != B and returns 0 without allocating B's struct pirq; hvm_inject_msi then finds no
  // pirq_info for B and returns -EBUSY.
  it("only the first emulated MSI pirq binds; another pirq is -EBUSY, the first keeps working", () => {
    const hv = makeHv({ domains: [{ domid: 1 }] });
    expect(call(hv, INJECT_MSI, { addr: pirqAddr(5), data: 0 }).rc).toBe(0);
    expect(call(hv, INJECT_MSI, { addr: pirqAddr(6), data: 0 }).rc).toBe(-16);
    expect(hv.explain()?.mirrors).toBe("hvm/irq.c:hvm_inject_msi");
    expect(call(hv, INJECT_MSI, { addr: pirqAddr(5), data: 0 }).rc).toBe(0);
    expect([...hv.domain(1)!.irq.pirqsRaised]).toEqual([5]);
    // the range check comes first
    expect(call(hv, INJECT_MSI, { addr: pirqAddr(300), data: 0 }).rc).toBe(-22);
  });
});

describe("prepare_ring_for_helper's lookup side effects", () => {
  // memory.c:check_get_page_from_gfn, 4.17.7: get_page_from_gfn(P2M_UNSHARE) populates a PoD entry
  // (the ring then uses the new page); a paging type asks for a page-in (p2m_mem_paging_populate) and
  // fails -EAGAIN, which prepare_ring_for_helper turns into -ENOENT.
  it("a populate-on-demand pool gfn is populated and used", () => {
    const hv = makeHv({ domains: [{ domid: 1, pod: ["0xfff0"] }] });
    call(hv, CREATE);
    const r = call(hv, INFO, { id: 0 });
    expect(r.rc).toBe(0);
    expect(out(INFO, r.buf)).toMatchObject({ ioreq_gfn: 0xfff0n });
    expect(hv.domain(1)!.p2m.typeOf(0xfff0)).toBe("ram_rw");
  });
  it("a paged-out pool gfn is -ENOENT and asks for a page-in", () => {
    const hv = makeHv({ domains: [{ domid: 1, paging: ["0xfff0"] }] });
    call(hv, CREATE);
    const before = hv.domain(1)!.p2m.pagingPopulateRequests;
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-2);
    expect(hv.domain(1)!.p2m.pagingPopulateRequests).toBe(before + 1);
  });
  // the same function with CONFIG_MEM_SHARING: a gfn still shared after the unsharing lookup (in this model
  // unsharing always fails) is -EAGAIN -> -ENOENT (4.9's prepare_ring_for_helper: -ENOENT directly)
  it("a shared pool gfn is -ENOENT (4.17 and 4.9)", () => {
    const hv = makeHv({ domains: [{ domid: 1, shared: ["0xfff0"] }] });
    call(hv, CREATE);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-2);
    const hv49 = makeHv({ xen: "4.9", domains: [{ domid: 1, shared: ["0xfff0"] }] });
    expect(call(hv49, CREATE).rc).toBe(-2);
  });
});
