// Domain requests (xenstored_domain.c): INTRODUCE, RELEASE, RESUME, SET_TARGET, GET_DOMAIN_PATH,
// IS_DOMAIN_INTRODUCED. There are no rings: a domain's clients are socket connections with its domid.
import { atoi, getStrings, onearg, str0 } from "./args.js";
import type { XenstoreCore, XsRequest } from "./core.js";
import { domainPath, type XsDomain } from "./domain.js";
import { xsError } from "./errors.js";
import { OK } from "./handlers-node.js";
import { childPath, type XsNode } from "./node.js";
import { rmNode } from "./tree.js";
import { deleteAllWatches } from "./watch.js";

/** xenstored resets a re-introduced domain's connection (xenstored_domain.c:domain_conn_reset) */
function resetDomainConnections(core: XenstoreCore, domid: number): void {
  for (const c of core.connections) {
    if (c.domain?.domid !== domid) continue;
    deleteAllWatches(c);
    c.transactions.clear();
  }
}

/**
 * mirrors xenstored_domain.c:introduce_domain: a new domain fires @introduceDomain; the host must have
 * it (xenstored would fail to map its ring page: ENOENT here)
 */
export function introduceDomain(core: XenstoreCore, domid: number, port: number): XsDomain {
  const d = core.domains.find(domid);
  if (d?.introduced === true) {
    d.port = port;
    resetDomainConnections(core, domid);
    return d;
  }
  if (!core.domains.exists(domid)) throw xsError("ENOENT", `no domain ${domid}`);
  const nd = d ?? core.domains.alloc(domid, core.store.generation);
  nd.introduced = true;
  nd.port = port;
  nd.shutdown = false;
  if (domid !== 0) core.fire(undefined, "@introduceDomain", undefined, true);
  return nd;
}

/** domid, gfn, event channel port */
export function doIntroduce(r: XsRequest): Buffer {
  const v = getStrings(r.payload);
  if (v.length < 3) throw xsError("EINVAL", "expected domid, gfn, port");
  const domid = atoi(v[0]!) >>> 0;
  const port = atoi(v[2]!) >>> 0;
  if (port === 0) throw xsError("EINVAL", "port 0");
  introduceDomain(r.core, domid, port);
  return OK;
}

/** mirrors xenstored_domain.c:find_connected_domain */
function connectedDomain(core: XenstoreCore, domid: number): XsDomain {
  const d = core.domains.introduced(domid);
  if (d === undefined) throw xsError("ENOENT", `domain ${domid} not introduced`);
  return d;
}

/** mirrors xenstored_domain.c:onearg_domain */
function oneargDomain(r: XsRequest): XsDomain {
  const a = onearg(r.payload);
  if (a === undefined) throw xsError("EINVAL", "expected a domid");
  const domid = atoi(a) >>> 0;
  if (domid === 0) throw xsError("EINVAL", "domain 0");
  return connectedDomain(r.core, domid);
}

/**
 * mirrors xenstored_domain.c:destroy_domain: the nodes the domain owns are removed (domain_tree_remove,
 * without --keep-orphans), it leaves the special-node permissions, @releaseDomain fires, and its
 * connections are closed
 */
export function releaseDomain(core: XenstoreCore, d: XsDomain): void {
  const { store } = core;
  if (d.nbentry > 0) {
    const stack: XsNode[] = [store.db.get("/")!];
    while (stack.length > 0 && d.nbentry > 0) {
      const n = stack.pop()!;
      if (n.perms[0]!.id === d.domid && n.name !== "/") {
        rmNode(store, undefined, n.name, core.fireFn);
        continue;
      }
      for (let i = n.children.length - 1; i >= 0; i--) {
        const c = store.db.get(childPath(n.name, n.children[i]!));
        if (c !== undefined) stack.push(c);
      }
    }
  }
  for (const sp of [core.domains.releasePerms, core.domains.introducePerms]) {
    if (sp[0]!.id === d.domid) sp[0]!.id = core.domains.privDomid;
    const rest = sp.slice(1).filter((p) => p.id !== d.domid);
    sp.splice(1, sp.length - 1, ...rest);
  }
  core.domains.map.delete(d.domid);
  for (const c of [...core.connections]) {
    if (c.domain === d) {
      core.disconnect(c);
      c.sink.close();
    }
  }
  if (d.introduced) core.fire(undefined, "@releaseDomain", undefined, true);
}

export function doRelease(r: XsRequest): Buffer {
  releaseDomain(r.core, oneargDomain(r));
  return OK;
}

export function doResume(r: XsRequest): Buffer {
  oneargDomain(r).shutdown = false;
  return OK;
}

/** mirrors xenstored_domain.c:do_set_target: domid becomes the device model of tdomid */
export function doSetTarget(r: XsRequest): Buffer {
  const v = getStrings(r.payload);
  if (v.length < 2) throw xsError("EINVAL", "expected domid and target");
  const d = connectedDomain(r.core, atoi(v[0]!) >>> 0);
  const t = connectedDomain(r.core, atoi(v[1]!) >>> 0);
  d.target = t.domid;
  return OK;
}

export function doGetDomainPath(r: XsRequest): Buffer {
  const a = onearg(r.payload);
  if (a === undefined) throw xsError("EINVAL", "expected a domid");
  return str0(domainPath(atoi(a)));
}

export function doIsDomainIntroduced(r: XsRequest): Buffer {
  const a = onearg(r.payload);
  if (a === undefined) throw xsError("EINVAL", "expected a domid");
  return str0(r.core.isIntroduced(atoi(a) >>> 0) ? "T" : "F");
}

/** What the host says about a domain (xc_domain_getinfo): undefined when it has no such domain */
export interface XsDomainInfo {
  shutdown: boolean;
  crashed: boolean;
  dying: boolean;
}

/**
 * mirrors xenstored_domain.c:check_domains (run on VIRQ_DOM_EXC): a domain the host no longer has, or
 * that is dying, is released (@releaseDomain); one newly shut down or crashed fires @releaseDomain once.
 */
export function checkDomains(core: XenstoreCore, info: (domid: number) => XsDomainInfo | undefined): void {
  let notify = false;
  for (const d of [...core.domains.map.values()]) {
    if (d.domid === 0) continue;
    const i = info(d.domid);
    if (!d.introduced) {
      if (i === undefined) core.domains.map.delete(d.domid);
      continue;
    }
    if (i !== undefined) {
      if ((i.crashed || i.shutdown) && !d.shutdown) {
        d.shutdown = true;
        notify = true;
      }
      if (!i.dying) continue;
    }
    releaseDomain(core, d);
    notify = false;
  }
  if (notify) core.fire(undefined, "@releaseDomain", undefined, true);
}
