// Emission of ioreqs into a server's pages, and the hypervisor's half of the state machine.
// mirrors common/ioreq.c: ioreq_send, ioreq_send_buffered, wait_for_io, ioreq_broadcast
import {
  ioreqRecord,
  bufSlot,
  BUF_RING_OFFSET,
  BUF_SLOT_SIZE,
  IOREQ_BUFFER_SLOT_NUM,
  IOREQ_DATA_OFFSET,
  IOREQ_SIZE,
  READ_POINTER_OFFSET as RP,
  WRITE_POINTER_OFFSET as WP,
} from "./ioreq-record.js";
import { viewOf } from "../codec/index.js";
import type { IoreqFields } from "./ioreq-record.js";
import {
  IOREQ_READ,
  IOREQ_TYPE_PIO,
  STATE_IOREQ_INPROCESS,
  STATE_IOREQ_NONE,
  STATE_IOREQ_READY,
  STATE_IORESP_READY,
  HVM_IOREQSRV_BUFIOREQ_ATOMIC,
  HVM_IOREQSRV_BUFIOREQ_OFF,
} from "./ioreq-record.js";

export type { IoreqFields } from "./ioreq-record.js";

/** A rangeset as routing sees it. */
export interface RangeLike {
  contains(first: bigint, last: bigint): boolean;
}

/** The parts of an ioreq server that emission and routing read (the server model owns them). */
export interface IoreqServerLike {
  readonly id: number;
  readonly enabled: boolean;
  readonly bufioreqHandling: number;
  readonly ranges: { readonly port: RangeLike; readonly memory: RangeLike; readonly pci: RangeLike };
  readonly ioreqPage: { readonly page: Uint8Array | null };
  readonly bufioreqPage: { readonly page: Uint8Array | null };
  /** Per-vCPU event channel ports; a missing entry means the vCPU has no slot in this server. */
  readonly ioreqEvtchn: ReadonlyArray<number | undefined> | ReadonlyMap<number, number>;
  readonly bufioreqEvtchn: number | null;
  /** Per-vCPU "waiting for this server" flags (sv->pending), kept up to date when present. */
  readonly pending?: boolean[];
}

/** The vCPU's port in this server, or undefined (the vCPU is not on the server's list). */
export function vcpuPort(s: IoreqServerLike, vcpu: number): number | undefined {
  const e = s.ioreqEvtchn;
  return isPortMap(e) ? e.get(vcpu) : e[vcpu];
}

function isPortMap(e: IoreqServerLike["ioreqEvtchn"]): e is ReadonlyMap<number, number> {
  return e instanceof Map;
}

export const IOREQ_STATUS_HANDLED = "handled";
export const IOREQ_STATUS_UNHANDLED = "unhandled";
export const IOREQ_STATUS_RETRY = "retry";
export type IoreqStatus = typeof IOREQ_STATUS_HANDLED | typeof IOREQ_STATUS_UNHANDLED | typeof IOREQ_STATUS_RETRY;

/** Why a send was refused (the log line Xen would print). */
export interface SendOutcome {
  status: IoreqStatus;
  reason?: string;
}

export interface SendEnv {
  /** notify_via_xen_event_channel */
  notify(port: number): void;
  /** [M] returns UNHANDLED for requests the buffered ring cannot carry; [T] drops them as "handled". */
  bufferedUnsupportedIsUnhandled: boolean;
}

const SENT: SendOutcome = Object.freeze({ status: IOREQ_STATUS_RETRY });

/**
 * Synchronous send for vCPU `vcpu`: slot must be NONE with the vCPU's port, then the record is
 * written with state NONE, switched to READY, and the port notified. RETRY means "sent, now wait".
 * mirrors common/ioreq.c:ioreq_send (buffered == false)
 */
export function sendSync(s: IoreqServerLike, vcpu: number, req: IoreqFields, env: SendEnv): SendOutcome {
  const port = vcpuPort(s, vcpu);
  if (port === undefined) return { status: IOREQ_STATUS_UNHANDLED, reason: `vCPU ${vcpu} has no slot in server ${s.id}` };
  const page = s.ioreqPage.page;
  if (page === null) {
    // Xen dereferences a missing page here; the fake refuses instead.
    return { status: IOREQ_STATUS_UNHANDLED, reason: `server ${s.id} has no sync ioreq page` };
  }
  const view = viewOf(page);
  const off = vcpu * IOREQ_SIZE;
  const state = ioreqRecord.state(view, off);
  if (state !== STATE_IOREQ_NONE) {
    return { status: IOREQ_STATUS_UNHANDLED, reason: `device model set bad IO state ${state}` };
  }
  const eport = ioreqRecord.vpEport(view, off);
  if (eport !== port) {
    return { status: IOREQ_STATUS_UNHANDLED, reason: `device model set bad event channel ${eport}` };
  }
  req.state = STATE_IOREQ_NONE;
  req.vp_eport = port;
  ioreqRecord.write(view, off, req);
  ioreqRecord.setState(view, off, STATE_IOREQ_READY);
  env.notify(port);
  if (s.pending !== undefined) s.pending[vcpu] = true;
  return SENT;
}

