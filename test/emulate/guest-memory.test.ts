import { describe, expect, it } from "vitest";
import { GuestMemory, GuestMemoryError, bytesUint, uintBytes } from "../../src/hypervisor/guest-memory.js";

describe("GuestMemory", () => {
  it("reads zeros from untouched RAM without allocating", () => {
    const m = new GuestMemory();
    expect([...m.read(0xffff_f000n * 0x1000n, 16)]).toEqual(new Array(16).fill(0));
    expect(m.readUint(0x1234, 8)).toBe(0n);
    expect(m.touchedPages).toBe(0);
  });

  it("allocates one page per touched 4 KiB page, across boundaries", () => {
    const m = new GuestMemory();
    m.write(0x1ffe, new Uint8Array([1, 2, 3, 4]));
    expect(m.touchedPages).toBe(2);
    expect([...m.read(0x1ffc, 8)]).toEqual([0, 0, 1, 2, 3, 4, 0, 0]);
    m.writeUint(0x3000_0000_0000n, 8, 0x1122334455667788n);
    expect(m.readUint(0x3000_0000_0000n, 8)).toBe(0x1122334455667788n);
    expect(m.touchedPages).toBe(3);
  });

  it("moves and discards pages", () => {
    const m = new GuestMemory();
    m.writeUint(0x5000, 4, 0xabcdn);
    m.move(5, 9);
    expect(m.readUint(0x9000, 4)).toBe(0xabcdn);
    expect(m.readUint(0x5000, 4)).toBe(0n);
    m.discard(9);
    expect(m.touchedPages).toBe(0);
  });

  it("refuses addresses outside 0 .. 2^52-1 and bad lengths, naming the field", () => {
    const m = new GuestMemory();
    expect(() => m.read(-1, 1)).toThrow(GuestMemoryError);
    expect(() => m.read(2n ** 52n, 1)).toThrow(/gpa/);
    expect(() => m.read(0, -1)).toThrow(/len/);
    expect(() => {
      m.write(2 ** 52 - 2, new Uint8Array(4));
    }).toThrow(/len/);
  });

  it("converts little-endian values", () => {
    expect([...uintBytes(0x0102n, 4)]).toEqual([2, 1, 0, 0]);
    expect(bytesUint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(0xffffffffffffffffn);
    expect([...uintBytes(-1n, 2)]).toEqual([255, 255]);
  });
});
