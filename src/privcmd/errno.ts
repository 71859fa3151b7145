// Linux errno values the privcmd driver returns (the same numbers as Xen's public errno.h).
import { errno } from "../../abi/xen/errno.js";

export const { EPERM, EFAULT, E2BIG, EINVAL, ENOSYS, ENOMEM } = errno;

