// What the conformance check sees of a call and what it says about it.
import type { Arch } from "../../abi/profiles.js";

/** The two ways libxendevicemodel reaches Xen: the DM_OP ioctl, or libxencall's hypercall fallback. */
export type ConformPath = "ioctl" | "hypercall";

/** One buffer descriptor as the server received it. `bytes` is absent when its contents did not travel. */
export interface SentBuf {
  size: bigint;
  /** The caller's pointer could not be read (or pinned writable). */
  unreadable: boolean;
  bytes?: Uint8Array;
}

/** A DM_OP ioctl or a HYPERCALL(__HYPERVISOR_dm_op) as the server received it. */
export interface SentCall {
  path: ConformPath;
  /** The connection's ABI (from HELLO): the layouts of the descriptor arrays. */
  abi: Arch;
  dom: number;
  /** privcmd_dm_op.num, or the hypercall's arg[1]. */
  num: number;
  bufs: readonly SentBuf[];
  /** HYPERCALL only: privcmd_hypercall.arg[0..4]. */
  args?: readonly bigint[];
}

/** What kind of difference; the report keeps the first of each kind per operation. */
export type DifferenceKind =
  | "buffer-count"
  | "buffer-order"
  | "buffer-size"
  | "buffer-unreadable"
  | "descriptor-layout"
  | "field"
  | "hypercall-arg";

export interface Difference {
  kind: DifferenceKind;
  /** The buffer it is in (absent for the call's own arguments). */
  buffer?: number;
  /** The C path, e.g. "xen_dm_op.u.set_mem_type.pad" or "privcmd_dm_op_buf[0].size". */
  field: string;
  /** Byte offset of the field within its buffer (or within the descriptor array / argument struct). */
  offset: number;
  expected: string;
  sent: string;
  /** A short explanation where the values alone do not say it. */
  note?: string;
}

/** The libxendevicemodel call a request corresponds to and what the check found. */
export type Verdict =
  | { status: "conforms"; op: string; fn: string }
  | { status: "differs"; op: string; fn: string; differences: Difference[] }
  /** The library never sends this (an op it has no function for, arguments it refuses, a layout it cannot produce). */
  | { status: "not-a-library-call"; op: string; reason: string }
  /** No contents reached the server to compare (a buffer over 4096 bytes: the kernel refuses it unread). */
  | { status: "unchecked"; op: string; reason: string };
