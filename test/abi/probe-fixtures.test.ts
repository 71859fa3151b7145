// The committed fixtures under fixtures/layouts and fixtures/vectors must be exactly what the C probes
// (abi/probe/generate.sh) produce from the installed Xen headers.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ARCHES, loadLayout, loadVectorFiles } from "./probe-fixtures-load.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TOOLS = [
  "gcc",
  "objcopy",
  "i686-linux-gnu-gcc",
  "i686-linux-gnu-objcopy",
  "aarch64-linux-gnu-gcc",
  "aarch64-linux-gnu-objcopy",
  "arm-linux-gnueabihf-gcc",
  "arm-linux-gnueabihf-objcopy",
];

function missingNative(): string[] {
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (!existsSync("/usr/include/xen/hvm/dm_op.h")) missing.push("libxen-dev (/usr/include/xen/hvm/dm_op.h)");
  return missing;
}

const missing = missingNative();
const canRun = missing.length === 0 || process.env.CI === "true";
if (!canRun) {
  console.warn(`\n*** SKIPPING abi probe check: missing ${missing.join(", ")} (set CI=true to make this a failure) ***\n`);
}

describe.skipIf(!canRun)("abi probe fixtures", () => {
  it("check.sh regenerates fixtures identical to the committed ones", () => {
    const r = spawnSync("bash", [join(root, "abi/probe/check.sh")], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr + r.stdout).toContain("fixtures match the probes");
    expect(r.status).toBe(0);
  });
});

describe("abi probe fixture files", () => {
  const files: string[] = [];
  for (const sub of ["layouts", "vectors"]) {
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".json")) files.push(join(d, e.name));
      }
    };
    walk(join(root, "fixtures", sub));
  }

  it("exist for every arch", () => {
    for (const arch of ["x86_64", "i386", "arm64", "arm32"]) {
      expect(files).toContain(join(root, "fixtures", "layouts", `${arch}.json`));
    }
    expect(files.filter((f) => f.includes(join("vectors", "x86_64"))).length).toBeGreaterThan(25);
  });

  it("are pretty JSON with a trailing newline (JSON.stringify(v, null, 2))", () => {
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(JSON.stringify(JSON.parse(text), null, 2) + "\n", f).toBe(text);
    }
  });
});

describe("abi probe fixtures agree with each other", () => {
  const layouts = new Map(ARCHES.map((a) => [a, new Map(loadLayout(a).types.map((t) => [t.name, t]))]));

  it("every vector file's cases have the layout's size and top-level fields", () => {
    const problems: string[] = [];
    for (const { file, data } of loadVectorFiles()) {
      const t = layouts.get(data.arch)?.get(data.type);
      if (t === undefined) {
        problems.push(`${file}: no type ${data.type} in layouts/${data.arch}.json`);
        continue;
      }
      const names = t.fields.map((f) => f.name).join(",");
      for (const c of data.cases) {
        if (c.hex.length !== 2 * t.size) problems.push(`${file} ${c.name}: ${c.hex.length / 2} bytes, layout ${t.size}`);
        if (Object.keys(c.value).join(",") !== names) problems.push(`${file} ${c.name}: fields ${Object.keys(c.value).join(",")}, layout ${names}`);
      }
      for (const c of data.must_fail) {
        const [root, member] = c.error.path.split(".");
        if (root !== data.type) problems.push(`${file} ${c.name}: path ${c.error.path} outside ${data.type}`);
        if (member !== undefined && !t.fields.some((f) => f.name === member)) problems.push(`${file} ${c.name}: no member ${member}`);
        if (c.error.offset < 0 || c.error.offset > t.size) problems.push(`${file} ${c.name}: offset ${c.error.offset} outside 0..${t.size}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("the xen_dm_op.u union lists one member per op, each the size of its payload struct", () => {
    for (const arch of ARCHES) {
      const types = layouts.get(arch)!;
      const u = types.get("xen_dm_op.u")!;
      expect(u.fields).toHaveLength(20);
      for (const f of u.fields) {
        expect(f.offset).toBe(0);
        expect(f.size).toBeLessThanOrEqual(u.size);
      }
      expect(types.get("xen_dm_op")!.fields.map((f) => `${f.name}@${f.offset}+${f.size}`)).toEqual(["op@0+4", "pad@4+4", "u@8+24"]);
    }
  });
});
