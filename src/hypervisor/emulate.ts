// Guest accesses as the hypervisor sees them after instruction decode: port I/O, MMIO, PCI config
// through 0xCF8/0xCFC, and plain memory accesses. Each is routed as Xen 4.17 routes it (internal
// handlers, p2m_ioreq_server pages, range selection, the null handler) and becomes ioreqs.
// mirrors arch/x86/hvm/emulate.c:hvmemul_do_io, hvmemul_linear_mmio_access, hvmemul_phys_mmio_access;
// arch/x86/hvm/io.c:handle_pio; common/ioreq.c:ioreq_server_select, vcpu_ioreq_handle_completion
import type { Domain } from "./domain.js";
import { GuestMemory, MAX_GPA, PAGE_SIZE, bytesUint, uintBytes } from "./guest-memory.js";
import type { Hypervisor } from "./hypervisor.js";
import {
  IOREQ_READ,
  IOREQ_WRITE,
  IOREQ_TYPE_COPY,
  IOREQ_TYPE_INVALIDATE,
  IOREQ_TYPE_PCI_CONFIG,
  IOREQ_TYPE_PIO,
  IOREQ_TYPE_TIMEOFFSET,
  STATE_IOREQ_READY,
  HVM_IOREQSRV_BUFIOREQ_OFF,
} from "./ioreq-record.js";
import {
  SLOT_CRASH,
  SLOT_WAITING,
  slotSeen,
  takeSlot,
  sendBuffered,
  sendSync,
  vcpuPort,
  IOREQ_STATUS_HANDLED,
  IOREQ_STATUS_RETRY,
  IOREQ_STATUS_UNHANDLED,
  type IoreqFields,
  type IoreqServerLike,
  type SendEnv,
} from "./ioreq-send.js";

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
  /** The domain is shutting down: a sync send is suspended (RETRY, nothing sent). */
  shuttingDown?(): boolean;
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
  df?: boolean;
  data_is_ptr?: boolean;
}

export interface MmioAccess {
  addr: IntIn;
  /** 1..64 for a single access (split as Xen splits it); 1/2/4/8 with count > 1 or data_is_ptr. */
  size: number;
  dir: Dir;
  data?: IntIn | Uint8Array;
  count?: number;
  df?: boolean;
  data_is_ptr?: boolean;
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

const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const MMIO_CACHE_BYTES = 64; // struct hvm_mmio_cache.buffer
const VGA_MEM_BASE = 0xa0000n;
const VGA_MEM_END = 0xbffffn;

/** p2m types whose pages the guest reads directly (the hardware allows reads). */
const READ_DIRECT = new Set([
  "ram_rw", "ram_logdirty", "ram_ro", "ram_shared", "ram_paging_out", "ram_paged", "ram_paging_in",
  "populate_on_demand", "grant_map_rw", "grant_map_ro", "map_foreign", "ioreq_server",
]);
/** p2m types whose pages the guest writes directly. */
const WRITE_DIRECT = new Set([
  "ram_rw", "ram_logdirty", "ram_shared", "ram_paging_out", "ram_paged", "ram_paging_in", "populate_on_demand",
  "grant_map_rw", "map_foreign",
]);
/** p2m types where a write exits and is thrown away inside Xen (hvmemul_map_linear_addr). */
const WRITE_DISCARD = new Set(["ram_ro", "grant_map_ro"]);

/** One hvmemul_do_io call. */
interface Chunk {
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
const IO_OK = 0;
const IO_SENT = 1;
const IO_RETRY = 2;
const IO_UNHANDLED = 3;
type IoOutcome = typeof IO_OK | typeof IO_SENT | typeof IO_RETRY | typeof IO_UNHANDLED;

interface IoDetails {
  data: bigint;
  reps: number;
  server: IoreqServerLike | null;
  port: number;
  complete: boolean;
  reason: string;
}

interface Wait {
  server: IoreqServerLike;
  port: number;
}

interface Job {
  kind: "pio" | "mmio" | "invalidate";
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
}

interface VcpuState {
  job: Job | null;
  waits: Wait[];
  mapcacheInvalidate: boolean;
  result: AccessResult | null;
  /** the record of the vCPU's current hvmemul_do_io, filled in place (one per vCPU, as in struct vcpu) */
  req: IoreqFields;
  /** a finished single-chunk job, reused by the next access (null while it is in use) */
  spare: Job | null;
}

interface DomainState {
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

/**
 * BigInts of port numbers, made once (routing compares them with rangeset bounds on every access).
 * The array is dense from the start: an array grown by scattered stores turns into a dictionary.
 */
const PORT_BIG: (bigint | undefined)[] = new Array<bigint | undefined>(0x10008).fill(undefined);

function portBig(v: IntIn): bigint {
  const n = typeof v === "number" ? v : v >= 0n && v <= 0xffffn ? Number(v) : -1;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new GuestAccessError("port", `port ${String(v)} is outside 0..0xffff`);
  return smallBig(n);
}

/** BigInt(n) for 0 <= n < 0x10008 (a port, or a port's last byte), cached. */
function smallBig(n: number): bigint {
  let b = PORT_BIG[n];
  if (b === undefined) {
    b = BigInt(n);
    PORT_BIG[n] = b;
  }
  return b;
}

function toBig(v: IntIn | undefined, field: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "bigint") return v;
  if (!Number.isSafeInteger(v)) throw new GuestAccessError(field, `${field} ${v} is not an integer`);
  return BigInt(v);
}

// the last single-element MMIO span selection computed (first, size -> last)
let lastSpanFirst = -1n;
let lastSpanSize = 0;
let lastSpanLast = 0n;

// the last address converted (a driver polls the same register: no new BigInt per access)
let lastAddrNum = 0;
let lastAddrBig = 0n;

/** toBig for an access's address, remembering the last conversion. */
function addrBig(v: IntIn): bigint {
  if (typeof v === "number" && v === lastAddrNum) return lastAddrBig;
  const b = toBig(v, "addr");
  if (typeof v === "number") {
    lastAddrNum = v;
    lastAddrBig = b;
  }
  return b;
}

const isPow2Le8 = (n: number): boolean => n === 1 || n === 2 || n === 4 || n === 8;

export class GuestEmulator {
  private readonly doms = new Map<number, DomainState>();
  private readonly io: IoDetails = { data: 0n, reps: 0, server: null, port: 0, complete: false, reason: "" };
  private readonly listeners: ((e: EmitEvent) => void)[] = [];
  /**
   * The p2m type mem() just looked up for the gfn it hands to the MMIO path, so the first
   * hvmemul_do_io does not look it up again (-1: none; dropped before anything else can run).
   */
  private hintGfn = -1;
  private hintType = "";

