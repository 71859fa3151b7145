// xendm decode <type> <hex> [--arch A] [--hypervisor]: prints the C-field JSON (64-bit as decimal strings).

import { decode, toJson } from "../../codec/index.js";
import { archOf, parseArgs, parseHex, UsageError, wantsHelp } from "../args.js";

export const summary = "decode <type> <hex> [--arch A] [--hypervisor]: hex to C-field JSON";

export function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(`usage: xendm ${summary}\n`);
    return Promise.resolve(0);
  }
  const p = parseArgs(args, ["arch"]);
  const [type, ...hex] = p.positional;
  if (type === undefined || hex.length === 0) throw new UsageError(`usage: xendm ${summary}`);
  const value = decode(type, parseHex(hex.join("")), { arch: archOf(p), mode: p.flags.has("hypervisor") ? "hypervisor" : "strict" });
  process.stdout.write(JSON.stringify(toJson(value), null, 2) + "\n");
  return Promise.resolve(0);
}
