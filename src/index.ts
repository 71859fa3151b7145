// xendm: the package root. Layers, left to right: the ABI as data, the codec, the fake hypervisor and
// the device-model side (client, emulator), transports, scenarios.

// The package's files
export { fixturesDir, packageRoot } from "./package-root.js";

// ABI and codec
export * from "./codec/index.js";
export { restructureType, restructureDecode, restructureEncode, uint64le, type RType, type RStream } from "./codec/restructure.js";
export * as abi from "../abi/index.js";
export { errno, errnoName, errnoValue } from "../abi/xen/errno.js";

// The fake hypervisor
export { Hypervisor, type HypervisorOptions, type NotifyListener } from "./hypervisor/hypervisor.js";
export type { WorldConfig, DomainConfig } from "./hypervisor/world.js";
export { WorldError } from "./hypervisor/world.js";
export type { DmOpBuf } from "./hypervisor/context.js";
export { DmOpRun, type DmOpStep } from "./hypervisor/dm-run.js";
export type { Explanation } from "./hypervisor/explain.js";
export type { PersonaName } from "./hypervisor/persona.js";
export type { ServerSnapshot, DomainSnapshot } from "./hypervisor/introspect.js";
export { P2m, type P2mType } from "./hypervisor/p2m.js";
export { guestOf, GuestEmulator, GuestAccessError, type AccessResult, type PioAccess, type MmioAccess, type MemAccess } from "./hypervisor/emulate.js";
export { mapResource, type MapResourceResult } from "./hypervisor/resource.js";

// The device-model side
export { IoreqClient, type IoreqRequest, type IoreqHandler, type IoreqEvents, type IoreqClientInit, type IoreqPort } from "./emulator/client.js";
export { IoreqProtocolError } from "./emulator/errors.js";
export { runFlood, type FloodOptions, type FloodReport, type FloodProducer } from "./emulator/flood.js";
export { attachInProcess, inProcessIoreqPort, flood, IoreqAttachError } from "./transport/ioreq-inprocess.js";
export * from "./devicemodel/index.js";

// The Linux privcmd driver, transports, the server
export { PrivcmdDevice, PrivcmdArgumentError, PendingIoctl, RegionMemory, encodeXenDmOpBufs, decodeXenDmOpBufs } from "./privcmd/index.js";
export type { PrivcmdHandle, PrivcmdOptions, IoctlResult, SlicedCall, UserMemory, XenDmOpBufDesc } from "./privcmd/index.js";
export * from "./transport/index.js";

// Conformance to libxendevicemodel (xendm serve --conform)
export * from "./conform/index.js";

// Xen's own x86 HVM platform devices
export { HvmPlatform, LIBXL_HVM_EMULATION_FLAGS, HostClock, ManualClock, type GuestClock, type Claim, type InterceptRequest, type InterceptResult } from "./hypervisor/hvm/index.js";

// The toolstack role: libxl's part for a QEMU device model
export * from "./toolstack/index.js";

// Scenarios
export { runScenario, runScenarioAsync, loadScenarioFile, parseScenario, ScenarioError, type StepResult, type RunOptions, type LiveOptions } from "./scenario/index.js";
export { launchUnderShim, shimPath, LaunchedProgram, LaunchError, type LaunchOptions, type Exit } from "./toolstack/launch.js";

// The xenstored (docs/xenstore.md)
export {
  XenstoreCore, XenstoredServer, startXenstored, startHostXenstored, coreForDomains, createDomainNodes, seedTree, domainsOf,
  XsLocalClient, XsSocketClient, XsError, DEFAULT_QUOTA,
  type XenstoreOptions, type XenstoredServerOptions, type HostXenstoreOptions, type XsDomainSpec, type XsSeed, type XsNodeView, type XsQuota,
} from "./xenstore/index.js";
