// Codec speed: encodeInto / decode of struct xen_dm_op (every op) and ioreq_t, against a hand-written
// DataView codec, the same layouts as restructure types (Struct/Array/Reserved plus the small types
// restructure lacks, built from the same declarations), and (when gcc and libxen-dev are present) a C
// baseline compiled with gcc -O2 from the real headers. Also checks that encodeInto allocates nothing.
//   npx tsx bench/codec.bench.ts [--quick]
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";
import * as r from "restructure";
import { dmOpMembers } from "../abi/xen/dm_op.js";
import { decode, encodeInto, getCodec, layoutOf, viewOf } from "../src/codec/index.js";
import { restructureType } from "../src/codec/restructure.js";
import { handDecode, handDecodeIoreq, handEncodeInto, handEncodeIoreq } from "./handwritten-dmop.js";
import { fmt, median, nsPerOp, spreadText, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const N = quick ? 20_000 : 200_000;
const RUNS = quick ? 3 : 7;

type Obj = Record<string, number | bigint>;
const PAYLOADS: Record<number, Obj> = {
  1: { handle_bufioreq: 2, id: 0 },
  2: { id: 3, flags: 1, bufioreq_port: 0, ioreq_gfn: 0n, bufioreq_gfn: 0n },
  3: { id: 1, type: 1, start: 0xfed00000n, end: 0xfed003ffn },
  4: { id: 1, type: 0, start: 0x3f8n, end: 0x3ffn },
  5: { id: 2, enabled: 1 },
  6: { id: 2 },
  7: { nr: 1024, first_pfn: 0xa0n },
  8: { domain: 0, bus: 0, device: 3, intx: 1, level: 1 },
  9: { isa_irq: 4, level: 1 },
  10: { link: 2, isa_irq: 10 },
  11: { nr_extents: 1, opaque: 0 },
  12: { nr: 1, mem_type: 4, first_pfn: 0x12345n },
  13: { vcpuid: 1, vector: 14, type: 3, insn_len: 0, error_code: 0x12, cr2: 0xdeadbeefcafen },
  14: { data: 0x4041, addr: 0xfee00000n },
  15: { id: 7, type: 4, flags: 2, opaque: 0n },
  16: { reason: 1 },
  17: { size: 16, src_gfn: 0x1000n, dst_gfn: 0x2000n },
  18: { start: 0x100n, end: 0x1ffn, type: 6 },
  19: { irq: 40, level: 1 },
  20: { vcpus: 0 },
};
const OPS = Object.keys(PAYLOADS).map(Number);
const VALUES = OPS.map((op) => ({ op, u: { [dmOpMembers[op]!.member]: PAYLOADS[op]! } }));

// ---- the same layouts as restructure types (built from the same declarations: src/codec/restructure.ts) ----
const rDmOp = restructureType(layoutOf("xen_dm_op"));
const rIoreq = restructureType(layoutOf("ioreq_t"));
const rEncode = (t: typeof rDmOp, v: unknown): number => {
  const b = new Uint8Array(32);
  t.encode(new r.EncodeStream(b), v);
  return b.length;
};

// ---- inputs ----
const encoded = VALUES.map((v) => {
  const b = new Uint8Array(32);
  encodeInto("xen_dm_op", v, b);
  return b;
});
const out = new Uint8Array(32);
const outView = viewOf(out);
const dmCodec = getCodec("xen_dm_op");
const ioCodec = getCodec("ioreq_t");
const IOREQ = { addr: 0xfed00010n, data: 0x12345678n, count: 1, size: 4, vp_eport: 7, state: 1, data_is_ptr: 0, dir: 1, df: 0, type: 1 };
const ioBytes = new Uint8Array(32);
encodeInto("ioreq_t", IOREQ, ioBytes);
const ioView = viewOf(ioBytes);

let sink = 0;
const K = VALUES.length;
const cases = {
  "xen_dm_op encode": {
    xendm: (n: number) => { for (let i = 0; i < n; i++) encodeInto("xen_dm_op", VALUES[i % K]!, out); },
    "xendm getCodec": (n: number) => { for (let i = 0; i < n; i++) dmCodec.write(outView, 0, VALUES[i % K]); },
    dataview: (n: number) => { for (let i = 0; i < n; i++) { const v = VALUES[i % K]!; handEncodeInto(v.op, PAYLOADS[v.op]!, outView, 0); } },
    restructure: (n: number) => { for (let i = 0; i < n; i++) sink += rEncode(rDmOp, VALUES[i % K]); },
  },
  "xen_dm_op decode": {
    xendm: (n: number) => { for (let i = 0; i < n; i++) sink += (decode("xen_dm_op", encoded[i % K]!).op as number); },
    "xendm getCodec": (n: number) => { for (let i = 0; i < n; i++) { const b = encoded[i % K]!; sink += dmCodec.read(viewOf(b), 0).op as number; } },
    dataview: (n: number) => { for (let i = 0; i < n; i++) { const b = encoded[i % K]!; sink += handDecode(viewOf(b), 0).op; } },
    restructure: (n: number) => { for (let i = 0; i < n; i++) sink += (rDmOp.decode(new r.DecodeStream(encoded[i % K]!)) as { op: number }).op; },
  },
  "ioreq_t encode": {
    xendm: (n: number) => { for (let i = 0; i < n; i++) encodeInto("ioreq_t", IOREQ, out); },
    "xendm getCodec": (n: number) => { for (let i = 0; i < n; i++) ioCodec.write(outView, 0, IOREQ); },
    dataview: (n: number) => { for (let i = 0; i < n; i++) handEncodeIoreq(outView, 0, IOREQ); },
    restructure: (n: number) => { for (let i = 0; i < n; i++) sink += rEncode(rIoreq, IOREQ); },
  },
  "ioreq_t decode": {
    xendm: (n: number) => { for (let i = 0; i < n; i++) sink += decode("ioreq_t", ioBytes).size; },
    "xendm getCodec": (n: number) => { for (let i = 0; i < n; i++) sink += (ioCodec.read(ioView, 0).size as number); },
    dataview: (n: number) => { for (let i = 0; i < n; i++) sink += (handDecodeIoreq(ioView, 0).size as number); },
    restructure: (n: number) => { for (let i = 0; i < n; i++) sink += (rIoreq.decode(new r.DecodeStream(ioBytes)) as { size: number }).size; },
  },
} satisfies Record<string, Record<string, (n: number) => void>>;

// ---- C baseline (gcc -O2, the same field writes and reads on the real structs) ----
function cBaseline(): Record<string, { encode_ns: number; decode_ns: number }> | null {
  const script = new URL("../abi/probe/bench_codec.sh", import.meta.url).pathname;
  if (!existsSync(script)) return null;
  try {
    return JSON.parse(execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as Record<string, { encode_ns: number; decode_ns: number }>;
  } catch {
    return null;
  }
}

// ---- allocations of encodeInto: count GCs and heap growth over many calls ----
function allocationCheck(): { calls: number; gcs: number; heapBytesPerCall: number } {
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ["gc"] });
  const calls = quick ? 200_000 : 2_000_000;
  for (let i = 0; i < 10_000; i++) encodeInto("xen_dm_op", VALUES[i % K]!, out);
  const before = process.memoryUsage().heapUsed;
  gcs = 0;
  for (let i = 0; i < calls; i++) encodeInto("xen_dm_op", VALUES[i % K]!, out);
  const after = process.memoryUsage().heapUsed;
  obs.disconnect();
  return { calls, gcs, heapBytesPerCall: Math.max(0, after - before) / calls };
}