  /** Makes a domain's accesses routable. Re-attaching replaces the port and keeps the vCPU state. */
  attach(port: GuestDomainPort): void {
    if (port.arch === "arm") {
      throw new GuestAccessError("arch", "guest accesses are modelled for x86 only (Arm forwards single MMIO data aborts and injects an abort when no server matches)");
    }
    const old = this.doms.get(port.domid);
    const vcpus: VcpuState[] = [];
    for (let i = 0; i < port.nrVcpus; i++) vcpus.push({ job: null, waits: [], mapcacheInvalidate: false, result: null, req: record(0, 0n, 0n, 0, 0, 0, 0, 0), spare: null });
    const env: SendEnv = {
      notify: (p) => {
        st.outbox[st.outN++] = p;
      },
      bufferedUnsupportedIsUnhandled: port.bufferedUnsupportedUnhandled ?? port.persona === "master",
    };
    const st: DomainState = {
      port, vcpus: old?.vcpus ?? vcpus, crashed: old?.crashed ?? null, env, outbox: [], outN: 0, flushing: false,
      dfDownwards: port.selectDfDownwards ?? port.persona !== "4.9",
    };
    this.doms.set(port.domid, st);
  }

  /** Observe every record the fake writes into an ioreq page. */
  onEmit(listener: (e: EmitEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** A domain's guest RAM (what its emulators reach through their own, untrapped mappings). */
  memoryOf(domid: number): GuestMemory {
    return this.dom(domid).port.memory;
  }

  /** The 0xCF8 latch of a domain. */
  cf8(domid: number): number {
    return this.dom(domid).port.pciCf8;
  }

  /** Whether a vCPU is blocked on an emulator, and on which servers. */
  waitingOn(domid: number, vcpu: number): number[] {
    return this.vcpu(this.dom(domid), vcpu).waits.map((w) => w.server.id);
  }

  /** The last finished result on a vCPU (the value a pending read finally got). */
  lastResult(domid: number, vcpu: number): AccessResult | null {
    return this.vcpu(this.dom(domid), vcpu).result;
  }

  // ---- guest accesses ----

  /** in / out / ins / outs. mirrors io.c:handle_pio (and hvmemul_do_pio_* for the string forms) */
  pio(domid: number, vcpu: number, a: PioAccess, onDone?: (r: AccessResult) => void): AccessResult {
    const d = this.dom(domid);
    const v = this.ready(d, vcpu);
    const port = portBig(a.port);
    const count = clipReps(checkCount(a.count));
    const dir = a.dir === "read" ? IOREQ_READ : IOREQ_WRITE;
    const ptr = a.data_is_ptr === true ? 1 : 0;
    if (!isPow2Le8(a.size) || a.size > 4) {
      throw new GuestAccessError("size", `port I/O size ${a.size} is not 1, 2 or 4`);
    }
    const data = ptr === 1 ? U64(toBig(a.data, "data")) : dir === IOREQ_WRITE ? lowBytes(a.data, a.size) : 0n;
    const job = oneChunk(v, "pio", false, port, a.size, count, dir, a.df === true ? 1 : 0, ptr, data, onDone);
    return this.start(d, vcpu, v, job);
  }

  /** An MMIO exit (mmio_dm / unpopulated gfn, or a write to a p2m_ioreq_server page). */
  mmio(domid: number, vcpu: number, a: MmioAccess, onDone?: (r: AccessResult) => void): AccessResult {
    const d = this.dom(domid);
    const v = this.ready(d, vcpu);
    const addr = addrBig(a.addr);
    if (addr < 0n || addr > ALL_ONES) throw new GuestAccessError("addr", `addr ${addr} is not a 64-bit address`);
    const dir = a.dir === "read" ? IOREQ_READ : IOREQ_WRITE;
    const ptr = a.data_is_ptr === true ? 1 : 0;
    const count = clipReps(checkCount(a.count));
    if (!Number.isInteger(a.size) || a.size < 1 || a.size > MMIO_CACHE_BYTES) {
      throw new GuestAccessError("size", `MMIO size ${a.size} is outside 1..${MMIO_CACHE_BYTES}`);
    }
    if (ptr === 1 || count > 1) {
      // a string instruction: one hvmemul_do_io with the element size and the rep count
      const chunk: Chunk = {
        isMmio: true, addr, size: a.size, count, dir, df: a.df === true ? 1 : 0, dataIsPtr: ptr,
        data: ptr === 1 ? U64(toBig(a.data as IntIn | undefined, "data")) : BigInt.asUintN(Math.min(a.size, 8) * 8, toBig(a.data as IntIn | undefined, "data")),
        offset: 0,
      };
      return this.start(d, vcpu, v, this.job("mmio", [chunk], null, dir, onDone));
    }
    if (isPow2Le8(a.size) && !(a.data instanceof Uint8Array) && pageOffset(a.addr, addr) + a.size <= PAGE_SIZE) {
      // the common case: one naturally sized access inside a page is one chunk
      const data = dir === IOREQ_WRITE ? lowBytes(a.data, a.size) : 0n;
      return this.start(d, vcpu, v, oneChunk(v, "mmio", true, addr, a.size, 1, dir, 0, 0, data, onDone));
    }
    const bytes = dir === IOREQ_WRITE ? writeBytes(a.data, a.size) : new Uint8Array(a.size);
    const chunks = splitMmio(addr, a.size, dir, bytes);
    const job = this.job("mmio", chunks, chunks.length === 1 ? null : bytes, dir, onDone);
    return this.start(d, vcpu, v, job);
  }

  /**
   * A plain memory access to a guest-physical address: RAM is read and written directly, ram_ro
   * writes are discarded, reads of p2m_ioreq_server pages come from RAM, and anything else (writes
   * to p2m_ioreq_server pages, MMIO holes) exits and takes the MMIO path.
   */
  mem(domid: number, vcpu: number, a: MemAccess, onDone?: (r: AccessResult) => void): AccessResult {
    const d = this.dom(domid);
    const v = this.ready(d, vcpu);
    if (d.crashed !== null) return { status: "unhandled", reason: `domain crashed: ${d.crashed}`, effect: "domain_crash" };
    const addrIn = a.addr;
    if (typeof addrIn === "number" && !Number.isSafeInteger(addrIn)) throw new GuestAccessError("addr", `addr ${addrIn} is not an integer`);
    if (!Number.isInteger(a.size) || a.size < 1 || a.size > MMIO_CACHE_BYTES) {
      throw new GuestAccessError("size", `memory access size ${a.size} is outside 1..${MMIO_CACHE_BYTES}`);
    }
    const addr = typeof addrIn === "number" ? addrIn : addrIn >= 0n && addrIn <= BigInt(MAX_GPA) ? Number(addrIn) : -1;
    if (addr < 0 || addr + a.size - 1 > MAX_GPA) {
      throw new GuestAccessError("addr", `addr ${String(addrIn)} is not a guest-physical address`);
    }
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + a.size - 1) / PAGE_SIZE);
    const t0 = d.port.p2mType(first);
    const t1 = first === last ? t0 : d.port.p2mType(last);
    if (a.dir === "read") {
      if (READ_DIRECT.has(t0) && READ_DIRECT.has(t1)) {
        const bytes = d.port.memory.read(addr, a.size);
        return this.finishDirect(d, vcpu, bytes, onDone);
      }
    } else {
      if (WRITE_DIRECT.has(t0) && WRITE_DIRECT.has(t1)) {
        d.port.memory.write(addr, writeBytes(a.data, a.size));
        return this.finishDirect(d, vcpu, undefined, onDone);
      }
      const readable = READ_DIRECT.has(t0) && READ_DIRECT.has(t1) && t0 !== "ioreq_server" && t1 !== "ioreq_server";
      if ((WRITE_DISCARD.has(t0) || WRITE_DISCARD.has(t1)) && readable) {
        return this.finishDirect(d, vcpu, undefined, onDone);
      }
    }
    if (first === last) {
      this.hintGfn = first;
      this.hintType = t0;
    }
    try {
      if (first === last && isPow2Le8(a.size) && !(a.data instanceof Uint8Array)) {
        // what mmio() does for one naturally sized access inside a page, without checking it again
        const dir = a.dir === "read" ? IOREQ_READ : IOREQ_WRITE;
        const data = dir === IOREQ_WRITE ? lowBytes(a.data, a.size) : 0n;
        return this.start(d, vcpu, v, oneChunk(v, "mmio", true, addrBig(addr), a.size, 1, dir, 0, 0, data, onDone));
      }
      return this.mmio(domid, vcpu, { addr, size: a.size, dir: a.dir, data: a.data }, onDone);
    } finally {
      this.hintGfn = -1;
    }
  }

