// xendm p2m FILE --domid N: run a scenario, then draw a domain's memory map (terminal runs, or SVG).
import { writeFileSync } from "node:fs";
import { loadScenarioFile, runScenario, ScenarioError, XenHost, type ScenarioHost } from "../../scenario/index.js";
import { cell, legend, styleOf, svgLegend, svgLegendHeight } from "../../view/palette.js";
import { colorEnabled, COLOR_OPTIONS } from "../color.js";
import { defineCommand, UsageError } from "../command.js";


interface Run {
  first: number;
  last: number;
  type: string;
}

function parseGfn(v: string, flag: string): number {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) throw new UsageError(`${flag}: expected a decimal or 0x number, got ${JSON.stringify(v)}`);
  const n = Number(BigInt(v));
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag}: ${v} is beyond 2^53`);
  return n;
}

const types = (runs: readonly Run[]): string[] => runs.map((r) => r.type);
const hx = (n: number): string => `0x${n.toString(16)}`;

/** Index of the first run ending at or after g (runs are sorted and disjoint). */
function runIndex(runs: readonly Run[], g: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid]!.last < g) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Common types lose to rare ones, so a single ioreq_server page still shows in a wide cell. */
const BACKGROUND = ["invalid", "mmio_dm", "ram_rw"];
const score = (t: string): number => {
  const i = BACKGROUND.indexOf(t);
  return i === -1 ? BACKGROUND.length : i;
};

function bar(runs: readonly Run[], from: number, to: number, width: number, color: boolean): string {
  const span = to - from + 1;
  const cells = Math.min(width, span);
  let out = "";
  for (let i = 0; i < cells; i++) {
    const a = from + Math.floor((i * span) / cells);
    const b = from + Math.floor(((i + 1) * span) / cells) - 1;
    let t = "invalid";
    for (let k = runIndex(runs, a); k < runs.length && runs[k]!.first <= b; k++) {
      const c = runs[k]!.type;
      if (score(c) > score(t)) t = c;
      if (score(t) === BACKGROUND.length) break;
    }
    out += cell(t, color);
  }
  return out;
}

function svg(runs: readonly Run[], from: number, to: number, title: string): string {
  const W = 1024;
  const span = to - from + 1;
  const x = (g: number): number => ((g - from) / span) * W;
  const rects = runs.map((r) => {
    const fill = styleOf(r.type).fill;
    const w = Math.max(x(r.last + 1) - x(r.first), 0.5);
    return `<rect x="${x(r.first).toFixed(3)}" y="30" width="${w.toFixed(3)}" height="60" fill="${fill}"><title>${hx(r.first)}-${hx(r.last)} ${r.type} (${r.last - r.first + 1})</title></rect>`;
  });
  const types = runs.map((r) => r.type);
  const H = 120 + svgLegendHeight(types);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 20}" height="${H}" viewBox="-10 0 ${W + 20} ${H}" font-family="monospace" font-size="12">`,
    `<text x="0" y="18" font-size="13">${title.replace(/[<&]/g, "")}</text>`,
    `<text x="0" y="104" font-size="10">${hx(from)}</text><text x="${W}" y="104" font-size="10" text-anchor="end">${hx(to)}</text>`,
    ...rects,
    ...svgLegend(types, 0, 112),
    "</svg>",
  ].join("\n");
}

export const command = defineCommand({
  name: "p2m",
  summary: "draw a domain's p2m after running a scenario (colour bar and runs, or --svg)",
  positionals: [{ name: "FILE" }],
  options: {
    domid: { type: "string", value: "N", help: "the domain to draw (required)" },
    from: { type: "string", value: "GFN", help: "first gfn shown; default 0" },
    to: { type: "string", value: "GFN", help: "last gfn shown; default the domain's max_mapped_pfn" },
    svg: { type: "string", value: "OUT.svg", help: "write the map as an SVG file instead" },
    width: { type: "string", value: "N", help: "cells in the colour bar, 8..400; default 64" },
    ...COLOR_OPTIONS,
  },
  details: "Runs the scenario, then shows the p2m types of the domain over [from, to]:\na colour bar and one line per run of equal type.",
  run({ values, positionals: [file] }) {
    if (values.domid === undefined) throw new UsageError("--domid is required");
    return draw(file!, {
      domid: parseGfn(values.domid, "--domid"),
      ...(values.from !== undefined ? { from: parseGfn(values.from, "--from") } : {}),
      ...(values.to !== undefined ? { to: parseGfn(values.to, "--to") } : {}),
      ...(values.svg !== undefined ? { svgOut: values.svg } : {}),
      width: values.width !== undefined ? Math.max(8, Math.min(400, parseGfn(values.width, "--width"))) : 64,
      color: colorEnabled(values),
    });
  },
});
export const { run, summary } = command;

interface DrawOptions {
  domid: number;
  from?: number;
  to?: number;
  svgOut?: string;
  width: number;
  color: boolean;
}

function draw(file: string, { domid, from, to, svgOut, width, color }: DrawOptions): number {
  let host: ScenarioHost | undefined;
  let failed = 0;
  try {
    failed = runScenario(loadScenarioFile(file), { onHost: (h) => (host = h) }).filter((r) => !r.pass).length;
  } catch (e) {
    if (e instanceof ScenarioError) {
      process.stderr.write(`xendm p2m: ${file}: invalid: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (!(host instanceof XenHost)) throw new Error("the scenario did not build a hypervisor");
  const d = host.hv.domain(domid);
  if (d === undefined) {
    process.stderr.write(`xendm p2m: no domain ${domid} in ${file}\n`);
    return 2;
  }
  const lo = from ?? 0;
  const hi = to ?? d.p2m.maxMappedPfn;
  if (hi < lo) {
    process.stderr.write(`xendm p2m: --to ${hx(hi)} is below --from ${hx(lo)}\n`);
    return 2;
  }
  const runs: Run[] = d.p2m.ranges(lo, hi);
  if (failed > 0) process.stderr.write(`xendm p2m: note: ${failed} step(s) of ${file} did not meet their expectations\n`);
  const title = `domain ${domid} p2m ${hx(lo)}-${hx(hi)} after ${file}`;
  if (svgOut !== undefined) {
    writeFileSync(svgOut, svg(runs, lo, hi, title) + "\n");
    process.stdout.write(`wrote ${svgOut} (${runs.length} runs)\n`);
    return 0;
  }
  const lines = [title, bar(runs, lo, hi, width, color), ""];
  for (const r of runs) {
    const swatch = color ? cell(r.type, true, 2) : ` ${styleOf(r.type).symbol}`;
    lines.push(`${swatch} ${hx(r.first).padStart(10)}-${hx(r.last).padEnd(10)} ${r.type.padEnd(18)} ${r.last - r.first + 1}`);
  }
  lines.push("", "legend:", ...legend(types(runs), color).map((l) => `  ${l}`));
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
