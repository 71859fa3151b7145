// xendm layout [type] [--arch A] [--json] [--list]: sizes, offsets and bit positions (the probe's JSON shape).

import { formatLayout, layout, layoutOf, layoutsOf, typeNames } from "../../codec/index.js";
import { ARCH_OPTION } from "../args.js";
import { defineCommand, UsageError } from "../command.js";

export const command = defineCommand({
  name: "layout",
  summary: "sizes, offsets and bitfield positions of the ABI types",
  positionals: [{ name: "[type]", optional: true }],
  options: {
    arch: ARCH_OPTION,
    json: { type: "boolean", help: "the C probe's JSON shape (fixtures/layouts/<arch>.json)" },
    list: { type: "boolean", help: "list the type names (struct tags and typedefs)" },
  },
  run({ values, positionals: [type] }) {
    if (values.list) {
      if (type !== undefined) throw new UsageError("--list takes no type");
      process.stdout.write(typeNames({ arch: values.arch }).join("\n") + "\n");
      return 0;
    }
    const L = layout(type, { arch: values.arch });
    if (values.json) {
      process.stdout.write(JSON.stringify(type === undefined ? L : { arch: L.arch, types: L.types }, null, 2) + "\n");
      return 0;
    }
    const out = (type === undefined ? layoutsOf({ arch: values.arch }) : [layoutOf(type, { arch: values.arch })]).map(formatLayout);
    process.stdout.write(out.join("\n\n") + "\n");
    return 0;
  },
});
export const { run, summary } = command;
