import { describe, expect, it } from "vitest";
import { call, dmop, hex, makeHv, out, p2mOf } from "./helpers.js";

const CREATE = 1, INFO = 2, MAP = 3, UNMAP = 4, STATE = 5, DESTROY = 6;
const world = { domains: [{ domid: 1 }, { domid: 2, type: "pv" as const, target: 1 }] };

describe("create_ioreq_server", () => {
  it("takes the lowest free slot, reuses ids, -ENOSPC after 8", () => {
    const hv = makeHv(world);
    for (let i = 0; i < 8; i++) expect(out(CREATE, call(hv, CREATE).buf).id).toBe(i);
    expect(call(hv, CREATE).rc).toBe(-28);
    expect(call(hv, DESTROY, { id: 3 }).rc).toBe(0);
    expect(out(CREATE, call(hv, CREATE).buf).id).toBe(3);
  });
  it("checks pad, then handle_bufioreq > 2", () => {
    const hv = makeHv(world);
    expect(call(hv, CREATE, { pad: [0, 1, 0] }).rc).toBe(-22);
    expect(call(hv, CREATE, { handle_bufioreq: 3 }).rc).toBe(-22);
    expect(hv.explain()!.mirrors).toBe("ioreq.c:ioreq_server_create");
    expect(hv.server(1, 0).exists).toBe(false);
  });
  it("allocates one event channel per vCPU plus one buffered, in the target's table", () => {
    const hv = makeHv(world);
    call(hv, CREATE, { handle_bufioreq: 1 });
    expect(hv.server(1, 0)).toMatchObject({ ioreq_ports: [1, 3], bufioreq_port: 2, emulator: 0, enabled: false, bufioreq: 1 });
    call(hv, CREATE, { handle_bufioreq: 0 });
    expect(hv.server(1, 1)).toMatchObject({ ioreq_ports: [4, 5], bufioreq_port: null });
    expect(hv.domain(1)!.evtchn.get(4)).toMatchObject({ vcpu: 0, remoteDomid: 0 });
  });
  it("writes back id and echoes the input bytes", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    const b = dmop(CREATE, { handle_bufioreq: 2, id: 0xbeef });
    b.fill(0x55, 14, 32);
    expect(hv.dm_op(0, 1, [{ bytes: b }])).toBe(0);
    expect(hex(b)).toBe("01000000" + "00000000" + "02000000" + "0100" + "55".repeat(18));
  });
  it("failure leaves buffer 0 unchanged", () => {
    const hv = makeHv(world);
    const b = dmop(CREATE, { handle_bufioreq: 9, id: 7 });
    const before = hex(b);
    expect(hv.dm_op(0, 1, [{ bytes: b }])).toBe(-22);
    expect(hex(b)).toBe(before);
  });
});

