// Pages in a shared file, for serving out of process: one sparse file per server (a sealed memfd, or a
// file in a directory the caller names), mapped MAP_SHARED into this process (shm.ts); every page the
// fake allocates (guest RAM on first touch, ioreq server pages) is a 4 KiB view into that mapping, so a device model that maps the same file
// offset (the LD_PRELOAD shim does, for MMAP_RESOURCE and MMAPBATCH) shares the bytes: one copy.
import { closeSync, ftruncateSync, openSync, unlinkSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PAGE_SIZE, type PageSource } from "../hypervisor/guest-memory.js";
import { SharedMapping, ShmMapError, sealedMemfd } from "./shm.js";

/** `bytes` of `fd` from `offset`, mapped shared; a failed mmap is a SharedPagesError naming `what`. */
function mapFile(fd: number, bytes: number, offset: number, noReserve: boolean, what: string): ArrayBuffer {
  try {
    return SharedMapping.map(fd, bytes, { offset, noReserve }).buffer;
  } catch (e) {
    if (e instanceof ShmMapError) throw new SharedPagesError(`mmap of ${what}: errno ${e.errno}`);
    throw e;
  }
}

/** Default size of a server's shared file: address space only, pages cost memory when first used. */
export const DEFAULT_SHARED_BYTES = 1 << 30;

export class SharedPagesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SharedPagesError";
  }
}

export class SharedPages implements PageSource {
  /** Where clients open the file: /proc/<pid>/fd/<fd> of the memfd, or the file in `dir`. */
  readonly path: string;
  readonly size: number;
  readonly #buffer: ArrayBuffer;
  /** The memfd, held open for the server's life (the file goes with it, even when the server is killed). */
  #memfd: number | undefined;
  #next = 0;
  #closed = false;
  /** Pages handed out from the heap because the file was full (they cannot be mapped by clients). */
  overflow = 0;

  constructor(opts: { dir?: string; bytes?: number } = {}) {
    const bytes = opts.bytes ?? DEFAULT_SHARED_BYTES;
    if (!Number.isInteger(bytes) || bytes < PAGE_SIZE || bytes % PAGE_SIZE !== 0 || bytes > 2 ** 40) {
      throw new SharedPagesError(`shared memory size ${bytes}: a multiple of ${PAGE_SIZE} between one page and 1 TiB`);
    }
    this.size = bytes;
    // By default a memfd sealed against shrinking and growing: nothing is left behind when the server
    // dies, and a client cannot truncate the file under the server's mapping (a SIGBUS on next touch).
    const inDir = opts.dir !== undefined;
    const fd = inDir ? undefined : sealedMemfd("xendm-pages", bytes);
    this.path = fd !== undefined ? `/proc/${process.pid}/fd/${fd}` : join(opts.dir!, `xendm-${process.pid}-${randomBytes(6).toString("hex")}`);
    const open = fd ?? openSync(this.path, "wx+", 0o600);
    try {
      if (inDir) ftruncateSync(open, bytes);
      this.#buffer = mapFile(open, bytes, 0, true, this.path);
    } catch (e) {
      if (inDir) { try { unlinkSync(this.path); } catch { /* gone */ } }
      closeSync(open);
      throw e;
    }
    if (inDir) closeSync(open);
    else this.#memfd = fd;
  }

  /** Pages handed out so far. */
  get used(): number {
    return this.#next / PAGE_SIZE;
  }

  /** A zeroed page of the file; past its end, a heap page (counted in `overflow`, never mapped by clients). */
  page(): Uint8Array {
    if (this.#next + PAGE_SIZE > this.size) {
      this.overflow++;
      return new Uint8Array(PAGE_SIZE);
    }
    const p = new Uint8Array(this.#buffer, this.#next, PAGE_SIZE);
    this.#next += PAGE_SIZE;
    return p;
  }

  /** The file offset of a page this source gave out, or undefined for any other page. */
  offsetOf(page: Uint8Array): number | undefined {
    if (page.buffer !== this.#buffer || page.byteLength !== PAGE_SIZE) return undefined;
    return page.byteOffset;
  }

  /**
   * Removes the file (clients that opened it keep their mappings): closes the memfd, or unlinks the
   * file in `dir`. The mapping stays in this process: the fake may still hold views of its pages.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#memfd !== undefined) {
      closeSync(this.#memfd);
      this.#memfd = undefined;
      return;
    }
    try { unlinkSync(this.path); } catch { /* gone */ }
  }
}

/**
 * Maps `bytes` of the file open as `fd` at `offset` (MAP_SHARED, read-write) into this process, as a
 * client of a server's shared file does; the view stays valid for the life of the process.
 */
export function mapShared(fd: number, offset: number, bytes: number): Uint8Array {
  return new Uint8Array(mapFile(fd, bytes, offset, false, `${bytes} bytes at offset ${offset}`));
}
