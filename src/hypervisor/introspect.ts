// Plain-data views of the fake's state (hex strings for 64-bit values), for queries and tests.
import type { Domain } from "./domain.js";
import { rangeTypes } from "./ioreq-server.js";
import { VlapicIrqState, type MsiDelivery } from "./irq.js";

const hx = (v: number | bigint): string => `0x${v.toString(16)}`;

export interface ServerSnapshot {
  exists: boolean;
  id?: number;
  emulator?: number;
  enabled?: boolean;
  bufioreq?: number;
  ranges?: { port: [string, string][]; memory: [string, string][]; pci: [string, string][] };
  ioreq_gfn?: string | null;
  bufioreq_gfn?: string | null;
  pages?: { ioreq: boolean; bufioreq: boolean };
  ioreq_ports?: number[];
  bufioreq_port?: number | null;
}

export function serverSnapshot(d: Domain | undefined, id: number): ServerSnapshot {
  const s = d?.ioreq.servers[id];
  if (!s) return { exists: false };
  const ranges = { port: [] as [string, string][], memory: [] as [string, string][], pci: [] as [string, string][] };
  for (const k of rangeTypes) ranges[k] = s.ranges[k].toArray().map(([a, b]) => [hx(a), hx(b)]);
  return {
    exists: true,
    id: s.id,
    emulator: s.emulator,
    enabled: s.enabled,
    bufioreq: s.bufioreqHandling,
    ranges,
    ioreq_gfn: s.ioreqPage.gfn === null ? null : hx(s.ioreqPage.gfn),
    bufioreq_gfn: s.bufioreqPage.gfn === null ? null : hx(s.bufioreqPage.gfn),
    pages: { ioreq: s.ioreqPage.page !== null, bufioreq: s.bufioreqPage.page !== null },
    ioreq_ports: [...s.ioreqEvtchn],
    bufioreq_port: s.bufioreqEvtchn,
  };
}

const SHUTDOWN_NAMES = ["poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"];

export interface DomainSnapshot {
  domid: number;
  type: "hvm" | "pv";
  hap: boolean;
  max_vcpus: number;
  dying: boolean;
  servers: number[];
  claim: { server: number | null; flags: number };
  entry_count: number;
  shutdown: string | null;
  shutdown_code: number | null;
  irq: {
    pci_intx: string[];
    isa_irqs: number[];
    gsi_assert_count: Record<string, number>;
    link_route: number[];
    link_assert_count: number[];
    spi_levels: Record<string, number>;
  };
  events: ({ vector: number; type: number; insn_len: number; error_code: number; cr2: string } | null)[];
  /** Each vCPU's vLAPIC bits that MSIs set: pending vectors (IRR), level-triggered ones (TMR), ESR receive-illegal. */
  msi: { vcpu: number; irr: number[]; tmr: number[]; esr_recv_illegal: boolean }[];
  /** The last MSI delivered through a vLAPIC, decoded, or null. */
  last_msi: { vector: number; dest: number; dest_mode: number; delivery_mode: number; trig_mode: number; vcpus: number[] } | null;
  /** Emulated pirqs raised (ascending; each at most once). */
  pirqs: number[];
  cacheattr: { start: string; end: string; type: number }[];
  /** Dirty pfn ranges (inclusive). */
  dirty: [string, string][];
  log_dirty: boolean;
  ioreq_gfn_pool: { base: string; free: string[] };
}

export function domainSnapshot(d: Domain): DomainSnapshot {
  const irq = d.irq;
  const gsi: Record<string, number> = {};
  irq.gsiAssertCount.forEach((c, g) => { if (c) gsi[String(g)] = c; });
  const intx: string[] = [];
  irq.pciIntx.forEach((b, i) => { if (b) intx.push(`${i >> 2}:${"ABCD"[i & 3] ?? "?"}`); });
  const spis: Record<string, number> = {};
  for (const [k, v] of d.vgic.levels) spis[String(k)] = v;
  const pool = d.ioreq.gfnPool;
  const free: string[] = [];
  for (let i = 0; i < 64; i++) if (pool.mask & (1n << BigInt(i))) free.push(hx(pool.base + i));
  const code = d.shutdown.code;
  return {
    domid: d.domid,
    type: d.type,
    hap: d.hap,
    max_vcpus: d.maxVcpus,
    dying: d.isDying,
    servers: d.ioreq.servers.flatMap((s, i) => (s ? [i] : [])),
    claim: d.p2m.ioreqClaim(),
    entry_count: d.p2m.entryCount,
    shutdown: code === null ? null : (SHUTDOWN_NAMES[code] ?? String(code)),
    shutdown_code: code,
    irq: {
      pci_intx: intx,
      isa_irqs: [...irq.isaIrq].flatMap((b, i) => (b ? [i] : [])),
      gsi_assert_count: gsi,
      link_route: [...irq.linkRoute],
      link_assert_count: [...irq.linkAssertCount],
      spi_levels: spis,
    },
    events: d.vcpus.map((v) => (v.pendingEvent ? { ...v.pendingEvent, cr2: hx(v.pendingEvent.cr2) } : null)),
    msi: irq.lapics.map((l, vcpu) => ({ vcpu, irr: VlapicIrqState.vectors(l.irr), tmr: VlapicIrqState.vectors(l.tmr), esr_recv_illegal: l.esrRecvIllegal })),
    last_msi: lastMsi(irq.lastMsi),
    pirqs: [...irq.pirqsRaised].sort((a, b) => a - b),
    cacheattr: d.cacheattr.map((r) => ({ start: hx(r.start), end: hx(r.end), type: r.type })),
    dirty: d.p2m.dirtyLog.list().map(([a, b]) => [hx(a), hx(b)]),
    log_dirty: d.p2m.logDirtyEnabled,
    ioreq_gfn_pool: { base: hx(pool.base), free },
  };
}

function lastMsi(m: MsiDelivery | null): DomainSnapshot["last_msi"] {
  return m === null ? null : { vector: m.vector, dest: m.dest, dest_mode: m.destMode, delivery_mode: m.deliveryMode, trig_mode: m.trigMode, vcpus: [...m.vcpus] };
}
