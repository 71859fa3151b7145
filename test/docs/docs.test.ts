// Every ts block of README.md and docs/*.md runs (unless marked `ts norun`; a scenario block `json norun`), and every claimed output
// (`// => VALUE`) is compared; docs import from "xendm", never from the sources.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenarioAsync } from "../../src/scenario/index.js";
import { validate } from "../scenario/schema-validator.js";
import { blocks, docFiles, instrument, ROOT } from "./snippets.js";
import { readFileSync } from "node:fs";

const RUN = mkdtempSync(join(tmpdir(), "xendm-docs-"));

const all = docFiles().flatMap(blocks);
const ts = all.filter((b) => /^(ts|typescript)\b/.test(b.info));

describe("docs", () => {
  it("import the package as users do, never its sources", () => {
    const bad = ts.filter((b) => /from "(\.\.?\/|xendm\/src\/)/.test(b.code) && !b.info.includes("norun"));
    expect(bad.map((b) => `${b.file}:${b.line}`)).toEqual([]);
  });

  it("claim outputs only in blocks that run", () => {
    const silent = ts.filter((b) => b.info.includes("norun") && b.code.includes("// =>"));
    expect(silent.map((b) => `${b.file}:${b.line}`)).toEqual([]);
  });

  it("the checker refuses a claim the code does not meet", async () => {
    const file = join(RUN, "self-check.ts");
    const code = 'import { encode } from "xendm";\nencode("xen_dm_op", { op: 20 }).length;   // prose => 31\n';
    writeFileSync(file, instrument({ file: "self-check.md", line: 1, info: "ts", code }, join(ROOT, "test", "docs", "check.ts")));
    await expect(import(file)).rejects.toThrow(/self-check\.md:2: the doc claims 31/);
  });

  const scenarios = all.filter((b) => b.info.startsWith("json") && !b.info.includes("norun") && /"steps"\s*:/.test(b.code) && b.code.trim().startsWith("{"));
  it.each(scenarios.map((b) => [`${b.file}:${b.line}`, b] as const))("the scenario at %s is schema-valid and every expectation holds", async (_name, b) => {
    const json = JSON.parse(b.code) as unknown;
    expect(validate(JSON.parse(readFileSync(join(ROOT, "schema", "scenario.schema.json"), "utf8")) as Record<string, unknown>, json)).toBeUndefined();
    // a scenario with a device_model starts it (relative paths from the repository root)
    const failed = (await runScenarioAsync(json, { cwd: ROOT })).filter((r) => !r.pass);
    expect(failed.map((r) => `${r.index}: ${(r.diff ?? []).join("; ")}`)).toEqual([]);
  });

  it.each(ts.filter((b) => !b.info.includes("norun")).map((b) => [`${b.file}:${b.line}`, b] as const))("%s runs and shows what it claims", async (name, b) => {
    const file = join(RUN, `${name.replace(/[/:.]/g, "_")}.ts`);
    writeFileSync(file, instrument(b, join(ROOT, "test", "docs", "check.ts")));
    await import(file);
  });
});
