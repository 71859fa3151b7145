// The node database and the transaction layer over it: xenstored's TDB plus access_node
// (xenstored_core.c:read_node / write_node, xenstored_transaction.c:access_node).
import { NO_GENERATION } from "../../abi/xen/xs_wire.js";
import type { XsConnection } from "./connection.js";
import type { XsDomains } from "./domain.js";
import { xsError } from "./errors.js";
import { cloneNode, recordSize, type XsNode } from "./node.js";
import type { XsQuota } from "./quota.js";
import type { XsAccessed, XsTransaction } from "./transaction.js";

export class XsStore {
  readonly db = new Map<string, XsNode>();
  /** the global generation count (xenstored_transaction.c:generation) */
  generation = 0;

  constructor(readonly domains: XsDomains, readonly quota: XsQuota) {}

  /** mirrors xenstored_domain.c:domain_is_unprivileged (dom0 socket connections have no domain) */
  unprivileged(conn: XsConnection | undefined): boolean {
    return conn?.domain !== undefined && this.domains.unprivileged(conn.domain.domid);
  }

  /** mirrors xenstored_transaction.c:access_node's bookkeeping of a first access */
  private introduce(conn: XsConnection, t: XsTransaction, name: string, node: XsNode | undefined, read: boolean): XsAccessed {
    if (t.accessed.size >= this.quota.transactionNodes && this.unprivileged(conn)) {
      t.fail = true;
      throw xsError("ENOSPC", "transaction-nodes quota");
    }
    const a: XsAccessed = {
      generation: read ? (node?.generation ?? NO_GENERATION) : 0,
      checkGen: read,
      modified: false,
      ta: read && node !== undefined ? cloneNode(node) : undefined,
      perms: node !== undefined ? node.perms.map((p) => ({ ...p })) : undefined,
      fireWatch: false,
      watchExact: false,
    };
    t.accessed.set(name, a);
    return a;
  }

  /** mirrors xenstored_core.c:read_node: the transaction's view when there is one; undefined is ENOENT */
  read(conn: XsConnection | undefined, name: string): XsNode | undefined {
    const t = conn?.transaction;
    if (t === undefined) return this.db.get(name);
    const a = t.accessed.get(name);
    if (a !== undefined) return a.ta;
    return this.introduce(conn!, t, name, this.db.get(name), true).ta;
  }

  /** mirrors xenstored_core.c:write_node_raw's node-size quota (write_node then fails the transaction) */
  checkSize(conn: XsConnection | undefined, nperms: number, datalen: number, childlen: number): void {
    if (this.unprivileged(conn) && recordSize(nperms, datalen, childlen) >= this.quota.nodeSize) {
      if (conn?.transaction !== undefined) conn.transaction.fail = true;
      throw xsError("ENOSPC", "node-size quota");
    }
  }

  /** mirrors xenstored_core.c:write_node; callers check sizes before they change a node in place */
  write(conn: XsConnection | undefined, node: XsNode, noQuotaCheck = false): void {
    if (!noQuotaCheck) this.checkSize(conn, node.perms.length, node.data.length, node.childlen);
    node.generation = ++this.generation;
    const t = conn?.transaction;
    if (t === undefined) {
      this.db.set(node.name, node);
      return;
    }
    const a = t.accessed.get(node.name) ?? this.introduce(conn!, t, node.name, node, false);
    a.modified = true;
    a.ta = node;
  }

  /** mirrors xenstored_core.c:delnode_sub's access_node(NODE_ACCESS_DELETE) and do_tdb_delete */
  delete(conn: XsConnection | undefined, node: XsNode): void {
    node.generation = ++this.generation;
    const t = conn?.transaction;
    if (t === undefined) {
      this.db.delete(node.name);
      return;
    }
    const a = t.accessed.get(node.name) ?? this.introduce(conn!, t, node.name, undefined, false);
    a.modified = true;
    a.ta = undefined;
  }

  /** mirrors xenstored_domain.c:domain_entry_inc */
  entryInc(conn: XsConnection | undefined, node: XsNode): void {
    const owner = node.perms[0]!.id;
    const t = conn?.transaction;
    if (t !== undefined) t.changedDomains.set(owner, (t.changedDomains.get(owner) ?? 0) + 1);
    else {
      const d = this.domains.findOrAllocExisting(owner, this.generation);
      if (d === undefined) throw xsError("ENOMEM", `domain ${owner} does not exist`);
      d.nbentry++;
    }
  }

  /** mirrors xenstored_domain.c:domain_entry_dec */
  entryDec(conn: XsConnection | undefined, node: XsNode): void {
    const owner = node.perms[0]!.id;
    const t = conn?.transaction;
    if (t !== undefined) t.changedDomains.set(owner, (t.changedDomains.get(owner) ?? 0) - 1);
    else {
      const d = this.domains.find(owner);
      if (d !== undefined && d.nbentry > 0) d.nbentry--;
    }
  }

  /** mirrors xenstored_domain.c:domain_entry: the caller's node count, 0 for the privileged */
  entries(conn: XsConnection | undefined): number {
    return this.unprivileged(conn) ? conn!.domain!.nbentry : 0;
  }
}
