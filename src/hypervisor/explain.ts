// Why the last call was refused: the rule and the Xen function it mirrors.

export const XEN_ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, E2BIG: 7, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, EXDEV: 18, EINVAL: 22, ENOSPC: 28, ERANGE: 34, ENOSYS: 38, ENODATA: 61, EOVERFLOW: 75,
  EILSEQ: 84, ERESTART: 85, EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof XEN_ERRNO;

export const EPERM = -1, ENOENT = -2, ESRCH = -3, E2BIG = -7, EAGAIN = -11, ENOMEM = -12, EFAULT = -14,
  EBUSY = -16, EEXIST = -17, EINVAL = -22, ENOSPC = -28, ERANGE = -34, ENOSYS = -38, ENODATA = -61,
  ERESTART = -85, EOPNOTSUPP = -95;

const names = new Map<number, ErrnoName>(
  (Object.entries(XEN_ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** "-EINVAL" for -22, "0" for 0, the number otherwise. */
export function errnoName(rc: number): string {
  if (rc >= 0) return String(rc);
  const n = names.get(-rc);
  return n === undefined ? String(rc) : `-${n}`;
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
