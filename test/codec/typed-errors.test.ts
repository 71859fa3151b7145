// Bad input is a typed error naming the field, never a bare exception: prototype names are not C
// constants, an unknown arch is refused, codec offsets must be integers.
import { describe, expect, it } from "vitest";
import { CodecError, decode, encode, getCodec, layout, typeNames } from "../../src/codec/index.js";
import { errnoValue } from "../../abi/xen/errno.js";
import { symbolValue } from "../../src/scenario/values.js";

function codecError(f: () => unknown): CodecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return e as CodecError;
  }
  throw new Error("no error");
}

describe("symbolic names are own C names only", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    it(`"${name}" as op and as mem_type`, () => {
      expect(codecError(() => encode("xen_dm_op", { op: name })).path).toBe("xen_dm_op.op");
      const e = codecError(() => encode("xen_dm_op", { op: "XEN_DMOP_set_mem_type", u: { set_mem_type: { mem_type: name } } }));
      expect(e).toMatchObject({ code: "bad-value", path: "xen_dm_op.u.set_mem_type.mem_type", offset: 12 });
      expect(symbolValue(name)).toBeUndefined();
      expect(errnoValue(name)).toBeUndefined();
      expect(errnoValue(`-${name}`)).toBeUndefined();
    });
  }
  it("real names still work", () => {
    expect(encode("xen_dm_op", { op: "set_mem_type", u: { set_mem_type: { mem_type: "HVMMEM_ioreq_server" } } })[12]).toBe(4);
    expect(errnoValue("-EINVAL")).toBe(22);
  });
});

describe("arch", () => {
  for (const arch of ["mips", "toString", "", 3]) {
    it(`${JSON.stringify(arch)} is a CodecError naming arch, from every entry point`, () => {
      const opts = { arch: arch as never };
      for (const f of [() => encode("ioreq", {}, opts), () => decode("ioreq", new Uint8Array(32), opts), () => getCodec("ioreq", opts), () => layout("ioreq", opts), () => layout(undefined, opts), () => typeNames(opts)]) {
        expect(codecError(f)).toMatchObject({ code: "bad-arch", path: "arch" });
      }
    });
  }
});

describe("getCodec offsets", () => {
  const c = getCodec("ioreq");
  const view = new DataView(new ArrayBuffer(64));
  for (const off of [NaN, 0.5, 1.5, Infinity, -Infinity, 2 ** 60]) {
    it(`read/write at ${off} is refused, nothing is written`, () => {
      expect(codecError(() => c.read(view, off))).toMatchObject({ code: "bad-offset", path: "ioreq" });
      expect(codecError(() => { c.write(view, off, { addr: 1n }); })).toMatchObject({ code: "bad-offset" });
      expect(new Uint8Array(view.buffer).every((b) => b === 0)).toBe(true);
    });
  }
  it("integer offsets still work", () => {
    c.write(view, 32, { addr: 0x1234n });
    expect(c.read(view, 32)).toMatchObject({ addr: 0x1234n });
  });
});
