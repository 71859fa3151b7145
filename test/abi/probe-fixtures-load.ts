// Loading helpers for the C-probe fixtures (fixtures/layouts, fixtures/vectors); see docs/fixtures.md.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ARCHES = ["x86_64", "i386", "arm64", "arm32"] as const;
export type FixtureArch = (typeof ARCHES)[number];

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures");

export interface FixtureField {
  name: string;
  offset: number;
  size: number;
  bit_offset?: number;
  bit_width?: number;
}
export interface FixtureType {
  name: string;
  size: number;
  align: number;
  fields: FixtureField[];
}
export interface FixtureLayout {
  arch: FixtureArch;
  types: FixtureType[];
  constants: Record<string, number>;
}

export type JsonValue = number | string | JsonValue[] | { [k: string]: JsonValue };

export interface VectorCase {
  name: string;
  value: { [k: string]: JsonValue };
  hex: string;
}
export interface FailCase {
  name: string;
  hex: string;
  error: { code: string; path: string; offset: number };
}
export interface VectorFile {
  type: string;
  arch: FixtureArch;
  cases: VectorCase[];
  must_fail: FailCase[];
}

export function loadLayout(arch: FixtureArch): FixtureLayout {
  return JSON.parse(readFileSync(join(FIXTURES, "layouts", `${arch}.json`), "utf8")) as FixtureLayout;
}

export function loadVectorFiles(): { file: string; data: VectorFile }[] {
  const out: { file: string; data: VectorFile }[] = [];
  for (const arch of ARCHES) {
    const dir = join(FIXTURES, "vectors", arch);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith(".json")) continue;
      out.push({ file: `${arch}/${f}`, data: JSON.parse(readFileSync(join(dir, f), "utf8")) as VectorFile });
    }
  }
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
