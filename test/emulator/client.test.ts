// IoreqClient against the in-process fake, and the protocol errors it reports.
import { describe, expect, it } from "vitest";
import { IoreqClient, type IoreqRequest } from "../../src/emulator/client.js";
import { IoreqProtocolError } from "../../src/emulator/errors.js";
import { flood } from "../../src/transport/ioreq-inprocess.js";
import { attachInProcess, IoreqAttachError } from "../../src/transport/ioreq-inprocess.js";
import { createServer, host, mapRange, setState, GUEST } from "../emulate/helpers.js";

function served(bufioreq = 2) {
  const s = host();
  const id = createServer(s.hv, bufioreq);
  const client = attachInProcess(s.hv, { caller: 0, domid: GUEST, id });
  mapRange(s.hv, id, "PORT", 0x3f8, 0x3ff);
  mapRange(s.hv, id, "MEMORY", 0xa0000, 0xbffff);
  setState(s.hv, id, true);
  return { ...s, id, client };
}

const bare = (bufPage: Uint8Array | null = null) =>
  new IoreqClient({
    ioreqPage: new Uint8Array(4096),
    bufioreqPage: bufPage,
    vcpus: 2,
    vcpuPorts: [1, 3],
    bufioreqPort: 2,
    events: { onNotify: () => () => undefined, notify: () => undefined },
  });

describe("IoreqClient in process", () => {
  it("for await yields requests; respond completes the guest's access", async () => {
    const { guest, client } = served();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x48 });
    guest.pio(GUEST, 1, { port: 0x3fd, size: 1, dir: "read" });
    const got: IoreqRequest[] = [];
    for await (const req of client) {
      got.push(req);
      client.respond(req, req.dir === 1 ? 0x60 : undefined);
      if (got.length === 2) break;
    }
    expect(got.map((r) => [r.vcpu, r.addr, r.dir, r.data])).toEqual([
      [0, 0x3f8n, 0, 0x48n],
      [1, 0x3fdn, 1, 0n],
    ]);
    expect(guest.lastResult(GUEST, 0)).toEqual({ status: "done", reps: 1 });
    expect(guest.lastResult(GUEST, 1)).toMatchObject({ status: "done", value: 0x60n });
  });

  it("serve() answers synchronous handlers on the spot and awaits asynchronous ones", async () => {
    const { guest, client } = served();
    let slow = false;
    const done = client.serve((r) => (slow ? Promise.resolve(0x11) : r.dir === 1 ? 0x22 : undefined));
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0x22n });
    slow = true;
    expect(guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" })).toMatchObject({ status: "pending" });
    await Promise.resolve();
    await Promise.resolve();
    expect(guest.lastResult(GUEST, 0)).toMatchObject({ status: "done", value: 0x11n });
    client.close();
    await done;
    expect(client.stats).toEqual({ sync: 2, buffered: 0, responses: 2 });
  });

  it("buffered requests arrive on the bufioreq port and need no answer", () => {
    const { guest, client } = served();
    const got: bigint[] = [];
    void client.serve((r) => {
      if (r.slot === "buffered") got.push(r.data);
      return undefined;
    });
    for (let i = 0; i < 600; i++) guest.mmio(GUEST, 0, { addr: 0xa0000 + i, size: 1, dir: "write", data: i & 0xff });
    expect(got).toHaveLength(600);
    expect(got[599]).toBe(BigInt(599 & 0xff));
  });

  it("a handler error rejects serve()", async () => {
    const { guest, client } = served();
    const done = client.serve(() => {
      throw new Error("device exploded");
    });
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" });
    await expect(done).rejects.toThrow("device exploded");
  });

  it("attach errors carry the rc and the step", () => {
    const { hv } = host();
    expect(() => attachInProcess(hv, { caller: 0, domid: GUEST, id: 3 })).toThrow(IoreqAttachError);
    try {
      attachInProcess(hv, { caller: 0, domid: GUEST, id: 3 });
    } catch (e) {
      expect(e).toMatchObject({ rc: -2, step: "acquire_resource frame 1" });
    }
  });

  it("ports come from the slots' vp_eport when not given", () => {
    const { hv } = host();
    const id = createServer(hv, 0);
    const c = attachInProcess(hv, { caller: 0, domid: GUEST, id });
    const page = hv.domain(GUEST)!.ioreq.servers[id]!.ioreqPage.page!;
    const raw = new IoreqClient({ ioreqPage: page, vcpus: 2, events: { onNotify: () => () => undefined, notify: () => undefined } });
    expect([raw.portOf(0), raw.portOf(1)]).toEqual([0, 0]); // not enabled yet
    setState(hv, id, true);
    raw.refreshPorts();
    expect([raw.portOf(0), raw.portOf(1)]).toEqual([c.portOf(0), c.portOf(1)]);
    expect(c.portOf(0)).toBe(1);
  });
});

