// What npm ships: the tarball's contents by an allow-list, and a fresh ESM TypeScript project that
// installs it (offline: its dependencies are packed from this checkout's node_modules), type-checks a
// program using the codec, the fake, DeviceModel and IoreqClient with strict settings and
// skipLibCheck false, runs it, require()s the package from CommonJS and runs `npx xendm demo`.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** What may be in the tarball. */
const ALLOWED: readonly RegExp[] = [
  /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/,
  /^bin\/xendm\.js$/,
  /^dist\/(src|abi)\/.+\.(js|d\.ts)$/,
  /^fixtures\/.+\.(json|jsonl)$/,
  /^schema\/.+\.json$/,
  /^native\/(.+\/)?[\w-]+\.[ch]$/,
  /^native\/(.+\/)?Makefile$/,
  /^schema\/[\w.-]+\.json$/,
];
/** What must be there. */
const REQUIRED = ["package.json", "LICENSE", "CHANGELOG.md", "bin/xendm.js", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/cli/main.js", "native/Makefile", "fixtures/layouts/x86_64.json", "fixtures/scenarios/claim.json"];

let scratch = "";
let files: string[] = [];
const run = (cmd: string, args: string[], cwd: string): string => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "xendm-consumer-"));
  const packed = JSON.parse(run(NPM, ["pack", "--json", "--pack-destination", scratch], ROOT)) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  run(NPM, ["pack", "--pack-destination", scratch, join(ROOT, "node_modules", "restructure")], ROOT);
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run(NPM, ["install", "--offline", "--no-audit", "--no-fund", "--omit=optional", `./${packed[0]!.filename}`, "./restructure-3.0.2.tgz"], scratch);
}, 240_000);
afterAll(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds only allow-listed files: built JS and declarations, fixtures, native sources", () => {
    expect(files.filter((f) => !ALLOWED.some((re) => re.test(f)))).toEqual([]);
    for (const f of REQUIRED) expect(files).toContain(f);
    expect(files.some((f) => f.endsWith(".map") || /\.so$|\.o$|^native\/build\//.test(f))).toBe(false);
  });

  it("type-checks a strict consumer with skipLibCheck false and runs it", () => {
    copyFileSync(join(ROOT, "test", "package", "consumer", "main.ts"), join(scratch, "main.ts"));
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", target: "es2022", skipLibCheck: false, outDir: "out", typeRoots: [join(ROOT, "node_modules", "@types")], types: ["node"] },
        files: ["main.ts"],
      }),
    );
    run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], scratch);
    const out = JSON.parse(run(process.execPath, ["out/main.js"], scratch)) as Record<string, unknown>;
    expect(out).toMatchObject({ seed: "0f000000000000000700040002000000" + "00".repeat(16), id7: 7, addr: "3f8", status: "done", value: "18", requests: 1, refused: true, layouts: 33 });
    expect(out.scenarioSteps).toBeGreaterThan(0);
  }, 120_000);

  it("can be required from CommonJS (Node >= 20.19)", () => {
    writeFileSync(join(scratch, "req.cjs"), 'const x = require("xendm"); console.log(typeof x.encode, x.decode("xen_dm_op_buf", new Uint8Array(16)).size);\n');
    expect(run(process.execPath, ["req.cjs"], scratch)).toBe("function 0n\n");
  });

  it("runs `npx xendm demo` and `npx xendm --version` from the installed package", () => {
    expect(run("npx", ["--offline", "xendm", "demo", "--no-color"], scratch)).toContain("summary: 3 guest writes became ioreqs");
    expect(run("npx", ["--offline", "xendm", "--version"], scratch)).toMatch(/^xendm \d+\.\d+\.\d+/);
  }, 60_000);
});
