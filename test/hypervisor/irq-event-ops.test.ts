import { describe, expect, it } from "vitest";
import { call, makeHv } from "./helpers.js";

const INTX = 8, ISA = 9, LINK = 10, EVENT = 13, MSI = 14, SHUTDOWN = 16, CACHEATTR = 18;

describe("set_pci_intx_level", () => {
  it("checks the address first, then level", () => {
    const hv = makeHv();
    expect(call(hv, INTX, { domain: 1, level: 7 }).rc).toBe(-22);
    expect(hv.explain()!.rule).toMatch(/INTx address/);
    expect(call(hv, INTX, { bus: 1 }).rc).toBe(-22);
    expect(call(hv, INTX, { device: 32 }).rc).toBe(-22);
    expect(call(hv, INTX, { intx: 4 }).rc).toBe(-22);
    expect(call(hv, INTX, { device: 31, intx: 3, level: 2 }).rc).toBe(-22);
    expect(hv.explain()!.rule).toMatch(/level/);
  });
  it("asserts the GSI and the routed link once; deassert mirrors", () => {
    const hv = makeHv();
    expect(call(hv, LINK, { link: 1, isa_irq: 10 }).rc).toBe(0);
    expect(call(hv, INTX, { device: 1, intx: 0, level: 1 }).rc).toBe(0);
    expect(call(hv, INTX, { device: 1, intx: 0, level: 1 }).rc).toBe(0);
    // GSI 16 + (1*4 + 0 + 0) = 20; link (1+0)&3 = 1 -> ISA IRQ 10
    let s = hv.snapshot(1)!.irq;
    expect(s.gsi_assert_count).toEqual({ "20": 1, "10": 1 });
    expect(s.pci_intx).toEqual(["1:A"]);
    expect(s.link_assert_count).toEqual([0, 1, 0, 0]);
    // moving the route moves the assertion
    expect(call(hv, LINK, { link: 1, isa_irq: 11 }).rc).toBe(0);
    expect(hv.snapshot(1)!.irq.gsi_assert_count).toEqual({ "20": 1, "11": 1 });
    expect(call(hv, INTX, { device: 1, intx: 0, level: 0 }).rc).toBe(0);
    expect(call(hv, INTX, { device: 1, intx: 0, level: 0 }).rc).toBe(0);
    s = hv.snapshot(1)!.irq;
    expect(s.gsi_assert_count).toEqual({});
    expect(s.link_route).toEqual([0, 11, 0, 0]);
  });
  it("device 8 wraps into the GSI formula", () => {
    const hv = makeHv();
    call(hv, INTX, { device: 8, intx: 3, level: 1 });
    // 16 + ((32 + 1 + 3) & 31) = 20
    expect(hv.snapshot(1)!.irq.gsi_assert_count).toEqual({ "20": 1 });
  });
});

describe("set_isa_irq_level and set_pci_link_route", () => {
  it("bounds and GSI mapping (IRQ 0 -> GSI 2)", () => {
    const hv = makeHv();
    expect(call(hv, ISA, { isa_irq: 16, level: 1 }).rc).toBe(-22);
    expect(call(hv, ISA, { isa_irq: 1, level: 2 }).rc).toBe(-22);
    expect(call(hv, ISA, { isa_irq: 0, level: 1 }).rc).toBe(0);
    expect(call(hv, ISA, { isa_irq: 0, level: 1 }).rc).toBe(0);
    expect(call(hv, ISA, { isa_irq: 4, level: 1 }).rc).toBe(0);
    expect(hv.snapshot(1)!.irq).toMatchObject({ isa_irqs: [0, 4], gsi_assert_count: { "2": 1, "4": 1 } });
    expect(call(hv, LINK, { link: 4, isa_irq: 1 }).rc).toBe(-22);
    expect(call(hv, LINK, { link: 3, isa_irq: 16 }).rc).toBe(-22);
    expect(hv.explain()!.mirrors).toBe("hvm/irq.c:hvm_set_pci_link_route");
  });
});

