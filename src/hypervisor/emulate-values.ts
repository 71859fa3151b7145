// Values of guest accesses: checked conversions of ports, addresses and data, the record a vCPU
// fills, and the cutting of an MMIO access into hvmemul_do_io chunks.
import { PAGE_SIZE, bytesUint, uintBytes } from "./guest-memory.js";
import { IOREQ_WRITE, STATE_IOREQ_READY } from "./ioreq-record.js";
import type { IoreqFields } from "./ioreq-send.js";
import { GuestAccessError, type Chunk, type IntIn } from "./emulate-types.js";

export const ALL_ONES = 0xffff_ffff_ffff_ffffn;
export const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const MMIO_CACHE_BYTES = 64; // struct hvm_mmio_cache.buffer
export const VGA_MEM_BASE = 0xa0000n;
export const VGA_MEM_END = 0xbffffn;

/**
 * BigInts of port numbers, made once (routing compares them with rangeset bounds on every access).
 * The array is dense from the start: an array grown by scattered stores turns into a dictionary.
 */
const PORT_BIG: (bigint | undefined)[] = new Array<bigint | undefined>(0x10008).fill(undefined);

export function portBig(v: IntIn): bigint {
  const n = typeof v === "number" ? v : v >= 0n && v <= 0xffffn ? Number(v) : -1;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new GuestAccessError("port", `port ${String(v)} is outside 0..0xffff`);
  return smallBig(n);
}

/** BigInt(n) for 0 <= n < 0x10008 (a port, or a port's last byte), cached. */
export function smallBig(n: number): bigint {
  let b = PORT_BIG[n];
  if (b === undefined) {
    b = BigInt(n);
    PORT_BIG[n] = b;
  }
  return b;
}

export function toBig(v: IntIn | undefined, field: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "bigint") return v;
  if (!Number.isSafeInteger(v)) throw new GuestAccessError(field, `${field} ${v} is not an integer`);
  return BigInt(v);
}


// the last address converted (a driver polls the same register: no new BigInt per access)
let lastAddrNum = 0;
let lastAddrBig = 0n;

/** toBig for an access's address, remembering the last conversion. */
export function addrBig(v: IntIn): bigint {
  if (typeof v === "number" && v === lastAddrNum) return lastAddrBig;
  const b = toBig(v, "addr");
  if (typeof v === "number") {
    lastAddrNum = v;
    lastAddrBig = b;
  }
  return b;
}

export const isPow2Le8 = (n: number): boolean => n === 1 || n === 2 || n === 4 || n === 8;

export function record(type: number, addr: bigint, data: bigint, count: number, size: number, dir: number, df: number, ptr: number): IoreqFields {
  return { addr, data, count, size, vp_eport: 0, state: STATE_IOREQ_READY, data_is_ptr: ptr, dir, df, type };
}

/** record() into an existing object (the vCPU's own ioreq, as Xen fills v->io.req). */
export function fill(r: IoreqFields, type: number, addr: bigint, data: bigint, count: number, size: number, dir: number, df: number, ptr: number): IoreqFields {
  r.addr = addr;
  r.data = data;
  r.count = count;
  r.size = size;
  r.vp_eport = 0;
  r.state = STATE_IOREQ_READY;
  r.data_is_ptr = ptr;
  r.dir = dir;
  r.df = df;
  r.type = type;
  return r;
}

export const TWO_53 = 1n << 53n;

/** The offset in its page of an address given as a number or a bigint (`big` is its checked value). */
export function pageOffset(v: IntIn, big: bigint): number {
  return typeof v === "number" ? v % PAGE_SIZE : Number(big & 0xfffn);
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** MASKS[n]: the largest value of n bytes (n = 1..7). */
const MASKS: readonly bigint[] = [0n, 0xffn, 0xffffn, 0xff_ffffn, 0xffff_ffffn, 0xff_ffff_ffffn, 0xffff_ffff_ffffn, 0xff_ffff_ffff_ffffn];

/** The low `size` bytes of a write's value, as a bigint (small values come from a cache). */
export function lowBytes(v: IntIn | undefined, size: number): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && size <= 4) {
    const m = 2 ** (size * 8);
    let n = v % m;
    if (n < 0) n += m;
    return n <= 0xffff ? smallBig(n) : BigInt(n);
  }
  if (typeof v === "bigint" && v >= 0n && v <= (size === 8 ? U64_MAX : MASKS[size]!)) return v;
  return BigInt.asUintN(size << 3, toBig(v, "data"));
}

/** String instructions do at most 4096 repetitions per emulation. mirrors emulate.c:hvmemul_linear_to_phys */
export const MAX_REPS = 4096;
export const clipReps = (count: number): number => (count > MAX_REPS ? MAX_REPS : count);

/** A one-bit field given as a boolean or 0/1 (absent: 0). */
export function bit(v: boolean | number | undefined, field: string): number {
  if (v === undefined || v === false || v === 0) return 0;
  if (v === true || v === 1) return 1;
  throw new GuestAccessError(field, `${field} is a one-bit field: expected 0, 1, true or false, got ${String(v)}`);
}

export function checkCount(count: number | undefined): number {
  if (count === undefined) return 1;
  if (!Number.isInteger(count) || count < 1 || count > 0xffff_ffff) {
    throw new GuestAccessError("count", `count ${count} is outside 1..2^32-1`);
  }
  return count;
}

export function writeBytes(data: IntIn | Uint8Array | undefined, size: number): Uint8Array {
  if (data instanceof Uint8Array) {
    if (data.length !== size) throw new GuestAccessError("data", `data has ${data.length} bytes, size is ${size}`);
    return data.slice();
  }
  return uintBytes(toBig(data, "data"), size);
}

/**
 * A single MMIO access cut at the page boundary, then each piece into power-of-two chunks of at most
 * 8 bytes, largest first. mirrors emulate.c:hvmemul_linear_mmio_access + hvmemul_phys_mmio_access
 */
export function splitMmio(addr: bigint, size: number, dir: number, bytes: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  let gpa = addr;
  let offset = 0;
  let left = size;
  while (left > 0) {
    const pageOff = Number(gpa & 0xfffn);
    let piece = Math.min(left, PAGE_SIZE - pageOff);
    left -= piece;
    let chunk = 1 << (31 - Math.clz32(piece));
    if (chunk > 8) chunk = 8;
    while (piece > 0) {
      while (chunk > piece) chunk >>= 1;
      const data = dir === IOREQ_WRITE ? bytesUint(bytes.subarray(offset, offset + chunk)) : 0n;
      out.push({ isMmio: true, addr: gpa, size: chunk, count: 1, dir, df: 0, dataIsPtr: 0, data, offset });
      gpa = U64(gpa + BigInt(chunk));
      offset += chunk;
      piece -= chunk;
    }
  }
  return out;
}

