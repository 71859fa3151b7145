// EVTCHNOP_alloc_unbound, bind_interdomain, close and send between the domains of one host, and Xen's
// own notifications (notify_via_xen_event_channel). Raised ports reach the host's listeners.
import { DOMID_SELF } from "../../abi/xen/xen.js";
import type { Domain } from "./domain.js";
import { EINVAL, EPERM, ESRCH } from "./explain.js";

export interface EvtchnHost {
  domain(domid: number): Domain | undefined;
  /** evtchn_port_set_pending on a guest-visible port: the listeners of `domid` hear about `port`. */
  raise(domid: number, port: number): void;
  /** A Xen-attached port was sent to (its notification function: wake the vCPU waiting on it). */
  xenNotified(domid: number, port: number): void;
}

/** rcu_lock_domain_by_any_id: DOMID_SELF is the caller. */
function byAnyId(h: EvtchnHost, caller: number, domid: number): Domain | undefined {
  return h.domain(domid === DOMID_SELF ? caller : domid);
}

/**
 * EVTCHNOP_alloc_unbound issued by `caller`: a fresh port in `dom` that `remoteDom` may bind.
 * Returns the port or -errno. The dummy XSM policy (XSM_TARGET) lets a domain allocate in itself, and
 * a control domain or a target's device model in its target.
 * mirrors event_channel.c:evtchn_alloc_unbound
 */
export function allocUnbound(h: EvtchnHost, caller: number, dom: number, remoteDom: number): number {
  const d = byAnyId(h, caller, dom);
  if (d === undefined) return ESRCH;
  const self = h.domain(caller);
  if (d.domid !== caller && !(self?.control === true || self?.domid === d.target)) return EPERM;
  const remote = remoteDom === DOMID_SELF ? caller : remoteDom;
  return d.evtchn.allocUnbound(0, remote, false);
}

/**
 * EVTCHNOP_bind_interdomain issued by `caller`: binds a new local port to `remoteDom:remotePort`, which
 * must be unbound and accept the caller. Returns the local port or -errno (-ESRCH no such remote
 * domain, -EINVAL/-ENOSPC no free local port, -EINVAL a remote port that is invalid, not unbound or
 * for another domain). The local port starts pending, as Xen sets it to catch lost notifications.
 * mirrors event_channel.c:evtchn_bind_interdomain
 */
export function bindInterdomain(h: EvtchnHost, caller: number, remoteDom: number, remotePort: number): number {
  const rd = byAnyId(h, caller, remoteDom);
  if (rd === undefined) return ESRCH;
  const ld = h.domain(caller);
  if (ld === undefined) return ESRCH;
  const lport = ld.evtchn.freePort();
  if (lport < 0) return lport;
  const rchn = remotePort >= 0 && remotePort <= rd.evtchn.lastPort ? rd.evtchn.get(remotePort) : undefined;
  if (rchn === undefined || rchn.state !== "unbound" || rchn.remoteDomid !== ld.domid) return EINVAL;
  ld.evtchn.bindInterdomain(lport, rd.domid, remotePort);
  rchn.state = "interdomain";
  rchn.remoteDomid = ld.domid;
  rchn.remotePort = lport;
  h.raise(ld.domid, lport);
  return lport;
}

/** EVTCHNOP_close issued by `caller` on its own port. mirrors event_channel.c:evtchn_close (guest) */
export function close(h: EvtchnHost, caller: number, port: number): number {
  const d = h.domain(caller);
  if (d === undefined) return ESRCH;
  return d.evtchn.close(port, true);
}

/**
 * EVTCHNOP_send issued by `caller` on its port `port`: the peer is raised (a Xen-attached peer runs
 * its notification instead); an unbound port drops the notification. 0 or -EINVAL.
 * mirrors event_channel.c:evtchn_send
 */
export function send(h: EvtchnHost, caller: number, port: number): number {
  const d = h.domain(caller);
  if (d === undefined) return ESRCH;
  const b = port >= 0 && port <= d.evtchn.lastPort ? d.evtchn.get(port) : undefined;
  if (b === undefined || b.xen) return EINVAL;
  if (b.state === "unbound") return 0;
  const rd = h.domain(b.remoteDomid);
  const r = rd?.evtchn.get(b.remotePort);
  if (rd === undefined || r === undefined) return 0;
  if (r.xen) h.xenNotified(rd.domid, r.port);
  else h.raise(rd.domid, r.port);
  return 0;
}

/**
 * Xen raises one of its own ports of `domid` (an ioreq sent, the buffered ring written): the
 * interdomain peer, if bound, is raised.
 * mirrors event_channel.c:notify_via_xen_event_channel
 */
export function notifyViaXen(h: EvtchnHost, domid: number, port: number): void {
  const b = h.domain(domid)?.evtchn.get(port);
  if (b === undefined || b.state !== "interdomain") return;
  h.raise(b.remoteDomid, b.remotePort);
}
