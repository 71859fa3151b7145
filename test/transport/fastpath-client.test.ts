// A TypeScript client on the fast path (SocketTransport `fastpath`): DeviceModel calls through the
// region with the same results as on the socket, the WAKE when a reply misses the spin, a server
// without the fast path, and a connection the server closes mid-wait.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { SocketTransport, SocketTransportFactory } from "../../src/transport/socket.js";

const WORLD = { domains: [{ domid: 1, type: "hvm" as const, vcpus: 3 }] };
let dir: string;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "xendm-fpc-")); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

async function serve(name: string, opts: { enabled?: boolean; spinUs?: number } = {}): Promise<{ server: XendmServer; path: string }> {
  const path = join(dir, name);
  const server = new XendmServer({ device: createFakeHost(WORLD).device, fastpath: opts });
  await server.listen(path);
  return { server, path };
}

describe("SocketTransport on the fast path", () => {
  it("serves DeviceModel calls through the region, with the socket's results", async () => {
    const { server, path } = await serve("a.sock");
    try {
      const fast = await DeviceModel.open(new SocketTransportFactory(path, { fastpath: true }));
      const slow = await DeviceModel.open(new SocketTransportFactory(path));
      const before = server.fastpathStats.served;
      for (let i = 0; i < 200; i++) expect(await fast.nrVcpus(1)).toBe(3);
      const id = await fast.createIoreqServer(1, 0);
      expect(await slow.nrVcpus(1)).toBe(3);
      await expect(fast.nrVcpus(7)).rejects.toMatchObject({ errno: 3 }); // ESRCH, as on the socket
      await expect(slow.nrVcpus(7)).rejects.toMatchObject({ errno: 3 });
      await fast.destroyIoreqServer(1, id);
      expect(server.fastpathStats.served - before).toBeGreaterThanOrEqual(203);
      await fast.close();
      await slow.close();
    } finally {
      await server.close();
    }
  });

  it("keeps calls in flight together in order and waits for a WAKE when a reply misses the spin", async () => {
    // the server does not poll (spinUs 0): every call is a KICK, and with a 0 µs spin every reply a WAKE
    const { server, path } = await serve("b.sock", { spinUs: 0 });
    try {
      const t = await SocketTransport.connect(path, { fastpath: { spinUs: 0 } });
      expect(t.fastpath).toBe(true);
      const dm = await DeviceModel.open({ open: () => Promise.resolve(t) });
      const wakes = server.fastpathStats.wakes;
      const all = await Promise.all(Array.from({ length: 20 }, () => dm.nrVcpus(1)));
      expect(all).toEqual(Array(20).fill(3));
      expect(server.fastpathStats.wakes - wakes).toBeGreaterThan(0);
      await dm.close();
    } finally {
      await server.close();
    }
  });

  it("stays on the socket when the server offers no fast path", async () => {
    const { server, path } = await serve("c.sock", { enabled: false });
    try {
      const t = await SocketTransport.connect(path, { fastpath: true });
      expect(t.fastpath).toBe(false);
      const dm = await DeviceModel.open({ open: () => Promise.resolve(t) });
      expect(await dm.nrVcpus(1)).toBe(3);
      await dm.close();
    } finally {
      await server.close();
    }
  });

  it("refuses a spin outside 0..100000 µs with a RangeError naming the option", async () => {
    const { server, path } = await serve("d.sock");
    try {
      await expect(SocketTransport.connect(path, { fastpath: { spinUs: -1 } })).rejects.toThrow(/fastpath\.spinUs -1/);
    } finally {
      await server.close();
    }
  });

  it("fails a call waiting for its WAKE when the server goes away", async () => {
    const { server, path } = await serve("e.sock", { spinUs: 0 });
    const t = await SocketTransport.connect(path, { fastpath: { spinUs: 0 } });
    const dm = await DeviceModel.open({ open: () => Promise.resolve(t) });
    expect(await dm.nrVcpus(1)).toBe(3);
    const closing = server.close();
    await expect(dm.nrVcpus(1)).rejects.toThrow();
    await closing;
  });
});
