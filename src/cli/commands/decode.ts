// xendm decode <type> <hex> [--arch A] [--hypervisor]: prints the C-field JSON (64-bit as decimal strings).

import { decode, toJson } from "../../codec/index.js";
import { archOf, parseHex, simpleCommand, UsageError } from "../args.js";

export const summary = "decode <type> <hex> [--arch A] [--hypervisor]: hex to C-field JSON";

export const run = simpleCommand(summary, ["arch"], (p) => {
  const [type, ...hex] = p.positional;
  if (type === undefined || hex.length === 0) throw new UsageError(`usage: xendm ${summary}`);
  const value = decode(type, parseHex(hex.join("")), { arch: archOf(p), mode: p.flags.has("hypervisor") ? "hypervisor" : "strict" });
  process.stdout.write(JSON.stringify(toJson(value), null, 2) + "\n");
  return 0;
});
