// <sys/mman.h> constants (Linux, identical on x86_64, i386, arm64 and arm32).
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_NORESERVE = 0x4000;
/** mmap's failure return, (void *)-1, as an address. */
export const MAP_FAILED_ADDR = 0xffff_ffff_ffff_ffffn;
/** memfd_create(2) flags and the file seals of fcntl(2) (<linux/memfd.h>, <linux/fcntl.h>). */
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
