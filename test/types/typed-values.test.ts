// The generated value types: current with abi/, and strict enough that mistyped uses do not compile.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { generateTypes } from "../../scripts/gen-types.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const USAGE = join(ROOT, "test", "types", "usage.ts");

type Diag = { line: number; message: string };

/** Type-checks virtual files (path -> text) in one program with the project's options. */
function diagnostics(files: Readonly<Record<string, string>>): Record<string, Diag[]> {
  const cfg = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const host = ts.createCompilerHost(cfg.options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => files[f] ?? read(f);
  host.fileExists = (f) => f in files || exists(f);
  const program = ts.createProgram(Object.keys(files), { ...cfg.options, noEmit: true }, host);
  const out: Record<string, Diag[]> = Object.fromEntries(Object.keys(files).map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const f = d.file?.fileName;
    if (f === undefined || !(f in out)) continue;
    out[f]!.push({ line: d.file!.getLineAndCharacterOfPosition(d.start!).line + 1, message: ts.flattenDiagnosticMessageText(d.messageText, "\n") });
  }
  return out;
}

describe("generated value types", () => {
  it("are what scripts/gen-types.ts makes from abi/ today", () => {
    expect(readFileSync(join(ROOT, "src", "codec", "types.generated.ts"), "utf8")).toBe(generateTypes());
  });

  const text = readFileSync(USAGE, "utf8");
  const marked = text.split("\n").flatMap((l, i) => (l.trim().startsWith("// @ts-expect-error") ? [i + 2] : []));

  it("type-check the typed uses; without the markers each mistyped line fails to compile, and no other", () => {
    expect(marked.length).toBeGreaterThanOrEqual(7);
    const BARE = join(ROOT, "test", "types", "usage-unmarked.ts");
    const d = diagnostics({ [USAGE]: text, [BARE]: text.replace(/\/\/ @ts-expect-error.*$/gm, "//") });
    expect(d[USAGE]).toEqual([]);
    expect([...new Set(d[BARE]!.map((x) => x.line))].sort((a, b) => a - b)).toEqual(marked);
  }, 90_000);
});
