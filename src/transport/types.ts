// One interface for every way of reaching a (real or fake) /dev/xen/privcmd file handle.

/**
 * One buffer as the caller hands it to the ioctl: `bytes` is the caller's memory, `size` the size the
 * descriptor claims (defaults to bytes.length; it may claim more than exists, which reads as a fault).
 * `unreadable` marks a pointer the kernel cannot read (copy-in fails with EFAULT).
 */
export interface TransportBuf {
  bytes: Uint8Array;
  size?: bigint | number;
  unreadable?: boolean;
}

/** An ioctl's outcome: `ret` as the ioctl returned it; `errno` when ret is -1. */
export interface IoctlOutcome {
  ret: number;
  errno?: number;
}

/**
 * A DM_OP or HYPERCALL outcome. `bufs` are the buffers as they are after the call (the hypervisor
 * writes in place, even on failure), one per buffer sent, or empty when the call never reached the
 * hypervisor. A transport also writes them back into the caller's `bytes`.
 */
export interface CallOutcome extends IoctlOutcome {
  bufs: Uint8Array[];
}

export interface Transport {
  /** IOCTL_PRIVCMD_DM_OP. `num` defaults to bufs.length (it may differ, to test the kernel's checks). */
  dmOp(dom: number, bufs: TransportBuf[], num?: number): Promise<CallOutcome>;
  /** IOCTL_PRIVCMD_RESTRICT. */
  restrict(dom: number): Promise<IoctlOutcome>;
  /**
   * IOCTL_PRIVCMD_HYPERCALL. For `__HYPERVISOR_dm_op` (41) `bufs` are the xen_dm_op_buf entries the
   * caller's arg[2] points to (args[1] of them); the transport builds the pointers itself.
   */
  hypercall?(op: number | bigint, args: readonly (number | bigint)[], bufs?: TransportBuf[]): Promise<CallOutcome>;
  close(): Promise<void>;
}

/** Opens handles: one `open()` is one open() of /dev/xen/privcmd. */
export interface TransportFactory {
  open(): Promise<Transport>;
}

export function bufSize(b: TransportBuf): bigint {
  return b.size === undefined ? BigInt(b.bytes.length) : BigInt(b.size);
}

/** Copies the buffers after the call back into the caller's memory (as far as both reach). */
export function copyBack(bufs: readonly TransportBuf[], after: readonly Uint8Array[]): void {
  after.forEach((a, i) => {
    const dst = bufs[i]?.bytes;
    if (dst === undefined || dst === a) return;
    dst.set(a.subarray(0, Math.min(a.length, dst.length)));
  });
}