describe("get_ioreq_server_info", () => {
  it("maps pool gfns lazily, reuses them, and echoes fields it does not write", () => {
    const hv = makeHv(world);
    call(hv, CREATE, { handle_bufioreq: 1 });
    const r = call(hv, INFO, { id: 0, bufioreq_port: 0xdead, ioreq_gfn: 1n, bufioreq_gfn: 2n });
    expect(r.rc).toBe(0);
    expect(out(INFO, r.buf)).toEqual({ id: 0, flags: 0, bufioreq_port: 2, ioreq_gfn: 0xfff0n, bufioreq_gfn: 0xfff1n });
    expect(out(INFO, call(hv, INFO, { id: 0 }).buf)).toMatchObject({ ioreq_gfn: 0xfff0n, bufioreq_gfn: 0xfff1n });
  });
  it("no_gfns echoes both gfn fields; bufioreq OFF echoes port and bufioreq_gfn", () => {
    const hv = makeHv(world);
    call(hv, CREATE, { handle_bufioreq: 1 });
    call(hv, CREATE, { handle_bufioreq: 0 });
    const a = out(INFO, call(hv, INFO, { id: 0, flags: 1, ioreq_gfn: 5n, bufioreq_gfn: 6n, bufioreq_port: 9 }).buf);
    expect(a).toEqual({ id: 0, flags: 1, bufioreq_port: 2, ioreq_gfn: 5n, bufioreq_gfn: 6n });
    expect(hv.server(1, 0).pages).toEqual({ ioreq: false, bufioreq: false });
    const b = out(INFO, call(hv, INFO, { id: 1, ioreq_gfn: 5n, bufioreq_gfn: 6n, bufioreq_port: 9 }).buf);
    expect(b).toEqual({ id: 1, flags: 0, bufioreq_port: 9, ioreq_gfn: 0xfff0n, bufioreq_gfn: 6n });
  });
  it("flags other than no_gfns -> -EINVAL, before the lookup", () => {
    const hv = makeHv(world);
    expect(call(hv, INFO, { id: 7, flags: 2 }).rc).toBe(-22);
    expect(call(hv, INFO, { id: 7 }).rc).toBe(-2);
    expect(call(hv, INFO, { id: 0xffff }).rc).toBe(-2);
  });
  it("-EPERM for a server of another emulator", () => {
    const hv = makeHv(world);
    call(hv, CREATE, {}, { caller: 2 });
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-1);
    expect(hv.explain()).toMatchObject({ errno: "-EPERM", mirrors: "ioreq.c:ioreq_server_get_info" });
    expect(call(hv, INFO, { id: 0 }, { caller: 2 }).rc).toBe(0);
  });
  it("-ENOMEM when the pool is empty (no legacy gfns on master); the sync gfn is undone", () => {
    const hv = makeHv({ xen: "master", domains: [{ domid: 1, nr_ioreq_server_pages: 3 }] });
    call(hv, CREATE, { handle_bufioreq: 1 });
    call(hv, CREATE, { handle_bufioreq: 1 });
    expect(call(hv, INFO, { id: 0 }).rc).toBe(0);
    expect(call(hv, INFO, { id: 1 }).rc).toBe(-12);
    expect(hv.server(1, 1).ioreq_gfn).toBeNull();
    expect(hv.snapshot(1)!.ioreq_gfn_pool.free).toEqual(["0xfff2"]);
  });
  it("4.17: with the legacy params never set, the inverted fallback hands out params[5] (gfn 0)", () => {
    const hv = makeHv({ domains: [{ domid: 1, nr_ioreq_server_pages: 1 }] });
    call(hv, CREATE);
    call(hv, CREATE);
    call(hv, INFO, { id: 0 });
    expect(out(INFO, call(hv, INFO, { id: 1 }).buf).ioreq_gfn).toBe(0n);
  });
  it("-EPERM when the page came from acquire_resource; -EINVAL for a dying domain", async () => {
    const { getServerFrame } = await import("../../src/hypervisor/ioreq-server.js");
    const hv = makeHv(world);
    call(hv, CREATE);
    const d = hv.domain(1)!;
    const ctx = { caller: 0, d, persona: hv.persona, refuse: (rc: number) => rc };
    expect(getServerFrame(ctx, 0, 1).rc).toBe(0);
    expect(getServerFrame(ctx, 0, 0).rc).toBe(-2);
    expect(getServerFrame(ctx, 0, 2).rc).toBe(-22);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-1);
    expect(call(hv, INFO, { id: 0, flags: 1 }).rc).toBe(0);
    call(hv, CREATE);
    d.isDying = true;
    expect(call(hv, INFO, { id: 1 }).rc).toBe(-22);
  });
  it("a gfn that is not RAM -> -EINVAL and the gfn goes back to the pool", () => {
    const hv = makeHv({ domains: [{ domid: 1, ioreq_server_pfn: "0x100000" }] });
    call(hv, CREATE);
    expect(call(hv, INFO, { id: 0 }).rc).toBe(-22);
    expect(hv.snapshot(1)!.ioreq_gfn_pool.free).toHaveLength(8);
  });
});

