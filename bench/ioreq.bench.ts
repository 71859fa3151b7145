// In-process ioreq round trips per second: a guest access is routed, written into the ioreq page,
// picked up by an IoreqClient handler, answered, and completed on the guest side.
//   sync write:  outb to a port a server claims (PIO write: vCPU blocked until the answer)
//   sync read:   inl from the same port (the answer's data comes back to the guest)
//   mmio read:   4-byte MMIO read (memory range lookup)
//   ioreq page:  8-byte write to a p2m_ioreq_server page (claimant, no range lookup)
//   buffered:    2-byte stdvga write into the buffered ring, drained by the client
//   npx tsx bench/ioreq.bench.ts [--quick] [--only <case substring>] [--against <checkout>]
// --only writes no results file. --against runs the same cases on another checkout of this repository
// (e.g. `git worktree add ../before <commit>`) in the same process, alternating run by run, so both
// see the same machine load; the table then gives that checkout's CPU time and the ratio.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AccessResult } from "../src/hypervisor/emulate.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const argAfter = (flag: string): string | null => {
  const at = process.argv.indexOf(flag);
  return at >= 0 ? (process.argv[at + 1] ?? "") : null;
};
const only = argAfter("--only");
const against = argAfter("--against");
const N = quick ? 20_000 : 200_000;
const RUNS = quick ? 3 : 7;
const GOAL_SYNC = 1e6;

const GUEST = 1;

interface Tree {
  codec: typeof import("../src/codec/index.js");
  inProcess: typeof import("../src/transport/ioreq-inprocess.js");
  emulate: typeof import("../src/hypervisor/emulate.js");
  hypervisor: typeof import("../src/hypervisor/hypervisor.js");
}

/** The modules of a checkout (this one when `root` is null). */
async function loadTree(root: string | null): Promise<Tree> {
  const url = (p: string): string => (root === null ? new URL(`../${p}`, import.meta.url).href : pathToFileURL(resolve(root, p)).href);
  return {
    codec: (await import(url("src/codec/index.js"))) as Tree["codec"],
    // older checkouts kept the in-process attach under src/emulator
    inProcess: (await import(url("src/transport/ioreq-inprocess.js")).catch(() => import(url("src/emulator/in-process.js")))) as Tree["inProcess"],
    emulate: (await import(url("src/hypervisor/emulate.js"))) as Tree["emulate"],
    hypervisor: (await import(url("src/hypervisor/hypervisor.js"))) as Tree["hypervisor"],
  };
}

interface Case {
  name: string;
  kind: "sync" | "buffered";
  op: (n: number) => void;
}

