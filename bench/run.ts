// npm run bench: runs every bench/*.bench.ts in its own process, one after the other (the machines are
// small and noisy: never in parallel), and collects their tables into <out>/summary.md.
//   npm run bench [-- name ...] [-- --quick] [-- --out DIR] [-- --save]
// Results go to bench/out/ (ignored by git), or DIR; --save writes the committed bench/results/ instead,
// for a change that means to update the published figures.
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdirSync } from "node:fs";
import { COMMITTED_DIR, RESULTS_DIR } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const outAt = args.indexOf("--out");
const outDir = args.includes("--save") ? COMMITTED_DIR : outAt >= 0 && args[outAt + 1] !== undefined ? args[outAt + 1]! : RESULTS_DIR;
const only = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1] === "--out"));
mkdirSync(outDir, { recursive: true });
process.stdout.write(`results: ${outDir}\n`);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const sections: string[] = [];
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n## ${f}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, f), ...(quick ? ["--quick"] : [])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_OPTIONS: "", XENDM_BENCH_OUT: outDir },
  });
  const out = r.stdout;
  process.stdout.write(out);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`(${f} exited ${r.status ?? r.signal ?? "?"})\n`);
  }
  sections.push(`## ${f.replace(/\.bench\.ts$/, "")} (${secs} s)\n\n${out.trim()}\n`);
}
writeFileSync(join(outDir, "summary.md"), `# Benchmark results\n\nnode ${process.version}, ${new Date().toISOString()}\n\n${sections.join("\n")}`);
process.exitCode = failed === 0 ? 0 : 1;
