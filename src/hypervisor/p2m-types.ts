// p2m types, groups and the HVMOP_get_mem_type table, as data.
// mirrors arch/x86/include/asm/p2m.h (p2m_type_t, P2M_*_TYPES) and hvm.c:hvmop_get_mem_type

export type P2mType =
  | "ram_rw" | "invalid" | "ram_logdirty" | "ram_ro" | "mmio_dm" | "mmio_direct" | "populate_on_demand"
  | "grant_map_rw" | "grant_map_ro" | "ram_paging_out" | "ram_paged" | "ram_paging_in" | "ram_shared"
  | "ram_broken" | "map_foreign" | "ioreq_server";

/** Index = Xen's p2m_type_t value. */
export const P2M_TYPES: readonly P2mType[] = [
  "ram_rw", "invalid", "ram_logdirty", "ram_ro", "mmio_dm", "mmio_direct", "populate_on_demand",
  "grant_map_rw", "grant_map_ro", "ram_paging_out", "ram_paged", "ram_paging_in", "ram_shared",
  "ram_broken", "map_foreign", "ioreq_server",
];

export const p2m_ram_rw = 0, p2m_invalid = 1, p2m_ram_logdirty = 2, p2m_ram_ro = 3, p2m_mmio_dm = 4,
  p2m_mmio_direct = 5, p2m_populate_on_demand = 6, p2m_grant_map_rw = 7, p2m_grant_map_ro = 8,
  p2m_ram_paging_out = 9, p2m_ram_paged = 10, p2m_ram_paging_in = 11, p2m_ram_shared = 12,
  p2m_ram_broken = 13, p2m_map_foreign = 14, p2m_ioreq_server = 15;

const mask = (...ts: number[]): number => ts.reduce((m, t) => m | (1 << t), 0);

export const P2M_RAM_TYPES = mask(p2m_ram_rw, p2m_ram_logdirty, p2m_ram_ro, p2m_ram_paging_out, p2m_ram_paged,
  p2m_ram_paging_in, p2m_ram_shared, p2m_ioreq_server);
export const P2M_HOLE_TYPES = mask(p2m_mmio_dm, p2m_invalid, p2m_ram_paging_in, p2m_ram_paged);
export const P2M_CHANGEABLE_TYPES = mask(p2m_ram_rw, p2m_ram_logdirty, p2m_ioreq_server);
export const P2M_PAGING_TYPES = mask(p2m_ram_paging_out, p2m_ram_paged, p2m_ram_paging_in);
export const P2M_RO_TYPES = mask(p2m_ram_logdirty, p2m_ram_ro, p2m_grant_map_ro, p2m_ram_shared);
export const P2M_MMIO_TYPES = mask(p2m_mmio_dm, p2m_mmio_direct);
export const P2M_GRANT_TYPES = mask(p2m_grant_map_rw, p2m_grant_map_ro);
/** Types that hold a frame owned by the domain when first mapped (the fake's "backed" default). */
export const P2M_OWNED_FRAME_TYPES = mask(p2m_ram_rw, p2m_ram_logdirty, p2m_ram_ro, p2m_ram_paging_out,
  p2m_ram_shared, p2m_ioreq_server);
/** Types for which get_page_from_gfn(P2M_UNSHARE) yields a page (p2m.c:p2m_get_page_from_gfn). */
export const P2M_PAGE_FROM_GFN_TYPES = mask(p2m_ram_rw, p2m_ram_logdirty, p2m_ram_ro, p2m_ram_paging_out,
  p2m_ram_shared, p2m_ioreq_server, p2m_map_foreign);

export const inGroup = (t: number, group: number): boolean => ((group >>> t) & 1) !== 0;

/** HVMMEM_* values. */
export const HVMMEM_ram_rw = 0, HVMMEM_ram_ro = 1, HVMMEM_mmio_dm = 2, HVMMEM_unused = 3,
  HVMMEM_ioreq_server = 4;

/** mirrors hvm.c:hvmop_get_mem_type — the first matching row wins. */
export function memTypeOfCode(t: number): number {
  if (inGroup(t, P2M_MMIO_TYPES)) return HVMMEM_mmio_dm;
  if (t === p2m_ioreq_server) return HVMMEM_ioreq_server;
  if (inGroup(t, P2M_RO_TYPES)) return HVMMEM_ram_ro;
  if (inGroup(t, P2M_RAM_TYPES)) return HVMMEM_ram_rw;
  if (t === p2m_populate_on_demand) return HVMMEM_ram_rw;
  if (inGroup(t, P2M_GRANT_TYPES)) return HVMMEM_ram_rw;
  return HVMMEM_mmio_dm;
}

/** set_mem_type's interface-to-internal table (dm.c:set_mem_type memtype[]); undefined = refused. */
export const MEMTYPE_TO_P2M: readonly (number | undefined)[] = [p2m_ram_rw, p2m_ram_ro, p2m_mmio_dm, undefined,
  p2m_ioreq_server];

/** mirrors dm.c:allow_p2m_type_change */
export function allowP2mTypeChange(old: number, nt: number): boolean {
  if (nt === p2m_ioreq_server) return old === p2m_ram_rw;
  if (old === p2m_ioreq_server) return nt === p2m_ram_rw;
  return inGroup(old, P2M_RAM_TYPES) || (inGroup(old, P2M_HOLE_TYPES) && nt === p2m_mmio_dm);
}

export function p2mTypeCode(t: P2mType): number {
  const i = P2M_TYPES.indexOf(t);
  if (i < 0) throw new TypeError(`unknown p2m type ${t}`);
  return i;
}

export function p2mTypeName(code: number): P2mType {
  const t = P2M_TYPES[code];
  if (t === undefined) throw new RangeError(`p2m type code ${String(code)} out of range`);
  return t;
}
