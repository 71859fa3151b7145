// XENMEM_acquire_resource frames of an ioreq server. mirrors ioreq.c:ioreq_server_get_frame
import { describe, expect, it } from "vitest";
import { mapResource } from "../../src/hypervisor/resource.js";
import { createServer, dmop, host, GUEST } from "./helpers.js";

describe("mapResource", () => {
  it("frame 1 is the sync page, frame 0 the buffered page; the same bytes every time", () => {
    const { hv } = host();
    const id = createServer(hv, 1);
    const sync = mapResource(hv, 0, GUEST, id, 1);
    const buf = mapResource(hv, 0, GUEST, id, 0);
    expect(sync.rc).toBe(0);
    expect(buf.rc).toBe(0);
    expect(sync.page).toHaveLength(4096);
    expect(sync.page).not.toBe(buf.page);
    expect(mapResource(hv, 0, GUEST, id, 1).page).toBe(sync.page);
    expect(hv.domain(GUEST)!.ioreq.servers[id]!.ioreqPage.page).toBe(sync.page);
  });

  it("frame 0 with bufioreq off is -ENOENT; other frames are -EINVAL", () => {
    const { hv } = host();
    const id = createServer(hv, 0);
    expect(mapResource(hv, 0, GUEST, id, 0).rc).toBe(-2);
    expect(mapResource(hv, 0, GUEST, id, 2).rc).toBe(-22);
    expect(mapResource(hv, 0, GUEST, id, 1).rc).toBe(0);
  });

  it("lookup before ownership: -ENOENT for a missing id, -EPERM for another emulator's server", () => {
    const { hv } = host({ domains: [{ domid: GUEST, device_model: 2 }] });
    const id = createServer(hv, 0);
    expect(mapResource(hv, 0, GUEST, 5, 1).rc).toBe(-2);
    expect(mapResource(hv, 2, GUEST, 5, 1).rc).toBe(-2);
    expect(mapResource(hv, 2, GUEST, id, 1).rc).toBe(-1);
  });

  it("domain checks: -ESRCH, -EPERM for the caller itself and for unprivileged callers, -EINVAL for PV", () => {
    const { hv } = host({ domains: [{ domid: GUEST }, { domid: 3 }, { domid: 4, type: "pv" }] });
    expect(mapResource(hv, 0, 99, 0, 1).rc).toBe(-3);
    expect(mapResource(hv, GUEST, GUEST, 0, 1).rc).toBe(-1);
    expect(mapResource(hv, 3, GUEST, 0, 1).rc).toBe(-1);
    expect(mapResource(hv, 0, 4, 0, 1).rc).toBe(-22);
    expect(mapResource(hv, 0, GUEST, 0x10000, 1).rc).toBe(-22);
  });

  it("a gfn-mapped page cannot be acquired (-EPERM), and an acquired one cannot be gfn-mapped", () => {
    const { hv } = host();
    const a = createServer(hv, 0);
    expect(dmop(hv, "get_ioreq_server_info", { id: a }).rc).toBe(0);
    expect(mapResource(hv, 0, GUEST, a, 1).rc).toBe(-1);
    const b = createServer(hv, 0);
    expect(mapResource(hv, 0, GUEST, b, 1).rc).toBe(0);
    expect(dmop(hv, "get_ioreq_server_info", { id: b }).rc).toBe(-1);
  });
});
