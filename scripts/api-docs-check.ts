// The API reference's health: runs TypeDoc (no output written) on the package root and sorts its
// warnings into broken links (none allowed), and undocumented or unreachable exports, which may only
// shrink: docs/api-undocumented.txt lists the ones known today. `--update` rewrites that list.
//   npm run docs:check [-- --update]
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BASELINE = join(ROOT, "docs", "api-undocumented.txt");

export interface ApiDocReport {
  /** link warnings: a {@link} or a relative link TypeDoc cannot resolve */
  links: string[];
  /** "Name (Kind)" of exports without a doc comment, and "Name" of types referenced but not exported */
  undocumented: string[];
  other: string[];
}

export function runTypedoc(): ApiDocReport {
  const r = spawnSync(process.execPath, [join(ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--emit", "none", "--logLevel", "Warn"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").map((l) => l.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "").trim()).filter((l) => l.startsWith("[warning]") || l.startsWith("[error]"));
  const out: ApiDocReport = { links: [], undocumented: [], other: [] };
  for (const l of lines) {
    const text = l.replace(/^\[(warning|error)\]\s*/, "");
    let m: RegExpExecArray | null;
    if ((m = /^(.+?), defined in .+?, does not have any documentation$/.exec(text)) !== null) out.undocumented.push(m[1]!);
    else if ((m = /^(.+?), defined in .+?, is referenced by .+ but not included in the documentation$/.exec(text)) !== null) out.undocumented.push(`${m[1]!} (not exported)`);
    else if (/link|resolve/i.test(text)) out.links.push(text);
    else if (!/^Found \d+ errors and \d+ warnings$/.test(text)) out.other.push(text);
  }
  out.undocumented = [...new Set(out.undocumented)].sort();
  if (r.status !== 0 && lines.some((l) => l.startsWith("[error]"))) out.other.push(...lines.filter((l) => l.startsWith("[error]")));
  return out;
}

export function baseline(): string[] {
  return readFileSync(BASELINE, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rep = runTypedoc();
  if (process.argv.includes("--update")) {
    writeFileSync(BASELINE, ["# Exports of the package root without a doc comment (or types they use that are not exported).", "# The API docs check lets this list shrink, never grow: document an export, then `npm run docs:check -- --update`.", ...rep.undocumented, ""].join("\n"));
  }
  const known = new Set(baseline());
  const added = rep.undocumented.filter((u) => !known.has(u));
  for (const l of rep.links) process.stdout.write(`broken link: ${l}\n`);
  for (const a of added) process.stdout.write(`undocumented export: ${a}\n`);
  for (const o of rep.other) process.stdout.write(`${o}\n`);
  process.stdout.write(`${rep.undocumented.length} undocumented (baseline ${known.size}), ${rep.links.length} broken links\n`);
  process.exitCode = rep.links.length > 0 || added.length > 0 || rep.other.length > 0 ? 1 : 0;
}
