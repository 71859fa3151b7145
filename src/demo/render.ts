// Renders the demo: a terminal story (ANSI colour bars, or plain text), and an SVG of the p2m.
import { formatDump } from "../codec/index.js";
import { bar, bold as boldIf, dim as dimIf, legend, styleOf, svgLegend, svgLegendHeight } from "../view/palette.js";
import type { DemoResult, DemoStep } from "./xengt.js";
import { PT_FIRST_GFN, PT_PAGES, VIEW_FIRST_GFN, VIEW_GFNS } from "./xengt.js";

export interface RenderOptions {
  color: boolean;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The OUT fields worth showing per op. */
const OUTPUTS: Readonly<Record<string, readonly string[]>> = {
  create_ioreq_server: ["id"],
  get_ioreq_server_info: ["ioreq_gfn"],
};

/** One p2m row: a coloured bar (2 cells per gfn) or one symbol per gfn (the shared palette). */
export function p2mBar(types: readonly string[], color: boolean): string {
  return bar(types, color, color ? 2 : 1);
}

function ruler(color: boolean): string {
  const cell = color ? 2 : 1;
  const marks: string[] = [];
  let line = "";
  for (let i = 0; i < VIEW_GFNS; i++) {
    const g = VIEW_FIRST_GFN + i;
    line += (g >= PT_FIRST_GFN && g < PT_FIRST_GFN + PT_PAGES ? "^" : " ").padEnd(cell);
  }
  marks.push(line);
  return marks.join("\n");
}

function stepText(s: DemoStep, o: RenderOptions, allTypes: string[]): string {
  const bold = (t: string): string => boldIf(t, o.color);
  const dim = (t: string): string => dimIf(t, o.color);
  switch (s.kind) {
    case "say":
      return s.text;
    case "dmop": {
      const shown = OUTPUTS[s.dmop.op] ?? [];
      const out = shown.map((k) => {
        const v = s.dmop.out[k];
        return `${k}=${typeof v === "bigint" || typeof v === "number" ? hex(v) : "?"}`;
      });
      return [
        `${bold("DMOP")} ${s.dmop.op} -> rc ${s.dmop.rc}${out.length > 0 ? `, ${out.join(" ")}` : ""}`,
        `  ${s.text}`,
        dim(`  buffer 0: ${s.dmop.sent}`),
      ].join("\n");
    }
    case "p2m": {
      const head = `p2m of domain 1, gfn ${hex(VIEW_FIRST_GFN)}..${hex(VIEW_FIRST_GFN + VIEW_GFNS - 1)} (${s.label}):`;
      allTypes.push(...s.types);
      return [bold(head), `  ${p2mBar(s.types, o.color)}`, `  ${ruler(o.color)}  GPU page tables`].join("\n");
    }
    case "guest":
      return `${bold("guest")}  ${s.text}${s.result.status === "done" && s.result.value !== undefined ? "" : `  [${s.result.status}]`}`;
    case "ioreq": {
      const body = formatDump(s.ioreq.lines)
        .split("\n")
        .map((l, i) => {
          const note = s.ioreq.lines[i]?.note;
          return `    ${l}${note !== undefined ? dim(`   <- ${note}`) : ""}`;
        });
      return [bold("ioreq") + `  ${s.text}`, ...body].join("\n");
    }
    case "emulator":
      return `${bold("dom0")}   ${s.text}`;
  }
}

/** The story as terminal text. */
export function renderText(r: DemoResult, o: RenderOptions): string {
  const allTypes: string[] = [];
  const body = r.steps.map((s) => stepText(s, o, allTypes));
  const f = r.facts;
  body.push("");
  body.push(["legend:", ...legend(allTypes, o.color).map((l) => `  ${l}`)].join("\n"));
  body.push(
    `summary: ${f.trapped.length} guest writes became ioreqs and were shadowed; ${f.reads.filter((x) => !x.ioreq).length} reads came from RAM; ` +
      `page tables ${f.before.join(",")} -> ${f.during.join(",")} -> ${f.after.join(",")}; ${f.dmops.length} DMOPs, all rc 0.`,
  );
  return body.join("\n\n") + "\n";
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG with the three p2m rows (before / during / after) and a legend. */
export function renderSvg(r: DemoResult): string {
  const rows = r.steps.filter((s): s is Extract<DemoStep, { kind: "p2m" }> => s.kind === "p2m");
  const cell = 22;
  const left = 90;
  const top = 56;
  const rowH = 46;
  const width = left + VIEW_GFNS * cell + 30;
  const used = rows.flatMap((x) => x.types);
  const height = top + rows.length * rowH + 40 + svgLegendHeight(used);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">p2m of domain 1 during the XenGT flow (gfn ${hex(VIEW_FIRST_GFN)}..${hex(VIEW_FIRST_GFN + VIEW_GFNS - 1)})</text>`);
  const ptX = left + (PT_FIRST_GFN - VIEW_FIRST_GFN) * cell;
  out.push(`<text x="${ptX}" y="${top - 8}">GPU page tables</text>`);
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    out.push(`<text x="12" y="${y + 18}">${esc(row.label)}</text>`);
    row.types.forEach((t, j) => {
      const g = VIEW_FIRST_GFN + j;
      out.push(`<rect x="${left + j * cell}" y="${y}" width="${cell - 2}" height="26" fill="${styleOf(t).fill}"><title>gfn ${hex(g)}: ${esc(t)}</title></rect>`);
    });
  });
  const ly = top + rows.length * rowH + 16;
  out.push(...svgLegend(used, 12, ly));
  out.push("</svg>");
  return out.join("\n") + "\n";
}