  /**
   * The RTC moved by `delta` seconds: a TIMEOFFSET record broadcast buffered to every enabled server
   * with bufioreq. Returns the number of servers that could not take it.
   * mirrors io.c:send_timeoffset_req, ioreq.c:ioreq_broadcast(p, true)
   */
  timeOffset(domid: number, delta: IntIn): { failed: number; sent: number[] } {
    const d = this.dom(domid);
    const data = U64(toBig(delta, "delta"));
    const sent: number[] = [];
    let failed = 0;
    if (data === 0n) return { failed, sent };
    for (const s of d.port.serversInSelectionOrder()) {
      if (!s.enabled || s.bufioreqHandling === HVM_IOREQSRV_BUFIOREQ_OFF) continue;
      const req = record(IOREQ_TYPE_TIMEOFFSET, 0n, data, 1, 8, IOREQ_WRITE, 0, 0);
      const out = sendBuffered(s, req, d.env);
      this.emit(d, 0, s, "buffered", req, out.status, out.reason);
      if (out.status === IOREQ_STATUS_UNHANDLED) failed++;
      else sent.push(s.id);
    }
    this.flush(d);
    return { failed, sent };
  }

  /**
   * RAM was removed from or replaced in the physmap by another domain (relocate_memory, decrease
   * reservation): every vCPU is flagged and sends INVALIDATE at its next resume.
   * mirrors ioreq.c:ioreq_request_mapcache_invalidate
   */
  requestMapcacheInvalidate(domid: number, vcpu?: number): void {
    const d = this.dom(domid);
    if (vcpu !== undefined) this.vcpu(d, vcpu).mapcacheInvalidate = true;
    else for (const v of d.vcpus) v.mapcacheInvalidate = true;
  }

  /**
   * The vCPU is about to run guest code: a flagged vCPU broadcasts INVALIDATE synchronously and
   * waits for every enabled server. mirrors ioreq.c:vcpu_ioreq_handle_completion (its last step)
   */
  resume(domid: number, vcpu: number, onDone?: (r: AccessResult) => void): AccessResult {
    const d = this.dom(domid);
    const v = this.ready(d, vcpu);
    this.pullInvalidate(d);
    if (!v.mapcacheInvalidate) return { status: "done" };
    return this.start(d, vcpu, v, this.job("invalidate", [], null, IOREQ_WRITE, onDone));
  }