function check(r: AccessResult, what: string): void {
  if (r.status !== "done") throw new Error(`${what}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
}

/** A guest with one server claiming the ports, ranges and the p2m_ioreq_server page the cases use. */
function setup(t: Tree): { cases: Case[]; handled: () => number } {
  const hv = new t.hypervisor.Hypervisor({ domains: [{ domid: GUEST, vcpus: 1 }] });
  const dmop = (member: string, fields: Record<string, unknown>): Record<string, unknown> => {
    const bytes = t.codec.encode("xen_dm_op", { op: `XEN_DMOP_${member}`, u: { [member]: fields } });
    const rc = hv.dm_op(0, GUEST, [{ bytes }]);
    if (rc !== 0) throw new Error(`${member}: rc ${rc}`);
    return (t.codec.decode("xen_dm_op", bytes).u as Record<string, Record<string, unknown> | undefined>)[member]!;
  };
  const g = t.emulate.guestOf(hv);
  const id = dmop("create_ioreq_server", { handle_bufioreq: "HVM_IOREQSRV_BUFIOREQ_ATOMIC" }).id as number;
  const client = t.inProcess.attachInProcess(hv, { caller: 0, domid: GUEST, id });
  dmop("map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_PORT", start: 0x3f8n, end: 0x3ffn });
  dmop("map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_MEMORY", start: 0xa0000n, end: 0xbffffn });
  dmop("map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_MEMORY", start: 0xfeb00000n, end: 0xfeb00fffn });
  dmop("map_mem_type_to_ioreq_server", { id, type: "HVMMEM_ioreq_server", flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE" });
  dmop("set_mem_type", { mem_type: "HVMMEM_ioreq_server", first_pfn: 0x3000n, nr: 1 });
  dmop("set_ioreq_server_state", { id, enabled: 1 });
  let handled = 0;
  void client.serve((req) => {
    handled++;
    return req.dir === 1 ? 0x5a : undefined;
  });
  const cases: Case[] = [
    {
      name: "sync PIO write (outb)",
      kind: "sync",
      op: (n) => {
        const a = { port: 0x3f8, size: 1, dir: "write" as const, data: 0x41 };
        for (let i = 0; i < n; i++) check(g.pio(GUEST, 0, a), "outb");
      },
    },
    {
      name: "sync PIO read (inl)",
      kind: "sync",
      op: (n) => {
        const a = { port: 0x3f8, size: 4, dir: "read" as const };
        for (let i = 0; i < n; i++) check(g.pio(GUEST, 0, a), "inl");
      },
    },
    {
      name: "sync MMIO read (4 bytes)",
      kind: "sync",
      op: (n) => {
        const a = { addr: 0xfeb00010, size: 4, dir: "read" as const };
        for (let i = 0; i < n; i++) check(g.mmio(GUEST, 0, a), "mmio");
      },
    },
    {
      name: "sync write to a p2m_ioreq_server page",
      kind: "sync",
      op: (n) => {
        const a = { addr: 0x3000010, size: 8, dir: "write" as const, data: 0x123456003n };
        for (let i = 0; i < n; i++) check(g.mem(GUEST, 0, a), "mem");
      },
    },
    {
      name: "buffered stdvga write (2 bytes)",
      kind: "buffered",
      op: (n) => {
        const a = { addr: 0xa0010, size: 2, dir: "write" as const, data: 0x1234 };
        for (let i = 0; i < n; i++) check(g.mmio(GUEST, 0, a), "vga");
      },
    },
  ];
  return { cases, handled: () => handled };
}

interface Samples {
  wall: number[];
  cpu: number[];
}

/**
 * One run of `op(n)`: the per-op time by the wall clock and by the process's CPU time (user + system).
 * The second is what the code costs, and stays meaningful on a loaded machine where the wall clock
 * mostly measures waiting for a core.
 */
function sample(op: (n: number) => void, n: number, into: Samples): void {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  op(n);
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  into.wall.push(Number(t1 - t0) / n);
  into.cpu.push(((c.user + c.system) * 1000) / n);
}

const mine = setup(await loadTree(null));
const other = against === null ? null : setup(await loadTree(against));

const rows: (string | number)[][] = [];
type Result = { cpu_ns_per_op: number; wall_ns_per_op: number; ops_per_cpu_sec: number; ops_per_wall_sec: number; cpu_samples_ns: number[]; wall_samples_ns: number[] };
const results: Record<string, Result> = {};
const before: Record<string, Result & { cpu_ratio_after_before: number }> = {};
const summary = (m: Samples): Result => {
  const cpu = median(m.cpu);
  const wall = median(m.wall);
  return { cpu_ns_per_op: cpu, wall_ns_per_op: wall, ops_per_cpu_sec: 1e9 / cpu, ops_per_wall_sec: 1e9 / wall, cpu_samples_ns: m.cpu, wall_samples_ns: m.wall };
};
let baseline = 0;
mine.cases.forEach((c, i) => {
  if (only !== null && !c.name.includes(only)) return;
  const oc = other?.cases[i];
  const h0 = mine.handled();
  const o0 = other?.handled() ?? 0;
  const m: Samples = { wall: [], cpu: [] };
  const o: Samples = { wall: [], cpu: [] };
  c.op(N); // warm-up
  oc?.op(N);
  for (let r = 0; r < RUNS; r++) {
    sample(c.op, N, m);
    if (oc !== undefined) sample(oc.op, N, o);
  }
  const expected = N * (RUNS + 1);
  if (mine.handled() - h0 !== expected) throw new Error(`${c.name}: handler saw ${mine.handled() - h0} requests, expected ${expected}`);
  if (other !== null && other.handled() - o0 !== expected) throw new Error(`${c.name} (--against): handler saw ${other.handled() - o0} requests`);
  const res = summary(m);
  results[c.name] = res;
  if (baseline === 0) baseline = res.cpu_ns_per_op;
  const row: (string | number)[] = [
    c.name,
    c.kind,
    `${res.cpu_ns_per_op.toFixed(0)} ns`,
    `${fmt(res.ops_per_cpu_sec, 2)}/s`,
    `${fmt(res.ops_per_wall_sec, 2)}/s`,
    (res.cpu_ns_per_op / baseline).toFixed(2),
    c.kind === "sync" ? `${(res.ops_per_cpu_sec / GOAL_SYNC).toFixed(2)}x` : "-",
  ];
  if (oc !== undefined) {
    const ob = summary(o);
    const ratio = median(m.cpu.map((x, k) => x / o.cpu[k]!));
    before[c.name] = { ...ob, cpu_ratio_after_before: ratio };
    row.push(`${ob.cpu_ns_per_op.toFixed(0)} ns`, ratio.toFixed(2));
  }
  rows.push(row);
});

process.stdout.write(
  `In-process ioreq round trips (guest access -> record -> IoreqClient handler -> response -> completion), median of ${RUNS} runs of ${fmt(N, 0)}:\n\n`,
);
const header = ["case", "path", "CPU per round trip", "rate (CPU time)", "rate (wall clock)", "cost vs outb", "vs 1M/s goal"];
if (other !== null) header.push("CPU, --against", "CPU ratio (median of paired runs)");
process.stdout.write(table(header, rows) + "\n");
if (only === null) {
  writeResult("ioreq", { n: N, runs: RUNS, goal_sync_per_sec: GOAL_SYNC, results, ...(other !== null ? { against: before } : {}) });
}
