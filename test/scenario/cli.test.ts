import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run as runCmd } from "../../src/cli/commands/run.js";
import { run as p2mCmd } from "../../src/cli/commands/p2m.js";

const dir = mkdtempSync(join(tmpdir(), "xendm-run-"));
function file(name: string, json: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof json === "string" ? json : JSON.stringify(json));
  return p;
}

function capture(): { out: () => string; err: () => string } {
  let o = "";
  let e = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((o += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((e += String(s)), true));
  return { out: () => o, err: () => e };
}

afterEach(() => {
  vi.restoreAllMocks();
});

const nv = { op: "XEN_DMOP_nr_vcpus" };
const good = { format: 1, domains: [{ domid: 1 }], steps: [{ dmop: { domid: 1, op: nv }, expect: { rc: 0, out: { u: { nr_vcpus: { vcpus: 2 } } } } }] };
const bad = { format: 1, domains: [{ domid: 1 }], steps: [{ dmop: { domid: 1, op: nv }, expect: { rc: "-EPERM" } }] };
const invalid = { format: 1, steps: [{ dmop: { domid: 1, op: nv, sise0: 3 } }] };

describe("xendm run", () => {
  it("exits 0 when every expectation holds, one line per step", async () => {
    const c = capture();
    expect(await runCmd([file("good.json", good)])).toBe(0);
    expect(c.out()).toMatch(/✓ +0 dmop +rc=0/);
    expect(c.out()).toMatch(/1\/1 steps passed/);
  });
  it("exits 1 on a failed expectation and prints the difference", async () => {
    const c = capture();
    expect(await runCmd([file("bad.json", bad)])).toBe(1);
    expect(c.out()).toMatch(/✗ +0 dmop +rc=0/);
    expect(c.out()).toMatch(/rc: expected -1 \(-EPERM\), got 0/);
  });
  it("exits 2 on an invalid file, naming the step and key", async () => {
    const c = capture();
    expect(await runCmd([file("good2.json", good), file("invalid.json", invalid)])).toBe(2);
    expect(c.err()).toMatch(/steps\[0\]\.dmop\.sise0: unknown key/);
    expect(await runCmd([file("syntax.json", "{ nope")])).toBe(2);
    expect(c.err()).toMatch(/not valid JSON/);
    expect(await runCmd([join(dir, "missing.json")])).toBe(2);
  });
  it("prints one JSON object per step with --json", async () => {
    const c = capture();
    expect(await runCmd(["--json", file("bad2.json", bad)])).toBe(1);
    const lines = c.out().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ index: 0, action: "dmop", pass: false, result: { rc: 0 }, diff: ["rc: expected -1 (-EPERM), got 0"] });
  });
  it("refuses unknown options and no files", async () => {
    capture();
    expect(await runCmd(["--frob"])).toBe(2);
    expect(await runCmd([])).toBe(2);
  });
});

