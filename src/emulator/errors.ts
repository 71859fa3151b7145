// Typed errors for device-model code that breaks the ioreq protocol.

export type IoreqProtocolErrorCode =
  /** respond() on a slot that is not READY or INPROCESS (nothing to answer, or answered twice) */
  | "not-in-progress"
  /** a state value above IORESP_READY (3), written or found */
  | "bad-state"
  /** a size-8 buffered request whose second slot is missing or does not match the first */
  | "half-quad-word"
  /** read_pointer is ahead of write_pointer, or more than 511 slots behind it */
  | "ring-overrun"
  /** the request does not belong to this client (unknown vCPU or port) */
  | "unknown-request"
  /** a buffered request that is not a single direct write */
  | "bad-buffered-request";

export class IoreqProtocolError extends Error {
  constructor(
    readonly code: IoreqProtocolErrorCode,
    /** "sync" slot of a vCPU, or "buffered" ring */
    readonly slot: "sync" | "buffered",
    /** vCPU for sync slots, ring index for buffered ones */
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = "IoreqProtocolError";
  }
}
