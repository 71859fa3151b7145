// The calling process's memory, as far as a raw hypercall's pointers need it.

/** Resolves user pointers to bytes. `view` returns a view (not a copy) or null when unmapped. */
export interface UserMemory {
  view(addr: bigint, len: number): Uint8Array | null;
}

/** A sparse address space made of mapped regions; writes through a view land in the region. */
export class RegionMemory implements UserMemory {
  readonly #regions: { addr: bigint; bytes: Uint8Array }[] = [];

  /** Maps `bytes` at `addr` (the bytes are shared, not copied). Returns `addr`. */
  map(addr: bigint, bytes: Uint8Array): bigint {
    if (addr < 0n || addr + BigInt(bytes.length) > 0xffff_ffff_ffff_ffffn + 1n) {
      throw new RangeError(`RegionMemory.map: addr 0x${addr.toString(16)} is out of the 64-bit space`);
    }
    this.#regions.push({ addr, bytes });
    return addr;
  }

  view(addr: bigint, len: number): Uint8Array | null {
    if (len < 0) return null;
    for (const r of this.#regions) {
      const end = r.addr + BigInt(r.bytes.length);
      if (addr >= r.addr && addr + BigInt(len) <= end) {
        const off = Number(addr - r.addr);
        return r.bytes.subarray(off, off + len);
      }
    }
    return null;
  }
}
