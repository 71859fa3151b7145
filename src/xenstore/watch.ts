// Watches (xenstored_watch.c): registration, and which watches an event reaches.
import { XENSTORE_REL_PATH_MAX, XS_PERM_READ } from "../../abi/xen/xs_wire.js";
import type { XsConnection, XsWatch } from "./connection.js";
import type { XsDomains } from "./domain.js";
import { xsError } from "./errors.js";
import { parentOf, type XsNode } from "./node.js";
import type { XsPerm } from "./perms.js";
import type { XsStore } from "./store.js";
import { canonicalize, implicitPath, isValidNodename, nodePerm, permFor } from "./tree.js";

/** mirrors xenstored_watch.c:is_child: child is parent or below it ("/" has everything below it) */
export function isChild(child: string, parent: string): boolean {
  if (parent === "/") return true;
  if (!child.startsWith(parent)) return false;
  return child.length === parent.length || child.charCodeAt(parent.length) === 0x2f;
}

/** mirrors xenstored_watch.c:get_watch_path: a relative watch's events are relative again */
export function watchPath(w: XsWatch, name: string): string {
  if (w.relative === undefined) return name;
  let p = name.slice(w.relative.length);
  if (p.startsWith("/")) p = p.slice(1);
  return p;
}

/** mirrors xenstored_domain.c:get_perms_special */
export function specialPerms(domains: XsDomains, name: string): XsPerm[] | undefined {
  if (name === "@releaseDomain") return domains.releasePerms;
  if (name === "@introduceDomain") return domains.introducePerms;
  return undefined;
}

/** mirrors xenstored_watch.c:watch_permitted */
function watchPermitted(store: XsStore, conn: XsConnection, name: string, node: XsNode | undefined, perms: XsPerm[] | undefined): boolean {
  if (perms !== undefined && (permFor(store, conn, perms) & XS_PERM_READ) !== 0) return true;
  const n = node ?? store.read(undefined, name);
  if (n === undefined) return false;
  if ((nodePerm(store, conn, n) & XS_PERM_READ) !== 0) return true;
  const parent = store.read(undefined, parentOf(n.name));
  return parent !== undefined && (nodePerm(store, conn, parent) & XS_PERM_READ) !== 0;
}

/**
 * mirrors xenstored_watch.c:fire_watches: inside a transaction the event is queued on the node
 * (xenstored_transaction.c:queue_watches, a non-exact event replacing an exact one); otherwise every
 * connection allowed to see the node gets one event per matching watch.
 */
export function fireWatches(store: XsStore, connections: Iterable<XsConnection>, conn: XsConnection | undefined, name: string,
  node: XsNode | undefined, exact: boolean, perms?: XsPerm[]): void {
  const t = conn?.transaction;
  if (t !== undefined) {
    const a = t.accessed.get(name);
    if (a === undefined) t.fail = true;
    else if (!a.fireWatch) {
      a.fireWatch = true;
      a.watchExact = exact;
    } else if (!exact) a.watchExact = false;
    return;
  }
  const special = name.startsWith("@");
  for (const c of connections) {
    if (c.watches.length === 0) continue;
    if (special) {
      const sp = specialPerms(store.domains, name);
      if (sp === undefined || (permFor(store, c, sp) & XS_PERM_READ) === 0) continue;
    } else if (!watchPermitted(store, c, name, node, perms)) continue;
    for (const w of c.watches) {
      if (exact ? name === w.node : isChild(name, w.node)) c.sink.event(watchPath(w, name), w.token);
    }
  }
}

/** mirrors xenstored_watch.c:check_watch_path: the canonical path, and whether it was relative */
export function checkWatchPath(store: XsStore, conn: XsConnection, path: string): { node: string; relative: string | undefined } {
  if (path.startsWith("@")) {
    if (path.length > XENSTORE_REL_PATH_MAX) throw xsError("EINVAL", "watch path too long");
    return { node: path, relative: undefined };
  }
  const relative = !path.startsWith("/");
  const node = canonicalize(conn, path);
  if (!isValidNodename(node, store.quota.pathMax)) throw xsError("EINVAL", `invalid watch path '${path}'`);
  return { node, relative: relative ? implicitPath(conn) : undefined };
}

/** mirrors xenstored_watch.c:conn_delete_all_watches */
export function deleteAllWatches(conn: XsConnection): void {
  if (conn.domain !== undefined) conn.domain.nbwatch = Math.max(0, conn.domain.nbwatch - conn.watches.length);
  conn.watches.length = 0;
}