  /**
   * The vCPU was woken (its port was notified, or the caller polls): each server it waits on is
   * looked at once. Returns the access's result when every answer is in, else still pending.
   * mirrors ioreq.c:vcpu_ioreq_handle_completion / wait_for_io
   */
  complete(domid: number, vcpu: number): AccessResult {
    const d = this.dom(domid);
    const v = this.vcpu(d, vcpu);
    const job = GuestEmulator.last(v.job);
    const r = this.wake(d, vcpu, v);
    this.flush(d);
    return (job === null ? null : release(v, job)) ?? (v.job === null ? r : this.current(v, vcpu));
  }

  /** An emulator notified `port` of domain `domid`: wake the vCPU waiting on it, if any. */
  notified(domid: number, port: number): AccessResult | undefined {
    const d = this.doms.get(domid);
    if (d === undefined) return undefined;
    for (let i = 0; i < d.vcpus.length; i++) {
      const v = d.vcpus[i]!;
      if (v.waits.length !== 0 && v.waits[0]!.port === port) {
        const job = GuestEmulator.last(v.job);
        const r = this.wake(d, i, v);
        this.flush(d);
        return (job === null ? null : release(v, job)) ?? (v.job === null ? r : this.current(v, i));
      }
    }
    return undefined;
  }

  // ---- internals ----

  private dom(domid: number): DomainState {
    const d = this.doms.get(domid);
    if (d === undefined) throw new GuestAccessError("domid", `domain ${domid} is not attached to the emulator`);
    return d;
  }

  private vcpu(d: DomainState, vcpu: number): VcpuState {
    const v = d.vcpus[vcpu];
    if (v === undefined) throw new GuestAccessError("vcpu", `domain ${d.port.domid} has no vCPU ${vcpu}`);
    return v;
  }

  private ready(d: DomainState, vcpu: number): VcpuState {
    const v = this.vcpu(d, vcpu);
    if (v.job !== null) {
      const on = v.waits.map((w) => w.server.id).join(", ");
      throw new GuestAccessError("vcpu", `vCPU ${vcpu} of domain ${d.port.domid} is blocked waiting for server ${on}`);
    }
    return v;
  }

  private job(kind: Job["kind"], chunks: Chunk[], bytes: Uint8Array | null, dir: number, onDone: Job["onDone"]): Job {
    return { kind, chunks, index: 0, bytes, value: 0n, dir, reps: 1, takeData: false, next: null, onDone, final: null, pooled: false };
  }

  /** store() from the two u32 halves of a response's data (no BigInt for small values). */
  private static storeWords(job: Job, c: Chunk, lo: number, hi: number): void {
    if (job.bytes === null && c.size <= 4) {
      const n = c.size === 4 ? lo : lo & ((1 << (c.size << 3)) - 1);
      job.value = n <= 0xffff ? smallBig(n) : BigInt(n);
    } else {
      GuestEmulator.store(job, c, (BigInt(hi) << 32n) | BigInt(lo));
    }
  }

  /** Stores a chunk's read data into the access. */
  private static store(job: Job, c: Chunk, data: bigint): void {
    if (job.bytes === null) job.value = BigInt.asUintN(c.size << 3, data);
    else job.bytes.set(uintBytes(data, c.size), c.offset);
  }

  /** The finished access's result. */
  private static result(job: Job): AccessResult {
    if (job.dir !== IOREQ_READ || job.chunks[0]?.dataIsPtr !== 0) return job.reps === 1 ? DONE_ONE : { status: "done", reps: job.reps };
    if (job.bytes === null) return { status: "done", value: job.value, reps: job.reps };
    return { status: "done", value: job.bytes.length <= 8 ? bytesUint(job.bytes) : 0n, bytes: job.bytes, reps: job.reps };
  }

  private finishDirect(d: DomainState, vcpu: number, bytes: Uint8Array | undefined, onDone: Job["onDone"]): AccessResult {
    const r: AccessResult = bytes === undefined ? { status: "done" } : { status: "done", value: bytes.length <= 8 ? bytesUint(bytes) : 0n, bytes };
    const v = this.vcpu(d, vcpu);
    v.result = r;
    onDone?.(r);
    return r;
  }

  /** The reason the domain was crashed, or null. */
  crashed(domid: number): string | null {
    return this.dom(domid).crashed;
  }

  private pullInvalidate(d: DomainState): void {
    if (d.port.takeMapcacheInvalidate?.() === true) for (const v of d.vcpus) v.mapcacheInvalidate = true;
  }

  private start(d: DomainState, vcpu: number, v: VcpuState, job: Job): AccessResult {
    if (d.crashed !== null) return { status: "unhandled", reason: `domain crashed: ${d.crashed}`, effect: "domain_crash" };
    this.pullInvalidate(d);
    const target = job;
    if (v.mapcacheInvalidate && job.kind !== "invalidate") {
      const inv = this.job("invalidate", [], null, IOREQ_WRITE, undefined);
      inv.next = job;
      job = inv;
    }
    v.job = job;
    const r = this.run(d, vcpu, v);
    this.flush(d);
    return release(v, target) ?? (v.job === null ? r : this.current(v, vcpu));
  }

  /** The access a (possibly INVALIDATE-prefixed) job chain ends with. */
  private static last(job: Job | null): Job | null {
    let j = job;
    while (j?.next != null) j = j.next;
    return j;
  }

  /** The vCPU's state as a result: pending on the first server it waits for. */
  private current(v: VcpuState, vcpu: number): AccessResult {
    const w = v.waits[0];
    if (w !== undefined) return { status: "pending", server: w.server.id, vcpu };
    return v.result ?? { status: "done" };
  }

