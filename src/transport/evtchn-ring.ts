// The event area of an evtchn file (docs/protocol.md, "Event area"): two rings in the control page of
// the region of the file's control connection. Server -> client: the ports that become pending while
// the client spins in poll() (the spinning bit shares the producer word, so the server's push and
// the client's "stop spinning" are one atomic decision). Client -> server: the unmasks its write()
// put there. Every index the client writes is checked before use; a bad one is a ProtocolError of
// that connection (error reply, close), never an access outside the ring.
import { ErrorCode, ProtocolError } from "./protocol.js";
import { Layout } from "./fastpath.js";

/** The region an event area lives in, as the ring sees it (a FastChannel is one). */
export interface EventAreaMemory {
  /** False once the region is unmapped: the ring is not touched any more. */
  readonly open: boolean;
  /** The region's control page as u32 words. */
  readonly control: Int32Array;
}

/** ev_prod bit 31: the client spins on this word (the server may push). */
export const EV_SPINNING = 0x80000000;
/** ev_prod / ev_cons bits 0-30: the free-running count of ports pushed / taken. */
export const EV_INDEX_MASK = 0x7fffffff;

const N = Layout.RING_SIZE;
const EV_PROD = Layout.OFF_EV_PROD >> 2;
const EV_CONS = Layout.OFF_EV_CONS >> 2;
const UM_PROD = Layout.OFF_UM_PROD >> 2;
const UM_CONS = Layout.OFF_UM_CONS >> 2;
const UM_WANTED = Layout.OFF_UM_WANTED >> 2;
const EV_RING = Layout.OFF_EV_RING >> 2;
const UM_RING = Layout.OFF_UM_RING >> 2;
/** A push retries its compare-exchange at most this often (the client flips only the spinning bit). */
const PUSH_TRIES = 4;

/** The server's side of one region's event area: pushes ports while the client spins, takes its unmasks. */
export class EventRing {
  /** The producer count as the server last published it (the client must not change those bits). */
  #prod = 0;
  #umCons = 0;
  #dead = false;

  /** `fail(e)`: the connection owning the region gets the error reply and is closed. */
  constructor(private readonly fp: EventAreaMemory, private readonly fail: (e: ProtocolError) => void) {}

  /** Whether the area is still used (its region mapped, nothing bad read from it). */
  get live(): boolean {
    return !this.#dead && this.fp.open;
  }

  /**
   * Puts `port` in the ring when the client spins and there is room: true. False: the caller writes
   * it on the stream socket (the client sleeps there, or the ring is full, or the area is gone).
   */
  push(port: number): boolean {
    if (!this.live) return false;
    const w = this.fp.control;
    for (let i = 0; i < PUSH_TRIES; i++) {
      const v = Atomics.load(w, EV_PROD) >>> 0;
      if ((v & EV_SPINNING) === 0) return false;
      if ((v & EV_INDEX_MASK) !== this.#prod) return this.#bad(`fast-path region byte ${Layout.OFF_EV_PROD}: ev_prod count ${v & EV_INDEX_MASK} is not the ${this.#prod} the server published`);
      const cons = Atomics.load(w, EV_CONS) >>> 0;
      const used = (this.#prod - cons) & EV_INDEX_MASK;
      if (cons > EV_INDEX_MASK || used > N) return this.#bad(`fast-path region byte ${Layout.OFF_EV_CONS}: ev_cons ${cons} is not within ${N} entries behind ev_prod ${this.#prod}`);
      if (used === N) return false;
      // The slot first; the compare-exchange publishes it, only while the spinning bit is still set.
      Atomics.store(w, EV_RING + (this.#prod % N), port | 0);
      const next = (this.#prod + 1) & EV_INDEX_MASK;
      if ((Atomics.compareExchange(w, EV_PROD, v | 0, (next | EV_SPINNING) | 0) >>> 0) === v) {
        this.#prod = next;
        return true;
      }
    }
    return false;
  }

  /** Takes the unmasks the client's write() put in its ring, each to `unmask(port)`; how many. */
  drainUnmasks(unmask: (port: number) => void): number {
    if (!this.live) return 0;
    const w = this.fp.control;
    const prod = Atomics.load(w, UM_PROD) >>> 0;
    const n = (prod - this.#umCons) >>> 0;
    if (n === 0) return 0;
    if (n > N) {
      this.#bad(`fast-path region byte ${Layout.OFF_UM_PROD}: um_prod ${prod} is ${n} entries past um_cons ${this.#umCons} (at most ${N})`);
      return 0;
    }
    const ports = new Array<number>(n);
    for (let i = 0; i < n; i++) ports[i] = Atomics.load(w, UM_RING + ((this.#umCons + i) % N)) >>> 0;
    this.#umCons = prod;
    Atomics.store(w, UM_CONS, prod | 0);
    for (const p of ports) unmask(p);
    return n;
  }

  /**
   * um_wanted: 1 while a port of the file is raised but masked (its unmask must be kicked to the
   * server at once); set before the server's next look at um_prod, the other half of the client's
   * store of um_prod then load of um_wanted.
   */
  setWanted(on: boolean): void {
    if (this.live) Atomics.store(this.fp.control, UM_WANTED, on ? 1 : 0);
  }

  /** The area stops being used (its connection closes). */
  close(): void {
    this.#dead = true;
  }

  #bad(message: string): false {
    this.#dead = true;
    this.fail(new ProtocolError(ErrorCode.BAD_FRAME, message, 0));
    return false;
  }
}
