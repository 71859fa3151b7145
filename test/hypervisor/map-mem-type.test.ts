import { describe, expect, it } from "vitest";
import { call, dmop, makeHv, out, p2mOf } from "./helpers.js";

const CREATE = 1, MAP_MEM = 15, SET_MEM_TYPE = 12;
const world = { domains: [{ domid: 1 }, { domid: 2, type: "pv" as const, target: 1 }] };

describe("map_mem_type_to_ioreq_server", () => {
  it("HAP check comes before everything", () => {
    const hv = makeHv({ domains: [{ domid: 1, hap: false }] });
    const r = call(hv, MAP_MEM, { id: 99, type: 9, flags: 9 });
    expect(r.rc).toBe(-95);
    expect(hv.explain()).toMatchObject({ errno: "-EOPNOTSUPP", mirrors: "hvm/dm.c:dm_op" });
  });
  it("claim step order: type, flags, lookup, owner", () => {
    const hv = makeHv(world);
    expect(call(hv, MAP_MEM, { id: 9, type: 1, flags: 2 }).rc).toBe(-22);
    expect(call(hv, MAP_MEM, { id: 9, type: 4, flags: 1 }).rc).toBe(-22);
    expect(call(hv, MAP_MEM, { id: 9, type: 4, flags: 3 }).rc).toBe(-22);
    expect(call(hv, MAP_MEM, { id: 9, type: 4, flags: 2 }).rc).toBe(-2);
    call(hv, CREATE, {}, { caller: 2 });
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(-1);
  });
  it("claim, -EBUSY on a second claim (even by the claimant), disclaim by a non-claimant -EINVAL", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    call(hv, CREATE);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 0 }).rc).toBe(-22);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(0);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(-16);
    expect(call(hv, MAP_MEM, { id: 1, type: 4, flags: 2 }).rc).toBe(-16);
    expect(call(hv, MAP_MEM, { id: 1, type: 4, flags: 0 }).rc).toBe(-22);
    expect(hv.snapshot(1)!.claim).toEqual({ server: 0, flags: 2 });
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 0 }).rc).toBe(0);
    expect(hv.snapshot(1)!.claim).toEqual({ server: null, flags: 0 });
  });
  it("writes back the payload on success (opaque stays 0 without preemption)", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    const r = call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 });
    expect(out(MAP_MEM, r.buf)).toEqual({ id: 0, type: 4, flags: 2, opaque: 0n });
  });
  it("a non-zero opaque skips every check of the claim step", () => {
    const hv = makeHv(world);
    expect(call(hv, MAP_MEM, { id: 1234, type: 77, flags: 2, opaque: 5n }).rc).toBe(0);
    expect(hv.snapshot(1)!.claim).toEqual({ server: null, flags: 0 });
  });
  it("disclaim with entries left sweeps them back to ram_rw; continuations leave the last opaque", () => {
    const hv = makeHv({ ...world, preempt: { every: 1 } });
    call(hv, CREATE);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(0);
    const p2m = p2mOf(hv);
    const set = dmop(SET_MEM_TYPE, { first_pfn: 0xf000n, nr: 4, mem_type: 4 });
    expect(hv.dm_op(0, 1, [{ bytes: set }])).toBe(0);
    expect(p2m.entryCount).toBe(4);
    expect(p2m.typeCodeOf(0xf001)).toBe(15);
    const before = hv.preemptHook.count;
    const r = call(hv, MAP_MEM, { id: 0, type: 4, flags: 0 });
    expect(r.rc).toBe(0);
    expect(p2m.entryCount).toBe(0);
    expect(p2m.typeCodeOf(0xf001)).toBe(0);
    expect(hv.lastPasses).toBeGreaterThan(1);
    const o = out(MAP_MEM, r.buf);
    expect(o.opaque).not.toBe(0n);
    expect((o.opaque as bigint) % 256n).toBe(0n);
    expect(hv.preemptHook.count - before).toBe(hv.lastPasses - 1);
  });
  it("a new claim is refused while entries are left from a destroyed claimant", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 });
    expect(call(hv, SET_MEM_TYPE, { first_pfn: 0x100n, nr: 2, mem_type: 4 }).rc).toBe(0);
    expect(call(hv, 6, { id: 0 }).rc).toBe(0);
    call(hv, CREATE);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(-16);
    expect(hv.explain()!.rule).toMatch(/entry_count/);
    expect(call(hv, SET_MEM_TYPE, { first_pfn: 0x100n, nr: 2, mem_type: 0 }).rc).toBe(0);
    expect(call(hv, MAP_MEM, { id: 0, type: 4, flags: 2 }).rc).toBe(0);
  });
  it("copy-back fault on the claim -> -EFAULT, claim kept", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(MAP_MEM, { id: 0, type: 4, flags: 2 }), fault: { write: true } }])).toBe(-14);
    expect(hv.snapshot(1)!.claim.server).toBe(0);
  });
});

describe("continuations", () => {
  it("set_mem_type preempted: buffer 0 ends with the last pass's first_pfn/nr", () => {
    const hv = makeHv({ domains: [{ domid: 1 }], preempt: { at: [1] } });
    const r = call(hv, SET_MEM_TYPE, { first_pfn: 0x1000n, nr: 1024, mem_type: 1 });
    expect(r.rc).toBe(0);
    expect(hv.lastPasses).toBe(2);
    expect(out(SET_MEM_TYPE, r.buf)).toMatchObject({ first_pfn: 0x1100n, nr: 768 });
    expect(p2mOf(hv).typeCodeOf(0x13ff)).toBe(3);
  });
  it("the preempt hook can be reprogrammed from code", () => {
    const hv = makeHv();
    hv.setPreempt("always");
    const r = call(hv, SET_MEM_TYPE, { first_pfn: 0x1000n, nr: 1024, mem_type: 1 });
    expect(r.rc).toBe(0);
    expect(hv.lastPasses).toBe(4);
    expect(out(SET_MEM_TYPE, r.buf)).toMatchObject({ first_pfn: 0x1300n, nr: 256 });
  });
});
