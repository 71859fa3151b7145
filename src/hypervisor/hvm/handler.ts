// Xen's internal I/O handlers (struct hvm_io_handler): what a platform device claims and how it
// answers one element of an access.
// mirrors arch/x86/hvm/intercept.c: hvm_portio_accept, hvm_mmio_accept, hvm_portio_read

/** X86EMUL_OKAY: handled here; UNHANDLEABLE: passed on to ioreq server selection. */
export type IoRc = "okay" | "unhandleable";

export interface PortioRange {
  port: number;
  size: number;
}

export interface IoHandler {
  readonly name: string;
  readonly type: "pio" | "mmio";
  /**
   * pio: every byte of the access lies in one of `ranges` (hvm_portio_accept).
   * mmio: `check(addr)` of the first byte (hvm_mmio_accept).
   */
  readonly ranges: readonly PortioRange[];
  check?(addr: number, vcpu: number): boolean;
  /** One element. `value` is what a read returns (pio reads start from ~0, as hvm_portio_read). */
  read(addr: number, size: number, vcpu: number): { rc: IoRc; value: bigint };
  write(addr: number, size: number, value: bigint, vcpu: number): IoRc;
}

export const OKAY = "okay" as const;
export const UNHANDLEABLE = "unhandleable" as const;

/** Reads that come back all ones for `size` bytes. */
export function allOnes(size: number): bigint {
  return (1n << BigInt(size * 8)) - 1n;
}

/** A 32-bit port I/O result as hvm_portio_read widens it (uint32_t val = ~0u; *data = val). */
export function portioValue(v: number): bigint {
  return BigInt(v >>> 0);
}
