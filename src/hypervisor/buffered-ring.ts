// A private buffered ring written by ioreq_send_buffered, with no domain around it: the producer half
// of the flood harness (4-byte stdvga-style writes, one per sequence number).
import { IOREQ_TYPE_COPY, IOREQ_WRITE, STATE_IOREQ_READY } from "../codec/ioreq-record.js";
import { sendBuffered, IOREQ_STATUS_UNHANDLED, type IoreqFields, type IoreqServerLike, type RangeLike, type SendEnv } from "./ioreq-send.js";

/** The hypervisor's half of a buffered ring: its page, and one buffered write carrying `seq`. */
export interface BufferedProducer {
  readonly page: Uint8Array;
  /** ioreq_send_buffered of a 4-byte write of `seq` to 0xa0000; false when the ring refused it. */
  send(seq: number): boolean;
}

const NO_RANGES: RangeLike = { contains: () => false };

/** A ring with `handling` HVM_IOREQSRV_BUFIOREQ_LEGACY (1) or _ATOMIC (2). */
export function bufferedRing(handling: number): BufferedProducer {
  const page = new Uint8Array(4096);
  const server: IoreqServerLike = {
    id: 0,
    enabled: true,
    bufioreqHandling: handling,
    ranges: { port: NO_RANGES, memory: NO_RANGES, pci: NO_RANGES },
    ioreqPage: { page: new Uint8Array(4096) },
    bufioreqPage: { page },
    ioreqEvtchn: [1],
    bufioreqEvtchn: 2,
  };
  const env: SendEnv = { notify: () => undefined, bufferedUnsupportedIsUnhandled: false };
  const req: IoreqFields = { addr: 0xa0000n, data: 0n, count: 1, size: 4, vp_eport: 0, state: STATE_IOREQ_READY, data_is_ptr: 0, dir: IOREQ_WRITE, df: 0, type: IOREQ_TYPE_COPY };
  return {
    page,
    send(seq: number): boolean {
      req.data = BigInt(seq);
      return sendBuffered(server, req, env).status !== IOREQ_STATUS_UNHANDLED;
    },
  };
}
