// Annotated dumps: one line per leaf field with offset, raw bytes, C path, value and meaning.

import type { AggregateLayout, EnumTable, FieldLayout } from "../../abi/ctypes.js";
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import { compiled, type CField, type CValue } from "./compile.js";
import { CodecError } from "./errors.js";
import { holesOf, holeText } from "./holes.js";
import { bitsText } from "./layout-text.js";

/** One line of an annotated dump: a field, or bytes no field holds (`gap`). */
export interface DumpLine {
  offset: number;
  size: number;
  /** bit range within the bytes shown, for bitfields */
  bits?: { offset: number; width: number };
  raw: string;
  path: string;
  /** the field's value; absent on the lines of bytes no field holds (`gap`) */
  value?: number | bigint;
  meaning?: string;
  /** bytes no declared field holds: an implicit hole, tail padding, a union's bytes past the selected member, bytes past sizeof */
  gap?: "hole" | "padding" | "union-tail" | "trailing";
  /** what a gap line is, in pahole's words (XXX 4 bytes hole) */
  comment?: string;
  error?: string;
  /** the bytes the error is about, within this line */
  errorSpan?: { offset: number; size: number };
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

/** Lines of at most 8 bytes for a span no field holds. */
function gapLines(gap: NonNullable<DumpLine["gap"]>, offset: number, size: number, path: string, comment: string, bytes: Uint8Array, out: DumpLine[]): void {
  for (let at = offset; at < offset + size; at += 8) {
    const n = Math.min(8, offset + size - at);
    out.push({ offset: at, size: n, raw: hex(bytes, at, n), path, gap, comment });
  }
}

function walk(L: AggregateLayout, val: CValue, base: number, path: string, bytes: Uint8Array, out: DumpLine[]): void {
  for (const f of L.fields) {
    const x = val[f.name];
    const fpath = `${path}.${f.name}`;
    if (x === undefined) continue;
    leaf(L, f, x, base, fpath, bytes, out, val);
  }
  for (const h of holesOf(L)) {
    if (h.bitWidth !== undefined) {
      out.push({ offset: base + h.offset, size: 1, bits: { offset: h.bitOffset! - h.offset * 8, width: h.bitWidth }, raw: hex(bytes, base + h.offset, 1), path, gap: "hole", comment: holeText(h) });
    } else gapLines(h.kind, base + h.offset, h.size, path, holeText(h), bytes, out);
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
    const members = Object.entries(x);
    for (const [member, mv] of members) {
      const m = t.fields.find((y) => y.name === member);
      if (m !== undefined) leaf(t, m, mv, base + f.offset, `${fpath}.${member}`, bytes, out, siblings);
    }
    const only = members.length === 1 ? t.fields.find((y) => y.name === members[0]![0]) : undefined;
    if (only !== undefined && only.size < t.size) {
      const n = t.size - only.size;
      gapLines("union-tail", base + f.offset + only.size, n, fpath, `/* ${n} bytes of ${f.name} past ${only.name} */`, bytes, out);
    }
    return;
  }
  walk(t, x, base + f.offset, fpath, bytes, out);
}

/** The bytes an error is about: the non-zero run of a pad, what lies past sizeof, else the whole line. */
function spanOf(e: CodecError, line: DumpLine, bytes: Uint8Array): { offset: number; size: number } {
  const end = line.offset + line.size;
  if (e.code === "nonzero-pad" || e.code === "trailing") {
    let last = e.offset;
    for (let i = e.offset; i < end && i < bytes.length; i++) if (bytes[i] !== 0 || e.code === "trailing") last = i;
    return { offset: e.offset, size: last - e.offset + 1 };
  }
  return { offset: line.offset, size: line.size };
}

/**
 * An annotated dump of `bytes` as `L`, in offset order: one line per leaf field, and one per run of
 * bytes no field holds (implicit holes, tail padding, union bytes past the selected member, bytes past
 * sizeof). A strict-decoding error is reported on the line holding the offending byte, with its span
 * (or on a line of its own past the end of a short buffer).
 */
export function dumpLayout(L: AggregateLayout, bytes: Uint8Array, strictError: CodecError | undefined): DumpLine[] {
  const out: DumpLine[] = [];
  const padded = new Uint8Array(Math.max(L.size, bytes.length));
  padded.set(bytes);
  const val = compiled(L, false).read(new DataView(padded.buffer), 0, L.name);
  walk(L, val, 0, L.name, padded, out);
  if (bytes.length > L.size) gapLines("trailing", L.size, bytes.length - L.size, L.name, `/* ${bytes.length - L.size} bytes past sizeof(${L.name}) = ${L.size} */`, padded, out);
  const bitOf = (l: DumpLine): number => l.offset * 8 + (l.bits?.offset ?? 0);
  const shown = out.filter((l) => l.offset < bytes.length).sort((a, b) => bitOf(a) - bitOf(b));
  for (const l of shown) {
    // a field the buffer ends inside: the bytes that are there, "--" for the rest, no value
    const missing = l.offset + l.size - bytes.length;
    if (missing <= 0) continue;
    l.raw = [hex(bytes, l.offset, l.size - missing), ...Array<string>(missing).fill("--")].filter((x) => x !== "").join(" ");
    delete l.value;
    delete l.meaning;
    l.comment = `/* ${missing} of ${l.size} bytes missing */`;
  }
  if (strictError?.code === "truncated") {
    const e = strictError;
    const cut = shown.find((l) => l.offset + l.size > bytes.length);
    if (cut !== undefined) {
      cut.error = e.message;
      cut.errorSpan = { offset: bytes.length, size: cut.offset + cut.size - bytes.length };
    } else shown.push({ offset: bytes.length, size: 0, raw: "", path: e.path, comment: "/* the buffer ends here */", error: e.message, errorSpan: { offset: bytes.length, size: 0 } });
  } else if (strictError !== undefined) {
    const e = strictError;
    const holds = (l: DumpLine): boolean => e.offset >= l.offset && e.offset < l.offset + l.size;
    const at = shown.find((l) => holds(l) && e.path.startsWith(l.path.replace(/\[\d+\]$/, ""))) ?? shown.find(holds);
    if (at !== undefined) {
      at.error = e.message;
      at.errorSpan = spanOf(e, at, bytes);
    } else {
      shown.push({ offset: e.offset, size: 0, raw: "", path: e.path, error: e.message, errorSpan: { offset: e.offset, size: 0 } });
    }
  }
  return shown;
}

/** The dump as text: offset, raw bytes, C path, value and meaning; carets under the offending bytes. */
export function formatDump(lines: readonly DumpLine[]): string {
  const rows = lines.map((l) => {
    const off = `+${l.offset.toString().padStart(3)}`;
    const raw = l.raw.padEnd(23);
    const bits = l.bits !== undefined ? ` ${bitsText(l.bits.offset, l.bits.width, 0)}` : "";
    const v = l.value;
    const value = v === undefined ? "" : typeof v === "bigint" ? ` = 0x${v.toString(16)}` : ` = ${v}${v > 9 ? ` (0x${v.toString(16)})` : ""}`;
    let s = `${off}  ${raw}  ${l.path}${bits}${value}${l.meaning !== undefined ? `  ${l.meaning}` : ""}${l.comment !== undefined ? `  ${l.comment}` : ""}`;
    if (l.error !== undefined) {
      const span = l.errorSpan ?? { offset: l.offset, size: l.size };
      const lead = 3 * Math.max(0, span.offset - l.offset);
      const width = Math.max(2, 3 * Math.min(span.size, 8) - 1);
      s += `\n      ${" ".repeat(lead)}${"^".repeat(width)} ${l.error}`;
    }
    return s;
  });
  return rows.join("\n");
}
