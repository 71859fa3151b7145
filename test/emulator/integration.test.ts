// Two device models on one guest, answering through the async iterator: split accesses, INVALIDATE
// broadcasts and PCI config, end to end over the in-process event channels.
import { describe, expect, it } from "vitest";
import { attachInProcess } from "../../src/transport/ioreq-inprocess.js";
import type { IoreqClient, IoreqRequest } from "../../src/emulator/client.js";
import { createServer, dmop, host, mapRange, ok, setState, GUEST } from "../emulate/helpers.js";

async function answerN(c: IoreqClient, n: number, value: (r: IoreqRequest) => bigint | undefined): Promise<IoreqRequest[]> {
  const got: IoreqRequest[] = [];
  for await (const r of c) {
    got.push(r);
    c.respond(r, value(r));
    if (got.length === n) break;
  }
  return got;
}

describe("two device models, one guest", () => {
  it("a page-crossing read is answered by both, in order; an INVALIDATE reaches both first", async () => {
    const { hv, guest } = host();
    const a = createServer(hv, 0);
    const b = createServer(hv, 2);
    const ca = attachInProcess(hv, { caller: 0, domid: GUEST, id: a });
    const cb = attachInProcess(hv, { caller: 0, domid: GUEST, id: b });
    mapRange(hv, a, "MEMORY", 0xfeb00000, 0xfeb00fff);
    mapRange(hv, b, "MEMORY", 0xfeb01000, 0xfeb01fff);
    setState(hv, a, true);
    setState(hv, b, true);
    ok(dmop(hv, "relocate_memory", { size: 1, src_gfn: 0x400n, dst_gfn: 0x500n }));
    let final: unknown = null;
    expect(guest.mmio(GUEST, 1, { addr: 0xfeb00ffc, size: 8, dir: "read" }, (r) => (final = r))).toMatchObject({ status: "pending", server: b });
    const [gotB, gotA] = await Promise.all([
      answerN(cb, 2, (r) => (r.type === 8 ? undefined : 0x44332211n)),
      answerN(ca, 2, (r) => (r.type === 8 ? undefined : 0x88776655n)),
    ]);
    expect(gotB.map((r) => [r.type, r.vcpu])).toEqual([[8, 1], [1, 1]]);
    expect(gotA.map((r) => [r.type, r.vcpu])).toEqual([[8, 1], [1, 1]]);
    expect(gotA[1]).toMatchObject({ addr: 0xfeb00ffcn, size: 4 });
    expect(gotB[1]).toMatchObject({ addr: 0xfeb01000n, size: 4 });
    expect(final).toMatchObject({ status: "done", value: 0x4433221188776655n });
    expect(hv.domain(GUEST)!.ioreq.servers[a]!.pending[1]).toBe(false);
  });

  it("PCI config space of one device model, serial port of another", () => {
    const { hv, guest } = host();
    const pci = createServer(hv, 0);
    const uart = createServer(hv, 0);
    const cp = attachInProcess(hv, { caller: 0, domid: GUEST, id: pci });
    const cu = attachInProcess(hv, { caller: 0, domid: GUEST, id: uart });
    mapRange(hv, pci, "PCI", 0x08, 0x08);
    mapRange(hv, uart, "PORT", 0x3f8, 0x3ff);
    setState(hv, pci, true);
    setState(hv, uart, true);
    const config = new Map<bigint, bigint>([[0x0000_0008_0000_0000n, 0x12348086n]]);
    const text: number[] = [];
    void cp.serve((r) => config.get(r.addr) ?? 0xffffffffn);
    void cu.serve((r) => {
      if (r.dir === 0) text.push(Number(r.data));
      return r.dir === 1 ? 0x60n : undefined;
    });
    guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80000800 });
    expect(guest.pio(GUEST, 0, { port: 0xcfc, size: 4, dir: "read" })).toMatchObject({ status: "done", value: 0x12348086n });
    for (const ch of "ok\n") guest.pio(GUEST, 1, { port: 0x3f8, size: 1, dir: "write", data: ch.charCodeAt(0) });
    expect(String.fromCharCode(...text)).toBe("ok\n");
    expect(guest.pio(GUEST, 1, { port: 0x3fd, size: 1, dir: "read" })).toMatchObject({ value: 0x60n });
    cp.close();
    cu.close();
  });
});
