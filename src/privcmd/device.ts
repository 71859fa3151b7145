// The Linux privcmd driver (drivers/xen/privcmd.c) in front of a hypervisor's dm_op entry point.
import { decodeXenDmOpBufs, xenDmOpBufSize } from "./dmopbuf-array.js";
import { E2BIG, EFAULT, EINVAL, ENOSYS, EPERM } from "./errno.js";
import type { UserMemory } from "./memory.js";
import type { CallerAbi, DmOpBuf, DmOpFn, DmOpTarget, IoctlResult, SlicedCall } from "./types.js";

export const DOMID_INVALID = 0x7ff4;
export const HYPERVISOR_DM_OP = 41;
export const PAGE_SIZE = 4096;
const HYPERVISOR_DM_OP_BIG = BigInt(HYPERVISOR_DM_OP);
const U64_MAX = 0xffff_ffff_ffff_ffffn;

export interface PrivcmdOptions {
  /** Module parameter `dm_op_max_nr_bufs` (default 16). */
  dm_op_max_nr_bufs?: number;
  /** Module parameter `dm_op_buf_max_size` (default 4096). */
  dm_op_buf_max_size?: number;
  /** Newer kernels fail a buffer that spans no page (size 0) with EFAULT; 6.1 passes it on (default false). */
  zero_page_buf_efault?: boolean;
  /** The callers' ABI for raw hypercalls that point at a xen_dm_op_buf array (default x86_64). */
  abi?: CallerAbi;
  /** The callers' memory, for raw hypercalls made without resolved buffers. */
  memory?: UserMemory;
}

/** Thrown for arguments a C caller could not even express (not u16, not an integer, ...). */
export class PrivcmdArgumentError extends RangeError {
  constructor(readonly field: string, message: string) {
    super(`privcmd: ${field}: ${message}`);
    this.name = "PrivcmdArgumentError";
  }
}

export interface PrivcmdHandle {
  readonly caller: number;
  /** The current restriction, or DOMID_INVALID when none. */
  readonly restriction: number;
  restrict(dom: number): IoctlResult;
  dm_op(dom: number, num: number, bufs: DmOpBuf[]): IoctlResult;
  hypercall(op: bigint | number, args: readonly bigint[], bufs?: DmOpBuf[]): IoctlResult;
  /**
   * dm_op whose continuation passes may run later: the result, or, for a call still going on after
   * `sliceMs`, a PendingIoctl to run on (the buffers must stay untouched until it returns).
   */
  dmOpSliced(dom: number, num: number, bufs: DmOpBuf[], sliceMs: number): IoctlResult | PendingIoctl;
  /** hypercall() the same way (a raw HYPERVISOR_dm_op may continue). */
  hypercallSliced(op: bigint | number, args: readonly bigint[], bufs: DmOpBuf[] | undefined, sliceMs: number): IoctlResult | PendingIoctl;
  close(): void;
}

function u16(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new PrivcmdArgumentError(field, `${v} is not a u16`);
  return v;
}

function result(rc: number): IoctlResult {
  return rc < 0 ? { ret: -1, errno: -rc } : { ret: rc };
}

/** Without a slice the hypervisor ran the whole call; a PendingIoctl cannot come back (else: run it out). */
function settled(r: IoctlResult | PendingIoctl): IoctlResult {
  return r instanceof PendingIoctl ? r.finish() : r;
}

/** An ioctl whose hypercall is between continuation passes (Linux: the vCPU re-enters it; here the caller does). */
export class PendingIoctl {
  constructor(readonly call: SlicedCall) {}

  /** Runs the hypercall for up to `sliceMs`: the ioctl's result once it returned, else undefined. */
  run(sliceMs: number): IoctlResult | undefined {
    const r = this.call.run(sliceMs);
    return r === "more" ? undefined : result(r);
  }

  /** One pass of the hypercall: the ioctl's result once it returned, else undefined. */
  step(): IoctlResult | undefined {
    const r = this.call.step();
    return r === "more" ? undefined : result(r);
  }

  /** Passes the hypercall made so far. */
  get passes(): number {
    return this.call.passes;
  }

  /** Runs it to the end. */
  finish(): IoctlResult {
    for (;;) {
      const r = this.run(Infinity);
      if (r !== undefined) return r;
    }
  }

