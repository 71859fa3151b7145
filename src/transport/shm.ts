// A file mapped MAP_SHARED into this process through koffi (mmap/munmap from the process's libc),
// seen as an ArrayBuffer: what the fast path (fastpath.ts) and the shared pages (shared-pages.ts) share
// with a client process.
import { createRequire } from "node:module";
import {
  F_ADD_SEALS, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, MAP_FAILED_ADDR, MAP_NORESERVE, MAP_SHARED, MFD_ALLOW_SEALING, MFD_CLOEXEC, PROT_READ, PROT_WRITE,
} from "../../abi/linux/mman.js";
import { closeSync, ftruncateSync } from "node:fs";

type KoffiFn = (...args: unknown[]) => unknown;
interface Koffi {
  load(path: string | null): { func(decl: string): KoffiFn };
  address(v: unknown): bigint;
  view(ptr: unknown, len: number): ArrayBuffer;
  errno(): number;
}

interface Mman {
  koffi: Koffi;
  mmap: KoffiFn;
  munmap: KoffiFn;
  memfd_create: KoffiFn;
  fcntl: KoffiFn;
}

let mman: Mman | undefined;
function load(): Mman {
  if (mman !== undefined) return mman;
  const koffi = createRequire(import.meta.url)("koffi") as Koffi;
  const self = koffi.load(null);
  mman = {
    koffi,
    mmap: self.func("void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)"),
    munmap: self.func("int munmap(void *addr, size_t len)"),
    memfd_create: self.func("int memfd_create(const char *name, unsigned int flags)"),
    fcntl: self.func("int fcntl(int fd, int cmd, ...)"),
  };
  return mman;
}

export class ShmMapError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
    this.name = "ShmMapError";
  }
}

/** One shared mapping. `buffer` must not be touched after `unmap()` (the memory is gone). */
export class SharedMapping {
  #ptr: unknown;
  #mapped = true;

  private constructor(ptr: unknown, readonly buffer: ArrayBuffer, readonly length: number) {
    this.#ptr = ptr;
  }

  /**
   * Maps `length` bytes of the open file `fd` from `offset` (default 0) read-write, shared with every
   * other mapper; `noReserve`: MAP_NORESERVE (address space only, for a large sparse file).
   */
  static map(fd: number, length: number, opts: { offset?: number; noReserve?: boolean } = {}): SharedMapping {
    const m = load();
    const ptr = m.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED | (opts.noReserve === true ? MAP_NORESERVE : 0), fd, opts.offset ?? 0);
    const addr = m.koffi.address(ptr);
    if (addr === MAP_FAILED_ADDR || addr === 0n) {
      const errno = m.koffi.errno();
      throw new ShmMapError(errno, `mmap of ${length} bytes of fd ${fd}: errno ${errno}`);
    }
    return new SharedMapping(ptr, m.koffi.view(ptr, length), length);
  }

  get mapped(): boolean {
    return this.#mapped;
  }

  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    load().munmap(this.#ptr, this.length);
    this.#ptr = null;
  }
}

/**
 * An anonymous shared-memory file of exactly `length` bytes (memfd_create), sealed against shrinking
 * and growing: a process that opens it (through /proc/<pid>/fd/<fd>) cannot truncate it under the
 * mappings (which would make their next access a SIGBUS). Returns the fd; the caller closes it.
 */
export function sealedMemfd(name: string, length: number): number {
  const m = load();
  const fd = m.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
  if (fd < 0) throw new ShmMapError(m.koffi.errno(), `memfd_create: errno ${m.koffi.errno()}`);
  try {
    ftruncateSync(fd, length);
    if ((m.fcntl(fd, F_ADD_SEALS, "int", F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) as number) < 0) {
      throw new ShmMapError(m.koffi.errno(), `fcntl(F_ADD_SEALS) of a memfd: errno ${m.koffi.errno()}`);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}
