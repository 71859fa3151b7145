// Byte access to ioreq_t (32 bytes) and buf_ioreq_t (8 bytes) records in the ioreq pages.
// The hot paths (sync send, the state nibble, the data field) use precomputed offsets and shifts,
// all taken from the ABI declarations; whole-record decoding for display goes through src/codec.

import { resolve, type AggregateLayout, type FieldLayout } from "../../abi/ctypes.js";
import { ioreq, buf_ioreq, buffered_iopage } from "../../abi/xen/ioreq.js";

export {
  IOREQ_BUFFER_SLOT_NUM,
  IOREQ_TYPE_PIO,
  IOREQ_TYPE_COPY,
  IOREQ_TYPE_PCI_CONFIG,
  IOREQ_TYPE_TIMEOFFSET,
  IOREQ_TYPE_INVALIDATE,
  IOREQ_READ,
  IOREQ_WRITE,
  STATE_IOREQ_NONE,
  STATE_IOREQ_READY,
  STATE_IOREQ_INPROCESS,
  STATE_IORESP_READY,
} from "../../abi/xen/ioreq.js";
export { HVM_IOREQSRV_BUFIOREQ_OFF, HVM_IOREQSRV_BUFIOREQ_LEGACY, HVM_IOREQSRV_BUFIOREQ_ATOMIC } from "../../abi/xen/hvm_op.js";

// Offsets and bit positions come from the ABI declarations (abi/xen/ioreq.ts), laid out for x86_64.
// ioreq_t and buf_ioreq_t have the same layout on every ABI Xen supports.
const IOREQ_L = resolve(ioreq, "x86_64");
const BUF_L = resolve(buf_ioreq, "x86_64");
const PAGE_L = resolve(buffered_iopage, "x86_64");

function field(l: AggregateLayout, name: string): FieldLayout {
  const f = l.fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`${l.name} has no field ${name}`);
  return f;
}
/** Bit position of a bitfield inside the byte at `byte`. */
function bitIn(l: AggregateLayout, name: string, byte: number): number {
  const f = field(l, name);
  return (f.bitOffset ?? f.offset * 8) - byte * 8;
}

export const IOREQ_SIZE = IOREQ_L.size;
export const BUF_SLOT_SIZE = BUF_L.size;
export const BUF_RING_OFFSET = field(PAGE_L, "buf_ioreq").offset;
export const READ_POINTER_OFFSET = field(PAGE_L, "read_pointer").offset;
export const WRITE_POINTER_OFFSET = field(PAGE_L, "write_pointer").offset;
/** Offsets of ioreq_t's two 64-bit fields. */
export const IOREQ_ADDR_OFFSET = field(IOREQ_L, "addr").offset;
export const IOREQ_DATA_OFFSET = field(IOREQ_L, "data").offset;

const O_ADDR = field(IOREQ_L, "addr").offset;
const O_DATA = field(IOREQ_L, "data").offset;
const O_COUNT = field(IOREQ_L, "count").offset;
const O_SIZE = field(IOREQ_L, "size").offset;
const O_EPORT = field(IOREQ_L, "vp_eport").offset;
const O_PAD0 = field(IOREQ_L, "_pad0").offset;
const O_BITS = field(IOREQ_L, "state").offset;
const O_TYPE = field(IOREQ_L, "type").offset;
const SH_STATE = bitIn(IOREQ_L, "state", O_BITS);
const SH_PTR = bitIn(IOREQ_L, "data_is_ptr", O_BITS);
const SH_DIR = bitIn(IOREQ_L, "dir", O_BITS);
const SH_DF = bitIn(IOREQ_L, "df", O_BITS);
const SH_PAD1 = bitIn(IOREQ_L, "_pad1", O_BITS);
const STATE_MASK = ((1 << field(IOREQ_L, "state").bitWidth!) - 1) << SH_STATE;

// buf_ioreq_t: every field but `data` lives in the first little-endian u32.
const B_DATA = field(BUF_L, "data").offset;
const B_TYPE = bitIn(BUF_L, "type", 0);
const B_PAD = bitIn(BUF_L, "pad", 0);
const B_DIR = bitIn(BUF_L, "dir", 0);
const B_SIZE = bitIn(BUF_L, "size", 0);
const B_ADDR = bitIn(BUF_L, "addr", 0);
const B_ADDR_MASK = (1 << field(BUF_L, "addr").bitWidth!) - 1;

/** ioreq_t as C fields (64-bit fields as bigint). */
export interface IoreqFields {
  addr: bigint;
  data: bigint;
  count: number;
  size: number;
  vp_eport: number;
  state: number;
  data_is_ptr: number;
  dir: number;
  df: number;
  type: number;
}

/** buf_ioreq_t as C fields (`size` is the 2-bit code: 0 → 1 byte ... 3 → 8 bytes). */
export interface BufIoreqFields {
  type: number;
  pad: number;
  dir: number;
  size: number;
  addr: number;
  data: number;
}

