// The DMOP handler table, keyed by op number.
import { dmOpMembers } from "../../../abi/xen/dm_op.js";
import type { OpContext, OpHandler, OpResult } from "../context.js";
import { injectEvent, injectMsi, nrVcpus, pinMemoryCacheattr, remoteShutdown } from "./event.js";
import {
  createIoreqServer, destroyIoreqServer, getIoreqServerInfo, mapIoRangeToIoreqServer, setIoreqServerState,
  unmapIoRangeFromIoreqServer,
} from "./ioreq.js";
import { setIrqLevel, setIsaIrqLevel, setPciIntxLevel, setPciLinkRoute } from "./irq.js";
import { mapMemTypeToIoreqServer } from "./map-mem-type.js";
import { modifiedMemory, relocateMemory, setMemType, trackDirtyVram } from "./mem.js";
import type { Payload } from "./payload.js";

export interface OpSpec {
  readonly op: number;
  /** Member of xen_dm_op.u and its struct tag. */
  readonly member: string;
  readonly type: string;
  readonly handler: (ctx: OpContext, payload: Payload) => OpResult;
  /** Which dispatchers give the op a payload size and a case (others end in -EOPNOTSUPP). */
  readonly x86: boolean;
  readonly arm: boolean;
  /** The first release that knows the op (4.9 knows ops 1-15). */
  readonly since: "4.9" | "4.10" | "4.11" | "4.15";
  /** The Xen function the op's rules mirror. */
  readonly mirrors: string;
}

interface Def {
  handler: OpHandler<never>;
  x86?: boolean;
  arm?: boolean;
  since?: OpSpec["since"];
  mirrors: string;
}

const defs: Record<number, Def> = {
  1: { handler: createIoreqServer, arm: true, mirrors: "ioreq.c:ioreq_server_create" },
  2: { handler: getIoreqServerInfo, arm: true, mirrors: "ioreq.c:ioreq_server_get_info" },
  3: { handler: mapIoRangeToIoreqServer, arm: true, mirrors: "ioreq.c:ioreq_server_map_io_range" },
  4: { handler: unmapIoRangeFromIoreqServer, arm: true, mirrors: "ioreq.c:ioreq_server_unmap_io_range" },
  5: { handler: setIoreqServerState, arm: true, mirrors: "ioreq.c:ioreq_server_set_state" },
  6: { handler: destroyIoreqServer, arm: true, mirrors: "ioreq.c:ioreq_server_destroy" },
  7: { handler: trackDirtyVram, mirrors: "hvm/dm.c:track_dirty_vram" },
  8: { handler: setPciIntxLevel, mirrors: "hvm/dm.c:set_pci_intx_level" },
  9: { handler: setIsaIrqLevel, mirrors: "hvm/dm.c:set_isa_irq_level" },
  10: { handler: setPciLinkRoute, mirrors: "hvm/irq.c:hvm_set_pci_link_route" },
  11: { handler: modifiedMemory, mirrors: "hvm/dm.c:modified_memory" },
  12: { handler: setMemType, mirrors: "hvm/dm.c:set_mem_type" },
  13: { handler: injectEvent, mirrors: "hvm/dm.c:inject_event" },
  14: { handler: injectMsi, mirrors: "hvm/irq.c:hvm_inject_msi" },
  15: { handler: mapMemTypeToIoreqServer, mirrors: "ioreq.c:ioreq_server_map_mem_type" },
  16: { handler: remoteShutdown, since: "4.10", mirrors: "domain.c:domain_shutdown" },
  17: { handler: relocateMemory, since: "4.11", mirrors: "common/memory.c:xenmem_add_to_physmap" },
  18: { handler: pinMemoryCacheattr, since: "4.11", mirrors: "hvm/mtrr.c:hvm_set_mem_pinned_cacheattr" },
  19: { handler: setIrqLevel, x86: false, arm: true, since: "4.15", mirrors: "arm/dm.c:dm_op" },
  20: { handler: nrVcpus, arm: true, since: "4.15", mirrors: "hvm/dm.c:dm_op" },
};

let table: readonly (OpSpec | undefined)[] | null = null;

/** op -> spec; undefined where no op exists. */
export function opTable(): readonly (OpSpec | undefined)[] {
  if (table) return table;
  table = dmOpMembers.map((m, op) => {
    const d = defs[op];
    if (!m || !d) return undefined;
    return {
      op,
      member: m.member,
      type: m.type,
      handler: d.handler as unknown as OpSpec["handler"],
      x86: d.x86 ?? true,
      arm: d.arm ?? false,
      since: d.since ?? "4.9",
      mirrors: d.mirrors,
    };
  });
  return table;
}
