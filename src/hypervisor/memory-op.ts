// memory_op's reservation commands and the multicall that wraps them, over the fake's p2m.
import {
  DOMID_SELF, MEMOP_CMD_MASK, MEMOP_EXTENT_SHIFT, MULTICALL_ENTRY_SIZE, XEN_MEMORY_RESERVATION_SIZE,
  XENMEM_populate_physmap, __HYPERVISOR_memory_op,
} from "../../abi/xen/xen.js";
import { EFAULT, ENOSYS } from "./explain.js";
import type { Hypervisor } from "./hypervisor.js";

/** Xen's default memop-max-order: CONFIG_DOMU_MAX_ORDER and (x86) CONFIG_CTLDOM_MAX_ORDER = MAX_ORDER. */
export const DOMU_MAX_ORDER = 9;
export const CTLDOM_MAX_ORDER = 20;
/** Highest gfn the fake's p2m holds (40 address bits of frames). */
const MAX_GFN = 2 ** 40 - 1;
const MEMF_populate_on_demand_flag = 1 << 16; // XENMEMF_populate_on_demand
const BUSY_TYPES = new Set(["grant_map_rw", "grant_map_ro", "map_foreign"]);

/** The bytes of one reservation command: the xen_memory_reservation and its extent_start array. */
export interface ReservationBufs {
  /** 32 bytes, or null when the caller's struct was unreadable. */
  reservation: Uint8Array | null;
  /** nr_extents * 8 bytes (written back in place), or null when unreadable. */
  extents: Uint8Array | null;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * memory_op's reservation commands: the number of extents done (Xen returns start_extent for every
 * early failure). Only XENMEM_populate_physmap changes the p2m; other commands are -ENOSYS.
 * mirrors memory.c:do_memory_op (the reservation cases) + construct_memop_from_reservation
 */
export function memoryOpReservation(hv: Hypervisor, caller: number, cmd: bigint, bufs: ReservationBufs): number {
  const op = Number(cmd & BigInt(MEMOP_CMD_MASK));
  const start = cmd >> BigInt(MEMOP_EXTENT_SHIFT);
  if (op !== XENMEM_populate_physmap) return ENOSYS;
  const startN = Number(start & 0xffff_ffffn);
  if (bufs.reservation === null || bufs.reservation.length < XEN_MEMORY_RESERVATION_SIZE) return startN;
  const v = dv(bufs.reservation);
  const nrExtents = v.getBigUint64(8, true);
  const order = v.getUint32(16, true);
  const memFlags = v.getUint32(20, true);
  const domid = v.getUint16(24, true);
  if (nrExtents > BigInt(0xffff_ffff >>> MEMOP_EXTENT_SHIFT)) return startN;
  if (start >= nrExtents) return startN;
  const target = domid === DOMID_SELF ? caller : domid;
  const d = hv.domain(target);
  const c = hv.domain(caller);
  if (d === undefined || c === undefined) return startN;
  // xsm_memory_adjust_reservation(XSM_TARGET)
  if (target !== caller && !(c.control || c.target === target)) return startN;
  const nr = Number(nrExtents);
  // guest_handle_subrange_okay: the whole extent array must be accessible
  if (bufs.extents === null || bufs.extents.length < nr * 8) return startN;
  return populatePhysmap(hv, caller, target, startN, nr, order, memFlags, bufs.extents);
}

/** mirrors memory.c:populate_physmap (HVM, non-direct-mapped, no static memory) */
function populatePhysmap(hv: Hypervisor, caller: number, target: number, done: number, nr: number, order: number, memFlags: number, extents: Uint8Array): number {
  const d = hv.domain(target)!;
  const pod = (memFlags & MEMF_populate_on_demand_flag) !== 0;
  const maxOrder = hv.domain(caller)!.control ? CTLDOM_MAX_ORDER : DOMU_MAX_ORDER;
  if (order > (pod ? CTLDOM_MAX_ORDER : maxOrder)) return done;
  if (pod && target === caller) return done; // "Disallow populating PoD pages on oneself."
  const v = dv(extents);
  const pages = 2 ** order;
  for (let i = done; i < nr; i++) {
    const g = v.getBigUint64(i * 8, true);
    // guest_physmap_add_page: the frames must fit the p2m and be aligned to the order
    if (g > BigInt(MAX_GFN)) return i;
    const first = Number(g);
    const last = first + pages - 1;
    if (last > MAX_GFN || first % pages !== 0) return i;
    const runs = d.p2m.ranges(first, last);
    if (runs.some((r) => BUSY_TYPES.has(r.type))) return i; // p2m_add_page: -EBUSY for grant/foreign
    // An existing RAM page is replaced by a fresh (zeroed) one.
    for (const r of runs) {
      if (r.type !== "ram_rw" && r.type !== "ram_logdirty" && r.type !== "ram_ro") continue;
      for (let x = r.first; x <= r.last; x++) if (d.memory.peekPage(x) !== undefined) d.memory.discard(x);
    }
    d.p2m.setType(first, last, pod ? "populate_on_demand" : "ram_rw");
  }
  return nr;
}

/** One multicall entry's memory_op buffers, indexed as the wire sends them. */
export type EntryBufs = (ReservationBufs | undefined)[];

/**
 * do_multicall: each entry runs in turn and its result is stored in the entry's `result` field; the
 * hypercall itself returns 0. Only memory_op entries run; any other op's result is -ENOSYS.
 * mirrors multicall.c:do_multicall
 */
export function multicall(hv: Hypervisor, caller: number, entries: Uint8Array | null, nr: number, perEntry: EntryBufs): number {
  if (nr === 0) return 0;
  if (entries === null || entries.length < nr * MULTICALL_ENTRY_SIZE) return EFAULT;
  const v = dv(entries);
  for (let i = 0; i < nr; i++) {
    const o = i * MULTICALL_ENTRY_SIZE;
    const op = v.getBigUint64(o, true);
    let rc: number;
    const bufs = perEntry[i];
    if (op === BigInt(__HYPERVISOR_memory_op) && bufs !== undefined) rc = memoryOpReservation(hv, caller, v.getBigUint64(o + 16, true), bufs);
    else rc = ENOSYS;
    v.setBigInt64(o + 8, BigInt(rc), true);
  }
  return 0;
}
