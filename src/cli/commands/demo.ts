// xendm demo [--no-color] [--svg FILE]: the XenGT flow (p2m_ioreq_server) as a story, in process.
import { writeFileSync } from "node:fs";
import { renderSvg, renderText } from "../../demo/render.js";
import { runXengtDemo } from "../../demo/xengt.js";
import { parseArgs, UsageError, wantsHelp } from "../args.js";

export const summary = "demo [--no-color] [--svg FILE]: a GPU mediator write-protects guest page tables with p2m_ioreq_server";

export function run(args: string[]): Promise<number> {
  try {
    return Promise.resolve(demo(args));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function demo(args: string[]): number {
  if (wantsHelp(args)) {
    process.stdout.write(`usage: xendm ${summary}\n`);
    return 0;
  }
  const p = parseArgs(args, ["svg"]);
  for (const k of p.flags.keys()) if (k !== "no-color" && k !== "svg" && k !== "color") throw new UsageError(`unknown option --${k}`);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const svg = p.flags.get("svg");
  if (svg === true) throw new UsageError("--svg needs a file name");
  const color = p.flags.has("color") || (!p.flags.has("no-color") && process.stdout.isTTY && process.env.NO_COLOR === undefined);
  const result = runXengtDemo();
  process.stdout.write(renderText(result, { color }));
  if (svg !== undefined) {
    writeFileSync(svg, renderSvg(result));
    process.stdout.write(`\nwrote ${svg}\n`);
  }
  return 0;
}
