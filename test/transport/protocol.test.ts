// The frame and body formats of docs/protocol.md, and the strict limits of the parser.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ErrorCode, FrameReader, Kind, MAX_FRAME, ProtocolError, callReplyFrame, encodeCallReply, encodeRequest, frame, parseCallReply, requestFrame,
  parseRequest, type Request,
} from "../../src/transport/protocol.js";

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function code(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return undefined;
}

const roundTrip = (req: Request): Request => {
  const { kind, body } = encodeRequest(req);
  return parseRequest(kind, body, 9);
};

describe("request bodies", () => {
  it("DM_OP: header, descriptors, contents", () => {
    const op = new Uint8Array(32).fill(7);
    const { body } = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 2, bufs: [{ size: 32n, flags: 0, bytes: op }, { size: 3n, flags: 0, bytes: new Uint8Array([1, 2, 3]) }] });
    expect(Buffer.from(body.subarray(0, 8)).toString("hex")).toBe("0100" + "0200" + "02000000");
    expect(Buffer.from(body.subarray(8, 24)).toString("hex")).toBe("2000000000000000" + "00000000" + "00000000");
    expect(body.length).toBe(8 + 32 + 32 + 3);
    const back = roundTrip({ kind: Kind.DM_OP, dom: 1, num: 2, bufs: [{ size: 32n, flags: 0, bytes: op }, { size: 3n, flags: 0, bytes: new Uint8Array([1, 2, 3]) }] });
    expect(back).toEqual({ kind: Kind.DM_OP, dom: 1, num: 2, bufs: [{ size: 32n, flags: 0, bytes: op }, { size: 3n, flags: 0, bytes: new Uint8Array([1, 2, 3]) }] });
  });

  it("DM_OP: no descriptors for num 0 or num > 16; no contents when a size is over 4096 or a buffer is flagged", () => {
    expect(roundTrip({ kind: Kind.DM_OP, dom: 0x7ff4, num: 0, bufs: [] })).toEqual({ kind: Kind.DM_OP, dom: 0x7ff4, num: 0, bufs: [] });
    expect(encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 65535, bufs: [] }).body.length).toBe(8);
    const big = roundTrip({ kind: Kind.DM_OP, dom: 1, num: 2, bufs: [{ size: 32n, flags: 0, bytes: new Uint8Array(32) }, { size: 2n ** 64n - 1n, flags: 0 }] });
    expect(big.kind === Kind.DM_OP && big.bufs.map((b) => b.bytes)).toEqual([undefined, undefined]);
    const flagged = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 32n, flags: 1 }] });
    expect(flagged.body.length).toBe(8 + 16);
  });

  it("HYPERCALL carries dm_op descriptors only with 1 <= arg[1] <= 2, and memory_op / multicall / hvm_op ones always", () => {
    const args = [1n, 1n, 0xdeadn, 0n, 0n];
    const r = roundTrip({ kind: Kind.HYPERCALL, op: 41n, args, bufs: [{ size: 32n, flags: 0, bytes: new Uint8Array(32).fill(1) }] });
    expect(r).toMatchObject({ op: 41n, args, bufs: [{ size: 32n }] });
    expect(encodeRequest({ kind: Kind.HYPERCALL, op: 41n, args: [1n, 3n, 0n, 0n, 0n], bufs: [] }).body.length).toBe(48 + 4);
    expect(encodeRequest({ kind: Kind.HYPERCALL, op: 34n, args: [1n, 1n, 0n, 0n, 0n], bufs: [] }).body.length).toBe(48 + 4);
    expect(encodeRequest({ kind: Kind.HYPERCALL, op: 17n, args: [1n, 1n, 0n, 0n, 0n], bufs: [] }).body.length).toBe(48);
  });

  it("HELLO, RESTRICT, BYE", () => {
    expect(roundTrip({ kind: Kind.HELLO, caller: 3, abi: 1, name: "qemu ✓" })).toEqual({ kind: Kind.HELLO, caller: 3, abi: 1, name: "qemu ✓" });
    expect(roundTrip({ kind: Kind.RESTRICT, dom: 9, flags: 1 })).toEqual({ kind: Kind.RESTRICT, dom: 9, flags: 1 });
    expect(roundTrip({ kind: Kind.BYE })).toEqual({ kind: Kind.BYE });
  });

  it("refuses malformed bodies with BAD_BODY and unknown kinds with UNKNOWN_KIND", () => {
    const dm = encodeRequest({ kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 4n, flags: 0, bytes: new Uint8Array(4) }] }).body;
    expect(code(() => parseRequest(Kind.DM_OP, dm.subarray(0, dm.length - 1), 1))).toBe(ErrorCode.BAD_BODY); // truncated
    expect(code(() => parseRequest(Kind.DM_OP, new Uint8Array([...dm, 0]), 1))).toBe(ErrorCode.BAD_BODY); // trailing
    expect(code(() => parseRequest(Kind.DM_OP, new Uint8Array(3), 1))).toBe(ErrorCode.BAD_BODY); // short header
    const lying = dm.slice();
    lying.set(le32(0xffffffff), 4); // ndesc does not match num
    expect(code(() => parseRequest(Kind.DM_OP, lying, 1))).toBe(ErrorCode.BAD_BODY);
    const reserved = dm.slice();
    reserved[20] = 1;
    expect(code(() => parseRequest(Kind.DM_OP, reserved, 1))).toBe(ErrorCode.BAD_BODY);
    expect(code(() => parseRequest(Kind.RESTRICT, new Uint8Array(5), 1))).toBe(ErrorCode.BAD_BODY);
    expect(code(() => parseRequest(Kind.BYE, new Uint8Array(1), 1))).toBe(ErrorCode.BAD_BODY);
    expect(code(() => parseRequest(Kind.HELLO, new Uint8Array([0, 0, 9, 0]), 1))).toBe(ErrorCode.BAD_BODY); // abi 9
    expect(code(() => parseRequest(Kind.HELLO, new Uint8Array([0, 0, 0, 0, 0xff]), 1))).toBe(ErrorCode.BAD_BODY); // not UTF-8
    for (const k of [0x00, 0x05, 0x1f, 0x2f, 0x30, 0x40, 0x80, 0xfe]) expect(code(() => parseRequest(k, new Uint8Array(0), 1))).toBe(ErrorCode.UNKNOWN_KIND);
  });

  it("any request round-trips (property)", () => {
    const buf = fc.record({ size: fc.integer({ min: 0, max: 64 }), flags: fc.constant(0) });
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(buf, { minLength: 1, maxLength: 16 }), (dom, descs) => {
      const bufs = descs.map((d) => ({ size: BigInt(d.size), flags: 0, bytes: new Uint8Array(d.size).fill(d.size) }));
      expect(roundTrip({ kind: Kind.DM_OP, dom, num: bufs.length, bufs })).toEqual({ kind: Kind.DM_OP, dom, num: bufs.length, bufs });
    }));
  });
});