describe("map / unmap io range", () => {
  it("checks pad, start > end before the lookup, then lookup, owner, type", () => {
    const hv = makeHv(world);
    expect(call(hv, MAP, { id: 3, pad: 1, start: 1n, end: 2n }).rc).toBe(-22);
    expect(call(hv, MAP, { id: 3, start: 5n, end: 2n }).rc).toBe(-22);
    expect(hv.explain()!.rule).toMatch(/start .* > end/);
    expect(call(hv, MAP, { id: 3, start: 1n, end: 2n }).rc).toBe(-2);
    call(hv, CREATE, {}, { caller: 2 });
    expect(call(hv, MAP, { id: 0, type: 9, start: 1n, end: 2n }).rc).toBe(-1);
    expect(call(hv, MAP, { id: 0, type: 3, start: 1n, end: 2n }, { caller: 2 }).rc).toBe(-22);
  });
  it("-EEXIST on any overlap, merges adjacent, splits on unmap, -ENOENT across nodes", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    expect(call(hv, MAP, { id: 0, type: 0, start: 0x100n, end: 0x10fn }).rc).toBe(0);
    expect(call(hv, MAP, { id: 0, type: 0, start: 0x100n, end: 0x10fn }).rc).toBe(-17);
    expect(call(hv, MAP, { id: 0, type: 0, start: 0x10fn, end: 0x110n }).rc).toBe(-17);
    expect(call(hv, MAP, { id: 0, type: 0, start: 0x110n, end: 0x11fn }).rc).toBe(0);
    expect(call(hv, MAP, { id: 0, type: 1, start: 0x100n, end: 0x10fn }).rc).toBe(0);
    expect(hv.server(1, 0).ranges).toEqual({ port: [["0x100", "0x11f"]], memory: [["0x100", "0x10f"]], pci: [] });
    expect(call(hv, UNMAP, { id: 0, type: 0, start: 0x108n, end: 0x117n }).rc).toBe(0);
    expect(hv.server(1, 0).ranges!.port).toEqual([["0x100", "0x107"], ["0x118", "0x11f"]]);
    expect(call(hv, UNMAP, { id: 0, type: 0, start: 0x100n, end: 0x11fn }).rc).toBe(-2);
    expect(call(hv, UNMAP, { id: 0, type: 2, start: 0n, end: 0n }).rc).toBe(-2);
  });
  it("-ENOMEM for the 257th node", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    for (let i = 0; i < 256; i++) expect(call(hv, MAP, { id: 0, type: 1, start: BigInt(i * 16), end: BigInt(i * 16) }).rc).toBe(0);
    expect(call(hv, MAP, { id: 0, type: 1, start: 0x100000n, end: 0x100000n }).rc).toBe(-12);
    expect(call(hv, UNMAP, { id: 0, type: 1, start: 0n, end: 0n }).rc).toBe(0);
  });
});

