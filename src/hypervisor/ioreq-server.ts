// The ioreq server model: create / get_info / map ranges / set_state / destroy / acquire frames.
// mirrors common/ioreq.c and arch/x86/hvm/ioreq.c
import { layoutOf } from "../codec/index.js";
import type { OpContext } from "./context.js";
import type { Domain } from "./domain.js";
import {
  inGroup, P2M_PAGE_FROM_GFN_TYPES, P2M_PAGING_TYPES, p2m_invalid, p2m_mmio_direct, p2m_populate_on_demand, p2m_ram_rw, p2m_ram_shared,
} from "./p2m-types.js";
import { EINVAL, ENOENT, ENOMEM, ENOSPC, EOPNOTSUPP, EPERM } from "./explain.js";
import { MAX_GPA } from "./guest-memory.js";
import { RangeSet } from "./rangeset.js";

export const MAX_NR_IOREQ_SERVERS = 8;
const MAX_GFN = Math.floor(MAX_GPA / 4096);
export const PAGE_SIZE = 4096;
const ioreqLayout = layoutOf("ioreq");
/** Offset of vp_eport inside one ioreq_t (public/hvm/ioreq.h). */
export const IOREQ_VP_EPORT_OFFSET = ioreqLayout.fields.find((f) => f.name === "vp_eport")!.offset;
/** sizeof(ioreq_t): the sync page holds one per vCPU. */
export const IOREQ_SIZE = ioreqLayout.size;
export const HVM_PARAM_IOREQ_PFN = 5;
export const HVM_PARAM_BUFIOREQ_PFN = 6;

export interface IoreqPage {
  gfn: number | null;
  page: Uint8Array | null;
}

export type RangeType = "port" | "memory" | "pci";
export const rangeTypes: readonly RangeType[] = ["port", "memory", "pci"];

export class IoreqServer {
  enabled = false;
  readonly ranges = { port: new RangeSet(), memory: new RangeSet(), pci: new RangeSet() };
  readonly ioreqPage: IoreqPage = { gfn: null, page: null };
  readonly bufioreqPage: IoreqPage = { gfn: null, page: null };
  /** Per-vCPU ioreq event channel in the target's table. */
  readonly ioreqEvtchn: number[] = [];
  /** Per-vCPU "waiting for the emulator" flag (the emulation side sets it). */
  readonly pending: boolean[] = [];
  bufioreqEvtchn: number | null = null;
  /** 4.9: the default (legacy) server: pages at HVM params 5/6, no ranges, invisible to DMOPs. */
  isDefault = false;

  constructor(
    readonly id: number,
    /** The domain that created the server. */
    readonly emulator: number,
    /** The domain it serves. */
    readonly target: number,
    readonly bufioreqHandling: 0 | 1 | 2,
  ) {}

  get handlesBufioreq(): boolean {
    return this.bufioreqHandling !== 0;
  }
}

type Ctx = Pick<OpContext, "caller" | "d" | "persona" | "refuse">;

/** mirrors ioreq.c:get_ioreq_server + the emulator check */
export function lookupServer(ctx: Ctx, id: number, fn: string): IoreqServer | number {
  // 4.9: every server DMOP's list walk skips the default server (-ENOENT)
  const s = ctx.persona.serverSlots
    ? (id < MAX_NR_IOREQ_SERVERS ? ctx.d.ioreq.servers[id] : undefined)
    : ctx.d.ioreq.list.find((x) => x.id === id && !x.isDefault);
  if (!s) return ctx.refuse(ENOENT, `no ioreq server ${id}`, fn);
  if (ctx.persona.ownerCheck && s.emulator !== ctx.caller) {
    return ctx.refuse(EPERM, `server ${id} belongs to domain ${s.emulator}, not the caller ${ctx.caller}`, fn);
  }
  return s;
}