describe("inject_event", () => {
  it("pads, vCPU bound, -EBUSY while pending", () => {
    const hv = makeHv();
    expect(call(hv, EVENT, { vcpuid: 0, pad0: 1 }).rc).toBe(-22);
    expect(call(hv, EVENT, { vcpuid: 0, pad1: 1 }).rc).toBe(-22);
    expect(call(hv, EVENT, { vcpuid: 2, vector: 14 }).rc).toBe(-22);
    expect(call(hv, EVENT, { vcpuid: 1, vector: 14, type: 3, insn_len: 0, error_code: 0xffffffff, cr2: 0xdeadb000n }).rc).toBe(0);
    expect(call(hv, EVENT, { vcpuid: 1, vector: 6 }).rc).toBe(-16);
    expect(hv.snapshot(1)!.events).toEqual([null, { vector: 14, type: 3, insn_len: 0, error_code: 0xffffffff, cr2: "0xdeadb000" }]);
  });
});

describe("inject_msi", () => {
  it("fixed delivery to matching vLAPICs, rc 0 even with no match", () => {
    const hv = makeHv({ domains: [{ domid: 1, vcpus: 3 }] });
    expect(call(hv, MSI, { data: 0x4041, addr: 0xfee02000n }).rc).toBe(0);
    expect(call(hv, MSI, { data: 0x30, addr: 0xfeeff000n }).rc).toBe(0);
    expect(call(hv, MSI, { data: 0x31, addr: 0xfee07000n }).rc).toBe(0);
    // what Xen keeps: the vLAPICs' IRR, not a list of deliveries
    expect(hv.snapshot(1)!.msi).toEqual([
      { vcpu: 0, irr: [0x30], tmr: [], esr_recv_illegal: false },
      { vcpu: 1, irr: [0x30, 0x41], tmr: [], esr_recv_illegal: false },
      { vcpu: 2, irr: [0x30], tmr: [], esr_recv_illegal: false },
    ]);
    expect(hv.snapshot(1)!.last_msi).toEqual({ vector: 0x31, dest: 7, dest_mode: 0, delivery_mode: 0, trig_mode: 0, vcpus: [] });
  });
  it("keeps what Xen keeps: IRR/TMR bits per vCPU and one pending bit per pirq, however many are injected", () => {
    const hv = makeHv({ domains: [{ domid: 1, vcpus: 2 }] });
    const before = JSON.stringify(hv.snapshot(1)).length;
    for (let i = 0; i < 20_000; i++) {
      expect(call(hv, MSI, { data: 0x8000 | (0x20 + (i % 8)), addr: 0xfeeff000n }).rc).toBe(0); // level-triggered
      expect(call(hv, MSI, { data: 0, addr: 0xfee05000n }).rc).toBe(0);
    }
    const snap = hv.snapshot(1)!;
    expect(snap.msi[0]).toEqual({ vcpu: 0, irr: [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27], tmr: [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27], esr_recv_illegal: false });
    expect(snap.pirqs).toEqual([5]);
    expect(hv.domain(1)!.irq.pirqsRaised.size).toBe(1);
    expect(JSON.stringify(snap).length - before).toBeLessThan(400);
    // an edge-triggered delivery of the same vector clears its TMR bit (vlapic_set_irq)
    call(hv, MSI, { data: 0x20, addr: 0xfee00000n });
    expect(hv.snapshot(1)!.msi[0]!.tmr).not.toContain(0x20);
    // vectors below 16 set ESR's receive-illegal bit and nothing in IRR
    expect(call(hv, MSI, { data: 0x0f, addr: 0xfee02000n }).rc).toBe(0);
    expect(hv.snapshot(1)!.msi[1]).toMatchObject({ esr_recv_illegal: true });
    expect(hv.snapshot(1)!.msi[1]!.irr).not.toContain(0x0f);
  });
  it("lowest priority: -ESRCH without a target; modes 2-7 -EINVAL; pad -EINVAL", () => {
    const hv = makeHv();
    expect(call(hv, MSI, { data: 0x130, addr: 0xfee07000n }).rc).toBe(-3);
    expect(call(hv, MSI, { data: 0x130, addr: 0xfeeff000n }).rc).toBe(0);
    expect(hv.snapshot(1)!.last_msi!.vcpus).toEqual([1]);
    expect(hv.snapshot(1)!.msi[1]!.irr).toEqual([0x30]);
    expect(call(hv, MSI, { data: 0x230, addr: 0xfee00000n }).rc).toBe(-22);
    expect(call(hv, MSI, { data: 0x30, addr: 0xfee00000n, pad: 1 }).rc).toBe(-22);
  });
  it("vector 0: pirq from the address; <= 0 -> -ERANGE", () => {
    const hv = makeHv();
    expect(call(hv, MSI, { data: 0, addr: 0xfee00000n }).rc).toBe(-34);
    expect(call(hv, MSI, { data: 0, addr: 0x80000000_fee00000n }).rc).toBe(-34);
    expect(call(hv, MSI, { data: 0, addr: 0xfee05000n }).rc).toBe(0);
    expect(call(hv, MSI, { data: 0, addr: 0x00000100_fee00000n }).rc).toBe(-22);
    expect(hv.snapshot(1)!.pirqs).toEqual([5]);
  });
});