const results: Record<string, Record<string, { ns: number; samples: number[] }>> = {};
const rows: (string | number)[][] = [];
// Implementations of one case are warmed up together and then measured in alternation, run by run, so
// that JIT state and machine load fall on all of them alike.
for (const [name, impls] of Object.entries(cases)) {
  const entries = Object.entries(impls).map(([impl, fn]) => ({ impl, fn: fn, n: impl === "restructure" ? Math.max(2000, N / 10) : N, samples: [] as number[] }));
  for (const e of entries) e.fn(e.n);
  for (let r = 0; r < RUNS; r++) for (const e of entries) e.samples.push(nsPerOp(e.fn, e.n, 1, false).median);
  results[name] = Object.fromEntries(entries.map((e) => [e.impl, { ns: median(e.samples), samples: e.samples }]));
}
const c = cBaseline();
for (const [name, impls] of Object.entries(results)) {
  const ours = impls.xendm!.ns;
  const cKey = name.startsWith("xen_dm_op") ? "xen_dm_op" : "ioreq_t";
  const cNs = c?.[cKey]?.[name.endsWith("encode") ? "encode_ns" : "decode_ns"];
  rows.push([
    name,
    `${ours.toFixed(1)} ns (${fmt(1e9 / ours)}/s; min / med / p90 ${spreadText(impls.xendm!.samples, (x) => x.toFixed(1))})`,
    `${impls["xendm getCodec"]!.ns.toFixed(1)} ns`,
    `${impls.dataview!.ns.toFixed(1)} ns`,
    `${impls.restructure!.ns.toFixed(0)} ns`,
    cNs !== undefined ? `${cNs.toFixed(2)} ns` : "n/a",
    (ours / impls.dataview!.ns).toFixed(2) + "x",
    (impls.restructure!.ns / ours).toFixed(1) + "x",
    cNs !== undefined ? (ours / cNs).toFixed(1) + "x" : "n/a",
  ]);
}
const alloc = allocationCheck();
console.log(`codec: median of ${RUNS} runs, ${N} ops each (restructure ${Math.max(2000, N / 10)})\n`);
console.log(table(["case", "xendm", "xendm getCodec", "hand DataView", "restructure", "C gcc -O2", "xendm / DataView", "restructure / xendm", "xendm / C"], rows));
console.log(`\nencodeInto allocations: ${alloc.gcs} GCs over ${alloc.calls} calls, ${alloc.heapBytesPerCall.toFixed(3)} heap bytes/call`);
writeResult("codec", { runs: RUNS, n: N, results, c_baseline: c, allocations: alloc, sink });
