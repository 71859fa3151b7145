// IoreqClient: the device-model side of an ioreq server's shared pages. It takes requests from the
// sync slots (one per vCPU) and the buffered ring, hands them to a handler, and writes the answers
// back byte-exact (data for reads, state IORESP_READY), then notifies the vCPU's port.
// It needs only an IoreqPort (src/emulator/port.ts): the pages as bytes and an event channel, from the
// in-process fake, a socket host or anything else.
import {
  BUF_RING_OFFSET,
  BUF_SLOT_SIZE,
  IOREQ_ADDR_OFFSET,
  IOREQ_BUFFER_SLOT_NUM,
  IOREQ_DATA_OFFSET,
  IOREQ_READ,
  IOREQ_SIZE,
  IOREQ_TYPE_PIO,
  IOREQ_WRITE,
  READ_POINTER_OFFSET,
  STATE_IOREQ_INPROCESS,
  STATE_IOREQ_NONE,
  STATE_IOREQ_READY,
  STATE_IORESP_READY,
  WRITE_POINTER_OFFSET,
  bufSlot,
  ioreqRecord,
} from "../codec/ioreq-record.js";
import { IoreqProtocolError } from "./errors.js";
import type { IoreqEvents, IoreqPort } from "./port.js";

export type { IoreqEvents, IoreqPort } from "./port.js";

/** An IoreqPort and how the client consumes the buffered ring. */
export interface IoreqClientInit extends IoreqPort {
  /**
   * How read_pointer is advanced after a buffered request. "atomic" (default) adds to the current
   * value, as QEMU does since it fixed its ring handling. "stale" stores a value computed from an
   * earlier read — the old behaviour, which loses Xen's pointer folding in ATOMIC mode; only the
   * flood helper uses it, to reproduce the overrun.
   */
  readPointerUpdate?: "atomic" | "stale";
}

/** One request as the device model sees it. */
export interface IoreqRequest {
  readonly slot: "sync" | "buffered";
  /** The vCPU waiting for the answer (sync), or -1 (buffered). */
  readonly vcpu: number;
  /** The ring index the request was read from (buffered), or -1. */
  readonly ringIndex: number;
  readonly type: number;
  readonly addr: bigint;
  /** Value for writes, or the guest buffer's address when data_is_ptr. */
  readonly data: bigint;
  readonly count: number;
  readonly size: number;
  readonly dir: number;
  readonly df: number;
  readonly data_is_ptr: number;
  readonly vp_eport: number;
}

/** A handler's answer: the value for direct reads (ignored otherwise). */
export type IoreqHandlerResult = bigint | number | undefined;
export type IoreqHandler = (req: IoreqRequest) => IoreqHandlerResult | Promise<IoreqHandlerResult>;

export const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "PIO",
  1: "COPY",
  2: "PCI_CONFIG",
  7: "TIMEOFFSET",
  8: "INVALIDATE",
};

/**
 * A u64 field read as a bigint, remembering the last value: a device model sees the same register
 * address (and often the same data) again and again, and gets the same bigint without a new one.
 */
class U64Field {
  private lo = -1;
  private hi = -1;
  private value = 0n;

  constructor(private readonly offset: number) {}

  read(view: DataView, off: number): bigint {
    const o = off + this.offset;
    const lo = view.getUint32(o, true);
    const hi = view.getUint32(o + 4, true);
    if (lo !== this.lo || hi !== this.hi) {
      this.lo = lo;
      this.hi = hi;
      this.value = view.getBigUint64(o, true);
    }
    return this.value;
  }
}

interface Waiter {
  resolve: (r: IteratorResult<IoreqRequest, undefined>) => void;
  reject: (e: unknown) => void;
}

