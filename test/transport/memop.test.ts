// memory_op / multicall / hvm_op HYPERCALL bodies: the wire form, its strict parse, and the fake's answers.
import { describe, expect, it } from "vitest";
import { Kind, ProtocolError, encodeRequest, parseRequest, type WireBuf } from "../../src/transport/protocol.js";
import { createFakeHost, worldForDomains } from "../../src/transport/fake.js";
import { runMemopHypercall } from "../../src/transport/memop-call.js";

const DOM = 1, EFAULT = 14, EPERM = 1, ENOSYS = 38;

function reservation(nr: number, order: number, domid: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setBigUint64(8, BigInt(nr), true);
  v.setUint32(16, order, true);
  v.setUint16(24, domid, true);
  return b;
}
function extents(gfns: number[]): Uint8Array {
  const b = new Uint8Array(gfns.length * 8);
  gfns.forEach((g, i) => { new DataView(b.buffer).setBigUint64(i * 8, BigInt(g), true); });
  return b;
}
function entry(op: number, args: number[]): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(op), true);
  args.forEach((a, i) => { v.setBigUint64(16 + 8 * i, BigInt(a), true); });
  return b;
}
const buf = (bytes: Uint8Array): WireBuf => ({ size: BigInt(bytes.length), flags: 0, bytes });
const unreadable: WireBuf = { size: 0n, flags: 1 };
const result = (e: Uint8Array): bigint => new DataView(e.buffer, e.byteOffset).getBigInt64(8, true);

describe("memory_op / multicall HYPERCALL", () => {
  it("round-trips every descriptor's contents and refuses bodies that do not add up", () => {
    const bufs = [buf(entry(12, [6, 0])), buf(reservation(2, 0, DOM)), buf(extents([0x100, 0x101]))];
    const { body } = encodeRequest({ kind: Kind.HYPERCALL, op: 13n, args: [0n, 1n, 0n, 0n, 0n], bufs });
    const req = parseRequest(Kind.HYPERCALL, body, 1);
    expect(req.kind === Kind.HYPERCALL && req.bufs.map((b) => b.bytes)).toEqual(bufs.map((b) => b.bytes));
    expect(() => parseRequest(Kind.HYPERCALL, body.subarray(0, body.length - 1), 1)).toThrow(/desc\[2\]\.size 16 exceeds the 15 bytes left/);
    const flagged = encodeRequest({ kind: Kind.HYPERCALL, op: 12n, args: [6n, 0n, 0n, 0n, 0n], bufs: [{ size: 0n, flags: 1 }] }).body;
    flagged[48 + 4] = 8; // size 8 on a flagged descriptor
    expect(() => parseRequest(Kind.HYPERCALL, flagged, 1)).toThrow(ProtocolError);
    const many = encodeRequest({ kind: Kind.HYPERCALL, op: 13n, args: [0n, 8n, 0n, 0n, 0n], bufs: Array.from({ length: 16 }, () => unreadable) }).body;
    expect(() => parseRequest(Kind.HYPERCALL, many, 1)).toThrow(/ndesc 16 exceeds 15/);
  });

  it("populates through a multicall, writes each entry's result, and answers faults as Xen does", () => {
    const { hv } = createFakeHost(worldForDomains([DOM]));
    const e = entry(12, [6, 0]);
    const ex = extents([0x200, 0x201, 0x1_0000_0000_00]);
    const r = runMemopHypercall(hv, 0, false, 13n, [0n, 1n], [buf(e), buf(reservation(3, 0, DOM)), buf(ex)]);
    expect(r).toEqual({ ret: 0, errno: 0 });
    expect(result(e)).toBe(2n); // the third gfn is beyond the p2m: populate_physmap stops there
    expect(hv.domain(DOM)!.p2m.typeOf(0x201)).toBe("ram_rw");
    // an unreadable entry array fails the whole multicall; an unreadable reservation is "0 done"
    expect(runMemopHypercall(hv, 0, false, 13n, [0n, 1n], [unreadable])).toEqual({ ret: -1, errno: EFAULT });
    const e2 = entry(12, [6, 0]);
    expect(runMemopHypercall(hv, 0, false, 13n, [0n, 1n], [buf(e2), unreadable, unreadable])).toEqual({ ret: 0, errno: 0 });
    expect(result(e2)).toBe(0n);
    // other ops inside a multicall are -ENOSYS in their result; restricted files are EPERM
    const e3 = entry(17, [0]);
    runMemopHypercall(hv, 0, false, 13n, [0n, 1n], [buf(e3)]);
    expect(result(e3)).toBe(-38n);
    expect(runMemopHypercall(hv, 0, true, 12n, [6n, 0n], [])).toEqual({ ret: -1, errno: EPERM });
    expect(runMemopHypercall(hv, 0, false, 12n, [5n, 0n], [])).toEqual({ ret: -1, errno: ENOSYS });
    // a guest may not populate another guest: 0 extents done
    expect(runMemopHypercall(hv, DOM, false, 12n, [6n, 0n], [buf(reservation(1, 0, 0)), buf(extents([0x300]))])).toEqual({ ret: 0, errno: 0 });
  });

  it("an order-20 extent is one p2m write, not a loop per page", () => {
    const { hv } = createFakeHost(worldForDomains([DOM]));
    const t0 = performance.now();
    const r = runMemopHypercall(hv, 0, false, 12n, [6n, 0n], [buf(reservation(1, 20, DOM)), buf(extents([0x10_0000]))]);
    expect(r).toEqual({ ret: 1, errno: 0 });
    expect(hv.domain(DOM)!.p2m.typeOf(0x10_0000 + 0xf_ffff)).toBe("ram_rw");
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
