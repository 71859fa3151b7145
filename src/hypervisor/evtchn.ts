// Per-domain event-channel table: the states and transitions of common/event_channel.c that device
// models reach (unbound, interdomain, Xen-attached ports of ioreq servers).

export interface EvtchnBinding {
  port: number;
  /** The vCPU the channel notifies on (notify_vcpu_id). */
  vcpu: number;
  /** ECS_UNBOUND: `remoteDomid` may bind the other end. ECS_INTERDOMAIN: bound to remoteDomid:remotePort. */
  state: "unbound" | "interdomain";
  remoteDomid: number;
  /** The peer's port while interdomain (0 while unbound). */
  remotePort: number;
  /** consumer_is_xen: allocated by Xen itself (alloc_unbound_xen_event_channel), e.g. an ioreq server's. */
  xen: boolean;
}

/** The 2-level ABI's port count for a 64-bit guest (BITS_PER_EVTCHN_WORD^2); FIFO is not modelled. */
export const EVTCHN_2L_NR_CHANNELS = 4096;
/** libxl's default `event_channels`, passed to XEN_DOMCTL_createdomain as max_evtchn_port. */
export const DEFAULT_MAX_EVTCHN_PORT = 1023;

const EINVAL = -22, ENOSPC = -28;

/** Finds another domain's table (the other end of an interdomain channel). */
export type EvtchnPeers = (domid: number) => EvtchnTable | undefined;

export class EvtchnTable {
  private readonly ports = new Map<number, EvtchnBinding>();
  /** The owning domain and the way to its peers, set when the domain joins a host. */
  domid = 0;
  peers: EvtchnPeers = () => undefined;

  constructor(
    /** d->max_evtchn_port: the highest port number the domain may use. */
    readonly maxEvtchnPort = DEFAULT_MAX_EVTCHN_PORT,
    /** d->is_dying, read at allocation time. */
    private readonly isDying: () => boolean = () => false,
  ) {}

  /** The highest port evtchn_from_port accepts (port_is_valid). */
  get lastPort(): number {
    return Math.min(this.maxEvtchnPort, EVTCHN_2L_NR_CHANNELS - 1);
  }

  /**
   * Lowest free port; port 0 is reserved. Returns -EINVAL for a dying domain and -ENOSPC past
   * max_evtchn_port (or the 2-level ABI's 4096 ports). `xen`: a Xen-attached port (ioreq servers).
   * mirrors event_channel.c:get_free_port + evtchn_allocate_port
   */
  allocUnbound(vcpu: number, remoteDomid: number, xen = true): number {
    const port = this.freePort();
    if (port < 0) return port;
    this.ports.set(port, { port, vcpu, remoteDomid, remotePort: 0, state: "unbound", xen });
    return port;
  }

  /** mirrors event_channel.c:get_free_port */
  freePort(): number {
    if (this.isDying()) return EINVAL;
    const last = this.lastPort;
    for (let port = 1; port <= last; port++) if (!this.ports.has(port)) return port;
    return ENOSPC;
  }

  /** A new interdomain port (the caller checked the remote end). */
  bindInterdomain(port: number, remoteDomid: number, remotePort: number): EvtchnBinding {
    const b: EvtchnBinding = { port, vcpu: 0, remoteDomid, remotePort, state: "interdomain", xen: false };
    this.ports.set(port, b);
    return b;
  }

  /**
   * Closes `port`: an interdomain peer goes back to unbound, accepting this domain again. `guest`: the
   * domain's own EVTCHNOP_close, which may not close a Xen-attached port. 0 or -EINVAL.
   * mirrors event_channel.c:evtchn_close
   */
  close(port: number, guest: boolean): number {
    const b = this.ports.get(port);
    if (b === undefined) return EINVAL;
    if (b.xen && guest) return EINVAL;
    if (b.state === "interdomain") {
      const peer = this.peers(b.remoteDomid)?.get(b.remotePort);
      if (peer !== undefined) {
        peer.state = "unbound";
        peer.remoteDomid = this.domid;
        peer.remotePort = 0;
      }
    }
    this.ports.delete(port);
    return 0;
  }

  /** free_xen_event_channel: closes a Xen-attached port (its peer, if bound, becomes unbound). */
  free(port: number): void {
    this.close(port, false);
  }

  /** Every port closed, as a domain's teardown does (evtchn_destroy). */
  closeAll(): void {
    for (const port of [...this.ports.keys()]) this.close(port, false);
  }

  get(port: number): EvtchnBinding | undefined {
    return this.ports.get(port);
  }

  list(): EvtchnBinding[] {
    return [...this.ports.values()].sort((a, b) => a.port - b.port);
  }
}
