// The demo runs, exits 0, and tells the XenGT story with the facts the fake produced.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run, summary } from "../../src/cli/commands/demo.js";
import { p2mBar, renderSvg, renderText } from "../../src/demo/render.js";
import { PT_FIRST_GFN, PT_PAGES, runXengtDemo } from "../../src/demo/xengt.js";

describe("the XenGT demo", () => {
  const r = runXengtDemo();
  const f = r.facts;

  it("every DMOP went through the dispatcher and succeeded", () => {
    expect(f.dmops.map((d) => d.op)).toEqual([
      "create_ioreq_server",
      "get_ioreq_server_info",
      "set_ioreq_server_state",
      "map_mem_type_to_ioreq_server",
      "set_mem_type",
      "map_mem_type_to_ioreq_server",
      "destroy_ioreq_server",
    ]);
    expect(f.dmops.every((d) => d.rc === 0)).toBe(true);
    expect(f.ioreqGfn).toBe(0xfff0n);
  });

  it("the page tables go ram_rw -> ioreq_server -> ram_rw", () => {
    expect(f.before).toEqual(new Array(PT_PAGES).fill("ram_rw"));
    expect(f.during).toEqual(new Array(PT_PAGES).fill("ioreq_server"));
    expect(f.after).toEqual(new Array(PT_PAGES).fill("ram_rw"));
    const during = r.steps.find((s) => s.kind === "p2m" && s.label === "during");
    expect(during?.kind === "p2m" ? during.types.filter((t) => t === "ioreq_server").length : 0).toBe(PT_PAGES);
  });

  it("each guest write arrived as a COPY ioreq, was shadowed and completed; reads made no ioreq", () => {
    expect(f.trapped.map((t) => [Number(t.addr >> 12n), t.size])).toEqual([
      [PT_FIRST_GFN, 8],
      [PT_FIRST_GFN, 8],
      [PT_FIRST_GFN + 2, 8],
    ]);
    expect([...f.shadow.values()]).toEqual(f.trapped.map((t) => t.data));
    expect(f.reads).toEqual([
      { addr: BigInt(PT_FIRST_GFN * 0x1000 + 0x10), value: 0x1_2345_6003n, ioreq: false },
      { addr: BigInt(PT_FIRST_GFN * 0x1000 + 0x18), value: 0x1_2345_7003n, ioreq: false },
    ]);
    expect(f.untrappedAfter).toBe(1);
    expect(f.invalidates).toBe(1);
    const guestSteps = r.steps.filter((s) => s.kind === "guest");
    expect(guestSteps.every((s) => s.kind === "guest" && s.result.status === "done")).toBe(true);
  });

  it("the annotated dump is the real slot bytes", () => {
    const io = r.steps.find((s) => s.kind === "ioreq");
    expect(io?.kind).toBe("ioreq");
    if (io?.kind !== "ioreq") return;
    expect(Buffer.from(io.ioreq.bytes).toString("hex")).toBe("1000000300000000036045230100000001000000080000000100000000000101");
    expect(io.ioreq.lines.find((l) => l.path === "ioreq.type")?.meaning).toBe("IOREQ_TYPE_COPY");
  });

  it("renders plain text without escape codes, and colour bars with them", () => {
    const plain = renderText(r, { color: false });
    expect(plain).not.toContain("\x1b[");
    expect(plain).toContain("............WWWW................");
    expect(plain).toContain("ioreq.addr = 0x3000010");
    expect(renderText(r, { color: true })).toContain("\x1b[48;5;");
    expect(p2mBar(["ram_rw", "ioreq_server"], false)).toBe(".W");
  });

  it("renders an SVG with three p2m rows", () => {
    const svg = renderSvg(r);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect x="\d+" y="\d+" width="20"/g)).toHaveLength(3 * 32);
    expect(svg).toContain("gfn 0x3000: ioreq_server");
  });
});

describe("xendm demo", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("exits 0, writes the story and an SVG", async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      out.push(typeof s === "string" ? s : Buffer.from(s).toString());
      return true;
    });
    const dir = mkdtempSync(join(tmpdir(), "xendm-demo-"));
    try {
      const file = join(dir, "p2m.svg");
      expect(await run(["--no-color", "--svg", file])).toBe(0);
      expect(readFileSync(file, "utf8")).toContain("</svg>");
      const text = out.join("");
      expect(text).toContain("summary: 3 guest writes became ioreqs");
      expect(text).not.toContain("\x1b[");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses unknown options", async () => {
    let err = "";
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
    expect(await run(["--bogus"])).toBe(2);
    expect(err).toMatch(/unknown option --bogus/);
    expect(summary).toMatch(/p2m_ioreq_server/);
  });
});
