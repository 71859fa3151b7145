// The codec against the C golden vectors (fixtures/vectors/<arch>/<type>.json, docs/fixtures.md):
// decode(hex) equals the value (64-bit decimal strings compared as BigInt), encode(value) equals the hex,
// and every must_fail case raises CodecError with exactly the given code, path and offset.
import { describe, expect, it } from "vitest";
import { CodecError, decode, encode } from "../../src/codec/index.js";
import { fromHex, loadVectorFiles, toHex, type JsonValue } from "./probe-fixtures-load.js";

/** Differences between a decoded value and the expected JSON value, as "path: expected …, got …". */
function compare(want: JsonValue, got: unknown, path: string, out: string[]): void {
  if (typeof want === "string") {
    const ok = (typeof got === "bigint" || typeof got === "number") && BigInt(want) === BigInt(got);
    if (!ok) out.push(`${path}: expected ${want} (64-bit), got ${show(got)}`);
  } else if (typeof want === "number") {
    if (got !== want) out.push(`${path}: expected ${want}, got ${show(got)}`);
  } else if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      out.push(`${path}: expected an array of ${want.length}, got ${show(got)}`);
      return;
    }
    want.forEach((w, i) => {
      compare(w, (got as unknown[])[i], `${path}[${i}]`, out);
    });
  } else {
    if (typeof got !== "object" || got === null || Array.isArray(got)) {
      out.push(`${path}: expected an object, got ${show(got)}`);
      return;
    }
    const g = got as Record<string, unknown>;
    for (const k of Object.keys(want)) compare(want[k]!, g[k], `${path}.${k}`, out);
    for (const k of Object.keys(g)) if (!(k in want)) out.push(`${path}.${k}: unexpected key in decoded value`);
  }
}

function show(x: unknown): string {
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "string") return JSON.stringify(x);
  if (x === undefined) return "undefined";
  if (typeof x === "number" || typeof x === "boolean") return String(x);
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
}

function errorText(e: unknown): string {
  if (e instanceof CodecError) return `CodecError ${e.code} ${e.path} @${e.offset}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const files = loadVectorFiles();
const MAX_REPORTED = 40;

describe("golden vectors", () => {
  it("exist", () => {
    expect(files.length).toBeGreaterThan(30);
  });

  for (const { file, data } of files) {
    const arch = data.arch;
    describe(file, () => {
      it(`decode: ${data.cases.length} cases equal the C values`, () => {
        const problems: string[] = [];
        for (const c of data.cases) {
          try {
            compare(c.value, decode(data.type, fromHex(c.hex), { arch }), `${c.name}: ${data.type}`, problems);
          } catch (e) {
            problems.push(`${c.name}: decode threw ${errorText(e)}`);
          }
        }
        expect(problems.slice(0, MAX_REPORTED)).toEqual([]);
      });

      it(`encode: ${data.cases.length} cases equal the C bytes`, () => {
        const problems: string[] = [];
        for (const c of data.cases) {
          try {
            const hex = toHex(encode(data.type, c.value, { arch }));
            if (hex !== c.hex) problems.push(`${c.name}: expected ${c.hex}, got ${hex}`);
          } catch (e) {
            problems.push(`${c.name}: encode threw ${errorText(e)}`);
          }
        }
        expect(problems.slice(0, MAX_REPORTED)).toEqual([]);
      });

      it(`must_fail: ${data.must_fail.length} cases raise the documented CodecError`, () => {
        const problems: string[] = [];
        for (const c of data.must_fail) {
          const want = `CodecError ${c.error.code} ${c.error.path} @${c.error.offset}`;
          let got: string;
          try {
            const v = decode(data.type, fromHex(c.hex), { arch });
            got = `no error (decoded ${show(v)})`;
          } catch (e) {
            got = errorText(e);
          }
          if (got !== want) problems.push(`${c.name}: expected ${want}, got ${got}`);
        }
        expect(problems.slice(0, MAX_REPORTED)).toEqual([]);
      });
    });
  }
});
