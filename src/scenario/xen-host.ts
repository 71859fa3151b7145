// The scenario host backed by the fake hypervisor (src/hypervisor/).
import { encode, decode } from "../codec/index.js";
import { guestOf, type AccessResult, type EmitEvent } from "../hypervisor/emulate.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { inGroup, P2M_PAGE_FROM_GFN_TYPES, p2mTypeName } from "../hypervisor/p2m-types.js";
import { PrivcmdDevice } from "../privcmd/index.js";
import type { DmOpBuf } from "../privcmd/types.js";
import { HostUnsupported, type Arch, type QueryResult, type ScenarioHost } from "./host.js";
import type { EmulatorStep, GuestStep, QueryArgs, QueryKind } from "./types.js";
import type { JsonObject } from "./values.js";

/** HVMMEM_* names by value, as HVMOP_get_mem_type reports them. */
const HVMMEM_NAMES = ["ram_rw", "ram_ro", "mmio_dm", "unused", "ioreq_server"];

/** Builds the fake for a scenario world. */
export function createXenHost(world: JsonObject): ScenarioHost {
  return new XenHost(new Hypervisor(world));
}

export class XenHost implements ScenarioHost {
  constructor(readonly hv: Hypervisor) {}

  dm_op(caller: number, domid: number, bufs: DmOpBuf[], nrBufs?: number): number {
    return this.hv.dm_op(caller, domid, bufs, nrBufs ?? bufs.length);
  }

  /** A guest access through the emulation path; records what it emits. */
  guest(step: GuestStep): QueryResult {
    const g = guestOf(this.hv);
    const emitted: EmitEvent[] = [];
    const off = g.onEmit((e) => emitted.push(e));
    let r: AccessResult;
    try {
      r = access(this.hv, step);
    } finally {
      off();
    }
    return accessResult(r, emitted, g.crashed(step.domid));
  }

