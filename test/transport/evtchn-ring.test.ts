// The event area of an evtchn file's control region (server side): ports go to the ring only while
// the client's spinning bit is set (else on the stream socket), unmasks come back through the other
// ring, and a client that scribbles on the area's indices gets an error reply and loses only that
// connection (the file goes on over its socket, other connections are served).
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, Kind, encodeRequest, frame, parseErrorReply } from "../../src/transport/protocol.js";
import { FastKind, Layout } from "../../src/transport/fastpath.js";
import { EV_SPINNING } from "../../src/transport/evtchn-ring.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import type { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { dmop } from "../hypervisor/helpers.js";
import { RawFastClient } from "./fastpath-raw.js";

const DOM = 1;
const W = {
  EV_PROD: Layout.OFF_EV_PROD >> 2, EV_CONS: Layout.OFF_EV_CONS >> 2, UM_PROD: Layout.OFF_UM_PROD >> 2,
  UM_CONS: Layout.OFF_UM_CONS >> 2, UM_WANTED: Layout.OFF_UM_WANTED >> 2, EV_RING: Layout.OFF_EV_RING >> 2, UM_RING: Layout.OFF_UM_RING >> 2, POLLING: Layout.OFF_POLLING >> 2,
};

let dir: string;
let server: XendmServer;
let hv: Hypervisor;
let path: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "xendm-evring-"));
  path = join(dir, "s.sock");
  const host = createFakeHost({ domains: [{ domid: DOM, type: "hvm", vcpus: 1 }, { domid: 2, type: "hvm", vcpus: 5 }] });
  hv = host.hv;
  server = new XendmServer({ hv, device: host.device });
  await server.listen(path);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The stream connection of file `token`: every byte the server writes on it. */
