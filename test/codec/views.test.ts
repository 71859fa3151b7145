// pahole-style views: implicit holes and tail padding, bit positions, the offending bytes, JSON forms.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ARCHES, type AggregateLayout } from "../../abi/index.js";
import { dump, formatDump, formatLayout, holesOf, layout, layoutOf, stringifyJson } from "../../src/codec/index.js";
import { main } from "../../src/cli/main.js";
import { loadLayout } from "../abi/probe-fixtures-load.js";

let out = "";
beforeEach(() => {
  out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));

describe("holes", () => {
  it("finds privcmd_dm_op's 4-byte hole on LP64 and none on i386", () => {
    expect(holesOf(layoutOf("privcmd_dm_op"))).toEqual([{ kind: "hole", offset: 4, size: 4 }]);
    expect(holesOf(layoutOf("privcmd_dm_op", { arch: "i386" }))).toEqual([]);
  });
  it("finds tail padding and bit holes in a synthetic struct", () => {
    const L = { kind: "struct", name: "t", size: 16, align: 8, decl: undefined as never, fields: [
      { name: "a", offset: 0, size: 1, type: { kind: "int", name: "u8", size: 1, align: 1 }, pad: false, bitOffset: 0, bitWidth: 3, unitOffset: 0, unitSize: 1 },
      { name: "b", offset: 4, size: 4, type: { kind: "int", name: "u32", size: 4, align: 4 }, pad: false },
    ] } as unknown as AggregateLayout;
    expect(holesOf(L)).toEqual([
      { kind: "hole", offset: 0, size: 0, bitOffset: 3, bitWidth: 5 },
      { kind: "hole", offset: 1, size: 3 },
      { kind: "padding", offset: 8, size: 8 },
    ]);
    const text = formatLayout(L);
    expect(text).toContain("/* XXX 5 bits hole */  bits 3..7");
    expect(text).toContain("/* XXX 3 bytes hole */");
    expect(text).toContain("+   8     8  /* padding: 8 */");
    expect(text.split("\n")[0]).toContain("/* holes: 2, sum holes: 3 bytes 5 bits, padding: 8 */");
  });
  it("every hole of every ABI type is a span no field covers", () => {
    for (const arch of ARCHES) for (const t of layout(undefined, { arch }).types) {
      const L = layoutOf(t.name.includes(".") ? "xen_dm_op" : t.name, { arch });
      for (const h of holesOf(L)) for (const f of L.fields) {
        if (h.bitWidth === undefined && f.bitOffset === undefined) expect(f.offset + f.size <= h.offset || f.offset >= h.offset + h.size).toBe(true);
      }
    }
  });
});

describe("xendm layout", () => {
  it("prints holes pahole's way and bit positions as dump does", async () => {
    expect(await main(["layout", "privcmd_dm_op"])).toBe(0);
    expect(out).toMatch(/^struct privcmd_dm_op.* size 16 {2}align 8 {2}\/\* holes: 1, sum holes: 4 \*\/$/m);
    expect(out).toMatch(/^ {2}\+ {3}4 {5}4 {2}\/\* XXX 4 bytes hole \*\/$/m);
    out = "";
    expect(await main(["layout", "ioreq_t"])).toBe(0);
    expect(out).toMatch(/\+ {2}30 {5}1 {2}state {2}bits 0\.\.3/);
    expect(out).toMatch(/\+ {2}30 {5}1 {2}dir {2}bit 5/);
    out = "";
    await main(["dump", "ioreq_t", "00".repeat(30) + "2000"]);
    expect(out).toMatch(/ioreq\.state bits 0\.\.3 = 0/);
    expect(out).toMatch(/ioreq\.dir bit 5 = 1/);
  });
  it.each(ARCHES)("--json on %s is the C probe's fixture, in its order", async (arch) => {
    expect(await main(["layout", "--json", "--arch", arch])).toBe(0);
    const got = JSON.parse(out) as ReturnType<typeof layout>;
    const want = loadLayout(arch);
    expect(got.types.map((t) => t.name)).toEqual(want.types.map((t) => t.name));
    expect(got.types).toEqual(want.types);
  });
});

describe("xendm dump", () => {
  const SEED = "0f000000000000000700040002000000" + "00".repeat(16);
  it("shows a union's bytes past the selected member and points at the offending byte only", async () => {
    expect(await main(["dump", "xen_dm_op", SEED.slice(0, -2) + "ff"])).toBe(2);
    const lines = out.split("\n");
    const i = lines.findIndex((l) => l.startsWith("+ 24  00 00 00 00 00 00 00 ff  xen_dm_op.u  /* 8 bytes of u past map_mem_type_to_ioreq_server */"));
    expect(i).toBeGreaterThan(0);
    // the carets sit under "ff", the 8th byte of the line
    expect(lines[i + 1]).toBe(" ".repeat(6 + 21) + "^^ xen_dm_op.u at byte offset 31: bytes beyond the selected union member must be zero, found 0xff");
  });
  it("shows an implicit hole and its non-zero byte", () => {
    const lines = dump("privcmd_dm_op", hex("0100 0200 00ff0000 0000000000000000"));
    const h = lines.find((l) => l.gap === "hole")!;
    expect(h).toMatchObject({ offset: 4, size: 4, comment: "/* XXX 4 bytes hole */", errorSpan: { offset: 5, size: 1 } });
    expect(formatDump(lines)).toContain("\n         ^^ privcmd_dm_op.(padding) at byte offset 5");
  });
  it("marks the missing bytes of a short buffer", () => {
    const lines = dump("xen_dm_op_buf", hex("0000000003000000ffff"));
    const cut = lines.find((l) => l.error !== undefined)!;
    expect(cut).toMatchObject({ offset: 8, raw: "ff ff -- -- -- -- -- --", errorSpan: { offset: 10, size: 6 } });
    expect(cut.value).toBeUndefined();
  });
  it("shows bytes past sizeof", () => {
    const lines = dump("xen_dm_op_buf", hex("00".repeat(16) + "01"));
    expect(lines.at(-1)).toMatchObject({ offset: 16, size: 1, gap: "trailing", errorSpan: { offset: 16, size: 1 } });
  });
  it("--json gives the lines, 64-bit values as decimal strings", async () => {
    const b = "0c000000000000000100000004000000" + "ffffffffffffffff" + "0000000000000000";
    expect(await main(["dump", "--json", "xen_dm_op", b])).toBe(0);
    const lines = JSON.parse(out) as Record<string, unknown>[];
    expect(lines.find((l) => l.path === "xen_dm_op.u.set_mem_type.first_pfn")).toMatchObject({ offset: 16, size: 8, value: "18446744073709551615" });
    expect(lines.find((l) => l.path === "xen_dm_op.u.set_mem_type.mem_type")).toMatchObject({ value: 4, meaning: "HVMMEM_ioreq_server" });
    expect(lines.find((l) => l.gap === "union-tail")).toMatchObject({ offset: 24, size: 8 });
  });
});

describe("64-bit values in JSON", () => {
  it("are decimal strings in decode, dump --json, run --json and stringifyJson alike", async () => {
    const b = "0c000000000000000100000004000000" + "0000000000000080" + "0000000000000000";
    expect(await main(["decode", "xen_dm_op", b])).toBe(0);
    expect((JSON.parse(out) as { u: { set_mem_type: { first_pfn: unknown } } }).u.set_mem_type.first_pfn).toBe("9223372036854775808");
    expect(stringifyJson({ a: 2n ** 63n, b: 1, c: new Uint8Array([1, 255]) })).toBe('{"a":"9223372036854775808","b":1,"c":"01ff"}');
  });
});
