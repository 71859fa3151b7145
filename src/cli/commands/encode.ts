// xendm encode <type> '<json>' [--arch A]: prints the encoding as lowercase hex.

import { encode } from "../../codec/index.js";
import { archOf, simpleCommand, toHex, UsageError } from "../args.js";

export const summary = "encode <type> '<json>' [--arch A]: C-field JSON to lowercase hex";

export const run = simpleCommand(summary, ["arch"], (p) => {
  const [type, json] = p.positional;
  if (type === undefined || json === undefined) throw new UsageError(`usage: xendm ${summary}`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.stdout.write(toHex(encode(type, value, { arch: archOf(p) })) + "\n");
  return 0;
});
