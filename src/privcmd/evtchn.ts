// The Linux /dev/xen/evtchn driver (drivers/xen/evtchn.c) in front of a hypervisor's event channels:
// one EvtchnFile per open file, its bound ports, their enabled (unmasked) state and what read() gives.
import { IOCTL_EVTCHN, UNRESTRICTED_DOMID, type EvtchnIoctlName } from "../../abi/linux/evtchn.js";
import { errno } from "../../abi/xen/errno.js";
import { DOMID_FIRST_RESERVED, DOMID_SELF } from "../../abi/xen/xen.js";
import { EVTCHN_2L_NR_CHANNELS } from "../hypervisor/evtchn.js";
import type { IoctlResult } from "./types.js";

const { EACCES, EFAULT, EINVAL, ENOTCONN, ENOSYS } = errno;

/** The hypervisor calls the driver makes (Hypervisor has them). */
export interface EvtchnHypervisor {
  onRaise(listener: (domid: number, port: number) => void): () => void;
  evtchnAllocUnbound(caller: number, dom: number, remoteDom: number): number;
  evtchnBindInterdomain(caller: number, remoteDom: number, remotePort: number): number;
  evtchnClose(caller: number, port: number): number;
  evtchnSend(caller: number, port: number): number;
}

/** An ioctl's arguments as the caller's struct held them; `fault`: the pointer was unreadable. */
export interface EvtchnIoctlArgs {
  /** remote_domain, port or domid: the struct's first field. */
  a0: number;
  /** remote_port (BIND_INTERDOMAIN). */
  a1: number;
  fault: boolean;
}

interface UserPort {
  /** Delivered to read() and not yet unmasked by a write(). */
  enabled: boolean;
  /** Raised while not enabled: delivered again on unmask (Xen keeps it pending). */
  pending: boolean;
}

const NAMES = Object.keys(IOCTL_EVTCHN) as EvtchnIoctlName[];
const BY_NR = new Map<number, EvtchnIoctlName>(NAMES.map((n) => [IOCTL_EVTCHN[n], n]));

/** The ioctl's name for its nr field, or undefined (the driver answers -ENOSYS). */
export function evtchnIoctlName(nr: number): EvtchnIoctlName | undefined {
  return BY_NR.get(nr);
}

function res(rc: number): IoctlResult {
  return rc < 0 ? { ret: -1, errno: -rc } : { ret: rc };
}

type Op = (f: EvtchnFile, a: EvtchnIoctlArgs) => IoctlResult;

export class EvtchnFile {
  readonly #ports = new Map<number, UserPort>();
  readonly #unsubscribe: () => void;
  #restrict = UNRESTRICTED_DOMID;
  #closed = false;
  /** Called before each raise of one of this domain's ports is looked at (unmasks waiting elsewhere are applied). */
  beforeRaise: (() => void) | undefined;
  /** Called when a raise finds its port masked (it is delivered at the unmask). */
  onMaskedRaise: (() => void) | undefined;

