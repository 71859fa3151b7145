// Shapes shared by the privcmd layer and its callers (socket server, in-process transport, scenario runner).

/** One dm_op buffer as the caller's memory holds it (see docs/architecture.md, "Hypervisor contract"). */
export interface DmOpBuf {
  bytes: Uint8Array;
  /** The size the descriptor claims; defaults to `bytes.length`. */
  size?: number;
  /** `read`: the pointer is bad (fails access_ok); `write`: the pages cannot be pinned writable. */
  fault?: { read?: boolean; write?: boolean };
}

/** What `ioctl(2)` returns: the value, or -1 with errno set. */
export type IoctlResult = { ret: number } | { ret: -1; errno: number };

/** The one hypervisor entry point the driver needs. */
export type DmOpFn = (caller: number, domid: number, bufs: DmOpBuf[]) => number;

/** A hypercall between its continuation passes (the hypervisor's DmOpRun): runs on in slices. */
export interface SlicedCall {
  /** Passes for up to `sliceMs` (at least one): "more" while the call goes on, else its rc. */
  run(sliceMs: number): "more" | number;
  /** One pass: "more" while the call goes on, else its rc. */
  step(): "more" | number;
  /** Passes made so far. */
  readonly passes: number;
  /** No more passes; the call has no result. */
  abandon(): void;
}

/** Anything with the hypervisor's `dm_op` method (and, to let long calls run in slices, `dmOpSliced`). */
export interface DmOpTarget {
  dm_op(caller: number, domid: number, bufs: DmOpBuf[]): number;
  /** Passes until the call returns (its rc) or, once it continues, `sliceMs` went by (what is left of it). */
  dmOpSliced?(caller: number, domid: number, bufs: DmOpBuf[], nrBufs: number, sliceMs: number): number | SlicedCall;
}

/** Caller ABI for the xen_dm_op_buf array of a raw hypercall. */
export type CallerAbi = "x86_64" | "i386" | "arm64" | "arm32";