/** The result of looking at a slot the vCPU waits on. mirrors common/ioreq.c:wait_for_io */
export type WaitOutcome =
  | { kind: "waiting"; state: number }
  | { kind: "done"; data: bigint }
  | { kind: "crash"; reason: string };

const ALL_ONES = 0xffff_ffff_ffff_ffffn;

/**
 * One pass of wait_for_io over the slot of a woken vCPU. Every wake-up starts a fresh pass: a vCPU
 * that blocked re-enters through hvm_do_resume -> vcpu_ioreq_handle_completion, so the "previous
 * state" starts at NONE each time. Within a pass Xen re-reads the state only while the emulator could
 * be changing it concurrently; in this single-threaded model a pass sees one state, so the
 * "state went backwards" crash (only observable between two reads of one pass) cannot happen.
 * IORESP_READY -> the slot goes back to NONE and `data` is taken; NONE (an emulator that reset the
 * slot) ends the wait with data ~0; READY / INPROCESS -> keep waiting; above 3 -> domain crash.
 */
export function checkSlot(page: Uint8Array, vcpu: number): WaitOutcome {
  const view = viewOf(page);
  const off = vcpu * IOREQ_SIZE;
  const state = ioreqRecord.state(view, off);
  switch (state) {
    case STATE_IOREQ_NONE:
      return { kind: "done", data: ALL_ONES };
    case STATE_IORESP_READY:
      ioreqRecord.setState(view, off, STATE_IOREQ_NONE);
      return { kind: "done", data: ioreqRecord.data(view, off) };
    case STATE_IOREQ_READY:
    case STATE_IOREQ_INPROCESS:
      return { kind: "waiting", state };
    default:
      return { kind: "crash", reason: `Weird HVM iorequest state ${state}` };
  }
}

export const SLOT_WAITING = 0;
export const SLOT_DONE = 1;
export const SLOT_CRASH = 2;
export type SlotCode = typeof SLOT_WAITING | typeof SLOT_DONE | typeof SLOT_CRASH;

/** What takeSlot saw: the state, and the data of a finished slot as two u32 halves (read only when asked for). */
export const slotSeen = { state: 0, dataLo: 0, dataHi: 0 };

/**
 * checkSlot without an allocation: the outcome as a code, the state and data left in `slotSeen`
 * (`data` is read only with `wantData`; a slot reset to NONE gives ~0).
 */
export function takeSlot(page: Uint8Array, vcpu: number, wantData: boolean): SlotCode {
  const view = viewOf(page);
  const off = vcpu * IOREQ_SIZE;
  const state = ioreqRecord.state(view, off);
  slotSeen.state = state;
  switch (state) {
    case STATE_IOREQ_NONE:
      if (wantData) {
        slotSeen.dataLo = 0xffff_ffff;
        slotSeen.dataHi = 0xffff_ffff;
      }
      return SLOT_DONE;
    case STATE_IORESP_READY:
      ioreqRecord.setState(view, off, STATE_IOREQ_NONE);
      if (wantData) {
        slotSeen.dataLo = view.getUint32(off + IOREQ_DATA_OFFSET, true);
        slotSeen.dataHi = view.getUint32(off + IOREQ_DATA_OFFSET + 4, true);
      }
      return SLOT_DONE;
    case STATE_IOREQ_READY:
    case STATE_IOREQ_INPROCESS:
      return SLOT_WAITING;
    default:
      return SLOT_CRASH;
  }
}

/**
 * The wait_for_io loop over the states one pass observed, in order (for a concurrent emulator, or a
 * transport that reports several states per wake-up): a state lower than the one before -> crash.
 */
export function waitPass(states: readonly number[]): "waiting" | "done" | { crash: string } {
  let prev = STATE_IOREQ_NONE;
  for (const state of states) {
    if (state === STATE_IOREQ_NONE) return "done";
    if (state < prev) return { crash: `Weird HVM ioreq state transition ${prev} -> ${state}` };
    if (state > STATE_IORESP_READY) return { crash: `Weird HVM iorequest state ${state}` };
    if (state === STATE_IORESP_READY) return "done";
    prev = state;
  }
  return "waiting";
}

/** Whether the vCPU's saved request takes `data` back. mirrors xen/ioreq.h:ioreq_needs_completion */
export function needsCompletion(req: IoreqFields): boolean {
  return req.data_is_ptr === 0 && (req.type !== IOREQ_TYPE_PIO || req.dir === IOREQ_READ);
}

