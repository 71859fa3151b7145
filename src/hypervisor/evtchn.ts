// Per-domain event-channel table: enough of common/event_channel.c for ioreq servers.

export interface EvtchnBinding {
  port: number;
  /** The vCPU the channel notifies on. */
  vcpu: number;
  /** The domain allowed to bind the other end (the emulator). */
  remoteDomid: number;
  state: "unbound";
}

export type NotifyListener = (domid: number, port: number) => void;

/** The 2-level ABI's port count for a 64-bit guest (BITS_PER_EVTCHN_WORD^2); FIFO is not modelled. */
export const EVTCHN_2L_NR_CHANNELS = 4096;
/** libxl's default `event_channels`, passed to XEN_DOMCTL_createdomain as max_evtchn_port. */
export const DEFAULT_MAX_EVTCHN_PORT = 1023;

export class EvtchnTable {
  private readonly ports = new Map<number, EvtchnBinding>();

  constructor(
    /** d->max_evtchn_port: the highest port number the domain may use. */
    readonly maxEvtchnPort = DEFAULT_MAX_EVTCHN_PORT,
    /** d->is_dying, read at allocation time. */
    private readonly isDying: () => boolean = () => false,
  ) {}

  /**
   * Lowest free port; port 0 is reserved. Returns -EINVAL for a dying domain and -ENOSPC past
   * max_evtchn_port (or the 2-level ABI's 4096 ports).
   * mirrors event_channel.c:get_free_port + evtchn_allocate_port
   */
  allocUnbound(vcpu: number, remoteDomid: number): number {
    if (this.isDying()) return -22;
    const last = Math.min(this.maxEvtchnPort, EVTCHN_2L_NR_CHANNELS - 1);
    for (let port = 1; port <= last; port++) {
      if (!this.ports.has(port)) {
        this.ports.set(port, { port, vcpu, remoteDomid, state: "unbound" });
        return port;
      }
    }
    return -28;
  }

  free(port: number): void {
    this.ports.delete(port);
  }

  get(port: number): EvtchnBinding | undefined {
    return this.ports.get(port);
  }

  list(): EvtchnBinding[] {
    return [...this.ports.values()].sort((a, b) => a.port - b.port);
  }
}
