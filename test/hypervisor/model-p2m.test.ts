// Model-based tests: random operation sequences against the range-map p2m (through the DMOP handlers)
// and the per-page reference model, comparing every rc, written-back field, preemption count and final state.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OpContext } from "../../src/hypervisor/context.js";
import { GuestMemory } from "../../src/hypervisor/guest-memory.js";
import { makePersona } from "../../src/hypervisor/persona.js";
import { P2m, p2mTypeCode } from "../../src/hypervisor/p2m.js";
import { modifiedMemory, relocateMemory, setMemType, trackDirtyVram } from "../../src/hypervisor/ops/mem.js";
import { P2M_TYPES } from "../../src/hypervisor/p2m-types.js";
import { NaiveP2m } from "./naive-p2m.js";

const N = 2048;
const RUNS = process.env.CI === "true" ? 10000 : 400;

type Op =
  | { k: "smt"; first: number | bigint; nr: number; mem_type: number; pad: number }
  | { k: "map"; s: number; flags: number; opaque: number }
  | { k: "destroy"; s: number }
  | { k: "reloc"; src: number; dst: number; size: number; iommu: boolean }
  | { k: "vram"; first: number; nr: number }
  | { k: "mm"; extents: Array<[number, number]>; opaque: number }
  | { k: "logdirty"; on: boolean; global: boolean };

const gfn = fc.integer({ min: 0, max: N - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant("smt" as const), first: fc.oneof({ weight: 9, arbitrary: gfn }, { weight: 1, arbitrary: fc.constantFrom((1n << 64n) - 1n, (1n << 64n) - 300n, 1n << 40n) }), nr: fc.oneof(fc.integer({ min: 1, max: 700 }), fc.constantFrom(0, 256, 512, 0xffffffff)), mem_type: fc.constantFrom(0, 1, 2, 3, 4, 4, 4, 5), pad: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 1) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("map" as const), s: fc.integer({ min: 0, max: 2 }), flags: fc.constantFrom(0, 2, 2, 1), opaque: fc.constantFrom(0, 0, 0, 0, 256, 1000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("destroy" as const), s: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("reloc" as const), src: gfn, dst: gfn, size: fc.integer({ min: 0, max: 40 }), iommu: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("vram" as const), first: fc.integer({ min: 0, max: N + 100 }), nr: fc.constantFrom(0, 1, 2, 8, 100, 600) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("mm" as const), extents: fc.array(fc.tuple(gfn, fc.integer({ min: 0, max: 600 })), { minLength: 0, maxLength: 3 }), opaque: fc.constantFrom(0, 0, 0, 5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("logdirty" as const), on: fc.boolean(), global: fc.boolean() }) },
);

interface World { real: P2m; naive: NaiveP2m; persona: "4.17" | "master" }

const overlayTypes = ["mmio_dm", "ram_ro", "ram_shared", "ram_paged", "populate_on_demand", "grant_map_rw", "mmio_direct", "ram_logdirty"] as const;
const worldArb = fc.record({
  ram: fc.array(fc.tuple(gfn, fc.integer({ min: 0, max: 900 })), { minLength: 1, maxLength: 3 }),
  overlays: fc.array(fc.tuple(gfn, fc.integer({ min: 0, max: 30 }), fc.constantFrom(...overlayTypes)), { maxLength: 4 }),
  hap: fc.constantFrom(true, true, true, false),
  persona: fc.constantFrom("4.17" as const, "4.17" as const, "master" as const),
});

function ctxFor(p2m: P2m, preempt: () => boolean, opts: { nrBufs?: number; buf1?: Uint8Array; hap?: boolean; iommu?: boolean; persona?: "4.17" | "master" }): { ctx: OpContext; out: { bitmap: Uint8Array | null; invalidations: number } } {
  const out = { bitmap: null as Uint8Array | null, invalidations: 0 };
  const buf1 = opts.buf1 ?? new Uint8Array(0);
  const d = { domid: 1, hap: opts.hap ?? true, isDying: false, maxVcpus: 1, p2m, iommu: opts.iommu ?? false, memory: new GuestMemory(),
    requestMapcacheInvalidate: () => { out.invalidations++; } };
  const ctx = {
    caller: 0, d, hv: null, nrBufs: opts.nrBufs ?? 2, persona: makePersona(opts.persona ?? "4.17"),
    bufSize: (i: number) => BigInt(i === 1 ? buf1.length : 64),
    copyFromBuf: (i: number, off: number, len: number) => (i === 1 && off + len <= buf1.length ? buf1.slice(off, off + len) : null),
    copyToBuf: (i: number, off: number, bytes: Uint8Array) => {
      if (i !== 1) return false;
      out.bitmap = bytes.slice();
      return off === 0;
    },
    preempt, refuse: (rc: number) => rc,
  };
  return { ctx: ctx as unknown as OpContext, out };
}

