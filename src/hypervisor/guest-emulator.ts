// Guest accesses as the hypervisor sees them after instruction decode: port I/O, MMIO, PCI config
// through 0xCF8/0xCFC, and plain memory accesses. Each becomes a job on its vCPU: a chain of
// hvmemul_do_io chunks (routed by emulate-route.ts), waits on servers, and completion.
// mirrors arch/x86/hvm/emulate.c:hvmemul_linear_mmio_access, hvmemul_phys_mmio_access;
// arch/x86/hvm/io.c:handle_pio; common/ioreq.c:vcpu_ioreq_handle_completion
import { MAX_GPA, PAGE_SIZE, bytesUint, uintBytes, type GuestMemory } from "./guest-memory.js";
import { IOREQ_READ, IOREQ_WRITE } from "./ioreq-record.js";
import { SLOT_CRASH, SLOT_WAITING, slotSeen, takeSlot, type SendEnv } from "./ioreq-send.js";
import {
  GuestAccessError,
  IO_OK,
  IO_RETRY,
  IO_SENT,
  IO_UNHANDLED,
  type AccessResult,
  type Chunk,
  type DomainState,
  type EmitEvent,
  type GuestDomainPort,
  type IntIn,
  type Job,
  type MemAccess,
  type MmioAccess,
  type PioAccess,
  type VcpuState,
} from "./emulate-types.js";
import {
  ALL_ONES,
  MMIO_CACHE_BYTES,
  U64,
  addrBig,
  bit,
  checkCount,
  clipReps,
  isPow2Le8,
  lowBytes,
  pageOffset,
  portBig,
  record,
  smallBig,
  splitMmio,
  toBig,
  writeBytes,
} from "./emulate-values.js";
import { DIRECT_NONE, DIRECT_READ, DIRECT_WRITE, IoRouter, directKind, type DirectKind } from "./emulate-route.js";
import { DONE_ONE, PENDING, oneChunk, release } from "./emulate-jobs.js";

