// A TypeScript IoreqClient served through `xendm serve`'s socket, as from another process: its pages are
// mapped from the server's shared file (a second mapping of the same bytes), its event channels are an
// evtchn file of the protocol; the guest's accesses complete with its answers.
import { describe, expect, it } from "vitest";
import { guestOf } from "../../src/hypervisor/emulate.js";
import type { AccessResult } from "../../src/hypervisor/emulate-types.js";
import { attachSocket } from "../../src/transport/ioreq-socket.js";
import { call } from "../hypervisor/helpers.js";
import { startServer } from "../native/harness.js";

const CREATE = 1, MAP = 3;

describe("IoreqClient over the socket (socketIoreqPort)", () => {
  it("serves port reads and writes of both vCPUs; the pages it maps are the fake's pages", async () => {
    const srv = await startServer({ format: 1, domains: [{ domid: 1, type: "hvm", vcpus: 2 }] });
    try {
      expect(call(srv.hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(0);
      expect(call(srv.hv, MAP, { id: 0, type: 0, start: 0x100n, end: 0x103n }).rc).toBe(0);
      const attached = await attachSocket(srv.path, { domid: 1, id: 0 });
      const client = attached.client;
      const seen: string[] = [];
      const serving = client.serve((req) => {
        seen.push(`${req.dir === 1 ? "read" : "write"} ${req.addr.toString(16)}/${req.size}${req.dir === 0 ? ` = ${req.data.toString(16)}` : ""}`);
        return req.dir === 1 ? 0xbeef : undefined;
      });
      const g = guestOf(srv.hv);
      const access = (vcpu: number, a: Parameters<typeof g.pio>[2]): Promise<AccessResult> =>
        new Promise((resolve) => {
          const r = g.pio(1, vcpu, a, resolve);
          if (r.status !== "pending") resolve(r);
        });
      const r0 = await access(0, { port: 0x100, size: 2, dir: "read" });
      const r1 = await access(1, { port: 0x102, size: 1, dir: "write", data: 0x5a });
      const r2 = await access(1, { port: 0x101, size: 2, dir: "read" });
      expect(r0, JSON.stringify(r0, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).toMatchObject({ status: "done", value: 0xbeefn });
      expect(r1).toMatchObject({ status: "done" });
      expect(r2).toMatchObject({ status: "done", value: 0xbeefn });
      expect(seen).toEqual(["read 100/2", "write 102/1 = 5a", "read 101/2"]);
      await attached.close();
      await serving;
      // the device model's close released its event-channel file: the guest's ports await domain 0 again
      await new Promise((r) => setTimeout(r, 50));
      for (const p of srv.hv.server(1, 0).ioreq_ports ?? []) expect(srv.hv.domain(1)!.evtchn.get(p)).toMatchObject({ state: "unbound" });
    } finally {
      await srv.close();
    }
  }, 20_000);
});
