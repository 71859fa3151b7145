// The scenario host backed by the fake hypervisor (src/hypervisor/).
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { p2mTypeName } from "../hypervisor/p2m-types.js";
import type { DmOpBuf } from "../privcmd/types.js";
import { HostUnsupported, type QueryResult, type ScenarioHost } from "./host.js";
import type { QueryArgs, QueryKind } from "./types.js";
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
        return { msi: snap.msi, pirqs: snap.pirqs };
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
    }
  }
}
