// Annotated dumps: one line per leaf field with offset, raw bytes, C path, value and meaning.

import type { AggregateLayout, EnumTable, FieldLayout } from "../../abi/ctypes.js";
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import { compiled, type CField, type CValue } from "./compile.js";
import { CodecError } from "./errors.js";

export interface DumpLine {
  offset: number;
  size: number;
  /** bit range within the bytes shown, for bitfields */
  bits?: { offset: number; width: number };
  raw: string;
  path: string;
  value: number | bigint;
  meaning?: string;
  error?: string;
}

/** Names a value from a field's symbolic table: prefers the full C name; decomposes flag words. */
export function meaningOf(name: string, value: number | bigint, en: EnumTable | undefined): string | undefined {
  if (en === undefined) return undefined;
  const entries = Object.entries(en).filter(([k]) => /^[A-Z_][A-Za-z0-9_]*_/.test(k));
  const exact = entries.find(([, v]) => BigInt(v) === BigInt(value));
  if (exact !== undefined) return exact[0];
  if (name === "flags" && typeof value === "number" && value !== 0) {
    const parts = entries.filter(([, v]) => v !== 0 && (value & v) === v).map(([k]) => k);
    const rest = parts.reduce((acc, k) => acc & ~((Object.hasOwn(en, k) ? en[k] : undefined) ?? 0), value);
    if (parts.length > 0) return parts.join("|") + (rest !== 0 ? `|0x${rest.toString(16)}` : "");
  }
  return "(unknown)";
}

function hex(bytes: Uint8Array, from: number, len: number): string {
  let s = "";
  for (let i = from; i < from + len && i < bytes.length; i++) s += (s === "" ? "" : " ") + (bytes[i] ?? 0).toString(16).padStart(2, "0");
  return s;
}

function walk(L: AggregateLayout, val: CValue, base: number, path: string, bytes: Uint8Array, out: DumpLine[]): void {
  for (const f of L.fields) {
    const x = val[f.name];
    const fpath = `${path}.${f.name}`;
    if (x === undefined) continue;
    leaf(L, f, x, base, fpath, bytes, out, val);
  }
}

function leaf(parent: AggregateLayout, f: FieldLayout, x: CField, base: number, fpath: string, bytes: Uint8Array, out: DumpLine[], siblings: CValue): void {
  const t = f.type;
  if (t.kind === "int") {
    if (Array.isArray(x)) {
      x.forEach((e, i) => {
        if (typeof e === "number" || typeof e === "bigint") {
          const off = base + f.offset + i * t.size;
          out.push({ offset: off, size: t.size, raw: hex(bytes, off, t.size), path: `${fpath}[${i}]`, value: e });
        }
      });
      return;
    }
    if (typeof x !== "number" && typeof x !== "bigint") return;
    const off = base + f.offset;
    const line: DumpLine = { offset: off, size: f.size, raw: hex(bytes, off, f.size), path: fpath, value: x };
    if (f.bitOffset !== undefined) line.bits = { offset: f.bitOffset - f.offset * 8, width: f.bitWidth! };
    let meaning = meaningOf(f.name, x, f.enum);
    if (f.name === "op" && parent.name === "xen_dm_op" && typeof x === "number") {
      const m = x < dmOpMembers.length ? dmOpMembers[x] : undefined;
      meaning = m !== undefined ? `XEN_DMOP_${m.member}` : "(no such op)";
    }
    if (meaning !== undefined) line.meaning = meaning;
    out.push(line);
    return;
  }
  if (Array.isArray(x)) {
    x.forEach((e, i) => {
      if (typeof e === "object" && !Array.isArray(e)) walk(t, e, base + f.offset + i * t.size, `${fpath}[${i}]`, bytes, out);
    });
    return;
  }
  if (typeof x !== "object") return;
  if (t.kind === "union") {
    for (const [member, mv] of Object.entries(x)) {
      const m = t.fields.find((y) => y.name === member);
      if (m !== undefined) leaf(t, m, mv, base + f.offset, `${fpath}.${member}`, bytes, out, siblings);
    }
    return;
  }
  walk(t, x, base + f.offset, fpath, bytes, out);
}

/**
 * An annotated dump of `bytes` as `L`. A strict-decoding error is reported on the line holding the
 * offending byte (or on a line of its own past the end).
 */
export function dumpLayout(L: AggregateLayout, bytes: Uint8Array, strictError: CodecError | undefined): DumpLine[] {
  const out: DumpLine[] = [];
  const padded = new Uint8Array(Math.max(L.size, bytes.length));
  padded.set(bytes);
  const val = compiled(L, false).read(new DataView(padded.buffer), 0, L.name);
  walk(L, val, 0, L.name, padded, out);
  const shown = out.filter((l) => l.offset < bytes.length);
  if (strictError !== undefined) {
    const at = shown.find((l) => strictError.offset >= l.offset && strictError.offset < l.offset + l.size && strictError.path.startsWith(l.path.replace(/\[\d+\]$/, "")));
    const atOffset = at ?? shown.find((l) => strictError.offset >= l.offset && strictError.offset < l.offset + l.size);
    if (atOffset !== undefined) atOffset.error = strictError.message;
    else shown.push({ offset: strictError.offset, size: 0, raw: hex(bytes, strictError.offset, Math.min(8, Math.max(0, bytes.length - strictError.offset))), path: strictError.path, value: 0, error: strictError.message });
  }
  return shown;
}

export function formatDump(lines: readonly DumpLine[]): string {
  const rows = lines.map((l) => {
    const off = `+${l.offset.toString().padStart(3)}`;
    const raw = l.raw.padEnd(23);
    const bits = l.bits !== undefined ? ` bits ${l.bits.offset}..${l.bits.offset + l.bits.width - 1}` : "";
    const value = typeof l.value === "bigint" ? `0x${l.value.toString(16)}` : `${l.value}${l.value > 9 ? ` (0x${l.value.toString(16)})` : ""}`;
    let s = `${off}  ${raw}  ${l.path}${bits} = ${value}${l.meaning !== undefined ? `  ${l.meaning}` : ""}`;
    if (l.error !== undefined) s += `\n      ${"^".repeat(Math.max(2, Math.min(23, l.raw.length)))} ${l.error}`;
    return s;
  });
  return rows.join("\n");
}
