// xendm decode <type> <hex> [--arch A] [--hypervisor]: prints the C-field JSON (64-bit as decimal strings).

import { decode, stringifyJson } from "../../codec/index.js";
import { ARCH_OPTION, parseHex } from "../args.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "decode",
  summary: "hex to C-field JSON (64-bit values as decimal strings)",
  positionals: [{ name: "<type>" }, { name: "<hex>", rest: true }],
  options: {
    arch: ARCH_OPTION,
    hypervisor: { type: "boolean", help: "read as Xen reads a DMOP buffer: header + op_size[op], no pad checks" },
  },
  run({ values, positionals: [type, ...hex] }) {
    const value = decode(type!, parseHex(hex.join("")), { arch: values.arch, mode: values.hypervisor ? "hypervisor" : "strict" });
    process.stdout.write(stringifyJson(value, 2) + "\n");
    return 0;
  },
});
export const { run, summary } = command;
