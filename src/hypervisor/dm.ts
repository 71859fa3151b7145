// The dm_op hypercall: do_dm_op + the architecture's dm_op(), checks in Xen's order.
// mirrors common/dm.c:do_dm_op, arch/x86/hvm/dm.c:dm_op, arch/arm/dm.c:dm_op (4.9: x86 dm.c:do_dm_op/dm_op)
import type { AbiName } from "./world.js";
import type { DmOpBuf, OpContext } from "./context.js";
import type { Domain } from "./domain.js";
import { E2BIG, EFAULT, EINVAL, ENODATA, ENOSYS, EOPNOTSUPP, EPERM, ERESTART, ESRCH, explanation } from "./explain.js";
import type { Explanation } from "./explain.js";
import type { Hypervisor } from "./hypervisor.js";
import type { Persona } from "./persona.js";
import { opTable } from "./ops/index.js";
import type { OpSpec } from "./ops/index.js";
import { payloadCodec, xenDmOpSize } from "./ops/payload.js";
import type { PayloadCodec } from "./ops/payload.js";

/** Offset of the union u in struct xen_dm_op. */
export const DMOP_HEADER = 8;

interface OpEntry {
  spec: OpSpec;
  codec: PayloadCodec;
}

/** The dispatcher's per-persona tables, built once. */
export class DmOpTables {
  /** op_size[op]: 0 where the arch has no entry. Length = the persona's table size. */
  readonly opSize: Uint8Array;
  /** op -> handler and codec, where the arch (and persona) handles the op. */
  readonly entries: (OpEntry | undefined)[];
  readonly wholeSize: number;

  constructor(persona: Persona, abi: AbiName) {
    const specs = opTable();
    this.opSize = new Uint8Array(persona.nrOps);
    this.entries = [];
    for (let op = 0; op < specs.length; op++) {
      const spec = specs[op];
      if (!spec || op >= persona.nrOps) continue;
      if (persona.arch === "x86" ? !spec.x86 : !spec.arm) continue;
      const codec = payloadCodec(spec.type, abi);
      this.opSize[op] = codec.size;
      this.entries[op] = { spec, codec };
    }
    this.wholeSize = xenDmOpSize(abi);
  }
}

function descSize(b: DmOpBuf): number {
  const s = b.size ?? b.bytes.length;
  if (typeof s === "number") return s;
  return s > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(s);
}

/**
 * One hypercall in flight: everything a call keeps between its passes. The synchronous path reuses
 * one across calls (allocation-free); a call left between passes (DmOpRun) owns its own.
 */
export class DmOpCall implements OpContext {
  caller = 0;
  domid = 0;
  d!: Domain;
  nrBufs = 0;
  bufs: readonly DmOpBuf[] = [];
  refused = false;
  /** Passes made so far (1 + continuations). */
  passes = 0;
  /** Why this call was refused (explain()), null while it was not. */
  explanation: Explanation | null = null;
  private lastBytes: Uint8Array | null = null;
  private lastView: DataView | null = null;

  constructor(readonly hv: Hypervisor, readonly persona: Persona) {}

  view0(): DataView {
    const b = this.bufs[0]!.bytes;
    if (b === this.lastBytes && this.lastView !== null && this.lastView.byteLength === b.byteLength) return this.lastView;
    // A caller that reuses its buffer hits the line above; a fresh buffer gets a fresh view (cheaper
    // than remembering views of short-lived buffers in a WeakMap).
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.lastBytes = b;
    this.lastView = v;
    return v;
  }

  bufSize(i: number): bigint {
    const b = i < this.nrBufs ? this.bufs[i] : undefined;
    if (!b) return 0n;
    return BigInt(b.size ?? b.bytes.length);
  }

  canRead(i: number, offset: number, len: number): boolean {
    const b = this.bufs[i];
    return b !== undefined && i < this.nrBufs && b.fault?.read !== true && offset >= 0 && offset + len <= b.bytes.length;
  }

  canWrite(i: number, offset: number, len: number): boolean {
    const b = this.bufs[i];
    return b !== undefined && i < this.nrBufs && b.fault?.write !== true && offset >= 0 && offset + len <= b.bytes.length;
  }

