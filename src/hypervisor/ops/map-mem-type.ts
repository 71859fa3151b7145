// op 15 map_mem_type_to_ioreq_server: claim / disclaim p2m_ioreq_server and the synchronous sweep.
// mirrors hvm/dm.c:dm_op case + common/ioreq.c:ioreq_server_map_mem_type + hvm/ioreq.c:arch_ioreq_server_map_mem_type
import { done } from "../context.js";
import type { OpContext, OpHandler } from "../context.js";
import { EINVAL, EOPNOTSUPP, ERESTART } from "../explain.js";
import { lookupServer } from "../ioreq-server.js";

export interface MapMemTypeToIoreqServer { id: number; type: number; flags: number; opaque: bigint }

const HVMMEM_ioreq_server = 4;
const XEN_DMOP_IOREQ_MEM_ACCESS_WRITE = 2;

function claimStep(ctx: OpContext, p: MapMemTypeToIoreqServer): number {
  const fn = "ioreq.c:ioreq_server_map_mem_type";
  if (p.type !== HVMMEM_ioreq_server) return ctx.refuse(EINVAL, `type ${p.type} is not HVMMEM_ioreq_server`, fn);
  if (p.flags & ~XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) return ctx.refuse(EINVAL, `flags ${p.flags} other than XEN_DMOP_IOREQ_MEM_ACCESS_WRITE`, fn);
  const s = lookupServer(ctx, p.id, fn);
  if (typeof s === "number") return s;
  const p2m = ctx.d.p2m;
  const rc = p2m.setIoreqServer(s.id, p.flags);
  if (rc !== 0) {
    const claim = p2m.ioreqClaim();
    const why = p.flags === 0
      ? `server ${s.id} is not the claimant (claimant: ${claim.server ?? "none"})`
      : claim.server !== null ? `server ${claim.server} already holds the claim` : `entry_count is ${p2m.entryCount}`;
    return ctx.refuse(rc, why, "p2m.c:p2m_set_ioreq_server");
  }
  p2m.mapMemTypeCompleted(p.flags);
  return 0;
}

export const mapMemTypeToIoreqServer: OpHandler<MapMemTypeToIoreqServer> = (ctx, p) => {
  if (!ctx.d.hap) return done(ctx.refuse(EOPNOTSUPP, `domain ${ctx.d.domid} does not use HAP`, "hvm/dm.c:dm_op"), false);
  // A non-zero opaque is a continuation: the claim step (and all its checks) is skipped.
  const rc = p.opaque === 0n ? claimStep(ctx, p) : 0;
  if (rc !== 0 || p.flags !== 0) return done(rc, false);
  // The sweep: 256-gfn chunks of p2m_finish_type_change while entry_count != 0 and g <= max_mapped_pfn,
  // a preemption check after every chunk that is not the last (computed run by run by the p2m).
  const r = ctx.d.p2m.sweepIoreq(p.opaque, () => ctx.preempt());
  if (r.rc === ERESTART) p.opaque = r.opaque;
  else if (r.rc < 0) ctx.refuse(r.rc, "the p2m sweep failed", "p2m.c:p2m_finish_type_change");
  return done(r.rc, false);
};
