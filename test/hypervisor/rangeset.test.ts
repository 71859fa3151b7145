import { describe, expect, it } from "vitest";
import { RangeSet } from "../../src/hypervisor/rangeset.js";

const arr = (r: RangeSet): string[] => r.toArray().map(([a, b]) => `${a}-${b}`);

describe("RangeSet (rangeset.c semantics)", () => {
  it("merges overlapping and adjacent ranges", () => {
    const r = new RangeSet();
    expect(r.add(0x100n, 0x10fn)).toBe(0);
    expect(r.add(0x110n, 0x11fn)).toBe(0);
    expect(arr(r)).toEqual([`256-287`]);
    expect(r.add(0x50n, 0x60n)).toBe(0);
    expect(r.add(0x61n, 0xffn)).toBe(0);
    expect(arr(r)).toEqual([`80-287`]);
  });
  it("contains needs one node; overlaps finds any", () => {
    const r = new RangeSet();
    r.add(10n, 20n);
    r.add(30n, 40n);
    expect(r.contains(12n, 18n)).toBe(true);
    expect(r.contains(15n, 35n)).toBe(false);
    expect(r.overlaps(19n, 29n)).toBe(true);
    expect(r.overlaps(21n, 29n)).toBe(false);
    expect(r.overlaps(0n, 100n)).toBe(true);
  });
  it("splits on remove and refuses a split beyond the limit", () => {
    const r = new RangeSet(2);
    r.add(0n, 100n);
    expect(r.remove(10n, 20n)).toBe(0);
    expect(arr(r)).toEqual(["0-9", "21-100"]);
    expect(r.remove(50n, 60n)).toBe(-12);
    expect(r.remove(21n, 30n)).toBe(0);
    expect(r.remove(90n, 100n)).toBe(0);
    expect(arr(r)).toEqual(["0-9", "31-89"]);
  });
  it("at the limit, a range adjacent only on its right still needs a node (Xen quirk)", () => {
    const r = new RangeSet(1);
    r.add(10n, 20n);
    expect(r.add(5n, 9n)).toBe(-12);
    expect(r.add(21n, 25n)).toBe(0);
    expect(arr(r)).toEqual(["10-25"]);
  });
  it("handles the full 64-bit space", () => {
    const r = new RangeSet();
    const max = 0xffffffffffffffffn;
    expect(r.add(max - 1n, max)).toBe(0);
    expect(r.add(0n, 0n)).toBe(0);
    expect(r.contains(max, max)).toBe(true);
    expect(r.remove(max, max)).toBe(0);
    expect(arr(r)).toEqual(["0-0", `${max - 1n}-${max - 1n}`]);
  });
  it("allows 256 nodes and refuses the 257th", () => {
    const r = new RangeSet();
    for (let i = 0n; i < 256n; i++) expect(r.add(i * 4n, i * 4n)).toBe(0);
    expect(r.add(2000n, 2000n)).toBe(-12);
    expect(r.add(1n, 1n)).toBe(0);
    expect(r.size).toBe(256);
  });
});

describe("RangeSet against a set-of-points model", () => {
  it("membership, canonical form and limit behaviour match", async () => {
    const fc = await import("fast-check");
    const op = fc.record({ add: fc.boolean(), a: fc.integer({ min: 0, max: 40 }), len: fc.integer({ min: 0, max: 8 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (ops, limit) => {
        const r = new RangeSet(limit);
        const pts = new Set<number>();
        for (const o of ops) {
          const a = o.a, b = o.a + o.len;
          const before = r.toArray();
          const rc = o.add ? r.add(BigInt(a), BigInt(b)) : r.remove(BigInt(a), BigInt(b));
          if (rc !== 0) {
            expect(rc).toBe(-12);
            expect(r.toArray()).toEqual(before);
            expect(before.length).toBe(limit);
            continue;
          }
          for (let g = a; g <= b; g++) {
            if (o.add) pts.add(g);
            else pts.delete(g);
          }
          const nodes = r.toArray();
          expect(nodes.length).toBeLessThanOrEqual(limit);
          for (let i = 0; i < nodes.length; i++) {
            const [s, e] = nodes[i]!;
            expect(s <= e).toBe(true);
            if (i > 0) expect(nodes[i - 1]![1] + 1n < s).toBe(true);
          }
          for (let g = 0; g <= 50; g++) expect(r.containsValue(BigInt(g))).toBe(pts.has(g));
        }
      }),
      { numRuns: 300 },
    );
  });
});
