// In-process dm_op dispatch of encoded buffers: simple DMOPs per second (median of 5 runs).
// Run: npx tsx bench/dmop-dispatch.bench.ts
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { encode } from "../src/codec/index.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import { RESULTS_DIR } from "./lib.js";

const GOAL = 1_000_000;
const RUNS = 5;
const RUN_MS = 600;

interface Case {
  name: string;
  /** DMOPs made by one call of step(). */
  perStep: number;
  step: () => void;
}

function makeCases(): Case[] {
  const hv = new Hypervisor({ domains: [{ domid: 1 }] });
  const nr = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_nr_vcpus", u: { nr_vcpus: {} } }) };
  const isaOn = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_set_isa_irq_level", u: { set_isa_irq_level: { isa_irq: 5, level: 1 } } }) };
  const isaOff = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_set_isa_irq_level", u: { set_isa_irq_level: { isa_irq: 5, level: 0 } } }) };
  const create = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_create_ioreq_server", u: { create_ioreq_server: {} } }) };
  if (hv.dm_op(0, 1, [create]) !== 0) throw new Error("create failed");
  const range = { id: 0, type: "XEN_DMOP_IO_RANGE_PORT", start: "0x3f8", end: "0x3ff" };
  const map = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_map_io_range_to_ioreq_server", u: { map_io_range_to_ioreq_server: range } }) };
  const unmap = { bytes: encode("xen_dm_op", { op: "XEN_DMOP_unmap_io_range_from_ioreq_server", u: { unmap_io_range_from_ioreq_server: range } }) };
  const b1 = [nr], b2 = [isaOn], b3 = [isaOff], b4 = [map], b5 = [unmap];
  const check = (rc: number): void => {
    if (rc !== 0) throw new Error(`rc ${rc}: ${JSON.stringify(hv.explain())}`);
  };
  return [
    { name: "nr_vcpus", perStep: 1, step: () => { check(hv.dm_op(0, 1, b1)); } },
    { name: "set_isa_irq_level (assert + deassert)", perStep: 2, step: () => { check(hv.dm_op(0, 1, b2)); check(hv.dm_op(0, 1, b3)); } },
    { name: "map + unmap io range", perStep: 2, step: () => { check(hv.dm_op(0, 1, b4)); check(hv.dm_op(0, 1, b5)); } },
  ];
}

function measure(c: Case): number {
  const batch = 1000;
  let steps = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(RUN_MS) * 1_000_000n;
  let now = t0;
  while (now < end) {
    for (let i = 0; i < batch; i++) c.step();
    steps += batch;
    now = process.hrtime.bigint();
  }
  return (steps * c.perStep) / (Number(now - t0) / 1e9);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const cases = makeCases();
for (const c of cases) measure({ ...c, step: c.step }); // warm-up
const results = cases.map((c) => {
  const runs = Array.from({ length: RUNS }, () => measure(c));
  return { name: c.name, median: Math.round(median(runs)), runs: runs.map(Math.round) };
});

console.log("| case | DMOPs/s (median of 5) | vs goal 1M/s |");
console.log("|---|---:|---:|");
for (const r of results) console.log(`| ${r.name} | ${r.median.toLocaleString("en-US")} | ${(r.median / GOAL).toFixed(2)}x |`);

const out = join(RESULTS_DIR, "dmop-dispatch.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ bench: "dmop-dispatch", goal: GOAL, runs: RUNS, runMs: RUN_MS, node: process.version, results }, null, 2) + "\n");