/** mirrors ioreq.c:ioreq_server_add_vcpu for every vCPU; frees on failure */
function addVcpus(d: Domain, s: IoreqServer): number {
  for (const v of d.vcpus) {
    const port = d.evtchn.allocUnbound(v.id, s.emulator);
    if (port < 0) return port;
    s.ioreqEvtchn[v.id] = port;
    s.pending[v.id] = false;
    if (v.id === 0 && s.handlesBufioreq) {
      const bport = d.evtchn.allocUnbound(0, s.emulator);
      if (bport < 0) return bport;
      s.bufioreqEvtchn = bport;
    }
    if (s.enabled) updateEvtchn(s, v.id);
  }
  return 0;
}

/** A failed alloc_unbound_xen_event_channel, explained. */
function refuseEvtchn(ctx: Ctx, rc: number): number {
  const d = ctx.d;
  if (rc === EINVAL) return ctx.refuse(rc, `domain ${d.domid} is dying: no new event channel`, "event_channel.c:get_free_port");
  return ctx.refuse(rc, `no free event channel port up to max_evtchn_port ${d.evtchn.maxEvtchnPort}`, "event_channel.c:evtchn_allocate_port");
}

function freeVcpus(d: Domain, s: IoreqServer): void {
  for (const port of s.ioreqEvtchn) d.evtchn.free(port);
  if (s.bufioreqEvtchn !== null) d.evtchn.free(s.bufioreqEvtchn);
  s.ioreqEvtchn.length = 0;
  s.bufioreqEvtchn = null;
}

/** mirrors ioreq.c:ioreq_server_update_evtchn */
function updateEvtchn(s: IoreqServer, vcpu: number): void {
  const page = s.ioreqPage.page;
  if (!page) return;
  const off = vcpu * IOREQ_SIZE + IOREQ_VP_EPORT_OFFSET;
  new DataView(page.buffer, page.byteOffset, page.byteLength).setUint32(off, s.ioreqEvtchn[vcpu] ?? 0, true);
}

/** mirrors ioreq.c:ioreq_server_create (4.12+) / x86 hvm_create_ioreq_server (4.9) */
export function createServer(ctx: Ctx, handling: number): { rc: number; id: number } {
  const { d, persona } = ctx;
  if (persona.arch === "arm" && handling !== 0) {
    return { rc: ctx.refuse(EINVAL, "handle_bufioreq must be 0 on Arm", "ioreq.c:ioreq_server_create"), id: 0 };
  }
  if (handling > 2) {
    return { rc: ctx.refuse(EINVAL, `handle_bufioreq ${handling} > HVM_IOREQSRV_BUFIOREQ_ATOMIC`, "ioreq.c:ioreq_server_create"), id: 0 };
  }
  const h = handling as 0 | 1 | 2;
  if (!persona.serverSlots) return create49(ctx, h);
  let i = 0;
  while (i < MAX_NR_IOREQ_SERVERS && d.ioreq.servers[i]) i++;
  if (i >= MAX_NR_IOREQ_SERVERS) {
    return { rc: ctx.refuse(ENOSPC, "all 8 ioreq server slots are in use", "ioreq.c:ioreq_server_create"), id: 0 };
  }
  const s = new IoreqServer(i, ctx.caller, d.domid, h);
  const rc = addVcpus(d, s);
  if (rc < 0) {
    freeVcpus(d, s);
    return { rc: refuseEvtchn(ctx, rc), id: 0 };
  }
  d.ioreq.servers[i] = s;
  return { rc: 0, id: i };
}

