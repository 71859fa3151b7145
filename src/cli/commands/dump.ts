// xendm dump <type> <hex> [--arch A]: one field per line; an invalid buffer points at the offending byte.

import { dump, formatDump } from "../../codec/index.js";
import { archOf, parseHex, simpleCommand, UsageError } from "../args.js";

export const summary = "dump <type> <hex> [--arch A]: annotated field-by-field dump";

export const run = simpleCommand(summary, ["arch"], (p) => {
  const [type, ...hex] = p.positional;
  if (type === undefined || hex.length === 0) throw new UsageError(`usage: xendm ${summary}`);
  const lines = dump(type, parseHex(hex.join("")), { arch: archOf(p) });
  process.stdout.write(formatDump(lines) + "\n");
  const bad = lines.find((l) => l.error !== undefined);
  if (bad === undefined) return 0;
  process.stderr.write(`xendm dump: invalid ${type}: ${bad.error ?? ""}\n`);
  return 2;
});
