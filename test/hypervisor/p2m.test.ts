// The range-map p2m: reads, the type tables, entry counting, the claim, the lazy global reset and the sweep.
import { describe, expect, it } from "vitest";
import { P2m } from "../../src/hypervisor/p2m.js";
import type { P2mType } from "../../src/hypervisor/p2m.js";
import { P2M_TYPES, p2m_ioreq_server, p2m_mmio_dm, p2m_ram_ro, p2m_ram_rw } from "../../src/hypervisor/p2m-types.js";

const never = (): boolean => false;
/** A preempt hook that answers true at the given 1-based check numbers and counts its calls. */
function hook(at: number[] = []): { fn: () => boolean; calls: () => number } {
  let n = 0;
  return { fn: () => at.includes(++n), calls: () => n };
}
/** RAM [0, last] with a server holding the claim. */
function claimed(last = 4095): P2m {
  const p = new P2m({ ram: [[0, last]] });
  expect(p.setIoreqServer(0, 2)).toBe(0);
  return p;
}

describe("reads", () => {
  it("absent, invalid and beyond max_mapped_pfn read as mmio_dm (ept_get_entry)", () => {
    const p = new P2m({ ram: [[0, 9], [20, 29]], overlays: [{ first: 25, last: 25, type: "invalid" }] });
    expect(p.maxMappedPfn).toBe(29);
    expect(p.typeOf(5)).toBe("ram_rw");
    expect(p.typeOf(15)).toBe("mmio_dm");
    expect(p.typeOf(25)).toBe("mmio_dm");
    expect(p.typeOf(30)).toBe("mmio_dm");
    expect(p.typeOf(2 ** 60)).toBe("mmio_dm");
    expect(p.ranges(0, 31)).toEqual([
      { first: 0, last: 9, type: "ram_rw" }, { first: 10, last: 19, type: "mmio_dm" },
      { first: 20, last: 24, type: "ram_rw" }, { first: 25, last: 25, type: "mmio_dm" },
      { first: 26, last: 29, type: "ram_rw" }, { first: 30, last: 31, type: "mmio_dm" },
    ]);
  });
  it("HVMOP_get_mem_type reports the first matching row of hvmop_get_mem_type", () => {
    const expected: Record<P2mType, number> = {
      ram_rw: 0, invalid: 2, ram_logdirty: 1, ram_ro: 1, mmio_dm: 2, mmio_direct: 2, populate_on_demand: 0,
      grant_map_rw: 0, grant_map_ro: 1, ram_paging_out: 0, ram_paged: 0, ram_paging_in: 0, ram_shared: 1,
      ram_broken: 2, map_foreign: 2, ioreq_server: 4,
    };
    const p = new P2m({ ram: [[0, 15]], overlays: P2M_TYPES.map((type, i) => ({ first: i, last: i, type })) });
    P2M_TYPES.forEach((t, i) => { expect([t, p.memTypeOf(i)]).toEqual([t, expected[t]]); });
    expect(p.entryCount).toBe(1);
  });
});

describe("the range map", () => {
  // runCount includes the unpopulated run above RAM
  it("single-page flips split and coalesce runs; cost follows runs", () => {
    const p = claimed(2 ** 28 - 1);
    expect(p.runCount).toBe(2);
    expect(p.setMemTypeLoop(12345, 1, p2m_ioreq_server, never)).toEqual({ rc: 0, done: 1 });
    expect(p.runCount).toBe(4);
    expect(p.entryCount).toBe(1);
    expect(p.typeOf(12345)).toBe("ioreq_server");
    expect(p.setMemTypeLoop(12346, 1, p2m_ioreq_server, never).rc).toBe(0);
    expect(p.runCount).toBe(4);
    expect(p.setMemTypeLoop(12345, 2, p2m_ram_rw, never).rc).toBe(0);
    expect(p.runCount).toBe(2);
    expect(p.entryCount).toBe(0);
    expect(p.checkInvariants()).toBeNull();
  });
  it("a 2^28-page set_mem_type is one write; preempt is asked once per 256 pages", () => {
    const p = claimed(2 ** 28 - 1);
    const h = hook();
    expect(p.setMemTypeLoop(0, 2 ** 28, p2m_ioreq_server, h.fn)).toEqual({ rc: 0, done: 2 ** 28 });
    expect(h.calls()).toBe(2 ** 28 / 256 - 1);
    expect(p.entryCount).toBe(2 ** 28);
    expect(p.runCount).toBe(2);
  });
});

