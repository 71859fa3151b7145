// The server's open /dev/xen/evtchn files: each is an EvtchnFile (the Linux driver's state), reached by
// a token from its control connections (ioctls) and written to through its one stream connection
// (read() of pending ports, write() of unmasks). The file lives until its stream closes.
import { randomBytes } from "node:crypto";
import { errno } from "../../abi/xen/errno.js";
import { EvtchnFile, type EvtchnHypervisor } from "../privcmd/evtchn.js";
import type { EventRing } from "./evtchn-ring.js";

const { EBADF, EBUSY, ENOMEM } = errno;

/** Open files per server (each holds at most one port per bound channel in flight). */
export const MAX_EVTCHN_FILES = 1024;

export interface EvtchnEntry {
  readonly token: bigint;
  readonly file: EvtchnFile;
  /** Control connections attached (the shim's per-fd connection, again after a fork). */
  controls: number;
  /** The stream's writer once attached; ports raised before that wait in `queue`. */
  write: ((bytes: Uint8Array) => void) | undefined;
  streamed: boolean;
  readonly queue: number[];
  /** The event area of the control connection that opened the file, while it lives (evtchn-ring.ts). */
  ring: EventRing | undefined;
  /** What the area's um_wanted word says (a port waits for its unmask). */
  wanted: boolean;
}

/** How ports reached the clients, and how their unmasks came back. */
export interface EvtchnStats {
  /** Ports put in an event area's ring (the client was spinning). */
  ringDeliveries: number;
  /** Ports written on a stream socket. */
  socketDeliveries: number;
  /** Unmasks taken from an event area's ring. */
  ringUnmasks: number;
  /** Unmasks read from a stream socket. */
  socketUnmasks: number;
}

export class EvtchnFiles {
  readonly #files = new Map<bigint, EvtchnEntry>();
  readonly stats: EvtchnStats = { ringDeliveries: 0, socketDeliveries: 0, ringUnmasks: 0, socketUnmasks: 0 };

  constructor(readonly hv: EvtchnHypervisor, readonly maxFiles = MAX_EVTCHN_FILES) {}

  get size(): number {
    return this.#files.size;
  }

  /** A new file opened by domain `caller`, with this connection as its first control. */
  open(caller: number): EvtchnEntry | number {
    if (this.#files.size >= this.maxFiles) return -ENOMEM;
    let token = 0n;
    while (token === 0n || this.#files.has(token)) token = randomBytes(8).readBigUInt64LE(0);
    const queue: number[] = [];
    const stats = this.stats;
    const entry: EvtchnEntry = {
      token, controls: 1, write: undefined, streamed: false, queue, ring: undefined, wanted: false,
      file: new EvtchnFile(this.hv, caller, (port) => {
        if (entry.write === undefined) queue.push(port);
        else if (entry.ring?.push(port) === true) stats.ringDeliveries++;
        else {
          stats.socketDeliveries++;
          entry.write(portBytes(port));
        }
      }),
    };
    // Unmasks waiting in the area are applied before a raise decides whether the port is masked.
    entry.file.beforeRaise = () => { this.drainRing(entry); };
    entry.file.onMaskedRaise = () => { this.drainRing(entry, true); };
    this.#files.set(token, entry);
    return entry;
  }

  /** Makes `ring` the file's event area (the control connection that opened it has a region). */
  useRing(e: EvtchnEntry, ring: EventRing): void {
    e.ring = ring;
  }

  /**
   * Applies the unmasks waiting in the file's event area. `masked`: a raise just found its port
   * masked, so the client is asked to kick its unmask (um_wanted) and the ring is looked at once
   * more: an unmask stored meanwhile is seen here or comes with a KICK.
   */
  drainRing(e: EvtchnEntry, masked = false): void {
    const ring = e.ring;
    if (ring === undefined) return;
    if (!ring.live) {
      e.ring = undefined;
      return;
    }
    let n = ring.drainUnmasks((port) => { e.file.unmask(port); });
    this.stats.ringUnmasks += n;
    if (n === 0 && !masked && !e.wanted) return;
    for (let i = 0; i < 2; i++) {
      const want = e.file.hasPending();
      if (want === e.wanted) return;
      e.wanted = want;
      ring.setWanted(want);
      if (!want) return;
      n = ring.drainUnmasks((port) => { e.file.unmask(port); });
      this.stats.ringUnmasks += n;
    }
  }

  /** write() on the stream socket: one unmask. */
  socketUnmask(e: EvtchnEntry, port: number): void {
    this.stats.socketUnmasks++;
    e.file.unmask(port);
  }

  get(token: bigint): EvtchnEntry | undefined {
    return this.#files.get(token);
  }

  /** Another control connection for the file `token` (a forked child's): the entry or -EBADF. */
  attach(token: bigint): EvtchnEntry | number {
    const e = this.#files.get(token);
    if (e === undefined) return -EBADF;
    e.controls++;
    return e;
  }

  /** Makes `write` the file's stream; queued ports go out first. 0, -EBADF or -EBUSY (already has one). */
  stream(token: bigint, write: (bytes: Uint8Array) => void): number {
    const e = this.#files.get(token);
    if (e === undefined) return -EBADF;
    if (e.streamed) return -EBUSY;
    e.streamed = true;
    e.write = write;
    for (const port of e.queue.splice(0)) write(portBytes(port));
    return 0;
  }

  /** A control connection went away; a file whose stream never came is released with its last one. */
  dropControl(e: EvtchnEntry): void {
    e.controls--;
    if (e.controls <= 0 && !e.streamed) this.#release(e);
  }

  /** The stream closed: the last close of the file. */
  streamClosed(e: EvtchnEntry): void {
    e.write = undefined;
    this.#release(e);
  }

  closeAll(): void {
    for (const e of [...this.#files.values()]) this.#release(e);
  }

  #release(e: EvtchnEntry): void {
    if (this.#files.get(e.token) !== e) return;
    this.#files.delete(e.token);
    e.file.close();
  }
}

function portBytes(port: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, port, true);
  return b;
}

/** Splits a stream's bytes into u32 ports (unmasks), keeping a partial word for the next chunk. */
export class PortWords {
  #carry = new Uint8Array(4);
  #have = 0;

  push(chunk: Uint8Array, each: (port: number) => void): void {
    let o = 0;
    while (this.#have > 0 && this.#have < 4 && o < chunk.length) this.#carry[this.#have++] = chunk[o++]!;
    if (this.#have === 4) {
      each(new DataView(this.#carry.buffer).getUint32(0, true));
      this.#have = 0;
    }
    const v = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (; o + 4 <= chunk.length; o += 4) each(v.getUint32(o, true));
    while (o < chunk.length) this.#carry[this.#have++] = chunk[o++]!;
  }
}
