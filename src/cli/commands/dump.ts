// xendm dump <type> <hex> [--arch A]: one field per line; an invalid buffer points at the offending byte.

import { dump, formatDump, stringifyJson } from "../../codec/index.js";
import { ARCH_OPTION, parseHex } from "../args.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "dump",
  summary: "annotated field-by-field dump; an invalid buffer points at the offending bytes",
  positionals: [{ name: "<type>" }, { name: "<hex>", rest: true }],
  options: {
    arch: ARCH_OPTION,
    json: { type: "boolean", help: "the lines as a JSON array (64-bit values as decimal strings)" },
  },
  details: "exit status: 0 a valid buffer, 2 an invalid one (the dump still shows where)",
  run({ values, positionals: [type, ...hex] }) {
    const lines = dump(type!, parseHex(hex.join("")), { arch: values.arch });
    process.stdout.write((values.json ? stringifyJson(lines, 2) : formatDump(lines)) + "\n");
    const bad = lines.find((l) => l.error !== undefined);
    if (bad === undefined) return 0;
    process.stderr.write(`xendm dump: invalid ${type!}: ${bad.error ?? ""}\n`);
    return 2;
  },
});
export const { run, summary } = command;
