// The tree's rules (xenstored_core.c): path validity and canonical form, permission checks with their
// errno hiding, node creation with inherited permissions, and recursive removal.
import { XS_PERM_NONE } from "../../abi/xen/xs_wire.js";
import type { XsConnection } from "./connection.js";
import { domainPath } from "./domain.js";
import { xsError } from "./errors.js";
import { addChild, basename, newNode, parentOf, removeChild, type XsNode } from "./node.js";
import { permForConn, type XsPerm } from "./perms.js";
import type { XsStore } from "./store.js";

const VALID = /^[A-Za-z0-9\-/_@]*$/;
const LOCAL = /^\/local\/domain\/([0-9]{1,5})\//;

/** mirrors xenstored_core.c:is_valid_nodename */
export function isValidNodename(name: string, pathMax: number): boolean {
  if (!name.startsWith("/")) return false;
  if (name.endsWith("/") && name !== "/") return false;
  if (name.includes("//")) return false;
  const m = LOCAL.exec(name);
  const localOff = m !== null ? m[0].length : 0;
  if (name.length > localOff + pathMax) return false;
  return VALID.test(name);
}

/** mirrors xenstored_domain.c:get_implicit_path */
export const implicitPath = (conn: XsConnection): string => (conn.domain === undefined ? "/local/domain/0" : domainPath(conn.domain.domid));

/** mirrors xenstored_core.c:canonicalize */
export function canonicalize(conn: XsConnection, name: string): string {
  if (name.startsWith("/") || name.startsWith("@")) return name;
  return `${implicitPath(conn)}/${name}`;
}

/** mirrors xenstored_core.c:perm_for_conn with domain_adjust_node_perms's ignored entries */
export function permFor(store: XsStore, conn: XsConnection, perms: readonly XsPerm[], generation?: number): number {
  const who = { id: conn.id, privileged: !store.unprivileged(conn), target: conn.domain?.target };
  if (generation === undefined) return permForConn(who, perms);
  return permForConn(who, perms, (p) => !store.domains.olderThan(p.id, generation));
}

export const nodePerm = (store: XsStore, conn: XsConnection, node: XsNode): number => permFor(store, conn, node.perms, node.generation);

/** mirrors xenstored_core.c:ask_parents: the caller's rights on the nearest existing ancestor */
function askParents(store: XsStore, conn: XsConnection, name: string): number {
  let n: XsNode | undefined;
  do {
    name = parentOf(name);
    n = store.read(conn, name);
  } while (n === undefined && name !== "/");
  return n === undefined ? XS_PERM_NONE : nodePerm(store, conn, n);
}

/**
 * mirrors xenstored_core.c:get_node (with get_node_canonicalized): EINVAL for a bad name, EACCES without
 * `perm`; a missing node is ENOENT only when the parent would let the caller know (errno_from_parents).
 */
export function getNode(store: XsStore, conn: XsConnection, name: string, perm: number): XsNode {
  const n = findNode(store, conn, name, perm);
  if (n === undefined) throw xsError("ENOENT", name);
  return n;
}

/** getNode, with ENOENT returned as undefined (the other errors thrown) */
export function findNode(store: XsStore, conn: XsConnection, name: string, perm: number): XsNode | undefined {
  if (!isValidNodename(name, store.quota.pathMax)) throw xsError("EINVAL", `invalid path '${name}'`);
  const n = store.read(conn, name);
  if (n !== undefined && (nodePerm(store, conn, n) & perm) === perm) return n;
  const known = (askParents(store, conn, name) & perm) !== 0;
  if (n === undefined && known) return undefined;
  throw xsError("EACCES", name);
}

/**
 * mirrors xenstored_core.c:construct_node + create_node: the missing ancestors and the node, each with
 * its parent's permissions (an unprivileged creator owns them), written bottom-up, with the nodes and
 * node-size quotas checked before anything changes. Returns the new nodes, the requested one first.
 */
export function createNode(store: XsStore, conn: XsConnection, name: string, data: Buffer): XsNode[] {
  const names: string[] = [];
  let parent: XsNode | undefined;
  for (let p = name; parent === undefined;) {
    names.push(p);
    p = parentOf(p);
    parent = store.read(conn, p);
    if (parent === undefined && p === "/") throw xsError("EIO", "no root node");
  }
  const unpriv = store.unprivileged(conn);
  // quota checks first, in create_node's order (each new node, bottom-up)
  let count = store.entries(conn);
  for (let i = 0; i < names.length; i++) {
    if (unpriv && count >= store.quota.nodes) throw xsError("ENOSPC", "nodes quota");
    if (conn.transaction === undefined) count++;
    const childlen = i === 0 ? 0 : basename(names[i - 1]!).length + 1;
    store.checkSize(conn, parent.perms.length, i === 0 ? data.length : 0, childlen);
  }
  store.checkSize(conn, parent.perms.length, parent.data.length, parent.childlen + basename(names[names.length - 1]!).length + 1);
  if (conn.transaction !== undefined) conn.transaction.nodeCreated = true;
  const created: XsNode[] = [];
  let up = parent;
  for (let i = names.length - 1; i >= 0; i--) {
    const n = newNode(names[i]!, up.perms.map((p) => ({ ...p })), i === 0 ? data : undefined);
    if (unpriv) n.perms[0]!.id = conn.id;
    addChild(up, basename(n.name));
    created.unshift(n);
    up = n;
  }
  // written bottom-up as create_node does: the new nodes, then the existing parent
  for (const n of created) {
    store.write(conn, n, true);
    store.entryInc(conn, n);
  }
  store.write(conn, parent, true);
  return created;
}

export type FireFn = (conn: XsConnection | undefined, name: string, node: XsNode | undefined, exact: boolean, perms?: XsPerm[]) => void;

/**
 * mirrors xenstored_core.c:rm_node (walk_node_tree with delnode_sub): every node below, deepest first,
 * is deleted and fires its watches (exactly, except the removed node itself), then the parent forgets it.
 */
export function rmNode(store: XsStore, conn: XsConnection | undefined, name: string, fire: FireFn | undefined): void {
  const parent = store.read(conn, parentOf(name));
  if (parent === undefined) throw xsError("EINVAL", `no parent for ${name}`);
  const root = store.read(conn, name);
  if (root !== undefined) {
    // iterative post-order walk
    const stack: { node: XsNode; next: number }[] = [{ node: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.node.children.length) {
        const base = top.node.children[top.next++]!;
        const child = store.read(conn, top.node.name === "/" ? `/${base}` : `${top.node.name}/${base}`);
        if (child !== undefined) stack.push({ node: child, next: 0 });
        continue;
      }
      stack.pop();
      store.delete(conn, top.node);
      if (fire !== undefined) fire(conn, top.node.name, top.node, top.node.name !== name);
      store.entryDec(conn, top.node);
    }
  }
  if (!removeChild(parent, basename(name))) throw xsError("EIO", `${name} missing from its parent's children`);
  store.write(conn, parent, true);
}
