// Routing of one hvmemul_do_io call: the internal handlers (the 0xCF8 latch, stdvga), p2m_ioreq_server
// pages, range selection, the null handler, and the sync send; plus the INVALIDATE broadcast.
// mirrors arch/x86/hvm/emulate.c:hvmemul_do_io; common/ioreq.c:ioreq_server_select, ioreq_broadcast
import { PAGE_SIZE } from "./guest-memory.js";
import { HVM_IOREQSRV_BUFIOREQ_OFF } from "./ioreq-record.js";
import {
  IOREQ_READ,
  IOREQ_WRITE,
  IOREQ_TYPE_COPY,
  IOREQ_TYPE_INVALIDATE,
  IOREQ_TYPE_TIMEOFFSET,
  IOREQ_TYPE_PCI_CONFIG,
  IOREQ_TYPE_PIO,
  IOREQ_BUFFER_SLOT_NUM,
  WRITE_POINTER_OFFSET,
} from "./ioreq-record.js";
import {
  bufSlotBytes,
  sendBuffered,
  sendSync,
  vcpuPort,
  IOREQ_STATUS_HANDLED,
  IOREQ_STATUS_RETRY,
  IOREQ_STATUS_UNHANDLED,
  type IoreqFields,
  type IoreqServerLike,
} from "./ioreq-send.js";
import {
  IO_OK,
  IO_RETRY,
  IO_SENT,
  IO_UNHANDLED,
  type Chunk,
  type DomainState,
  type EmitEvent,
  type IoDetails,
  type IoOutcome,
  type VcpuState,
} from "./emulate-types.js";
import { ALL_ONES, TWO_53, U64, VGA_MEM_BASE, VGA_MEM_END, fill, isPow2Le8, record, smallBig } from "./emulate-values.js";

/** p2m types whose pages the guest reads directly (the hardware allows reads). */
export const READ_DIRECT = new Set([
  "ram_rw", "ram_logdirty", "ram_ro", "ram_shared", "ram_paging_out", "ram_paged", "ram_paging_in",
  "populate_on_demand", "grant_map_rw", "grant_map_ro", "map_foreign", "ioreq_server",
]);
/** p2m types whose pages the guest writes directly. */
export const WRITE_DIRECT = new Set([
  "ram_rw", "ram_logdirty", "ram_shared", "ram_paging_out", "ram_paged", "ram_paging_in", "populate_on_demand",
  "grant_map_rw", "map_foreign",
]);
/** p2m types where a write exits and is thrown away inside Xen (hvmemul_map_linear_addr). */
export const WRITE_DISCARD = new Set(["ram_ro", "grant_map_ro"]);

// the last single-element MMIO span selection computed (first, size -> last)
let lastSpanFirst = -1n;
let lastSpanSize = 0;
let lastSpanLast = 0n;

/** hvmemul_do_io and the broadcasts, for every domain of one GuestEmulator (its base class). */
export class IoRouter {
  /** What the last doIo did (no allocation per call). */
  protected readonly io: IoDetails = { data: 0n, reps: 0, server: null, port: 0, complete: false, reason: "" };
  protected readonly listeners: ((e: EmitEvent) => void)[] = [];
  /**
   * The p2m type mem() just looked up for the gfn it hands to the MMIO path, so the first
   * hvmemul_do_io does not look it up again (-1: none; dropped before anything else can run).
   */
  protected hintGfn = -1;
  protected hintType = "";

  protected emit(d: DomainState, vcpu: number, s: IoreqServerLike, slot: "sync" | "buffered", fields: IoreqFields, status: string, reason?: string): void {
    if (this.listeners.length === 0) return;
    const e: EmitEvent = { domid: d.port.domid, vcpu, server: s.id, slot, fields: { ...fields }, status };
    if (reason !== undefined) e.reason = reason;
    const page = s.bufioreqPage.page;
    if (slot === "buffered" && status === IOREQ_STATUS_HANDLED && reason === undefined && page !== null) {
      // the slots just written end at write_pointer (folding moves both pointers by multiples of 511)
      const n = fields.size === 8 ? 2 : 1;
      const wp = new DataView(page.buffer, page.byteOffset, page.byteLength).getUint32(WRITE_POINTER_OFFSET, true);
      e.ring = [];
      for (let k = n; k > 0; k--) {
        const index = ((wp - k) >>> 0) % IOREQ_BUFFER_SLOT_NUM;
        e.ring.push({ index, bytes: bufSlotBytes(page, index) });
      }
    }
    for (const l of this.listeners) l(e);
  }