  /** Delivers queued notifications (an in-process emulator may answer, and wake vCPUs, from here). */
  private flush(d: DomainState): void {
    if (d.flushing || d.outN === 0) return;
    d.flushing = true;
    const box = d.outbox;
    let i = 0;
    try {
      // notifications raised while delivering are appended and delivered by this same loop
      while (i < d.outN) d.port.notify(box[i++]!);
    } finally {
      // a listener that threw leaves the undelivered rest for the next flush
      const n = d.outN;
      for (let j = i; j < n; j++) box[j - i] = box[j]!;
      d.outN = n - i;
      d.flushing = false;
    }
  }

  /** Runs the vCPU's job until it waits, finishes or fails. */
  private run(d: DomainState, vcpu: number, v: VcpuState): AccessResult {
    for (;;) {
      const job = v.job!;
      if (job.kind === "invalidate") {
        v.mapcacheInvalidate = false;
        this.broadcastInvalidate(d, vcpu, v);
        if (v.waits.length !== 0) return PENDING;
        if (job.next === null) return this.finish(d, v, { status: "done" });
        v.job = job.next;
        continue;
      }
      while (job.index < job.chunks.length) {
        const c = job.chunks[job.index]!;
        const k = this.doIo(d, vcpu, c);
        const out = this.io;
        switch (k) {
          case IO_OK:
            job.reps = out.reps;
            if (job.dir === IOREQ_READ && c.dataIsPtr === 0) GuestEmulator.store(job, c, out.data);
            job.index++;
            continue;
          case IO_SENT: {
            const server = out.server!;
            job.reps = out.reps;
            job.takeData = out.complete && job.dir === IOREQ_READ;
            v.waits.push({ server, port: out.port });
            return PENDING;
          }
          case IO_RETRY:
            v.job = null;
            return this.settle(v, job, { status: "retry" });
          case IO_UNHANDLED: {
            v.job = null;
            const crash = job.kind === "pio";
            if (crash) this.crash(d, `unhandled port I/O: ${out.reason}`);
            return this.settle(v, job, { status: "unhandled", reason: out.reason, effect: crash ? "domain_crash" : "gp_fault" });
          }
        }
      }
      return this.finish(d, v, GuestEmulator.result(job));
    }
  }

  private finish(_d: DomainState, v: VcpuState, r: AccessResult): AccessResult {
    const job = v.job!;
    v.job = null;
    return this.settle(v, job, r);
  }

  private settle(v: VcpuState, job: Job, r: AccessResult): AccessResult {
    v.result = r;
    let j: Job | null = job;
    while (j !== null) {
      j.final = r;
      j.onDone?.(r);
      j = j.next;
    }
    return r;
  }

  private wake(d: DomainState, vcpu: number, v: VcpuState): AccessResult {
    if (v.job === null) return v.result ?? { status: "done" };
    while (v.waits.length !== 0) {
      const w = v.waits[0]!;
      const page = w.server.ioreqPage.page;
      if (page === null) {
        this.crash(d, `server ${w.server.id} lost its ioreq page while vCPU ${vcpu} waited`);
        return this.abort(d, v, "ioreq page gone");
      }
      const waiting: Job = v.job;
      const want = waiting.kind !== "invalidate" && waiting.takeData;
      const k = takeSlot(page, vcpu, want);
      if (k === SLOT_WAITING) return PENDING;
      if (k === SLOT_CRASH) {
        const reason = `Weird HVM iorequest state ${slotSeen.state}`;
        this.crash(d, reason);
        return this.abort(d, v, reason);
      }
      v.waits.shift();
      if (w.server.pending !== undefined) w.server.pending[vcpu] = false;
      if (want) GuestEmulator.storeWords(waiting, waiting.chunks[waiting.index]!, slotSeen.dataLo, slotSeen.dataHi);
    }
    const job = v.job;
    if (job.kind !== "invalidate") {
      job.index++;
      job.takeData = false;
    } else if (job.next !== null) {
      v.job = job.next;
      return this.run(d, vcpu, v);
    } else {
      return this.finish(d, v, { status: "done" });
    }
    if (v.mapcacheInvalidate) {
      // a flag raised while waiting is honoured before the guest runs again
      const inv = this.job("invalidate", [], null, IOREQ_WRITE, undefined);
      inv.next = job;
      v.job = inv;
    }
    return this.run(d, vcpu, v);
  }

  private abort(_d: DomainState, v: VcpuState, reason: string): AccessResult {
    const job = v.job!;
    v.job = null;
    v.waits.length = 0;
    return this.settle(v, job, { status: "unhandled", reason: `domain crashed: ${reason}`, effect: "domain_crash" });
  }

  private crash(d: DomainState, reason: string): void {
    if (d.crashed === null) {
      d.crashed = reason;
      d.port.crash(reason);
    }
  }

  private emit(d: DomainState, vcpu: number, s: IoreqServerLike, slot: "sync" | "buffered", fields: IoreqFields, status: string, reason?: string): void {
    if (this.listeners.length === 0) return;
    const e: EmitEvent = { domid: d.port.domid, vcpu, server: s.id, slot, fields: { ...fields }, status };
    if (reason !== undefined) e.reason = reason;
    for (const l of this.listeners) l(e);
  }

  /** INVALIDATE to every enabled server, synchronously. mirrors ioreq.c:ioreq_broadcast(p, false) */
  private broadcastInvalidate(d: DomainState, vcpu: number, v: VcpuState): void {
    this.hintGfn = -1;
    for (const s of d.port.serversInSelectionOrder()) {
      if (!s.enabled) continue;
      const req = record(IOREQ_TYPE_INVALIDATE, 0n, ALL_ONES, 0, 4, IOREQ_WRITE, 0, 0);
      const out = sendSync(s, vcpu, req, d.env);
      this.emit(d, vcpu, s, "sync", req, out.status, out.reason);
      if (out.status === IOREQ_STATUS_RETRY) v.waits.push({ server: s, port: vcpuPort(s, vcpu)! });
    }
  }

