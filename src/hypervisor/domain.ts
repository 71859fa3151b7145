// One guest (or control/stub) domain of the fake host.
import { EvtchnTable } from "./evtchn.js";
import { GuestMemory, type PageSource } from "./guest-memory.js";
import type { IoreqServer } from "./ioreq-server.js";
import { HvmIrq, Vgic } from "./irq.js";
import type { PendingEvent } from "./irq.js";
import type { P2m } from "./p2m.js";
import type { HvmPlatform } from "./hvm/platform.js";

/** The p2m as the server model and dispatcher see it. */
export type P2mApi = P2m;

export interface Vcpu {
  readonly id: number;
  /** inject_event slot; null = HVM_EVENT_VECTOR_UNSET. */
  pendingEvent: PendingEvent | null;
}

export interface IoreqGfnPool {
  /** HVM_PARAM_IOREQ_SERVER_PFN */
  base: number;
  /** Bit i set = gfn base+i free (HVM_PARAM_NR_IOREQ_SERVER_PAGES bits at start). */
  mask: bigint;
  /** Bits 5 (HVM_PARAM_IOREQ_PFN) and 6 (HVM_PARAM_BUFIOREQ_PFN): legacy gfn available. */
  legacyMask: number;
  /** HVM params 5 and 6 (the legacy ioreq gfns). */
  ioreqPfn: number;
  bufioreqPfn: number;
}

export interface DomainIoreq {
  /** Slots indexed by server id (8 slots; 4.9 ids index the same array sparsely). */
  servers: (IoreqServer | undefined)[];
  gfnPool: IoreqGfnPool;
  /** 4.9: the last id handed out (ids count up from 1). */
  lastId: number;
  /** 4.9: servers newest first (list_add at the head), the default server included. */
  list: IoreqServer[];
  /** 4.9: the default (legacy) server made by HVMOP_get_param, or null. */
  defaultServer: IoreqServer | null;
}

export interface CacheattrRange {
  start: bigint;
  end: bigint;
  type: number;
}

export interface ShutdownState {
  /** shutdown_code; null = SHUTDOWN_CODE_INVALID (not shut down). */
  code: number | null;
}

export interface DomainInit {
  domid: number;
  /** Where the domain's pages come from (asked per page; default the heap). */
  pages?: () => PageSource;
  type: "hvm" | "pv";
  control: boolean;
  hap: boolean;
  maxVcpus: number;
  target: number | null;
  isDying: boolean;
  p2m: P2m;
  iommu: boolean;
  ioreqPoolBase: number;
  ioreqPoolPages: number;
  ioreqPfn: number;
  bufioreqPfn: number;
  paddrBits: number;
  nrPirqs: number;
  vgicIrqs: number;
  allocatedIrqs: ReadonlySet<number>;
  /** The domain holds I/O resources (iomem/ioport permissions or passthrough devices). */
  ioResources: boolean;
  /** inject_msi's vector-0 pirq is unsigned (persona). */
  msiPirqUnsigned: boolean;
  /** has_vvga(d): the domain has an emulated VGA (default: HVM domains do, as libxl sets up). */
  vga?: boolean;
  /** d->max_evtchn_port (XEN_DOMCTL_createdomain; libxl's event_channels, default 1023). */
  maxEvtchnPort?: number;
  /** d->creation_finished (default true: the domain has run). */
  creationFinished?: boolean;
  /** Xen's own x86 HVM platform devices (null: PV, Arm) */
  platform?: HvmPlatform | null;
}

export class Domain {
  readonly domid: number;
  readonly type: "hvm" | "pv";
  readonly hap: boolean;
  readonly maxVcpus: number;
  readonly vcpus: Vcpu[];
  isDying: boolean;
  readonly control: boolean;
  /** The domain this one is a stub device model for. */
  readonly target: number | null;
  readonly p2m: P2m;
  /** An IOMMU is enabled for the domain (relocate_memory splits every 16 pages). */
  readonly iommu: boolean;
  /** cache_flush_permitted(d): I/O resources or passthrough devices. */
  readonly ioResources: boolean;
  readonly ioreq: DomainIoreq;
  readonly irq: HvmIrq;
  readonly vgic: Vgic;
  readonly evtchn: EvtchnTable;
  /** Guest RAM contents (the pages an ioreq gfn mapping shares with the guest). */
  readonly memory: GuestMemory;
  readonly shutdown: ShutdownState = { code: null };
  readonly cacheattr: CacheattrRange[] = [];
  readonly paddrBits: number;
  /** Latched 0xCF8 value (written by the emulation side). */
  pciCf8 = 0;
  /** HVM_PARAM_DM_DOMAIN: the domain a 4.9 default ioreq server serves (0 unless set). */
  dmDomain = 0;
  /**
   * d->creation_finished: the domain has been unpaused once. Until then a DMOP that removes RAM asks for
   * no mapcache invalidation, and (4.9) reading the legacy ioreq params makes the default ioreq server.
   */
  creationFinished: boolean;
  /** Mapcache invalidations requested (§5.8); the emulation side consumes them. */
  mapcacheInvalidatePending = false;
  mapcacheInvalidateCount = 0;
  /** domain_crash(d): why the domain was crashed (set by the emulation side), or null. */
  crashed: string | null = null;
  /** has_vvga(d): an emulated VGA, whose VRAM writes stdvga sends buffered. */
  readonly vga: boolean;
  /** Xen's own x86 HVM platform devices: PIT, RTC, PIC, IOAPIC, LAPIC, HPET, PM (null: PV, Arm). */
  readonly platform: HvmPlatform | null;

