// xendm layout [type] [--arch A] [--json]: sizes, offsets and bit positions (the probe's JSON shape).

import { layout } from "../../codec/index.js";
import { archOf, parseArgs, wantsHelp } from "../args.js";

export const summary = "layout [type] [--arch A] [--json]: sizes, offsets, bitfield positions";

export function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(`usage: xendm ${summary}\n`);
    return Promise.resolve(0);
  }
  const p = parseArgs(args, ["arch"]);
  const L = layout(p.positional[0], { arch: archOf(p) });
  if (p.flags.has("json")) {
    process.stdout.write(JSON.stringify(p.positional[0] === undefined ? L : { arch: L.arch, types: L.types }, null, 2) + "\n");
    return Promise.resolve(0);
  }
  const out: string[] = [];
  for (const t of L.types) {
    out.push(`${t.name}  size ${t.size}  align ${t.align}`);
    for (const f of t.fields) {
      const bits = f.bit_offset !== undefined ? `  bits ${f.bit_offset}+${f.bit_width}` : "";
      out.push(`  +${String(f.offset).padStart(4)}  ${String(f.size).padStart(4)}  ${f.name}${bits}`);
    }
  }
  process.stdout.write(out.join("\n") + "\n");
  return Promise.resolve(0);
}
