// xendm encode <type> '<json>' [--arch A]: prints the encoding as lowercase hex.

import { encode } from "../../codec/index.js";
import { ARCH_OPTION, toHex, UsageError } from "../args.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "encode",
  summary: "C-field JSON to lowercase hex",
  positionals: [{ name: "<type>" }, { name: "<json>" }],
  options: { arch: ARCH_OPTION },
  run({ values, positionals: [type, json] }) {
    let value: unknown;
    try {
      value = JSON.parse(json!);
    } catch (e) {
      throw new UsageError(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    process.stdout.write(toHex(encode(type!, value, { arch: values.arch })) + "\n");
    return 0;
  },
});
export const { run, summary } = command;