  copyFromBuf(i: number, offset: number, len: number): Uint8Array | null {
    if (!this.canRead(i, offset, len)) return null;
    return this.bufs[i]!.bytes.slice(offset, offset + len);
  }

  copyToBuf(i: number, offset: number, bytes: Uint8Array): boolean {
    if (!this.canWrite(i, offset, bytes.length)) return false;
    this.bufs[i]!.bytes.set(bytes, offset);
    return true;
  }

  preempt(): boolean {
    return this.hv.preemptHook.check();
  }

  refuse(rc: number, rule: string, mirrors: string): number {
    this.refused = true;
    this.explanation = explanation(rc, rule, mirrors);
    return rc;
  }
}

/** mirrors common/domain.c:rcu_lock_remote_domain_by_id + xsm/dummy.h:xsm_dm_op (XSM_DM_PRIV) */
function lookupTarget(call: DmOpCall, hv: Hypervisor, caller: number, domid: number): Domain | number {
  const d = hv.domains.get(domid);
  if (!d) return call.refuse(ESRCH, `no domain ${domid}`, "domain.c:rcu_lock_remote_domain_by_id");
  if (domid === caller) return call.refuse(EPERM, `domain ${domid} is the caller itself`, "domain.c:rcu_lock_remote_domain_by_id");
  return d;
}

function xsmDmOp(call: DmOpCall, hv: Hypervisor, caller: number, d: Domain): number {
  const c = hv.domains.get(caller);
  if (c && (c.control || c.target === d.domid)) return 0;
  return call.refuse(EPERM, `caller ${caller} is neither the control domain nor domain ${d.domid}'s device model`, "xsm/dummy.h:xsm_dm_op");
}

/** One pass of the architecture's dm_op(). */
function archDmOp(call: DmOpCall, t: DmOpTables, domid: number): number {
  const hv = call.hv;
  const persona = call.persona;
  const looked = lookupTarget(call, hv, call.caller, domid);
  if (typeof looked === "number") return looked;
  const d = looked;
  call.d = d;
  if (persona.arch === "x86" && !d.isHvm) {
    if (persona.pvReturnsZero) return 0;
    return call.refuse(EINVAL, `domain ${domid} is not an HVM domain`, "hvm/dm.c:dm_op");
  }
  const x = xsmDmOp(call, hv, call.caller, d);
  if (x !== 0) return x;
  if (!persona.perOpSize) return dmOpWhole(call, t);
  const b0 = call.nrBufs > 0 ? call.bufs[0] : undefined;
  const size0 = b0 ? descSize(b0) : 0;
  const fn = persona.arch === "x86" ? "hvm/dm.c:dm_op" : "arm/dm.c:dm_op";
  if (size0 < DMOP_HEADER) return call.refuse(EFAULT, `buf[0].size ${size0} < 8 (offset of u)`, fn);
  if (!call.canRead(0, 0, DMOP_HEADER)) return call.refuse(EFAULT, "copying the xen_dm_op header faulted", fn);
  const view = call.view0();
  const op = view.getUint32(0, true);
  if (op >= t.opSize.length) return call.refuse(EOPNOTSUPP, `op ${op} >= ${t.opSize.length} (op_size table)`, fn);
  const opSize = t.opSize[op]!;
  if (size0 < DMOP_HEADER + opSize) return call.refuse(EFAULT, `buf[0].size ${size0} < 8 + op_size[${op}] (${opSize})`, fn);
  if (!call.canRead(0, DMOP_HEADER, opSize)) return call.refuse(EFAULT, `copying ${opSize} payload bytes faulted`, fn);
  if (view.getUint32(4, true) !== 0) return call.refuse(EINVAL, "xen_dm_op.pad must be zero", fn);
  const e = t.entries[op];
  if (!e) return call.refuse(EOPNOTSUPP, `op ${op} is not handled on ${persona.arch}`, "ioreq.c:ioreq_server_dm_op");
  const payload = e.codec.read(view, DMOP_HEADER);
  const res = e.spec.handler(call, payload);
  let rc = res.rc;
  if ((rc === 0 || rc === ERESTART) && !res.constOp) {
    if (call.canWrite(0, DMOP_HEADER, opSize)) e.codec.write(view, DMOP_HEADER, payload);
    else rc = call.refuse(EFAULT, "copying the payload back to buffer 0 faulted", fn);
  }
  if (rc < 0 && rc !== ERESTART && !call.refused) call.refuse(rc, `op ${e.spec.member} failed`, e.spec.mirrors);
  return rc;
}