  /** One hvmemul_do_io call. */
  private doIo(d: DomainState, vcpu: number, c: Chunk): IoOutcome {
    // mirrors emulate.c:hvmemul_do_io — sizes, then the rep cut at the page, then the handlers
    const io = this.io;
    if (!isPow2Le8(c.size)) {
      io.reason = `bad mmio size ${c.size}`;
      return IO_UNHANDLED;
    }
    let count = c.count;
    if (c.isMmio && count > 1) {
      const off = Number(c.addr & 0xfffn);
      const tail = PAGE_SIZE - off;
      count = tail < c.size ? 1 : Math.min(count, Math.floor((c.df === 1 ? off + c.size : tail) / c.size));
    }
    const req = fill(d.vcpus[vcpu]!.req, c.isMmio ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO, c.addr, c.data, count, c.size, c.dir, c.df, c.dataIsPtr);
    const mem = d.port.memory;

    // internal handlers: the 0xCF8 latch (always falls through) and stdvga
    if (!c.isMmio) {
      if (c.dir === IOREQ_WRITE && c.size === 4 && c.addr === 0xcf8n) {
        // mirrors hvm/ioreq.c:hvm_access_cf8 — the first element is latched, then the access goes on
        d.port.pciCf8 = Number(c.dataIsPtr === 1 ? mem.readUint(c.data, 4) : c.data & 0xffff_ffffn);
      }
    } else if (d.port.hasVga && c.dir === IOREQ_WRITE && c.dataIsPtr === 0 && count === 1) {
      const last = c.addr + BigInt(c.size) - 1n;
      if (c.addr >= VGA_MEM_BASE && last <= VGA_MEM_END) {
        // mirrors stdvga.c:stdvga_mem_write — buffered to the range-selected server, else the normal path
        // count is 1 here, so the buffered request is the record itself
        const s = this.select(d, req);
        if (s !== null) {
          const out = sendBuffered(s, req, d.env);
          this.emit(d, vcpu, s, "buffered", req, out.status, out.reason);
          if (out.status === IOREQ_STATUS_HANDLED) {
            io.data = 0n;
            io.reps = 1;
            return IO_OK;
          }
        }
      }
    }

    let s: IoreqServerLike | null = null;
    if (c.isMmio) {
      const gfn = c.addr < TWO_53 ? Math.floor(Number(c.addr) / PAGE_SIZE) : Number(c.addr >> 12n);
      const t = gfn === this.hintGfn ? this.hintType : d.port.p2mType(gfn);
      this.hintGfn = -1;
      if (t === "ioreq_server") {
        s = d.port.claimant();
        if (s === null) return IO_RETRY;
        if (c.dir === IOREQ_READ) {
          // mirrors emulate.c:ioreq_server_read — the read half of a read-modify-write, from RAM
          io.data = this.intercept(d, req, (a, n) => mem.readUint(a, n));
          io.reps = count;
          return IO_OK;
        }
      }
    }
    if (s === null) s = this.select(d, req);
    if (s === null) {
      // the null handler: reads all ones, writes dropped
      io.data = this.intercept(d, req, (_a, n) => BigInt.asUintN(n * 8, ALL_ONES));
      io.reps = count;
      return IO_OK;
    }
    if (d.port.shuttingDown?.() === true) return IO_RETRY;
    // decided on the request as the vCPU issued it (before a PCI config rewrite): ioreq_needs_completion
    const complete = c.dataIsPtr === 0 && (c.isMmio || c.dir === IOREQ_READ);
    const out = sendSync(s, vcpu, req, d.env);
    const eport = req.vp_eport;
    this.emit(d, vcpu, s, "sync", req, out.status, out.reason);
    if (out.status !== IOREQ_STATUS_RETRY) {
      io.reason = out.reason ?? "send failed";
      return IO_UNHANDLED;
    }
    io.server = s;
    io.port = eport;
    io.complete = complete;
    io.reps = count;
    return IO_SENT;
  }

  /**
   * An internal read handler applied to every element (hvm_process_io_intercept): direct reads
   * return the value; with data_is_ptr each element is stored in guest memory. Writes are dropped.
   */
  private intercept(d: DomainState, req: IoreqFields, read: (addr: bigint, size: number) => bigint): bigint {
    if (req.dir !== IOREQ_READ) return 0n;
    if (req.data_is_ptr === 0) return read(req.addr, req.size);
    const step = BigInt(req.df === 1 ? -req.size : req.size);
    for (let i = 0; i < req.count; i++) {
      const v = read(U64(req.addr + step * BigInt(i)), req.size);
      d.port.memory.writeUint(U64(req.data + step * BigInt(i)), req.size, v);
    }
    return 0n;
  }

