// The shim never crashes or hangs: bad path pointers, fork beside an ioctl in flight, a server that
// stops answering or sends half a reply, and a socket that appears only after the program started.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer } from "./harness.js";

const EFAULT = 14, EIO = 5;
const ROBUST = join(BUILD, "robust");

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/robust SKIPPED: ${missing}. The shim's robustness is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

/**
 * A server that answers HELLO and SHM_INFO, then misbehaves on every later frame: "stall" never answers,
 * "half" sends a reply header and half its body, then nothing.
 */
function misbehavingServer(path: string, mode: "stall" | "half"): Promise<{ server: Server; socks: Socket[] }> {
  const socks: Socket[] = [];
  const server = createServer((sock) => {
    socks.push(sock);
    let buf = Buffer.alloc(0);
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const len = buf.readUInt32LE(0);
        const kind = buf[5]!;
        const seq = buf.readUInt32LE(8);
        buf = buf.subarray(4 + len);
        if (kind === 0x01 || kind === 0x20) {
          // HELLO, and SHM_INFO (no shared memory: -1/ENODEV), answered as a server would
          const body = kind === 0x01
            ? Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("bad")])
            : Buffer.from([0xff, 0xff, 0xff, 0xff, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
          const h = Buffer.alloc(12);
          h.writeUInt32LE(8 + body.length, 0);
          h[4] = 1;
          h[5] = kind | 0x80;
          h.writeUInt32LE(seq, 8);
          sock.write(Buffer.concat([h, body]));
        } else if (mode === "half") {
          const h = Buffer.alloc(12);
          h.writeUInt32LE(8 + 48, 0);
          h[4] = 1;
          h[5] = kind | 0x80;
          h.writeUInt32LE(seq, 8);
          sock.write(Buffer.concat([h, Buffer.alloc(24)]));
        }
      }
    });
    sock.on("error", () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => { resolve({ server, socks }); }));
}

suite("shim robustness", () => {
  let tmp = "";
  beforeAll(() => {
    buildNative();
    tmp = mkdtempSync(join(tmpdir(), "xendm-robust-"));
  });
  afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

  it("gives EFAULT for an unreadable path in every open entry point, and still opens a path ending at a page edge", async () => {
    const srv = await startServer();
    try {
      const r = await run(ROBUST, ["badpath"], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines).toHaveLength(32);
      for (const l of lines) {
        const c = String(l.case);
        if (c.endsWith(" fits")) expect(l, c).toMatchObject({ ret: 0, errno: 0 });
        else expect(l, c).toMatchObject({ ret: -1, errno: EFAULT });
      }
    } finally {
      await srv.close();
    }
  });

  it("lets a child forked while another thread is inside an ioctl make its own calls", async () => {
    const srv = await startServer();
    try {
      const r = await run(ROBUST, ["forkioctl", String(DOM), "20"], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      expect(jsonLines(r.stdout)[0]).toEqual({ case: "forkioctl", ok: 20, hung: 0, failed: 0 });
    } finally {
      await srv.close();
    }
  }, 60_000);

  for (const mode of ["stall", "half"] as const) {
    it(`fails a call with EIO within XENDM_SHIM_TIMEOUT_MS when the server ${mode === "stall" ? "stops answering" : "sends half a reply"}`, async () => {
      const path = join(tmp, `${mode}.sock`);
      const { server, socks } = await misbehavingServer(path, mode);
      try {
        const t0 = Date.now();
        const r = await run(ROBUST, ["stall", String(DOM)], shimEnv(path, { XENDM_SHIM_TIMEOUT_MS: "300" }));
        const wall = Date.now() - t0;
        expect(r.code, r.stderr).toBe(0);
        const l = jsonLines(r.stdout)[0]!;
        expect(l).toMatchObject({ case: "stall", open: true, errno: EIO, again_errno: EIO });
        expect(Number(l.ms)).toBeGreaterThanOrEqual(250);
        expect(Number(l.ms)).toBeLessThan(2000);
        expect(wall).toBeLessThan(5000);
        expect(r.stderr).toMatch(/xendm-shim: no complete reply from .* within 300 ms/);
      } finally {
        for (const s of socks) s.destroy();
        await new Promise<void>((resolve) => server.close(() => { resolve(); }));
      }
    }, 20_000);
  }

  it("waits up to XENDM_SHIM_CONNECT_MS for a socket that appears after the program started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-late-"));
    const path = join(dir, "sock");
    const child = run(ROBUST, ["stall", String(DOM)], shimEnv(path, { XENDM_SHIM_CONNECT_MS: "5000" }));
    await new Promise((resolve) => setTimeout(resolve, 400));
    const { createFakeHost } = await import("../../src/transport/fake.js");
    const { XendmServer } = await import("../../src/transport/server.js");
    const server = new XendmServer({ device: createFakeHost({ format: 1, domains: [{ domid: DOM, type: "hvm" }] }).device });
    await server.listen(path);
    try {
      const r = await child;
      expect(r.code, r.stderr).toBe(0);
      expect(jsonLines(r.stdout)[0]).toMatchObject({ case: "stall", open: true, errno: 0, again_errno: 0 });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it("fails at once with XENDM_SHIM_CONNECT_MS=0 when there is no socket", async () => {
    const t0 = Date.now();
    const r = await run(ROBUST, ["stall", String(DOM)], shimEnv(join(tmp, "absent.sock"), { XENDM_SHIM_CONNECT_MS: "0" }));
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ case: "stall", open: false });
    expect(Date.now() - t0).toBeLessThan(900);
  });
});
