// A dm_op run pass by pass (beginDmOp / dmOpSliced): each call keeps its own state, so calls stepped in
// any interleaving return what the synchronous dm_op returns — rc, written-back bytes, p2m state, passes
// and explain().
import { describe, expect, it } from "vitest";
import { DmOpRun } from "../../src/hypervisor/dm-run.js";
import type { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import { dmop, hex, makeHv, out, p2mOf } from "./helpers.js";

const SMT = 12, RELOCATE = 17, NR_VCPUS = 20;
const ALWAYS: WorldConfig = { preempt: "always", domains: [{ domid: 1 }] };

function relocate(): Uint8Array {
  return dmop(RELOCATE, { size: 0x300, src_gfn: 0x100n, dst_gfn: 0x20000n });
}
function memType(first: number, nr: number): Uint8Array {
  return dmop(SMT, { nr, mem_type: 1, first_pfn: BigInt(first) });
}

/** Steps a run to its end; returns the rc and how many step() calls answered "more". */
function finish(run: DmOpRun): { rc: number; more: number } {
  let more = 0;
  for (;;) {
    const r = run.step();
    if (r !== "more") return { rc: r, more };
    more++;
  }
}

function state(hv: Hypervisor): unknown {
  return { low: p2mOf(hv).ranges(0x0, 0x1000), high: p2mOf(hv).ranges(0x20000, 0x20400), count: hv.preemptHook.count };
}

describe("beginDmOp: one pass per step", () => {
  it("a preempted relocate_memory steps to what dm_op gives: rc, bytes, passes, p2m", () => {
    const sync = makeHv(ALWAYS);
    const sb = relocate();
    expect(sync.dm_op(0, 1, [{ bytes: sb }])).toBe(0);
    expect(sync.lastPasses).toBe(0x300);

    const hv = makeHv(ALWAYS);
    const b = relocate();
    const run = hv.beginDmOp(0, 1, [{ bytes: b }]);
    expect(run.step()).toBe("more");
    expect(run.passes).toBe(1);
    expect(out(RELOCATE, b)).toMatchObject({ size: 0x2ff, src_gfn: 0x101n }); // written back at the continuation
    const { rc, more } = finish(run);
    expect(rc).toBe(0);
    expect(more).toBe(0x300 - 2);
    expect(run.passes).toBe(0x300);
    expect(run.done).toBe(true);
    expect(run.step()).toBe(0); // a finished run answers its rc again, without another pass
    expect(run.passes).toBe(0x300);
    expect(hex(b)).toBe(hex(sb));
    expect(state(hv)).toEqual(state(sync));
    expect(hv.lastPasses).toBe(0x300);
  });

  it("two calls interleaved pass by pass, with synchronous calls between, each give the synchronous result", () => {
    const sync = makeHv(ALWAYS);
    const sa = relocate(), sbuf = memType(0x400, 0x800);
    expect(sync.dm_op(0, 1, [{ bytes: sa }])).toBe(0);
    const syncPassesA = sync.lastPasses;
    expect(sync.dm_op(0, 1, [{ bytes: sbuf }])).toBe(0);
    const syncPassesB = sync.lastPasses;
    expect(syncPassesB).toBeGreaterThan(1);

    const hv = makeHv(ALWAYS);
    const a = relocate(), b = memType(0x400, 0x800);
    const ra = hv.beginDmOp(0, 1, [{ bytes: a }]);
    const rb = hv.beginDmOp(0, 1, [{ bytes: b }]);
    let ia: number | "more" = "more", ib: number | "more" = "more";
    let synced = 0;
    while (ia === "more" || ib === "more") {
      if (ia === "more") ia = ra.step();
      if (ib === "more") ib = rb.step();
      // the reused synchronous call between the runs' passes disturbs neither
      const nb = dmop(NR_VCPUS);
      expect(hv.dm_op(0, 1, [{ bytes: nb }])).toBe(0);
      expect(out(NR_VCPUS, nb)).toMatchObject({ vcpus: 2 });
      synced++;
    }
    expect([ia, ib]).toEqual([0, 0]);
    expect(synced).toBe(Math.max(syncPassesA, syncPassesB));
    expect([ra.passes, rb.passes]).toEqual([syncPassesA, syncPassesB]);
    expect(hex(a)).toBe(hex(sa));
    expect(hex(b)).toBe(hex(sbuf));
    expect({ low: p2mOf(hv).ranges(0x0, 0x1000), high: p2mOf(hv).ranges(0x20000, 0x20400) })
      .toEqual({ low: p2mOf(sync).ranges(0x0, 0x1000), high: p2mOf(sync).ranges(0x20000, 0x20400) });
  });

  it("explain() and lastPasses belong to each call; the hypervisor's are the last call to return", () => {
    const hv = makeHv(ALWAYS);
    const good = hv.beginDmOp(0, 1, [{ bytes: relocate() }]);
    expect(good.step()).toBe("more");
    // a refused call returns while the relocation is between passes
    const bad = hv.beginDmOp(0, 1, [{ bytes: dmop(SMT, { nr: 1, mem_type: 3, first_pfn: 5n }) }]);
    expect(bad.step()).toBe(-22);
    expect(bad.explain()).not.toBeNull();
    expect(hv.explain()).toEqual(bad.explain());
    expect(hv.lastPasses).toBe(1);
    expect(good.explain()).toBeNull();
    expect(finish(good).rc).toBe(0);
    expect(hv.explain()).toBeNull(); // the relocation returned last, and succeeded
    expect(hv.lastPasses).toBe(0x300);
    expect(bad.explain()).not.toBeNull(); // still its own
  });

  it("a call refused before its first pass is done at once, with no pass", () => {
    const hv = makeHv(ALWAYS);
    const run = hv.beginDmOp(0, 1, [{ bytes: relocate() }, { bytes: relocate() }, { bytes: relocate() }]);
    expect(run.done).toBe(true);
    expect(run.rc).toBe(-7);
    expect(run.step()).toBe(-7);
    expect(run.passes).toBe(0);
    expect(run.explain()?.mirrors).toBe("common/dm.c:do_dm_op");
    expect(hv.explain()?.mirrors).toBe("common/dm.c:do_dm_op");
    expect(() => hv.beginDmOp(0x10000, 1, [])).toThrow(RangeError);
  });

  it("abandon(): no more passes, the passes made stay, the last-call state is untouched", () => {
    const hv = makeHv(ALWAYS);
    const b = relocate();
    const run = hv.beginDmOp(0, 1, [{ bytes: b }]);
    for (let i = 0; i < 4; i++) expect(run.step()).toBe("more");
    const before = hv.lastPasses;
    run.abandon();
    expect(run.done).toBe(true);
    expect(run.rc).toBeUndefined();
    expect(() => run.step()).toThrow(/abandoned/);
    expect(hv.lastPasses).toBe(before);
    expect(out(RELOCATE, b)).toMatchObject({ size: 0x2fc, src_gfn: 0x104n });
    expect(p2mOf(hv).ranges(0x20000, 0x20003)).toEqual([{ first: 0x20000, last: 0x20003, type: "ram_rw" }]);
    expect(p2mOf(hv).typeOf(0x20004)).not.toBe("ram_rw");
  });
});

describe("dmOpSliced", () => {
  it("a call that returns in its first pass gives its rc", () => {
    const hv = makeHv(ALWAYS);
    const b = dmop(NR_VCPUS);
    expect(hv.dmOpSliced(0, 1, [{ bytes: b }], 1, 1)).toBe(0);
    expect(out(NR_VCPUS, b)).toMatchObject({ vcpus: 2 });
    expect(hv.dmOpSliced(0, 1, [], 2, 1)).toBe(-14); // nr_bufs beyond the descriptors
  });

  it("a continuing call past its slice is handed back as a run that ends as dm_op does", () => {
    const sync = makeHv(ALWAYS);
    const sb = relocate();
    expect(sync.dm_op(0, 1, [{ bytes: sb }])).toBe(0);
    const hv = makeHv(ALWAYS);
    const b = relocate();
    const r = hv.dmOpSliced(0, 1, [{ bytes: b }], 1, 0);
    expect(r).toBeInstanceOf(DmOpRun);
    const run = r as DmOpRun;
    expect(run.passes).toBe(2); // the first pass, then one continuation before the (empty) slice was looked at
    // the hypervisor's synchronous path now has a call of its own
    const nb = dmop(NR_VCPUS);
    expect(hv.dm_op(0, 1, [{ bytes: nb }])).toBe(0);
    let last: number | "more" = "more";
    while (last === "more") last = run.run(0.2);
    expect(last).toBe(0);
    expect(hex(b)).toBe(hex(sb));
    expect(run.passes).toBe(sync.lastPasses);
    expect(hv.lastPasses).toBe(sync.lastPasses);
    expect(state(hv)).toEqual(state(sync));
  });

  it("with a long slice the whole call runs in it", () => {
    const hv = makeHv(ALWAYS);
    expect(hv.dmOpSliced(0, 1, [{ bytes: memType(0x400, 0x400) }], 1, 60_000)).toBe(0);
    expect(hv.lastPasses).toBeGreaterThan(1);
  });
});

describe("random interleavings", () => {
  // xorshift32: the same interleavings every run
  function rng(seed: number): () => number {
    let x = seed;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 0x1_0000_0000;
    };
  }
  const world = (): WorldConfig => ({ preempt: "always", domains: [{ domid: 1, paging: [0x1800, 0x3800, 0x5800, 0x7800] }] });

  it("calls on disjoint ranges, stepped in random order, each end as dm_op does (rc, bytes, passes, explain, p2m)", () => {
    const rand = rng(0x2545f491);
    for (let round = 0; round < 25; round++) {
      const kinds = [0, 1, 2, 3].map(() => Math.floor(rand() * 3));
      const calls = kinds.map((kind, j) => {
        const base = 0x100 + j * 0x2000;
        if (kind === 0) return dmop(RELOCATE, { size: 16 + Math.floor(rand() * 300), src_gfn: BigInt(base), dst_gfn: BigInt(0x20000 + j * 0x1000) });
        // kind 2 reaches the paged-out pfn at base + 0x1700: -EAGAIN after some continuations
        const nr = kind === 1 ? 256 + Math.floor(rand() * 0x1000) : 0x1800;
        return dmop(SMT, { nr, mem_type: 1, first_pfn: BigInt(base) });
      });
      const sync = makeHv(world());
      const want = calls.map((c) => {
        const b = c.slice();
        const rc = sync.dm_op(0, 1, [{ bytes: b }]);
        return { rc, bytes: hex(b), passes: sync.lastPasses, explain: sync.explain() };
      });
      const hv = makeHv(world());
      const bufs = calls.map((c) => c.slice());
      const runs = bufs.map((b) => hv.beginDmOp(0, 1, [{ bytes: b }]));
      const open = new Set(runs.keys());
      while (open.size > 0) {
        const k = [...open][Math.floor(rand() * open.size)]!;
        if (runs[k]!.step() !== "more") open.delete(k);
      }
      const got = runs.map((r, k) => ({ rc: r.rc, bytes: hex(bufs[k]!), passes: r.passes, explain: r.explain() }));
      expect(got).toEqual(want);
      expect({ low: p2mOf(hv).ranges(0, 0x8100), high: p2mOf(hv).ranges(0x20000, 0x24000) })
        .toEqual({ low: p2mOf(sync).ranges(0, 0x8100), high: p2mOf(sync).ranges(0x20000, 0x24000) });
      // the calls that reach a paged-out pfn, and only those, fail with -EAGAIN after their continuations
      expect(want.map((w) => w.rc === -11)).toEqual(kinds.map((k) => k === 2));
      for (const [j, w] of want.entries()) if (kinds[j] === 2) expect(w.passes).toBeGreaterThan(1);
    }
  });
});