  /**
   * A guest access answered by a device model in another process: a pending access waits (at most
   * `timeoutMs`) for the vCPU to be woken with every answer in. Records everything emitted meanwhile.
   */
  async guestLive(step: GuestStep, timeoutMs: number, gone?: Promise<string>): Promise<QueryResult> {
    const g = guestOf(this.hv);
    const emitted: EmitEvent[] = [];
    const off = g.onEmit((e) => emitted.push(e));
    let done: AccessResult | undefined;
    let wake: (() => void) | undefined;
    let why: string | undefined;
    try {
      const first = access(this.hv, step, (r) => {
        done = r;
        wake?.();
      });
      if (first.status !== "pending") return accessResult(first, emitted, g.crashed(step.domid));
      if (done === undefined) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((res) => {
          wake = res;
          timer = setTimeout(res, timeoutMs);
          void gone?.then((w) => {
            why = w;
            res();
          });
        });
        clearTimeout(timer);
      }
      if (done === undefined) {
        const res = accessResult(first, emitted, g.crashed(step.domid));
        const on = `vCPU ${step.vcpu} still waits on server ${g.waitingOn(step.domid, step.vcpu).join(", ")}`;
        res.timeout = why !== undefined ? `no answer: ${why} (${on})` : `no answer from the device model within ${timeoutMs} ms (${on})`;
        return res;
      }
      return accessResult(done, emitted, g.crashed(step.domid));
    } finally {
      off();
    }
  }

  /** Guest-physical bytes read or written directly; every page must be RAM a foreign mapping reaches. */
  ram(domid: number, addr: bigint, write: Uint8Array | undefined, read: number | undefined): QueryResult {
    const d = this.hv.domain(domid);
    if (d === undefined) throw new HostUnsupported(`domain ${domid} does not exist`);
    const len = write?.length ?? read ?? 0;
    const first = addr >> 12n;
    const last = (addr + BigInt(len) - 1n) >> 12n;
    for (let g = first; g <= last; g++) {
      const t = d.p2m.typeCodeOf(Number(g));
      if (!inGroup(t, P2M_PAGE_FROM_GFN_TYPES)) throw new HostUnsupported(`gfn 0x${g.toString(16)} of domain ${domid} is ${p2mTypeName(t)}, not RAM`);
    }
    if (write !== undefined) {
      d.memory.write(addr, write);
      return { written: write.length };
    }
    return { hex: hexOf(d.memory.read(addr, len)) };
  }

  served(abi: Arch): { device: PrivcmdDevice; hv: Hypervisor } {
    return { device: new PrivcmdDevice(this.hv, { abi }), hv: this.hv };
  }

  /** A device model answering (or looking at) the sync slot of one vCPU in a server's page. */
  emulator(step: EmulatorStep): QueryResult {
    const d = this.hv.domain(step.domid);
    const s = d?.ioreq.servers[step.server];
    const page = s?.ioreqPage.page ?? null;
    if (s === undefined || page === null) throw new HostUnsupported(`server ${step.server} of domain ${step.domid} has no ioreq page (map it with get_ioreq_server_info first)`);
    const off = 32 * step.vcpu;
    if (off + 32 > page.length) throw new HostUnsupported(`vcpu ${step.vcpu} has no slot in the ioreq page`);
    if (step.respond === undefined) {
      const slot = page.slice(off, off + 32);
      const fields = decode("ioreq", slot) as Record<string, unknown>;
      return { ioreq: { server: step.server, slot: "sync", fields, hex: hexOf(slot) }, pending: fields.state === 1 || fields.state === 2 };
    }
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    if (step.respond.data !== undefined) view.setBigUint64(off + 8, BigInt.asUintN(64, step.respond.data), true);
    const state = step.respond.state ?? 3; // STATE_IORESP_READY
    page[off + 30] = ((page[off + 30] ?? 0) & 0xf0) | (state & 0x0f);
    const g = guestOf(this.hv);
    const emitted: EmitEvent[] = [];
    const unsub = g.onEmit((e) => emitted.push(e));
    let r: AccessResult | undefined;
    try {
      r = g.notified(step.domid, s.ioreqEvtchn[step.vcpu] ?? -1);
    } finally {
      unsub();
    }
    const res = r === undefined ? { woke: false, none: emitted.length === 0 } : accessResult(r, emitted, g.crashed(step.domid));
    if (r !== undefined && r.status === "done") res.guest_result = r.value ?? (r.bytes !== undefined ? hexOf(r.bytes) : null);
    return res;
  }

  explain(): string | undefined {
    const e = this.hv.explain();
    return e === null ? undefined : `${e.errno}: ${e.rule} (mirrors ${e.mirrors})`;
  }

  query(kind: QueryKind, a: QueryArgs): QueryResult {
    const d = this.hv.domain(a.domid);
    if (kind === "server") return { ...this.hv.server(a.domid, a.id ?? 0) };
    const snap = this.hv.snapshot(a.domid);
    if (d === undefined || snap === undefined) return { exists: false };
    switch (kind) {
      case "p2m": {
        const first = Number(a.first_gfn ?? 0n);
        const nr = a.nr ?? 1;
        if (!Number.isSafeInteger(first + nr)) throw new HostUnsupported(`p2m query beyond 2^53: first_gfn ${first}`);
        const p2m = d.p2m;
        const types: string[] = [];
        for (let g = first; g < first + nr; g++) {
          types.push(a.internal === true ? p2mTypeName(p2m.typeCodeOf(g)) : (HVMMEM_NAMES[p2m.memTypeOf(g)] ?? String(p2m.memTypeOf(g))));
        }
        return { types };
      }
      case "claim":
        return { ...snap.claim };
      case "entry_count":
        return { value: snap.entry_count };
      case "domain":
        return { ...snap };
      case "irq":
        return { ...snap.irq };
      case "event":
        if (a.vcpu !== undefined) {
          const ev = snap.events[a.vcpu];
          return ev === undefined ? { exists: false } : ev === null ? { pending: false } : { pending: true, ...ev };
        }
        return { events: snap.events };
      case "msi":
        return { msi: snap.msi, last_msi: snap.last_msi, pirqs: snap.pirqs };
      case "dirty": {
        // runs of pfns marked dirty, clipped to [first_gfn, first_gfn + nr) when given
        const lo = a.first_gfn ?? 0n;
        const hi = a.first_gfn === undefined ? null : lo + BigInt(a.nr ?? 1) - 1n;
        const ranges: [string, string][] = [];
        for (const [x, y] of snap.dirty) {
          const s0 = BigInt(x) > lo ? BigInt(x) : lo;
          const e0 = hi === null || BigInt(y) < hi ? BigInt(y) : hi;
          if (s0 <= e0) ranges.push([`0x${s0.toString(16)}`, `0x${e0.toString(16)}`]);
        }
        return { log_dirty: snap.log_dirty, ranges };
      }
      case "cacheattr":
        return { ranges: snap.cacheattr };
      case "device_model":
      case "serial":
      case "xenstore":
        throw new HostUnsupported(`the ${kind} query is answered by the runner`);
    }
  }
}

