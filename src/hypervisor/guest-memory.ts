// Sparse guest-physical RAM: real bytes, one 4 KiB page allocated on the first write to it.
// Reads of pages never written return zeros and allocate nothing, so a guest with a 64 GiB
// physmap costs only the pages it touches.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_SIZE - 1;

/** Largest guest-physical address this model accepts (2^52 - 1: x86 MAXPHYADDR, and exact in a double). */
export const MAX_GPA = 2 ** 52 - 1;

export class GuestMemoryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "GuestMemoryError";
  }
}

function toGpa(gpa: number | bigint, field: string): number {
  const n = typeof gpa === "bigint" ? Number(gpa) : gpa;
  if (!Number.isInteger(n) || n < 0 || n > MAX_GPA || (typeof gpa === "bigint" && BigInt(n) !== gpa)) {
    throw new GuestMemoryError(field, `${field} ${String(gpa)} is not a guest-physical address (0 .. 2^52-1)`);
  }
  return n;
}

/** Where a domain's pages come from: the heap in process, a shared file when served out of process. */
export interface PageSource {
  /** A zeroed 4 KiB page. */
  page(): Uint8Array;
}

/** Pages on the JavaScript heap (the default). */
export const HEAP_PAGES: PageSource = { page: () => new Uint8Array(PAGE_SIZE) };

export class GuestMemory {
  private readonly pages = new Map<number, Uint8Array>();

  /** `source()` is asked for each new page (a function: the host may switch sources before pages exist). */
  constructor(private readonly source: () => PageSource = () => HEAP_PAGES) {}

  /** A new zeroed page from the domain's page source (RAM, or an ioreq server's page). */
  newPage(): Uint8Array {
    return this.source().page();
  }

  /** Number of pages that hold real bytes. */
  get touchedPages(): number {
    return this.pages.size;
  }

  /** The page's bytes if it was ever written (a live view), else undefined. */
  peekPage(gfn: number): Uint8Array | undefined {
    return this.pages.get(gfn);
  }

  /**
   * The live bytes of the page at `gfn`, allocated (zeroed) if never written: Xen maps the guest's
   * own page this way for a helper ring (prepare_ring_for_helper), e.g. an ioreq page at a gfn.
   */
  pageFor(gfn: number): Uint8Array {
    if (!Number.isInteger(gfn) || gfn < 0 || gfn > Math.floor(MAX_GPA / PAGE_SIZE)) {
      throw new GuestMemoryError("gfn", `gfn ${String(gfn)} is not a guest frame (0 .. 2^40-1)`);
    }
    return this.page(gfn);
  }

  private page(gfn: number): Uint8Array {
    let p = this.pages.get(gfn);
    if (p === undefined) {
      p = this.source().page();
      this.pages.set(gfn, p);
    }
    return p;
  }

  /** Copies `len` bytes from guest-physical `gpa` (page crossings allowed). */
  read(gpa: number | bigint, len: number): Uint8Array {
    const a = toGpa(gpa, "gpa");
    if (!Number.isInteger(len) || len < 0 || a + len - 1 > MAX_GPA) {
      throw new GuestMemoryError("len", `len ${len} is not a valid length at gpa 0x${a.toString(16)}`);
    }
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const cur = a + done;
      const off = cur & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - off, len - done);
      const p = this.pages.get(Math.floor(cur / PAGE_SIZE));
      if (p !== undefined) out.set(p.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** Copies `bytes` into guest-physical memory at `gpa`. */
  write(gpa: number | bigint, bytes: Uint8Array): void {
    const a = toGpa(gpa, "gpa");
    if (a + bytes.length - 1 > MAX_GPA) {
      throw new GuestMemoryError("len", `write of ${bytes.length} bytes at 0x${a.toString(16)} passes 2^52`);
    }
    let done = 0;
    while (done < bytes.length) {
      const cur = a + done;
      const off = cur & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - off, bytes.length - done);
      this.page(Math.floor(cur / PAGE_SIZE)).set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Little-endian unsigned value of `size` (1..8) bytes at `gpa`. */
  readUint(gpa: number | bigint, size: number): bigint {
    const b = this.read(gpa, size);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** Stores the low `size` bytes of `value`, little-endian. */
  writeUint(gpa: number | bigint, size: number, value: bigint): void {
    this.write(gpa, uintBytes(value, size));
  }

  /** Forgets a page (its contents read as zeros again), as when RAM is removed from the physmap. */
  discard(gfn: number): void {
    this.pages.delete(gfn);
  }

  /** Moves a page's contents from one gfn to another (relocate_memory). */
  move(srcGfn: number, dstGfn: number): void {
    const p = this.pages.get(srcGfn);
    this.pages.delete(srcGfn);
    if (p === undefined) this.pages.delete(dstGfn);
    else this.pages.set(dstGfn, p);
  }
}

/** Little-endian bytes of the low `size` bytes of `value`. */
export function uintBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The unsigned value of little-endian `bytes`. */
export function bytesUint(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}
