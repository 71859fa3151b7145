// npm run bench: runs every bench/*.bench.ts in its own process, one after the other (the machines are
// small and noisy: never in parallel), and collects their tables into bench/results/summary.md.
//   npm run bench [-- name ...] [-- --quick]
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RESULTS_DIR } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));
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
    env: { ...process.env, NODE_OPTIONS: "" },
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
writeFileSync(join(RESULTS_DIR, "summary.md"), `# Benchmark results\n\nnode ${process.version}, ${new Date().toISOString()}\n\n${sections.join("\n")}`);
process.exitCode = failed === 0 ? 0 : 1;
