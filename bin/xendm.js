#!/usr/bin/env node
// Entry point. In a checkout (src/ is present) it always runs the TypeScript sources through tsx, so a
// dist/ left over from an earlier build is never what runs; an installed package has no src/ and runs
// the compiled dist/.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
let main;
if (existsSync(source)) {
  let tsImport;
  try {
    ({ tsImport } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write("xendm: this is a checkout (src/ is present) but tsx is missing: run 'npm ci'\n");
    process.exit(2);
  }
  ({ main } = await tsImport(pathToFileURL(source).href, import.meta.url));
} else {
  ({ main } = await import(pathToFileURL(join(root, "dist", "src", "cli", "main.js")).href));
}
process.exitCode = await main(process.argv.slice(2));
