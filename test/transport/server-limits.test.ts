// The server's bounds: connections at once, and how long a connection may hold an incomplete frame.
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, FrameReader, Kind, parseErrorReply } from "../../src/transport/protocol.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { SocketTransportFactory } from "../../src/transport/socket.js";

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => { resolve(s); });
    s.once("error", reject);
  });
}

/** The frames a socket receives until the server closes it. */
function framesUntilEnd(s: Socket): Promise<{ kind: number; code: number; message: string }[]> {
  const reader = new FrameReader();
  const out: { kind: number; code: number; message: string }[] = [];
  return new Promise((resolve) => {
    s.on("data", (d: Buffer) => {
      for (const f of reader.push(new Uint8Array(d))) {
        const e = f.kind === Kind.ERROR ? parseErrorReply(f.body) : { code: 0, message: "" };
        out.push({ kind: f.kind, ...e });
      }
    });
    s.on("close", () => { resolve(out); });
    s.on("error", () => undefined);
  });
}

describe("server limits", () => {
  it("refuses connections beyond maxConnections with error code 7; the others are served", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-limits-"));
    const path = join(dir, "s");
    const { hv } = createFakeHost({ format: 1, domains: [{ domid: 1, type: "hvm" }] });
    const server = new XendmServer({ hv, maxConnections: 3, sharedMemory: false });
    await server.listen(path);
    try {
      const held = await Promise.all([open(path), open(path), open(path)]);
      await new Promise((r) => setTimeout(r, 50));
      const extra = await open(path);
      const got = await framesUntilEnd(extra);
      expect(got).toEqual([{ kind: Kind.ERROR, code: ErrorCode.LIMIT, message: "server limit: 3 connections open" }]);
      expect(server.stats.open).toBe(3);
      for (const h of held) h.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const dm = await DeviceModel.open(new SocketTransportFactory(path));
      expect(await dm.nrVcpus(1)).toBe(2);
      await dm.close();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("closes a connection that holds an incomplete frame past frameTimeoutMs, with error code 7", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-limits-"));
    const path = join(dir, "s");
    const server = new XendmServer({ hv: createFakeHost().hv, frameTimeoutMs: 200, sharedMemory: false });
    await server.listen(path);
    try {
      const s = await open(path);
      const t0 = Date.now();
      const done = framesUntilEnd(s);
      s.write(Buffer.from([0x00, 0x00, 0x10, 0x00, 1, 2, 0, 0])); // announces a 1 MiB frame, sends 4 bytes of it
      const got = await done;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ kind: Kind.ERROR, code: ErrorCode.LIMIT });
      expect(got[0]!.message).toMatch(/incomplete after 200 ms \(8 bytes held\)/);
      expect(server.stats.open).toBe(0);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
