// One fake Xen host: domains, a persona, a preemption hook, and the dm_op hypercall.
import { performance } from "node:perf_hooks";
import type { DmOpBuf } from "./context.js";
import { DmOpCall, DmOpTables, doDmOp, dmOpPass, enterDmOp } from "./dm.js";
import { DmOpRun } from "./dm-run.js";
import { Domain } from "./domain.js";
import { destroyAllServers } from "./ioreq-server.js";
import * as evtchnOps from "./evtchn-ops.js";
import type { EvtchnHost } from "./evtchn-ops.js";
import { ERESTART, explanation } from "./explain.js";
import type { Explanation } from "./explain.js";
import { domainSnapshot, serverSnapshot } from "./introspect.js";
import type { DomainSnapshot, ServerSnapshot } from "./introspect.js";
import { P2m } from "./p2m.js";
import { HEAP_PAGES, type PageSource } from "./guest-memory.js";
import type { P2mConfig } from "./p2m.js";
import { makePersona } from "./persona.js";
import type { Persona } from "./persona.js";
import { Preempt } from "./preempt.js";
import type { PreemptSpec } from "./preempt.js";
import { checkWorld, toBig, toInt } from "./world.js";
import { platformFromConfig } from "./hvm/world-keys.js";
import type { AbiName, DomainConfig, WorldConfig } from "./world.js";

/** Builds a domain's p2m (the range-map P2m unless overridden). */
export type P2mFactory = (init: P2mConfig) => P2m;

export interface HypervisorOptions {
  /** Builds each domain's p2m; defaults to `new P2m(init)`. */
  p2m?: P2mFactory;
  /** Extra p2m overlays per domain id, applied after the world's (for tests and tools). */
  overlays?: Record<number, P2mConfig["overlays"]>;
}

export type NotifyListener = (domid: number, port: number) => void;
/** A port of domain `domid` became pending (evtchn_port_set_pending): what the domain's kernel sees. */
export type RaiseListener = (domid: number, port: number) => void;

const DEFAULT_RAM: [number, number][] = [[0x0, 0x9f], [0xc0, 0xffff]];
let defaultP2mFactory: P2mFactory = (init) => new P2m(init);

/** Replaces the p2m factory used when HypervisorOptions.p2m is not given. */
export function setDefaultP2mFactory(f: P2mFactory): void {
  defaultP2mFactory = f;
}

const OVERLAY_KEYS = [
  ["paging", "ram_paged"], ["shared", "ram_shared"], ["grant_map_rw", "grant_map_rw"], ["grant_map_ro", "grant_map_ro"],
  ["ram_ro", "ram_ro"], ["mmio_direct", "mmio_direct"], ["pod", "populate_on_demand"], ["broken", "ram_broken"],
] as const;

function checkDmOpArgs(caller: number, domid: number, nrBufs: number): void {
  if (!Number.isInteger(caller) || caller < 0 || caller > 0xffff) throw new RangeError(`caller must be a domid_t, got ${caller}`);
  if (!Number.isInteger(domid) || domid < 0 || domid > 0xffff) throw new RangeError(`domid must be a domid_t, got ${domid}`);
  if (!Number.isInteger(nrBufs) || nrBufs < 0 || nrBufs > 0xffffffff) throw new RangeError(`nr_bufs must be an unsigned int, got ${nrBufs}`);
}

export class Hypervisor {
  readonly persona: Persona;
  readonly abi: AbiName;
  readonly preemptHook: Preempt;
  readonly domains = new Map<number, Domain>();
  /** Passes the last dm_op to return made (1 + continuations; 0 when refused before the first). */
  lastPasses = 0;
  private lastRefusal: Explanation | null = null;
  private readonly listeners = new Set<NotifyListener>();
  #pages: PageSource = HEAP_PAGES;
  private readonly raiseListeners = new Set<RaiseListener>();
  private readonly xenListeners = new Set<NotifyListener>();
  private readonly evtchnHost: EvtchnHost = {
    domain: (domid) => this.domains.get(domid),
    raise: (domid, port) => { for (const l of this.raiseListeners) l(domid, port); },
    xenNotified: (domid, port) => { for (const l of this.xenListeners) l(domid, port); },
  };
  private readonly tables: DmOpTables;
  /** The synchronous path's call, reused; a call left between passes takes it with it (dmOpSliced). */
  private call: DmOpCall;
  /** A finished call's passes and refusal become the "last call" state. */
  private readonly settle = (call: DmOpCall): void => {
    this.lastPasses = call.passes;
    this.lastRefusal = call.explanation;
  };

