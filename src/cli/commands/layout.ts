// xendm layout [type] [--arch A] [--json]: sizes, offsets and bit positions (the probe's JSON shape).

import { layout } from "../../codec/index.js";
import { archOf, simpleCommand } from "../args.js";

export const summary = "layout [type] [--arch A] [--json]: sizes, offsets, bitfield positions";

export const run = simpleCommand(summary, ["arch"], (p) => {
  const L = layout(p.positional[0], { arch: archOf(p) });
  if (p.flags.has("json")) {
    process.stdout.write(JSON.stringify(p.positional[0] === undefined ? L : { arch: L.arch, types: L.types }, null, 2) + "\n");
    return 0;
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
  return 0;
});
