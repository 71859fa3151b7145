// The in-process host: a GuestDomainPort over the fake hypervisor's Domain, and one GuestEmulator per
// Hypervisor with every HVM domain attached.
import type { Domain } from "./domain.js";
import type { GuestMemory } from "./guest-memory.js";
import type { Hypervisor } from "./hypervisor.js";
import type { IoreqServerLike } from "./ioreq-send.js";
import type { GuestDomainPort } from "./emulate-types.js";
import type { HvmPlatform } from "./hvm/platform.js";
import { p2m_ram_logdirty, p2m_ram_rw } from "./p2m-types.js";
import { GuestEmulator } from "./guest-emulator.js";

export interface HostOptions {
  /** has_vvga, overriding the domain's `vga` world key (which defaults to true for HVM, as libxl sets up). */
  vga?: boolean;
  /** AMD family 0x10..0x16 with extended CF8 enabled (default false). */
  amdExtendedCf8?: boolean;
}

/** A Domain of the fake hypervisor seen as a GuestDomainPort. */
export class HypervisorDomainPort implements GuestDomainPort {
  readonly domid: number;
  readonly nrVcpus: number;
  readonly memory: GuestMemory;
  readonly hasVga: boolean;
  readonly persona: string;
  readonly bufferedUnsupportedUnhandled: boolean;
  readonly selectDfDownwards: boolean;
  readonly amdExtendedCf8: boolean;
  readonly arch: string;
  readonly platform: HvmPlatform | null;

  constructor(
    private readonly hv: Hypervisor,
    readonly d: Domain,
    opts: HostOptions = {},
  ) {
    this.domid = d.domid;
    this.nrVcpus = d.vcpus.length;
    this.memory = d.memory;
    this.hasVga = opts.vga ?? d.vga;
    this.persona = hv.persona.name;
    this.bufferedUnsupportedUnhandled = hv.persona.bufferedUnsupportedUnhandled;
    this.selectDfDownwards = hv.persona.selectDfDownwards;
    this.amdExtendedCf8 = opts.amdExtendedCf8 ?? false;
    this.arch = hv.persona.arch;
    this.platform = d.platform;
  }

  private orderCache: readonly IoreqServerLike[] = [];
  private orderKey: unknown[] = [];

  serversInSelectionOrder(): readonly IoreqServerLike[] {
    // the domain builds a fresh array per call; routing asks on every access, so keep the last one
    // while the slots (and the 4.9 list) hold the same servers
    const io = this.d.ioreq;
    const key = this.orderKey;
    const n = io.servers.length + io.list.length;
    let same = key.length === n;
    for (let i = 0; same && i < io.servers.length; i++) same = key[i] === io.servers[i];
    for (let i = 0; same && i < io.list.length; i++) same = key[io.servers.length + i] === io.list[i];
    if (!same) {
      this.orderKey = [...io.servers, ...io.list];
      this.orderCache = this.d.serversInSelectionOrder();
    }
    return this.orderCache;
  }

  defaultServer(): IoreqServerLike | null {
    return this.d.defaultServer();
  }

  get pciCf8(): number {
    return this.d.pciCf8;
  }

  set pciCf8(v: number) {
    this.d.pciCf8 = v >>> 0;
  }

  takeMapcacheInvalidate(): boolean {
    if (!this.d.mapcacheInvalidatePending) return false;
    this.d.mapcacheInvalidatePending = false;
    return true;
  }

  p2mType(gfn: number): string {
    return this.d.p2m.typeOf(gfn);
  }

  claimant(): IoreqServerLike | null {
    const c = this.d.p2m.ioreqClaim();
    if (c.server === null) return null;
    return this.d.ioreq.servers[c.server] ?? null;
  }

  notify(port: number): void {
    this.hv.notify(this.domid, port);
  }

  /** mirrors hvm.c:hvm_hap_nested_page_fault (the p2m_is_ram write case) */
  logDirtyFault(gfn: number): void {
    this.d.markDirty(gfn);
    this.d.p2m.changeTypeOne(gfn, p2m_ram_logdirty, p2m_ram_rw);
  }

  crash(reason: string): void {
    this.d.crashed ??= reason;
  }

  shuttingDown(): boolean {
    return this.d.shutdown.code !== null;
  }
}

const guests = new WeakMap<Hypervisor, GuestEmulator>();

/**
 * The guest side of an in-process fake hypervisor: one GuestEmulator per Hypervisor, with every HVM
 * domain attached (created on first use; options apply then).
 */
export function guestOf(hv: Hypervisor, opts: HostOptions = {}): GuestEmulator {
  let g = guests.get(hv);
  if (g === undefined) {
    g = new GuestEmulator();
    if (hv.persona.arch === "x86") for (const d of hv.domains.values()) if (d.isHvm) g.attach(new HypervisorDomainPort(hv, d, opts));
    guests.set(hv, g);
    // An emulator's EVTCHNOP_send on a port bound to an ioreq port wakes the vCPU waiting on it.
    const guest = g;
    hv.onXenNotify((domid, port) => { guest.notified(domid, port); });
  }
  return g;
}
