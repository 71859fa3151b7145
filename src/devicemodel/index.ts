export { DeviceModel, DOMID_INVALID } from "./devicemodel.js";
export type { DeviceModelOptions, DmPath, IoreqServerInfo, IoreqServerInfoRequest } from "./devicemodel.js";
export { XenError, XenPositiveReturn, DeviceModelArgumentError } from "./errors.js";
export type { ModifiedMemoryExtent } from "./wire.js";
export type { U64Like } from "./args.js";
