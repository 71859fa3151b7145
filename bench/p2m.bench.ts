// p2m benchmark: XenGT-style single-page ram_rw <-> ioreq_server flips, and a 1 TiB guest with 1M scattered
// ioreq_server pages (mark, then disclaim and sweep), range map vs the per-page reference model.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { P2m } from "../src/hypervisor/p2m.js";
import { RESULTS_DIR } from "./lib.js";
import { p2m_ioreq_server, p2m_ram_rw } from "../src/hypervisor/p2m-types.js";
import { NaiveP2m } from "../test/hypervisor/naive-p2m.js";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const never = (): boolean => false;
const mb = (): number => process.memoryUsage().rss / 2 ** 20;
/** CPU seconds (user + system) since t0: robust against other processes on a shared machine. */
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function flips(range: boolean, n: number): number {
  const gfns = 1 << 20;
  if (range) {
    const p = new P2m({ ram: [[0, gfns - 1]] });
    p.setIoreqServer(1, 2);
    const t0 = cpu();
    for (let i = 0; i < n; i++) {
      const g = (i * 7919) % gfns;
      p.setMemTypeLoop(g, 1, p2m_ioreq_server, never);
      p.setMemTypeLoop(g, 1, p2m_ram_rw, never);
    }
    return (2 * n) / (cpu() - t0);
  }
  const p = new NaiveP2m(gfns, [[0, gfns - 1]], []);
  p.setIoreqServer(1, 2);
  const t0 = cpu();
  for (let i = 0; i < n; i++) {
    const g = (i * 7919) % gfns;
    p.setMemType({ nr: 1, mem_type: 4, pad: 0, first_pfn: BigInt(g) }, true, never);
    p.setMemType({ nr: 1, mem_type: 0, pad: 0, first_pfn: BigInt(g) }, true, never);
  }
  return (2 * n) / (cpu() - t0);
}

/** `pages` distinct gfns spread over [0, gfns) (one per stride, jittered), in a shuffled order. */
function scattered(gfns: number, pages: number): Uint32Array {
  let x = 0x9e3779b9;
  const rnd = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const stride = Math.floor(gfns / pages);
  const out = new Uint32Array(pages);
  for (let i = 0; i < pages; i++) out[i] = i * stride + (rnd() % stride);
  for (let i = pages - 1; i > 0; i--) {
    const j = rnd() % (i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

interface Big { markS: number; disclaimS: number; peakMB: number; preemptChecks: number }

function bigRange(gfns: number, pages: number): Big {
  const base = mb();
  let peak = base;
  const p = new P2m({ ram: [[0, gfns - 1]] });
  p.setIoreqServer(1, 2);
  const order = scattered(gfns, pages);
  const t0 = cpu();
  order.forEach((g, i) => {
    p.setMemTypeLoop(g, 1, p2m_ioreq_server, never);
    if ((i & 0xffff) === 0) peak = Math.max(peak, mb());
  });
  const t1 = cpu();
  peak = Math.max(peak, mb());
  let checks = 0;
  const t2 = cpu();
  p.setIoreqServer(1, 0);
  p.mapMemTypeCompleted(0);
  const r = p.sweepIoreq(0n, () => {
    checks++;
    return false;
  });
  const t3 = cpu();
  peak = Math.max(peak, mb());
  if (r.rc !== 0 || p.entryCount !== 0) throw new Error(`sweep failed: rc ${String(r.rc)} entries ${String(p.entryCount)}`);
  return { markS: t1 - t0, disclaimS: t3 - t2, peakMB: peak - base, preemptChecks: checks };
}

function bigNaive(gfns: number, pages: number): Big {
  const p = new NaiveP2m(gfns, [[0, gfns - 1]], []);
  p.setIoreqServer(1, 2);
  const order = scattered(gfns, pages);
  const t0 = cpu();
  for (const g of order) p.setMemType({ nr: 1, mem_type: 4, pad: 0, first_pfn: BigInt(g) }, true, never);
  const t1 = cpu();
  let checks = 0;
  const r = p.mapMemType(1, 0, 0n, () => {
    checks++;
    return false;
  });
  const t2 = cpu();
  if (r.rc !== 0 || p.entryCount !== 0) throw new Error("naive sweep failed");
  // five bytes of state per gfn (raw type, frame, mark, log-dirty range, dirty bit)
  return { markS: t1 - t0, disclaimS: t2 - t1, peakMB: (5 * gfns) / 2 ** 20, preemptChecks: checks };
}

const RUNS = 3;
const flipR = median(Array.from({ length: RUNS }, () => flips(true, 100_000)));
const flipN = median(Array.from({ length: RUNS }, () => flips(false, 100_000)));
const TIB = 2 ** 28;
// 1M scattered pages, marked in a random order
const PAGES = 1 << 20;
const big: Big[] = Array.from({ length: RUNS }, () => bigRange(TIB, PAGES));
// the per-page model at 1/64 scale (4M gfns, 16k pages), extrapolated linearly by 64
const SCALE = 64;
const small: Big[] = Array.from({ length: RUNS }, () => bigNaive(TIB / SCALE, PAGES / SCALE));
const m = (xs: Big[], k: keyof Big): number => median(xs.map((x) => x[k]));
const results = {
  flipsPerSec: { rangeMap: flipR, naive: flipN },
  tib: {
    rangeMap: { markS: m(big, "markS"), disclaimS: m(big, "disclaimS"), peakMB: m(big, "peakMB"), preemptChecks: m(big, "preemptChecks") },
    naiveExtrapolated: { scale: SCALE, markS: m(small, "markS") * SCALE, disclaimS: m(small, "disclaimS") * SCALE, peakMB: m(small, "peakMB") * SCALE },
    timing: "CPU seconds (user + system), medians of 3 runs",
  },
};
const r = results.tib;
console.log("| measure | range map | per-page model | ratio |");
console.log("|---|---|---|---|");
console.log(`| single-page flips/s | ${flipR.toFixed(0)} | ${flipN.toFixed(0)} | ${(flipR / flipN).toFixed(2)} |`);
console.log(`| 1 TiB: mark 1M scattered pages, random order (s) | ${r.rangeMap.markS.toFixed(3)} | ${r.naiveExtrapolated.markS.toFixed(3)} (x${String(SCALE)} extrapolated) | ${(r.naiveExtrapolated.markS / r.rangeMap.markS).toFixed(2)} |`);
console.log(`| 1 TiB: disclaim + sweep (s) | ${r.rangeMap.disclaimS.toFixed(3)} | ${r.naiveExtrapolated.disclaimS.toFixed(3)} (x${String(SCALE)} extrapolated) | ${(r.naiveExtrapolated.disclaimS / r.rangeMap.disclaimS).toFixed(2)} |`);
console.log(`| 1 TiB: memory (MB) | ${r.rangeMap.peakMB.toFixed(0)} (peak RSS growth) | ${r.naiveExtrapolated.peakMB.toFixed(0)} (its arrays at full size) | |`);
console.log(`| 1 TiB: preemption checks in the sweep | ${String(r.rangeMap.preemptChecks)} | | |`);
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(join(RESULTS_DIR, "p2m.json"), JSON.stringify(results, null, 2) + "\n");