/** Starts the access a guest step describes. */
function access(hv: Hypervisor, step: GuestStep, onDone?: (r: AccessResult) => void): AccessResult {
  const g = guestOf(hv);
  const extra = {
    ...(step.data !== undefined ? { data: step.data } : {}),
    ...(step.count !== undefined ? { count: step.count } : {}),
    ...(step.df !== undefined ? { df: step.df } : {}),
    ...(step.data_is_ptr !== undefined ? { data_is_ptr: step.data_is_ptr } : {}),
  };
  if (step.access === "pio") return g.pio(step.domid, step.vcpu, { port: step.addr, size: step.size, dir: step.dir, ...extra }, onDone);
  if (step.access === "mmio") return g.mmio(step.domid, step.vcpu, { addr: step.addr, size: step.size, dir: step.dir, ...extra }, onDone);
  return g.mem(step.domid, step.vcpu, { addr: step.addr, size: step.size, dir: step.dir, ...(step.data !== undefined ? { data: step.data } : {}) }, onDone);
}

function hexOf(b: Uint8Array): string {
  let t = "";
  for (const x of b) t += x.toString(16).padStart(2, "0");
  return t;
}

/**
 * The records an emit produced, as the emulator finds them when notified: a sync request that was
 * sent is STATE_IOREQ_READY (ioreq_t fields, 32-byte hex); a buffered send is the ring slots it filled
 * (buf_ioreq_t fields, 8-byte hex, the slot index), so an 8-byte write is two records.
 */
function records(e: EmitEvent): QueryResult[] {
  if (e.ring === undefined) return [record(e)];
  return e.ring.map((r) => {
    const rec: QueryResult = { server: e.server, vcpu: e.vcpu, slot: e.slot, status: e.status, index: r.index, fields: decode("buf_ioreq", r.bytes), hex: hexOf(r.bytes) };
    return rec;
  });
}

function record(e: EmitEvent): QueryResult {
  const fields = { ...e.fields };
  if (e.slot === "sync" && e.status === "retry") fields.state = 1;
  const rec: QueryResult = { server: e.server, vcpu: e.vcpu, slot: e.slot, status: e.status, fields };
  if (e.slot === "sync") rec.hex = hexOf(encode("ioreq", fields));
  if (e.reason !== undefined) rec.reason = e.reason;
  return rec;
}

/** What a guest access (or its completion) produced, in the shape guest/emulator expectations name. */
function accessResult(r: AccessResult, events: readonly EmitEvent[], crashed: string | null): QueryResult {
  // Only records that reached a slot count as emitted; refused or dropped sends are listed apart.
  const placed = (e: EmitEvent): boolean => (e.slot === "sync" ? e.status === "retry" : e.status === "handled" && e.reason === undefined);
  const ioreqs = events.filter(placed).flatMap(records);
  const refused = events.filter((e) => !placed(e)).map(record);
  const res: QueryResult = {
    status: r.status,
    ioreqs,
    none: ioreqs.length === 0,
    pending: r.status === "pending",
    retry: r.status === "retry",
    crash: crashed !== null,
  };
  if (ioreqs.length === 1) res.ioreq = ioreqs[0];
  if (refused.length > 0) res.refused = refused;
  if (r.status === "done") res.result = r.value ?? (r.bytes !== undefined ? hexOf(r.bytes) : null);
  if (r.status === "unhandled") res.unhandled = `${r.effect}: ${r.reason}`;
  return res;
}
