export { PrivcmdDevice, PrivcmdArgumentError, PendingIoctl, DOMID_INVALID, HYPERVISOR_DM_OP, PAGE_SIZE } from "./device.js";
export type { PrivcmdHandle, PrivcmdOptions } from "./device.js";
export type { DmOpBuf, IoctlResult, DmOpFn, DmOpTarget, CallerAbi, SlicedCall } from "./types.js";
export { RegionMemory } from "./memory.js";
export type { UserMemory } from "./memory.js";
export { decodeXenDmOpBufs, encodeXenDmOpBufs, xenDmOpBufSize } from "./dmopbuf-array.js";
export type { XenDmOpBufDesc } from "./dmopbuf-array.js";
