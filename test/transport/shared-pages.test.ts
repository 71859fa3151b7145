// Pages in a shared file: what the fake writes through a page view is in the file, at the offset given.
import { existsSync, ftruncateSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SharedPages, SharedPagesError } from "../../src/transport/shared-pages.js";

describe("SharedPages", () => {
  it("hands out zeroed pages of one MAP_SHARED file; Atomics work on them; the file sees every byte", () => {
    const s = new SharedPages({ bytes: 3 * 4096 });
    try {
      const a = s.page(), b = s.page();
      expect(a.every((x) => x === 0)).toBe(true);
      b[5] = 7;
      Atomics.store(new Int32Array(a.buffer, a.byteOffset, 1024), 0, 99);
      const f = readFileSync(s.path);
      expect(f.length).toBe(3 * 4096);
      expect(f[4096 + 5]).toBe(7);
      expect(f.readInt32LE(0)).toBe(99);
      expect(s.offsetOf(a)).toBe(0);
      expect(s.offsetOf(b)).toBe(4096);
      expect(s.offsetOf(new Uint8Array(4096))).toBeUndefined();
      s.page();
      const heap = s.page(); // the file is full: a heap page, which no client can map
      expect(s.overflow).toBe(1);
      expect(s.offsetOf(heap)).toBeUndefined();
    } finally {
      s.close();
    }
  });
  it("lives in a sealed memfd by default: nothing in /dev/shm, no client can truncate it, gone with close()", () => {
    const before = existsSync("/dev/shm") ? readdirSync("/dev/shm").filter((f) => f.startsWith(`xendm-${process.pid}-`)).length : 0;
    const s = new SharedPages({ bytes: 2 * 4096 });
    expect(s.path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    if (existsSync("/dev/shm")) expect(readdirSync("/dev/shm").filter((f) => f.startsWith(`xendm-${process.pid}-`)).length).toBe(before);
    s.page()[0] = 1;
    const fd = openSync(s.path, "r+"); // as a client opens it
    try {
      expect(() => { ftruncateSync(fd, 4096); }).toThrow(/EPERM/);
      expect(() => { ftruncateSync(fd, 4 * 4096); }).toThrow(/EPERM/);
      expect(readFileSync(s.path)[0]).toBe(1);
    } finally {
      closeSync(fd);
    }
    const path = s.path;
    s.close();
    expect(existsSync(path)).toBe(false);
  });
  it("with `dir`, is a file there, unlinked by close()", () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-pages-"));
    try {
      const s = new SharedPages({ dir, bytes: 4096 });
      expect(s.path.startsWith(dir)).toBe(true);
      expect(readFileSync(s.path).length).toBe(4096);
      s.close();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("refuses a size that is not whole pages", () => {
    expect(() => new SharedPages({ bytes: 4097 })).toThrow(SharedPagesError);
  });
});