  /** INVALIDATE to every enabled server, synchronously. mirrors ioreq.c:ioreq_broadcast(p, false) */
  protected broadcastInvalidate(d: DomainState, vcpu: number, v: VcpuState): void {
    this.hintGfn = -1;
    for (const s of d.port.serversInSelectionOrder()) {
      if (!s.enabled) continue;
      const req = record(IOREQ_TYPE_INVALIDATE, 0n, ALL_ONES, 0, 4, IOREQ_WRITE, 0, 0);
      const out = sendSync(s, vcpu, req, d.env);
      this.emit(d, vcpu, s, "sync", req, out.status, out.reason);
      if (out.status === IOREQ_STATUS_RETRY) v.waits.push({ server: s, port: vcpuPort(s, vcpu)! });
    }
  }

  /**
   * A TIMEOFFSET record broadcast buffered to every enabled server with bufioreq; returns the servers
   * that took it and how many could not. mirrors io.c:send_timeoffset_req, ioreq.c:ioreq_broadcast(p, true)
   */
  broadcastTimeOffset(d: DomainState, data: bigint): { failed: number; sent: number[] } {
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
    return { failed, sent };
  }

  /**
   * Xen's platform devices (hvm_io_intercept's handlers): IO_OK when one answered, IO_UNHANDLED when
   * the access crashed the domain, null to go on (nothing claimed it, or the device declined the
   * first element, which then goes on alone).
   */
  private platformIo(d: DomainState, vcpu: number, c: Chunk, req: IoreqFields): IoOutcome | null {
    const p = d.port.platform;
    if (p === undefined || p === null) return null;
    const mem = d.port.memory;
    const r = p.intercept(
      {
        type: c.isMmio ? "mmio" : "pio", addr: req.addr, size: req.size, count: req.count,
        dir: req.dir === IOREQ_READ ? "read" : "write", df: req.df === 1, data: req.data, dataIsPtr: req.data_is_ptr === 1,
      },
      vcpu,
      {
        // a guest address without RAM behind it: reads give all ones, writes are dropped
        read: (gpa, n) => { try { return mem.readUint(gpa, n); } catch { return null; } },
        write: (gpa, n, v) => { try { mem.writeUint(gpa, n, v); return true; } catch { return false; } },
      },
    );
    for (const delta of p.takeTimeOffsets()) this.broadcastTimeOffset(d, U64(BigInt(delta)));
    if (r === null) return null;
    if (r.rc === "crash") {
      this.io.reason = r.reason;
      d.port.crash(r.reason);
      return IO_UNHANDLED;
    }
    if (r.rc === "unhandleable") {
      req.count = 1;
      return null;
    }
    this.io.data = req.data_is_ptr === 1 ? 0n : r.data;
    this.io.reps = r.count;
    return IO_OK;
  }

  /** One hvmemul_do_io call. */
  protected doIo(d: DomainState, vcpu: number, c: Chunk): IoOutcome {
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

    // Xen's platform devices: PIT, RTC, PIC, IOAPIC, LAPIC, HPET, PM timer, debug console
    const platform = this.platformIo(d, vcpu, c, req);
    if (platform !== null) return platform;
    count = req.count;

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

/** How a plain memory access completes without the MMIO path. */
export const DIRECT_NONE = 0;
export const DIRECT_READ = 1;
export const DIRECT_WRITE = 2;
/** a write Xen throws away (hvmemul_map_linear_addr on ram_ro) */
export const DIRECT_DISCARD = 3;
export type DirectKind = typeof DIRECT_NONE | typeof DIRECT_READ | typeof DIRECT_WRITE | typeof DIRECT_DISCARD;

export function directKind(dir: "read" | "write", t0: string, t1: string): DirectKind {
  if (dir === "read") return READ_DIRECT.has(t0) && READ_DIRECT.has(t1) ? DIRECT_READ : DIRECT_NONE;
  if (WRITE_DIRECT.has(t0) && WRITE_DIRECT.has(t1)) return DIRECT_WRITE;
  const readable = READ_DIRECT.has(t0) && READ_DIRECT.has(t1) && t0 !== "ioreq_server" && t1 !== "ioreq_server";
  return (WRITE_DISCARD.has(t0) || WRITE_DISCARD.has(t1)) && readable ? DIRECT_DISCARD : DIRECT_NONE;
}
