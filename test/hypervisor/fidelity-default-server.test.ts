// 4.9's default (legacy) ioreq server: made by HVMOP_get_param, invisible to DMOPs, selection's fallback.
import { describe, expect, it } from "vitest";
import { guestOf } from "../../src/hypervisor/emulate.js";
import { hvmGetParam } from "../../src/hypervisor/hvm-param.js";
import { call, makeHv, out } from "./helpers.js";

const CREATE = 1, INFO = 2, MAP = 3, STATE = 5, DESTROY = 6;
const IOREQ_PFN = 5, BUFIOREQ_PFN = 6, BUFIOREQ_EVTCHN = 26;
const world = { xen: "4.9" as const, domains: [{ domid: 1, creation_finished: false, ioreq_pfn: "0xfeff0", bufioreq_pfn: "0xfeff1", ram: [["0x0", "0xfffff"]] as [string, string][] }] };

describe("4.9 default ioreq server", () => {
  // hvm.c:hvmop_get_param, 4.9.0: reading IOREQ_PFN, BUFIOREQ_PFN or BUFIOREQ_EVTCHN of a domain whose
  // creation is not finished calls hvm_create_ioreq_server(d, params[DM_DOMAIN], 1, LEGACY); -EEXIST is
  // ignored. The server takes an id from next_ioservid, maps its pages at params 5/6, is enabled at once
  // and its buffered port is stored in BUFIOREQ_EVTCHN.
  it("HVMOP_get_param creates it once; its buffered port is param 26", () => {
    const hv = makeHv(world);
    expect(hvmGetParam(hv, 0, 1, IOREQ_PFN)).toEqual({ rc: 0, value: 0xfeff0n });
    const d = hv.domain(1)!;
    const s = d.ioreq.defaultServer!;
    expect(s).toMatchObject({ id: 1, enabled: true, emulator: 0, bufioreqHandling: 1, isDefault: true });
    expect(s.ioreqPage.gfn).toBe(0xfeff0);
    expect(s.bufioreqPage.gfn).toBe(0xfeff1);
    expect(s.ioreqEvtchn).toEqual([1, 3]);
    expect(hvmGetParam(hv, 0, 1, BUFIOREQ_EVTCHN)).toEqual({ rc: 0, value: 2n });
    expect(hvmGetParam(hv, 0, 1, BUFIOREQ_PFN)).toEqual({ rc: 0, value: 0xfeff1n });
    expect(d.ioreq.list.length).toBe(1);
    // enabling a default server leaves its gfns in the physmap
    expect(d.p2m.typeOf(0xfeff0)).toBe("ram_rw");
  });
  it("no default server once creation has finished, nor on 4.17", () => {
    const hv = makeHv(world);
    hv.domain(1)!.creationFinished = true;
    expect(hvmGetParam(hv, 0, 1, IOREQ_PFN).rc).toBe(0);
    expect(hv.domain(1)!.ioreq.defaultServer).toBeNull();
    const hv17 = makeHv({ ...world, xen: "4.17" });
    expect(hvmGetParam(hv17, 0, 1, IOREQ_PFN)).toEqual({ rc: 0, value: 0xfeff0n });
    expect(hv17.domain(1)!.ioreq.defaultServer).toBeNull();
  });
  it("get_param checks: index, domain, HVM, caller", () => {
    const hv = makeHv({ ...world, domains: [...world.domains, { domid: 2 }, { domid: 3, type: "pv" as const }] });
    expect(hvmGetParam(hv, 0, 1, 38).rc).toBe(-22);
    expect(hvmGetParam(hv, 0, 9, 5).rc).toBe(-3);
    expect(hvmGetParam(hv, 0, 3, 5).rc).toBe(-22);
    expect(hvmGetParam(hv, 2, 1, 5).rc).toBe(-1);
    // hvm.c:hvm_allow_get_param: the guest may not read IOREQ_PFN of itself (and so makes no server)
    expect(hvmGetParam(hv, 1, 1, 5).rc).toBe(-1);
    expect(hv.domain(1)!.ioreq.defaultServer).toBeNull();
    expect(hvmGetParam(hv, 1, 1, 1).rc).toBe(0);
  });
  // 4.9 hvm/ioreq.c: every DMOP list walk (get_info, map/unmap range, set_state, destroy) skips the default
  // server, so its id is -ENOENT; explicit servers take the following ids.
  it("DMOPs do not see it (-ENOENT); explicit servers count on from its id", () => {
    const hv = makeHv(world);
    hvmGetParam(hv, 0, 1, IOREQ_PFN);
    for (const [op, p] of [[INFO, { id: 1 }], [MAP, { id: 1, type: 0, start: 1n, end: 2n }], [STATE, { id: 1, enabled: 0 }], [DESTROY, { id: 1 }]] as const) {
      expect(call(hv, op, p).rc).toBe(-2);
    }
    expect(out(CREATE, call(hv, CREATE).buf).id).toBe(2);
    expect(hv.domain(1)!.ioreq.defaultServer!.enabled).toBe(true);
  });
  it("a failing page mapping is returned by get_param and leaves no server", () => {
    const hv = makeHv({ xen: "4.9", domains: [{ domid: 1, creation_finished: false, ioreq_pfn: "0xfeff0", bufioreq_pfn: "0xfeff1", mmio_direct: ["0xfeff1"] }] });
    expect(hvmGetParam(hv, 0, 1, IOREQ_PFN).rc).toBe(-22);
    expect(hv.domain(1)!.ioreq.defaultServer).toBeNull();
    expect(hv.domain(1)!.evtchn.list()).toEqual([]);
  });
  it("destroying the domain tears it down without giving params 5/6 to the gfn pool", () => {
    const hv = makeHv(world);
    hvmGetParam(hv, 0, 1, IOREQ_PFN);
    const d = hv.domain(1)!;
    const mask = d.ioreq.gfnPool.mask;
    hv.destroyDomain(1);
    expect(d.ioreq.defaultServer).toBeNull();
    expect(d.ioreq.gfnPool.mask).toBe(mask);
  });

  // hvm/ioreq.c:hvm_select_ioreq_server, 4.9.0: a non-PIO/COPY request goes to the default server, and
  // a PIO/COPY request no enabled explicit server claims falls back to it.
  it("range selection falls back to the default server", () => {
    const hv = makeHv(world);
    const guest = guestOf(hv);
    hvmGetParam(hv, 0, 1, IOREQ_PFN);
    const id = out(CREATE, call(hv, CREATE).buf).id as number;
    call(hv, MAP, { id, type: 0, start: 0x3f8n, end: 0x3ffn });
    call(hv, STATE, { id, enabled: 1 });
    expect(guest.pio(1, 0, { port: 0x3f8, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending", server: id });
    expect(guest.pio(1, 1, { port: 0x80, size: 1, dir: "write", data: 1 })).toMatchObject({ status: "pending", server: 1 });
  });
});
