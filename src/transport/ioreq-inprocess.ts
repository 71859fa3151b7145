// The in-process IoreqPort: a server of a fake hypervisor in this process, as the emulator side sees
// it. The pages are mapped with XENMEM_acquire_resource (frame 1 sync, frame 0 buffered), the
// buffered port comes from get_ioreq_server_info (no_gfns) through the real dispatcher, and
// notifications travel through the hypervisor's event channels and the guest side's completion path.
// Also the flood harness with the fake's buffered-ring producer.
import { decode, encode } from "../codec/index.js";
import { bufferedRing } from "../hypervisor/buffered-ring.js";
import { guestOf } from "../hypervisor/emulate.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { mapResource } from "../hypervisor/resource.js";
import { IoreqClient, type IoreqClientInit } from "../emulator/client.js";
import { runFlood, type FloodOptions, type FloodReport } from "../emulator/flood.js";
import type { IoreqEvents, IoreqPort } from "../emulator/port.js";

export class IoreqAttachError extends Error {
  constructor(
    readonly rc: number,
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = "IoreqAttachError";
  }
}

export interface InProcessTarget {
  /** The emulator's domain (the server's creator). */
  caller: number;
  domid: number;
  /** ioservid */
  id: number;
}

/**
 * The event channel between emulator domain `caller` and guest `domid` of an in-process hypervisor.
 * bind() is EVTCHNOP_bind_interdomain to the guest's port and unbind() EVTCHNOP_close, so the
 * hypervisor's event-channel table holds the binding (a second bind of the same port fails as in Xen).
 * On the round trip's hot path the bound pair is used directly, as the table would route it: the
 * hypervisor raising a bound guest port reaches the listener as the local port, and notify() on a
 * local port wakes the vCPU waiting on its guest port (what EVTCHNOP_send to a Xen-attached port does).
 */
export function inProcessEvents(hv: Hypervisor, domid: number, caller = 0): IoreqEvents {
  const guest = guestOf(hv);
  /** local port -> the guest port it is bound to, and back */
  const remoteOf = new Map<number, number>();
  const localOf = new Map<number, number>();
  return {
    onNotify: (listener) =>
      hv.onNotify((dom, port) => {
        if (dom !== domid) return;
        const local = localOf.get(port);
        if (local !== undefined) listener(local);
      }),
    notify: (port) => {
      const remote = remoteOf.get(port);
      if (remote !== undefined) guest.notified(domid, remote);
      else hv.evtchnSend(caller, port);
    },
    bind: (remotePort) => {
      const local = hv.evtchnBindInterdomain(caller, domid, remotePort);
      if (local < 0) throw new IoreqAttachError(local, "bind_interdomain", `binding domain ${caller} to port ${remotePort} of domain ${domid}: rc ${local}`);
      remoteOf.set(local, remotePort);
      localOf.set(remotePort, local);
      return local;
    },
    unbind: (localPort) => {
      const remote = remoteOf.get(localPort);
      remoteOf.delete(localPort);
      if (remote !== undefined) localOf.delete(remote);
      hv.evtchnClose(caller, localPort);
    },
  };
}

/** get_ioreq_server_info with XEN_DMOP_no_gfns through the dispatcher: the buffered port. */
export function bufioreqPortOf(hv: Hypervisor, t: InProcessTarget): number | null {
  const buf = encode("xen_dm_op", { op: "XEN_DMOP_get_ioreq_server_info", u: { get_ioreq_server_info: { id: t.id, flags: "XEN_DMOP_no_gfns" } } });
  const rc = hv.dm_op(t.caller, t.domid, [{ bytes: buf }]);
  if (rc !== 0) throw new IoreqAttachError(rc, "get_ioreq_server_info", `get_ioreq_server_info(id ${t.id}) on domain ${t.domid} failed: rc ${rc}`);
  const out = decode("xen_dm_op", buf);
  const port = out.u.get_ioreq_server_info?.bufioreq_port;
  return typeof port === "number" && port !== 0 ? port : null;
}

/**
 * Maps server `id`'s pages and returns them with the event channel to its domain. Map before enabling
 * the server (as QEMU does): enable writes each vCPU's port into its slot, and a client reads the
 * ports from there if they were not known at map time.
 */
export function inProcessIoreqPort(hv: Hypervisor, t: InProcessTarget): IoreqPort {
  const sync = mapResource(hv, t.caller, t.domid, t.id, 1);
  if (sync.page === null) throw new IoreqAttachError(sync.rc, "acquire_resource frame 1", `mapping the sync page of server ${t.id}: rc ${sync.rc}`);
  const port = bufioreqPortOf(hv, t);
  let bufPage: Uint8Array | null = null;
  if (port !== null) {
    const b = mapResource(hv, t.caller, t.domid, t.id, 0);
    if (b.page === null) throw new IoreqAttachError(b.rc, "acquire_resource frame 0", `mapping the buffered page of server ${t.id}: rc ${b.rc}`);
    bufPage = b.page;
  }
  const d = hv.domain(t.domid);
  const vcpus = d?.vcpus.length ?? 0;
  const server = d?.ioreq.servers[t.id];
  const out: IoreqPort = { ioreqPage: sync.page, bufioreqPage: bufPage, vcpus, bufioreqPort: port, events: inProcessEvents(hv, t.domid, t.caller) };
  // The ports are the ones event channel setup created (xenevtchn_bind_interdomain to each vp_eport).
  if (server !== undefined) out.vcpuPorts = server.ioreqEvtchn.slice(0, vcpus);
  return out;
}

/** An IoreqClient on server `id` of an in-process hypervisor (inProcessIoreqPort, then the client). */
export function attachInProcess(hv: Hypervisor, t: InProcessTarget, opts: Pick<IoreqClientInit, "readPointerUpdate"> = {}): IoreqClient {
  const init: IoreqClientInit = inProcessIoreqPort(hv, t);
  if (opts.readPointerUpdate !== undefined) init.readPointerUpdate = opts.readPointerUpdate;
  return new IoreqClient(init);
}

/** Runs one flood against a private buffered ring written by the fake's ioreq_send_buffered. */
export function flood(o: FloodOptions): FloodReport {
  return runFlood(o, bufferedRing(o.handling));
}