  constructor(world: WorldConfig = {}, opts: HypervisorOptions = {}) {
    checkWorld(world);
    this.persona = makePersona(world.xen ?? "4.17", world.arch ?? "x86");
    this.abi = world.abi ?? (this.persona.arch === "arm" ? "arm64" : "x86_64");
    this.preemptHook = new Preempt(world.preempt ?? "never");
    const list: [DomainConfig, string][] = (world.domains ?? []).map((c, i) => [c, `domains[${i}]`]);
    if (!list.some(([d]) => toBig(d.domid, "domid") === 0n)) list.unshift([{ domid: 0, control: true }, "domain 0"]);
    // device_model: N on a guest makes N that guest's stub device model.
    const stubOf = new Map<number, number>();
    for (const [c, path] of list) {
      if (c.device_model !== undefined) {
        stubOf.set(toInt(c.device_model, `${path}.device_model`, 0, 0x7fef), toInt(c.domid, `${path}.domid`, 0, 0x7fef));
      }
    }
    for (const [stub, guest] of stubOf) {
      if (!list.some(([d]) => toBig(d.domid, "domid") === BigInt(stub))) list.push([{ domid: stub, type: "pv" }, `device_model of domain ${guest}`]);
    }
    for (const [c, path] of list) {
      const d = this.buildDomain(c, path, stubOf, opts);
      d.evtchn.domid = d.domid;
      d.evtchn.peers = (domid) => this.domains.get(domid)?.evtchn;
      this.domains.set(d.domid, d);
    }
    this.tables = new DmOpTables(this.persona, this.abi);
    this.call = new DmOpCall(this, this.persona);
  }

  private buildDomain(c: DomainConfig, path: string, stubOf: Map<number, number>, opts: HypervisorOptions): Domain {
    const domid = toInt(c.domid, `${path}.domid`, 0, 0x7fef);
    const type = c.type ?? (domid === 0 || c.target !== undefined || stubOf.has(domid) ? "pv" : "hvm");
    const hvm = type === "hvm";
    const vcpus = toInt(c.vcpus ?? c.max_vcpus ?? (hvm ? 2 : 1), `${path}.vcpus`, 0, 128);
    const ram = hvm ? (c.ram ?? DEFAULT_RAM).map(([a, b], j): [number, number] => {
      const first = toInt(a, `${path}.ram[${j}][0]`, 0, Number.MAX_SAFE_INTEGER);
      const last = toInt(b, `${path}.ram[${j}][1]`, first, Number.MAX_SAFE_INTEGER);
      return [first, last];
    }) : [];
    const target = c.target !== undefined ? toInt(c.target, `${path}.target`, 0, 0x7fef) : (stubOf.get(domid) ?? null);
    const overlays: NonNullable<P2mConfig["overlays"]> = [];
    for (const [key, type] of OVERLAY_KEYS) {
      (c[key] ?? []).forEach((v, j) => {
        const [a, b] = Array.isArray(v) ? v : [v, v];
        const first = toInt(a, `${path}.${key}[${j}]`, 0, Number.MAX_SAFE_INTEGER);
        overlays.push({ first, last: toInt(b, `${path}.${key}[${j}]`, first, Number.MAX_SAFE_INTEGER), type });
      });
    }
    overlays.push(...(opts.overlays?.[domid] ?? []));
    const p2m = (opts.p2m ?? defaultP2mFactory)({ ram, overlays });
    if (c.log_dirty === true) p2m.enableLogDirty(false, this.persona.name);
    const nrSpis = toInt(c.nr_spis ?? 32, `${path}.nr_spis`, 0, 960);
    return new Domain({
      domid,
      pages: () => this.#pages,
      type,
      control: c.control ?? domid === 0,
      hap: hvm && (c.hap ?? true),
      maxVcpus: vcpus,
      target,
      isDying: c.dying ?? false,
      creationFinished: c.creation_finished ?? true,
      vga: c.vga,
      platform: hvm && this.persona.arch === "x86" ? platformFromConfig(c, path, vcpus) : null,
      maxEvtchnPort: toInt(c.max_evtchn_port ?? 1023, `${path}.max_evtchn_port`, 0, 0x7fffffff),
      p2m,
      iommu: c.iommu ?? false,
      ioResources: c.io_resources ?? false,
      msiPirqUnsigned: this.persona.msiPirqUnsigned,
      ioreqPoolBase: toInt(c.ioreq_server_pfn ?? 0xfff0, `${path}.ioreq_server_pfn`, 0, Number.MAX_SAFE_INTEGER),
      ioreqPoolPages: toInt(c.nr_ioreq_server_pages ?? 8, `${path}.nr_ioreq_server_pages`, 0, 64),
      ioreqPfn: toInt(c.ioreq_pfn ?? 0, `${path}.ioreq_pfn`, 0, Number.MAX_SAFE_INTEGER),
      bufioreqPfn: toInt(c.bufioreq_pfn ?? 0, `${path}.bufioreq_pfn`, 0, Number.MAX_SAFE_INTEGER),
      paddrBits: toInt(c.paddr_bits ?? 52, `${path}.paddr_bits`, 32, 64),
      nrPirqs: toInt(c.nr_pirqs ?? 256, `${path}.nr_pirqs`, 0, 1 << 20),
      vgicIrqs: 32 + nrSpis,
      allocatedIrqs: new Set((c.allocated_irqs ?? []).map((v, j) => toInt(v, `${path}.allocated_irqs[${j}]`, 0, 1019))),
    });
  }