  /** Makes no more passes: the ioctl has no result. */
  abandon(): void {
    this.call.abandon();
  }
}

/** How a handle enters the hypervisor: sliced when `sliceMs` is given and the hypervisor can. */
type HvEntry = (caller: number, domid: number, bufs: DmOpBuf[], sliceMs: number | undefined) => IoctlResult | PendingIoctl;

const FAULTING_BUF: DmOpBuf = { bytes: new Uint8Array(0), size: 0, fault: { read: true, write: true } };

export class PrivcmdDevice {
  readonly #dmOp: HvEntry;
  readonly maxNrBufs: number;
  readonly maxBufSize: number;
  readonly zeroPageBufEfault: boolean;
  readonly abi: CallerAbi;
  readonly memory: UserMemory | undefined;

  constructor(hv: DmOpTarget | DmOpFn, opts: PrivcmdOptions = {}) {
    if (typeof hv === "function") this.#dmOp = (caller, domid, bufs) => result(hv(caller, domid, bufs));
    else {
      this.#dmOp = (caller, domid, bufs, sliceMs) => {
        if (sliceMs === undefined || hv.dmOpSliced === undefined) return result(hv.dm_op(caller, domid, bufs));
        const r = hv.dmOpSliced(caller, domid, bufs, bufs.length, sliceMs);
        return typeof r === "number" ? result(r) : new PendingIoctl(r);
      };
    }
    this.maxNrBufs = opts.dm_op_max_nr_bufs ?? 16;
    this.maxBufSize = opts.dm_op_buf_max_size ?? PAGE_SIZE;
    for (const [k, v] of [["dm_op_max_nr_bufs", this.maxNrBufs], ["dm_op_buf_max_size", this.maxBufSize]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new PrivcmdArgumentError(k, `${v} is not a uint`);
    }
    this.zeroPageBufEfault = opts.zero_page_buf_efault ?? false;
    this.abi = opts.abi ?? "x86_64";
    this.memory = opts.memory;
  }

  /** Opens /dev/xen/privcmd as domain `caller`: a new, unrestricted file handle. */
  open(caller: number): PrivcmdHandle {
    return new Handle(this, u16("caller", caller), this.#dmOp);
  }
}

class Handle implements PrivcmdHandle {
  #restriction = DOMID_INVALID;
  #closed = false;

  constructor(
    readonly dev: PrivcmdDevice,
    readonly caller: number,
    readonly hvDmOp: HvEntry,
  ) {}

  get restriction(): number {
    return this.#restriction;
  }

  #check(): void {
    if (this.#closed) throw new PrivcmdArgumentError("fd", "the handle is closed");
  }

