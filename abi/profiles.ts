// Per-ABI facts the C compiler decides: sizes and alignments of the scalar types the Xen headers use.
// Checked against the C probe output in fixtures/layouts/<arch>.json.

export type Arch = "x86_64" | "i386" | "arm64" | "arm32";

export const ARCHES: readonly Arch[] = ["x86_64", "i386", "arm64", "arm32"];

export interface Profile {
  readonly arch: Arch;
  /** sizeof(void *), sizeof(size_t), sizeof(unsigned long) */
  readonly pointerSize: 4 | 8;
  /** sizeof(xen_ulong_t): unsigned long on x86, uint64_t on Arm */
  readonly xenUlongSize: 4 | 8;
  /** alignment of a plain uint64_t / __u64 member (4 on i386) */
  readonly u64Align: 4 | 8;
  /** XEN_GUEST_HANDLE(void): x86 struct { void *p; }, Arm union { void *p; uint64_t q; } aligned 8 */
  readonly guestHandle: "struct" | "union64";
}

export const PROFILES: Readonly<Record<Arch, Profile>> = {
  x86_64: { arch: "x86_64", pointerSize: 8, xenUlongSize: 8, u64Align: 8, guestHandle: "struct" },
  i386: { arch: "i386", pointerSize: 4, xenUlongSize: 4, u64Align: 4, guestHandle: "struct" },
  arm64: { arch: "arm64", pointerSize: 8, xenUlongSize: 8, u64Align: 8, guestHandle: "union64" },
  arm32: { arch: "arm32", pointerSize: 4, xenUlongSize: 8, u64Align: 8, guestHandle: "union64" },
};

export function isArch(s: string): s is Arch {
  return (ARCHES as readonly string[]).includes(s);
}
