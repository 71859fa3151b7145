// One handler per message type (xenstored_core.c:wire_funcs).
import {
  XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED, XS_MKDIR, XS_READ, XS_RELEASE, XS_RESET_WATCHES, XS_RESUME, XS_RM, XS_SET_PERMS,
  XS_SET_TARGET, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH, XS_WRITE,
} from "../../abi/xen/xs_wire.js";
import type { XsRequest } from "./core.js";
import { doControl } from "./handlers-control.js";
import {
  doGetDomainPath, doIntroduce, doIsDomainIntroduced, doRelease, doResume, doSetTarget,
} from "./handlers-domain.js";
import {
  doDirectory, doDirectoryPart, doGetPerms, doMkdir, doRead, doRm, doSetPerms, doWrite,
} from "./handlers-node.js";
import { doTransactionEnd, doTransactionStart } from "./handlers-transaction.js";
import { doResetWatches, doUnwatch, doWatch } from "./handlers-watch.js";

/** the transaction id is ignored */
export const XS_FLAG_NOTID = 1;
/** privileged callers only (EACCES otherwise) */
export const XS_FLAG_PRIV = 2;

export interface XsHandler {
  readonly fn: (r: XsRequest) => Buffer;
  readonly flags: number;
}

const h = (fn: (r: XsRequest) => Buffer, flags = 0): XsHandler => ({ fn, flags });

export const HANDLERS: readonly (XsHandler | undefined)[] = (() => {
  const t: (XsHandler | undefined)[] = [];
  t[XS_CONTROL] = h(doControl, XS_FLAG_PRIV);
  t[XS_DIRECTORY] = h(doDirectory);
  t[XS_READ] = h(doRead);
  t[XS_GET_PERMS] = h(doGetPerms);
  t[XS_WATCH] = h(doWatch, XS_FLAG_NOTID);
  t[XS_UNWATCH] = h(doUnwatch, XS_FLAG_NOTID);
  t[XS_TRANSACTION_START] = h(doTransactionStart);
  t[XS_TRANSACTION_END] = h(doTransactionEnd);
  t[XS_INTRODUCE] = h(doIntroduce, XS_FLAG_PRIV);
  t[XS_RELEASE] = h(doRelease, XS_FLAG_PRIV);
  t[XS_GET_DOMAIN_PATH] = h(doGetDomainPath);
  t[XS_WRITE] = h(doWrite);
  t[XS_MKDIR] = h(doMkdir);
  t[XS_RM] = h(doRm);
  t[XS_SET_PERMS] = h(doSetPerms);
  t[XS_IS_DOMAIN_INTRODUCED] = h(doIsDomainIntroduced, XS_FLAG_PRIV);
  t[XS_RESUME] = h(doResume, XS_FLAG_PRIV);
  t[XS_SET_TARGET] = h(doSetTarget, XS_FLAG_PRIV);
  t[XS_RESET_WATCHES] = h(doResetWatches);
  t[XS_DIRECTORY_PART] = h(doDirectoryPart);
  return t;
})();