  /** mirrors common/ioreq.c:ioreq_server_select + hvm/ioreq.c:arch_ioreq_server_get_type_addr */
  private select(d: DomainState, req: IoreqFields): IoreqServerLike | null {
    const cf8 = d.port.pciCf8;
    let kind: "port" | "memory" | "pci";
    let first: bigint;
    let last: bigint;
    let pciAddr = 0n;
    // a port request's addr is a port number (0..0xffff)
    const port = req.type === IOREQ_TYPE_PIO ? Number(req.addr) : -1;
    if (port >= 0 && (port & ~3) === 0xcfc && (cf8 & 0x8000_0000) !== 0) {
      const sbdf = BigInt((cf8 >>> 8) & 0xffff);
      let reg = BigInt((cf8 & 0xfc) | (port & 3));
      if (d.port.amdExtendedCf8 === true) reg |= BigInt((cf8 & 0x0f00_0000) >>> 16);
      pciAddr = (sbdf << 32n) | reg;
      kind = "pci";
      first = last = sbdf;
    } else if (port >= 0) {
      kind = "port";
      first = req.addr;
      last = smallBig(port + req.size - 1);
    } else if (req.type === IOREQ_TYPE_COPY) {
      kind = "memory";
      if (req.count === 1) {
        // one element: both directions cover [addr, addr + size - 1]
        first = req.addr;
        if (first === lastSpanFirst && req.size === lastSpanSize) {
          last = lastSpanLast;
        } else {
          last = req.addr + smallBig(req.size - 1);
          if (last > ALL_ONES) last = U64(last);
          lastSpanFirst = first;
          lastSpanSize = req.size;
          lastSpanLast = last;
        }
      } else if (req.df === 1 && d.dfDownwards) {
        first = U64(req.addr - (BigInt(req.count) - 1n) * BigInt(req.size));
        last = U64(req.addr + BigInt(req.size) - 1n);
      } else {
        first = req.addr;
        last = U64(req.addr + BigInt(req.count) * BigInt(req.size) - 1n);
      }
    } else {
      // 4.9 hvm_select_ioreq_server: other request types go to the default server
      return d.port.defaultServer?.() ?? null;
    }
    for (const s of d.port.serversInSelectionOrder()) {
      if (!s.enabled) continue;
      if (!s.ranges[kind].contains(first, last)) continue;
      if (kind === "pci") {
        req.type = IOREQ_TYPE_PCI_CONFIG;
        req.addr = pciAddr;
      }
      return s;
    }
    // 4.9: no explicit server claims it -> the default server (it has no ranges, so the loop never picks it)
    return d.port.defaultServer?.() ?? null;
  }
}

function record(type: number, addr: bigint, data: bigint, count: number, size: number, dir: number, df: number, ptr: number): IoreqFields {
  return { addr, data, count, size, vp_eport: 0, state: STATE_IOREQ_READY, data_is_ptr: ptr, dir, df, type };
}

/** record() into an existing object (the vCPU's own ioreq, as Xen fills v->io.req). */
function fill(r: IoreqFields, type: number, addr: bigint, data: bigint, count: number, size: number, dir: number, df: number, ptr: number): IoreqFields {
  r.addr = addr;
  r.data = data;
  r.count = count;
  r.size = size;
  r.vp_eport = 0;
  r.state = STATE_IOREQ_READY;
  r.data_is_ptr = ptr;
  r.dir = dir;
  r.df = df;
  r.type = type;
  return r;
}

const TWO_53 = 1n << 53n;

/** The result of a finished write (or data_is_ptr access) of one repetition; never changed. */
const DONE_ONE: AccessResult = Object.freeze({ status: "done", reps: 1 });

/** A one-chunk job: the vCPU's spare one when it has it, else a new one (pooled from then on). */
function oneChunk(
  v: VcpuState, kind: "pio" | "mmio", isMmio: boolean, addr: bigint, size: number, count: number, dir: number, df: number,
  ptr: number, data: bigint, onDone: Job["onDone"],
): Job {
  const job = v.spare;
  if (job === null) {
    const chunk: Chunk = { isMmio, addr, size, count, dir, df, dataIsPtr: ptr, data, offset: 0 };
    return { kind, chunks: [chunk], index: 0, bytes: null, value: 0n, dir, reps: 1, takeData: false, next: null, onDone, final: null, pooled: true };
  }
  v.spare = null;
  const c = job.chunks[0]!;
  c.isMmio = isMmio;
  c.addr = addr;
  c.size = size;
  c.count = count;
  c.dir = dir;
  c.df = df;
  c.dataIsPtr = ptr;
  c.data = data;
  job.kind = kind;
  job.index = 0;
  job.value = 0n;
  job.dir = dir;
  job.reps = 1;
  job.takeData = false;
  job.next = null;
  job.onDone = onDone;
  job.final = null;
  return job;
}

/** The job's final result, or null while it runs; a finished pooled job becomes the vCPU's spare. */
function release(v: VcpuState, job: Job): AccessResult | null {
  const r = job.final;
  if (r !== null && job.pooled && v.spare === null) {
    job.onDone = undefined;
    v.spare = job;
  }
  return r;
}

/**
 * What run() and wake() return while the vCPU still waits. Callers never hand it out: with a job
 * still in progress they build the pending result from the vCPU's waits (current()).
 */
const PENDING: AccessResult = Object.freeze({ status: "pending", server: -1, vcpu: -1 });

/** The offset in its page of an address given as a number or a bigint (`big` is its checked value). */
function pageOffset(v: IntIn, big: bigint): number {
  return typeof v === "number" ? v % PAGE_SIZE : Number(big & 0xfffn);
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** MASKS[n]: the largest value of n bytes (n = 1..7). */
const MASKS: readonly bigint[] = [0n, 0xffn, 0xffffn, 0xff_ffffn, 0xffff_ffffn, 0xff_ffff_ffffn, 0xffff_ffff_ffffn, 0xff_ffff_ffff_ffffn];

/** The low `size` bytes of a write's value, as a bigint (small values come from a cache). */
function lowBytes(v: IntIn | undefined, size: number): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && size <= 4) {
    const m = 2 ** (size * 8);
    let n = v % m;
    if (n < 0) n += m;
    return n <= 0xffff ? smallBig(n) : BigInt(n);
  }
  if (typeof v === "bigint" && v >= 0n && v <= (size === 8 ? U64_MAX : MASKS[size]!)) return v;
  return BigInt.asUintN(size << 3, toBig(v, "data"));
}

/** String instructions do at most 4096 repetitions per emulation. mirrors emulate.c:hvmemul_linear_to_phys */
const MAX_REPS = 4096;
const clipReps = (count: number): number => (count > MAX_REPS ? MAX_REPS : count);

function checkCount(count: number | undefined): number {
  if (count === undefined) return 1;
  if (!Number.isInteger(count) || count < 1 || count > 0xffff_ffff) {
    throw new GuestAccessError("count", `count ${count} is outside 1..2^32-1`);
  }
  return count;
}

function writeBytes(data: IntIn | Uint8Array | undefined, size: number): Uint8Array {
  if (data instanceof Uint8Array) {
    if (data.length !== size) throw new GuestAccessError("data", `data has ${data.length} bytes, size is ${size}`);
    return data.slice();
  }
  return uintBytes(toBig(data, "data"), size);
}

/**
 * A single MMIO access cut at the page boundary, then each piece into power-of-two chunks of at most
 * 8 bytes, largest first. mirrors emulate.c:hvmemul_linear_mmio_access + hvmemul_phys_mmio_access
 */
export function splitMmio(addr: bigint, size: number, dir: number, bytes: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  let gpa = addr;
  let offset = 0;
  let left = size;
  while (left > 0) {
    const pageOff = Number(gpa & 0xfffn);
    let piece = Math.min(left, PAGE_SIZE - pageOff);
    left -= piece;
    let chunk = 1 << (31 - Math.clz32(piece));
    if (chunk > 8) chunk = 8;
    while (piece > 0) {
      while (chunk > piece) chunk >>= 1;
      const data = dir === IOREQ_WRITE ? bytesUint(bytes.subarray(offset, offset + chunk)) : 0n;
      out.push({ isMmio: true, addr: gpa, size: chunk, count: 1, dir, df: 0, dataIsPtr: 0, data, offset });
      gpa = U64(gpa + BigInt(chunk));
      offset += chunk;
      piece -= chunk;
    }
  }
  return out;
}

export type { Chunk as MmioChunk };

// ---- the in-process host: a GuestDomainPort over the fake hypervisor's Domain ----

export interface HostOptions {
  /** has_vvga, overriding the domain's `vga` world key (which defaults to true for HVM, as libxl sets up). */
  vga?: boolean;
  /** AMD family 0x10..0x16 with extended CF8 enabled (default false). */
  amdExtendedCf8?: boolean;
}

/** A Domain of the fake hypervisor seen as a GuestDomainPort. */
export class HypervisorDomainPort implements GuestDomainPort {
  readonly domid: number;
  readonly nrVcpus: number;
  readonly memory: GuestMemory;
  readonly hasVga: boolean;
  readonly persona: string;
  readonly bufferedUnsupportedUnhandled: boolean;
  readonly selectDfDownwards: boolean;
  readonly amdExtendedCf8: boolean;
  readonly arch: string;

