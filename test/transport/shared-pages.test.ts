// Pages in a shared file: what the fake writes through a page view is in the file, at the offset given.
import { readFileSync } from "node:fs";
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
  it("refuses a size that is not whole pages", () => {
    expect(() => new SharedPages({ bytes: 4097 })).toThrow(SharedPagesError);
  });
});
