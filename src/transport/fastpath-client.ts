// The client's side of the fast path for a TypeScript client (SocketTransport): the region the server
// named in its FASTPATH reply, mapped with koffi, one request at a time through it, a bounded spin for
// the reply, then a wait on the socket for the WAKE frame (docs/protocol.md, "Fast path"). The same
// rules as the shim's native/shim/fastpath.c; nothing read from the region is trusted.
import { closeSync, fstatSync, openSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { HEADER_SIZE, PROTOCOL_VERSION, REPLY_BIT } from "./protocol.js";
import { Layout, REGION_SIZE } from "./fastpath.js";
import { SharedMapping } from "./shm.js";

const REQ = Layout.OFF_REQ_SEQ >> 2;
const REP = Layout.OFF_REP_SEQ >> 2;
const POLLING = Layout.OFF_POLLING >> 2;
const WAITING = Layout.OFF_WAITING >> 2;

/** How a fast-path call ended: the reply body, or a wait on the socket for the WAKE of `seq`. */
export type FastOutcome = { done: true; body: Uint8Array } | { done: false; seq: number };

export class FastClientRegion {
  readonly #map: SharedMapping;
  readonly #i32: Int32Array;
  readonly #data: Uint8Array;
  readonly #dv: DataView;
  readonly #spinMs: number;

  private constructor(map: SharedMapping, spinUs: number) {
    this.#map = map;
    this.#i32 = new Int32Array(map.buffer, 0, Layout.DATA_OFF >> 2);
    this.#data = new Uint8Array(map.buffer, Layout.DATA_OFF, Layout.DATA_SIZE);
    this.#dv = new DataView(map.buffer);
    this.#spinMs = spinUs / 1000;
  }

  /**
   * Maps the region at `path` and checks the header the server wrote; undefined when it cannot be
   * used (the client then stays on the socket, as the shim does).
   */
  static open(path: string, spinUs: number): FastClientRegion | undefined {
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch {
      return undefined;
    }
    let map: SharedMapping | undefined;
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== REGION_SIZE) return undefined;
      map = SharedMapping.map(fd, REGION_SIZE);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
    const dv = new DataView(map.buffer);
    const want: [number, number][] = [
      [Layout.OFF_MAGIC, Layout.MAGIC], [Layout.OFF_LAYOUT, Layout.VERSION], [Layout.OFF_SIZE, REGION_SIZE],
      [Layout.OFF_DATA_OFF, Layout.DATA_OFF], [Layout.OFF_DATA_SIZE, Layout.DATA_SIZE],
    ];
    if (want.some(([off, v]) => dv.getUint32(off, true) !== v)) {
      map.unmap();
      return undefined;
    }
    return new FastClientRegion(map, spinUs);
  }

  /** Whether a request frame of `bytes` fits the data area. */
  fits(bytes: number): boolean {
    return this.#map.mapped && bytes <= Layout.DATA_SIZE;
  }

  /**
   * Writes the request frame (seq in its header), publishes it, kicks the server through `kick` when
   * it is not polling, and spins up to the window for the reply. When the window passes first, asks
   * for a WAKE (the waiting word holds the seq) and looks once more.
   */
  call(frame: Uint8Array, seq: number, kick: () => void): FastOutcome {
    this.#data.set(frame, 0);
    Atomics.store(this.#i32, REQ, seq | 0);
    if (Atomics.load(this.#i32, POLLING) === 0) kick();
    const t0 = performance.now();
    let spins = 0;
    while ((Atomics.load(this.#i32, REP) >>> 0) !== seq) {
      if ((++spins & 63) === 0 && performance.now() - t0 >= this.#spinMs) {
        Atomics.store(this.#i32, WAITING, seq | 0);
        if ((Atomics.load(this.#i32, REP) >>> 0) === seq && Atomics.exchange(this.#i32, WAITING, 0) === (seq | 0)) break;
        return { done: false, seq };
      }
    }
    return { done: true, body: this.reply(seq, frame[5]!) };
  }

  /** The reply frame for `seq` (a request of `kind`) from the data area, checked and copied. */
  reply(seq: number, kind: number): Uint8Array {
    if ((Atomics.load(this.#i32, REP) >>> 0) !== seq) throw new Error(`fast-path region: the WAKE for seq ${seq} came before its reply`);
    const len = this.#dv.getUint32(Layout.DATA_OFF, true);
    if (len < HEADER_SIZE || len > Layout.DATA_SIZE - 4) throw new Error(`fast-path region byte ${Layout.DATA_OFF}: reply length ${len} out of range`);
    const f = this.#data.slice(0, 4 + len);
    const v = new DataView(f.buffer);
    if (f[4] !== PROTOCOL_VERSION) throw new Error(`fast-path region byte ${Layout.DATA_OFF + 4}: version ${f[4]!}`);
    if (f[5] !== (kind | REPLY_BIT)) throw new Error(`fast-path region byte ${Layout.DATA_OFF + 5}: reply kind 0x${f[5]!.toString(16)} to a request of kind 0x${kind.toString(16)}`);
    if (v.getUint32(8, true) !== seq) throw new Error(`fast-path region byte ${Layout.DATA_OFF + 8}: reply seq ${v.getUint32(8, true)}, expected ${seq}`);
    return f.subarray(4 + HEADER_SIZE);
  }

  close(): void {
    this.#map.unmap();
  }
}
