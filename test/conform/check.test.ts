// The conformance check on its own: the real library's captured calls conform and are named; every
// byte the library sets itself, changed, is a difference naming the field that holds it; hostile
// requests get verdicts, never exceptions.
import { beforeAll, describe, expect, it } from "vitest";
import { dmOpMembers } from "../../abi/xen/dm_op.js";
import { layoutOf } from "../../src/codec/index.js";
import { Conformance, ConformReport, conformObserver, sentCall, type SentCall, type Verdict } from "../../src/conform/index.js";
import { Connection } from "../../src/transport/connection.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { Kind } from "../../src/transport/protocol.js";
import { capturedCalls } from "./fixture.js";

let c: Conformance;
beforeAll(async () => { c = await Conformance.create(); });

const hx = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
const one = (bytes: Uint8Array, size = BigInt(bytes.length)): SentCall => ({ path: "ioctl", abi: "x86_64", dom: 1, num: 1, bufs: [{ size, unreadable: false, bytes }] });
const differences = (v: Verdict) => (v.status === "differs" ? v.differences : []);

// set_mem_type(d, HVMMEM_ram_ro, 0x100, 1) as the library sends it
const SET_MEM_TYPE = "0c000000 00000000 01000000 01000000 0001000000000000 0000000000000000";

