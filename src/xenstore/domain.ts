// Domains as xenstored knows them (xenstored_domain.c): introduced or not, their node and watch counts,
// their stub-domain target, and the permissions of the @introduceDomain / @releaseDomain events.
import { XS_PERM_NONE } from "../../abi/xen/xs_wire.js";
import type { XsPerm } from "./perms.js";

export interface XsDomain {
  readonly domid: number;
  /** the global generation when the domain became known (xenstored_domain.c:alloc_domain) */
  generation: number;
  introduced: boolean;
  port: number;
  shutdown: boolean;
  /** nodes owned (perms[0].id) */
  nbentry: number;
  nbwatch: number;
  /** SET_TARGET: the domain this one is the device model of */
  target: number | undefined;
}

export const domainPath = (domid: number): string => `/local/domain/${domid >>> 0}`;

export class XsDomains {
  readonly map = new Map<number, XsDomain>();
  introducePerms: XsPerm[] = [{ id: 0, perms: XS_PERM_NONE }];
  releasePerms: XsPerm[] = [{ id: 0, perms: XS_PERM_NONE }];

  /** `exists` stands for xc_domain_getinfo: whether the host has that domain. */
  constructor(readonly exists: (domid: number) => boolean, readonly privDomid: number) {}

  find(domid: number): XsDomain | undefined {
    return this.map.get(domid);
  }

  /** mirrors xenstored_domain.c:alloc_domain */
  alloc(domid: number, generation: number): XsDomain {
    const d: XsDomain = { domid, generation, introduced: false, port: 0, shutdown: false, nbentry: 0, nbwatch: 0, target: undefined };
    this.map.set(domid, d);
    return d;
  }

  findOrAlloc(domid: number, generation: number): XsDomain {
    return this.map.get(domid) ?? this.alloc(domid, generation);
  }

  /** mirrors xenstored_domain.c:find_or_alloc_existing_domain */
  findOrAllocExisting(domid: number, generation: number): XsDomain | undefined {
    return this.map.get(domid) ?? (this.exists(domid) ? this.alloc(domid, generation) : undefined);
  }

  /** mirrors xenstored_domain.c:find_domain_by_domid */
  introduced(domid: number): XsDomain | undefined {
    const d = this.map.get(domid);
    return d?.introduced === true ? d : undefined;
  }

  /** mirrors xenstored_domain.c:domid_is_unprivileged */
  unprivileged(domid: number): boolean {
    return domid !== 0 && domid !== this.privDomid;
  }

  /**
   * mirrors xenstored_domain.c:chk_domain_generation: a permission entry for a domain that is gone, or
   * younger than the node, is ignored (domain_adjust_node_perms)
   */
  olderThan(domid: number, generation: number): boolean {
    const d = this.map.get(domid);
    return d !== undefined && d.generation <= generation;
  }
}
