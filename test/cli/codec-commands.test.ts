import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";

let out = "";
let err = "";
beforeEach(() => {
  out = "";
  err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const SEED = "0f000000000000000700040002000000" + "00".repeat(16);

describe("xendm encode / decode / dump / layout", () => {
  it("encodes C-field JSON with symbolic names to lowercase hex", async () => {
    const json = JSON.stringify({ op: "XEN_DMOP_map_mem_type_to_ioreq_server", u: { map_mem_type_to_ioreq_server: { id: 7, type: "HVMMEM_ioreq_server", flags: 2 } } });
    expect(await main(["encode", "xen_dm_op", json])).toBe(0);
    expect(out).toBe(SEED + "\n");
  });

  it("decodes to JSON with 64-bit values as decimal strings", async () => {
    expect(await main(["decode", "xen_dm_op", SEED])).toBe(0);
    expect(JSON.parse(out)).toEqual({ op: 15, pad: 0, u: { map_mem_type_to_ioreq_server: { id: 7, type: 4, flags: 2, opaque: "0" } } });
  });

  it("dumps one field per line with names and meanings", async () => {
    expect(await main(["dump", "xen_dm_op", SEED])).toBe(0);
    expect(out).toMatch(/\+ {2}0 {2}0f 00 00 00 .*xen_dm_op\.op = 15 \(0xf\) {2}XEN_DMOP_map_mem_type_to_ioreq_server/);
    expect(out).toMatch(/flags = 2 {2}XEN_DMOP_IOREQ_MEM_ACCESS_WRITE/);
  });

  it("points at the offending byte of an invalid buffer and exits 2", async () => {
    expect(await main(["dump", "xen_dm_op", SEED.slice(0, -2) + "ff"])).toBe(2);
    expect(out).toMatch(/\^\^ xen_dm_op\.u at byte offset 31/);
    expect(err.trim().split("\n")).toHaveLength(1);
  });

  it("prints layouts in the probe's JSON shape, per ABI", async () => {
    expect(await main(["layout", "xen_dm_op_buf", "--arch", "i386", "--json"])).toBe(0);
    expect(JSON.parse(out)).toEqual({
      arch: "i386",
      types: [{ name: "xen_dm_op_buf", size: 8, align: 4, fields: [{ name: "h", offset: 0, size: 4 }, { name: "size", offset: 4, size: 4 }] }],
    });
  });

  it.each([
    [["encode", "xen_dm_op", '{"op":12,"u":{"set_mem_type":{"nr":4294967296}}}'], /xen_dm_op\.u\.set_mem_type\.nr at byte offset 8/],
    [["encode", "xen_dm_op", "{nope"], /invalid JSON/],
    [["decode", "ioreq_t", "zz"], /not hex/],
    [["decode", "xen_dm_op", SEED + "00"], /trailing|after the end/],
    [["decode", "nosuch", "00"], /no type "nosuch"/],
    [["layout", "--arch", "sparc"], /--arch must be one of/],
    [["encode"], /missing argument <type>/],
  ])("bad input %j exits 2 with a one-line message", async (args, msg) => {
    expect(await main(args)).toBe(2);
    expect(err).toMatch(msg);
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});
