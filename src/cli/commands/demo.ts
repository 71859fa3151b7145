// xendm demo [--no-color] [--svg FILE]: the XenGT flow (p2m_ioreq_server) as a story, in process.
import { writeFileSync } from "node:fs";
import { renderSvg, renderText } from "../../demo/render.js";
import { runXengtDemo } from "../../demo/xengt.js";
import { runQemuDemo } from "../../demo/qemu.js";
import { DeviceModelError } from "../../toolstack/errors.js";
import { colorEnabled, COLOR_OPTIONS } from "../color.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "demo",
  summary: "a GPU mediator write-protects guest page tables with p2m_ioreq_server (in process)",
  options: {
    ...COLOR_OPTIONS,
    svg: { type: "string", value: "FILE", help: "also write the p2m as an SVG file" },
    qemu: { type: "boolean", help: "instead: a guest meeting the real QEMU device model through the fake (needs qemu-system-xen)" },
  },
  async run({ values }) {
    if (values.qemu) return qemuDemo();
    const result = runXengtDemo();
    process.stdout.write(renderText(result, { color: colorEnabled(values) }));
    if (values.svg !== undefined) {
      writeFileSync(values.svg, renderSvg(result));
      process.stdout.write(`\nwrote ${values.svg}\n`);
    }
    return Promise.resolve(0);
  },
});
export const { run, summary } = command;

async function qemuDemo(): Promise<number> {
  try {
    let n = 0;
    const ok = await runQemuDemo((st) => {
      process.stdout.write(`\n${++n}. ${st.title}${st.ok ? "" : "  [FAILED]"}\n${st.lines.map((l) => `   ${l}`).join("\n")}\n`);
    });
    return ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof DeviceModelError)) throw e;
    process.stderr.write(`xendm demo --qemu: ${e.message}\n`);
    return 1;
  }
}