/** 4.9: ids count up from 1 skipping ids in use; pages are gfn-mapped at create time. */
function create49(ctx: Ctx, h: 0 | 1 | 2): { rc: number; id: number } {
  const { d } = ctx;
  const id = nextIoservid(d);
  const s = new IoreqServer(id, ctx.caller, d.domid, h);
  const pool = d.ioreq.gfnPool;
  const g1 = takePoolGfn(d);
  const g2 = g1 !== null && h !== 0 ? takePoolGfn(d) : null;
  if (g1 === null || (h !== 0 && g2 === null)) {
    if (g1 !== null) pool.mask |= 1n << BigInt(g1 - pool.base);
    return { rc: ctx.refuse(ENOMEM, "no free ioreq gfn in the pool", "hvm/ioreq.c:hvm_alloc_ioreq_gmfn"), id: 0 };
  }
  // mirrors 4.9 hvm/ioreq.c:hvm_map_ioreq_page (prepare_ring_for_helper, then the dying check)
  for (const g of g2 === null ? [g1] : [g1, g2]) {
    const prc = prepareRing(ctx, g);
    const why = prc !== 0 ? `gfn ${hex(g)} is not a writable RAM page` : d.isDying ? `domain ${d.domid} is dying` : null;
    if (why !== null) {
      releaseGfn(d, g1);
      if (g2 !== null) releaseGfn(d, g2);
      return { rc: ctx.refuse(prc !== 0 ? prc : EINVAL, why, "hvm/ioreq.c:hvm_map_ioreq_page"), id: 0 };
    }
  }
  s.ioreqPage.gfn = g1;
  s.ioreqPage.page = guestPage(d, g1);
  if (g2 !== null) {
    s.bufioreqPage.gfn = g2;
    s.bufioreqPage.page = guestPage(d, g2);
  }
  const rc = addVcpus(d, s);
  if (rc < 0) {
    freeVcpus(d, s);
    releaseGfn(d, g1);
    if (g2 !== null) releaseGfn(d, g2);
    return { rc: refuseEvtchn(ctx, rc), id: 0 };
  }
  d.ioreq.list.unshift(s);
  d.ioreq.servers[id] = s;
  return { rc: 0, id };
}

/** mirrors 4.9 hvm/ioreq.c:next_ioservid (ids count up, skipping ids in use; the default server takes one too) */
function nextIoservid(d: Domain): number {
  let id = d.ioreq.lastId;
  do id = (id + 1) & 0xffff; while (d.ioreq.list.some((x) => x.id === id));
  d.ioreq.lastId = id;
  return id;
}

export const HVM_PARAM_BUFIOREQ_EVTCHN = 26;

/**
 * 4.9: the default ioreq server, made when the device model reads HVM_PARAM_IOREQ_PFN, BUFIOREQ_PFN or
 * BUFIOREQ_EVTCHN of a domain under construction. It serves domain `dmDomid` (HVM_PARAM_DM_DOMAIN),
 * handles buffered ioreqs (LEGACY), maps its pages at params 5 and 6 as they are (0 if never set), has
 * no ranges, is enabled at once without leaving the physmap, and stores its buffered port in param 26.
 * Returns 0, -EEXIST when it exists, or the mapping / event-channel error.
 * mirrors 4.9 hvm/ioreq.c:hvm_create_ioreq_server(is_default = 1) + hvm_ioreq_server_init
 */
export function createDefaultServer49(ctx: Ctx, dmDomid: number): number {
  const { d } = ctx;
  const fn = "hvm/ioreq.c:hvm_create_ioreq_server";
  if (d.ioreq.defaultServer !== null) return ctx.refuse(-17, `domain ${d.domid} already has a default ioreq server`, fn);
  const id = nextIoservid(d);
  const s = new IoreqServer(id, dmDomid, d.domid, 1);
  s.isDefault = true;
  const pool = d.ioreq.gfnPool;
  // hvm_ioreq_server_map_pages(s, params[5], params[6]): the sync page, then the buffered one
  for (const [p, g] of [[s.ioreqPage, pool.ioreqPfn], [s.bufioreqPage, pool.bufioreqPfn]] as const) {
    const prc = prepareRing(ctx, g);
    if (prc !== 0 || d.isDying) {
      s.ioreqPage.page = null;
      s.ioreqPage.gfn = null;
      return prc !== 0 ? ringRefusal(ctx, prc, g) : ctx.refuse(EINVAL, `domain ${d.domid} is dying`, "hvm/ioreq.c:hvm_map_ioreq_page");
    }
    p.gfn = g;
    p.page = guestPage(d, g);
  }
  const rc = addVcpus(d, s);
  if (rc < 0) {
    freeVcpus(d, s);
    return refuseEvtchn(ctx, rc);
  }
  d.ioreq.list.unshift(s);
  d.ioreq.servers[id] = s;
  d.ioreq.defaultServer = s;
  // hvm_ioreq_server_enable(s, 1): no gfn leaves the physmap, the pages are not cleared
  s.enabled = true;
  for (const v of d.vcpus) updateEvtchn(s, v.id);
  return 0;
}

