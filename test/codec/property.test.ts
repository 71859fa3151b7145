// Property tests over every type and ABI: decode(encode(x)) = x for random valid values, and random bytes
// either decode (and then re-encode to the same bytes) or raise a CodecError — never anything else.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ARCHES, allTypes, resolve, type AggregateLayout, type Arch, type FieldLayout } from "../../abi/index.js";
import { CodecError, decode, encode } from "../../src/codec/index.js";
import { restructureDecode, restructureEncode } from "../../src/codec/restructure.js";

const CI = process.env.CI === "true";
// 100k+ cases in CI in total; a tenth locally.
const scale = CI ? 1 : 0.1;

function intArb(size: number, bits?: number): fc.Arbitrary<number | bigint> {
  const width = bits ?? size * 8;
  if (size === 8 && bits === undefined) return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  return fc.integer({ min: 0, max: 2 ** width - 1 });
}

function fieldArb(f: FieldLayout): fc.Arbitrary<unknown> {
  const t = f.type;
  if (t.kind === "int") {
    const one = f.pad ? fc.constant(t.size === 8 ? 0n : 0) : intArb(t.size, f.bitWidth);
    return f.count === undefined ? one : fc.array(one, { minLength: f.count, maxLength: f.count });
  }
  const one = aggArb(t);
  return f.count === undefined ? one : fc.array(one, { minLength: f.count, maxLength: f.count });
}

function aggArb(L: AggregateLayout): fc.Arbitrary<unknown> {
  if (L.kind === "union") {
    const m = L.fields.find((x) => x.name === L.decodeAs) ?? L.fields.find((x) => x.size === L.size) ?? L.fields[0]!;
    return fieldArb(m).map((v) => ({ [m.name]: v }));
  }
  const sel = L.fields.find((f) => f.select !== undefined);
  if (sel !== undefined && sel.type.kind === "union") {
    const U = sel.type;
    const choices = Object.entries(sel.select!.members).map(([op, member]) => {
      const m = U.fields.find((x) => x.name === member)!;
      return fieldArb(m).map((mv) => ({ op: Number(op), pad: 0, [sel.name]: { [member]: mv } }));
    });
    return fc.oneof(...choices);
  }
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of L.fields) rec[f.name] = fieldArb(f);
  return fc.record(rec);
}

const big = new Set(["buffered_iopage"]);

function typesOf(arch: Arch): AggregateLayout[] {
  return allTypes(arch)
    .filter((d) => !d.name.includes("."))
    .map((d) => resolve(d, arch));
}

describe.each(ARCHES)("codec properties (%s)", (arch) => {
  for (const L of typesOf(arch)) {
    const heavy = L.name === "xen_dm_op" || L.name === "ioreq" ? (arch === "x86_64" ? 25000 : 2000) : 300;
    const runs = Math.max(50, Math.round((big.has(L.name) ? 20 : heavy) * scale));
    it(`${L.name}: decode(encode(x)) = x`, () => {
      fc.assert(
        fc.property(aggArb(L), (value) => {
          const bytes = encode(L.name, value, { arch });
          expect(bytes.length).toBe(L.size);
          expect(decode(L.name, bytes, { arch })).toEqual(value);
        }),
        { numRuns: runs },
      );
    });
    it(`${L.name}: the restructure form agrees with the compiled codec`, () => {
      fc.assert(
        fc.property(aggArb(L), (value) => {
          const bytes = encode(L.name, value, { arch });
          expect(Buffer.from(restructureEncode(L, value)).equals(Buffer.from(bytes))).toBe(true);
          expect(restructureDecode(L, bytes)).toEqual(value);
        }),
        { numRuns: Math.max(20, Math.round(runs / 10)) },
      );
    });
    it(`${L.name}: random bytes decode or raise CodecError`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: Math.max(0, L.size - 2), maxLength: L.size + 2 }), (bytes) => {
          let value: unknown;
          try {
            value = decode(L.name, bytes, { arch });
          } catch (e) {
            expect(e).toBeInstanceOf(CodecError);
            const ce = e as CodecError;
            expect(ce.offset).toBeGreaterThanOrEqual(0);
            expect(ce.offset).toBeLessThanOrEqual(bytes.length);
            expect(ce.path.startsWith(L.name)).toBe(true);
            return;
          }
          expect(Buffer.from(encode(L.name, value, { arch })).equals(Buffer.from(bytes))).toBe(true);
        }),
        { numRuns: runs },
      );
    });
  }
});
