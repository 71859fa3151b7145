// `xendm layout` as text: pahole's view of a type (offset, size, field, bit positions) with the implicit
// holes and tail padding spelled out. Bit positions count from the field's first byte, as in `xendm dump`.

import type { AggregateLayout, FieldLayout } from "../../abi/ctypes.js";
import { holesOf, holeText, type Hole } from "./holes.js";

/** `bits 0..3`: the bits a bitfield occupies, counted from the byte at its offset. */
export function bitsText(bitOffset: number, bitWidth: number, byteOffset: number): string {
  const first = bitOffset - byteOffset * 8;
  return bitWidth === 1 ? `bit ${first}` : `bits ${first}..${first + bitWidth - 1}`;
}

function typeName(f: FieldLayout): string {
  const t = f.type;
  const base = t.kind === "int" ? t.name : `${t.kind} ${t.name}`;
  return f.count !== undefined ? `${base}[${f.count}]` : base;
}

const row = (offset: number, size: number, text: string): string => `  +${String(offset).padStart(4)}  ${String(size).padStart(4)}  ${text}`;

/** One type: a header line, one line per field and per hole, in offset order. */
export function formatLayout(L: AggregateLayout): string {
  const holes = holesOf(L);
  const items: { offset: number; bit: number; line: string }[] = L.fields.map((f) => ({
    offset: f.offset,
    bit: f.bitOffset ?? f.offset * 8,
    line: row(f.offset, f.size, `${f.name}${f.bitOffset !== undefined ? `  ${bitsText(f.bitOffset, f.bitWidth!, f.offset)}` : ""}  (${typeName(f)})`),
  }));
  const holeLine = (h: Hole): string =>
    h.bitWidth !== undefined ? row(h.offset, 0, `${holeText(h)}  ${bitsText(h.bitOffset!, h.bitWidth, h.offset)}`) : row(h.offset, h.size, holeText(h));
  for (const h of holes) items.push({ offset: h.offset, bit: h.bitOffset ?? h.offset * 8, line: holeLine(h) });
  items.sort((a, b) => a.bit - b.bit);
  const inner = holes.filter((h) => h.kind === "hole");
  const bytes = inner.reduce((n, h) => n + h.size, 0);
  const bits = inner.reduce((n, h) => n + (h.bitWidth ?? 0), 0);
  const pad = holes.find((h) => h.kind === "padding")?.size ?? 0;
  const parts = [
    ...(inner.length > 0 ? [`holes: ${inner.length}, sum holes: ${bytes}${bits > 0 ? ` bytes ${bits} bits` : ""}`] : []),
    ...(pad > 0 ? [`padding: ${pad}`] : []),
  ];
  const summary = parts.length > 0 ? `  /* ${parts.join(", ")} */` : "";
  return [`${L.kind} ${L.name}${L.typedef !== undefined ? ` (${L.typedef})` : ""}  size ${L.size}  align ${L.align}${summary}`, ...items.map((i) => i.line)].join("\n");
}
