// xendm demo [--no-color] [--svg FILE]: the XenGT flow (p2m_ioreq_server) as a story, in process.
import { writeFileSync } from "node:fs";
import { renderSvg, renderText } from "../../demo/render.js";
import { runXengtDemo } from "../../demo/xengt.js";
import { colorEnabled, COLOR_OPTIONS } from "../color.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "demo",
  summary: "a GPU mediator write-protects guest page tables with p2m_ioreq_server (in process)",
  options: {
    ...COLOR_OPTIONS,
    svg: { type: "string", value: "FILE", help: "also write the p2m as an SVG file" },
  },
  run({ values }) {
    const result = runXengtDemo();
    process.stdout.write(renderText(result, { color: colorEnabled(values) }));
    if (values.svg !== undefined) {
      writeFileSync(values.svg, renderSvg(result));
      process.stdout.write(`\nwrote ${values.svg}\n`);
    }
    return 0;
  },
});
export const { run, summary } = command;