describe("set_ioreq_server_state and destroy", () => {
  it("enable removes gfn pages from the physmap, zeroes them and sets vp_eport; disable puts them back", () => {
    const hv = makeHv(world);
    call(hv, CREATE, { handle_bufioreq: 1 });
    call(hv, INFO, { id: 0 });
    const s = hv.domain(1)!.ioreq.servers[0]!;
    s.ioreqPage.page!.fill(0xee);
    const p2m = p2mOf(hv);
    expect(call(hv, STATE, { id: 0, enabled: 7 }).rc).toBe(0);
    expect(p2m.typeCodeOf(0xfff0)).toBe(4);
    expect(p2m.typeCodeOf(0xfff1)).toBe(4);
    const v = new DataView(s.ioreqPage.page!.buffer);
    expect([v.getUint32(24, true), v.getUint32(32 + 24, true), v.getUint32(64 + 24, true)]).toEqual([1, 3, 0]);
    expect(s.ioreqPage.page![0]).toBe(0);
    expect(call(hv, STATE, { id: 0, enabled: 1 }).rc).toBe(0);
    expect(call(hv, STATE, { id: 0, enabled: 0 }).rc).toBe(0);
    expect(p2m.typeCodeOf(0xfff0)).toBe(0);
    expect(s.ioreqPage.page!.every((x) => x === 0)).toBe(true);
    expect(call(hv, STATE, { id: 0, pad: 1 }).rc).toBe(-22);
  });
  it("enabling before the pages exist leaves vp_eport 0 (order quirk)", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    call(hv, STATE, { id: 0, enabled: 1 });
    call(hv, INFO, { id: 0 });
    const s = hv.domain(1)!.ioreq.servers[0]!;
    expect(new DataView(s.ioreqPage.page!.buffer).getUint32(24, true)).toBe(0);
    expect(p2mOf(hv).typeCodeOf(0xfff0)).toBe(0);
  });
  it("destroy releases the claim without a sweep, frees ports and gfns", () => {
    const hv = makeHv(world);
    call(hv, CREATE, { handle_bufioreq: 1 });
    call(hv, INFO, { id: 0 });
    call(hv, STATE, { id: 0, enabled: 1 });
    expect(call(hv, 15, { id: 0, type: 4, flags: 2 }).rc).toBe(0);
    const p2m = p2mOf(hv);
    p2m.setType(0x100, 0x101, 15);
    expect(call(hv, DESTROY, { id: 0, pad: 1 }).rc).toBe(-22);
    expect(call(hv, DESTROY, { id: 0 }, { caller: 2 }).rc).toBe(-1);
    expect(call(hv, DESTROY, { id: 0 }).rc).toBe(0);
    expect(p2m.ioreqClaim()).toEqual({ server: null, flags: 0 });
    expect(p2m.entryCount).toBe(2);
    expect(p2m.typeCodeOf(0x100)).toBe(15);
    expect(p2m.typeCodeOf(0xfff0)).toBe(0);
    expect(hv.domain(1)!.evtchn.list()).toEqual([]);
    expect(hv.snapshot(1)!.ioreq_gfn_pool.free).toHaveLength(8);
    expect(call(hv, DESTROY, { id: 0 }).rc).toBe(-2);
    expect(call(hv, 15, { id: 0, type: 4, flags: 2 }).rc).toBe(-2);
    call(hv, CREATE);
    expect(call(hv, 15, { id: 0, type: 4, flags: 2 }).rc).toBe(-16);
  });
});

describe("side effects on other state", () => {
  it("enabling a server with gfn-mapped pages asks for a mapcache invalidation", () => {
    const hv = makeHv(world);
    call(hv, CREATE);
    call(hv, STATE, { id: 0, enabled: 1 });
    expect(hv.domain(1)!.mapcacheInvalidateCount).toBe(0);
    call(hv, STATE, { id: 0, enabled: 0 });
    call(hv, INFO, { id: 0 });
    call(hv, STATE, { id: 0, enabled: 1 });
    expect(hv.domain(1)!.mapcacheInvalidateCount).toBe(1);
  });
  it("putting the page back marks it dirty in log-dirty mode", () => {
    const hv = makeHv({ domains: [{ domid: 1, log_dirty: true }] });
    call(hv, CREATE);
    call(hv, INFO, { id: 0 });
    call(hv, STATE, { id: 0, enabled: 1 });
    call(hv, STATE, { id: 0, enabled: 0 });
    expect(hv.snapshot(1)!.dirty).toEqual([["0xfff0", "0xfff0"]]);
  });
  it("an i386 caller ABI uses the same payload sizes", () => {
    const hv = makeHv({ abi: "i386", domains: [{ domid: 1 }] });
    expect(hv.dm_op(0, 1, [{ bytes: dmop(15, { id: 0, type: 4, flags: 2 }).slice(0, 24) }])).toBe(-2);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(15, { id: 0, type: 4, flags: 2 }).slice(0, 23) }])).toBe(-14);
  });
});
