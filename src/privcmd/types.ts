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

/** Anything with the hypervisor's `dm_op` method. */
export interface DmOpTarget {
  dm_op(caller: number, domid: number, bufs: DmOpBuf[]): number;
}

/** Caller ABI for the xen_dm_op_buf array of a raw hypercall. */
export type CallerAbi = "x86_64" | "i386" | "arm64" | "arm32";