export const ioreqRecord = {
  state(view: DataView, off: number): number {
    return (view.getUint8(off + O_BITS) & STATE_MASK) >> SH_STATE;
  },
  setState(view: DataView, off: number, state: number): void {
    const b = view.getUint8(off + O_BITS);
    view.setUint8(off + O_BITS, (b & ~STATE_MASK) | ((state << SH_STATE) & STATE_MASK));
  },
  vpEport(view: DataView, off: number): number {
    return view.getUint32(off + O_EPORT, true);
  },
  addr(view: DataView, off: number): bigint {
    return view.getBigUint64(off + O_ADDR, true);
  },
  count(view: DataView, off: number): number {
    return view.getUint32(off + O_COUNT, true);
  },
  size(view: DataView, off: number): number {
    return view.getUint32(off + O_SIZE, true);
  },
  type(view: DataView, off: number): number {
    return view.getUint8(off + O_TYPE);
  },
  dir(view: DataView, off: number): number {
    return (view.getUint8(off + O_BITS) >> SH_DIR) & 1;
  },
  df(view: DataView, off: number): number {
    return (view.getUint8(off + O_BITS) >> SH_DF) & 1;
  },
  dataIsPtr(view: DataView, off: number): number {
    return (view.getUint8(off + O_BITS) >> SH_PTR) & 1;
  },
  data(view: DataView, off: number): bigint {
    return view.getBigUint64(off + O_DATA, true);
  },
  /** setBigUint64 takes the value modulo 2^64, as a C store of a u64 would. */
  setData(view: DataView, off: number, data: bigint): void {
    view.setBigUint64(off + O_DATA, data, true);
  },
  /** The data field from a JS number in 0..2^32-1 (no BigInt on the fast path). */
  setDataU32(view: DataView, off: number, data: number): void {
    view.setUint32(off + O_DATA, data, true);
    view.setUint32(off + O_DATA + 4, 0, true);
  },
  write(view: DataView, off: number, r: IoreqFields): void {
    view.setBigUint64(off + O_ADDR, r.addr, true);
    view.setBigUint64(off + O_DATA, r.data, true);
    view.setUint32(off + O_COUNT, r.count >>> 0, true);
    view.setUint32(off + O_SIZE, r.size >>> 0, true);
    view.setUint32(off + O_EPORT, r.vp_eport >>> 0, true);
    view.setUint16(off + O_PAD0, 0, true);
    view.setUint8(
      off + O_BITS,
      ((r.state << SH_STATE) & STATE_MASK) | ((r.data_is_ptr & 1) << SH_PTR) | ((r.dir & 1) << SH_DIR) | ((r.df & 1) << SH_DF),
    );
    view.setUint8(off + O_TYPE, r.type & 0xff);
  },
  read(view: DataView, off: number): IoreqFields {
    const bits = view.getUint8(off + O_BITS);
    return {
      addr: view.getBigUint64(off + O_ADDR, true),
      data: view.getBigUint64(off + O_DATA, true),
      count: view.getUint32(off + O_COUNT, true),
      size: view.getUint32(off + O_SIZE, true),
      vp_eport: view.getUint32(off + O_EPORT, true),
      state: (bits & STATE_MASK) >> SH_STATE,
      data_is_ptr: (bits >> SH_PTR) & 1,
      dir: (bits >> SH_DIR) & 1,
      df: (bits >> SH_DF) & 1,
      type: view.getUint8(off + O_TYPE),
    };
  },
  /** The _pad0 and _pad1 bits, which a well-behaved emulator leaves zero. */
  pads(view: DataView, off: number): { _pad0: number; _pad1: number } {
    return { _pad0: view.getUint16(off + O_PAD0, true), _pad1: (view.getUint8(off + O_BITS) >> SH_PAD1) & 1 };
  },
};

export const bufSlot = {
  write(view: DataView, off: number, type: number, dir: number, sizeCode: number, addr: number, data: number): void {
    view.setUint32(
      off,
      (((type & 0xff) << B_TYPE) | ((dir & 1) << B_DIR) | ((sizeCode & 3) << B_SIZE) | ((addr & B_ADDR_MASK) << B_ADDR)) >>> 0,
      true,
    );
    view.setUint32(off + B_DATA, data >>> 0, true);
  },
  read(view: DataView, off: number): BufIoreqFields {
    const w = view.getUint32(off, true);
    return {
      type: (w >>> B_TYPE) & 0xff,
      pad: (w >>> B_PAD) & 1,
      dir: (w >>> B_DIR) & 1,
      size: (w >>> B_SIZE) & 3,
      addr: (w >>> B_ADDR) & B_ADDR_MASK,
      data: view.getUint32(off + B_DATA, true),
    };
  },
};