describe("protocol errors by the emulator", () => {
  it("answering a slot twice: not-in-progress", async () => {
    const { guest, client } = served();
    guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "read" });
    const req = (await client.next())!;
    client.respond(req, 1);
    const err = (() => {
      try {
        client.respond(req, 2);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(IoreqProtocolError);
    expect(err).toMatchObject({ code: "not-in-progress", slot: "sync", index: 0 });
    expect((err as Error).message).toMatch(/STATE_IOREQ_NONE/);
  });

  it("writing a state above 3: bad-state", () => {
    const c = bare();
    expect(() => {
      c.setState(0, 4);
    }).toThrow(expect.objectContaining({ code: "bad-state" }) as Error);
    expect(() => {
      c.setState(5, 1);
    }).toThrow(expect.objectContaining({ code: "unknown-request" }) as Error);
  });

  it("finding a state above 3 in a slot: bad-state", () => {
    const c = bare();
    (c as unknown as { page: Uint8Array }).page[32 + 30] = 6;
    expect(() => c.poll()).toThrow(expect.objectContaining({ code: "bad-state", index: 1 }) as Error);
  });

  const ring = (rp: number, wp: number, slots: [number, number][]): Uint8Array => {
    const p = new Uint8Array(4096);
    const v = new DataView(p.buffer);
    v.setUint32(0, rp, true);
    v.setUint32(4, wp, true);
    slots.forEach(([w0, w1], i) => {
      v.setUint32(8 + ((rp + i) % 511) * 8, w0, true);
      v.setUint32(8 + ((rp + i) % 511) * 8 + 4, w1, true);
    });
    return p;
  };
  const qword = (addr: number): number => (1 | (3 << 10) | (addr << 12)) >>> 0;

  it("an 8-byte request with only one slot published: half-quad-word", () => {
    const c = bare(ring(7, 8, [[qword(0xb8000), 1]]));
    expect(() => c.drainBuffered()).toThrow(expect.objectContaining({ code: "half-quad-word", slot: "buffered", index: 7 }) as Error);
  });

  it("an 8-byte request whose second slot does not match: half-quad-word", () => {
    const c = bare(ring(0, 2, [[qword(0xb8000), 1], [qword(0xb8008), 2]]));
    expect(() => c.drainBuffered()).toThrow(/matching second slot/);
  });

  it("a whole quad word across the ring's end is fine", () => {
    const c = bare(ring(510, 512, [[qword(0xb8000), 0x55667788], [qword(0xb8000), 0x11223344]]));
    const got: bigint[] = [];
    void c.serve((r) => {
      got.push(r.data);
      return undefined;
    });
    expect(got).toEqual([0x1122334455667788n]);
  });

  it("read_pointer ahead of write_pointer: ring-overrun", () => {
    const c = bare(ring(10, 5, []));
    expect(() => c.drainBuffered()).toThrow(expect.objectContaining({ code: "ring-overrun" }) as Error);
  });

  it("a buffered read: bad-buffered-request", () => {
    const c = bare(ring(0, 1, [[(1 | (1 << 9) | (0xa0000 << 12)) >>> 0, 0]]));
    expect(() => c.drainBuffered()).toThrow(expect.objectContaining({ code: "bad-buffered-request" }) as Error);
  });
});

describe("flood mode", () => {
  it("an atomic consumer keeps up through thousands of wraps in both modes", () => {
    for (const handling of [1, 2] as const) {
      const r = flood({ handling, consumer: "atomic", requests: 20_000 });
      expect(r).toMatchObject({ sent: 20_000, unhandled: 0, delivered: 20_000, duplicates: 0, outOfOrder: 0, lost: 0, overrun: null, xenSeesFull: false });
    }
  });

  it("a stale read_pointer store is harmless in LEGACY mode (nothing folds)", () => {
    expect(flood({ handling: 1, consumer: "stale", requests: 20_000 })).toMatchObject({ delivered: 20_000, lost: 0, overrun: null });
  });

  it("a stale read_pointer store undoes ATOMIC folding: overrun, lost requests, and a ring Xen sees as full", () => {
    const r = flood({ handling: 2, consumer: "stale", requests: 20_000 });
    expect(r.overrun).toBeInstanceOf(IoreqProtocolError);
    expect(r.overrun!.code).toBe("ring-overrun");
    expect(r.pointers.read).toBeGreaterThan(r.pointers.write);
    expect(r.lost).toBeGreaterThan(0);
    expect(r.xenSeesFull).toBe(true);
  });

  it("refuses sizes that would loop for ever or overfill the ring", () => {
    expect(() => flood({ handling: 2, consumer: "atomic", requests: 2 ** 32 })).toThrow(/requests/);
    expect(() => flood({ handling: 2, consumer: "atomic", requests: 10, batch: 400, burst: 100 })).toThrow(/511/);
  });
});