/** Two preempt hooks reading the same random boolean sequence; they count their calls. */
function hooks(seq: boolean[]): { a: () => boolean; b: () => boolean; count: () => [number, number] } {
  let i = 0, j = 0;
  const at = (k: number): boolean => seq.length > 0 && seq[k % seq.length] === true;
  return { a: () => at(i++), b: () => at(j++), count: () => [i, j] };
}

function extentBytes(ext: Array<[number, number]>): Uint8Array {
  const b = new Uint8Array(ext.length * 16);
  const dv = new DataView(b.buffer);
  ext.forEach(([first, nr], k) => {
    dv.setUint32(k * 16, nr, true);
    dv.setBigUint64(k * 16 + 8, BigInt(first), true);
  });
  return b;
}

const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x.toString()}n` : x));
/** Cheap equality; expect() (with its diff) only on a mismatch. */
function same(a: unknown, b: unknown): void {
  if (a === b) return;
  const sa = show(a), sb = show(b);
  if (sa !== sb) expect(sa).toBe(sb);
}

function runOp(w: World, op: Op, seq: boolean[], hap: boolean): void {
  const h = hooks(seq);
  switch (op.k) {
    case "smt": {
      const pr = { nr: op.nr, mem_type: op.mem_type, pad: op.pad, first_pfn: BigInt(op.first) };
      if (pr.first_pfn >= 1n << 64n) return;
      const pn = { ...pr };
      for (let pass = 0; pass < 100000; pass++) {
        const { ctx } = ctxFor(w.real, h.a, { hap });
        const r = setMemType(ctx, pr);
        const rn = w.naive.setMemType(pn, hap, h.b);
        same(r.rc, rn);
        same(pr, pn);
        if (r.rc !== -85) break;
      }
      break;
    }
    case "map": {
      let opaque = BigInt(op.opaque);
      let on = opaque;
      for (let pass = 0; pass < 100000; pass++) {
        let rc = 0;
        if (opaque === 0n) {
          // READ (1) is refused by ioreq_server_map_mem_type before the p2m is asked
          rc = op.flags === 1 ? -22 : w.real.setIoreqServer(op.s, op.flags);
          if (rc === 0) w.real.mapMemTypeCompleted(op.flags);
        }
        let res = { rc, opaque };
        if (rc === 0 && op.flags === 0) res = w.real.sweepIoreq(opaque, h.a);
        const rn = op.flags === 1 && on === 0n ? { rc: -22, opaque: on } : w.naive.mapMemType(op.s, op.flags, on, h.b);
        same(res.rc, rn.rc);
        same(res.opaque, rn.opaque);
        if (res.rc !== -85) break;
        opaque = res.opaque;
        on = rn.opaque;
      }
      break;
    }
    case "destroy":
      w.real.releaseIoreqServerOnDestroy(op.s);
      if (w.naive.claim === op.s) w.naive.claim = null;
      break;
    case "reloc": {
      const pr = { size: op.size, pad: 0, src_gfn: BigInt(op.src), dst_gfn: BigInt(op.dst) };
      if (op.src + op.size > N || op.dst + op.size > N) return;
      const pn = { ...pr };
      for (let pass = 0; pass < 100000; pass++) {
        const { ctx, out } = ctxFor(w.real, h.a, { iommu: op.iommu, persona: w.persona });
        const removed = w.naive.removals;
        const r = relocateMemory(ctx, pr);
        const rn = w.naive.relocate(pn, op.iommu, h.b, w.persona === "master");
        // a pass that removed a page asks for a mapcache invalidation
        same(out.invalidations, w.naive.removals !== removed ? 1 : 0);
        same(r.rc, rn);
        same(pr, pn);
        if (r.rc !== -85) break;
      }
      break;
    }
    case "vram": {
      const p = { nr: op.nr, pad: 0, first_pfn: BigInt(op.first) };
      const { ctx, out } = ctxFor(w.real, h.a, { buf1: new Uint8Array(Math.ceil(op.nr / 8)) });
      const r = trackDirtyVram(ctx, p);
      const rn = w.naive.trackDirtyVram({ ...p }, 2, BigInt(Math.ceil(op.nr / 8)), false, 1);
      same(r.rc, rn.rc);
      same(out.bitmap, rn.bitmap);
      break;
    }
    case "mm": {
      const ext = extentBytes(op.extents);
      const pr = { nr_extents: op.extents.length, opaque: op.opaque };
      const pn = { ...pr };
      for (let pass = 0; pass < 100000; pass++) {
        const { ctx } = ctxFor(w.real, h.a, { buf1: ext });
        const before = { ...pr };
        const r = modifiedMemory(ctx, pr);
        const rn = w.naive.modifiedMemory(pn, ext, h.b);
        same(r.rc, rn);
        if (r.rc === -85) same(pr, pn);
        if (r.rc !== -85) break;
        if (show(pr) === show(before)) expect(show(pr)).not.toBe(show(before));
      }
      break;
    }
    case "logdirty": {
      if (op.on) {
        const rc = w.real.enableLogDirty(op.global, w.persona);
        let rn = 0;
        if ((op.global || w.persona === "master") && w.naive.entryCount !== 0) rn = -16;
        else {
          w.naive.logDirtyEnabled = true;
          if (op.global) w.naive.changeGlobal(p2mTypeCode("ram_rw"), p2mTypeCode("ram_logdirty"));
        }
        same(rc, rn);
      } else {
        w.real.disableLogDirty();
        w.naive.logDirtyEnabled = false;
        w.naive.changeGlobal(p2mTypeCode("ram_logdirty"), p2mTypeCode("ram_rw"));
      }
      break;
    }
  }
  const [ca, cb] = h.count();
  same(ca, cb);
  same(w.real.entryCount, w.naive.entryCount);
}

function compareState(w: World): void {
  expect(w.real.checkInvariants()).toBeNull();
  expect(w.real.maxMappedPfn).toBe(w.naive.maxMapped);
  const types: string[] = [];
  for (const r of w.real.ranges(0, N + 3)) for (let g = r.first; g <= r.last; g++) types.push(r.type);
  const naiveTypes: string[] = [];
  for (let g = 0; g <= N + 3; g++) naiveTypes.push(P2M_TYPES[w.naive.query(g)]!);
  expect(types.join(",")).toBe(naiveTypes.join(","));
  const dirty: number[] = [];
  for (const [a, b] of w.real.dirtyLog.list()) for (let g = a; g <= b; g++) dirty.push(g);
  const nd: number[] = [];
  w.naive.dirty.forEach((v, g) => { if (v) nd.push(g); });
  expect(dirty.join(",")).toBe(nd.join(","));
  const frames: number[] = [];
  w.real.forEachQuery(0, N - 1, (x, y, _t, backed) => {
    for (let g = x; g <= y; g++) frames.push(backed ? 1 : 0);
    return undefined;
  });
  const naiveFrames: number[] = [];
  for (let g = 0; g < N; g++) naiveFrames.push(g <= w.naive.maxMapped && w.naive.backed[g] === 1 ? 1 : 0);
  expect(frames.join("")).toBe(naiveFrames.join(""));
}

describe("range-map p2m against the per-page model", () => {
  it(`agrees on random DMOP sequences (${String(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(worldArb, fc.array(opArb, { minLength: 1, maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 7 }), (wc, ops, seq) => {
        const ram = wc.ram.map(([a, n]): [number, number] => [a, Math.min(N - 1, a + n)]);
        const ov = wc.overlays.map(([a, n, t]) => ({ first: a, last: Math.min(N - 1, a + n), type: t }));
        const w: World = {
          real: new P2m({ ram, overlays: ov }),
          naive: new NaiveP2m(N, ram, ov.map((o) => [o.first, o.last, p2mTypeCode(o.type)])),
          persona: wc.persona,
        };
        for (const op of ops) runOp(w, op, seq, wc.hap);
        compareState(w);
      }),
      { numRuns: RUNS },
    );
  }, 1_200_000);
});