  /**
   * `deliver(port)` puts a port into what read() returns, in order. The caller (the calling domain) is
   * the domain whose ports this file binds.
   */
  constructor(
    private readonly hv: EvtchnHypervisor,
    readonly caller: number,
    private readonly deliver: (port: number) => void,
  ) {
    this.#unsubscribe = hv.onRaise((domid, port) => {
      if (domid !== this.caller) return;
      this.beforeRaise?.();
      this.#interrupt(port);
    });
  }

  get restriction(): number {
    return this.#restrict;
  }

  /** Whether a port waits for its unmask to be delivered. */
  hasPending(): boolean {
    for (const p of this.#ports.values()) if (p.pending) return true;
    return false;
  }

  /** The ports bound through this file, ascending. */
  ports(): number[] {
    return [...this.#ports.keys()].sort((a, b) => a - b);
  }

  /** ioctl(fd, IOCTL_EVTCHN_*): the request by name. mirrors evtchn.c:evtchn_ioctl */
  ioctl(name: EvtchnIoctlName, a: EvtchnIoctlArgs): IoctlResult {
    if (this.#closed) return { ret: -1, errno: EINVAL };
    return OPS[name](this, a);
  }

  /** write() of ports: each bound port that was delivered is enabled again. mirrors evtchn.c:evtchn_write */
  unmask(port: number): void {
    const p = this.#ports.get(port);
    if (p === undefined || p.enabled) return;
    p.enabled = true;
    if (p.pending) {
      p.pending = false;
      this.#interrupt(port);
    }
  }

  /** The last close of the file: every port unbound. mirrors evtchn.c:evtchn_release */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const port of this.#ports.keys()) this.hv.evtchnClose(this.caller, port);
    this.#ports.clear();
  }

  /** mirrors evtchn.c:evtchn_interrupt (the port is masked until user space unmasks it) */
  #interrupt(port: number): void {
    const p = this.#ports.get(port);
    if (p === undefined) return;
    if (!p.enabled) {
      p.pending = true;
      this.onMaskedRaise?.();
      return;
    }
    p.enabled = false;
    this.deliver(port);
  }

  /** mirrors evtchn.c:evtchn_bind_to_user; Xen leaves a fresh binding pending, so it is delivered once. */
  #bind(rc: number, pendingAtBind: boolean): IoctlResult {
    if (rc < 0) return res(rc);
    this.#ports.set(rc, { enabled: true, pending: false });
    if (pendingAtBind) this.#interrupt(rc);
    return { ret: rc };
  }

  static readonly ops: Readonly<Record<EvtchnIoctlName, Op>> = {
    BIND_VIRQ: (f, a) => {
      if (f.#restrict !== UNRESTRICTED_DOMID) return res(-EACCES);
      if (a.fault) return res(-EFAULT);
      return res(-ENOSYS); // virqs are not modelled: as a hypervisor without EVTCHNOP_bind_virq
    },
    BIND_INTERDOMAIN: (f, a) => {
      if (a.fault) return res(-EFAULT);
      if (f.#restrict !== UNRESTRICTED_DOMID && f.#restrict !== a.a0) return res(-EACCES);
      return f.#bind(f.hv.evtchnBindInterdomain(f.caller, a.a0 & 0xffff, a.a1), true);
    },
    BIND_UNBOUND_PORT: (f, a) => {
      if (f.#restrict !== UNRESTRICTED_DOMID) return res(-EACCES);
      if (a.fault) return res(-EFAULT);
      return f.#bind(f.hv.evtchnAllocUnbound(f.caller, DOMID_SELF, a.a0 & 0xffff), false);
    },
    UNBIND: (f, a) => {
      if (a.fault) return res(-EFAULT);
      if (a.a0 >= EVTCHN_2L_NR_CHANNELS) return res(-EINVAL);
      if (!f.#ports.has(a.a0)) return res(-ENOTCONN);
      f.#ports.delete(a.a0);
      f.hv.evtchnClose(f.caller, a.a0);
      return { ret: 0 };
    },
    NOTIFY: (f, a) => {
      if (a.fault) return res(-EFAULT);
      if (!f.#ports.has(a.a0)) return res(-ENOTCONN);
      f.hv.evtchnSend(f.caller, a.a0);
      return { ret: 0 };
    },
    // The ring is emptied by the reader's side (the client drains what it has not read).
    RESET: () => ({ ret: 0 }),
    RESTRICT_DOMID: (f, a) => {
      if (f.#restrict !== UNRESTRICTED_DOMID) return res(-EACCES);
      if (a.fault) return res(-EFAULT);
      const domid = a.a0 & 0xffff;
      if (domid === 0 || domid >= DOMID_FIRST_RESERVED) return res(-EINVAL);
      f.#restrict = domid;
      return { ret: 0 };
    },
  };
}

const OPS = EvtchnFile.ops;
