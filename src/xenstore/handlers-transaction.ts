// Transaction requests (xenstored_transaction.c).
import { NO_GENERATION } from "../../abi/xen/xs_wire.js";
import { onearg, str0 } from "./args.js";
import type { XenstoreCore, XsRequest } from "./core.js";
import { xsError } from "./errors.js";
import { OK } from "./handlers-node.js";
import type { XsConnection } from "./connection.js";
import { XsTransaction } from "./transaction.js";

/** mirrors xenstored_transaction.c:do_transaction_start: ids count from 1 per connection, 0 skipped */
export function doTransactionStart(r: XsRequest): Buffer {
  const { conn } = r;
  if (conn.transaction !== undefined) throw xsError("EBUSY", "nested transaction");
  if (r.core.store.unprivileged(conn) && conn.transactions.size > r.core.quota.transactions) throw xsError("ENOSPC", "transactions quota");
  let id: number;
  do {
    id = conn.nextTransactionId;
    conn.nextTransactionId = (conn.nextTransactionId + 1) >>> 0;
  } while (id === 0 || conn.transactions.has(id));
  conn.transactions.set(id, new XsTransaction(id, ++r.core.store.generation));
  return str0(String(id));
}

/** mirrors xenstored_transaction.c:transaction_fix_domains */
function fixDomains(core: XenstoreCore, t: XsTransaction, chkQuota: boolean, update: boolean): void {
  for (const [domid, delta] of t.changedDomains) {
    const d = core.domains.findOrAllocExisting(domid, core.store.generation);
    if (d === undefined) throw xsError("ENOMEM", `domain ${domid} does not exist`);
    const cnt = Math.max(0, d.nbentry + delta);
    if (update) d.nbentry = cnt;
    else if (chkQuota && core.domains.unprivileged(domid) && cnt >= core.quota.nodes) throw xsError("ENOSPC", "nodes quota");
  }
}

/**
 * mirrors xenstored_transaction.c:finalize_transaction: EAGAIN when a node the transaction read has
 * another generation now (or appeared, or went); else its changes land, each with a new generation,
 * and the watch events it queued fire.
 */
function finalize(core: XenstoreCore, conn: XsConnection, t: XsTransaction): void {
  const { store } = core;
  for (const [name, a] of t.accessed) {
    if (a.checkGen && a.generation !== (store.db.get(name)?.generation ?? NO_GENERATION)) throw xsError("EAGAIN", `${name} changed`);
  }
  for (const [name, a] of t.accessed) {
    if (!a.modified) continue;
    if (a.ta !== undefined) {
      a.ta.generation = ++store.generation;
      store.db.set(name, a.ta);
    } else if (a.generation !== NO_GENERATION) store.db.delete(name);
    if (a.fireWatch) core.fire(conn, name, undefined, a.watchExact, a.perms);
  }
}

/** mirrors xenstored_transaction.c:do_transaction_end: "T" commits, "F" aborts; the transaction ends either way */
export function doTransactionEnd(r: XsRequest): Buffer {
  const arg = onearg(r.payload);
  if (arg !== "T" && arg !== "F") throw xsError("EINVAL", "expected T or F");
  const t = r.conn.transaction;
  if (t === undefined) throw xsError("ENOENT", "no transaction");
  r.conn.transactions.delete(t.id);
  r.conn.transaction = undefined;
  if (arg === "T") {
    if (t.fail) throw xsError("ENOMEM", "transaction failed");
    fixDomains(r.core, t, t.nodeCreated && r.core.store.unprivileged(r.conn), false);
    finalize(r.core, r.conn, t);
    fixDomains(r.core, t, false, true);
  }
  return OK;
}
