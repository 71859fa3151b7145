// xendm run FILE|DIR...: run scenario files against the fake hypervisor.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { stringifyJson } from "../../codec/json.js";
import { loadScenarioFile, runScenarioAsync, ScenarioError, type StepResult } from "../../scenario/index.js";
import { defineCommand, UsageError } from "../command.js";

function stepLine(r: StepResult): string {
  const mark = r.pass ? "✓" : "✗";
  const note = r.note !== undefined ? `  # ${r.note}` : "";
  const lines = [`${mark} ${String(r.index).padStart(3)} ${r.action.padEnd(8)} ${r.summary}${note}`];
  for (const d of r.diff ?? []) lines.push(`        ${d}`);
  if (!r.pass && r.explain !== undefined) lines.push(`        why: ${r.explain}`);
  return lines.join("\n");
}

/** A directory stands for its *.json files, in name order. */
function expand(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [path]; // reported as missing when it is read
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path).filter((f) => f.endsWith(".json")).sort().map((f) => join(path, f));
  if (files.length === 0) throw new UsageError(`${path}: no *.json scenario files in this directory`);
  return files;
}

export const command = defineCommand({
  name: "run",
  summary: "run scenario files against a fresh fake hypervisor each, one line per step",
  positionals: [{ name: "FILE|DIR", rest: true }],
  options: {
    json: { type: "boolean", help: "one JSON object per step: file, index, action, pass, summary, result, diff" },
    quiet: { type: "boolean", short: "q", help: "print only failing steps and the totals" },
  },
  details: "A file with a top-level \"device_model\" starts that program under the shim beside the fake and stops it at the end.\nA directory runs its *.json files in name order.\nexit status: 0 every expectation holds, 1 some do not (or a file has no step), 2 a file is invalid",
  async run({ values: { json, quiet }, positionals }) {
    const files = positionals.flatMap(expand);
    let invalid = false;
    let failed = 0;
    let total = 0;
    let empty = 0;
    for (const file of files) {
      let results: StepResult[];
      try {
        results = await runScenarioAsync(loadScenarioFile(file));
      } catch (e) {
        if (e instanceof ScenarioError || (e instanceof Error && "code" in e && e.code === "ENOENT")) {
          invalid = true;
          const msg = e.message;
          if (json) process.stdout.write(stringifyJson({ file, invalid: true, error: msg }) + "\n");
          else process.stderr.write(`xendm run: ${file}: invalid: ${msg}\n`);
          continue;
        }
        throw e;
      }
      if (!json && (files.length > 1 || !quiet)) process.stdout.write(`${file}\n`);
      if (results.length === 0) {
        // a file that checks nothing must not pass silently
        empty++;
        if (json) process.stdout.write(stringifyJson({ file, pass: false, error: "no steps" }) + "\n");
        else process.stdout.write(`✗ ${file}: no steps: the file checks nothing\n`);
        continue;
      }
      for (const r of results) {
        total++;
        if (!r.pass) failed++;
        if (json) process.stdout.write(stringifyJson({ file, ...r }) + "\n");
        else if (!quiet || !r.pass) process.stdout.write(stepLine(r) + "\n");
      }
    }
    if (!json) {
      const notes = [...(failed > 0 ? [`${failed} failed`] : []), ...(empty > 0 ? [`${empty} file${empty > 1 ? "s" : ""} without steps`] : []), ...(invalid ? ["some files invalid"] : [])];
      process.stdout.write(`${total - failed}/${total} steps passed${notes.map((n) => `, ${n}`).join("")}\n`);
    }
    return invalid ? 2 : failed > 0 || empty > 0 ? 1 : 0;
  },
});
export const { run, summary } = command;
