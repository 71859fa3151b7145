// HYPERCALL memory_op / multicall: the wire's buffers mapped onto the fake's memory_op (see
// native/shim/privcmd.c:do_memop_hypercall for the order the buffers travel in).
import { MEMOP_CMD_MASK, XENMEM_decrease_reservation, XENMEM_increase_reservation, XENMEM_populate_physmap, __HYPERVISOR_hvm_op, __HYPERVISOR_memory_op, __HYPERVISOR_multicall, MULTICALL_ENTRY_SIZE } from "../../abi/xen/xen.js";
import { EFAULT, ENOSYS, EPERM } from "../hypervisor/explain.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { currentHvmParam, hvmGetParam } from "../hypervisor/hvm-param.js";
import { hvmSetParam } from "../hypervisor/hvm-param-set.js";
import { HVMOP_get_param, HVMOP_set_param, XEN_HVM_PARAM_SIZE } from "../../abi/xen/hvm_op.js";
import { memoryOpReservation, multicall, type EntryBufs, type ReservationBufs } from "../hypervisor/memory-op.js";
import { DESC_UNREADABLE, type WireBuf } from "./protocol.js";

const RESERVATION_CMDS: ReadonlySet<number> = new Set([XENMEM_increase_reservation, XENMEM_decrease_reservation, XENMEM_populate_physmap]);

/** Whether a memory_op cmd carries a xen_memory_reservation (and so two buffers on the wire). */
export function hasReservation(cmd: bigint): boolean {
  return RESERVATION_CMDS.has(Number(cmd & BigInt(MEMOP_CMD_MASK)));
}

function bytesOf(b: WireBuf | undefined): Uint8Array | null {
  if (b === undefined || (b.flags & DESC_UNREADABLE) !== 0) return null;
  return b.bytes ?? new Uint8Array(0);
}

function reservationAt(bufs: readonly WireBuf[], i: number): ReservationBufs {
  return { reservation: bytesOf(bufs[i]), extents: bytesOf(bufs[i + 1]) };
}

/**
 * Runs a memory_op (12) or multicall (13) HYPERCALL; the result is a privcmd ioctl result (a negative
 * hypercall return becomes -1 and errno). The buffers' bytes are changed in place as Xen writes them.
 * mirrors privcmd.c:privcmd_ioctl_hypercall (restriction) then the hypercall
 */
export function runMemopHypercall(hv: Hypervisor, caller: number, restricted: boolean, op: bigint, args: readonly bigint[], bufs: readonly WireBuf[]): { ret: number; errno: number } {
  if (restricted) return { ret: -1, errno: -EPERM };
  let rc: number;
  if (op === BigInt(__HYPERVISOR_memory_op)) {
    const cmd = args[0] ?? 0n;
    rc = hasReservation(cmd) ? memoryOpReservation(hv, caller, cmd, reservationAt(bufs, 0)) : ENOSYS;
  } else if (op === BigInt(__HYPERVISOR_multicall)) {
    const nr = Number((args[1] ?? 0n) & 0xffff_ffffn);
    const entries = bytesOf(bufs[0]);
    const per: EntryBufs = [];
    if (entries !== null && entries.length >= nr * MULTICALL_ENTRY_SIZE) {
      const v = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
      let k = 1;
      for (let i = 0; i < nr; i++) {
        const o = i * MULTICALL_ENTRY_SIZE;
        if (v.getBigUint64(o, true) === BigInt(__HYPERVISOR_memory_op) && hasReservation(v.getBigUint64(o + 16, true))) {
          per.push(reservationAt(bufs, k));
          k += 2;
        } else per.push(undefined);
      }
    }
    rc = multicall(hv, caller, entries === null ? null : entries, nr, per);
    if (entries === null && nr > 0) rc = EFAULT;
  } else if (op === BigInt(__HYPERVISOR_hvm_op)) rc = hvmParamOp(hv, caller, args[0] ?? 0n, bytesOf(bufs[0]));
  else rc = ENOSYS;
  return rc < 0 ? { ret: -1, errno: -rc } : { ret: rc, errno: 0 };
}

/** HVMOP_set_param / HVMOP_get_param on a struct xen_hvm_param (value written back by get). mirrors hvm.c:do_hvm_op */
function hvmParamOp(hv: Hypervisor, caller: number, cmd: bigint, param: Uint8Array | null): number {
  if (cmd !== BigInt(HVMOP_set_param) && cmd !== BigInt(HVMOP_get_param)) return ENOSYS;
  if (param === null || param.length < XEN_HVM_PARAM_SIZE) return EFAULT;
  const v = new DataView(param.buffer, param.byteOffset, param.byteLength);
  const domid = v.getUint16(0, true);
  const index = v.getUint32(4, true);
  if (cmd === BigInt(HVMOP_set_param)) return hvmSetParam(hv, caller, domid, index, v.getBigUint64(8, true), currentHvmParam);
  const r = hvmGetParam(hv, caller, domid === 0x7ff0 ? caller : domid, index);
  if (r.rc !== 0 || r.value === null) return r.rc;
  v.setBigUint64(8, r.value, true);
  return 0;
}
