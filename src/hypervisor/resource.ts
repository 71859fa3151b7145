// XENMEM_acquire_resource for ioreq servers, as a device model maps the pages:
// frame 0 = the buffered page, frame 1 = the sync page.
// mirrors common/memory.c:acquire_resource + acquire_ioreq_server, common/ioreq.c:ioreq_server_get_frame
import { EINVAL, EPERM, ESRCH } from "./explain.js";
import type { Hypervisor } from "./hypervisor.js";
import { getServerFrame } from "./ioreq-server.js";

export { XENMEM_resource_ioreq_server_frame_bufioreq, XENMEM_resource_ioreq_server_frame_ioreq } from "../../abi/xen/xen.js";

export type MapResourceResult = { rc: 0; page: Uint8Array } | { rc: number; page: null };

/**
 * Maps one frame of ioreq server `id` of domain `domid` for domain `caller`. The page is allocated
 * (zeroed) through the server model on first use, so get_ioreq_server_info then sees it (and refuses
 * to gfn-map it, -EPERM). Returns the live page bytes, or rc < 0:
 * -ESRCH no domain, -EPERM the caller itself / not privileged / not the server's emulator / the page is
 * gfn-mapped, -EINVAL not HVM / id > 0xffff / bad frame, -ENOENT no such server, or frame 0 with
 * bufioreq off.
 */
export function mapResource(hv: Hypervisor, caller: number, domid: number, id: number, frame: number): MapResourceResult {
  const fail = (rc: number, rule: string, mirrors: string): { rc: number; page: null } => {
    hv.recordRefusal(rc, rule, mirrors);
    return { rc, page: null };
  };
  const d = hv.domain(domid);
  if (d === undefined) return fail(ESRCH, `no domain ${domid}`, "domain.c:rcu_lock_remote_domain_by_id");
  if (domid === caller) return fail(EPERM, `domain ${domid} is the caller itself`, "domain.c:rcu_lock_remote_domain_by_id");
  const c = hv.domain(caller);
  if (c === undefined || !(c.control || c.target === domid)) {
    return fail(EPERM, `caller ${caller} is neither the control domain nor domain ${domid}'s device model`, "xsm/dummy.h:xsm_domain_resource_map");
  }
  if (!d.isHvm) return fail(EINVAL, `domain ${domid} is not an HVM domain`, "memory.c:acquire_ioreq_server");
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) return fail(EINVAL, `id ${id} is not an ioservid_t`, "memory.c:acquire_ioreq_server");
  if (!Number.isInteger(frame) || frame < 0 || frame > 0xffff_ffff) return fail(EINVAL, `frame ${frame} is out of range`, "memory.c:acquire_resource");
  const ctx = {
    caller,
    d,
    persona: hv.persona,
    refuse: (rc: number, rule: string, mirrors: string): number => {
      hv.recordRefusal(rc, rule, mirrors);
      return rc;
    },
  };
  const out = getServerFrame(ctx, id, frame);
  if (out.rc !== 0 || out.page === null) return { rc: out.rc === 0 ? EINVAL : out.rc, page: null };
  return { rc: 0, page: out.page };
}
