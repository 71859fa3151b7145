// Linux errno values the privcmd driver returns (the same numbers as Xen's public errno.h).
export const EPERM = 1;
export const EFAULT = 14;
export const E2BIG = 7;
export const EINVAL = 22;
export const ENOSYS = 38;
export const ENOMEM = 12;
