// Node requests (xenstored_core.c): READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART, GET_PERMS, SET_PERMS.
import {
  XENSTORE_PAYLOAD_MAX, XS_PERM_IGNORE, XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE,
} from "../../abi/xen/xs_wire.js";
import { atoi, countStrings, getStrings, onearg } from "./args.js";
import type { XsRequest } from "./core.js";
import { xsError } from "./errors.js";
import { childrenBuffer, EMPTY, parentOf } from "./node.js";
import { formatPerm, parsePerm, type XsPerm } from "./perms.js";
import { canonicalize, createNode, findNode, getNode, permFor, rmNode } from "./tree.js";
import { specialPerms } from "./watch.js";

export const OK = Buffer.from("OK\0", "latin1");

function pathArg(r: XsRequest): string {
  const a = onearg(r.payload);
  if (a === undefined) throw xsError("EINVAL", "expected one NUL-terminated argument");
  return canonicalize(r.conn, a);
}

/** mirrors xenstored_core.c:do_read */
export function doRead(r: XsRequest): Buffer {
  return getNode(r.core.store, r.conn, pathArg(r), XS_PERM_READ).data;
}

/** mirrors xenstored_core.c:do_write: path, then the value (every byte after the first NUL) */
export function doWrite(r: XsRequest): Buffer {
  const { store } = r.core;
  const nul = r.payload.indexOf(0);
  if (nul < 0) throw xsError("EINVAL", "no path");
  const name = canonicalize(r.conn, r.payload.toString("latin1", 0, nul));
  const data = Buffer.from(r.payload.subarray(nul + 1));
  let node = findNode(store, r.conn, name, XS_PERM_WRITE);
  if (node === undefined) node = createNode(store, r.conn, name, data)[0]!;
  else {
    store.checkSize(r.conn, node.perms.length, data.length, node.childlen);
    node.data = data;
    store.write(r.conn, node, true);
  }
  r.core.fire(r.conn, name, node, false);
  return OK;
}

/** mirrors xenstored_core.c:do_mkdir: an existing node is fine */
export function doMkdir(r: XsRequest): Buffer {
  const name = pathArg(r);
  if (findNode(r.core.store, r.conn, name, XS_PERM_WRITE) === undefined) {
    const node = createNode(r.core.store, r.conn, name, EMPTY)[0]!;
    r.core.fire(r.conn, name, node, false);
  }
  return OK;
}

/** mirrors xenstored_core.c:do_rm: a missing node is fine when its parent exists */
export function doRm(r: XsRequest): Buffer {
  const { store } = r.core;
  const name = pathArg(r);
  if (findNode(store, r.conn, name, XS_PERM_WRITE) === undefined) {
    if (store.read(r.conn, parentOf(name)) !== undefined) return OK;
    throw xsError("ENOENT", name);
  }
  if (name === "/") throw xsError("EINVAL", "cannot remove /");
  rmNode(store, r.conn, name, r.core.fireFn);
  return OK;
}

/** mirrors xenstored_core.c:send_directory (more than XENSTORE_PAYLOAD_MAX bytes is E2BIG) */
export function doDirectory(r: XsRequest): Buffer {
  return childrenBuffer(getNode(r.core.store, r.conn, pathArg(r), XS_PERM_READ));
}

/**
 * mirrors xenstored_core.c:send_directory_part: path, byte offset into the child list; the reply is the
 * node's generation, then as many whole children as fit, then an empty string when the list is done.
 */
export function doDirectoryPart(r: XsRequest): Buffer {
  if (countStrings(r.payload) !== 2) throw xsError("EINVAL", "expected path and offset");
  const [path, offArg] = getStrings(r.payload, 2) as [string, string];
  const node = getNode(r.core.store, r.conn, canonicalize(r.conn, path), XS_PERM_READ);
  const off = atoi(offArg) >>> 0;
  const gen = Buffer.from(`${node.generation}\0`, "latin1");
  const all = childrenBuffer(node);
  if (off >= node.childlen) return Buffer.concat([gen, Buffer.from([0])]);
  const maxlen = XENSTORE_PAYLOAD_MAX - gen.length - 1;
  let len = 0;
  for (;;) {
    const end = all.indexOf(0, off + len);
    const clen = end - (off + len);
    if (len + clen >= maxlen) break;
    len += clen + 1;
    if (off + len === node.childlen) break;
  }
  const done = off + len === node.childlen;
  return Buffer.concat([gen, all.subarray(off, off + len), done ? Buffer.from([0]) : EMPTY]);
}

/** mirrors xenstored_core.c:do_get_perms */
export function doGetPerms(r: XsRequest): Buffer {
  const node = getNode(r.core.store, r.conn, pathArg(r), XS_PERM_READ);
  return Buffer.from(node.perms.map((p) => `${formatPerm(p)}\0`).join(""), "latin1");
}

/** mirrors xenstored_core.c:do_set_perms: path, then one permission per string, the owner first */
export function doSetPerms(r: XsRequest): Buffer {
  const { store, domains, quota } = r.core;
  const num = countStrings(r.payload) - 1;
  if (num < 1) throw xsError("EINVAL", "no permissions");
  if (store.unprivileged(r.conn) && num > quota.permissions) throw xsError("ENOSPC", "permissions quota");
  const strings = getStrings(r.payload);
  const perms: XsPerm[] = strings.slice(1, 1 + num).map(parsePerm);
  // mirrors xenstored_domain.c:domain_alloc_permrefs: entries for domains the host lacks are ignored
  for (const p of perms) {
    if (domains.find(p.id) === undefined) {
      if (!domains.exists(p.id)) p.perms |= XS_PERM_IGNORE;
      else domains.alloc(p.id, store.generation);
    }
  }
  if ((perms[0]!.perms & XS_PERM_IGNORE) !== 0) throw xsError("ENOENT", `owner domain ${perms[0]!.id} does not exist`);
  const path = strings[0]!;
  if (path.startsWith("@")) {
    // mirrors xenstored_domain.c:set_perms_special
    const sp = specialPerms(domains, path);
    if (sp === undefined) throw xsError("EINVAL", `no special node ${path}`);
    if ((permFor(store, r.conn, sp) & (XS_PERM_WRITE | XS_PERM_OWNER)) !== (XS_PERM_WRITE | XS_PERM_OWNER)) throw xsError("EACCES", path);
    sp.splice(0, sp.length, ...perms);
    return OK;
  }
  const name = canonicalize(r.conn, path);
  const node = getNode(store, r.conn, name, XS_PERM_WRITE | XS_PERM_OWNER);
  if (store.unprivileged(r.conn) && perms[0]!.id !== node.perms[0]!.id) throw xsError("EPERM", "only the privileged change an owner");
  store.checkSize(r.conn, perms.length, node.data.length, node.childlen);
  const old = node.perms;
  store.entryDec(r.conn, node);
  node.perms = perms;
  store.entryInc(r.conn, node);
  store.write(r.conn, node, true);
  r.core.fire(r.conn, name, node, false, old);
  return OK;
}
