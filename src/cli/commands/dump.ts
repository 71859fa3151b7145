// xendm dump <type> <hex> [--arch A]: one field per line; an invalid buffer points at the offending byte.

import { dump, formatDump } from "../../codec/index.js";
import { archOf, parseArgs, parseHex, UsageError, wantsHelp } from "../args.js";

export const summary = "dump <type> <hex> [--arch A]: annotated field-by-field dump";

export function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(`usage: xendm ${summary}\n`);
    return Promise.resolve(0);
  }
  const p = parseArgs(args, ["arch"]);
  const [type, ...hex] = p.positional;
  if (type === undefined || hex.length === 0) throw new UsageError(`usage: xendm ${summary}`);
  const lines = dump(type, parseHex(hex.join("")), { arch: archOf(p) });
  process.stdout.write(formatDump(lines) + "\n");
  const bad = lines.find((l) => l.error !== undefined);
  if (bad !== undefined) {
    process.stderr.write(`xendm dump: invalid ${type}: ${bad.error ?? ""}\n`);
    return Promise.resolve(2);
  }
  return Promise.resolve(0);
}