function takePoolGfn(d: Domain): number | null {
  const pool = d.ioreq.gfnPool;
  for (let i = 0; i < 64; i++) {
    const bit = 1n << BigInt(i);
    if (pool.mask & bit) {
      pool.mask &= ~bit;
      return pool.base + i;
    }
  }
  return null;
}

/** mirrors x86 ioreq.c:hvm_alloc_ioreq_gfn + hvm_alloc_legacy_ioreq_gfn (4.17 tests the bit inverted) */
function allocGfn(ctx: Ctx): number | null {
  const d = ctx.d;
  const g = takePoolGfn(d);
  if (g !== null) return g;
  const pool = d.ioreq.gfnPool;
  for (const i of [HVM_PARAM_IOREQ_PFN, HVM_PARAM_BUFIOREQ_PFN]) {
    const wasSet = (pool.legacyMask & (1 << i)) !== 0;
    pool.legacyMask &= ~(1 << i);
    const param = i === HVM_PARAM_IOREQ_PFN ? pool.ioreqPfn : pool.bufioreqPfn;
    if (ctx.persona.legacyGfnFixed ? wasSet : !wasSet) return param;
  }
  return null;
}

/** mirrors x86 ioreq.c:hvm_free_ioreq_gfn */
function releaseGfn(d: Domain, gfn: number): void {
  const pool = d.ioreq.gfnPool;
  if (gfn === pool.ioreqPfn) pool.legacyMask |= 1 << HVM_PARAM_IOREQ_PFN;
  else if (gfn === pool.bufioreqPfn) pool.legacyMask |= 1 << HVM_PARAM_BUFIOREQ_PFN;
  else {
    const i = gfn - pool.base;
    if (i >= 0 && i < 64) pool.mask |= 1n << BigInt(i);
  }
}

/**
 * The gfn must hold a writable RAM page: paging types and (still) shared pages -ENOENT (-EAGAIN turned
 * round), PoD populated first, p2m_mmio_direct
 * -EPERM (4.17, CONFIG_X86), no page -EINVAL.
 * mirrors common/memory.c:prepare_ring_for_helper + check_get_page_from_gfn (4.9: no mmio_direct case)
 */
function prepareRing(ctx: Pick<Ctx, "d" | "persona">, gfn: number): number {
  const d = ctx.d;
  let t = d.p2m.typeCodeOf(gfn);
  if (inGroup(t, P2M_PAGING_TYPES)) {
    // p2m_mem_paging_populate, then -EAGAIN -> -ENOENT
    d.p2m.pagingPopulateRequests++;
    d.p2m.lastPagingPopulate = gfn;
    return ENOENT;
  }
  // the lookup unshares; in this model unsharing fails, so the page is still shared: -EAGAIN -> -ENOENT
  if (t === p2m_ram_shared) return ENOENT;
  if (t === p2m_populate_on_demand) {
    // get_page_from_gfn(P2M_UNSHARE) allocates: the PoD entry is populated and its page used
    d.p2m.setType(gfn, gfn, p2m_ram_rw);
    t = p2m_ram_rw;
  }
  if (t === p2m_mmio_direct && ctx.persona.ringMmioDirectEperm) return EPERM;
  return inGroup(t, P2M_PAGE_FROM_GFN_TYPES) && d.p2m.hasPage(gfn) ? 0 : EINVAL;
}

