// A client connection as the core sees it (xenstored_core.h struct connection): its caller domain, its
// watches and transactions, and where its replies and events go.
import type { XsDomain } from "./domain.js";
import type { XsTransaction } from "./transaction.js";

export interface XsWatch {
  /** canonical path (or @name) */
  readonly node: string;
  readonly token: string;
  /** the implicit path a relative watch was given under, stripped again from its events */
  readonly relative: string | undefined;
}

export interface XsSink {
  reply(type: number, reqId: number, txId: number, payload: Buffer): void;
  event(path: string, token: string): void;
  /** the core drops the connection (RELEASE of its domain) */
  close(): void;
}

export class XsConnection {
  readonly watches: XsWatch[] = [];
  readonly transactions = new Map<number, XsTransaction>();
  nextTransactionId = 0;
  /** the transaction of the request being processed */
  transaction: XsTransaction | undefined = undefined;
  closed = false;

  /**
   * `domain` is undefined for a dom0 socket connection (xenstored's socket clients), else the caller's
   * domain, whose rights it has, as a ring connection would.
   */
  constructor(readonly serial: number, readonly id: number, readonly domain: XsDomain | undefined, readonly sink: XsSink) {}
}