export class IoreqClient implements AsyncIterable<IoreqRequest, undefined> {
  readonly vcpus: number;
  private readonly page: Uint8Array;
  private readonly view: DataView;
  private readonly bufPage: Uint8Array | null;
  private readonly bufView: DataView | null;
  private readonly events: IoreqEvents;
  private readonly stale: boolean;
  private ports: number[];
  private portToVcpu = new Map<number, number>();
  private bufPort: number | null;
  private unsubscribe: (() => void) | null = null;
  private handler: IoreqHandler | null = null;
  private serveFail: ((e: unknown) => void) | null = null;
  private serveDone: (() => void) | null = null;
  private readonly queue: IoreqRequest[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly addrField = new U64Field(IOREQ_ADDR_OFFSET);
  private readonly dataField = new U64Field(IOREQ_DATA_OFFSET);
  private closed = false;
  private failure: unknown = null;
  /** Counts, for tests and benches. */
  readonly stats = { sync: 0, buffered: 0, responses: 0 };

  constructor(init: IoreqClientInit) {
    if (init.ioreqPage.length < init.vcpus * IOREQ_SIZE) {
      throw new RangeError(`ioreqPage has ${init.ioreqPage.length} bytes, ${init.vcpus} vCPUs need ${init.vcpus * IOREQ_SIZE}`);
    }
    this.vcpus = init.vcpus;
    this.page = init.ioreqPage;
    this.view = new DataView(this.page.buffer, this.page.byteOffset, this.page.byteLength);
    this.bufPage = init.bufioreqPage ?? null;
    this.bufView = this.bufPage === null ? null : new DataView(this.bufPage.buffer, this.bufPage.byteOffset, this.bufPage.byteLength);
    this.events = init.events;
    this.stale = init.readPointerUpdate === "stale";
    const bufRemote = init.bufioreqPort ?? null;
    this.bufPort = bufRemote === null || bufRemote === 0 ? null : this.bindPort(bufRemote);
    this.ports = [];
    if (init.vcpuPorts !== undefined) this.setPorts(init.vcpuPorts);
    else this.refreshPorts();
    this.unsubscribe = this.events.onNotify((port) => {
      this.onPort(port);
    });
  }

  /** Re-reads every vCPU's port from the vp_eport field of its slot (after the server is enabled). */
  refreshPorts(): void {
    const ports: number[] = [];
    for (let v = 0; v < this.vcpus; v++) ports.push(ioreqRecord.vpEport(this.view, v * IOREQ_SIZE));
    this.setPorts(ports);
  }

  /** The local port bound to a guest port (the same number when the channel has no bind step). */
  private bindPort(remote: number): number {
    return this.events.bind === undefined ? remote : this.events.bind(remote);
  }

  private unbindPorts(ports: readonly number[]): void {
    if (this.events.unbind === undefined) return;
    for (const p of ports) if (p !== 0) this.events.unbind(p);
  }

  private setPorts(remote: readonly number[]): void {
    const old = this.ports;
    this.ports = remote.map((p) => (p === 0 ? 0 : this.bindPort(p)));
    this.unbindPorts(old);
    this.portToVcpu = new Map();
    this.ports.forEach((p, v) => {
      if (p !== 0) this.portToVcpu.set(p, v);
    });
  }

  /** The local port bound to a vCPU's slot. */
  portOf(vcpu: number): number | undefined {
    return this.ports[vcpu];
  }

  /** The state nibble of a vCPU's slot. */
  state(vcpu: number): number {
    this.checkVcpu(vcpu);
    return ioreqRecord.state(this.view, vcpu * IOREQ_SIZE);
  }

  /**
   * Sets a slot's state by hand (QEMU sets INPROCESS when it takes a request). Only 0..3 exist;
   * anything else is refused here before it could crash the guest.
   */
  setState(vcpu: number, state: number): void {
    this.checkVcpu(vcpu);
    if (!Number.isInteger(state) || state < STATE_IOREQ_NONE || state > STATE_IORESP_READY) {
      throw new IoreqProtocolError("bad-state", "sync", vcpu, `state ${state} is not an ioreq state (0..3); Xen would crash the domain`);
    }
    ioreqRecord.setState(this.view, vcpu * IOREQ_SIZE, state);
  }

  /**
   * Looks at every slot and the buffered ring now (QEMU also polls on a timer) and dispatches what is
   * waiting. Returns the number of requests taken.
   */
  poll(): number {
    let n = 0;
    for (let v = 0; v < this.vcpus; v++) if (this.takeSync(v)) n++;
    return n + this.drainBuffered();
  }

  /**
   * Answers a sync request: `data` (for direct reads) goes into the slot, state becomes IORESP_READY,
   * and the vCPU's port is notified.
   */
  respond(req: IoreqRequest, data?: bigint | number): void {
    if (req.slot !== "sync") return;
    const v = req.vcpu;
    this.checkVcpu(v);
    const off = v * IOREQ_SIZE;
    const state = ioreqRecord.state(this.view, off);
    if (state !== STATE_IOREQ_READY && state !== STATE_IOREQ_INPROCESS) {
      throw new IoreqProtocolError(
        "not-in-progress",
        "sync",
        v,
        `vCPU ${v}: responding to a slot in state ${stateName(state)}; only IOREQ_READY or IOREQ_INPROCESS can be answered`,
      );
    }
    if (data !== undefined && needsData(req)) {
      if (typeof data === "number" && data >= 0 && data <= 0xffff_ffff && Number.isInteger(data)) ioreqRecord.setDataU32(this.view, off, data);
      else ioreqRecord.setData(this.view, off, BigInt(data));
    }
    ioreqRecord.setState(this.view, off, STATE_IORESP_READY);
    this.stats.responses++;
    const port = this.ports[v];
    if (port !== undefined && port !== 0) this.events.notify(port);
  }

  /**
   * Serves requests with `handler` until close(). Synchronous handlers are answered on the spot (the
   * fast path); a returned promise is awaited first. Resolves on close(); rejects on a protocol error
   * or a handler error.
   */
  serve(handler: IoreqHandler): Promise<void> {
    if (this.handler !== null) throw new Error("serve() is already running on this client");
    this.handler = handler;
    const done = new Promise<void>((resolve, reject) => {
      this.serveDone = resolve;
      this.serveFail = reject;
    });
    for (let r = this.queue.shift(); r !== undefined; r = this.queue.shift()) this.dispatch(r);
    this.poll();
    return done;
  }

  /** Stops serving and ends iteration. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unbindPorts(this.ports);
    if (this.bufPort !== null) this.unbindPorts([this.bufPort]);
    this.handler = null;
    this.serveDone?.();
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** The next request (taken from a slot or the ring), or null once the client is closed. */
  async next(): Promise<IoreqRequest | null> {
    const r = await this[Symbol.asyncIterator]().next();
    return r.done === true ? null : r.value;
  }

  [Symbol.asyncIterator](): AsyncIterator<IoreqRequest, undefined> {
    return {
      next: (): Promise<IteratorResult<IoreqRequest, undefined>> => {
        if (this.failure !== null) return Promise.reject(asError(this.failure));
        const r = this.queue.shift();
        if (r !== undefined) return Promise.resolve({ value: r, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
      },
      return: (): Promise<IteratorResult<IoreqRequest, undefined>> => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ---- internals ----

  private checkVcpu(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vcpus) {
      throw new IoreqProtocolError("unknown-request", "sync", v, `vCPU ${v} is not served by this client (0..${this.vcpus - 1})`);
    }
  }

  private onPort(port: number): void {
    if (this.closed) return;
    try {
      if (port === this.bufPort) {
        this.drainBuffered();
        return;
      }
      const v = this.portToVcpu.get(port);
      if (v !== undefined) {
        this.takeSync(v);
        // QEMU drains the buffered ring on every wake-up as well
        if (this.bufPage !== null) this.drainBuffered();
      }
    } catch (e) {
      this.fail(e);
    }
  }

  private takeSync(v: number): boolean {
    const off = v * IOREQ_SIZE;
    const state = ioreqRecord.state(this.view, off);
    if (state > STATE_IORESP_READY) {
      throw new IoreqProtocolError("bad-state", "sync", v, `vCPU ${v}: slot holds state ${state}, which no side may write`);
    }
    if (state !== STATE_IOREQ_READY) return false;
    const view = this.view;
    ioreqRecord.setState(view, off, STATE_IOREQ_INPROCESS);
    // field by field at the ABI offsets (the pads are not looked at)
    const req: IoreqRequest = {
      slot: "sync",
      vcpu: v,
      ringIndex: -1,
      type: ioreqRecord.type(view, off),
      addr: this.addrField.read(view, off),
      data: this.dataField.read(view, off),
      count: ioreqRecord.count(view, off),
      size: ioreqRecord.size(view, off),
      dir: ioreqRecord.dir(view, off),
      df: ioreqRecord.df(view, off),
      data_is_ptr: ioreqRecord.dataIsPtr(view, off),
      vp_eport: ioreqRecord.vpEport(view, off),
    };
    this.stats.sync++;
    this.dispatch(req);
    return true;
  }

  /**
   * Consumes every buffered request between read_pointer and write_pointer. `hook.beforePointerStore`
   * runs once between reading the pointers and the first update of read_pointer (the window in
   * which the hypervisor may write more requests and fold the pointers).
   */
  drainBuffered(hook?: { beforePointerStore?: () => void }): number {
    const view = this.bufView;
    if (view === null) return 0;
    let n = 0;
    const start = view.getUint32(READ_POINTER_OFFSET, true);
    let rp = start;
    for (;;) {
      if (!this.stale) rp = view.getUint32(READ_POINTER_OFFSET, true);
      const wp = view.getUint32(WRITE_POINTER_OFFSET, true);
      const avail = (wp - rp) >>> 0;
      if (avail === 0) break;
      if (avail > IOREQ_BUFFER_SLOT_NUM) {
        throw new IoreqProtocolError(
          "ring-overrun",
          "buffered",
          rp % IOREQ_BUFFER_SLOT_NUM,
          `buffered ring: read_pointer ${rp} write_pointer ${wp} (${avail} slots apart, at most ${IOREQ_BUFFER_SLOT_NUM})`,
        );
      }
      const idx = rp % IOREQ_BUFFER_SLOT_NUM;
      const a = bufSlot.read(view, BUF_RING_OFFSET + idx * BUF_SLOT_SIZE);
      let data = BigInt(a.data);
      let size = 1 << a.size;
      const qw = a.size === 3 ? 1 : 0;
      if (qw === 1) {
        const idx2 = (rp + 1) % IOREQ_BUFFER_SLOT_NUM;
        const b = bufSlot.read(view, BUF_RING_OFFSET + idx2 * BUF_SLOT_SIZE);
        if (avail < 2 || b.type !== a.type || b.addr !== a.addr || b.size !== a.size || b.dir !== a.dir) {
          throw new IoreqProtocolError(
            "half-quad-word",
            "buffered",
            idx,
            `buffered ring slot ${idx}: an 8-byte request needs a matching second slot at ${idx2} (${avail} slot(s) published)`,
          );
        }
        data |= BigInt(b.data) << 32n;
        size = 8;
      }
      if (a.dir !== IOREQ_WRITE) {
        throw new IoreqProtocolError("bad-buffered-request", "buffered", idx, `buffered ring slot ${idx}: dir is read; only writes are buffered`);
      }
      const req: IoreqRequest = {
        slot: "buffered",
        vcpu: -1,
        ringIndex: idx,
        type: a.type,
        addr: BigInt(a.addr),
        data,
        count: 1,
        size,
        dir: a.dir,
        df: 0,
        data_is_ptr: 0,
        vp_eport: 0,
      };
      this.stats.buffered++;
      n++;
      rp = (rp + 1 + qw) >>> 0;
      if (!this.stale) {
        if (n === 1) hook?.beforePointerStore?.();
        // atomic add of the consumed slots to the current read_pointer
        view.setUint32(READ_POINTER_OFFSET, (view.getUint32(READ_POINTER_OFFSET, true) + 1 + qw) >>> 0, true);
      }
      this.dispatch(req);
    }
    if (this.stale && n > 0) {
      hook?.beforePointerStore?.();
      view.setUint32(READ_POINTER_OFFSET, rp, true);
    }
    return n;
  }

  private dispatch(req: IoreqRequest): void {
    const h = this.handler;
    if (h === null) {
      const w = this.waiters.shift();
      if (w !== undefined) w.resolve({ value: req, done: false });
      else this.queue.push(req);
      return;
    }
    let out: IoreqHandlerResult | Promise<IoreqHandlerResult>;
    try {
      out = h(req);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (v) => {
          try {
            this.respond(req, v);
          } catch (e) {
            this.fail(e);
          }
        },
        (e: unknown) => {
          this.fail(e);
        },
      );
    } else {
      this.respond(req, out);
    }
  }

  private fail(e: unknown): void {
    this.failure = e;
    const reject = this.serveFail;
    this.serveFail = null;
    this.serveDone = null;
    this.close();
    if (reject !== null) reject(e);
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(typeof e === "string" ? e : "request handler failed");
}

/** Whether the answer's data is read by the hypervisor (direct reads; PCI config and COPY too). */
function needsData(req: IoreqRequest): boolean {
  return req.data_is_ptr === 0 && (req.type !== IOREQ_TYPE_PIO || req.dir === IOREQ_READ);
}

function stateName(s: number): string {
  return ["STATE_IOREQ_NONE", "STATE_IOREQ_READY", "STATE_IOREQ_INPROCESS", "STATE_IORESP_READY"][s] ?? `invalid state ${s}`;
}
