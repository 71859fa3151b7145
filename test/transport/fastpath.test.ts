// The fast path's server side: regions offered in HELLO, requests through them, WAKE only when
// asked for, and a region a client scribbles on treated as a malformed frame of that connection.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, Kind, encodeRequest, frame, parseCallReply, parseErrorReply, type Request } from "../../src/transport/protocol.js";
import { FastKind, Layout } from "../../src/transport/fastpath.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { SocketTransport } from "../../src/transport/socket.js";
import { RawFastClient } from "./fastpath-raw.js";

const WORLD = { domains: [{ domid: 1, type: "hvm" as const, vcpus: 3 }, { domid: 2, type: "hvm" as const, vcpus: 5 }] };
const MAX = 4;

function nrVcpus(dom: number): { req: Request; op: Uint8Array } {
  const op = new Uint8Array(32);
  op[0] = 20; // XEN_DMOP_nr_vcpus
  return { req: { kind: Kind.DM_OP, dom, num: 1, bufs: [{ size: 32n, flags: 0, bytes: op }] }, op };
}

function vcpusOf(body: Uint8Array): number {
  const r = parseCallReply(body);
  expect(r.ret).toBe(0);
  return new DataView(r.bufs[0]!.buffer, r.bufs[0]!.byteOffset).getUint32(8, true);
}

let dir: string;
let server: XendmServer;
let path: string;
let errors: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xendm-fp-"));
  path = join(dir, "s.sock");
  errors = [];
  server = new XendmServer({ device: createFakeHost(WORLD).device, fastpath: { maxChannels: MAX }, log: (l) => { errors.push(l); } });
  await server.listen(path);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Regions mapped in this process (the server's and the raw test clients'). */
function mapped(): number {
  return readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/memfd:xendm-fp-")).length;
}

/** Whether `p` still opens the region it named (its fd number may have been reused since). */
function openedAgain(p: string): boolean {
  try {
    return readlinkSync(p).startsWith("/memfd:xendm-fp-");
  } catch {
    return false;
  }
}

/** Another connection on the socket still gets answers. */
async function healthy(): Promise<void> {
  const t = await SocketTransport.connect(path);
  const op = nrVcpus(2).op;
  expect((await t.dmOp(2, [{ bytes: op }])).ret).toBe(0);
  expect(new DataView(op.buffer).getUint32(8, true)).toBe(5);
  await t.close();
}