/** The guest's page at `gfn` (beyond the modelled 2^52 bytes of RAM: a page of its own). */
function guestPage(d: Domain, gfn: number): Uint8Array {
  return gfn <= MAX_GFN ? d.memory.pageFor(gfn) : new Uint8Array(PAGE_SIZE);
}

function ringRefusal(ctx: Ctx, rc: number, gfn: number): number {
  if (rc === EPERM) return ctx.refuse(rc, `gfn ${hex(gfn)} is p2m_mmio_direct`, "memory.c:check_get_page_from_gfn");
  return ctx.refuse(rc, `gfn ${hex(gfn)} is not a writable RAM page`, "memory.c:prepare_ring_for_helper");
}

/** mirrors x86 ioreq.c:hvm_map_ioreq_gfn */
function mapGfn(ctx: Ctx, iorp: IoreqPage, which: string): number {
  const fn = "hvm/ioreq.c:hvm_map_ioreq_gfn";
  if (iorp.page) {
    if (iorp.gfn === null) return ctx.refuse(EPERM, `the ${which} page was allocated by XENMEM_acquire_resource`, fn);
    return 0;
  }
  if (ctx.d.isDying) return ctx.refuse(EINVAL, `domain ${ctx.d.domid} is dying`, fn);
  const gfn = allocGfn(ctx);
  if (gfn === null) {
    iorp.gfn = null;
    return ctx.refuse(ENOMEM, "no free ioreq gfn (pool and legacy gfns exhausted)", "hvm/ioreq.c:hvm_alloc_ioreq_gfn");
  }
  const rc = prepareRing(ctx, gfn);
  if (rc !== 0) {
    // hvm_unmap_ioreq_gfn: the gfn goes back and iorp->gfn becomes INVALID_GFN
    releaseGfn(ctx.d, gfn);
    iorp.gfn = null;
    return ringRefusal(ctx, rc, gfn);
  }
  // the guest's own page becomes the ioreq page, contents and all (zeroed only on enable/disable)
  iorp.gfn = gfn;
  iorp.page = guestPage(ctx.d, gfn);
  return 0;
}

/** mirrors x86 ioreq.c:hvm_unmap_ioreq_gfn (4.9: hvm_ioreq_server_unmap_pages frees no gfn of the default server) */
function unmapGfn(d: Domain, iorp: IoreqPage, isDefault = false): void {
  if (iorp.gfn === null) return;
  if (!isDefault) releaseGfn(d, iorp.gfn);
  iorp.page = null;
  iorp.gfn = null;
}

/** mirrors x86 ioreq.c:arch_ioreq_server_map_pages (Arm: -EOPNOTSUPP) */
function mapPages(ctx: Ctx, s: IoreqServer): number {
  if (ctx.persona.arch === "arm") {
    return ctx.refuse(EOPNOTSUPP, "Arm cannot map ioreq pages into guest frames", "arm/ioreq.c:arch_ioreq_server_map_pages");
  }
  let rc = mapGfn(ctx, s.ioreqPage, "ioreq");
  if (rc === 0 && s.handlesBufioreq) rc = mapGfn(ctx, s.bufioreqPage, "bufioreq");
  if (rc !== 0) unmapGfn(ctx.d, s.ioreqPage);
  return rc;
}

export interface ServerInfo {
  ioreq_gfn?: bigint;
  bufioreq_gfn?: bigint;
  bufioreq_port?: number;
}

const INVALID_GFN = 0xffffffffffffffffn;

