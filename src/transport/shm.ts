// A file mapped MAP_SHARED into this process through koffi (mmap/munmap from the process's libc),
// seen as an ArrayBuffer: what the fast path (fastpath.ts) shares with a client process.
import { createRequire } from "node:module";
import { MAP_FAILED_ADDR, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../abi/linux/mman.js";

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

  /** Maps `length` bytes of the open file `fd` read-write, shared with every other mapper. */
  static map(fd: number, length: number): SharedMapping {
    const m = load();
    const ptr = m.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
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

