// README's quick tour runs as written: each command in a scratch directory that looks like a checkout
// (its bin, src, fixtures, native, node_modules linked in), the `# ` lines under a command are lines
// its output must hold, `# exits N` names an expected non-zero status. `npm ci` is the set-up the test
// already stands on. The C part needs gcc and libxen-dev: without them it is skipped loudly (never
// under CI=true).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { blocks, ROOT } from "./snippets.js";

interface Step {
  line: number;
  command: string;
  output: string[];
  exit: number;
}

function tour(): { alias: string; steps: Step[] } {
  const b = blocks("README.md").find((x) => x.info === "sh" && x.code.startsWith("npm ci\n"));
  if (b === undefined) throw new Error("README.md: no quick tour block");
  const lines = b.code.split("\n");
  const steps: Step[] = [];
  let alias = "";
  let prev: Step | undefined;
  lines.forEach((l, k) => {
    if (l.trim() === "") {
      prev = undefined;
      return;
    }
    if (l.startsWith("#")) {
      if (prev !== undefined) prev.output.push(l.replace(/^# ?/, ""));
      return;
    }
    if (l === "npm ci") return;
    if (l.startsWith("alias ")) {
      alias = l;
      return;
    }
    const exit = /#\s*exits (\d+)/.exec(l);
    prev = { line: b.line + k, command: l, output: [], exit: exit !== null ? Number(exit[1]) : 0 };
    steps.push(prev);
  });
  return { alias, steps };
}

const haveC = spawnSync("sh", ["-c", "command -v gcc && test -e /usr/include/xendevicemodel.h"]).status === 0;
if (!haveC && process.env.CI !== "true") process.stderr.write("\n*** README tour: gcc or libxen-dev missing: the C steps are SKIPPED ***\n\n");

const dir = mkdtempSync(join(tmpdir(), "xendm-tour-"));
for (const f of ["bin", "src", "abi", "fixtures", "native", "node_modules", "package.json", "tsconfig.json"]) symlinkSync(join(ROOT, f), join(dir, f));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("README quick tour", () => {
  const { alias, steps } = tour();
  it("defines the alias and has commands", () => {
    expect(alias).toBe('alias xendm="node bin/xendm.js"          # or: npx xendm, where the package is installed');
    expect(steps.length).toBeGreaterThan(8);
  });
  // in order: later steps use what earlier ones made (the native build, the trace)
  for (const s of steps) {
    const native = /make -C native|native\/build|trace\.jsonl|device-model\//.test(s.command);
    it.skipIf(native && !haveC)(`line ${s.line}: ${s.command.slice(0, 70)}`, () => {
      const r = spawnSync("bash", ["-c", `shopt -s expand_aliases\n${alias}\n${s.command}\n`], { cwd: dir, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
      expect(r.status, `${s.command}\n${r.stderr}`).toBe(s.exit);
      const got = r.stdout.split("\n").map((l) => l.trimEnd());
      for (const want of s.output) expect(got, `README.md:${s.line} claims the line ${JSON.stringify(want)}`).toContain(want.trimEnd());
    }, 130_000);
  }
});
