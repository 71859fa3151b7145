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

export class EvtchnTable {
  private readonly ports = new Map<number, EvtchnBinding>();

  constructor(readonly maxPorts = 4096) {}

  /** Lowest free port; port 0 is reserved. mirrors event_channel.c:get_free_port. Returns -ENOSPC when full. */
  allocUnbound(vcpu: number, remoteDomid: number): number {
    for (let port = 1; port < this.maxPorts; port++) {
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
