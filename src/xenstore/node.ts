// A node as xenstored stores it (struct node / xs_tdb_record_hdr): generation, permissions, data, children.
import { XS_PERMISSIONS_SIZE, XS_TDB_RECORD_HDR_SIZE } from "../../abi/xen/xs_wire.js";
import type { XsPerm } from "./perms.js";

export interface XsNode {
  readonly name: string;
  generation: number;
  perms: XsPerm[];
  data: Buffer;
  /** child names in creation order (xenstored's NUL-separated list) */
  children: string[];
  /** bytes of the NUL-separated child list */
  childlen: number;
  /** the NUL-separated child list, built on demand, dropped when the children change */
  childBuf: Buffer | undefined;
}

export const EMPTY = Buffer.alloc(0);

export function newNode(name: string, perms: XsPerm[], data: Buffer = EMPTY): XsNode {
  return { name, generation: 0, perms, data, children: [], childlen: 0, childBuf: undefined };
}

export function cloneNode(n: XsNode): XsNode {
  return {
    name: n.name, generation: n.generation, perms: n.perms.map((p) => ({ ...p })), data: n.data,
    children: n.children.slice(), childlen: n.childlen, childBuf: n.childBuf,
  };
}

/** The record size xenstored checks against the node-size quota (xenstored_core.c:write_node_raw). */
export function recordSize(nperms: number, datalen: number, childlen: number): number {
  return XS_TDB_RECORD_HDR_SIZE + nperms * XS_PERMISSIONS_SIZE + datalen + childlen;
}

export function childrenBuffer(n: XsNode): Buffer {
  if (n.childBuf === undefined) {
    const b = Buffer.allocUnsafe(n.childlen);
    let o = 0;
    for (const c of n.children) {
      o += b.write(c, o, "latin1");
      b[o++] = 0;
    }
    n.childBuf = b;
  }
  return n.childBuf;
}

export function addChild(n: XsNode, base: string): void {
  n.children.push(base);
  n.childlen += base.length + 1;
  n.childBuf = undefined;
}

/** mirrors xenstored_core.c:delete_child: false when the child is not listed */
export function removeChild(n: XsNode, base: string): boolean {
  const i = n.children.lastIndexOf(base);
  if (i < 0) return false;
  n.children.splice(i, 1);
  n.childlen -= base.length + 1;
  n.childBuf = undefined;
  return true;
}

/** mirrors xenstored_core.c:get_parent */
export function parentOf(name: string): string {
  const i = name.lastIndexOf("/");
  return i <= 0 ? "/" : name.slice(0, i);
}

export function basename(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

export function childPath(parent: string, base: string): string {
  return parent === "/" ? `/${base}` : `${parent}/${base}`;
}