describe("set_mem_type loop (dm.c:set_mem_type)", () => {
  it("preemption points: after every 256th page while pages remain", () => {
    const p = claimed();
    const h = hook();
    expect(p.setMemTypeLoop(0, 1000, p2m_ram_ro, h.fn)).toEqual({ rc: 0, done: 1000 });
    expect(h.calls()).toBe(3);
    const q = claimed();
    const h2 = hook();
    expect(q.setMemTypeLoop(0, 768, p2m_ram_ro, h2.fn).rc).toBe(0);
    expect(h2.calls()).toBe(2); // no check after the last page
  });
  it("stops on the first refused page; checks happen only before it; earlier pages stay changed", () => {
    const p = new P2m({ ram: [[0, 4095]], overlays: [{ first: 600, last: 600, type: "ram_shared" }] });
    const h = hook();
    expect(p.setMemTypeLoop(0, 1000, p2m_ram_ro, h.fn)).toEqual({ rc: -11, done: 600 });
    expect(h.calls()).toBe(2);
    expect(p.typeOf(599)).toBe("ram_ro");
    expect(p.typeOf(601)).toBe("ram_rw");
    // a refusal exactly at page 512: the check after page 512 is still made
    const q = new P2m({ ram: [[0, 4095]], overlays: [{ first: 512, last: 512, type: "grant_map_rw" }] });
    const h2 = hook();
    expect(q.setMemTypeLoop(0, 1000, p2m_ram_ro, h2.fn)).toEqual({ rc: -22, done: 512 });
    expect(h2.calls()).toBe(2);
  });
  it("-ERESTART at the k-th check leaves 256k pages changed", () => {
    const p = claimed();
    const h = hook([2]);
    expect(p.setMemTypeLoop(100, 1000, p2m_ioreq_server, h.fn)).toEqual({ rc: -85, done: 512 });
    expect(p.entryCount).toBe(512);
    expect(p.typeOf(611)).toBe("ioreq_server");
    expect(p.typeOf(612)).toBe("ram_rw");
  });
  it("paged-out pages give -EAGAIN and ask for a page-in", () => {
    const p = new P2m({ ram: [[0, 99]], overlays: [{ first: 50, last: 50, type: "ram_paged" }] });
    expect(p.setMemTypeLoop(40, 20, p2m_ram_ro, never)).toEqual({ rc: -11, done: 10 });
    expect(p.pagingPopulateRequests).toBe(1);
    expect(p.lastPagingPopulate).toBe(50);
  });
  it("populate-on-demand is populated and then treated as ram_rw", () => {
    const p = claimed();
    const q = new P2m({ ram: [[0, 99]], overlays: [{ first: 10, last: 19, type: "populate_on_demand" }] });
    expect(q.setIoreqServer(3, 2)).toBe(0);
    expect(q.setMemTypeLoop(10, 10, p2m_ioreq_server, never).rc).toBe(0);
    expect(q.typeOf(15)).toBe("ioreq_server");
    expect(q.hasPage(15)).toBe(true);
    expect(p.entryCount).toBe(0);
  });
  it("ram_rw -> mmio_dm keeps the frame and cannot be undone", () => {
    const p = new P2m({ ram: [[0, 99]] });
    expect(p.setMemTypeLoop(5, 1, p2m_mmio_dm, never).rc).toBe(0);
    expect(p.typeOf(5)).toBe("mmio_dm");
    expect(p.hasPage(5)).toBe(true);
    expect(p.setMemTypeLoop(5, 1, p2m_ram_rw, never).rc).toBe(-22);
  });
});