/** The job machine on top of routing: GuestEmulator is an IoRouter (no indirection on the hot path). */
export class GuestEmulator extends IoRouter {
  private readonly doms = new Map<number, DomainState>();

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
    const ptr = bit(a.data_is_ptr, "data_is_ptr");
    const df = bit(a.df, "df");
    if (!isPow2Le8(a.size) || a.size > 4) {
      throw new GuestAccessError("size", `port I/O size ${a.size} is not 1, 2 or 4`);
    }
    const data = ptr === 1 ? U64(toBig(a.data, "data")) : dir === IOREQ_WRITE ? lowBytes(a.data, a.size) : 0n;
    const job = oneChunk(v, "pio", false, port, a.size, count, dir, df, ptr, data, onDone);
    return this.start(d, vcpu, v, job);
  }

  /** An MMIO exit (mmio_dm / unpopulated gfn, or a write to a p2m_ioreq_server page). */
  mmio(domid: number, vcpu: number, a: MmioAccess, onDone?: (r: AccessResult) => void): AccessResult {
    const d = this.dom(domid);
    const v = this.ready(d, vcpu);
    const addr = addrBig(a.addr);
    if (addr < 0n || addr > ALL_ONES) throw new GuestAccessError("addr", `addr ${addr} is not a 64-bit address`);
    const dir = a.dir === "read" ? IOREQ_READ : IOREQ_WRITE;
    const ptr = bit(a.data_is_ptr, "data_is_ptr");
    const df = bit(a.df, "df");
    const count = clipReps(checkCount(a.count));
    if (!Number.isInteger(a.size) || a.size < 1 || a.size > MMIO_CACHE_BYTES) {
      throw new GuestAccessError("size", `MMIO size ${a.size} is outside 1..${MMIO_CACHE_BYTES}`);
    }
    if (ptr === 1 || count > 1) {
      // a string instruction: one hvmemul_do_io with the element size and the rep count
      const chunk: Chunk = {
        isMmio: true, addr, size: a.size, count, dir, df, dataIsPtr: ptr,
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
    const direct = directKind(a.dir, t0, t1);
    if (direct !== DIRECT_NONE) {
      const bytes = direct === DIRECT_WRITE ? writeBytes(a.data, a.size) : null;
      // hvm_do_resume: a flagged vCPU broadcasts INVALIDATE before the guest executes the access
      this.pullInvalidate(d);
      if (v.mapcacheInvalidate) {
        const job = this.job("direct", [], null, a.dir === "read" ? IOREQ_READ : IOREQ_WRITE, onDone);
        job.direct = () => this.directAccess(d, direct, addr, a.size, bytes, first, last, t0, t1);
        return this.start(d, vcpu, v, job);
      }
      const r = this.directAccess(d, direct, addr, a.size, bytes, first, last, t0, t1);
      v.result = r;
      onDone?.(r);
      return r;
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
    const r = this.broadcastTimeOffset(d, U64(toBig(delta, "delta")));
    this.flush(d);
    return r;
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
    return { kind, chunks, index: 0, bytes, value: 0n, dir, reps: 1, takeData: false, next: null, onDone, final: null, pooled: false, direct: null };
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

  /**
   * An access the hardware completes without an exit (or, for a discarded write, one Xen finishes
   * itself). A write to a p2m_ram_logdirty page first takes the log-dirty fault.
   */
  private directAccess(
    d: DomainState, kind: DirectKind, addr: number, size: number, bytes: Uint8Array | null, first: number, last: number, t0: string, t1: string,
  ): AccessResult {
    if (kind === DIRECT_READ) {
      const got = d.port.memory.read(addr, size);
      return { status: "done", value: got.length <= 8 ? bytesUint(got) : 0n, bytes: got };
    }
    if (kind === DIRECT_WRITE && bytes !== null) {
      if (t0 === "ram_logdirty") d.port.logDirtyFault?.(first);
      if (t1 === "ram_logdirty" && last !== first) d.port.logDirtyFault?.(last);
      d.port.memory.write(addr, bytes);
    }
    return { status: "done" };
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
  /**
   * Runs the vCPU's job until it waits, finishes or fails. `resumed`: the job continues from a
   * completion (vcpu_ioreq_handle_completion re-emulating), so a raised mapcache flag is honoured
   * after the re-emulation has sent its next chunk or finished the access.
   */
  private run(d: DomainState, vcpu: number, v: VcpuState, resumed = false): AccessResult {
    for (;;) {
      const job = v.job!;
      if (job.kind === "direct") {
        v.job = null;
        return this.settle(v, job, job.direct!());
      }
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
            if (resumed && v.mapcacheInvalidate) {
              // the broadcast after the re-emulation sent this chunk: its server's slot is busy
              v.mapcacheInvalidate = false;
              this.broadcastInvalidate(d, vcpu, v);
              this.orderWaits(d, v);
            }
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
      if (resumed && v.mapcacheInvalidate) {
        // the access is complete; the broadcast goes before the guest runs on
        const inv = this.job("invalidate", [], null, IOREQ_WRITE, undefined);
        inv.next = job;
        v.job = inv;
        continue;
      }
      return this.finish(d, v, GuestEmulator.result(job));
    }
  }

  /** The waits in get_pending_vcpu's order (FOR_EACH_IOREQ_SERVER), the order wait_for_io takes them. */
  private orderWaits(d: DomainState, v: VcpuState): void {
    if (v.waits.length < 2) return;
    const order = d.port.serversInSelectionOrder();
    v.waits.sort((x, y) => order.indexOf(x.server) - order.indexOf(y.server));
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
    this.pullInvalidate(d);
    if (job.kind === "invalidate") {
      // raised again while the broadcast was out: broadcast again before the guest runs
      if (v.mapcacheInvalidate) return this.run(d, vcpu, v);
      if (job.next === null) return this.finish(d, v, { status: "done" });
      v.job = job.next;
      return this.run(d, vcpu, v);
    }
    job.index++;
    job.takeData = false;
    return this.run(d, vcpu, v, true);
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

}
