// Transactions (xenstored_transaction.c): the nodes a transaction touched, with the generation each had
// when first read, and its own copies of the nodes it changed.
import type { XsNode } from "./node.js";
import type { XsPerm } from "./perms.js";

/** struct accessed_node */
export interface XsAccessed {
  /** generation at first read (NO_GENERATION when absent), checked at commit when checkGen */
  generation: number;
  checkGen: boolean;
  modified: boolean;
  /** the transaction's copy; undefined when the node does not exist in the transaction */
  ta: XsNode | undefined;
  /** permissions at first access, for the watch events fired at commit */
  perms: XsPerm[] | undefined;
  fireWatch: boolean;
  watchExact: boolean;
}

/** struct transaction */
export class XsTransaction {
  readonly accessed = new Map<string, XsAccessed>();
  /** nodes per owner added (+) or removed (-) inside the transaction (struct changed_domain) */
  readonly changedDomains = new Map<number, number>();
  nodeCreated = false;
  fail = false;
  constructor(readonly id: number, readonly generation: number) {}
}