describe("transition matrix (dm.c:allow_p2m_type_change)", () => {
  const NEW: Array<[string, number]> = [["ram_rw", p2m_ram_rw], ["ram_ro", p2m_ram_ro], ["mmio_dm", p2m_mmio_dm], ["ioreq_server", p2m_ioreq_server]];
  // rows: old type -> expected rc for new = ram_rw, ram_ro, mmio_dm, ioreq_server
  const table: Array<[P2mType | "absent", [number, number, number, number]]> = [
    ["ram_rw", [0, 0, 0, 0]],
    ["ram_ro", [0, 0, 0, -22]],
    ["ram_logdirty", [0, 0, 0, -22]],
    ["ioreq_server", [0, -22, -22, -22]],
    ["mmio_dm", [-22, -22, 0, -22]],
    ["invalid", [-22, -22, 0, -22]],
    ["absent", [-22, -22, 0, -22]],
    ["populate_on_demand", [0, 0, 0, 0]],
    ["ram_paging_out", [-11, -11, -11, -11]],
    ["ram_paged", [-11, -11, -11, -11]],
    ["ram_paging_in", [-11, -11, -11, -11]],
    ["ram_shared", [-11, -11, -11, -11]],
    ["grant_map_rw", [-22, -22, -22, -22]],
    ["grant_map_ro", [-22, -22, -22, -22]],
    ["map_foreign", [-22, -22, -22, -22]],
    ["mmio_direct", [-22, -22, -22, -22]],
    ["ram_broken", [-22, -22, -22, -22]],
  ];
  for (const [old, rcs] of table) {
    it(`from ${old}`, () => {
      NEW.forEach(([name, nt], k) => {
        const overlays = old === "absent" ? [] : [{ first: 10, last: 10, type: old }];
        const p = new P2m({ ram: [[0, 9], [11, 20]], overlays });
        // an ioreq_server page needs a claim to exist; claim after building it
        expect(p.setIoreqServer(0, old === "ioreq_server" ? 0 : 2)).toBe(old === "ioreq_server" ? -22 : 0);
        const r = p.setMemTypeLoop(10, 1, nt, never);
        expect([old, name, r.rc]).toEqual([old, name, rcs[k]]);
        if (r.rc === 0) expect(p.typeOf(10)).toBe(name);
      });
    });
  }
});

describe("the p2m_ioreq_server claim (p2m.c:p2m_set_ioreq_server)", () => {
  it("one claimant; a second claim, even by the claimant, is -EBUSY; disclaim only by the claimant", () => {
    const p = new P2m({ ram: [[0, 99]] });
    expect(p.setIoreqServer(1, 0)).toBe(-22);
    expect(p.setIoreqServer(1, 2)).toBe(0);
    expect(p.setIoreqServer(1, 2)).toBe(-16);
    expect(p.setIoreqServer(2, 2)).toBe(-16);
    expect(p.setIoreqServer(2, 0)).toBe(-22);
    expect(p.ioreqClaim()).toEqual({ server: 1, flags: 2 });
    expect(p.setIoreqServer(1, 0)).toBe(0);
    expect(p.ioreqClaim()).toEqual({ server: null, flags: 0 });
  });
  it("a claim is refused while entries are left; destroying the claimant leaves them ioreq_server", () => {
    const p = claimed();
    p.setMemTypeLoop(7, 3, p2m_ioreq_server, never);
    p.releaseIoreqServerOnDestroy(5); // not the claimant: nothing
    expect(p.ioreqClaim().server).toBe(0);
    p.releaseIoreqServerOnDestroy(0);
    expect(p.ioreqClaim().server).toBeNull();
    expect(p.typeOf(8)).toBe("ioreq_server");
    expect(p.memTypeOf(8)).toBe(4);
    expect(p.entryCount).toBe(3);
    expect(p.setIoreqServer(1, 2)).toBe(-16);
    // the sweep converts nothing: the entries are not marked
    const h = hook();
    expect(p.sweepIoreq(256n, h.fn)).toEqual({ rc: 0, opaque: 256n });
    expect(h.calls()).toBe(14); // chunks at 256..3840; no check after the last
    expect(p.entryCount).toBe(3);
    // the way out: set_mem_type back to ram_rw
    expect(p.setMemTypeLoop(7, 3, p2m_ram_rw, never).rc).toBe(0);
    expect(p.entryCount).toBe(0);
    expect(p.setIoreqServer(1, 2)).toBe(0);
  });
  it("global log-dirty is refused while entries are left (4.17: only global; master: any)", () => {
    const p = claimed();
    p.setMemTypeLoop(1, 1, p2m_ioreq_server, never);
    expect(p.enableLogDirty(true)).toBe(-16);
    expect(p.enableLogDirty(false, "master")).toBe(-16);
    expect(p.enableLogDirty(false)).toBe(0);
    expect(p.logDirtyEnabled).toBe(true);
    p.setMemTypeLoop(1, 1, p2m_ram_rw, never);
    expect(p.enableLogDirty(true)).toBe(0);
    expect(p.typeOf(2)).toBe("ram_logdirty");
  });
});