/** mirrors ioreq.c:ioreq_server_get_info; only the fields Xen writes are returned */
export function getServerInfo(ctx: Ctx, id: number, wantGfns: boolean): { rc: number; info: ServerInfo } {
  const s = lookupServer(ctx, id, "ioreq.c:ioreq_server_get_info");
  if (typeof s === "number") return { rc: s, info: {} };
  const info: ServerInfo = {};
  if (ctx.persona.getInfoFlags) {
    if (wantGfns) {
      const rc = mapPages(ctx, s);
      if (rc !== 0) return { rc, info };
      info.ioreq_gfn = gfnOut(s.ioreqPage);
    }
    if (s.handlesBufioreq) {
      if (wantGfns) info.bufioreq_gfn = gfnOut(s.bufioreqPage);
      info.bufioreq_port = s.bufioreqEvtchn ?? 0;
    }
  } else {
    info.ioreq_gfn = gfnOut(s.ioreqPage);
    if (s.bufioreqPage.page) {
      info.bufioreq_gfn = gfnOut(s.bufioreqPage);
      info.bufioreq_port = s.bufioreqEvtchn ?? 0;
    }
  }
  return { rc: 0, info };
}

function gfnOut(p: IoreqPage): bigint {
  return p.gfn === null ? INVALID_GFN : BigInt(p.gfn);
}

/** mirrors ioreq.c:ioreq_server_map_io_range / ioreq_server_unmap_io_range */
export function mapIoRange(ctx: Ctx, map: boolean, id: number, type: number, start: bigint, end: bigint): number {
  const fn = map ? "ioreq.c:ioreq_server_map_io_range" : "ioreq.c:ioreq_server_unmap_io_range";
  if (ctx.persona.startEndCheck && start > end) return ctx.refuse(EINVAL, `start ${hex(start)} > end ${hex(end)}`, fn);
  const s = lookupServer(ctx, id, fn);
  if (typeof s === "number") return s;
  const kind = rangeTypes[type];
  if (kind === undefined) return ctx.refuse(EINVAL, `type ${type} is not XEN_DMOP_IO_RANGE_PORT/MEMORY/PCI`, fn);
  const r = s.ranges[kind];
  if (map) {
    if (r.overlaps(start, end)) return ctx.refuse(-17, `[${hex(start)}, ${hex(end)}] overlaps a ${kind} range of server ${id}`, fn);
    const rc = r.add(start, end);
    return rc === 0 ? 0 : ctx.refuse(rc, `server ${id} already has 256 ${kind} range nodes`, "rangeset.c:rangeset_add_range");
  }
  if (!r.contains(start, end)) return ctx.refuse(ENOENT, `[${hex(start)}, ${hex(end)}] is not inside one ${kind} range of server ${id}`, fn);
  const rc = r.remove(start, end);
  return rc === 0 ? 0 : ctx.refuse(rc, `splitting needs a node beyond the 256-node limit`, "rangeset.c:rangeset_remove_range");
}

/** mirrors ioreq.c:ioreq_server_enable + x86 arch_ioreq_server_enable / hvm_remove_ioreq_gfn */
export function enableServer(d: Domain, s: IoreqServer, isX86: boolean, invalidatesMapcache = true): void {
  if (s.enabled) return;
  if (isX86 && !s.isDefault) {
    for (const p of [s.ioreqPage, s.bufioreqPage]) {
      if (p.gfn === null) continue;
      // p2m_remove_page -> p2m_remove_entry asks for a mapcache invalidation
      if (invalidatesMapcache) d.requestMapcacheInvalidate();
      d.p2m.setType(p.gfn, p.gfn, p2m_invalid);
      p.page?.fill(0);
    }
  }
  s.enabled = true;
  for (const v of d.vcpus) updateEvtchn(s, v.id);
}

/** mirrors ioreq.c:ioreq_server_disable + x86 arch_ioreq_server_disable / hvm_add_ioreq_gfn */
export function disableServer(d: Domain, s: IoreqServer, isX86: boolean): void {
  if (!s.enabled) return;
  if (isX86 && !s.isDefault) {
    for (const p of [s.bufioreqPage, s.ioreqPage]) {
      if (p.gfn === null) continue;
      p.page?.fill(0);
      d.p2m.setType(p.gfn, p.gfn, p2m_ram_rw);
      d.markDirty(p.gfn);
    }
  }
  s.enabled = false;
}

