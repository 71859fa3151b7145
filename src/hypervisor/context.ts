// The interface between the DMOP dispatcher and the per-op handlers.
import type { Domain } from "./domain.js";
import type { Hypervisor } from "./hypervisor.js";
import type { Persona } from "./persona.js";

/** One dm_op buffer as the caller's memory: read and written in place. */
export interface DmOpBuf {
  bytes: Uint8Array;
  /** The descriptor's size (xen_ulong_t); defaults to bytes.length. */
  size?: number | bigint;
  /** Make reads or writes of this buffer fault as an unmapped page would. */
  fault?: { read?: boolean; write?: boolean };
}

export interface OpResult {
  rc: number;
  /** false => the dispatcher copies the payload back on rc 0 / -ERESTART. */
  constOp: boolean;
}

export interface OpContext {
  readonly caller: number;
  readonly d: Domain;
  readonly hv: Hypervisor;
  readonly nrBufs: number;
  readonly persona: Persona;
  /** Descriptor size of buffer i (xen_ulong_t). */
  bufSize(i: number): bigint;
  /** Copy len bytes from buffer i at offset; null on a fault. */
  copyFromBuf(i: number, offset: number, len: number): Uint8Array | null;
  /** Copy bytes into buffer i at offset; false on a fault. */
  copyToBuf(i: number, offset: number, bytes: Uint8Array): boolean;
  /** The hypercall_preempt_check() hook. */
  preempt(): boolean;
  /** Record why a call was refused (for explain()); returns rc. */
  refuse(rc: number, rule: string, mirrors: string): number;
}

/** A handler gets the decoded payload; it mutates it in place for write-back. */
export type OpHandler<T> = (ctx: OpContext, payload: T) => OpResult;

const OK_CONST: OpResult = Object.freeze({ rc: 0, constOp: true });
const OK_WRITE: OpResult = Object.freeze({ rc: 0, constOp: false });

/** An OpResult (shared frozen objects for rc 0). */
export function done(rc: number, constOp = true): OpResult {
  if (rc === 0) return constOp ? OK_CONST : OK_WRITE;
  return { rc, constOp };
}
