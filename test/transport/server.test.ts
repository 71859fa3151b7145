// xendm serve: protocol handling, isolation of connections, robustness, in-process vs socket parity.
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceModel, XenError } from "../../src/devicemodel/index.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { InProcessTransportFactory } from "../../src/transport/inprocess.js";
import {
  ErrorCode, FrameReader, Kind, encodeRequest, frame, parseCallReply, parseErrorReply, parseRestrictReply,
} from "../../src/transport/protocol.js";
import { SocketTransport, SocketTransportFactory } from "../../src/transport/socket.js";
import { TapFactory } from "../devicemodel/tap.js";
import { cat, le32, rawExchange, serve, type Served } from "./harness.js";

const N_CLIENTS = 32;
const WORLD = { domains: Array.from({ length: N_CLIENTS }, (_, i) => ({ domid: i + 1, type: "hvm" as const, vcpus: (i % 7) + 1 })) };

let s: Served;
beforeAll(async () => { s = await serve(WORLD); });
afterAll(async () => { await s.stop(); });

/** A healthy client still gets answers. */
async function healthy(): Promise<void> {
  const dm = await DeviceModel.open(new SocketTransportFactory(s.path));
  expect(await dm.nrVcpus(3)).toBe(3);
  await dm.close();
}

describe("xendm serve", () => {
  it("creates the socket with mode 0600", () => {
    expect(statSync(s.path).mode & 0o777).toBe(0o600);
  });

  it("answers HELLO with the protocol version", async () => {
    const t = await SocketTransport.connect(s.path, { name: "t" });
    expect(t.server).toMatchObject({ protocol_version: 1, features: 1 }) // bit 0: the fast path;
    await t.close();
  });

  it("gives the same results and buffers in-process and over the socket", async () => {
    const run = async (dm: DeviceModel): Promise<unknown[]> => {
      const out: unknown[] = [];
      const r = async (p: Promise<unknown>) => { out.push(await p.catch((e: unknown) => (e instanceof XenError ? e.errnoName : String(e)))); };
      await r(dm.nrVcpus(2));
      await r(dm.nrVcpus(0x1234));
      const id = await dm.createIoreqServer(1, 2);
      out.push(id);
      await r(dm.getIoreqServerInfo(1, id, { ioreq_gfn: true, bufioreq_gfn: true }));
      await r(dm.mapIoRangeToIoreqServer(1, id, 0, 0x3f8, 0x3ff));
      await r(dm.mapIoRangeToIoreqServer(1, id, 0, 0x20, 0x10));
      await r(dm.mapPcidevToIoreqServer(1, id, 0, 0, 3, 0));
      await r(dm.mapMemTypeToIoreqServer(1, id, 4, 2));
      await r(dm.setMemType(1, 4, 0x100, 4));
      await r(dm.setIoreqServerState(1, id, 1));
      await r(dm.setPciIntxLevel(1, 0, 0, 3, 0, 1));
      await r(dm.setIsaIrqLevel(1, 5, 1));
      await r(dm.setPciLinkRoute(1, 1, 10));
      await r(dm.injectMsi(1, 0xfee01000, 0x4041));
      await r(dm.trackDirtyVram(1, 0x100, 70, new Uint8Array(16).fill(0xa5)));
      await r(dm.modifiedMemory(1, 0x100, 4));
      await r(dm.injectEvent(1, 0, 14, 3, 0x12, 0, 0xdeadbeefcafen));
      await r(dm.relocateMemory(1, 1, 0x100, 0x200));
      await r(dm.pinMemoryCacheattr(1, 0x100, 0x1ff, 6));
      await r(dm.destroyIoreqServer(1, id));
      await r(dm.restrict(1));
      await r(dm.nrVcpus(2));
      await r(dm.shutdown(1, 1));
      return out;
    };
    const { device } = createFakeHost(WORLD);
    const a = new TapFactory(new InProcessTransportFactory(device));
    const local = await run(await DeviceModel.open(a));
    const fresh = await serve(WORLD);
    const b = new TapFactory(new SocketTransportFactory(fresh.path));
    const remote = await run(await DeviceModel.open(b));
    await fresh.stop();
    expect(remote).toEqual(local);
    expect(local).toContain("EPERM");
    expect(b.calls).toEqual(a.calls);
  });

  it(`${N_CLIENTS} concurrent clients x 5000 calls: no lost or crossed replies`, async () => {
    const client = async (i: number): Promise<number> => {
      const dom = i + 1;
      const t = await SocketTransport.connect(s.path, { name: `c${i}` });
      if (i % 2 === 1) expect((await t.restrict(dom)).ret).toBe(0); // odd clients restricted to their domain
      let ok = 0;
      for (let batch = 0; batch < 50; batch++) {
        const calls = Array.from({ length: 100 }, (_, k) => {
          const op = new Uint8Array(32);
          op[0] = 20; // XEN_DMOP_nr_vcpus
          const target = k % 10 === 9 ? ((dom % N_CLIENTS) + 1) : dom; // every 10th call: a neighbour's domain
          return t.dmOp(target, [{ bytes: op }]).then((r) => ({ r, op, target }));
        });
        for (const { r, op, target } of await Promise.all(calls)) {
          const good = i % 2 === 1 && target !== dom
            ? r.ret === -1 && r.errno === 1
            : r.ret === 0 && new DataView(op.buffer).getUint32(8, true) === ((target - 1) % 7) + 1;
          if (good) ok++;
        }
      }
      await t.close();
      return ok;
    };
    const counts = await Promise.all(Array.from({ length: N_CLIENTS }, (_, i) => client(i)));
    expect(counts).toEqual(Array.from({ length: N_CLIENTS }, () => 5000));
  });

  describe("malformed frames get an error reply and close only that connection", () => {
    const good = frame(Kind.BYE, 1);
    const cases: [string, Uint8Array, number][] = [
      ["short length", le32(3), ErrorCode.BAD_FRAME],
      ["length shorter than the header", cat(le32(4), new Uint8Array(4)), ErrorCode.BAD_FRAME],
      ["oversized length", le32(0x7fffffff), ErrorCode.TOO_LARGE],
      ["length 2^32-1", le32(0xffffffff), ErrorCode.TOO_LARGE],
      ["bad version", cat(le32(8), new Uint8Array([2, Kind.BYE, 0, 0, 1, 0, 0, 0])), ErrorCode.BAD_VERSION],
      ["non-zero flags", cat(le32(8), new Uint8Array([1, Kind.BYE, 1, 0, 1, 0, 0, 0])), ErrorCode.BAD_FRAME],
      ["unknown kind", frame(0x55, 1), ErrorCode.UNKNOWN_KIND],
      ["reserved event-channel kind", frame(0x1f, 1), ErrorCode.UNKNOWN_KIND],
      ["a reply kind sent as a request", frame(Kind.DM_OP | 0x80, 1), ErrorCode.UNKNOWN_KIND],
      ["truncated DM_OP body", frame(Kind.DM_OP, 1, new Uint8Array([1, 0, 1, 0, 1, 0, 0, 0])), ErrorCode.BAD_BODY],
      ["trailing bytes", frame(Kind.RESTRICT, 1, new Uint8Array([1, 0, 0, 0, 0])), ErrorCode.BAD_BODY],
      ["ndesc 2^32-1", frame(Kind.DM_OP, 1, cat(new Uint8Array([1, 0, 1, 0]), le32(0xffffffff))), ErrorCode.BAD_BODY],
      ["HELLO after another request", cat(frame(Kind.RESTRICT, 1, new Uint8Array(4)), frame(Kind.HELLO, 2, new Uint8Array(4))), ErrorCode.BAD_FRAME],
    ];
    for (const [name, bytes, want] of cases) {
      it(name, async () => {
        const other = await SocketTransport.connect(s.path);
        const { frames, closed } = await rawExchange(s.path, cat(bytes, good));
        expect(closed).toBe(true);
        const err = frames.at(-1)!;
        expect(err.kind).toBe(Kind.ERROR);
        expect(parseErrorReply(err.body).code).toBe(want);
        expect(frames.filter((f) => f.kind === (Kind.BYE | 0x80) && f.body.length === 0)).toHaveLength(0); // nothing after the bad frame
        const op = new Uint8Array(32);
        op[0] = 20;
        expect((await other.dmOp(2, [{ bytes: op }])).ret).toBe(0); // the other connection goes on
        await other.close();
        await healthy();
      });
    }
  });

  it("hostile sizes are answered by the kernel's checks, without allocating", async () => {
    const t = await SocketTransport.connect(s.path);
    expect(await t.dmOp(1, [], 65535)).toMatchObject({ ret: -1, errno: 7 }); // num > 16: E2BIG
    expect(await t.dmOp(0x7ff4, [], 0)).toMatchObject({ ret: 0, bufs: [] });
    const op = new Uint8Array(32);
    op[0] = 20;
    expect(await t.dmOp(1, [{ bytes: op }, { bytes: new Uint8Array(0), size: 2n ** 64n - 1n }])).toMatchObject({ ret: -1, errno: 7, bufs: [] });
    expect(await t.dmOp(1, [{ bytes: op, size: 4097 }])).toMatchObject({ ret: -1, errno: 7 });
    expect(await t.dmOp(1, [{ bytes: op, unreadable: true }])).toMatchObject({ ret: -1, errno: 14 });
    expect(await t.hypercall(41, [1, 0xffffffff, 0], [])).toMatchObject({ ret: -1, errno: 7 });
    expect(await t.hypercall(41, [1, 0, 0], [])).toMatchObject({ ret: -1, errno: 61 }); // ENODATA
    // Buffer 0 still travels beside a hostile buffer 1; nr_vcpus never reads buffer 1.
    expect(await t.hypercall(41, [1, 2, 0], [{ bytes: op }, { bytes: new Uint8Array(0), size: 2n ** 64n - 1n }])).toMatchObject({ ret: 0 });
    expect(op[8]).toBe(1); // domain 1 has 1 vCPU in this world
    expect(await t.hypercall(34, [0, 0, 0], [])).toMatchObject({ ret: -1, errno: 38 }); // ENOSYS for now
    const dm = await DeviceModel.open(new SocketTransportFactory(s.path));
    await expect(dm.trackDirtyVram(1, 0, 0xfffffff8)).rejects.toMatchObject({ errno: 7 }); // size 0x1fffffff
    await expect(dm.modifiedMemoryBulk(1, new Uint8Array(0), 0xffffffff)).rejects.toMatchObject({ errno: 7 });
    await dm.close();
    await t.close();
    // A legal maximum-size frame of garbage is read and refused as a bad body.
    const body = new Uint8Array((1 << 20) - 8);
    const { frames } = await rawExchange(s.path, frame(Kind.RESTRICT, 5, body));
    expect(parseErrorReply(frames.at(-1)!.body).code).toBe(ErrorCode.BAD_BODY);
    await healthy();
  });

  it("survives clients killed mid-frame and mid-call", async () => {
    const script = `
      const net = require("node:net");
      const s = net.connect(process.argv[1], () => {
        const hdr = Buffer.alloc(12); hdr.writeUInt32LE(8 + 8 + 16 + 32, 0); hdr[4] = 1; hdr[5] = 2; hdr.writeUInt32LE(1, 8);
        const body = Buffer.alloc(8 + 16 + 32); body.writeUInt16LE(1, 0); body.writeUInt16LE(1, 2); body.writeUInt32LE(1, 4); body[8] = 32; body[24] = 20;
        const whole = Buffer.concat([hdr, body]);
        for (let i = 0; i < 200; i++) s.write(whole);          // many calls in flight
        s.write(whole.subarray(0, 20));                        // then half a frame
        process.stdout.write("sent\\n");
      });`;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ["-e", script, s.path], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((resolve) => { child.stdout.once("data", () => { resolve(); }); });
      child.kill("SIGKILL");
      await new Promise<void>((resolve) => { child.once("exit", () => { resolve(); }); });
      await healthy();
    }
    expect(s.server.stats.open).toBe(0);
  });

  it("a client that sends without reading is paused, not buffered without bound; others go on", async () => {
    const N = 20_000;
    const op = new Uint8Array(32);
    op[0] = 20;
    const one = (seq: number): Uint8Array => {
      const { kind, body } = encodeRequest({ kind: Kind.DM_OP, dom: 2, num: 1, bufs: [{ size: 32n, flags: 0, bytes: op }] });
      return frame(kind, seq, body);
    };
    const sock = connect(s.path);
    await new Promise<void>((resolve) => sock.once("connect", () => { resolve(); }));
    sock.pause(); // read nothing for now
    sock.write(cat(...Array.from({ length: N }, (_, i) => one(i + 1))));
    await new Promise((r) => setTimeout(r, 300));
    await healthy();
    const reader = new FrameReader();
    let n = 0;
    let bad = 0;
    await new Promise<void>((resolve) => {
      sock.on("data", (c: Buffer) => {
        for (const f of reader.push(new Uint8Array(c))) {
          n++;
          if (f.seq !== n || parseCallReply(f.body).bufs[0]![8] !== 2) bad++;
        }
        if (n === N) resolve();
      });
      sock.resume();
    });
    sock.destroy();
    expect({ n, bad }).toEqual({ n: N, bad: 0 });
  });

  it("answers RESTRICT with the kernel's rules (per connection)", async () => {
    const t = await SocketTransport.connect(s.path);
    const u = await SocketTransport.connect(s.path);
    expect(await t.restrict(1)).toEqual({ ret: 0 });
    expect(await t.restrict(2)).toEqual({ ret: -1, errno: 22 });
    expect(await u.restrict(2)).toEqual({ ret: 0 });
    const { frames } = await rawExchange(s.path, cat(frame(Kind.RESTRICT, 7, new Uint8Array([1, 0, 1, 0])), frame(Kind.BYE, 8)));
    expect(frames[0]!.seq).toBe(7);
    expect(parseRestrictReply(frames[0]!.body)).toEqual({ ret: -1, errno: 14 }); // unreadable pointer
    expect(frames[1]).toMatchObject({ kind: Kind.BYE | 0x80, seq: 8, body: new Uint8Array(0) });
    await t.close();
    await u.close();
  });

  it("echoes seq and answers pipelined requests in order", async () => {
    const reqs = [5, 1, 900, 3].map((seq) => {
      const op = new Uint8Array(32);
      op[0] = 20;
      const { kind, body } = encodeRequest({ kind: Kind.DM_OP, dom: seq % 4 + 1, num: 1, bufs: [{ size: 32n, flags: 0, bytes: op }] });
      return frame(kind, seq, body);
    });
    const { frames } = await rawExchange(s.path, cat(...reqs, frame(Kind.BYE, 77)));
    expect(frames.map((f) => f.seq)).toEqual([5, 1, 900, 3, 77]);
    expect(frames.slice(0, 4).map((f) => parseCallReply(f.body).bufs[0]![8])).toEqual([2, 2, 1, 4]);
  });
});
