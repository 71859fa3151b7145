// Watch requests (xenstored_watch.c, xenstored_domain.c:do_reset_watches).
import { getStrings } from "./args.js";
import type { XsRequest } from "./core.js";
import { xsError } from "./errors.js";
import { OK } from "./handlers-node.js";
import { canonicalize } from "./tree.js";
import { checkWatchPath, deleteAllWatches, watchPath } from "./watch.js";

function twoArgs(r: XsRequest): [string, string] {
  const v = getStrings(r.payload);
  if (v.length !== 2) throw xsError("EINVAL", "expected path and token");
  return v as [string, string];
}

/** mirrors xenstored_watch.c:do_watch: acknowledged, then one event straight away */
export function doWatch(r: XsRequest): Buffer {
  const { store, quota } = r.core;
  const [path, token] = twoArgs(r);
  const { node, relative } = checkWatchPath(store, r.conn, path);
  if (r.conn.watches.some((w) => w.node === node && w.token === token)) throw xsError("EEXIST", "watch exists");
  if (store.unprivileged(r.conn) && r.conn.domain!.nbwatch > quota.watches) throw xsError("E2BIG", "watches quota");
  const w = { node, token, relative };
  r.conn.watches.push(w);
  if (r.conn.domain !== undefined) r.conn.domain.nbwatch++;
  r.after = () => { r.conn.sink.event(watchPath(w, node), token); };
  return OK;
}

/** mirrors xenstored_watch.c:do_unwatch */
export function doUnwatch(r: XsRequest): Buffer {
  const [path, token] = twoArgs(r);
  const node = canonicalize(r.conn, path);
  const i = r.conn.watches.findIndex((w) => w.node === node && w.token === token);
  if (i < 0) throw xsError("ENOENT", "no such watch");
  r.conn.watches.splice(i, 1);
  if (r.conn.domain !== undefined && r.conn.domain.nbwatch > 0) r.conn.domain.nbwatch--;
  return OK;
}

/** mirrors xenstored_domain.c:do_reset_watches: the watches and the transactions go */
export function doResetWatches(r: XsRequest): Buffer {
  deleteAllWatches(r.conn);
  r.conn.transactions.clear();
  return OK;
}
