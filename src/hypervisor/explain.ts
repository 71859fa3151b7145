// Why the last call was refused: the rule and the Xen function it mirrors.

import { errno, errnoName as nameOf } from "../../abi/xen/errno.js";

// The hypercall's negative return values, from the ABI's errno table (abi/xen/errno.ts).
export const EPERM = -errno.EPERM, ENOENT = -errno.ENOENT, ESRCH = -errno.ESRCH, E2BIG = -errno.E2BIG,
  EAGAIN = -errno.EAGAIN, ENOMEM = -errno.ENOMEM, EFAULT = -errno.EFAULT, EBUSY = -errno.EBUSY,
  EEXIST = -errno.EEXIST, EINVAL = -errno.EINVAL, ENOSPC = -errno.ENOSPC, ERANGE = -errno.ERANGE,
  ENOSYS = -errno.ENOSYS, ENODATA = -errno.ENODATA, ERESTART = -errno.ERESTART, EOPNOTSUPP = -errno.EOPNOTSUPP;

/** "-EINVAL" for -22, "0" for 0, the number otherwise. */
export function errnoName(rc: number): string {
  if (rc >= 0) return String(rc);
  const n = nameOf(rc);
  return n === `E${-rc}` ? String(rc) : `-${n}`;
}

export interface Explanation {
  rc: number;
  errno: string;
  rule: string;
  /** The Xen function (file:function) the rule mirrors. */
  mirrors: string;
}

export function explanation(rc: number, rule: string, mirrors: string): Explanation {
  return { rc, errno: errnoName(rc), rule, mirrors };
}
