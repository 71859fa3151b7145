// In-process ioreq round trips per second: a guest access is routed, written into the ioreq page,
// picked up by an IoreqClient handler, answered, and completed on the guest side.
//   sync write:  outb to a port a server claims (PIO write: vCPU blocked until the answer)
//   sync read:   inl from the same port (the answer's data comes back to the guest)
//   mmio read:   4-byte MMIO read (memory range lookup)
//   ioreq page:  8-byte write to a p2m_ioreq_server page (claimant, no range lookup)
//   buffered:    2-byte stdvga write into the buffered ring, drained by the client
//   npx tsx bench/ioreq.bench.ts [--quick] [--only <case substring>]   (--only: no results file)
import { decode, encode } from "../src/codec/index.js";
import { attachInProcess } from "../src/emulator/in-process.js";
import { guestOf, type AccessResult } from "../src/hypervisor/emulate.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import { fmt, median, table, writeResult } from "./lib.js";

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? "") : null;
const N = quick ? 20_000 : 200_000;
const RUNS = quick ? 3 : 7;
const GOAL_SYNC = 1e6;

const GUEST = 1;

function dmop(hv: Hypervisor, member: string, fields: Record<string, unknown>): Record<string, unknown> {
  const bytes = encode("xen_dm_op", { op: `XEN_DMOP_${member}`, u: { [member]: fields } });
  const rc = hv.dm_op(0, GUEST, [{ bytes }]);
  if (rc !== 0) throw new Error(`${member}: rc ${rc}`);
  return (decode("xen_dm_op", bytes).u as Record<string, Record<string, unknown>>)[member]!;
}

function setup() {
  const hv = new Hypervisor({ domains: [{ domid: GUEST, vcpus: 1 }] });
  const guest = guestOf(hv);
  const id = dmop(hv, "create_ioreq_server", { handle_bufioreq: "HVM_IOREQSRV_BUFIOREQ_ATOMIC" }).id as number;
  const client = attachInProcess(hv, { caller: 0, domid: GUEST, id });
  dmop(hv, "map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_PORT", start: 0x3f8n, end: 0x3ffn });
  dmop(hv, "map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_MEMORY", start: 0xa0000n, end: 0xbffffn });
  dmop(hv, "map_io_range_to_ioreq_server", { id, type: "XEN_DMOP_IO_RANGE_MEMORY", start: 0xfeb00000n, end: 0xfeb00fffn });
  dmop(hv, "map_mem_type_to_ioreq_server", { id, type: "HVMMEM_ioreq_server", flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE" });
  dmop(hv, "set_mem_type", { mem_type: "HVMMEM_ioreq_server", first_pfn: 0x3000n, nr: 1 });
  dmop(hv, "set_ioreq_server_state", { id, enabled: 1 });
  let handled = 0;
  void client.serve((req) => {
    handled++;
    return req.dir === 1 ? 0x5a : undefined;
  });
  return { guest, client, handled: () => handled };
}

function check(r: AccessResult, what: string): void {
  if (r.status !== "done") throw new Error(`${what}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
}

interface Case {
  name: string;
  kind: "sync" | "buffered";
  op: (n: number) => void;
}

const s = setup();
const g = s.guest;
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

/**
 * Runs `op(n)` `runs` times after a warm-up. Reports the median per-op time by the wall clock and by
 * the process's CPU time (user + system): the second is what the code costs, and stays meaningful on a
 * loaded machine where the wall clock mostly measures waiting for a core.
 */
function measure(op: (n: number) => void, n: number, runs: number): { wall: number[]; cpu: number[] } {
  op(n);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    op(n);
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    wall.push(Number(t1 - t0) / n);
    cpu.push(((c.user + c.system) * 1000) / n);
  }
  return { wall, cpu };
}

const rows: (string | number)[][] = [];
const results: Record<string, { cpu_ns_per_op: number; wall_ns_per_op: number; ops_per_cpu_sec: number; ops_per_wall_sec: number; cpu_samples_ns: number[]; wall_samples_ns: number[] }> = {};
let baseline = 0;
for (const c of cases) {
  if (only !== null && !c.name.includes(only)) continue;
  const before = s.handled();
  const m = measure(c.op, N, RUNS);
  const expected = N * (RUNS + 1);
  if (s.handled() - before !== expected) throw new Error(`${c.name}: handler saw ${s.handled() - before} requests, expected ${expected}`);
  const cpu = median(m.cpu);
  const wall = median(m.wall);
  if (baseline === 0) baseline = cpu;
  results[c.name] = { cpu_ns_per_op: cpu, wall_ns_per_op: wall, ops_per_cpu_sec: 1e9 / cpu, ops_per_wall_sec: 1e9 / wall, cpu_samples_ns: m.cpu, wall_samples_ns: m.wall };
  rows.push([
    c.name,
    c.kind,
    `${cpu.toFixed(0)} ns`,
    `${fmt(1e9 / cpu, 2)}/s`,
    `${fmt(1e9 / wall, 2)}/s`,
    (cpu / baseline).toFixed(2),
    c.kind === "sync" ? `${(1e9 / cpu / GOAL_SYNC).toFixed(2)}x` : "-",
  ]);
}

process.stdout.write(
  `In-process ioreq round trips (guest access -> record -> IoreqClient handler -> response -> completion), median of ${RUNS} runs of ${fmt(N, 0)}:\n\n`,
);
process.stdout.write(table(["case", "path", "CPU per round trip", "rate (CPU time)", "rate (wall clock)", "cost vs outb", "vs 1M/s goal"], rows) + "\n");
if (only === null) writeResult("ioreq", { n: N, runs: RUNS, goal_sync_per_sec: GOAL_SYNC, results });