/** mirrors ioreq.c:ioreq_server_set_state */
export function setServerState(ctx: Ctx, id: number, enabled: boolean): number {
  const s = lookupServer(ctx, id, "ioreq.c:ioreq_server_set_state");
  if (typeof s === "number") return s;
  const x86 = ctx.persona.arch === "x86";
  if (enabled) enableServer(ctx.d, s, x86, ctx.persona.removeInvalidatesMapcache);
  else disableServer(ctx.d, s, x86);
  return 0;
}

/** mirrors ioreq.c:ioreq_server_destroy + x86 arch_ioreq_server_destroy */
export function destroyServer(ctx: Ctx, id: number): number {
  const s = lookupServer(ctx, id, "ioreq.c:ioreq_server_destroy");
  if (typeof s === "number") return s;
  const d = ctx.d;
  const x86 = ctx.persona.arch === "x86";
  // p2m_set_ioreq_server(d, 0, s): releases the claim only if s holds it; no sweep
  if (x86) d.p2m.releaseIoreqServerOnDestroy(s.id);
  disableServer(d, s, x86);
  freeVcpus(d, s);
  unmapGfn(d, s.bufioreqPage);
  unmapGfn(d, s.ioreqPage);
  s.ioreqPage.page = null;
  s.bufioreqPage.page = null;
  for (const k of rangeTypes) s.ranges[k].clear();
  if (ctx.persona.serverSlots) d.ioreq.servers[id] = undefined;
  else {
    d.ioreq.list.splice(d.ioreq.list.indexOf(s), 1);
    d.ioreq.servers[id] = undefined;
  }
  return 0;
}

/** Tear every server down as the domain is destroyed (no claim release). mirrors ioreq.c:ioreq_server_destroy_all */
export function destroyAllServers(d: Domain, isX86: boolean): void {
  for (const s of d.serversInSelectionOrder()) {
    disableServer(d, s, isX86);
    freeVcpus(d, s);
    unmapGfn(d, s.bufioreqPage, s.isDefault);
    unmapGfn(d, s.ioreqPage, s.isDefault);
    s.ioreqPage.page = null;
    s.bufioreqPage.page = null;
    for (const k of rangeTypes) s.ranges[k].clear();
    d.ioreq.servers[s.id] = undefined;
  }
  d.ioreq.list.length = 0;
  d.ioreq.defaultServer = null;
}

/**
 * XENMEM_acquire_resource frames of an ioreq server: frame 0 = buffered page, 1 = sync page.
 * mirrors ioreq.c:ioreq_server_get_frame + ioreq_server_alloc_mfn
 */
export function getServerFrame(ctx: Ctx, id: number, frame: number): { rc: number; page: Uint8Array | null } {
  const fn = "ioreq.c:ioreq_server_get_frame";
  const s = lookupServer(ctx, id, fn);
  if (typeof s === "number") return { rc: s, page: null };
  // mirrors ioreq.c:ioreq_server_alloc_pages: sync page, then the buffered one; on failure the sync page
  // is freed (ioreq_server_free_mfn) even when it is the gfn-mapped page that caused the -EPERM: the
  // server then has no sync page but keeps ioreq.gfn
  for (const [p, need] of [[s.ioreqPage, true], [s.bufioreqPage, s.handlesBufioreq]] as const) {
    if (!need) continue;
    if (p.page) {
      if (p.gfn !== null) {
        s.ioreqPage.page = null;
        return { rc: ctx.refuse(EPERM, "the page is already mapped at a guest frame", "ioreq.c:ioreq_server_alloc_mfn"), page: null };
      }
      continue;
    }
    p.page = ctx.d.memory.newPage();
  }
  if (frame === 0) {
    if (!s.handlesBufioreq) return { rc: ctx.refuse(ENOENT, `server ${id} has no buffered ring`, fn), page: null };
    return { rc: 0, page: s.bufioreqPage.page };
  }
  if (frame === 1) return { rc: 0, page: s.ioreqPage.page };
  return { rc: ctx.refuse(EINVAL, `frame ${frame} is not 0 (bufioreq) or 1 (ioreq)`, fn), page: null };
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
