// Event channels between domains: alloc_unbound, bind_interdomain, send both ways, close, teardown.
import { describe, expect, it } from "vitest";
import { DOMID_SELF } from "../../abi/xen/xen.js";
import { guestOf } from "../../src/hypervisor/emulate.js";
import { call, makeHv } from "./helpers.js";

const CREATE = 1, DESTROY = 6;
const EPERM = -1, ESRCH = -3, EINVAL = -22, ENOSPC = -28;
const world = { domains: [{ domid: 1, vcpus: 2 }, { domid: 2, vcpus: 1 }] };

function withServer(): { hv: ReturnType<typeof makeHv>; ports: number[]; bport: number } {
  const hv = makeHv(world);
  expect(call(hv, CREATE, { handle_bufioreq: 1 }).rc).toBe(0);
  const s = hv.server(1, 0);
  return { hv, ports: s.ioreq_ports ?? [], bport: s.bufioreq_port! };
}

describe("event channels (event_channel.c)", () => {
  it("binds the emulator's local ports to the ioreq ports, each once, and only for the domain they await", () => {
    const { hv, ports, bport } = withServer();
    const raised: [number, number][] = [];
    hv.onRaise((d, p) => raised.push([d, p]));
    const l0 = hv.evtchnBindInterdomain(0, 1, ports[0]!);
    expect(l0).toBe(1);
    expect(raised).toEqual([[0, 1]]); // a fresh binding starts pending
    expect(hv.domain(0)!.evtchn.get(l0)).toMatchObject({ state: "interdomain", remoteDomid: 1, remotePort: ports[0] });
    expect(hv.domain(1)!.evtchn.get(ports[0]!)).toMatchObject({ state: "interdomain", remoteDomid: 0, remotePort: l0, xen: true });
    expect(hv.evtchnBindInterdomain(0, 1, ports[0]!)).toBe(EINVAL); // no longer unbound
    expect(hv.evtchnBindInterdomain(2, 1, ports[1]!)).toBe(EINVAL); // unbound for domain 0, not 2
    expect(hv.evtchnBindInterdomain(0, 9, 1)).toBe(ESRCH);
    expect(hv.evtchnBindInterdomain(0, 1, 0)).toBe(EINVAL);
    expect(hv.evtchnBindInterdomain(0, 1, 5000)).toBe(EINVAL);
    expect(hv.evtchnBindInterdomain(0, 1, bport)).toBe(2);
  });

  it("Xen's notification raises the bound peer; the emulator's send wakes the Xen side", () => {
    const { hv, ports } = withServer();
    const l1 = hv.evtchnBindInterdomain(0, 1, ports[1]!);
    const raised: [number, number][] = [];
    const woke: [number, number][] = [];
    hv.onRaise((d, p) => raised.push([d, p]));
    hv.onXenNotify((d, p) => woke.push([d, p]));
    hv.notify(1, ports[1]!);
    hv.notify(1, ports[0]!); // not bound: nobody hears it but the guest-side listeners
    expect(raised).toEqual([[0, l1]]);
    expect(hv.evtchnSend(0, l1)).toBe(0);
    expect(woke).toEqual([[1, ports[1]]]);
    expect(hv.evtchnSend(0, 77)).toBe(EINVAL); // a free port
    expect(hv.evtchnSend(1, ports[1]!)).toBe(EINVAL); // a Xen-attached port cannot be sent on
  });

  it("a guest access waits until the emulator's send on its bound port", () => {
    const { hv, ports } = withServer();
    const l0 = hv.evtchnBindInterdomain(0, 1, ports[0]!);
    const g = guestOf(hv);
    let completions = 0;
    const orig = g.notified.bind(g);
    g.notified = (d, p) => { completions++; return orig(d, p); };
    hv.evtchnSend(0, l0);
    expect(completions).toBe(1);
  });

  it("close: the peer goes back to unbound for the closer and can be bound again; Xen's ports stay the guest's", () => {
    const { hv, ports } = withServer();
    const l0 = hv.evtchnBindInterdomain(0, 1, ports[0]!);
    expect(hv.evtchnClose(1, ports[0]!)).toBe(EINVAL); // consumer_is_xen
    expect(hv.evtchnClose(0, l0)).toBe(0);
    expect(hv.evtchnClose(0, l0)).toBe(EINVAL);
    expect(hv.domain(1)!.evtchn.get(ports[0]!)).toMatchObject({ state: "unbound", remoteDomid: 0, remotePort: 0 });
    expect(hv.evtchnBindInterdomain(0, 1, ports[0]!)).toBe(l0);
  });

  it("destroying the server closes its ports: the emulator's end becomes unbound, accepting the guest", () => {
    const { hv, ports } = withServer();
    const l0 = hv.evtchnBindInterdomain(0, 1, ports[0]!);
    expect(call(hv, DESTROY, { id: 0 }).rc).toBe(0);
    expect(hv.domain(0)!.evtchn.get(l0)).toMatchObject({ state: "unbound", remoteDomid: 1 });
    expect(hv.evtchnSend(0, l0)).toBe(0); // dropped silently
  });

  it("alloc_unbound: DOMID_SELF, a remote that may bind it, privilege for another domain", () => {
    const hv = makeHv(world);
    const p = hv.evtchnAllocUnbound(2, DOMID_SELF, 1);
    expect(p).toBe(1);
    expect(hv.evtchnAllocUnbound(2, 1, 0)).toBe(EPERM); // domain 2 is not privileged over 1
    expect(hv.evtchnAllocUnbound(0, 7, 1)).toBe(ESRCH);
    expect(hv.evtchnBindInterdomain(0, 2, p)).toBe(EINVAL); // for domain 1 only
    const l = hv.evtchnBindInterdomain(1, 2, p);
    expect(l).toBeGreaterThan(0);
    const raised: [number, number][] = [];
    hv.onRaise((d, q) => raised.push([d, q]));
    expect(hv.evtchnSend(2, p)).toBe(0);
    expect(hv.evtchnSend(1, l)).toBe(0);
    expect(raised).toEqual([[1, l], [2, p]]);
  });

  it("runs out of ports at max_evtchn_port (-ENOSPC)", () => {
    const hv = makeHv({ domains: [{ domid: 0, control: true, max_evtchn_port: 2 }, { domid: 1, vcpus: 3 }] });
    expect(call(hv, CREATE, { handle_bufioreq: 0 }).rc).toBe(0);
    const ports = hv.server(1, 0).ioreq_ports ?? [];
    expect(hv.evtchnBindInterdomain(0, 1, ports[0]!)).toBe(1);
    expect(hv.evtchnBindInterdomain(0, 1, ports[1]!)).toBe(2);
    expect(hv.evtchnBindInterdomain(0, 1, ports[2]!)).toBe(ENOSPC);
  });
});
