// <sys/mman.h> constants (Linux, identical on x86_64, i386, arm64 and arm32).
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
/** mmap's failure return, (void *)-1, as an address. */
export const MAP_FAILED_ADDR = 0xffff_ffff_ffff_ffffn;
