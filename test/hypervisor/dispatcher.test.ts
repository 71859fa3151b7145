import { describe, expect, it } from "vitest";
import { call, dmop, hex, makeHv, out } from "./helpers.js";

const CREATE = 1, MAP = 3, ISA = 9, NR_VCPUS = 20, SET_IRQ_LEVEL = 19;
const world = { domains: [{ domid: 1 }, { domid: 2, type: "pv" as const, target: 1 }, { domid: 3, type: "pv" as const }, { domid: 4, type: "pv" as const }] };

describe("do_dm_op / x86 dm_op: order of checks (4.17.7)", () => {
  it("nr_bufs 0 -> -ENODATA, > 2 -> -E2BIG", () => {
    const hv = makeHv(world);
    expect(hv.dm_op(0, 1, [], 0)).toBe(-61);
    expect(hv.explain()).toMatchObject({ rc: -61, errno: "-ENODATA", mirrors: "common/dm.c:do_dm_op" });
    const b = { bytes: dmop(NR_VCPUS) };
    expect(hv.dm_op(0, 1, [b, b, b])).toBe(-7);
    // E2BIG wins over a missing domain: do_dm_op checks before any lookup
    expect(hv.dm_op(0, 99, [b, b, b])).toBe(-7);
  });
  it("unknown domain -> -ESRCH, DOMID_SELF is not translated", () => {
    const hv = makeHv(world);
    expect(call(hv, NR_VCPUS, {}, { domid: 99 }).rc).toBe(-3);
    expect(call(hv, NR_VCPUS, {}, { domid: 0x7ff0 }).rc).toBe(-3);
  });
  it("targeting itself -> -EPERM", () => {
    const hv = makeHv(world);
    expect(call(hv, NR_VCPUS, {}, { caller: 1, domid: 1 }).rc).toBe(-1);
    expect(hv.explain()!.mirrors).toBe("domain.c:rcu_lock_remote_domain_by_id");
  });
  it("PV target -> -EINVAL, before the privilege check", () => {
    const hv = makeHv(world);
    expect(call(hv, NR_VCPUS, {}, { domid: 3 }).rc).toBe(-22);
    expect(call(hv, NR_VCPUS, {}, { caller: 4, domid: 3 }).rc).toBe(-22);
  });
  it("XSM: dom0 and the stub device model pass, others get -EPERM", () => {
    const hv = makeHv(world);
    expect(call(hv, NR_VCPUS, {}, { caller: 0 }).rc).toBe(0);
    expect(call(hv, NR_VCPUS, {}, { caller: 2 }).rc).toBe(0);
    expect(call(hv, NR_VCPUS, {}, { caller: 3 }).rc).toBe(-1);
    expect(hv.explain()!.mirrors).toBe("xsm/dummy.h:xsm_dm_op");
    expect(call(hv, NR_VCPUS, {}, { caller: 77 }).rc).toBe(-1);
  });
  it("device_model on the guest names the stub domain", () => {
    const hv = makeHv({ domains: [{ domid: 1, device_model: 5 }] });
    expect(hv.domain(5)!.target).toBe(1);
    expect(call(hv, NR_VCPUS, {}, { caller: 5 }).rc).toBe(0);
  });
  it("buf[0].size < 8 -> -EFAULT even for an unknown op", () => {
    const hv = makeHv(world);
    const bytes = dmop(99);
    expect(hv.dm_op(0, 1, [{ bytes, size: 4 }])).toBe(-14);
    expect(hv.dm_op(0, 1, [{ bytes: bytes.slice(0, 7) }])).toBe(-14);
  });
  it("header copy fault -> -EFAULT", () => {
    const hv = makeHv(world);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(NR_VCPUS), fault: { read: true } }])).toBe(-14);
    expect(hv.dm_op(0, 1, [{ bytes: new Uint8Array(4), size: 32 }])).toBe(-14);
  });
  it("op >= 21 -> -EOPNOTSUPP even with a non-zero header pad", () => {
    const hv = makeHv(world);
    expect(call(hv, 99, {}, { pad: 1 }).rc).toBe(-95);
    expect(call(hv, 21, {}).rc).toBe(-95);
    expect(call(hv, 0xffffffff, {}).rc).toBe(-95);
  });
  it("buf[0].size < 8 + op_size -> -EFAULT; exactly enough passes", () => {
    const hv = makeHv(world);
    const b = dmop(MAP, { id: 0, type: 0, start: 1n, end: 2n });
    expect(hv.dm_op(0, 1, [{ bytes: b, size: 31 }])).toBe(-14);
    expect(hv.dm_op(0, 1, [{ bytes: b.slice(0, 31) }])).toBe(-14);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA, { isa_irq: 1, level: 1 }), size: 10 }])).toBe(0);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA, { isa_irq: 1, level: 1 }).slice(0, 10) }])).toBe(0);
  });
  it("a descriptor size larger than the memory behind it faults only when read", () => {
    const hv = makeHv(world);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(ISA, { isa_irq: 1, level: 0 }).slice(0, 10), size: 1n << 40n }])).toBe(0);
  });
  it("header pad != 0 -> -EINVAL after the size checks", () => {
    const hv = makeHv(world);
    expect(call(hv, NR_VCPUS, {}, { pad: 1 }).rc).toBe(-22);
    expect(hv.dm_op(0, 1, [{ bytes: dmop(MAP, {}, { pad: 1 }), size: 12 }])).toBe(-14);
  });
  it("op 0 and op 19 on x86: size 0, then -EOPNOTSUPP (or -EINVAL with pad)", () => {
    const hv = makeHv(world);
    for (const op of [0, SET_IRQ_LEVEL]) {
      expect(hv.dm_op(0, 1, [{ bytes: dmop(op).slice(0, 8) }])).toBe(-95);
      expect(hv.dm_op(0, 1, [{ bytes: dmop(op, {}, { pad: 1 }).slice(0, 8) }])).toBe(-22);
    }
  });
  it("extra bytes in buffer 0 are never touched", () => {
    const hv = makeHv(world);
    const b = dmop(NR_VCPUS, {}, { size: 64 });
    b.fill(0xaa, 12);
    const rc = hv.dm_op(0, 1, [{ bytes: b }]);
    expect(rc).toBe(0);
    expect(hex(b.slice(8, 12))).toBe("02000000");
    expect(b.slice(12).every((x) => x === 0xaa)).toBe(true);
  });
  it("copy-back fault overrides rc with -EFAULT but keeps side effects", () => {
    const hv = makeHv(world);
    const b = dmop(CREATE, { handle_bufioreq: 0 });
    expect(hv.dm_op(0, 1, [{ bytes: b, fault: { write: true } }])).toBe(-14);
    expect(hv.server(1, 0).exists).toBe(true);
    expect(out(CREATE, b).id).toBe(0);
  });
  it("const ops leave buffer 0 byte-identical", () => {
    const hv = makeHv(world);
    const b = dmop(MAP, { id: 5, type: 0, start: 1n, end: 2n });
    const before = hex(b);
    expect(hv.dm_op(0, 1, [{ bytes: b }])).toBe(-2);
    expect(hex(b)).toBe(before);
  });
  it("explain() is null after a success", () => {
    const hv = makeHv(world);
    call(hv, 99);
    expect(hv.explain()).not.toBeNull();
    call(hv, NR_VCPUS);
    expect(hv.explain()).toBeNull();
  });
});

