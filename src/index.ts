// xendm: the package root.

export * from "./codec/index.js";
export * as abi from "../abi/index.js";
export { errno, errnoName, errnoValue } from "../abi/xen/errno.js";
