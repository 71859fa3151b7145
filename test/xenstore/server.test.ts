// The socket server: framing, a bad client dropped alone, idle partial messages, bounded output.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { XS_ERROR, XS_READ, XS_TRANSACTION_START, XS_WATCH, XS_WRITE } from "../../abi/xen/xs_wire.js";
import { XenstoredServer } from "../../src/xenstore/server.js";
import { XsFrameError, XsFrameReader, type XsMessage } from "../../src/xenstore/wire.js";
import { args, WireClient } from "./helpers.js";

describe("XsFrameReader", () => {
  it("cuts messages split at every byte, and refuses a length over XENSTORE_PAYLOAD_MAX naming the offset", () => {
    const msg = Buffer.concat([Buffer.from([2, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0]), Buffer.from("ab\0")]);
    const stream = Buffer.concat([msg, msg]);
    const got: XsMessage[] = [];
    const r = new XsFrameReader();
    for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1), (m) => got.push(m));
    expect(got.map((m) => [m.type, m.reqId, m.txId, m.payload.toString()])).toEqual([[2, 7, 9, "ab\0"], [2, 7, 9, "ab\0"]]);
    expect(r.partial).toBe(false);
    const big = Buffer.alloc(16);
    big.writeUInt32LE(4097, 12);
    const r2 = new XsFrameReader();
    r2.push(msg, () => undefined);
    expect(() => { r2.push(big, () => undefined); }).toThrow(XsFrameError);
    expect(() => { new XsFrameReader().push(big, () => undefined); }).toThrow("xsd_sockmsg.len at byte offset 12: 4097 exceeds XENSTORE_PAYLOAD_MAX (4096)");
  });
});

describe("XenstoredServer", () => {
  let dir: string;
  let server: XenstoredServer;
  let sock: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "xendm-xs-"));
    sock = join(dir, "xs.sock");
    server = new XenstoredServer({ partialTimeoutMs: 300, maxOutputBytes: 64 * 1024 });
    await server.listen(sock);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("echoes req_id and tx_id, answers pipelined requests in order", async () => {
    const c = await WireClient.open(sock);
    c.send(XS_WRITE, 41, 0, Buffer.concat([args("/pipe"), Buffer.from("v")]));
    c.send(XS_READ, 42, 0, args("/pipe"));
    c.send(XS_READ, 43, 99, args("/pipe"));
    expect(await c.next()).toMatchObject({ type: XS_WRITE, reqId: 41, txId: 0 });
    const r = await c.next();
    expect(r).toMatchObject({ type: XS_READ, reqId: 42 });
    expect(r!.payload.toString()).toBe("v");
    const e = await c.next();
    expect(e).toMatchObject({ type: XS_ERROR, reqId: 43, txId: 99 });
    expect(e!.payload.toString()).toBe("ENOENT\0");
    c.close();
  });

  it("an oversized message drops that client only", async () => {
    const good = await WireClient.open(sock);
    const bad = await WireClient.open(sock);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(XS_WRITE, 0);
    h.writeUInt32LE(0xffffffff, 12);
    bad.sock.write(h);
    expect(await bad.closedWithin(3000)).toBe(true);
    good.send(XS_READ, 1, 0, args("/tool"));
    expect(await good.next()).toMatchObject({ type: XS_READ, reqId: 1 });
    good.close();
  });

  it("a partial message left idle is dropped after the timeout; a whole one never is", async () => {
    const idle = await WireClient.open(sock);
    idle.sock.write(Buffer.from([2, 0, 0, 0, 1, 0]));
    const quiet = await WireClient.open(sock);
    expect(await idle.closedWithin(3000)).toBe(true);
    expect(await quiet.closedWithin(600)).toBe(false);
    quiet.send(XS_TRANSACTION_START, 5, 0, args(""));
    expect((await quiet.next())!.payload.toString()).toBe("1\0");
    quiet.close();
  });

  it("a client that never reads does not grow the server's memory without bound", async () => {
    const flood = await WireClient.open(sock);
    flood.sock.pause();
    const payload = args("/tool");
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(XS_WATCH, 0);
      h.writeUInt32LE(payload.length + 2, 12);
      return Buffer.concat([h, payload, Buffer.from("t\0")]);
    }));
    for (let i = 0; i < 20; i++) flood.sock.write(burst);
    // the server stopped reading: its queued output stays near maxOutputBytes, not 40000 replies
    let most = 0;
    for (let i = 0; i < 100 && most === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      most = server.queuedBytes;
    }
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 30));
      most = Math.max(most, server.queuedBytes);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThan(4 * 64 * 1024);
    const other = await WireClient.open(sock);
    other.send(XS_READ, 1, 0, args("/tool"));
    expect(await other.next()).toMatchObject({ type: XS_READ });
    other.close();
    flood.close();
  });
});