  constructor(
    private readonly hv: Hypervisor,
    readonly d: Domain,
    opts: HostOptions = {},
  ) {
    this.domid = d.domid;
    this.nrVcpus = d.vcpus.length;
    this.memory = d.memory;
    this.hasVga = opts.vga ?? d.vga;
    this.persona = hv.persona.name;
    this.bufferedUnsupportedUnhandled = hv.persona.bufferedUnsupportedUnhandled;
    this.selectDfDownwards = hv.persona.selectDfDownwards;
    this.amdExtendedCf8 = opts.amdExtendedCf8 ?? false;
    this.arch = hv.persona.arch;
  }

  private orderCache: readonly IoreqServerLike[] = [];
  private orderKey: unknown[] = [];

  serversInSelectionOrder(): readonly IoreqServerLike[] {
    // the domain builds a fresh array per call; routing asks on every access, so keep the last one
    // while the slots (and the 4.9 list) hold the same servers
    const io = this.d.ioreq;
    const key = this.orderKey;
    const n = io.servers.length + io.list.length;
    let same = key.length === n;
    for (let i = 0; same && i < io.servers.length; i++) same = key[i] === io.servers[i];
    for (let i = 0; same && i < io.list.length; i++) same = key[io.servers.length + i] === io.list[i];
    if (!same) {
      this.orderKey = [...io.servers, ...io.list];
      this.orderCache = this.d.serversInSelectionOrder();
    }
    return this.orderCache;
  }

  defaultServer(): IoreqServerLike | null {
    return this.d.defaultServer();
  }

  get pciCf8(): number {
    return this.d.pciCf8;
  }

  set pciCf8(v: number) {
    this.d.pciCf8 = v >>> 0;
  }

  takeMapcacheInvalidate(): boolean {
    const p = this.d.mapcacheInvalidatePending;
    this.d.mapcacheInvalidatePending = false;
    return p;
  }

  p2mType(gfn: number): string {
    return this.d.p2m.typeOf(gfn);
  }

  claimant(): IoreqServerLike | null {
    const c = this.d.p2m.ioreqClaim();
    if (c.server === null) return null;
    return this.d.ioreq.servers[c.server] ?? null;
  }

  notify(port: number): void {
    this.hv.notify(this.domid, port);
  }

  crash(reason: string): void {
    this.d.crashed ??= reason;
  }

  shuttingDown(): boolean {
    return this.d.shutdown.code !== null;
  }
}

const guests = new WeakMap<Hypervisor, GuestEmulator>();

/**
 * The guest side of an in-process fake hypervisor: one GuestEmulator per Hypervisor, with every HVM
 * domain attached (created on first use; options apply then).
 */
export function guestOf(hv: Hypervisor, opts: HostOptions = {}): GuestEmulator {
  let g = guests.get(hv);
  if (g === undefined) {
    g = new GuestEmulator();
    if (hv.persona.arch === "x86") for (const d of hv.domains.values()) if (d.isHvm) g.attach(new HypervisorDomainPort(hv, d, opts));
    guests.set(hv, g);
    // An emulator's EVTCHNOP_send on a port bound to an ioreq port wakes the vCPU waiting on it.
    const guest = g;
    hv.onXenNotify((domid, port) => { guest.notified(domid, port); });
  }
  return g;
}