describe("remote_shutdown", () => {
  it("reason cut to 8 bits; the first code sticks", () => {
    const hv = makeHv();
    expect(call(hv, SHUTDOWN, { reason: 0x101 }).rc).toBe(0);
    expect(hv.snapshot(1)).toMatchObject({ shutdown: "reboot", shutdown_code: 1 });
    expect(call(hv, SHUTDOWN, { reason: 0 }).rc).toBe(0);
    expect(hv.snapshot(1)!.shutdown_code).toBe(1);
    const hv2 = makeHv();
    expect(call(hv2, SHUTDOWN, { reason: 77 }).rc).toBe(0);
    expect(hv2.snapshot(1)!.shutdown).toBe("77");
  });
});

describe("pin_memory_cacheattr", () => {
  it("range checks, types, update, overlap, delete", () => {
    const hv = makeHv();
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 6, pad: 1 }).rc).toBe(-22);
    expect(call(hv, CACHEATTR, { start: 0x20n, end: 0x1fn, type: 6 }).rc).toBe(-22);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 1n << 52n, type: 6 }).rc).toBe(-22);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 2 }).rc).toBe(-22);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 0xffffffff }).rc).toBe(-2);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 6 }).rc).toBe(0);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 1 }).rc).toBe(0);
    expect(call(hv, CACHEATTR, { start: 0x18n, end: 0x2fn, type: 1 }).rc).toBe(-16);
    expect(hv.snapshot(1)!.cacheattr).toEqual([{ start: "0x10", end: "0x1f", type: 1 }]);
    expect(call(hv, CACHEATTR, { start: 0x10n, end: 0x1fn, type: 0xffffffff }).rc).toBe(0);
    expect(hv.snapshot(1)!.cacheattr).toEqual([]);
  });
  it("64 ranges, then -ENOSPC; paddr_bits is configurable", () => {
    const hv = makeHv({ domains: [{ domid: 1, paddr_bits: 36 }] });
    for (let i = 0n; i < 64n; i++) expect(call(hv, CACHEATTR, { start: i * 2n, end: i * 2n, type: 0 }).rc).toBe(0);
    expect(call(hv, CACHEATTR, { start: 1000n, end: 1000n, type: 0 }).rc).toBe(-28);
    expect(call(hv, CACHEATTR, { start: 0n, end: 0n, type: 7 }).rc).toBe(0);
    expect(call(hv, CACHEATTR, { start: 0n, end: 1n << 36n, type: 0xffffffff }).rc).toBe(-22);
  });
});

describe("lifecycle", () => {
  it("a resumed vCPU takes its injected event and the slot is free again", () => {
    const hv = makeHv();
    call(hv, EVENT, { vcpuid: 0, vector: 3, type: 6 });
    const d = hv.domain(1)!;
    expect(d.consumeInjectedEvent(0)).toMatchObject({ vector: 3, type: 6 });
    expect(call(hv, EVENT, { vcpuid: 0, vector: 4 }).rc).toBe(0);
    expect(d.consumeInjectedEvent(0, true)).toBeNull();
    expect(hv.snapshot(1)!.events[0]).toBeNull();
  });
  it("destroying a domain tears its servers down; later calls get -ESRCH", () => {
    const hv = makeHv();
    call(hv, 1, { handle_bufioreq: 1 });
    const d = hv.domain(1)!;
    expect(hv.destroyDomain(1)).toBe(true);
    expect(d.ioreq.servers.every((s) => s === undefined)).toBe(true);
    expect(d.evtchn.list()).toEqual([]);
    expect(call(hv, 20).rc).toBe(-3);
    expect(hv.destroyDomain(1)).toBe(false);
  });
});
