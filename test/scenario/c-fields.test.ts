// Scenario inputs are C-field JSON: one-bit fields take 0/1 as well as booleans. Buffered sends are
// reported as the ring slots they fill (buf_ioreq_t fields, 8 bytes of hex each), as Xen writes them.
import { describe, expect, it } from "vitest";
import { parseScenario, runScenario, ScenarioError } from "../../src/scenario/index.js";
import { GuestAccessError } from "../../src/hypervisor/emulate.js";
import { host } from "../emulate/helpers.js";

const w = (steps: unknown[]): unknown => ({ format: 1, domains: [{ domid: 1, vcpus: 1 }], steps });
const server = (bufioreq: string) => [
  { dmop: { domid: 1, op: { op: "create_ioreq_server", u: { create_ioreq_server: { handle_bufioreq: bufioreq } } } }, expect: { rc: 0 } },
  { dmop: { domid: 1, op: { op: "map_io_range_to_ioreq_server", u: { map_io_range_to_ioreq_server: { id: 0, type: 0, start: "0x60", end: "0x60" } } } }, expect: { rc: 0 } },
  { dmop: { domid: 1, op: { op: "map_io_range_to_ioreq_server", u: { map_io_range_to_ioreq_server: { id: 0, type: 1, start: "0xa0000", end: "0xbffff" } } } }, expect: { rc: 0 } },
  { dmop: { domid: 1, op: { op: "get_ioreq_server_info", u: { get_ioreq_server_info: { id: 0 } } } }, expect: { rc: 0 } },
  { dmop: { domid: 1, op: { op: "set_ioreq_server_state", u: { set_ioreq_server_state: { id: 0, enabled: 1 } } } }, expect: { rc: 0 } },
  // the pages were gfn-mapped: the first guest step sends INVALIDATE, then a read of port 0x60
  { guest: { domid: 1, pio: { port: "0x60", size: 1, dir: "read" } }, expect: { ioreq: { fields: { type: "IOREQ_TYPE_INVALIDATE" } } } },
  { emulator: { domid: 1, server: 0, vcpu: 0, respond: {} }, expect: { pending: true } },
  { emulator: { domid: 1, server: 0, vcpu: 0, respond: { data: 1 } }, expect: { pending: false } },
];

describe("one-bit fields in guest steps", () => {
  it("df and data_is_ptr take 0 and 1 as well as true and false", () => {
    const cases: [unknown, unknown, boolean, boolean][] = [[1, 1, true, true], [true, true, true, true], [0, 0, false, false], [false, false, false, false], ["1", "0", true, false]];
    for (const [df, ptr, wantDf, wantPtr] of cases) {
      const sc = parseScenario(w([{ guest: { domid: 1, pio: { port: "0x60", size: 1, dir: "read", count: 2, df, data_is_ptr: ptr, data: "0x1000" } } }]));
      expect(sc.steps[0]).toMatchObject({ df: wantDf, data_is_ptr: wantPtr });
    }
  });

  it("anything else is a ScenarioError naming the field", () => {
    for (const bad of [2, -1, "yes", null, 0.5]) {
      let e: unknown = null;
      try {
        parseScenario(w([{ guest: { domid: 1, mmio: { addr: "0xfeb00000", size: 4, dir: "read", df: bad } } }]));
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ScenarioError);
      expect((e as ScenarioError).message).toMatch(/steps\[0\]\.guest\.mmio\.df.*one-bit/);
    }
  });

  it("a string PIO with data_is_ptr: 1 sends what data_is_ptr: true sends", () => {
    const run = (ptr: unknown) =>
      runScenario(w([...server("HVM_IOREQSRV_BUFIOREQ_OFF"), { guest: { domid: 1, pio: { port: "0x60", size: 1, dir: "write", count: 3, df: 1, data_is_ptr: ptr, data: "0x2000" } }, expect: { ioreq: { fields: { data_is_ptr: 1, df: 1, count: 3 } } } }]));
    const a = run(1);
    const b = run(true);
    expect(a.every((r) => r.pass)).toBe(true);
    expect(a.at(-1)!.result).toEqual(b.at(-1)!.result);
  });

  it("the GuestEmulator API takes 0/1 too, and refuses other values with a typed error", () => {
    const { guest } = host();
    expect(guest.pio(1, 0, { port: 0x60, size: 1, dir: "read", count: 2, df: 1, data_is_ptr: 1, data: 0x1000 })).toMatchObject({ status: "done" });
    expect(() => guest.pio(1, 0, { port: 0x60, size: 1, dir: "read", df: 2 as 1 })).toThrow(GuestAccessError);
    expect(() => guest.mmio(1, 0, { addr: 0xfeb00000, size: 4, dir: "read", data_is_ptr: 7 as 1 })).toThrow(/data_is_ptr is a one-bit field/);
  });
});

describe("buffered records are ring slots", () => {
  it("a 2-byte stdvga write is one slot; an 8-byte write is two (low half, then high half)", () => {
    const res = runScenario(w([
      ...server("HVM_IOREQSRV_BUFIOREQ_ATOMIC"),
      { guest: { domid: 1, mmio: { addr: "0xa0100", size: 2, dir: "write", data: "0xbeef" } } },
      { guest: { domid: 1, mmio: { addr: "0xa0108", size: 8, dir: "write", data: "0x0102030405060708" } } },
    ]));
    const two = res.at(-2)!.result as { ioreqs: Record<string, unknown>[] };
    const eight = res.at(-1)!.result as { ioreqs: Record<string, unknown>[] };
    expect(two.ioreqs).toEqual([
      { server: 0, vcpu: 0, slot: "buffered", status: "handled", index: 0, fields: { type: 1, pad: 0, dir: 0, size: 1, addr: 0xa0100, data: 0xbeef }, hex: "0104" + "10a0" + "efbe0000" },
    ]);
    expect(eight.ioreqs.map((r) => [r.index, r.hex])).toEqual([
      [1, "018c" + "10a0" + "08070605"],
      [2, "018c" + "10a0" + "04030201"],
    ]);
    expect(eight.ioreqs.map((r) => (r.fields as { data: number }).data)).toEqual([0x05060708, 0x01020304]);
  });
});
