// A xenstored in TypeScript (docs/xenstore.md).
export { XenstoreCore, type XenstoreOptions } from "./core.js";
export { XenstoredServer, startXenstored, type XenstoredServerOptions } from "./server.js";
export { XsError } from "./errors.js";
export { DEFAULT_QUOTA, type XsQuota } from "./quota.js";
export { formatPerm, parsePerm, type XsPerm } from "./perms.js";
export type { XsConnection, XsSink } from "./connection.js";
export { XsLocalClient, XsSocketClient, type XsNodeView } from "./client.js";
export {
  coreForDomains, createDomainNodes, domainsOf, seedTree, startHostXenstored, type HostXenstoreOptions, type XsDomainSpec, type XsSeed,
} from "./host.js";
