// The shapes of guest-access emulation: what routing needs from a domain, the accesses a guest makes,
// their results, and the per-domain and per-vCPU state the job machine keeps.
import type { GuestMemory } from "./guest-memory.js";
import type { IoreqFields, IoreqServerLike, SendEnv } from "./ioreq-send.js";
import type { HvmPlatform } from "./hvm/platform.js";

/** What routing needs from a domain (the hypervisor core and p2m own these). */
export interface GuestDomainPort {
  readonly domid: number;
  readonly nrVcpus: number;
  readonly memory: GuestMemory;
  /** has_vvga(d): the domain has an emulated VGA, so stdvga sends VRAM writes buffered. */
  readonly hasVga: boolean;
  /** Behaviour version; the two flags below, when given, take precedence over the name. */
  readonly persona: string;
  /** ioreq_send_buffered: an unsupported buffered request is UNHANDLED (default: persona "master"). */
  readonly bufferedUnsupportedUnhandled?: boolean;
  /** ioreq_server_select: df = 1 strings cover the bytes below addr (default: every persona but "4.9"). */
  readonly selectDfDownwards?: boolean;
  /** AMD family 0x10..0x16 with NB_CFG extended config enabled: CF8 bits 24..27 extend the register. */
  readonly amdExtendedCf8?: boolean;
  /** Existing servers in the order range selection tries them (highest id first; 4.9: newest first). */
  serversInSelectionOrder(): readonly IoreqServerLike[];
  /** 4.9: the default ioreq server, which selection falls back to (absent or null: no fallback). */
  defaultServer?(): IoreqServerLike | null;
  /** The domain's 0xCF8 latch (d->arch.hvm.pci_cf8). */
  pciCf8: number;
  /** "x86" (default) or "arm"; only x86 routing is modelled. */
  readonly arch?: string;
  /** Consumes a pending "invalidate the mapcache" request for the domain (every vCPU gets flagged). */
  takeMapcacheInvalidate?(): boolean;
  /** The p2m type name of a gfn ("ram_rw", "ioreq_server", "mmio_dm", ...). */
  p2mType(gfn: number): string;
  /** The server holding the p2m_ioreq_server claim, or null. */
  claimant(): IoreqServerLike | null;
  /** notify_via_xen_event_channel on one of the domain's ports. */
  notify(port: number): void;
  /** domain_crash(d). */
  crash(reason: string): void;
  /**
   * A guest write hit a p2m_ram_logdirty page: the pfn is marked dirty and the entry becomes ram_rw
   * before the write is retried (hvm.c:hvm_hap_nested_page_fault -> paging_mark_pfn_dirty).
   */
  logDirtyFault?(gfn: number): void;
  /** The domain is shutting down: a sync send is suspended (RETRY, nothing sent). */
  shuttingDown?(): boolean;
  /** Xen's own platform devices, which take the accesses they claim first (absent or null: none). */
  readonly platform?: HvmPlatform | null;
}

export type Dir = "read" | "write";
export type IntIn = number | bigint;

export interface PioAccess {
  port: IntIn;
  size: number;
  dir: Dir;
  /** Value for writes (low `size` bytes), or the buffer's gpa with data_is_ptr. */
  data?: IntIn;
  count?: number;
  /** one-bit fields: a boolean or 0/1 */
  df?: boolean | 0 | 1;
  data_is_ptr?: boolean | 0 | 1;
}

export interface MmioAccess {
  addr: IntIn;
  /** 1..64 for a single access (split as Xen splits it); 1/2/4/8 with count > 1 or data_is_ptr. */
  size: number;
  dir: Dir;
  data?: IntIn | Uint8Array;
  count?: number;
  /** one-bit fields: a boolean or 0/1 */
  df?: boolean | 0 | 1;
  data_is_ptr?: boolean | 0 | 1;
}

export type MemAccess = Omit<MmioAccess, "count" | "df" | "data_is_ptr">;

export type AccessResult =
  /** value: what a direct read got (bytes too when the access was split or is a plain RAM read) */
  | { status: "done"; value?: bigint; bytes?: Uint8Array; reps?: number }
  | { status: "pending"; server: number; vcpu: number }
  | { status: "retry" }
  | { status: "unhandled"; reason: string; effect: "domain_crash" | "gp_fault" | "emulation_failed" };

/** One emitted record, for observers (tests, the demo, traces). */
export interface EmitEvent {
  domid: number;
  vcpu: number;
  server: number;
  slot: "sync" | "buffered";
  fields: IoreqFields;
  status: string;
  reason?: string;
  /**
   * A buffered send that reached the ring: the ring slots it filled, in order (an 8-byte write fills
   * two: the low half, then the high half), each with its index and its 8 bytes of buf_ioreq_t.
   */
  ring?: { index: number; bytes: Uint8Array }[];
}

export class GuestAccessError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "GuestAccessError";
  }
}

/** One hvmemul_do_io call. */
export interface Chunk {
  isMmio: boolean;
  addr: bigint;
  size: number;
  count: number;
  dir: number;
  df: number;
  dataIsPtr: number;
  /** value for direct writes, buffer gpa for data_is_ptr */
  data: bigint;
  /** offset of this chunk in the access's byte buffer */
  offset: number;
}


/** What one hvmemul_do_io call did; the details are left in GuestEmulator.io (no allocation per call). */
export const IO_OK = 0;
export const IO_SENT = 1;
export const IO_RETRY = 2;
export const IO_UNHANDLED = 3;
export type IoOutcome = typeof IO_OK | typeof IO_SENT | typeof IO_RETRY | typeof IO_UNHANDLED;

export interface IoDetails {
  data: bigint;
  reps: number;
  server: IoreqServerLike | null;
  port: number;
  complete: boolean;
  reason: string;
}

export interface Wait {
  server: IoreqServerLike;
  port: number;
}

export interface Job {
  kind: "pio" | "mmio" | "invalidate" | "direct";
  chunks: Chunk[];
  index: number;
  /** the access's bytes when it was split into several chunks (null for one chunk) */
  bytes: Uint8Array | null;
  /** a single chunk's read value */
  value: bigint;
  dir: number;
  reps: number;
  /** the current chunk needs its response data */
  takeData: boolean;
  next: Job | null;
  onDone: ((r: AccessResult) => void) | undefined;
  /** the final result, once settled */
  final: AccessResult | null;
  /** a single-chunk job that goes back to its vCPU's spare slot once its result has been read */
  pooled: boolean;
  /** kind "direct": the RAM access itself, run once the INVALIDATE broadcast before it is answered */
  direct: (() => AccessResult) | null;
}

export interface VcpuState {
  job: Job | null;
  waits: Wait[];
  mapcacheInvalidate: boolean;
  result: AccessResult | null;
  /** the record of the vCPU's current hvmemul_do_io, filled in place (one per vCPU, as in struct vcpu) */
  req: IoreqFields;
  /** a finished single-chunk job, reused by the next access (null while it is in use) */
  spare: Job | null;
}

export interface DomainState {
  port: GuestDomainPort;
  vcpus: VcpuState[];
  crashed: string | null;
  env: SendEnv;
  /** notifications raised while state is being changed; delivered when it is consistent again */
  outbox: number[];
  /** number of queued entries at the start of outbox (the array is reused, not emptied) */
  outN: number;
  /** the port's selectDfDownwards, resolved */
  dfDownwards: boolean;
  flushing: boolean;
}
