// Flood mode: drives the buffered ring hard with the hypervisor writing while the device model is
// between reading read_pointer and storing it back. It reproduces the overrun QEMU had to fix: in
// ATOMIC mode Xen folds both pointers down by a multiple of 511 once read_pointer >= 511; a consumer
// that stores a read_pointer computed from an earlier read undoes the fold, read_pointer ends up
// ahead of write_pointer, the hypervisor then sees a "full" ring for ever and the consumer walks
// into slots that were never written. A consumer that adds to the current value is immune.
// The producer is given (the fake's is src/hypervisor/buffered-ring.ts; src/transport wires them).
import { HVM_IOREQSRV_BUFIOREQ_ATOMIC, HVM_IOREQSRV_BUFIOREQ_LEGACY } from "../codec/ioreq-record.js";
import { IoreqClient } from "./client.js";
import { IoreqProtocolError } from "./errors.js";

export interface FloodOptions {
  /** HVM_IOREQSRV_BUFIOREQ_LEGACY (1) or _ATOMIC (2). */
  handling: typeof HVM_IOREQSRV_BUFIOREQ_LEGACY | typeof HVM_IOREQSRV_BUFIOREQ_ATOMIC;
  /** How the consumer updates read_pointer. */
  consumer: "atomic" | "stale";
  /** Requests to send in all. */
  requests: number;
  /** Requests written into an empty ring before a drain. */
  batch?: number;
  /** Requests the hypervisor writes inside the consumer's window (between its read and its store). */
  burst?: number;
}

export interface FloodReport {
  sent: number;
  /** Sends the hypervisor refused (ring "full"). */
  unhandled: number;
  delivered: number;
  /** Sequence numbers delivered more than once, or never written. */
  duplicates: number;
  outOfOrder: number;
  /** Accepted by the hypervisor but never delivered. */
  lost: number;
  /** The protocol error the consumer hit, if any. */
  overrun: IoreqProtocolError | null;
  pointers: { read: number; write: number };
  /** The hypervisor now refuses every buffered send (write_pointer - read_pointer >= 511, u32). */
  xenSeesFull: boolean;
}

/** The hypervisor's half of the ring: its page, and one buffered 4-byte write carrying `seq`. */
export interface FloodProducer {
  readonly page: Uint8Array;
  /** false when the ring refused the write ("full"). */
  send(seq: number): boolean;
}

/** Runs one flood of `producer`'s ring against an IoreqClient consumer. */
export function runFlood(o: FloodOptions, producer: FloodProducer): FloodReport {
  const batch = o.batch ?? 100;
  const burst = o.burst ?? 100;
  if (!Number.isInteger(o.requests) || o.requests < 0 || o.requests > 1e7) throw new RangeError(`requests ${o.requests} is outside 0..1e7`);
  if (batch + burst + burst > 511) throw new RangeError(`batch + 2*burst (${batch + 2 * burst}) must fit in the 511-slot ring`);
  const page = producer.page;
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const seen = new Map<number, number>();
  let order = -1;
  let outOfOrder = 0;
  let delivered = 0;
  const client = new IoreqClient({
    ioreqPage: new Uint8Array(4096),
    bufioreqPage: page,
    vcpus: 1,
    vcpuPorts: [1],
    bufioreqPort: 2,
    events: { onNotify: () => () => undefined, notify: () => undefined },
    readPointerUpdate: o.consumer,
  });
  void client.serve((r) => {
    const n = Number(r.data);
    delivered++;
    seen.set(n, (seen.get(n) ?? 0) + 1);
    if (n <= order) outOfOrder++;
    order = n;
    return undefined;
  }).catch(() => undefined);

  let sent = 0;
  let unhandled = 0;
  const accepted = new Set<number>();
  const send = (): void => {
    const seq = sent++;
    if (!producer.send(seq)) unhandled++;
    else accepted.add(seq);
  };
  let overrun: IoreqProtocolError | null = null;
  try {
    while (sent < o.requests) {
      // prime only an empty ring: from then on every write lands inside the consumer's window
      if (view.getUint32(0, true) === view.getUint32(4, true)) for (let i = 0; i < batch && sent < o.requests; i++) send();
      client.drainBuffered({
        beforePointerStore: () => {
          for (let i = 0; i < burst && sent < o.requests; i++) send();
        },
      });
    }
    client.drainBuffered();
  } catch (e) {
    if (!(e instanceof IoreqProtocolError)) throw e;
    overrun = e;
  }
  client.close();
  let duplicates = 0;
  for (const [n, c] of seen) if (c > 1 || !accepted.has(n)) duplicates += c > 1 ? c - 1 : 1;
  let lost = 0;
  for (const n of accepted) if (!seen.has(n)) lost++;
  return {
    sent,
    unhandled,
    delivered,
    duplicates,
    outOfOrder,
    lost,
    overrun,
    pointers: { read: view.getUint32(0, true), write: view.getUint32(4, true) },
    xenSeesFull: ((view.getUint32(4, true) - view.getUint32(0, true)) >>> 0) >= 511,
  };
}