  constructor(init: DomainInit) {
    this.domid = init.domid;
    this.memory = new GuestMemory(init.pages);
    this.type = init.type;
    this.hap = init.hap;
    this.maxVcpus = init.maxVcpus;
    this.vcpus = Array.from({ length: init.maxVcpus }, (_, id) => ({ id, pendingEvent: null }));
    this.isDying = init.isDying;
    this.creationFinished = init.creationFinished ?? true;
    this.evtchn = new EvtchnTable(init.maxEvtchnPort, () => this.isDying);
    this.control = init.control;
    this.target = init.target;
    this.p2m = init.p2m;
    this.iommu = init.iommu;
    this.ioResources = init.ioResources;
    const pages = init.ioreqPoolPages;
    this.ioreq = {
      servers: new Array<IoreqServer | undefined>(8).fill(undefined),
      gfnPool: {
        base: init.ioreqPoolBase,
        mask: pages > 0 ? (1n << BigInt(pages)) - 1n : 0n,
        legacyMask: (init.ioreqPfn !== 0 ? 1 << 5 : 0) | (init.bufioreqPfn !== 0 ? 1 << 6 : 0),
        ioreqPfn: init.ioreqPfn,
        bufioreqPfn: init.bufioreqPfn,
      },
      lastId: 0,
      list: [],
      defaultServer: null,
    };
    this.irq = new HvmIrq(init.maxVcpus, init.nrPirqs, init.msiPirqUnsigned);
    this.vgic = new Vgic(init.vgicIrqs, init.allocatedIrqs);
    this.paddrBits = init.paddrBits;
    this.vga = init.vga ?? init.type === "hvm";
    this.platform = init.platform ?? null;
  }

  /** 4.9: the default ioreq server (range selection's fallback), or null. */
  defaultServer(): IoreqServer | null {
    return this.ioreq.defaultServer;
  }

  get isHvm(): boolean {
    return this.type === "hvm";
  }

  /**
   * Servers in the order range selection tries them (highest slot first; 4.9: newest first, with the
   * default server in its list place: selection skips it and falls back to it, broadcasts include it).
   */
  serversInSelectionOrder(): IoreqServer[] {
    if (this.ioreq.list.length > 0) return [...this.ioreq.list];
    const out: IoreqServer[] = [];
    for (let i = this.ioreq.servers.length - 1; i >= 0; i--) {
      const s = this.ioreq.servers[i];
      if (s) out.push(s);
    }
    return out;
  }

  /**
   * The vCPU resumes: its injected event (inject_event) is taken and the slot freed. The event is delivered
   * unless another event is already pending on the vCPU, in which case it is dropped (returns null).
   * mirrors hvm.c:hvm_do_resume
   */
  consumeInjectedEvent(vcpu: number, otherEventPending = false): PendingEvent | null {
    const v = this.vcpus[vcpu];
    if (!v?.pendingEvent) return null;
    const ev = v.pendingEvent;
    v.pendingEvent = null;
    return otherEventPending ? null : ev;
  }

  /**
   * From another domain (every DMOP): flag every vCPU, but only once the domain's creation has finished.
   * mirrors ioreq.c:ioreq_request_mapcache_invalidate
   */
  requestMapcacheInvalidate(): void {
    if (!this.creationFinished) return;
    this.mapcacheInvalidatePending = true;
    this.mapcacheInvalidateCount++;
  }

  /** paging_mark_pfn_dirty: recorded only while log-dirty mode is on. */
  markDirty(pfn: number): void {
    if (this.p2m.logDirtyEnabled) this.p2m.dirtyLog.add(pfn, pfn);
  }
}