  // mirrors privcmd.c:privcmd_ioctl_restrict
  restrict(dom: number): IoctlResult {
    this.#check();
    u16("dom", dom);
    if (this.#restriction === DOMID_INVALID) this.#restriction = dom;
    else if (this.#restriction !== dom) return { ret: -1, errno: EINVAL };
    return { ret: 0 };
  }

  dm_op(dom: number, num: number, bufs: DmOpBuf[]): IoctlResult {
    return settled(this.#dmOp(dom, num, bufs, undefined));
  }

  dmOpSliced(dom: number, num: number, bufs: DmOpBuf[], sliceMs: number): IoctlResult | PendingIoctl {
    return this.#dmOp(dom, num, bufs, sliceMs);
  }

  hypercall(op: bigint | number, args: readonly bigint[], bufs?: DmOpBuf[]): IoctlResult {
    return settled(this.#hypercall(op, args, bufs, undefined));
  }

  hypercallSliced(op: bigint | number, args: readonly bigint[], bufs: DmOpBuf[] | undefined, sliceMs: number): IoctlResult | PendingIoctl {
    return this.#hypercall(op, args, bufs, sliceMs);
  }

  // mirrors privcmd.c:privcmd_ioctl_dm_op
  #dmOp(dom: number, num: number, bufs: DmOpBuf[], sliceMs: number | undefined): IoctlResult | PendingIoctl {
    this.#check();
    u16("dom", dom);
    u16("num", num);
    if (this.#restriction !== DOMID_INVALID && this.#restriction !== dom) return { ret: -1, errno: EPERM };
    if (num === 0) return { ret: 0 };
    if (num > this.dev.maxNrBufs) return { ret: -1, errno: E2BIG };
    // The descriptor array holds `bufs.length` entries: copying `num` of them reads past it.
    if (num > bufs.length) return { ret: -1, errno: EFAULT };
    const used = num === bufs.length ? bufs : bufs.slice(0, num);
    const maxBufSize = this.dev.maxBufSize;
    for (let i = 0; i < num; i++) {
      const b = used[i]!;
      const size = b.size ?? b.bytes.length;
      if (!Number.isInteger(size) || size < 0) throw new PrivcmdArgumentError(`bufs[${i}].size`, `${size} is not a size`);
      if (size > maxBufSize) return { ret: -1, errno: E2BIG };
      if (b.fault?.read === true) return { ret: -1, errno: EFAULT }; // access_ok
    }
    // lock_pages: every buffer is pinned for writing, so read-only memory fails here.
    for (let i = 0; i < num; i++) {
      const b = used[i]!;
      if (b.fault?.write === true) return { ret: -1, errno: EFAULT };
      if ((b.size ?? b.bytes.length) === 0 && this.dev.zeroPageBufEfault) return { ret: -1, errno: EFAULT };
    }
    return this.hvDmOp(this.caller, dom, used, sliceMs);
  }

  // mirrors privcmd.c:privcmd_ioctl_hypercall
  #hypercall(op: bigint | number, args: readonly bigint[], bufs: DmOpBuf[] | undefined, sliceMs: number | undefined): IoctlResult | PendingIoctl {
    this.#check();
    if (this.#restriction !== DOMID_INVALID) return { ret: -1, errno: EPERM };
    if (args.length > 5) throw new PrivcmdArgumentError("arg", `${args.length} arguments, at most 5`);
    const opv = typeof op === "number" ? BigInt(op) : op;
    if (opv < 0n || opv > U64_MAX) throw new PrivcmdArgumentError("op", `${opv} is not a u64`);
    const a: bigint[] = [0n, 0n, 0n, 0n, 0n];
    for (let i = 0; i < 5; i++) {
      const v = args[i] ?? 0n;
      if (v < 0n || v > U64_MAX) throw new PrivcmdArgumentError(`arg[${i}]`, `${v} is not a u64`);
      a[i] = v;
    }
    if (opv !== HYPERVISOR_DM_OP_BIG) return { ret: -1, errno: ENOSYS };
    const [domArg, nrArg, ptrArg] = a as [bigint, bigint, bigint, bigint, bigint];
    const domid = Number(domArg & 0xffffn); // do_dm_op takes a domid_t
    const nr = nrArg & 0xffff_ffffn; // and an unsigned int count
    if (nr === 0n) return this.hvDmOp(this.caller, domid, [], sliceMs);
    if (nr > 2n) {
      // Xen refuses more than two before reading a descriptor; three unreadable ones say so without allocating.
      return this.hvDmOp(this.caller, domid, [FAULTING_BUF, FAULTING_BUF, FAULTING_BUF], sliceMs);
    }
    const n = Number(nr);
    let xbufs: DmOpBuf[];
    if (bufs !== undefined) {
      if (bufs.length < n) return { ret: -1, errno: EFAULT }; // the descriptor copy would fault
      xbufs = bufs.length === n ? bufs : bufs.slice(0, n);
    } else {
      const mem = this.dev.memory;
      const descBytes = mem?.view(ptrArg, n * xenDmOpBufSize(this.dev.abi)) ?? null;
      if (mem === undefined || descBytes === null) return { ret: -1, errno: EFAULT };
      xbufs = decodeXenDmOpBufs(descBytes, n, this.dev.abi).map((d) => {
        const size = d.size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(d.size);
        const bytes = size <= 0x1000_0000 ? mem.view(d.h, size) : null;
        return bytes === null ? { bytes: new Uint8Array(0), size, fault: { read: true, write: true } } : { bytes, size };
      });
    }
    return this.hvDmOp(this.caller, domid, xbufs, sliceMs);
  }

  close(): void {
    this.#closed = true;
  }
}