describe("the captured libxendevicemodel calls", () => {
  it("all conform, on both paths, each named as the function that sent it", () => {
    const calls = capturedCalls();
    expect(calls.length).toBeGreaterThan(100);
    const paths = new Set<string>();
    for (const { mark, call } of calls) {
      const v = c.check(call);
      expect(v.status, `${mark} ${JSON.stringify(differences(v))}`).toBe("conforms");
      if (v.status !== "conforms") continue;
      // modified_memory is modified_memory_bulk with one extent: the same bytes
      expect(v.fn === mark || (mark === "xendevicemodel_modified_memory" && v.fn === "xendevicemodel_modified_memory_bulk"), `${mark} named ${v.fn}`).toBe(true);
      paths.add(call.path);
    }
    expect([...paths].sort()).toEqual(["hypercall", "ioctl"]);
  });

  it("every byte the library sets itself (op, pads, OUT fields, the union tail), changed, is a difference naming its field", () => {
    let checked = 0;
    for (const { mark, call } of capturedCalls()) {
      const b0 = call.bufs[0]?.bytes;
      if (b0 === undefined) continue;
      for (let k = 4; k < 32; k++) {
        const bytes = b0.slice();
        bytes[k] = bytes[k]! ^ 0x80;
        const mutated: SentCall = { ...call, bufs: [{ ...call.bufs[0]!, bytes }, ...call.bufs.slice(1)] };
        const v = c.check(mutated);
        // An argument byte changes the arguments: the call still conforms, as a different call (or
        // becomes one the library never makes, such as an io range of type 0x82).
        if (v.status !== "differs") continue;
        expect(v.status, `${mark} byte ${k}`).toBe("differs");
        const d = differences(v)[0]!;
        // A changed nr / nr_extents is a different call whose second buffer has another size.
        if (d.kind === "buffer-size") {
          expect(d.buffer, `${mark} byte ${k}`).toBe(1);
          continue;
        }
        expect(d.kind, `${mark} byte ${k}`).toBe("field");
        // (a PCI device's SBDF is sent twice, start and end: a changed start shows as the end differing)
        const pciStart = mark.includes("pcidev") && k >= 16 && k < 24;
        expect(pciStart ? /\.(start|end)$/.test(d.field) : d.offset <= k, `${mark} byte ${k}: ${d.field} at ${d.offset}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

/**
 * The fields each xendevicemodel_* function fills from its arguments, from xendevicemodel.h (those with a
 * restricted value set, such as `enabled` or an io range `type`, and sizes that follow from `nr`, left out).
 */
const ARGUMENT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  xendevicemodel_create_ioreq_server: ["handle_bufioreq"],
  xendevicemodel_get_ioreq_server_info: ["id"],
  xendevicemodel_map_io_range_to_ioreq_server: ["id", "start", "end"],
  xendevicemodel_unmap_io_range_from_ioreq_server: ["id", "start", "end"],
  xendevicemodel_map_pcidev_to_ioreq_server: ["id"],
  xendevicemodel_unmap_pcidev_from_ioreq_server: ["id"],
  xendevicemodel_set_ioreq_server_state: ["id"],
  xendevicemodel_destroy_ioreq_server: ["id"],
  xendevicemodel_track_dirty_vram: ["first_pfn"],
  xendevicemodel_set_pci_intx_level: ["domain", "bus", "device", "intx", "level"],
  xendevicemodel_set_isa_irq_level: ["isa_irq", "level"],
  xendevicemodel_set_pci_link_route: ["link", "isa_irq"],
  xendevicemodel_modified_memory: [],
  xendevicemodel_modified_memory_bulk: [],
  xendevicemodel_set_mem_type: ["nr", "mem_type", "first_pfn"],
  xendevicemodel_inject_event: ["vcpuid", "vector", "type", "insn_len", "error_code", "cr2"],
  xendevicemodel_inject_msi: ["data", "addr"],
  xendevicemodel_map_mem_type_to_ioreq_server: ["id"],
  xendevicemodel_shutdown: ["reason"],
  xendevicemodel_relocate_memory: ["size", "src_gfn", "dst_gfn"],
  xendevicemodel_pin_memory_cacheattr: ["start", "end", "type"],
  xendevicemodel_set_irq_level: ["irq", "level"],
  xendevicemodel_nr_vcpus: [],
};

describe("arguments", () => {
  it("every byte of every argument field, changed, is still a library call (with other arguments)", () => {
    let checked = 0;
    for (const { mark, call } of capturedCalls()) {
      const b0 = call.bufs[0]?.bytes;
      if (b0 === undefined) continue;
      const fields = ARGUMENT_FIELDS[mark];
      expect(fields, mark).toBeDefined();
      const member = dmOpMembers[b0[0]!]!;
      const L = layoutOf(member.type);
      for (const name of fields!) {
        const f = L.fields.find((x) => x.name === name)!;
        for (let k = 8 + f.offset; k < 8 + f.offset + f.size; k++) {
          const bytes = b0.slice();
          bytes[k] = bytes[k]! ^ 0x80;
          const v = c.check({ ...call, bufs: [{ ...call.bufs[0]!, bytes }, ...call.bufs.slice(1)] });
          expect(v.status, `${mark} ${name} byte ${k}: ${JSON.stringify(differences(v))}`).toBe("conforms");
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

describe("differences", () => {
  it("pad, OUT field and union tail of set_mem_type", () => {
    const b = hx(SET_MEM_TYPE);
    expect(c.check(one(b))).toEqual({ status: "conforms", op: "XEN_DMOP_set_mem_type", fn: "xendevicemodel_set_mem_type" });
    const pad = b.slice(); pad[4] = 1;
    expect(differences(c.check(one(pad)))).toEqual([{ kind: "field", buffer: 0, field: "xen_dm_op.pad", offset: 4, expected: "0", sent: "1" }]);
    const tail = b.slice(); tail[31] = 0xff;
    expect(differences(c.check(one(tail)))).toEqual([{ kind: "field", buffer: 0, field: "xen_dm_op.u", offset: 24, expected: "0", sent: "0xff00000000000000", note: "beyond xen_dm_op.u.set_mem_type (the library zeroes the whole struct)" }]);
    const nr = hx("07000000 00000000 64000000 00000000 0001000000000000 00000000000000ff");
    const d = differences(c.check({ ...one(nr), num: 2, bufs: [{ size: 32n, unreadable: false, bytes: nr }, { size: 13n, unreadable: false, bytes: new Uint8Array(13) }] }));
    expect(d).toEqual([{ kind: "field", buffer: 0, field: "xen_dm_op.u", offset: 24, expected: "0", sent: "0xff00000000000000", note: "beyond xen_dm_op.u.track_dirty_vram (the library zeroes the whole struct)" }]);
  });

  it("quirks: !!enabled, no_gfns, a truncated handle_bufioreq cannot be told apart, SBDF end = start", () => {
    const state = hx("05000000 00000000 0100 02 00 00000000 0000000000000000 0000000000000000");
    expect(differences(c.check(one(state)))).toMatchObject([{ field: "xen_dm_op.u.set_ioreq_server_state.enabled", offset: 10, expected: "1", sent: "2" }]);
    const info = hx("02000000 00000000 0000 0300 00000000 0000000000000000 0000000000000000");
    expect(differences(c.check(one(info)))).toMatchObject([{ field: "xen_dm_op.u.get_ioreq_server_info.flags", offset: 10, expected: "1", sent: "3" }]);
    const pci = hx("03000000 00000000 0000 0000 02000000 ff00000000000000 fe00000000000000");
    const v = c.check(one(pci));
    expect(v).toMatchObject({ fn: "xendevicemodel_map_pcidev_to_ioreq_server" });
    expect(differences(v)).toMatchObject([{ field: "xen_dm_op.u.map_io_range_to_ioreq_server.end", offset: 24, expected: "0xff", sent: "0xfe" }]);
  });

  it("buffer count and hypercall arguments", () => {
    const b = hx(SET_MEM_TYPE);
    const two = c.check({ ...one(b), num: 2, bufs: [{ size: 32n, unreadable: false, bytes: b }, { size: 0n, unreadable: false, bytes: new Uint8Array(0) }] });
    expect(differences(two)).toEqual([{ kind: "buffer-count", field: "privcmd_dm_op.num", offset: 2, expected: "1", sent: "2" }]);
    const h = c.check({ path: "hypercall", abi: "x86_64", dom: 1, num: 1, args: [0x10001n, 1n, 0xdead000n, 0n, 5n], bufs: [{ size: 32n, unreadable: false, bytes: b }] });
    expect(differences(h)).toEqual([
      { kind: "hypercall-arg", field: "privcmd_hypercall.arg[0]", offset: 8, expected: "1", sent: "0x10001" },
      { kind: "hypercall-arg", field: "privcmd_hypercall.arg[4]", offset: 40, expected: "0", sent: "5" },
    ]);
  });

  it("descriptor fields at each ABI's offsets", () => {
    const b = hx(SET_MEM_TYPE);
    for (const [abi, path, field, offset] of [
      ["i386", "ioctl", "privcmd_dm_op_buf[0].size", 4], ["arm32", "ioctl", "privcmd_dm_op_buf[0].size", 4],
      ["i386", "hypercall", "xen_dm_op_buf[0].size", 4], ["arm32", "hypercall", "xen_dm_op_buf[0].size", 8],
    ] as const) {
      const v = c.check({ path, abi, dom: 1, num: 1, bufs: [{ size: 40n, unreadable: false, bytes: new Uint8Array([...b, 0, 0, 0, 0, 0, 0, 0, 0]) }], ...(path === "hypercall" ? { args: [1n, 1n, 0n, 0n, 0n] } : {}) });
      expect(differences(v), `${abi} ${path}`).toMatchObject([{ kind: "buffer-size", field, offset, expected: "32", sent: "40" }]);
    }
  });
});

describe("calls the library never makes", () => {
  it("an op with no function, an io range type it never sends, num 0 off the probe", () => {
    expect(c.check(one(hx("15000000 00000000")))).toMatchObject({ status: "not-a-library-call", op: "op >= 21" });
    expect(c.check(one(hx("00000000 00000000")))).toMatchObject({ status: "not-a-library-call", op: "op 0" });
    const t3 = hx("03000000 00000000 0000 0000 03000000 0000000000000000 0000000000000000");
    expect(c.check(one(t3))).toMatchObject({ status: "not-a-library-call", reason: expect.stringContaining("type 3") as string });
    expect(c.check({ path: "ioctl", abi: "x86_64", dom: 0x7ff4, num: 0, bufs: [] })).toMatchObject({ status: "conforms", fn: "xendevicemodel_open" });
    expect(c.check({ path: "ioctl", abi: "x86_64", dom: 1, num: 0, bufs: [] })).toMatchObject({ status: "not-a-library-call" });
  });
});

describe("calls that cannot be checked", () => {
  it("a second buffer over 4096 bytes: no contents travelled, the call is unchecked, not a difference", () => {
    const v = c.check({ path: "ioctl", abi: "x86_64", dom: 1, num: 2, bufs: [{ size: 32n, unreadable: false }, { size: 0x1_0000_0010n, unreadable: false }] });
    expect(v).toMatchObject({ status: "unchecked", reason: expect.stringContaining("buffer 1 is 0x100000010 bytes") as string });
    const r = new ConformReport("libxendevicemodel-4.17", true);
    expect(r.record(v, { conn: 2, path: "ioctl" })).toEqual([`note: conn 2 ioctl: not checked: ${v.status === "unchecked" ? v.reason : ""}`]);
    expect(r.toJson()).toMatchObject({ calls: 1, unchecked: 1, differing: 0 });
    expect(r.format()).toContain("1 calls, 0 conforming, 0 differing, 0 not library calls, 1 unchecked");
  });
});

describe("hostile requests", () => {
  it("get verdicts, never exceptions, without allocating what they claim", () => {
    const b = hx(SET_MEM_TYPE);
    const huge = 0xffff_ffff_ffff_ffffn;
    const cases: SentCall[] = [
      { path: "ioctl", abi: "x86_64", dom: 1, num: 1, bufs: [{ size: huge, unreadable: false }] },
      { path: "ioctl", abi: "x86_64", dom: 1, num: 1, bufs: [{ size: 0n, unreadable: false, bytes: new Uint8Array(0) }] },
      { path: "ioctl", abi: "x86_64", dom: 1, num: 1, bufs: [{ size: 3n, unreadable: false, bytes: b.subarray(0, 3) }] },
      { path: "ioctl", abi: "x86_64", dom: 1, num: 1, bufs: [{ size: 32n, unreadable: true }] },
      { path: "ioctl", abi: "x86_64", dom: 1, num: 17, bufs: [] },
      { path: "hypercall", abi: "x86_64", dom: 1, num: 0xffff, bufs: [], args: [1n, huge, 0n, 0n, 0n] },
      // track_dirty_vram with nr 0xffffffff: the library's 32-bit size arithmetic gives 0
      { path: "ioctl", abi: "x86_64", dom: 1, num: 2, bufs: [{ size: 32n, unreadable: false, bytes: hx("07000000 00000000 ffffffff 00000000 0000000000000000 0000000000000000") }, { size: huge, unreadable: false }] },
      // modified_memory claiming 2^32 - 1 extents
      { path: "ioctl", abi: "x86_64", dom: 1, num: 2, bufs: [{ size: 32n, unreadable: false, bytes: hx("0b000000 00000000 ffffffff 00000000 0000000000000000 0000000000000000") }, { size: 16n, unreadable: false, bytes: new Uint8Array(16) }] },
    ];
    for (const call of cases) {
      const v = c.check(call);
      expect(["differs", "not-a-library-call", "unchecked"]).toContain(v.status);
    }
    const tdv = differences(c.check(cases[6]!));
    expect(tdv).toMatchObject([{ kind: "buffer-size", buffer: 1, expected: "0", sent: "0xffffffffffffffff" }]);
    const mm = differences(c.check(cases[7]!));
    expect(mm).toMatchObject([{ kind: "buffer-size", buffer: 1, expected: "0xffffffff0", sent: "16" }]);
  });
});

describe("fuzz", () => {
  it("random requests on every ABI and path always get a verdict", () => {
    let seed = 0x1234567;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const abis = ["x86_64", "i386", "arm64", "arm32"] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const nb = rnd(4);
      const bufs = Array.from({ length: nb }, () => {
        const len = [0, 3, 8, 24, 32, 40, 16, 13][rnd(8)]!;
        const bytes = new Uint8Array(len);
        for (let k = 0; k < len; k++) bytes[k] = rnd(4) === 0 ? rnd(256) : 0;
        if (len >= 4 && rnd(2) === 0) bytes[0] = 1 + rnd(22);
        const size = rnd(8) === 0 ? BigInt(rnd(1 << 30)) * BigInt(rnd(1 << 30)) : BigInt(len);
        return rnd(6) === 0 ? { size, unreadable: rnd(2) === 0 } : { size, unreadable: false, bytes };
      });
      const path = rnd(2) === 0 ? "ioctl" : "hypercall";
      const call: SentCall = { path, abi: abis[rnd(4)]!, dom: rnd(3) === 0 ? 0x7ff4 : rnd(4), num: rnd(10) === 0 ? rnd(40) : nb, bufs, ...(path === "hypercall" ? { args: [BigInt(rnd(5)), BigInt(nb), 0n, BigInt(rnd(2)), 0n] } : {}) };
      const v = c.check(call);
      seen.add(v.status);
      if (v.status === "differs") expect(v.differences.length).toBeGreaterThan(0);
    }
    for (const s of ["differs", "not-a-library-call", "unchecked"]) expect(seen.has(s), s).toBe(true);
  });
});

describe("requests from the wire", () => {
  it("DM_OP and HYPERCALL(dm_op) become calls, other hypercalls are not looked at", () => {
    const bytes = hx(SET_MEM_TYPE);
    expect(sentCall(1, { kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 1 }] })).toEqual({ path: "ioctl", abi: "i386", dom: 1, num: 1, bufs: [{ size: 32n, unreadable: true }] });
    expect(sentCall(0, { kind: Kind.HYPERCALL, op: 41n, args: [0x10001n, 1n, 0n, 0n, 0n], bufs: [{ size: 32n, flags: 0, bytes }] })).toMatchObject({ path: "hypercall", dom: 1, num: 1 });
    expect(sentCall(0, { kind: Kind.HYPERCALL, op: 34n, args: [0n, 0n, 0n, 0n, 0n], bufs: [] })).toBeUndefined();
  });

  it("a check that fails is counted as unchecked and the call runs, even under strict", () => {
    const broken = { check: () => { throw new Error("boom"); } } as unknown as Conformance;
    const report = new ConformReport("libxendevicemodel-4.17", true);
    const lines: string[] = [];
    const observe = conformObserver({ check: broken, report, warn: (l) => { lines.push(l); } });
    const conn = new Connection(3, createFakeHost().device);
    expect(observe(conn, { kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: new Uint8Array(32) }] })).toBeUndefined();
    expect(report.toJson()).toMatchObject({ calls: 1, unchecked: 1 });
    expect(lines).toEqual(["note: conn 3 ioctl: not checked: the conformance check failed: boom"]);
  });
});

describe("the report", () => {
  it("counts per function, keeps the first difference of each kind, and limits the lines", () => {
    const r = new ConformReport("libxendevicemodel-4.17", false);
    const pad = hx(SET_MEM_TYPE); pad[14] = 0x34; pad[15] = 0x12;
    let lines = 0;
    for (let i = 0; i < 10; i++) lines += r.record(c.check(one(pad)), { conn: 1, path: "ioctl" }).length;
    r.record(c.check(one(hx(SET_MEM_TYPE))), { conn: 1, path: "ioctl" });
    expect(lines).toBe(4);
    const j = r.toJson();
    expect(j).toMatchObject({ calls: 11, conforming: 1, differing: 10, not_library: 0 });
    expect(j.operations).toEqual([{
      fn: "xendevicemodel_set_mem_type", op: "XEN_DMOP_set_mem_type", calls: 11, conforming: 1, differing: 10, not_library: 0, unchecked: 0,
      first_differences: [{ kind: "field", buffer: 0, field: "xen_dm_op.u.set_mem_type.pad", offset: 14, expected: "0", sent: "0x1234" }],
    }]);
    expect(r.format()).toBe([
      "conformance to libxendevicemodel-4.17: 11 calls, 1 conforming, 10 differing, 0 not library calls",
      "  xendevicemodel_set_mem_type  calls 11, conforming 1, differing 10",
      "    field: buffer 0 xen_dm_op.u.set_mem_type.pad at byte offset 14: expected 0, sent 0x1234",
      "",
    ].join("\n"));
  });
});
