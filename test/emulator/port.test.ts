// The emulator side against a bare IoreqPort: local ports from bind(), notifications on local ports,
// unbind on close; and the layering rule that src/emulator reaches no hypervisor internals.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IOREQ_SIZE, IOREQ_WRITE, IOREQ_TYPE_PIO, STATE_IOREQ_READY, STATE_IORESP_READY, ioreqRecord } from "../../src/codec/ioreq-record.js";
import { IoreqClient } from "../../src/emulator/client.js";
import type { IoreqEvents } from "../../src/emulator/port.js";

/** An event channel whose local ports are remote + 100, recording every call. */
function channel(): { events: IoreqEvents; raise: (local: number) => void; log: string[] } {
  const log: string[] = [];
  const listeners: ((p: number) => void)[] = [];
  const events: IoreqEvents = {
    onNotify: (l) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
    notify: (p) => log.push(`notify ${p}`),
    bind: (remote) => {
      log.push(`bind ${remote}`);
      return remote + 100;
    },
    unbind: (local) => log.push(`unbind ${local}`),
  };
  return { events, log, raise: (p) => { listeners.forEach((l) => { l(p); }); } };
}

describe("IoreqClient over an IoreqPort", () => {
  it("binds each guest port, serves on the local port, notifies the local port, unbinds on close", () => {
    const page = new Uint8Array(4096);
    const view = new DataView(page.buffer);
    const ch = channel();
    const client = new IoreqClient({ ioreqPage: page, bufioreqPage: new Uint8Array(4096), vcpus: 2, vcpuPorts: [5, 6], bufioreqPort: 7, events: ch.events });
    expect(ch.log).toEqual(["bind 7", "bind 5", "bind 6"]);
    expect(client.portOf(1)).toBe(106);
    const seen: number[] = [];
    void client.serve((r) => {
      seen.push(r.vcpu);
      return undefined;
    });
    ioreqRecord.write(view, IOREQ_SIZE, { addr: 0x3f8n, data: 0x41n, count: 1, size: 1, vp_eport: 6, state: STATE_IOREQ_READY, data_is_ptr: 0, dir: IOREQ_WRITE, df: 0, type: IOREQ_TYPE_PIO });
    ch.raise(6); // the guest's port number is not one of the client's ports
    expect(seen).toEqual([]);
    ch.raise(106);
    expect(seen).toEqual([1]);
    expect(ioreqRecord.state(view, IOREQ_SIZE)).toBe(STATE_IORESP_READY);
    expect(ch.log.at(-1)).toBe("notify 106");
    client.close();
    expect(ch.log.slice(-3).sort()).toEqual(["unbind 105", "unbind 106", "unbind 107"]);
  });
});

describe("layering", () => {
  it("src/emulator imports only the codec, the ABI and itself", () => {
    const dir = join(import.meta.dirname, "../../src/emulator");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      const src = readFileSync(join(dir, f), "utf8");
      for (const m of src.matchAll(/from\s+"([^"]+)"/g)) {
        expect(m[1], `${f} imports ${m[1]}`).toMatch(/^(\.\/|\.\.\/codec\/|\.\.\/\.\.\/abi\/)/);
      }
    }
  });
});

describe("the in-process IoreqPort", () => {
  it("binds the emulator's local ports to the guest's ports through the hypervisor's event channels", async () => {
    const { Hypervisor } = await import("../../src/hypervisor/hypervisor.js");
    const { attachInProcess, IoreqAttachError } = await import("../../src/transport/ioreq-inprocess.js");
    const { encode, decode } = await import("../../src/codec/index.js");
    const { guestOf } = await import("../../src/hypervisor/emulate.js");
    const hv = new Hypervisor({ domains: [{ domid: 1, vcpus: 1 }] });
    const dmop = (member: string, fields: Record<string, unknown>): Record<string, unknown> => {
      const bytes = encode("xen_dm_op", { op: `XEN_DMOP_${member}`, u: { [member]: fields } });
      expect(hv.dm_op(0, 1, [{ bytes }])).toBe(0);
      return (decode("xen_dm_op", bytes).u as unknown as Record<string, Record<string, unknown>>)[member]!;
    };
    const a = dmop("create_ioreq_server", { handle_bufioreq: 0 }).id as number;
    const b = dmop("create_ioreq_server", { handle_bufioreq: 0 }).id as number;
    const ca = attachInProcess(hv, { caller: 0, domid: 1, id: a });
    const cb = attachInProcess(hv, { caller: 0, domid: 1, id: b });
    const guestPort = hv.domain(1)!.ioreq.servers[b]!.ioreqEvtchn[0]!;
    const peer = hv.domain(1)!.evtchn.get(guestPort)!;
    expect(peer).toMatchObject({ state: "interdomain", remoteDomid: 0, remotePort: cb.portOf(0) });
    expect(hv.domain(0)!.evtchn.get(cb.portOf(0)!)).toMatchObject({ state: "interdomain", remoteDomid: 1, remotePort: guestPort });
    expect(ca.portOf(0)).not.toBe(cb.portOf(0));
    // the guest's port is bound now: a second emulator cannot bind it
    expect(() => attachInProcess(hv, { caller: 0, domid: 1, id: b })).toThrow(IoreqAttachError);
    // a round trip: the send raises the local port, the answer's EVTCHNOP_send wakes the vCPU
    // (not 0x70-0x71: Xen's own RTC answers those before any ioreq server)
    dmop("map_io_range_to_ioreq_server", { id: b, type: "XEN_DMOP_IO_RANGE_PORT", start: 0x3f8n, end: 0x3ffn });
    dmop("set_ioreq_server_state", { id: b, enabled: 1 });
    void cb.serve(() => 0x42);
    expect(guestOf(hv).pio(1, 0, { port: 0x3f9, size: 1, dir: "read" })).toMatchObject({ status: "done", value: 0x42n });
    cb.close();
    expect(hv.domain(1)!.evtchn.get(guestPort)!.state).toBe("unbound");
    const again = attachInProcess(hv, { caller: 0, domid: 1, id: b });
    expect(again.portOf(0)).toBeGreaterThan(0);
    again.close();
    ca.close();
  });
});
