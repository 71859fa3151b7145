// Which Xen release the fake behaves as. Every version-dependent rule reads a flag here.

export type PersonaName = "4.17" | "master" | "4.9";
export type Arch = "x86" | "arm";

export interface Persona {
  readonly name: PersonaName;
  /** The release the behaviour is taken from. */
  readonly release: string;
  readonly arch: Arch;
  /** nr_bufs == 0 -> -ENODATA in do_dm_op (XSA-506). 4.9: buffer 0 is refused later with -EFAULT. */
  readonly noDataCheck: boolean;
  /** A PV target returns 0 instead of -EINVAL (before 4.15). */
  readonly pvReturnsZero: boolean;
  /** Per-op op_size copies (4.11+); false: the whole struct xen_dm_op is copied in and out. */
  readonly perOpSize: boolean;
  /** Number of ops the dispatcher knows (op_size table size, or highest op + 1). */
  readonly nrOps: number;
  /** Server ops check server.emulator == caller (4.11+). */
  readonly ownerCheck: boolean;
  /** map/unmap io range refuse start > end (4.10+). */
  readonly startEndCheck: boolean;
  /** get_ioreq_server_info takes flags (no_gfns) rather than pad; gfns mapped lazily (4.11+). */
  readonly getInfoFlags: boolean;
  /** modified_memory refuses nr_bufs != 2 (XSA-506). */
  readonly modifiedMemoryNeedsTwoBufs: boolean;
  /** Arm set_irq_level really fails on pad != 0 (c29e5a16cb). */
  readonly armIrqPadEnforced: boolean;
  /** Legacy ioreq gfn fallback tests the legacy mask the right way round (282ed258a5). */
  readonly legacyGfnFixed: boolean;
  /** At most 8 servers in slots (4.12+); 4.9 used a list with ids counting up from 1. */
  readonly serverSlots: boolean;
  /** The Arm build has a dm_op hypercall at all (4.12+). */
  readonly armDmOp: boolean;
  /** inject_msi computes the vector-0 pirq as unsigned (62252f58d0, 4.18): only 0 is -ERANGE. */
  readonly msiPirqUnsigned: boolean;
  /** pin_memory_cacheattr refuses UC/UC-/WC without an IOMMU or I/O resources (d63b2c60f7, 4.21). */
  readonly cacheattrRestricted: boolean;
  /** ioreq_send_buffered: a request the ring cannot carry is IOREQ_STATUS_UNHANDLED (master) rather than dropped as handled. */
  readonly bufferedUnsupportedUnhandled: boolean;
  /** ioreq_server_select: a df = 1 MMIO string covers the bytes below addr (4.17); 4.9 counts upwards from addr. */
  readonly selectDfDownwards: boolean;
  /** prepare_ring_for_helper goes through check_get_page_from_gfn: p2m_mmio_direct is -EPERM (4.14+; 4.9: -EINVAL). */
  readonly ringMmioDirectEperm: boolean;
  /** p2m_remove_page asks for a mapcache invalidation (ioreq_request_mapcache_invalidate; not in 4.9). */
  readonly removeInvalidatesMapcache: boolean;
}

const base417: Omit<Persona, "arch"> = {
  name: "4.17",
  release: "4.17.7",
  noDataCheck: true,
  pvReturnsZero: false,
  perOpSize: true,
  nrOps: 21,
  ownerCheck: true,
  startEndCheck: true,
  getInfoFlags: true,
  modifiedMemoryNeedsTwoBufs: true,
  armIrqPadEnforced: false,
  legacyGfnFixed: false,
  serverSlots: true,
  armDmOp: true,
  msiPirqUnsigned: false,
  cacheattrRestricted: false,
  bufferedUnsupportedUnhandled: false,
  selectDfDownwards: true,
  ringMmioDirectEperm: true,
  removeInvalidatesMapcache: true,
};

const tables: Record<PersonaName, Omit<Persona, "arch">> = {
  "4.17": base417,
  master: {
    ...base417, name: "master", release: "master", armIrqPadEnforced: true, legacyGfnFixed: true,
    msiPirqUnsigned: true, cacheattrRestricted: true, bufferedUnsupportedUnhandled: true,
  },
  "4.9": {
    ...base417,
    name: "4.9",
    release: "4.9.0",
    noDataCheck: false,
    pvReturnsZero: true,
    perOpSize: false,
    nrOps: 16,
    ownerCheck: false,
    startEndCheck: false,
    getInfoFlags: false,
    modifiedMemoryNeedsTwoBufs: false,
    serverSlots: false,
    armDmOp: false,
    selectDfDownwards: false,
    ringMmioDirectEperm: false,
    removeInvalidatesMapcache: false,
  },
};

export function makePersona(name: PersonaName = "4.17", arch: Arch = "x86"): Persona {
  return Object.freeze({ ...tables[name], arch });
}

export function isPersonaName(v: unknown): v is PersonaName {
  return v === "4.17" || v === "master" || v === "4.9";
}