describe("disclaim: lazy global reset and the sweep", () => {
  it("after disclaim the entries read ram_rw (ram_logdirty in a log-dirty range) before the sweep", () => {
    const p = claimed();
    p.setMemTypeLoop(100, 10, p2m_ioreq_server, never);
    p.changeTypeRange(105n, 200n, p2m_ram_rw, 2);
    expect(p.setIoreqServer(0, 0)).toBe(0);
    p.mapMemTypeCompleted(0);
    expect(p.entryCount).toBe(10);
    expect(p.typeOf(100)).toBe("ram_rw");
    expect(p.typeOf(106)).toBe("ram_logdirty");
    expect(p.memTypeOf(106)).toBe(1);
    expect(p.setIoreqServer(1, 2)).toBe(-16);
    expect(p.finishTypeChange(0, 256)).toBe(0);
    expect(p.entryCount).toBe(0);
    expect(p.typeOf(106)).toBe("ram_logdirty");
    expect(p.checkInvariants()).toBeNull();
  });
  it("the disclaim clears the global log-dirty flag (change_entry_type_global)", () => {
    const p = claimed();
    p.setMemTypeLoop(1, 1, p2m_ioreq_server, never);
    p.globalLogdirty = true;
    p.setIoreqServer(0, 0);
    p.mapMemTypeCompleted(0);
    expect(p.globalLogdirty).toBe(false);
  });
  it("a write resolves the whole 512-entry leaf block (resolve_misconfig)", () => {
    const p = claimed();
    p.setMemTypeLoop(10, 1, p2m_ioreq_server, never);
    p.setMemTypeLoop(600, 1, p2m_ioreq_server, never);
    p.setIoreqServer(0, 0);
    p.mapMemTypeCompleted(0);
    p.setMemTypeLoop(500, 1, p2m_ram_ro, never); // block 0 only
    expect(p.entryCount).toBe(1);
  });
  it("the sweep stops after the chunk that empties entry_count, but still checks for preemption after it", () => {
    const p = claimed();
    p.setMemTypeLoop(300, 1, p2m_ioreq_server, never);
    p.setIoreqServer(0, 0);
    p.mapMemTypeCompleted(0);
    const h = hook([1]);
    // chunk 0 resolves block 0 (gfns 0..511), entry_count is 0, the check after it still happens
    expect(p.sweepIoreq(0n, h.fn)).toEqual({ rc: -85, opaque: 256n });
    expect(p.entryCount).toBe(0);
    expect(h.calls()).toBe(1);
    expect(p.sweepIoreq(256n, h.fn)).toEqual({ rc: 0, opaque: 256n });
    expect(h.calls()).toBe(1);
  });
  it("sweep chunks: one check per chunk that is not the last, opaque = next chunk", () => {
    const p = claimed();
    p.setMemTypeLoop(3000, 1, p2m_ioreq_server, never);
    p.setIoreqServer(0, 0);
    p.mapMemTypeCompleted(0);
    const h = hook([4]);
    expect(p.sweepIoreq(0n, h.fn)).toEqual({ rc: -85, opaque: 1024n });
    expect(p.entryCount).toBe(1);
    expect(p.sweepIoreq(1024n, h.fn)).toEqual({ rc: 0, opaque: 1024n });
    // chunks 1024..2816 (block 2560 is reached by the chunk at 2560): 7 more checks
    expect(h.calls()).toBe(4 + 7);
    expect(p.entryCount).toBe(0);
    expect(p.typeOf(3000)).toBe("ram_rw");
  });
  it("1 TiB with scattered entries: disclaim and sweep run on runs, not pages", () => {
    const p = claimed(2 ** 28 - 1);
    for (let i = 0; i < 1000; i++) p.setMemTypeLoop(i * 262144 + 7, 1, p2m_ioreq_server, never);
    expect(p.entryCount).toBe(1000);
    p.setIoreqServer(0, 0);
    p.mapMemTypeCompleted(0);
    const h = hook();
    expect(p.sweepIoreq(0n, h.fn).rc).toBe(0);
    expect(p.entryCount).toBe(0);
    // the last entry is in the block at 999*262144; the chunk there is the last one processed
    expect(h.calls()).toBe((999 * 262144) / 256 + 1);
    // resolved RAM, RAM above the last processed chunk (still marked by the global change), the tail
    expect(p.runCount).toBe(3);
  });
  it("opaque beyond max_mapped_pfn or with no entries: rc 0, no checks", () => {
    const p = claimed();
    const h = hook();
    expect(p.sweepIoreq(1n << 63n, h.fn)).toEqual({ rc: 0, opaque: 1n << 63n });
    expect(p.sweepIoreq(0n, h.fn)).toEqual({ rc: 0, opaque: 0n });
    expect(h.calls()).toBe(0);
  });
});

describe("configuration errors", () => {
  it("names the field", () => {
    expect(() => new P2m({ ram: [[5, 1]] })).toThrow(/empty/);
    expect(() => new P2m({ ram: [[-1, 1]] })).toThrow(/first gfn/);
    expect(() => new P2m({ ram: [[0, 1]], overlays: [{ first: 0, last: 0, type: "bogus" as P2mType }] })).toThrow(/unknown p2m type/);
  });
});
