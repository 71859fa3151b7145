import { describe, expect, it } from "vitest";
import { call, dmop, hex, makeHv, out } from "./helpers.js";

const CREATE = 1, INFO = 2, MAP = 3, STATE = 5, DESTROY = 6, ISA = 9, MAP_MEM = 15, SHUTDOWN = 16, SET_IRQ_LEVEL = 19, NR_VCPUS = 20;

describe("persona 4.9 (RELEASE-4.9.0)", () => {
  const w = { xen: "4.9" as const, domains: [{ domid: 1 }, { domid: 2, type: "pv" as const }, { domid: 3, type: "pv" as const, target: 1 }] };
  it("nr_bufs 0 is refused by the buffer accessor (-EFAULT) after the domain checks", () => {
    const hv = makeHv(w);
    expect(hv.dm_op(0, 1, [], 0)).toBe(-14);
    expect(hv.dm_op(0, 99, [], 0)).toBe(-3);
  });
  it("a PV target returns 0 and does nothing", () => {
    const hv = makeHv(w);
    expect(call(hv, CREATE, {}, { domid: 2 }).rc).toBe(0);
    expect(hv.server(2, 0).exists).toBe(false);
  });
  it("buffer 0 must hold the whole 32-byte struct", () => {
    const hv = makeHv(w);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA, { isa_irq: 1, level: 1 }).slice(0, 31) }])).toBe(-14);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA, { isa_irq: 1, level: 1 }) }])).toBe(0);
  });
  it("an unknown op is -EOPNOTSUPP only after the pad check; ops 16-20 do not exist", () => {
    const hv = makeHv(w);
    expect(call(hv, 99, {}, { pad: 1 }).rc).toBe(-22);
    expect(call(hv, 99).rc).toBe(-95);
    for (const op of [SHUTDOWN, NR_VCPUS, 0]) expect(call(hv, op).rc).toBe(-95);
  });
  it("writes back the whole struct; ids count from 1; gfns are taken at create", () => {
    const hv = makeHv(w);
    const b = dmop(CREATE, { handle_bufioreq: 1 });
    b.fill(0x33, 14, 32);
    expect(hv.dm_op(0, 1, [{ bytes: b }])).toBe(0);
    expect(hex(b)).toBe("01000000" + "00000000" + "01000000" + "0100" + "33".repeat(18));
    expect(hv.server(1, 1)).toMatchObject({ exists: true, ioreq_gfn: "0xfff0", bufioreq_gfn: "0xfff1" });
    expect(out(CREATE, call(hv, CREATE).buf).id).toBe(2);
    expect(call(hv, DESTROY, { id: 1 }).rc).toBe(0);
    expect(out(CREATE, call(hv, CREATE).buf).id).toBe(3);
  });
  it("get_info has a pad where flags now is, and reports the create-time gfns", () => {
    const hv = makeHv(w);
    call(hv, CREATE);
    expect(call(hv, INFO, { id: 1, flags: 1 }).rc).toBe(-22);
    const r = call(hv, INFO, { id: 1, bufioreq_port: 7, bufioreq_gfn: 9n });
    expect(out(INFO, r.buf)).toMatchObject({ ioreq_gfn: 0xfff0n, bufioreq_port: 7, bufioreq_gfn: 9n });
  });
  it("create fails with -ENOMEM when the pool is empty", () => {
    const hv = makeHv({ ...w, domains: [{ domid: 1, nr_ioreq_server_pages: 1 }] });
    expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(-12);
    expect(call(hv, CREATE).rc).toBe(0);
  });
  it("create maps the pool gfns at once: not RAM -> -EINVAL (the id is used up), dying -> -EINVAL", () => {
    const hv = makeHv({ ...w, domains: [{ domid: 1, ioreq_server_pfn: "0x100000" }] });
    expect(call(hv, CREATE).rc).toBe(-22);
    expect(hv.snapshot(1)!.ioreq_gfn_pool.free).toHaveLength(8);
    const ok = makeHv(w);
    ok.domain(1)!.isDying = true;
    expect(call(ok, CREATE).rc).toBe(-22);
    ok.domain(1)!.isDying = false;
    expect(out(CREATE, call(ok, CREATE).buf).id).toBe(2);
  });
  it("no ownership check and no start > end check", () => {
    const hv = makeHv(w);
    call(hv, CREATE, {}, { caller: 3 });
    expect(call(hv, MAP, { id: 1, type: 0, start: 0x10n, end: 0x20n }).rc).toBe(0);
    expect(call(hv, STATE, { id: 1, enabled: 1 }).rc).toBe(0);
    expect(call(hv, MAP_MEM, { id: 1, type: 4, flags: 2 }).rc).toBe(0);
  });
  it("Arm has no dm_op in 4.9", () => {
    const hv = makeHv({ xen: "4.9", arch: "arm", domains: [{ domid: 1 }] });
    expect(call(hv, NR_VCPUS).rc).toBe(-38);
  });
});