async function stream(token: bigint): Promise<{ sock: Socket; bytes: number[] }> {
  const sock = connect(path);
  await new Promise<void>((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
  const s = { sock, bytes: [] as number[] };
  const { kind, body } = encodeRequest({ kind: Kind.EVTCHN_STREAM, token });
  sock.write(frame(kind, 1, body));
  let replied = false;
  await new Promise<void>((resolve) => {
    sock.on("data", (c: Buffer) => {
      if (!replied) {
        replied = true;
        expect(c.readInt32LE(12)).toBe(0);
        s.bytes.push(...c.subarray(20));
        resolve();
      } else s.bytes.push(...c);
    });
  });
  return s;
}

const until = async (what: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(what()).toBe(true);
};

/** A control connection with a region, a file opened on it, its stream, one bound port (read once from the socket). */
async function setup(): Promise<{ c: RawFastClient; s: { sock: Socket; bytes: number[] }; local: number; remote: number }> {
  const c = await RawFastClient.open(path);
  expect(new DataView(c.map!.buffer).getUint32(Layout.OFF_FEATURES, true) & 1).toBe(1);
  const open = encodeRequest({ kind: Kind.EVTCHN_OPEN, token: 0n });
  const r = await c.exchange(frame(open.kind, c.nextSeq(), open.body));
  expect(new DataView(r.body.buffer, r.body.byteOffset).getInt32(0, true)).toBe(0);
  const token = new DataView(r.body.buffer, r.body.byteOffset).getBigUint64(8, true);
  const s = await stream(token);
  expect(hv.dm_op(0, DOM, [{ bytes: dmop(1, { handle_bufioreq: 0 }) }])).toBe(0);
  const remote = hv.server(DOM, 0).ioreq_ports![0]!;
  const bind = await c.call({ kind: Kind.EVTCHN_IOCTL, nr: 1, flags: 0, a0: DOM, a1: remote });
  const local = new DataView(bind.body.buffer, bind.body.byteOffset).getInt32(0, true);
  expect(local).toBeGreaterThan(0);
  await until(() => s.bytes.length === 4); // the fresh binding is pending once: the client was not spinning
  expect(Buffer.from(s.bytes).readUInt32LE(0)).toBe(local);
  s.bytes.length = 0;
  return { c, s, local, remote };
}

/** The client's write() of an unmask through the ring, with a KICK when the server is not polling. */
function ringUnmask(c: RawFastClient, port: number): void {
  const w = c.i32;
  const prod = Atomics.load(w, W.UM_PROD) >>> 0;
  Atomics.store(w, W.UM_RING + (prod % Layout.RING_SIZE), port);
  Atomics.store(w, W.UM_PROD, (prod + 1) | 0);
  if (Atomics.load(w, W.POLLING) === 0) c.sock.write(frame(FastKind.KICK, 0));
}

describe("evtchn event area (server side)", () => {
  it("puts a port in the ring while the client spins, on the socket otherwise; unmasks come back through the ring", async () => {
    const { c, s, local, remote } = await setup();
    const w = c.i32;
    const before = server.evtchnStats;
    Atomics.or(w, W.EV_PROD, EV_SPINNING);
    ringUnmask(c, local);
    await until(() => server.evtchnStats.ringUnmasks === before.ringUnmasks + 1);
    hv.notify(DOM, remote);
    expect(Atomics.load(w, W.EV_PROD) >>> 0).toBe((EV_SPINNING | 1) >>> 0);
    expect(Atomics.load(w, W.EV_RING)).toBe(local);
    expect(Atomics.load(w, W.UM_WANTED)).toBe(0); // no port waits for its unmask: unmasks need no KICK
    // masked until unmasked: raised again meanwhile, it waits (neither ring nor socket), and the
    // client is asked to kick the unmask that releases it
    hv.notify(DOM, remote);
    expect(Atomics.load(w, W.EV_PROD) & 0x7fffffff).toBe(1);
    expect(Atomics.load(w, W.UM_WANTED)).toBe(1);
    Atomics.store(w, W.EV_CONS, 1); // the client took it
    // the client stops spinning; the unmask releases the pending raise onto the socket
    Atomics.and(w, W.EV_PROD, ~EV_SPINNING);
    ringUnmask(c, local);
    await until(() => s.bytes.length === 4);
    expect(Buffer.from(s.bytes).readUInt32LE(0)).toBe(local);
    expect(Atomics.load(w, W.UM_WANTED)).toBe(0);
    const after = server.evtchnStats;
    expect(after.ringDeliveries - before.ringDeliveries).toBe(1);
    expect(after.socketDeliveries - before.socketDeliveries).toBe(1);
    expect(after.ringUnmasks - before.ringUnmasks).toBe(2);
    expect(after.socketUnmasks - before.socketUnmasks).toBe(0);
    c.close();
    s.sock.destroy();
  });

  it("falls back to the socket when the ring is full", async () => {
    const { c, s, local, remote } = await setup();
    const w = c.i32;
    // a ring the client has not emptied: 256 ports pushed (as the server saw them), none taken
    Atomics.store(w, W.EV_PROD, 0);
    for (let i = 0; i < Layout.RING_SIZE; i++) {
      Atomics.or(w, W.EV_PROD, EV_SPINNING);
      ringUnmask(c, local);
      await until(() => server.evtchnStats.ringUnmasks >= i + 1);
      hv.notify(DOM, remote);
    }
    expect(Atomics.load(w, W.EV_PROD) & 0x7fffffff).toBe(Layout.RING_SIZE);
    expect(s.bytes.length).toBe(0);
    ringUnmask(c, local);
    await until(() => server.evtchnStats.ringUnmasks >= Layout.RING_SIZE + 1);
    hv.notify(DOM, remote);
    await until(() => s.bytes.length === 4);
    c.close();
    s.sock.destroy();
  });

  const scribbles: [string, (w: Int32Array) => void, number][] = [
    ["an ev_cons far from ev_prod", (w) => { Atomics.store(w, W.EV_CONS, 0x12345); Atomics.or(w, W.EV_PROD, EV_SPINNING); }, Layout.OFF_EV_CONS],
    ["an ev_prod count the server did not publish", (w) => { Atomics.store(w, W.EV_PROD, (EV_SPINNING | 77) | 0); }, Layout.OFF_EV_PROD],
    ["an um_prod more than a ring ahead", (w) => { Atomics.store(w, W.UM_PROD, 1000); }, Layout.OFF_UM_PROD],
  ];
  for (const [name, scribble, offset] of scribbles) {
    it(`answers ${name} with an error naming byte ${offset} and closes only that connection`, async () => {
      const { c, s, local, remote } = await setup();
      ringUnmask(c, local); // the port may be raised again
      await until(() => server.evtchnStats.ringUnmasks === 1);
      scribble(c.i32);
      c.sock.write(frame(FastKind.KICK, 0)); // the server looks at the unmask ring
      hv.notify(DOM, remote); // and pushes a port
      const f = await c.next();
      expect(f?.kind).toBe(Kind.ERROR);
      const e = parseErrorReply(f!.body);
      expect(e.code).toBe(ErrorCode.BAD_FRAME);
      expect(e.message).toContain(`byte ${offset}`);
      await until(() => c.closed);
      // the port still reached the program: on the stream socket (the area is gone)
      await until(() => s.bytes.length === 4);
      expect(Buffer.from(s.bytes).readUInt32LE(0)).toBe(local);
      // another connection is served
      const other = await RawFastClient.open(path);
      const r = await other.call({ kind: Kind.DM_OP, dom: 2, num: 1, bufs: [{ size: 32n, flags: 0, bytes: dmop(20) }] });
      expect(r.kind).toBe(Kind.DM_OP | 0x80);
      other.close();
      c.close();
      s.sock.destroy();
    });
  }
});