describe("replies", () => {
  it("call reply round trip and strict parse", () => {
    const body = encodeCallReply({ ret: -1, errno: 22, bufs: [new Uint8Array([1, 2]), new Uint8Array(0)] });
    expect(parseCallReply(body)).toEqual({ ret: -1, errno: 22, bufs: [new Uint8Array([1, 2]), new Uint8Array(0)] });
    expect(code(() => parseCallReply(body.subarray(0, body.length - 5)))).toBe(ErrorCode.BAD_BODY);
    const hostile = encodeCallReply({ ret: 0, errno: 0, bufs: [] });
    hostile.set(le32(0xffffffff), 8);
    expect(code(() => parseCallReply(hostile))).toBe(ErrorCode.BAD_BODY);
  });
});

describe("FrameReader", () => {
  it("reassembles frames split at every byte boundary", () => {
    const frames = [frame(Kind.DM_OP, 1, new Uint8Array(40).fill(3)), frame(Kind.BYE, 2), frame(Kind.RESTRICT, 3, new Uint8Array(4))];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) { all.set(f, o); o += f.length; }
    for (let cut = 0; cut <= all.length; cut++) {
      const r = new FrameReader();
      const got = [...r.push(all.subarray(0, cut)), ...r.push(all.subarray(cut))];
      expect(got.map((f) => [f.kind, f.seq, f.body.length])).toEqual([[Kind.DM_OP, 1, 40], [Kind.BYE, 2, 0], [Kind.RESTRICT, 3, 4]]);
      expect(r.pending).toBe(0);
    }
  });

  it("returns every frame's bytes intact however a stream of frames is cut in three", () => {
    const bodies = [Uint8Array.from({ length: 40 }, (_, i) => i + 1), new Uint8Array(0), Uint8Array.from([9, 8, 7, 6])];
    const frames = [frame(Kind.DM_OP, 1, bodies[0]), frame(Kind.BYE, 2, bodies[1]), frame(Kind.RESTRICT, 3, bodies[2])];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) { all.set(f, o); o += f.length; }
    for (let a = 0; a <= all.length; a += 3) {
      for (let b = a; b <= all.length; b += 5) {
        const r = new FrameReader();
        const got = [...r.push(all.subarray(0, a)), ...r.push(all.subarray(a, b)), ...r.push(all.subarray(b))];
        expect(got.map((f) => [f.kind, f.seq, [...f.body]])).toEqual([[Kind.DM_OP, 1, [...bodies[0]!]], [Kind.BYE, 2, []], [Kind.RESTRICT, 3, [9, 8, 7, 6]]]);
        expect(r.pending).toBe(0);
      }
    }
  });

  it("callReplyFrame is byte for byte frame() around encodeCallReply()", () => {
    const cases = [
      { ret: 0, errno: 0, bufs: [Uint8Array.from({ length: 32 }, (_, i) => 255 - i)] },
      { ret: -1, errno: 22, bufs: [new Uint8Array([1, 2]), new Uint8Array(0)] },
      { ret: 0x7fffffff, errno: 0, bufs: [] },
    ];
    for (const c of cases) {
      expect([...callReplyFrame(Kind.DM_OP | 0x80, 0xfffffffe, c.ret, c.errno, c.bufs)]).toEqual([...frame(Kind.DM_OP | 0x80, 0xfffffffe, encodeCallReply(c))]);
    }
    expect(code(() => callReplyFrame(Kind.DM_OP | 0x80, 1, 0, 0, [new Uint8Array(MAX_FRAME)]))).toBe(ErrorCode.TOO_LARGE);
  });

  it("requestFrame is byte for byte frame() around encodeRequest()", () => {
    const reqs: Request[] = [
      { kind: Kind.HELLO, caller: 7, abi: 1, name: "x".repeat(100) },
      { kind: Kind.DM_OP, dom: 1, num: 2, bufs: [{ size: 32n, flags: 0, bytes: new Uint8Array(32).fill(5) }, { size: 3n, flags: 0, bytes: new Uint8Array([1, 2, 3]) }] },
      { kind: Kind.DM_OP, dom: 1, num: 1, bufs: [{ size: 5000n, flags: 0 }] },
      { kind: Kind.RESTRICT, dom: 3, flags: 1 },
      { kind: Kind.HYPERCALL, op: 41n, args: [1n, 1n, 0n, 0n, 0n], bufs: [{ size: 8n, flags: 0, bytes: new Uint8Array(8).fill(9) }] },
      { kind: Kind.BYE },
    ];
    for (const req of reqs) {
      const { kind, body } = encodeRequest(req);
      expect([...requestFrame(req, 0x12345678)]).toEqual([...frame(kind, 0x12345678, body)]);
    }
    expect(code(() => requestFrame({ kind: Kind.HELLO, caller: 0, abi: 0, name: "x".repeat(MAX_FRAME) }, 1))).toBe(ErrorCode.TOO_LARGE);
  });

  it("refuses a short or oversized length at once, before any body arrives", () => {
    expect(code(() => new FrameReader().push(le32(7)))).toBe(ErrorCode.BAD_FRAME);
    expect(code(() => new FrameReader().push(le32(MAX_FRAME + 1)))).toBe(ErrorCode.TOO_LARGE);
    expect(code(() => new FrameReader().push(le32(0xffffffff)))).toBe(ErrorCode.TOO_LARGE);
    const r = new FrameReader();
    expect(r.push(le32(MAX_FRAME))).toEqual([]); // a legal maximum waits for its bytes
  });

  it("frame() refuses to build a frame over the limit", () => {
    expect(code(() => frame(Kind.DM_OP, 1, new Uint8Array(MAX_FRAME)))).toBe(ErrorCode.TOO_LARGE);
  });
});