describe("Arm dispatcher (4.17)", () => {
  const w = { arch: "arm" as const, domains: [{ domid: 1, allocated_irqs: [40] }, { domid: 2, type: "pv" as const }] };
  it("no HVM check; ops 7-18 have size 0 and end in -EOPNOTSUPP", () => {
    const hv = makeHv(w);
    expect(call(hv, NR_VCPUS, {}, { domid: 2 }).rc).toBe(0);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA).slice(0, 8) }])).toBe(-95);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(MAP_MEM).slice(0, 8) }])).toBe(-95);
  });
  it("create refuses handle_bufioreq != 0; get_info without no_gfns is -EOPNOTSUPP", () => {
    const hv = makeHv(w);
    expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(-22);
    expect(call(hv, CREATE).rc).toBe(0);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-95);
    expect(call(hv, INFO, { id: 0, flags: 1 }).rc).toBe(0);
  });
  it("set_irq_level: SPIs only, level 0/1, allocated IRQs refused, pad ignored in 4.17", () => {
    const hv = makeHv(w);
    expect(call(hv, SET_IRQ_LEVEL, { irq: 31, level: 1 }).rc).toBe(-22);
    expect(call(hv, SET_IRQ_LEVEL, { irq: 64, level: 1 }).rc).toBe(-22);
    expect(call(hv, SET_IRQ_LEVEL, { irq: 33, level: 2 }).rc).toBe(-22);
    expect(call(hv, SET_IRQ_LEVEL, { irq: 40, level: 1 }).rc).toBe(-22);
    expect(call(hv, SET_IRQ_LEVEL, { irq: 33, level: 1, pad: [1, 0, 0] }).rc).toBe(0);
    expect(hv.snapshot(1)!.irq.spi_levels).toEqual({ "33": 1 });
  });
  it("master enforces the set_irq_level pad", () => {
    const hv = makeHv({ ...w, xen: "master" });
    expect(call(hv, SET_IRQ_LEVEL, { irq: 33, level: 1, pad: [0, 0, 1] }).rc).toBe(-22);
  });
});

describe("world config errors", () => {
  it("names the offending key", () => {
    expect(() => makeHv({ domains: [{ domid: 1, vcpu: 2 } as never] })).toThrow(/domains\[0\]\.vcpu: unknown domain key/);
    expect(() => makeHv({ xen: "4.20" as never })).toThrow(/xen: unknown persona/);
    expect(() => makeHv({ domains: [{ domid: 1, vcpus: 129 }] })).toThrow(/domains\[0\]\.vcpus/);
    expect(() => makeHv({ domains: [{ domid: "0xzz" }] })).toThrow(/domid/);
    expect(() => makeHv({ preempt: { every: 0 } })).toThrow(/every/);
  });
});

describe("master differences outside dm.c/ioreq.c", () => {
  it("inject_msi: the vector-0 pirq is unsigned (62252f58d0): bit 31 gives -EINVAL, not -ERANGE", () => {
    const a = makeHv({ domains: [{ domid: 1 }] });
    const m = makeHv({ xen: "master", domains: [{ domid: 1 }] });
    const p = { data: 0, addr: 0x80000000_fee00000n };
    expect(call(a, 14, p).rc).toBe(-34);
    expect(call(m, 14, p).rc).toBe(-22);
    expect(call(m, 14, { data: 0, addr: 0xfee00000n }).rc).toBe(-34);
  });
  it("pin_memory_cacheattr: UC/UC-/WC need an IOMMU or I/O resources on master (d63b2c60f7)", () => {
    const m = makeHv({ xen: "master", domains: [{ domid: 1 }, { domid: 2, iommu: true }, { domid: 3, io_resources: true }] });
    expect(call(m, 18, { start: 1n, end: 1n, type: 0 }).rc).toBe(-1);
    expect(call(m, 18, { start: 1n, end: 1n, type: 1 }).rc).toBe(-1);
    expect(call(m, 18, { start: 1n, end: 1n, type: 7 }).rc).toBe(-1);
    expect(call(m, 18, { start: 1n, end: 1n, type: 6 }).rc).toBe(0);
    expect(call(m, 18, { start: 1n, end: 1n, type: 0 }, { domid: 2 }).rc).toBe(0);
    expect(call(m, 18, { start: 1n, end: 1n, type: 0 }, { domid: 3 }).rc).toBe(0);
    expect(call(makeHv(), 18, { start: 1n, end: 1n, type: 0 }).rc).toBe(0);
  });
});