describe("xendm p2m", () => {
  const sc = {
    format: 1, domains: [{ domid: 1 }],
    steps: [{ dmop: { domid: 1, op: { op: "set_mem_type", u: { set_mem_type: { mem_type: "HVMMEM_ram_ro", first_pfn: "0x100", nr: 16 } } } } }],
  };
  it("lists runs of equal type", async () => {
    const c = capture();
    expect(await p2mCmd([file("p.json", sc), "--domid", "1", "--from", "0xf0", "--to", "0x11f", "--no-color"])).toBe(0);
    expect(c.out()).toMatch(/0xf0-0xff +ram_rw +16/);
    expect(c.out()).toMatch(/0x100-0x10f +ram_ro +16/);
    expect(c.out()).toMatch(/0x110-0x11f +ram_rw +16/);
  });
  it("writes an SVG with one rect per run", async () => {
    capture();
    const out = join(dir, "p.svg");
    expect(await p2mCmd([file("p2.json", sc), "--domid", "1", "--svg", out])).toBe(0);
    const svg = readFileSync(out, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toMatch(/0x100-0x10f ram_ro \(16\)/);
  });
  it("refuses a missing domain or bad gfns", async () => {
    const c = capture();
    expect(await p2mCmd([file("p3.json", sc), "--domid", "7"])).toBe(2);
    expect(await p2mCmd([file("p4.json", sc)])).toBe(2);
    expect(await p2mCmd([file("p5.json", sc), "--domid", "1", "--from", "zz"])).toBe(2);
    expect(c.err()).toMatch(/--from: expected a decimal or 0x number, got "zz"/);
  });
});

describe("diffs", () => {
  it("name the values of symbolic fields on both sides", async () => {
    const c = capture();
    const sc = { format: 1, domains: [{ domid: 1 }], steps: [{ dmop: { domid: 1, op: nv }, expect: { out: { op: "XEN_DMOP_create_ioreq_server", u: { nr_vcpus: { vcpus: 3 } } } } }] };
    expect(await runCmd([file("named.json", sc)])).toBe(1);
    expect(c.out()).toMatch(/out\.op: expected XEN_DMOP_create_ioreq_server \(1\), got 20 \(XEN_DMOP_nr_vcpus\)/);
    expect(c.out()).toMatch(/out\.u\.nr_vcpus\.vcpus: expected 3, got 2$/m);
  });
});

describe("diffs of ioreq records", () => {
  it("show IOREQ_TYPE_* and STATE_* names, not bare numbers", async () => {
    const c = capture();
    const sc = JSON.parse(readFileSync(join(import.meta.dirname, "../../fixtures/scenarios/buffered-ioreqs.json"), "utf8")) as { steps: { expect: { ioreq: { fields: Record<string, unknown> } } }[] };
    sc.steps = sc.steps.slice(0, 5);
    Object.assign(sc.steps[4]!.expect.ioreq.fields, { type: "IOREQ_TYPE_COPY", state: 3 });
    expect(await runCmd([file("inv.json", sc)])).toBe(1);
    expect(c.out()).toMatch(/ioreq\.fields\.type: expected IOREQ_TYPE_COPY \(1\), got 8 \(IOREQ_TYPE_INVALIDATE\)/);
    expect(c.out()).toMatch(/ioreq\.fields\.state: expected 3 \(STATE_IORESP_READY\), got 1 \(STATE_IOREQ_READY\)/);
  });
});

describe("xendm run: directories, empty files, syntax errors", () => {
  it("a directory runs its *.json files in name order", async () => {
    const c = capture();
    const d = mkdtempSync(join(tmpdir(), "xendm-rundir-"));
    writeFileSync(join(d, "b.json"), JSON.stringify(good));
    writeFileSync(join(d, "a.json"), JSON.stringify(good));
    writeFileSync(join(d, "notes.txt"), "not a scenario");
    expect(await runCmd([d])).toBe(0);
    expect(c.out().split("\n").filter((l) => l.endsWith(".json"))).toEqual([join(d, "a.json"), join(d, "b.json")]);
    expect(c.out()).toMatch(/2\/2 steps passed/);
  });
  it("a file that runs no step exits 1", async () => {
    const c = capture();
    expect(await runCmd([file("empty.json", { format: 1, steps: [] })])).toBe(1);
    expect(c.out()).toMatch(/no steps: the file checks nothing/);
    expect(c.out()).toMatch(/1 file without steps/);
  });
  it("a JSON syntax error names its line and column", async () => {
    const c = capture();
    expect(await runCmd([file("syn.json", '{"format": 1,\n  "steps": [ }')])).toBe(2);
    expect(c.err()).toMatch(/not valid JSON at line 2, column 14: expected a value/);
  });
});

describe("names in expectations", () => {
  it("a misspelt name is an invalid file (exit 2) naming the key and the nearest name", async () => {
    const c = capture();
    const sc = { format: 1, domains: [{ domid: 1 }], steps: [{ query: { p2m: { domid: 1, first_gfn: "0x100", nr: 2 } }, expect: { types: ["ram_rw", "ram_rww"] } }] };
    expect(await runCmd([file("rww.json", sc)])).toBe(2);
    expect(c.err()).toMatch(/steps\[0\]\.expect\.types\[1\]: unknown name "ram_rww" \(did you mean "ram_rw"\?\)/);
  });
  it("known names in every spelling pass", async () => {
    capture();
    const sc = { format: 1, domains: [{ domid: 1 }], steps: [{ query: { p2m: { domid: 1, first_gfn: "0x100", nr: 2 } }, expect: { types: ["ram_rw", "HVMMEM_ram_rw"] } }] };
    expect(await runCmd([file("names.json", sc)])).toBe(0);
  });
});