  /** HYPERVISOR_dm_op(domid, nr_bufs, bufs) issued by domain `caller`. rc: 0, positive, or -errno. */
  dm_op(caller: number, domid: number, bufs: readonly DmOpBuf[], nrBufs: number = bufs.length): number {
    checkDmOpArgs(caller, domid, nrBufs);
    const call = this.call;
    const rc = doDmOp(call, this.tables, caller, domid, bufs, nrBufs);
    this.settle(call);
    return rc;
  }

  /**
   * The same hypercall, run one pass at a time (step()) or a time slice at a time (run(ms)), so that
   * other calls can run between its continuations. The call has its own state: calls begun and
   * stepped in any interleaving each return what dm_op would have. The buffers are read and written
   * in place at every pass, so they must stay alive and unshared until the call returns.
   */
  beginDmOp(caller: number, domid: number, bufs: readonly DmOpBuf[], nrBufs: number = bufs.length): DmOpRun {
    checkDmOpArgs(caller, domid, nrBufs);
    const call = new DmOpCall(this, this.persona);
    const entry = enterDmOp(call, caller, domid, bufs, nrBufs);
    if (entry !== 0) this.settle(call);
    return new DmOpRun(call, this.tables, this.settle, entry !== 0 ? entry : undefined);
  }

  /**
   * dm_op for servers: passes until the call returns (its rc) or, once it continues, until `sliceMs`
   * has gone by; then what is left of it, a DmOpRun to go on with. A call that returns in one pass
   * allocates nothing and reads no clock.
   */
  dmOpSliced(caller: number, domid: number, bufs: readonly DmOpBuf[], nrBufs: number, sliceMs: number): number | DmOpRun {
    checkDmOpArgs(caller, domid, nrBufs);
    const call = this.call;
    const entry = enterDmOp(call, caller, domid, bufs, nrBufs);
    if (entry !== 0) {
      this.settle(call);
      return entry;
    }
    let rc = dmOpPass(call, this.tables);
    if (rc !== ERESTART) {
      this.settle(call);
      return rc;
    }
    const until = performance.now() + sliceMs;
    for (;;) {
      rc = dmOpPass(call, this.tables);
      if (rc !== ERESTART) {
        this.settle(call);
        return rc;
      }
      if (performance.now() >= until) break;
    }
    // The call goes on later with its own state; later calls get a fresh one.
    this.call = new DmOpCall(this, this.persona);
    return new DmOpRun(call, this.tables, this.settle);
  }

  domain(domid: number): Domain | undefined {
    return this.domains.get(domid);
  }