const SIZE_CODE: Readonly<Record<number, number>> = { 1: 0, 2: 1, 4: 2, 8: 3 };

/**
 * Buffered send: one slot (two for size 8) in the ring, write_pointer advanced, pointers folded in
 * ATOMIC mode, bufioreq port notified. The vCPU does not wait.
 * mirrors common/ioreq.c:ioreq_send_buffered
 */
export function sendBuffered(s: IoreqServerLike, req: IoreqFields, env: SendEnv): SendOutcome {
  const page = s.bufioreqPage.page;
  if (page === null || s.bufioreqHandling === HVM_IOREQSRV_BUFIOREQ_OFF) {
    return { status: IOREQ_STATUS_UNHANDLED, reason: `server ${s.id} has no buffered ioreq page` };
  }
  if (req.addr > 0xfffffn || req.data_is_ptr !== 0 || req.count !== 1) {
    const reason = `buffered ioreq cannot carry addr 0x${req.addr.toString(16)} data_is_ptr ${req.data_is_ptr} count ${req.count}`;
    return env.bufferedUnsupportedIsUnhandled
      ? { status: IOREQ_STATUS_UNHANDLED, reason }
      : { status: IOREQ_STATUS_HANDLED, reason: `${reason}: dropped` };
  }
  const code = SIZE_CODE[req.size];
  if (code === undefined) return { status: IOREQ_STATUS_UNHANDLED, reason: `unexpected ioreq size: ${req.size}` };
  const qw = req.size === 8 ? 1 : 0;
  const view = viewOf(page);
  const rp = view.getUint32(RP, true);
  const wp = view.getUint32(WP, true);
  if (((wp - rp) >>> 0) >= IOREQ_BUFFER_SLOT_NUM - qw) {
    return { status: IOREQ_STATUS_UNHANDLED, reason: "buffered ioreq ring is full" };
  }
  const addr = Number(req.addr);
  const lo = Number(BigInt.asUintN(32, req.data));
  bufSlot.write(view, BUF_RING_OFFSET + (wp % IOREQ_BUFFER_SLOT_NUM) * BUF_SLOT_SIZE, req.type, req.dir, code, addr, lo);
  if (qw === 1) {
    const hi = Number((req.data >> 32n) & 0xffff_ffffn);
    bufSlot.write(view, BUF_RING_OFFSET + ((wp + 1) % IOREQ_BUFFER_SLOT_NUM) * BUF_SLOT_SIZE, req.type, req.dir, code, addr, hi);
  }
  view.setUint32(WP, (wp + 1 + qw) >>> 0, true);
  if (s.bufioreqHandling === HVM_IOREQSRV_BUFIOREQ_ATOMIC) foldPointers(view, qw);
  if (s.bufioreqEvtchn !== null) env.notify(s.bufioreqEvtchn);
  return { status: IOREQ_STATUS_HANDLED };
}

/**
 * Canonicalises both pointers while read_pointer >= 511 (the 64-bit cmpxchg of the pair is a plain
 * store here: nothing runs between the read and the write in a single-threaded fake).
 */
function foldPointers(view: DataView, qw: number): void {
  let tries = qw;
  while (tries++ < IOREQ_BUFFER_SLOT_NUM) {
    const rp = view.getUint32(RP, true);
    if (rp < IOREQ_BUFFER_SLOT_NUM) break;
    const n = Math.floor(rp / IOREQ_BUFFER_SLOT_NUM);
    const wp = view.getUint32(WP, true);
    view.setUint32(RP, (rp - n * IOREQ_BUFFER_SLOT_NUM) >>> 0, true);
    view.setUint32(WP, (wp - n * IOREQ_BUFFER_SLOT_NUM) >>> 0, true);
  }
}

/** The 32 bytes of vCPU `vcpu`'s slot in a sync page (a copy). */
export function syncSlotBytes(page: Uint8Array, vcpu: number): Uint8Array {
  return page.slice(vcpu * IOREQ_SIZE, (vcpu + 1) * IOREQ_SIZE);
}

/** The 8 bytes of ring slot `index` in a buffered page (a copy). */
export function bufSlotBytes(page: Uint8Array, index: number): Uint8Array {
  const off = BUF_RING_OFFSET + (index % IOREQ_BUFFER_SLOT_NUM) * BUF_SLOT_SIZE;
  return page.slice(off, off + BUF_SLOT_SIZE);
}

/** Decoded view of the sync slot of `vcpu`. */
export function readSyncSlot(page: Uint8Array, vcpu: number): IoreqFields {
  return ioreqRecord.read(viewOf(page), vcpu * IOREQ_SIZE);
}

export { ioreqRecord, bufSlot, viewOf as pageView };
