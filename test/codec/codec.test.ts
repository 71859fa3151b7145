import { describe, expect, it } from "vitest";
import { CodecError, decode, dump, encode, encodeInto, getCodec, layout, sizeOf, typeNames } from "../../src/codec/index.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e;
    throw new Error(`expected a CodecError, got ${String(e)}`);
  }
  throw new Error("expected a CodecError, nothing was thrown");
}

describe("encode", () => {
  it("encodes the seed operation with symbolic names", () => {
    const b = encode("xen_dm_op", {
      op: "XEN_DMOP_map_mem_type_to_ioreq_server",
      u: { map_mem_type_to_ioreq_server: { id: 7, type: "HVMMEM_ioreq_server", flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE", opaque: 0n } },
    });
    expect(hex(b)).toBe("0f000000000000000700040002000000" + "00".repeat(16));
  });

  it("matches the inject_event wire bytes the real library sends", () => {
    const b = encode("xen_dm_op", {
      op: 13,
      u: { inject_event: { vcpuid: 2, vector: 14, type: "XEN_DMOP_EVENT_hw_exc", error_code: 0x12, cr2: 0xdeadbeefcafen } },
    });
    expect(hex(b)).toBe("0d000000000000000200000" + "00e030000120000000000000" + "0fecaefbeadde0000");
  });

  it("accepts bare op names, decimal and hex strings for 64-bit fields", () => {
    const a = encode("xen_dm_op", { op: "set_mem_type", u: { set_mem_type: { nr: 1, mem_type: 4, first_pfn: "0x1000" } } });
    const b = encode("xen_dm_op", { op: 12, u: { set_mem_type: { nr: 1, mem_type: "ioreq_server", first_pfn: "4096" } } });
    expect(hex(a)).toBe(hex(b));
    expect(hex(a).slice(32, 48)).toBe("0010000000000000");
  });

  it("places ioreq_t bitfields where gcc does", () => {
    const b = encode("ioreq_t", { addr: 0x3f8n, data: 0x41n, count: 1, size: 1, vp_eport: 5, state: 1, dir: 1, df: 1, type: 0 });
    expect(b[30]).toBe(0x61);
    const all = encode("ioreq", { state: 15, data_is_ptr: 1, dir: 1, df: 1, _pad1: 1 });
    expect(all[30]).toBe(0xff);
  });

  it("shares buf_ioreq_t's first 32-bit unit between byte and 20-bit fields", () => {
    const b = encode("buf_ioreq_t", { type: 1, dir: 1, size: 3, addr: 0xfffff, data: 0x12345678 });
    expect(hex(b)).toBe("01feffff78563412");
    const v = new DataView(b.buffer);
    expect((v.getUint32(0, true) >>> 12) & 0xfffff).toBe(0xfffff);
  });

  it("refuses values that do not fit, naming the field and offset", () => {
    const e = codecError(() => encode("xen_dm_op", { op: 12, u: { set_mem_type: { nr: 2 ** 32 } } }));
    expect(e.code).toBe("out-of-range");
    expect(e.path).toBe("xen_dm_op.u.set_mem_type.nr");
    expect(e.offset).toBe(8);
    expect(codecError(() => encode("xen_dm_op", { op: 1, u: { create_ioreq_server: { handle_bufioreq: 300 } } })).code).toBe("out-of-range");
    expect(codecError(() => encode("buf_ioreq_t", { addr: 0x100000 })).path).toBe("buf_ioreq.addr");
    expect(codecError(() => encode("ioreq_t", { state: 16 })).code).toBe("out-of-range");
    expect(codecError(() => encode("ioreq_t", { addr: -1 })).code).toBe("out-of-range");
    expect(codecError(() => encode("ioreq_t", { addr: 2n ** 64n })).code).toBe("out-of-range");
    expect(codecError(() => encode("ioreq_t", { count: 1.5 })).code).toBe("bad-value");
  });

  it("refuses unknown fields, wrong union members, unknown ops and names", () => {
    // @ts-expect-error -- the misspelt field is refused by the compiler too (the generated types)
    expect(codecError(() => encode("xen_dm_op", { op: 12, u: { set_mem_type: { frist_pfn: 1 } } })).code).toBe("unknown-field");
    expect(codecError(() => encode("xen_dm_op", { op: 12, u: { nr_vcpus: {} } })).code).toBe("bad-member");
    expect(codecError(() => encode("xen_dm_op", { op: 21 })).code).toBe("bad-op");
    expect(codecError(() => encode("xen_dm_op", { op: "XEN_DMOP_frobnicate" })).code).toBe("bad-value");
    expect(codecError(() => encode("nosuch_t", {})).code).toBe("unknown-type");
  });

  it("encodeInto writes at an offset without touching neighbours and refuses short buffers", () => {
    const buf = new Uint8Array(40).fill(0xaa);
    expect(encodeInto("xen_dm_op", { op: 20 }, buf, 4)).toBe(32);
    expect(buf[3]).toBe(0xaa);
    expect(buf[36]).toBe(0xaa);
    expect(hex(buf.subarray(4, 36))).toBe("14" + "00".repeat(31));
    expect(codecError(() => encodeInto("xen_dm_op", { op: 20 }, buf, 9)).code).toBe("truncated");
  });

  it("zeroes implicit padding in a dirty destination", () => {
    const buf = new Uint8Array(16).fill(0xff);
    encodeInto("privcmd_dm_op", { dom: 1, num: 2, ubufs: 0x1000n }, buf);
    expect(hex(buf)).toBe("0100020000000000" + "0010000000000000");
  });
});

describe("decode", () => {
  it("round-trips the seed operation", () => {
    const b = unhex("0f000000000000000700040002000000" + "00".repeat(16));
    expect(decode("xen_dm_op", b)).toEqual({ op: 15, pad: 0, u: { map_mem_type_to_ioreq_server: { id: 7, type: 4, flags: 2, opaque: 0n } } });
  });

  it("refuses non-zero pads, union tails, bad ops, short and long buffers", () => {
    const ok = encode("xen_dm_op", { op: 12, u: { set_mem_type: { nr: 1 } } });
    const pad = ok.slice();
    pad[14] = 1;
    expect(codecError(() => decode("xen_dm_op", pad))).toMatchObject({ code: "nonzero-pad", path: "xen_dm_op.u.set_mem_type.pad", offset: 14 });
    const hdr = ok.slice();
    hdr[6] = 1;
    expect(codecError(() => decode("xen_dm_op", hdr))).toMatchObject({ code: "nonzero-pad", path: "xen_dm_op.pad", offset: 4 });
    const tail = encode("xen_dm_op", { op: 20 });
    tail[29] = 7;
    expect(codecError(() => decode("xen_dm_op", tail))).toMatchObject({ code: "nonzero-pad", path: "xen_dm_op.u", offset: 29 });
    const op = new Uint8Array(32);
    op[0] = 21;
    expect(codecError(() => decode("xen_dm_op", op))).toMatchObject({ code: "bad-op", path: "xen_dm_op.op", offset: 0 });
    expect(codecError(() => decode("xen_dm_op", ok.subarray(0, 31)))).toMatchObject({ code: "truncated", path: "xen_dm_op.u", offset: 8 });
    expect(codecError(() => decode("xen_dm_op", new Uint8Array(33)))).toMatchObject({ code: "trailing", path: "xen_dm_op", offset: 32 });
    const bits = encode("ioreq_t", {});
    bits[30] = 0x80;
    expect(codecError(() => decode("ioreq_t", bits))).toMatchObject({ code: "nonzero-pad", path: "ioreq._pad1", offset: 30 });
  });

  it("reads buffer 0 the way Xen does in hypervisor mode", () => {
    const b = new Uint8Array(8 + 16);
    b[0] = 12;
    b[4] = 9; // header pad: not checked here
    b[14] = 3; // payload pad: returned, not refused
    expect(decode("xen_dm_op", b, { mode: "hypervisor" })).toEqual({ op: 12, pad: 9, u: { set_mem_type: { nr: 0, mem_type: 0, pad: 3, first_pfn: 0n } } });
    expect(decode("xen_dm_op", b.subarray(0, 12), { mode: "hypervisor" })).toEqual({ op: 12, pad: 9, u: {} });
    const far = new Uint8Array(8);
    far[0] = 99;
    expect(decode("xen_dm_op", far, { mode: "hypervisor" })).toEqual({ op: 99, pad: 0, u: {} });
  });

  it("decodes every ABI's xen_dm_op_buf", () => {
    expect(decode("xen_dm_op_buf", unhex("00100000" + "20000000"), { arch: "i386" })).toEqual({ h: { p: 0x1000 }, size: 32 });
    expect(decode("xen_dm_op_buf", unhex("0010000000000000" + "2000000000000000"), { arch: "arm32" })).toEqual({ h: { q: 0x1000n }, size: 32n });
    expect(hex(encode("xen_dm_op_buf", { h: { p: 0x1000 }, size: 32 }, { arch: "arm32" }))).toBe("0010000000000000" + "2000000000000000");
  });
});

describe("layout", () => {
  it("gives the sizes and ABI differences of the reference", () => {
    expect(sizeOf("xen_dm_op")).toBe(32);
    expect(sizeOf("xen_dm_op_buf", { arch: "i386" })).toBe(8);
    expect(sizeOf("privcmd_dm_op", { arch: "arm32" })).toBe(8);
    expect(sizeOf("buffered_iopage_t")).toBe(4096);
    expect(layout("ioreq", { arch: "i386" }).types[0]?.align).toBe(4);
    expect(layout(undefined, { arch: "i386" }).constants.IOCTL_PRIVCMD_DM_OP).toBe(0x00085005);
    expect(layout().constants.IOCTL_PRIVCMD_DM_OP).toBe(0x00105005);
    const buf = layout("buf_ioreq").types[0]!;
    expect(buf.fields.find((f) => f.name === "addr")).toEqual({ name: "addr", offset: 1, size: 3, bit_offset: 12, bit_width: 20 });
    expect(typeNames()).toContain("ioreq_t");
  });
});

describe("getCodec", () => {
  it("reads and writes at offsets, with or without pad checks", () => {
    const buf = new Uint8Array(32);
    const v = new DataView(buf.buffer);
    const c = getCodec("xen_dm_op_set_mem_type", { checkPads: false });
    c.write(v, 8, { nr: 1, mem_type: 4, pad: 5, first_pfn: 0x42n });
    expect(c.read(v, 8)).toEqual({ nr: 1, mem_type: 4, pad: 5, first_pfn: 0x42n });
    expect(() => getCodec("xen_dm_op_set_mem_type").read(v, 8)).toThrow(CodecError);
    expect(codecError(() => c.read(v, 20)).code).toBe("truncated");
  });
});

describe("dump", () => {
  it("annotates fields and points at the offending byte", () => {
    const b = encode("xen_dm_op", { op: 15, u: { map_mem_type_to_ioreq_server: { id: 1, type: 4, flags: 2 } } });
    b[31] = 0xff;
    const lines = dump("xen_dm_op", b);
    expect(lines[0]).toMatchObject({ path: "xen_dm_op.op", value: 15, meaning: "XEN_DMOP_map_mem_type_to_ioreq_server" });
    expect(lines.find((l) => l.path.endsWith(".flags"))?.meaning).toBe("XEN_DMOP_IOREQ_MEM_ACCESS_WRITE");
    const bad = lines.find((l) => l.error !== undefined);
    expect(bad).toMatchObject({ offset: 24, size: 8, gap: "union-tail", errorSpan: { offset: 31, size: 1 } });
  });
});

describe("subarrays", () => {
  it("encodes into and decodes from views that do not start at their buffer's beginning", () => {
    const big = new Uint8Array(100).fill(0xee);
    const sub = big.subarray(10, 42);
    encodeInto("xen_dm_op", { op: 20 }, sub);
    expect(big[9]).toBe(0xee);
    expect(big[10]).toBe(20);
    expect(big[42]).toBe(0xee);
    expect(decode("xen_dm_op", sub)).toEqual({ op: 20, pad: 0, u: { nr_vcpus: { vcpus: 0 } } });
    encodeInto("xen_dm_op", { op: 9, u: { set_isa_irq_level: { isa_irq: 3, level: 1 } } }, big, 50);
    expect(decode("xen_dm_op", big.subarray(50, 82), { mode: "hypervisor" })).toEqual({ op: 9, pad: 0, u: { set_isa_irq_level: { isa_irq: 3, level: 1 } } });
  });
});