describe("fast path (server side)", () => {
  it("offers the fast path in HELLO and hands out a sealed memfd that cannot be opened after first use", async () => {
    const c = await RawFastClient.open(path);
    expect(c.features & 1).toBe(1);
    expect(c.path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    expect(readlinkSync(c.path)).toMatch(/^\/memfd:xendm-fp-\d+/);
    // the client cannot truncate it under the server's mapping (an access past the end would be SIGBUS)
    const fd = openSync(c.path, "r+");
    try {
      expect(() => { ftruncateSync(fd, 0); }).toThrow(/EPERM/);
      expect(() => { ftruncateSync(fd, 1 << 20); }).toThrow(/EPERM/);
    } finally {
      closeSync(fd);
    }
    const dv = new DataView(c.map!.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)]).toEqual([Layout.MAGIC, Layout.VERSION, Layout.DATA_OFF + Layout.DATA_SIZE]);
    const r = await c.call(nrVcpus(1).req);
    expect(r.kind).toBe(Kind.DM_OP | 0x80);
    expect(vcpusOf(r.body)).toBe(3);
    expect(openedAgain(c.path)).toBe(false);
    c.close();
  });

  it("answers through the region, with a WAKE frame on the socket only when the client said it waits", async () => {
    const c = await RawFastClient.open(path);
    const before = server.fastpathStats.wakes;
    for (let i = 0; i < 50; i++) expect(vcpusOf((await c.call(nrVcpus(1 + (i & 1)).req)).body)).toBe(i & 1 ? 5 : 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.frames).toEqual([]);
    const r = await c.call(nrVcpus(2).req, { wait: true });
    expect(vcpusOf(r.body)).toBe(5);
    const wake = await c.next();
    expect(wake).toMatchObject({ kind: FastKind.WAKE, seq: r.seq, body: new Uint8Array(0) });
    expect(Atomics.load(c.i32, Layout.OFF_WAITING >> 2)).toBe(0);
    expect(server.fastpathStats.wakes).toBe(before + 1);
    c.close();
  });

  it("sends a WAKE only for the seq in the waiting word: a late look at an earlier reply cannot take the next call's", async () => {
    const c = await RawFastClient.open(path);
    await c.call(nrVcpus(1).req); // seq > 1 from here on
    const before = server.fastpathStats.wakes;
    // the word asks for another call's WAKE (the old flag value 1, and the next seq): this reply sends none
    for (const later of [false, true]) {
      const other = later ? c.seq + 2 : 1;
      const r = await c.call(nrVcpus(1).req, { waiting: other });
      expect(r.seq).not.toBe(other);
      expect(Atomics.load(c.i32, Layout.OFF_WAITING >> 2)).toBe(other);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(c.frames).toEqual([]);
    expect(server.fastpathStats.wakes).toBe(before);
    Atomics.store(c.i32, Layout.OFF_WAITING >> 2, 0);
    c.close();
  });

  it("keeps the restriction per connection on the fast path as on the socket", async () => {
    const a = await RawFastClient.open(path);
    const b = await RawFastClient.open(path);
    const r = await a.call({ kind: Kind.RESTRICT, dom: 1, flags: 0 });
    expect(new DataView(r.body.buffer, r.body.byteOffset).getInt32(0, true)).toBe(0);
    expect(parseCallReply((await a.call(nrVcpus(2).req)).body)).toMatchObject({ ret: -1, errno: 1 });
    expect(vcpusOf((await b.call(nrVcpus(2).req)).body)).toBe(5);
    a.close();
    b.close();
  });

  const bad: [string, (c: RawFastClient) => void, number, RegExp][] = [
    ["a frame length over the data area", (c) => { c.post(new Uint8Array([0xff, 0xff, 0xff, 0x7f]), c.nextSeq()); }, ErrorCode.TOO_LARGE, /byte 4096: frame length 2147483647 exceeds/],
    ["a frame length under the header", (c) => { c.post(new Uint8Array([3, 0, 0, 0]), c.nextSeq()); }, ErrorCode.BAD_FRAME, /byte 4096: frame length 3/],
    ["a frame seq that is not req_seq", (c) => { const s = c.nextSeq(); const { kind, body } = encodeRequest(nrVcpus(1).req); c.post(frame(kind, s + 7, body), s); }, ErrorCode.BAD_FRAME, /byte 4104: frame seq/],
    ["HELLO in the region", (c) => { const s = c.nextSeq(); c.post(frame(Kind.HELLO, s, new Uint8Array(4)), s); }, ErrorCode.UNKNOWN_KIND, /byte 4101: kind 0x1/],
    ["a bad version", (c) => { const s = c.nextSeq(); const f = frame(Kind.BYE, s); f[4] = 9; f[5] = Kind.DM_OP; c.post(f, s); }, ErrorCode.BAD_VERSION, /version 9/],
    ["non-zero flags", (c) => { const s = c.nextSeq(); const { kind, body } = encodeRequest(nrVcpus(1).req); const f = frame(kind, s, body); f[6] = 1; c.post(f, s); }, ErrorCode.BAD_FRAME, /flags/],
    ["a DM_OP body that lies about its descriptors", (c) => { const s = c.nextSeq(); const { kind, body } = encodeRequest(nrVcpus(1).req); body[4] = 9; c.post(frame(kind, s, body), s); }, ErrorCode.BAD_BODY, /ndesc|desc/],
    ["a KICK with a body", (c) => { c.sock.write(frame(FastKind.KICK, c.nextSeq(), new Uint8Array(1))); }, ErrorCode.BAD_BODY, /KICK body/],
  ];
  for (const [name, scribble, code, msg] of bad) {
    it(`answers ${name} with error ${code} on the socket and closes only that connection`, async () => {
      const other = await RawFastClient.open(path);
      const c = await RawFastClient.open(path);
      expect(vcpusOf((await c.call(nrVcpus(1).req)).body)).toBe(3);
      scribble(c);
      const f = await c.next();
      expect(f?.kind).toBe(Kind.ERROR);
      const e = parseErrorReply(f!.body);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
      expect(await c.next()).toBeUndefined();
      expect(c.closed).toBe(true);
      c.close();
      expect(vcpusOf((await other.call(nrVcpus(2).req)).body)).toBe(5);
      other.close();
      await healthy();
    });
  }

  it("refuses a KICK without a region, and a second FASTPATH on the same connection", async () => {
    const c = await RawFastClient.open(path);
    const again = await c.exchange(frame(FastKind.FASTPATH, c.nextSeq()));
    expect(again.kind).toBe(FastKind.FASTPATH | 0x80);
    expect([...new Int32Array(again.body.slice(0, 8).buffer)]).toEqual([-1, 17]); // EEXIST
    c.close();
    const d = await RawFastClient.open(path, false);
    const f = await d.exchange(frame(FastKind.KICK, d.nextSeq()));
    expect(parseErrorReply(f.body)).toMatchObject({ code: ErrorCode.BAD_FRAME, message: expect.stringMatching(/KICK on a connection without/) as unknown });
    d.close();
  });

  it("bounds the regions: past maxChannels FASTPATH is -1/ENOSPC and the client stays on the socket", async () => {
    await new Promise((r) => setTimeout(r, 50)); // earlier tests' closes
    const held = await Promise.all(Array.from({ length: MAX }, () => RawFastClient.open(path)));
    const extra = await RawFastClient.open(path, false);
    const r = await extra.exchange(frame(FastKind.FASTPATH, extra.nextSeq()));
    expect([...new Int32Array(r.body.slice(0, 8).buffer)]).toEqual([-1, 28]);
    const { kind, body } = encodeRequest(nrVcpus(1).req);
    expect(vcpusOf((await extra.exchange(frame(kind, extra.nextSeq(), body))).body)).toBe(3);
    extra.close();
    for (const h of held) h.close();
  });

  it("unmaps a dead client's region and goes on", async () => {
    await new Promise((r) => setTimeout(r, 50)); // earlier tests' closes
    const before = mapped();
    const c = await RawFastClient.open(path);
    expect(mapped()).toBe(before + 2); // the server's mapping and this client's
    c.close(); // never used: the server learns of it from the socket's close
    const end = Date.now() + 2000;
    while (mapped() > before && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(mapped()).toBe(before);
    await healthy();
  });

  it("keeps old clients on the socket: a server with the fast path off says features 0 and refuses FASTPATH", async () => {
    const off = new XendmServer({ device: createFakeHost(WORLD).device, fastpath: { enabled: false } });
    const p = join(dir, "off.sock");
    await off.listen(p);
    const c = await RawFastClient.open(p, false);
    expect(c.features).toBe(0);
    const f = await c.exchange(frame(FastKind.FASTPATH, c.nextSeq()));
    expect(parseErrorReply(f.body).code).toBe(ErrorCode.UNKNOWN_KIND);
    c.close();
    await off.close();
  });
});
