// What the emulator side needs from a host to serve one ioreq server: the server's two pages as byte
// views and an event channel. Nothing here knows who provides them: the in-process fake
// (src/transport/ioreq-inprocess.ts), a socket host, or real Xen through privcmd and evtchn.

/**
 * The emulator's event channel to one guest, as libxenevtchn gives it: local ports bound to the guest's
 * ports, notifications both ways.
 */
export interface IoreqEvents {
  /** Calls `listener(localPort)` whenever one of the client's local ports is raised (xenevtchn_pending). */
  onNotify(listener: (port: number) => void): () => void;
  /** Raises a local port towards the guest (xenevtchn_notify). */
  notify(port: number): void;
  /**
   * xenevtchn_bind_interdomain(domid, remotePort): the local port now bound to the guest's port.
   * Absent: local and remote port numbers are the same (an already-bound channel).
   */
  bind?(remotePort: number): number;
  /** xenevtchn_unbind of a port bind() returned. */
  unbind?(localPort: number): void;
}

/** One ioreq server as the emulator side reaches it. */
export interface IoreqPort {
  /** The sync page (shared_iopage_t, resource frame 1): one 32-byte ioreq_t per vCPU. */
  ioreqPage: Uint8Array;
  /** The buffered page (buffered_iopage_t, resource frame 0), when the server has one. */
  bufioreqPage?: Uint8Array | null;
  /** Number of vCPUs (slots) to serve. */
  vcpus: number;
  /** The guest's port for each vCPU; by default read from the slots' vp_eport (written by enable). */
  vcpuPorts?: readonly number[];
  /** The guest's buffered-ring port (get_ioreq_server_info bufioreq_port), if any. */
  bufioreqPort?: number | null;
  events: IoreqEvents;
}