describe("nr_vcpus write-back bytes", () => {
  it("writes exactly 4 bytes at offset 8", () => {
    const hv = makeHv({ domains: [{ domid: 1, vcpus: 5 }] });
    const b = dmop(NR_VCPUS, { vcpus: 0x12345678 });
    b.fill(0x77, 12, 32);
    expect(hv.dm_op(0, 1, [{ bytes: b }])).toBe(0);
    expect(hex(b)).toBe("14000000" + "00000000" + "05000000" + "77".repeat(20));
  });
});

describe("API misuse", () => {
  it("throws a RangeError naming the argument", () => {
    const hv = makeHv();
    const b = [{ bytes: dmop(NR_VCPUS) }];
    expect(() => hv.dm_op(-1, 1, b)).toThrow(/caller/);
    expect(() => hv.dm_op(0, 0x10000, b)).toThrow(/domid/);
    expect(() => hv.dm_op(0, 1, b, 1.5)).toThrow(/nr_bufs/);
    expect(hv.dm_op(0, 1, b, 0xffffffff)).toBe(-7);
    expect(hv.claim(1)).toEqual({ server: null, flags: 0 });
    expect(hv.entryCount(1)).toBe(0);
  });
});

describe("op_size tables (derived from the ABI layouts)", () => {
  it("x86 matches dm.c:dm_op's op_size", () => {
    expect(makeHv().opSizes()).toEqual([0, 6, 24, 24, 24, 4, 4, 16, 6, 2, 2, 8, 16, 24, 16, 16, 4, 24, 24, 0, 4]);
  });
  it("Arm has entries only for ops 1-6, 19 and 20", () => {
    expect(makeHv({ arch: "arm", domains: [{ domid: 1 }] }).opSizes()).toEqual([0, 6, 24, 24, 24, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 4]);
  });
  it("i386 callers get the same sizes (the CHECK_dm_op_* assertions)", () => {
    expect(makeHv({ abi: "i386", domains: [{ domid: 1 }] }).opSizes()).toEqual(makeHv().opSizes());
  });
});
