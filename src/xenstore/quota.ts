// Quotas with xenstored 4.17's defaults (xenstored_core.c globals; xenstored_control.c names them).
import { XENSTORE_REL_PATH_MAX } from "../../abi/xen/xs_wire.js";

export interface XsQuota {
  /** nodes owned per unprivileged domain ("nodes") */
  nodes: number;
  /** watches per unprivileged domain ("watches") */
  watches: number;
  /** transactions open per unprivileged connection ("transactions"; xenstored allows one more) */
  transactions: number;
  /** nodes accessed per transaction of an unprivileged connection ("transaction-nodes") */
  transactionNodes: number;
  /** the stored size of one node written by an unprivileged domain ("node-size") */
  nodeSize: number;
  /** path length beyond /local/domain/<d>/ ("path-max") */
  pathMax: number;
  /** permissions per node set by an unprivileged domain ("permissions") */
  permissions: number;
  /** shown by CONTROL quota, not enforced: a socket server answers each request before reading the next */
  outstanding: number;
  /** shown by CONTROL quota, not enforced (per-domain memory accounting is not kept) */
  memory: number;
  /** shown by CONTROL quota-soft, not enforced */
  memorySoft: number;
}

export const DEFAULT_QUOTA: Readonly<XsQuota> = {
  nodes: 1000,
  watches: 128,
  transactions: 10,
  transactionNodes: 1024,
  nodeSize: 2048,
  pathMax: XENSTORE_REL_PATH_MAX,
  permissions: 5,
  outstanding: 20,
  memory: 2 * 1024 * 1024 + 512 * 1024,
  memorySoft: 2 * 1024 * 1024,
};

/** xenstored_control.c hard_quotas[]: the CONTROL "quota" names, in its order, with its descriptions. */
export const QUOTA_NAMES: readonly (readonly [string, keyof XsQuota, string])[] = [
  ["nodes", "nodes", "Nodes per domain"],
  ["watches", "watches", "Watches per domain"],
  ["transactions", "transactions", "Transactions per domain"],
  ["outstanding", "outstanding", "Outstanding requests per domain"],
  ["transaction-nodes", "transactionNodes", "Max. number of accessed nodes per transaction"],
  ["memory", "memory", "Total Xenstore memory per domain (error level)"],
  ["node-size", "nodeSize", "Max. size of a node"],
  ["path-max", "pathMax", "Max. length of a node path"],
  ["permissions", "permissions", "Max. number of permissions per node"],
];

export const SOFT_QUOTA_NAMES: readonly (readonly [string, keyof XsQuota, string])[] = [
  ["memory", "memorySoft", "Total Xenstore memory per domain (warning level)"],
];
