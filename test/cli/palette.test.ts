import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { P2M_TYPES } from "../../src/hypervisor/p2m-types.js";
import { main } from "../../src/cli/main.js";
import { legend, P2M_STYLES, styleOf } from "../../src/view/palette.js";

function capture(): () => string {
  let o = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((o += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  return () => o;
}
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const dir = mkdtempSync(join(tmpdir(), "xendm-palette-"));
const scenario = join(dir, "ro.json");
writeFileSync(scenario, JSON.stringify({
  format: 1, domains: [{ domid: 1 }],
  steps: [
    { dmop: { domid: 1, op: { op: "create_ioreq_server", u: { create_ioreq_server: { handle_bufioreq: 0 } } } }, expect: { rc: 0 } },
    { dmop: { domid: 1, op: { op: "map_mem_type_to_ioreq_server", u: { map_mem_type_to_ioreq_server: { id: 0, type: "HVMMEM_ioreq_server", flags: 2 } } } }, expect: { rc: 0 } },
    { dmop: { domid: 1, op: { op: "set_mem_type", u: { set_mem_type: { mem_type: "HVMMEM_ioreq_server", first_pfn: "0x100", nr: 4 } } } }, expect: { rc: 0 } },
  ],
}));

describe("the p2m palette", () => {
  it("has one distinct symbol and colour per Xen p2m type", () => {
    expect(Object.keys(P2M_STYLES).sort()).toEqual([...P2M_TYPES].sort());
    const symbols = P2M_TYPES.map((t) => styleOf(t).symbol);
    expect(new Set(symbols).size).toBe(P2M_TYPES.length);
    expect(symbols.every((s) => s.length === 1 && s !== " ")).toBe(true);
    expect(new Set(P2M_TYPES.map((t) => styleOf(t).ansi)).size).toBe(P2M_TYPES.length);
    expect(styleOf("toString").symbol).toBe("?");
  });

  it("demo and p2m draw the same symbols and print the same legend lines", async () => {
    const out = capture();
    expect(await main(["demo", "--no-color"])).toBe(0);
    const demo = out();
    vi.restoreAllMocks();
    const out2 = capture();
    expect(await main(["p2m", scenario, "--domid", "1", "--from", "0xfc", "--to", "0x107", "--no-color"])).toBe(0);
    const p2m = out2();
    const lines = legend(["ram_rw", "ioreq_server"], false);
    expect(lines[0]).toMatch(/^'\.' ram_rw +guest RAM$/);
    for (const l of lines) {
      expect(demo).toContain(`  ${l}\n`);
      expect(p2m).toContain(`  ${l}\n`);
    }
    expect(demo).toContain("WWWW");
    expect(p2m).toContain("....WWWW....");
  });

  it.each([
    [{ NO_COLOR: "1" }, [], false],
    [{ TERM: "dumb" }, ["--color"], true],
    [{ FORCE_COLOR: "1" }, [], true],
    [{ FORCE_COLOR: "1" }, ["--no-color"], false],
  ])("env %j with %j: colour %s", async (env, flags, want) => {
    vi.stubEnv("NO_COLOR", undefined);
    vi.stubEnv("FORCE_COLOR", undefined);
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const out = capture();
    expect(await main(["p2m", scenario, "--domid", "1", "--to", "0x200", ...flags])).toBe(0);
    expect(out().includes("\x1b[")).toBe(want);
  });
});