/** 4.9: the whole 32-byte struct xen_dm_op is copied in and out. mirrors 4.9 hvm/dm.c:dm_op */
function dmOpWhole(call: DmOpCall, t: DmOpTables): number {
  const fn = "hvm/dm.c:dm_op";
  const whole = t.wholeSize;
  const b0 = call.nrBufs > 0 ? call.bufs[0] : undefined;
  if (!b0 || descSize(b0) < whole || !call.canRead(0, 0, whole)) {
    return call.refuse(EFAULT, `buffer 0 must hold the whole ${whole}-byte struct xen_dm_op`, "hvm/dm.c:copy_buf_from_guest");
  }
  const view = call.view0();
  if (view.getUint32(4, true) !== 0) return call.refuse(EINVAL, "xen_dm_op.pad must be zero", fn);
  const op = view.getUint32(0, true);
  const e = op < t.entries.length ? t.entries[op] : undefined;
  if (!e) return call.refuse(EOPNOTSUPP, `op ${op} is not known to ${call.persona.release}`, fn);
  const payload = e.codec.read(view, DMOP_HEADER);
  const res = e.spec.handler(call, payload);
  let rc = res.rc;
  if ((rc === 0 || rc === ERESTART) && !res.constOp) {
    if (call.canWrite(0, 0, whole)) e.codec.write(view, DMOP_HEADER, payload);
    else rc = call.refuse(EFAULT, "copying struct xen_dm_op back faulted", "hvm/dm.c:copy_buf_to_guest");
  }
  if (rc < 0 && rc !== ERESTART && !call.refused) call.refuse(rc, `op ${e.spec.member} failed`, e.spec.mirrors);
  return rc;
}

/**
 * do_dm_op's checks before the first pass: 0 when passes are due, else the refusal's rc.
 * mirrors common/dm.c:do_dm_op
 */
export function enterDmOp(call: DmOpCall, caller: number, domid: number, bufs: readonly DmOpBuf[], nrBufs: number): number {
  const persona = call.persona;
  call.caller = caller;
  call.domid = domid;
  call.bufs = bufs;
  call.nrBufs = nrBufs;
  call.refused = false;
  call.passes = 0;
  call.explanation = null;
  if (persona.arch === "arm" && !persona.armDmOp) {
    return call.refuse(ENOSYS, `Xen ${persona.release} on Arm has no dm_op hypercall`, "arch/arm/traps.c:hypercall table");
  }
  if (persona.noDataCheck && nrBufs === 0) return call.refuse(ENODATA, "nr_bufs is 0", "common/dm.c:do_dm_op");
  if (nrBufs > 2) return call.refuse(E2BIG, `nr_bufs ${nrBufs} > 2`, "common/dm.c:do_dm_op");
  if (nrBufs > bufs.length) return call.refuse(EFAULT, `nr_bufs ${nrBufs} but only ${bufs.length} descriptors`, "common/dm.c:do_dm_op");
  return 0;
}

/**
 * One pass of the hypercall: the first, or the re-entry a continuation makes (hypercall_create_continuation
 * re-issues dm_op with the same arguments; the buffers carry the progress). -ERESTART: another pass is due.
 */
export function dmOpPass(call: DmOpCall, t: DmOpTables): number {
  call.passes++;
  call.refused = false;
  return archDmOp(call, t, call.domid);
}

/** The whole hypercall, continuations included. mirrors common/dm.c:do_dm_op */
export function doDmOp(call: DmOpCall, t: DmOpTables, caller: number, domid: number, bufs: readonly DmOpBuf[], nrBufs: number): number {
  const entry = enterDmOp(call, caller, domid, bufs, nrBufs);
  if (entry !== 0) return entry;
  let rc: number;
  do rc = dmOpPass(call, t);
  while (rc === ERESTART);
  return rc;
}
