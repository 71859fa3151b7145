// IOCTL_PRIVCMD_MMAP_RESOURCE as the Linux driver and Xen answer it, over the fake's pages in a shared
// file: the reply names each frame by its offset in that file, and the client maps it there.
import { XENMEM_resource_ioreq_server } from "../../abi/xen/xen.js";
import { errno } from "../../abi/xen/errno.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { mapResource } from "../hypervisor/resource.js";
import { DOMID_INVALID } from "../privcmd/index.js";
import { MMAP_ADDR_SET, MMAP_ARG_FAULT, MMAP_IN_VMA, type MmapResourceRequest } from "./protocol.js";
import type { SharedPages } from "./shared-pages.js";

const { EFAULT, EPERM, EINVAL, ESRCH, EOPNOTSUPP, ENOMEM } = errno;
const IOREQ_SIZE = 32, PAGE_SIZE = 4096;
/** UINT_MAX >> MEMOP_EXTENT_SHIFT: the most frames one acquire_resource takes. */
const MAX_NR_FRAMES = 0xffff_ffff >>> 6;

export interface MmapResult {
  ret: number;
  errno: number;
  /** The size query's answer (0 otherwise). */
  nrFrames: number;
  /** File offsets of the mapped frames, in order. */
  offsets: number[];
}

const fail = (e: number): MmapResult => ({ ret: -1, errno: e, nrFrames: 0, offsets: [] });

/**
 * resource_max_frames, as acquire_resource reads it (an unsigned int: a negative errno becomes a huge
 * count, so a size query of an unknown type answers 2^32 - EOPNOTSUPP, as on Xen).
 * mirrors memory.c:resource_max_frames + ioreq_server_max_frames
 */
function maxFrames(hv: Hypervisor, dom: number, type: number): number {
  const d = hv.domain(dom)!;
  if (type === XENMEM_resource_ioreq_server) return d.isHvm ? 1 + Math.ceil((d.maxVcpus * IOREQ_SIZE) / PAGE_SIZE) : 0;
  if (type === 1 || type === 2) return 0; // grant table, vmtrace buffer: the fake has neither
  return (0x1_0000_0000 - EOPNOTSUPP) >>> 0;
}

/** acquire_resource's checks before any frame. 0 or an errno. mirrors memory.c:acquire_resource */
function preamble(hv: Hypervisor, caller: number, dom: number): number {
  const d = hv.domain(dom);
  if (d === undefined) return ESRCH;
  if (dom === caller) return EPERM; // rcu_lock_remote_domain_by_id
  const c = hv.domain(caller);
  if (c === undefined || !(c.control || c.target === dom)) return EPERM; // xsm_domain_resource_map
  return 0;
}

/** mirrors privcmd.c:privcmd_ioctl_mmap_resource, then memory.c:acquire_resource / acquire_ioreq_server */
export function mmapResource(hv: Hypervisor, shared: SharedPages | undefined, caller: number, restriction: number, req: MmapResourceRequest): MmapResult {
  if ((req.flags & MMAP_ARG_FAULT) !== 0) return fail(EFAULT);
  if (restriction !== DOMID_INVALID && restriction !== req.dom) return fail(EPERM);
  const addrSet = (req.flags & MMAP_ADDR_SET) !== 0;
  if (addrSet !== (req.num !== 0n)) return fail(EINVAL);
  const pre = preamble(hv, caller, req.dom);
  if (pre !== 0) return fail(pre);
  const max = maxFrames(hv, req.dom, req.type);
  if (max === 0) return fail(EINVAL);
  if (!addrSet) return { ret: 0, errno: 0, nrFrames: max, offsets: [] };
  if ((req.flags & MMAP_IN_VMA) === 0) return fail(EINVAL);
  const nr = Number(req.num & 0xffff_ffffn); // xen_mem_acquire_resource.nr_frames is 32 bits
  if (nr === 0 || nr > MAX_NR_FRAMES || req.idx + nr > 0xffff_ffff) return fail(EINVAL);
  if (req.type !== XENMEM_resource_ioreq_server) return fail(EOPNOTSUPP);
  if (!hv.domain(req.dom)!.isHvm || req.id > 0xffff) return fail(EINVAL);
  if (shared === undefined) return fail(EOPNOTSUPP); // no shared file: the pages cannot reach the client
  const offsets: number[] = [];
  for (let i = 0; i < nr; i++) {
    const r = mapResource(hv, caller, req.dom, req.id, req.idx + i);
    if (r.rc !== 0 || r.page === null) return fail(r.rc !== 0 ? -r.rc : EINVAL);
    const off = shared.offsetOf(r.page);
    if (off === undefined) return fail(ENOMEM);
    offsets.push(off);
  }
  return { ret: 0, errno: 0, nrFrames: 0, offsets };
}

/** One gfn of an MMAPBATCH: 0 and the page's file offset, or a negative errno (offset 0). */
export interface GfnMapping {
  err: number;
  offset: number;
}

const PAGED = new Set(["ram_paged", "ram_paging_out", "ram_paging_in"]);
const MAX_GFN = 2 ** 40 - 1;

/**
 * Foreign mapping of guest frames, one result per gfn, as Xen's mmu_update answers a dom0 mapping a
 * guest's frame: -ESRCH no such domain, -EPERM not privileged over it, -ENOENT a paged-out frame,
 * -EINVAL a gfn with no RAM page behind it (a hole, MMIO); a RAM frame maps its page (allocated, zeroed,
 * on first use), shared with the fake.
 * mirrors x86/mm.c:mod_l1_entry (get_page_from_gfn of a foreign, translated domain) + get_pg_owner
 */
export function mmapBatch(hv: Hypervisor, shared: SharedPages | undefined, caller: number, dom: number, gfns: readonly bigint[]): GfnMapping[] {
  const d = hv.domain(dom);
  const c = hv.domain(caller);
  let whole = 0;
  if (d === undefined) whole = -ESRCH;
  else if (dom !== caller && !(c?.control === true || c?.target === dom)) whole = -EPERM;
  else if (shared === undefined) whole = -EOPNOTSUPP;
  const out: GfnMapping[] = new Array<GfnMapping>(gfns.length);
  for (let i = 0; i < gfns.length; i++) {
    if (whole !== 0 || d === undefined || shared === undefined) {
      out[i] = { err: whole, offset: 0 };
      continue;
    }
    const g = gfns[i]!;
    const gfn = g <= BigInt(MAX_GFN) ? Number(g) : -1;
    if (gfn < 0) {
      out[i] = { err: -EINVAL, offset: 0 };
      continue;
    }
    const type = d.p2m.typeOf(gfn);
    if (PAGED.has(type)) {
      out[i] = { err: -errno.ENOENT, offset: 0 };
      continue;
    }
    if (!d.p2m.hasPage(gfn)) {
      out[i] = { err: -EINVAL, offset: 0 };
      continue;
    }
    const off = shared.offsetOf(d.memory.pageFor(gfn));
    out[i] = off === undefined ? { err: -ENOMEM, offset: 0 } : { err: 0, offset: off };
  }
  return out;
}