  /**
   * Destroys a domain: it becomes dying, its ioreq servers are torn down (ioreq_server_destroy_all), and it
   * is gone (later calls get -ESRCH). Returns false if there was no such domain.
   */
  destroyDomain(domid: number): boolean {
    const d = this.domains.get(domid);
    if (!d) return false;
    d.isDying = true;
    destroyAllServers(d, this.persona.arch === "x86");
    d.evtchn.closeAll();
    this.domains.delete(domid);
    return true;
  }

  /** Why the last call was refused, or null if it succeeded. */
  explain(): Explanation | null {
    return this.lastRefusal;
  }

  recordRefusal(rc: number, rule: string, mirrors: string): void {
    this.lastRefusal = explanation(rc, rule, mirrors);
  }

  /** Re-programs hypercall_preempt_check(); the check counter keeps running. */
  setPreempt(spec: PreemptSpec): void {
    this.preemptHook.set(spec);
  }

  /** Subscribes to event-channel notifications; returns the unsubscribe function. */
  onNotify(listener: NotifyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Xen raises its port `port` of domain `domid` (notify_via_xen_event_channel: an ioreq sent, the
   * buffered ring written). The notify listeners hear the guest-side port; the interdomain peer, if a
   * device model bound one, is raised for the raise listeners.
   */
  notify(domid: number, port: number): void {
    for (const l of this.listeners) l(domid, port);
    evtchnOps.notifyViaXen(this.evtchnHost, domid, port);
  }

  /**
   * Where pages allocated from now on come from (guest RAM on first touch, ioreq server pages): the
   * socket server puts them in a shared file so that device models map the same bytes. Pages that
   * already exist stay where they are.
   */
  usePages(source: PageSource): void {
    this.#pages = source;
  }

  get pages(): PageSource {
    return this.#pages;
  }

  /** Subscribes to ports becoming pending in any domain (interdomain sends, binds); returns the unsubscribe function. */
  onRaise(listener: RaiseListener): () => void {
    this.raiseListeners.add(listener);
    return () => this.raiseListeners.delete(listener);
  }

  /** Subscribes to sends that reach a Xen-attached port (an emulator's notify of an ioreq port). */
  onXenNotify(listener: NotifyListener): () => void {
    this.xenListeners.add(listener);
    return () => this.xenListeners.delete(listener);
  }

  /** EVTCHNOP_alloc_unbound from `caller`: a port of `dom` for `remoteDom`, or -errno. */
  evtchnAllocUnbound(caller: number, dom: number, remoteDom: number): number {
    return evtchnOps.allocUnbound(this.evtchnHost, caller, dom, remoteDom);
  }

  /** EVTCHNOP_bind_interdomain from `caller`: the new local port, or -errno. */
  evtchnBindInterdomain(caller: number, remoteDom: number, remotePort: number): number {
    return evtchnOps.bindInterdomain(this.evtchnHost, caller, remoteDom, remotePort);
  }

  /** EVTCHNOP_close from `caller` on its own port: 0 or -errno. */
  evtchnClose(caller: number, port: number): number {
    return evtchnOps.close(this.evtchnHost, caller, port);
  }

  /** EVTCHNOP_send from `caller` on its own port: 0 or -errno. */
  evtchnSend(caller: number, port: number): number {
    return evtchnOps.send(this.evtchnHost, caller, port);
  }

  /** The dispatcher's op_size table for this persona and arch (empty for 4.9, which copies whole structs). */
  opSizes(): number[] {
    return this.persona.perOpSize ? [...this.tables.opSize] : [];
  }

  /** The p2m_ioreq_server claim of a domain's host p2m. */
  claim(domid: number): { server: number | null; flags: number } | undefined {
    return this.domains.get(domid)?.p2m.ioreqClaim();
  }

  /** The host p2m's ioreq entry_count. */
  entryCount(domid: number): number | undefined {
    return this.domains.get(domid)?.p2m.entryCount;
  }

  server(domid: number, id: number): ServerSnapshot {
    return serverSnapshot(this.domains.get(domid), id);
  }

  /** The domain's state; `crashed` is domain_crash's reason (null while the domain runs). */
  snapshot(domid: number): (DomainSnapshot & { crashed: string | null }) | undefined {
    const d = this.domains.get(domid);
    return d ? { ...domainSnapshot(d), crashed: d.crashed } : undefined;
  }
}
