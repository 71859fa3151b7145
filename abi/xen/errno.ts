// xen/include/public/errno.h: the XEN_E* values (Linux numbering). Hypercalls return their negation.

/** The values visible to tools (EINTR and ERESTART are hypervisor-internal). */
export const XEN_ERRNO: Readonly<Record<string, number>> = {
  XEN_EPERM: 1,
  XEN_ENOENT: 2,
  XEN_ESRCH: 3,
  XEN_EIO: 5,
  XEN_ENXIO: 6,
  XEN_E2BIG: 7,
  XEN_ENOEXEC: 8,
  XEN_EBADF: 9,
  XEN_ECHILD: 10,
  XEN_EAGAIN: 11,
  XEN_EWOULDBLOCK: 11,
  XEN_ENOMEM: 12,
  XEN_EACCES: 13,
  XEN_EFAULT: 14,
  XEN_EBUSY: 16,
  XEN_EEXIST: 17,
  XEN_EXDEV: 18,
  XEN_ENODEV: 19,
  XEN_ENOTDIR: 20,
  XEN_EISDIR: 21,
  XEN_EINVAL: 22,
  XEN_ENFILE: 23,
  XEN_EMFILE: 24,
  XEN_ENOSPC: 28,
  XEN_EROFS: 30,
  XEN_EMLINK: 31,
  XEN_EDOM: 33,
  XEN_ERANGE: 34,
  XEN_EDEADLK: 35,
  XEN_EDEADLOCK: 35,
  XEN_ENAMETOOLONG: 36,
  XEN_ENOLCK: 37,
  XEN_ENOSYS: 38,
  XEN_ENOTEMPTY: 39,
  XEN_ENODATA: 61,
  XEN_ETIME: 62,
  XEN_EBADMSG: 74,
  XEN_EOVERFLOW: 75,
  XEN_EILSEQ: 84,
  XEN_ENOTSOCK: 88,
  XEN_EMSGSIZE: 90,
  XEN_EOPNOTSUPP: 95,
  XEN_EADDRINUSE: 98,
  XEN_EADDRNOTAVAIL: 99,
  XEN_ENOBUFS: 105,
  XEN_EISCONN: 106,
  XEN_ENOTCONN: 107,
  XEN_ETIMEDOUT: 110,
  XEN_ECONNREFUSED: 111,
};

/** Errno by bare name (EPERM ...), including the hypervisor-internal ones and Linux's ENOTTY. */
export const errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EOVERFLOW: 75,
  EILSEQ: 84,
  /** hypervisor-internal: turned into a hypercall continuation, never seen by callers */
  ERESTART: 85,
  EOPNOTSUPP: 95,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
} as const;

export type ErrnoName = keyof typeof errno;

const byValue = new Map<number, string>();
for (const [k, v] of Object.entries(errno)) if (!byValue.has(v)) byValue.set(v, k);
for (const [k, v] of Object.entries(XEN_ERRNO)) if (!byValue.has(v)) byValue.set(v, k.slice(4));

/** "EINVAL" for 22 or -22; `E<n>` when unknown. */
export function errnoName(n: number): string {
  const v = Math.abs(n);
  return byValue.get(v) ?? `E${v}`;
}

/** Parses "EINVAL", "-EINVAL", "XEN_EINVAL" or a number; returns the positive errno, or undefined. */
export function errnoValue(s: string | number): number | undefined {
  if (typeof s === "number") return Math.abs(s);
  const name = s.replace(/^-/, "").replace(/^XEN_/, "");
  const table = errno as Readonly<Record<string, number>>;
  const fromName = (Object.hasOwn(table, name) ? table[name] : undefined) ?? (Object.hasOwn(XEN_ERRNO, "XEN_" + name) ? XEN_ERRNO["XEN_" + name] : undefined);
  if (fromName !== undefined) return fromName;
  return /^-?\d+$/.test(s) ? Math.abs(Number(s)) : undefined;
}
