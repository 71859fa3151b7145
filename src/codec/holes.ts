// Implicit holes and tail padding of a struct, as pahole shows them: the bytes (or bits, inside a
// bitfield's storage) that no declared field covers. Declared pads (`pad`, `_pad1`) are fields, not holes.

import type { AggregateLayout } from "../../abi/ctypes.js";

/** A span of a struct no declared field covers. */
export interface Hole {
  /** "hole": between fields; "padding": after the last field, up to sizeof. */
  readonly kind: "hole" | "padding";
  /** first byte (bit holes: the byte holding the first uncovered bit) */
  readonly offset: number;
  /** bytes, for byte holes; 0 for bit holes */
  readonly size: number;
  /** bit holes: absolute bit offset in the struct and width */
  readonly bitOffset?: number;
  readonly bitWidth?: number;
}

/** The uncovered spans of a struct in offset order (none for unions: members overlap by design). */
export function holesOf(L: AggregateLayout): Hole[] {
  if (L.kind !== "struct") return [];
  const spans = L.fields
    .map((f): [number, number] => (f.bitOffset !== undefined ? [f.bitOffset, f.bitOffset + f.bitWidth!] : [f.offset * 8, (f.offset + f.size) * 8]))
    .sort((a, b) => a[0] - b[0]);
  const out: Hole[] = [];
  let at = 0;
  const gap = (from: number, to: number, last: boolean): void => {
    if (to <= from) return;
    // whole bytes first, then the bits of a partly used byte on either side
    const firstByte = Math.ceil(from / 8);
    const lastByte = Math.floor(to / 8);
    if (from % 8 !== 0) {
      const end = Math.min(to, firstByte * 8);
      out.push({ kind: "hole", offset: Math.floor(from / 8), size: 0, bitOffset: from, bitWidth: end - from });
    }
    if (lastByte > firstByte) out.push({ kind: last ? "padding" : "hole", offset: firstByte, size: lastByte - firstByte });
    if (to % 8 !== 0 && lastByte * 8 >= from) {
      const start = Math.max(from, lastByte * 8);
      if (start < to) out.push({ kind: "hole", offset: lastByte, size: 0, bitOffset: start, bitWidth: to - start });
    }
  };
  for (const [a, b] of spans) {
    gap(at, a, false);
    at = Math.max(at, b);
  }
  gap(at, L.size * 8, true);
  return out;
}

/** pahole's wording: `XXX 4 bytes hole`, `XXX 3 bits hole`, `padding: 4`. */
export function holeText(h: Hole): string {
  if (h.bitWidth !== undefined) return `/* XXX ${h.bitWidth} bit${h.bitWidth === 1 ? "" : "s"} hole */`;
  if (h.kind === "padding") return `/* padding: ${h.size} */`;
  return `/* XXX ${h.size} byte${h.size === 1 ? "" : "s"} hole */`;
}
