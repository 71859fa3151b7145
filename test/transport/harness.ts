// Test harness: a server on a temporary socket, raw connections.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorldConfig } from "../../src/hypervisor/world.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { FrameReader, type RawFrame } from "../../src/transport/protocol.js";
import { XendmServer } from "../../src/transport/server.js";
import type { TraceWriter } from "../../src/transport/trace.js";

export interface Served {
  server: XendmServer;
  path: string;
  dir: string;
  stop(): Promise<void>;
}

export async function serve(world: WorldConfig, trace?: TraceWriter): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-test-"));
  const path = join(dir, "s.sock");
  const { device } = createFakeHost(world);
  const server = new XendmServer(trace ? { device, trace } : { device });
  await server.listen(path);
  return {
    server, path, dir,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends raw bytes on a fresh connection; resolves with every frame received until the server closes. */
export function rawExchange(path: string, bytes: Uint8Array, timeoutMs = 5000): Promise<{ frames: RawFrame[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const r = new FrameReader();
    const frames: RawFrame[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve({ frames, closed: false }); }, timeoutMs);
    s.on("connect", () => { s.write(bytes); });
    s.on("data", (c: Buffer) => { frames.push(...r.push(new Uint8Array(c))); });
    s.on("close", () => { clearTimeout(timer); resolve({ frames, closed: true }); });
    s.on("error", (e) => { clearTimeout(timer); reject(e); });
  });
}

export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
