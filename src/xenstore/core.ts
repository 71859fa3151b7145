// The request dispatcher (xenstored_core.c:process_message) and the state it serves: the tree, the
// domains, the connections. Transport-free: a server hands it whole messages.
import { DOMID_SELF } from "../../abi/xen/xen.js";
import {
  XENSTORE_PAYLOAD_MAX, XS_ERROR, XS_PERM_NONE, XS_TYPE_COUNT, XSD_ERRORS,
} from "../../abi/xen/xs_wire.js";
import { str0 } from "./args.js";
import { XsConnection, type XsSink } from "./connection.js";
import { XsDomains } from "./domain.js";
import { XsError } from "./errors.js";
import { HANDLERS, XS_FLAG_NOTID, XS_FLAG_PRIV } from "./handlers.js";
import { addChild, newNode, type XsNode } from "./node.js";
import type { XsPerm } from "./perms.js";
import { DEFAULT_QUOTA, type XsQuota } from "./quota.js";
import { XsStore } from "./store.js";
import type { XsTransaction } from "./transaction.js";
import { deleteAllWatches, fireWatches } from "./watch.js";

export interface XenstoreOptions {
  /** whether the host has a domain (xc_domain_getinfo); default: every domain exists */
  domainExists?: (domid: number) => boolean;
  /** xenstored --priv-domid: a second privileged domain (default 0, i.e. none) */
  privDomid?: number;
  quota?: Partial<XsQuota>;
}

export interface XsRequest {
  readonly core: XenstoreCore;
  readonly conn: XsConnection;
  readonly type: number;
  readonly payload: Buffer;
  /** runs after the reply is queued (the WATCH registration event) */
  after?: () => void;
}

const ERROR_PAYLOADS = new Map(XSD_ERRORS.map((e) => [e, str0(e)]));

export class XenstoreCore {
  readonly quota: XsQuota;
  readonly domains: XsDomains;
  readonly store: XsStore;
  readonly connections = new Set<XsConnection>();
  private serial = 0;
  /** messages answered, by outcome */
  readonly stats = { requests: 0, errors: 0 };

  constructor(opts: XenstoreOptions = {}) {
    this.quota = { ...DEFAULT_QUOTA, ...opts.quota };
    this.domains = new XsDomains(opts.domainExists ?? (() => true), opts.privDomid ?? 0);
    this.store = new XsStore(this.domains, this.quota);
    // xenstored_domain.c:dom0_init introduces the master domain, which sets up the tree
    const dom0 = this.domains.alloc(0, 0);
    dom0.introduced = true;
    this.setupStructure();
  }

  /** mirrors xenstored_core.c:setup_structure: /, /tool and /tool/xenstored, owned by dom0, no access */
  private setupStructure(): void {
    const perms = (): XsPerm[] => [{ id: 0, perms: XS_PERM_NONE }];
    const root = newNode("/", perms());
    const tool = newNode("/tool", perms());
    const xsd = newNode("/tool/xenstored", perms());
    addChild(root, "tool");
    addChild(tool, "xenstored");
    for (const n of [root, tool, xsd]) this.store.write(undefined, n, true);
    this.domains.find(0)!.nbentry += 3;
  }

  /**
   * A new client. `domid` 0 is a dom0 socket client (xenstored's socket connections: privileged, home
   * /local/domain/0); another domid makes it a connection of that domain, with its rights and quotas.
   */
  connect(domid: number, sink: XsSink): XsConnection {
    const domain = domid === 0 ? undefined : this.domains.findOrAlloc(domid, this.store.generation);
    const conn = new XsConnection(++this.serial, domid, domain, sink);
    this.connections.add(conn);
    return conn;
  }

  /** mirrors xenstored_core.c:destroy_conn: its watches and transactions go with it */
  disconnect(conn: XsConnection): void {
    if (!this.connections.delete(conn)) return;
    conn.closed = true;
    deleteAllWatches(conn);
    conn.transactions.clear();
  }

  /** fire_watches for a change made by `conn` (undefined: by xenstored itself) */
  fire(conn: XsConnection | undefined, name: string, node: XsNode | undefined, exact: boolean, perms?: XsPerm[]): void {
    fireWatches(this.store, this.connections, conn, name, node, exact, perms);
  }

  readonly fireFn = (conn: XsConnection | undefined, name: string, node: XsNode | undefined, exact: boolean, perms?: XsPerm[]): void => { this.fire(conn, name, node, exact, perms); };

  /** mirrors xenstored_core.c:send_error (an errno xsd_errors[] lacks becomes EINVAL) */
  private sendError(conn: XsConnection, reqId: number, txId: number, code: string): void {
    this.stats.errors++;
    conn.sink.reply(XS_ERROR, reqId, txId, ERROR_PAYLOADS.get(code) ?? ERROR_PAYLOADS.get("EINVAL")!);
  }

  /** mirrors xenstored_core.c:process_message, for one whole message */
  process(conn: XsConnection, type: number, reqId: number, txId: number, payload: Buffer): void {
    this.stats.requests++;
    const h = type < XS_TYPE_COUNT ? HANDLERS[type] : undefined;
    if (h === undefined) { this.sendError(conn, reqId, txId, "ENOSYS"); return; }
    if ((h.flags & XS_FLAG_PRIV) !== 0 && this.store.unprivileged(conn)) { this.sendError(conn, reqId, txId, "EACCES"); return; }
    let trans: XsTransaction | undefined;
    if ((h.flags & XS_FLAG_NOTID) === 0 && txId !== 0) {
      trans = conn.transactions.get(txId);
      if (trans === undefined) { this.sendError(conn, reqId, txId, "ENOENT"); return; }
    }
    const req: XsRequest = { core: this, conn, type, payload };
    conn.transaction = trans;
    let out: Buffer;
    try {
      out = h.fn(req);
    } catch (e) {
      conn.transaction = undefined;
      if (e instanceof XsError) { this.sendError(conn, reqId, txId, e.code); return; }
      this.sendError(conn, reqId, txId, "EIO");
      throw e;
    }
    conn.transaction = undefined;
    // mirrors xenstored_core.c:send_reply
    if (out.length > XENSTORE_PAYLOAD_MAX) { this.sendError(conn, reqId, txId, "E2BIG"); return; }
    conn.sink.reply(type, reqId, txId, out);
    req.after?.();
  }

  /** DOMID_SELF answers "introduced" (xenstored_domain.c:do_is_domain_introduced) */
  isIntroduced(domid: number): boolean {
    return domid === DOMID_SELF || this.domains.introduced(domid) !== undefined;
  }
}
