// One palette for every view of the p2m (`xendm demo`, `xendm p2m`, their SVGs): per Xen p2m type a
// symbol for plain text, an ANSI 256-colour background for terminals, an SVG fill and a legend label.

import { P2M_TYPES, type P2mType } from "../hypervisor/p2m-types.js";

export interface P2mStyle {
  /** one character for plain text, distinct per type */
  readonly symbol: string;
  /** ANSI 256-colour background index */
  readonly ansi: number;
  /** SVG fill */
  readonly fill: string;
  /** what the type means to a device model */
  readonly label: string;
}

export const P2M_STYLES: Readonly<Record<P2mType, P2mStyle>> = {
  ram_rw: { symbol: ".", ansi: 28, fill: "#2e8b57", label: "guest RAM" },
  invalid: { symbol: "_", ansi: 236, fill: "#3a3a3a", label: "nothing mapped" },
  ram_logdirty: { symbol: "l", ansi: 30, fill: "#2f8f8f", label: "RAM, writes tracked for log-dirty" },
  ram_ro: { symbol: "r", ansi: 136, fill: "#c8a000", label: "read-only RAM, writes dropped" },
  mmio_dm: { symbol: "-", ansi: 240, fill: "#7a7a7a", label: "emulated MMIO (ioreqs)" },
  mmio_direct: { symbol: "m", ansi: 97, fill: "#8a5fb0", label: "passed-through MMIO" },
  populate_on_demand: { symbol: "p", ansi: 151, fill: "#a8d8a8", label: "populate on demand" },
  grant_map_rw: { symbol: "G", ansi: 171, fill: "#d070e0", label: "grant mapping" },
  grant_map_ro: { symbol: "g", ansi: 135, fill: "#a060e0", label: "read-only grant mapping" },
  ram_paging_out: { symbol: "o", ansi: 178, fill: "#d8a020", label: "being paged out" },
  ram_paged: { symbol: "P", ansi: 172, fill: "#c07010", label: "paged out" },
  ram_paging_in: { symbol: "i", ansi: 214, fill: "#f0b020", label: "being paged in" },
  ram_shared: { symbol: "s", ansi: 45, fill: "#20c0e0", label: "shared page" },
  ram_broken: { symbol: "!", ansi: 160, fill: "#d02020", label: "broken page" },
  map_foreign: { symbol: "f", ansi: 219, fill: "#f0a0e0", label: "foreign mapping" },
  ioreq_server: { symbol: "W", ansi: 127, fill: "#b0308a", label: "RAM, writes go to the claiming ioreq server" },
};

/** Anything the table does not know (never a Xen type). */
export const UNKNOWN_STYLE: P2mStyle = { symbol: "?", ansi: 255, fill: "#ffffff", label: "unknown type" };

export const styleOf = (t: string): P2mStyle => (Object.hasOwn(P2M_STYLES, t) ? P2M_STYLES[t as P2mType] : UNKNOWN_STYLE);

export const RESET = "\x1b[0m";
export const bold = (t: string, color: boolean): string => (color ? `\x1b[1m${t}${RESET}` : t);
export const dim = (t: string, color: boolean): string => (color ? `\x1b[2m${t}${RESET}` : t);

/** One cell of a p2m bar: `width` coloured blanks, or the type's symbol repeated. */
export function cell(t: string, color: boolean, width = 1): string {
  const s = styleOf(t);
  return color ? `\x1b[48;5;${s.ansi}m${" ".repeat(width)}${RESET}` : s.symbol.repeat(width);
}

/** A bar with one cell per type (colour runs are not reset between equal neighbours). */
export function bar(types: readonly string[], color: boolean, width = 1): string {
  if (!color) return types.map((t) => styleOf(t).symbol.repeat(width)).join("");
  return types.map((t) => `\x1b[48;5;${styleOf(t).ansi}m${" ".repeat(width)}`).join("") + (types.length > 0 ? RESET : "");
}

/** The legend of the types shown, in p2m_type_t order: `'.' ram_rw  guest RAM` or a swatch in colour. */
export function legend(types: Iterable<string>, color: boolean): string[] {
  const used = new Set(types);
  const known = P2M_TYPES.filter((t) => used.has(t));
  const other = [...used].filter((t) => !Object.hasOwn(P2M_STYLES, t)).sort();
  return [...known, ...other].map((t) => `${color ? cell(t, true, 2) : `'${styleOf(t).symbol}'`} ${t.padEnd(18)} ${styleOf(t).label}`);
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG legend, one swatch and label per type, one per row from (x, y). */
export function svgLegend(types: Iterable<string>, x: number, y: number): string[] {
  const used = new Set(types);
  const order = [...P2M_TYPES.filter((t) => used.has(t)), ...[...used].filter((t) => !Object.hasOwn(P2M_STYLES, t)).sort()];
  return order.flatMap((t, i) => [
    `<rect x="${x}" y="${y + i * 20}" width="14" height="14" fill="${styleOf(t).fill}"/>`,
    `<text x="${x + 22}" y="${y + i * 20 + 11}">${esc(t)}: ${esc(styleOf(t).label)}</text>`,
  ]);
}

/** Height taken by svgLegend for these types. */
export const svgLegendHeight = (types: Iterable<string>): number => new Set(types).size * 20;
