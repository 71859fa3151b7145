#!/usr/bin/env node
// Entry point: use the compiled CLI when present, otherwise run the TypeScript sources through tsx.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "src", "cli", "main.js");
if (existsSync(compiled)) {
  const { main } = await import(pathToFileURL(compiled).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { tsImport } = await import("tsx/esm/api");
  const { main } = await tsImport(pathToFileURL(join(root, "src", "cli", "main.ts")).href, import.meta.url);
  process.exitCode = await main(process.argv.slice(2));
}
