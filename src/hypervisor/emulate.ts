// Guest-access emulation, as one import: the vCPU job machine and its access API (guest-emulator.ts),
// routing of one hvmemul_do_io (emulate-route.ts), access values and MMIO splitting
// (emulate-values.ts), the shapes (emulate-types.ts) and the in-process host (emulate-host.ts).
export {
  GuestAccessError,
  type AccessResult,
  type Dir,
  type EmitEvent,
  type GuestDomainPort,
  type IntIn,
  type MemAccess,
  type MmioAccess,
  type PioAccess,
  type Chunk as MmioChunk,
} from "./emulate-types.js";
export { splitMmio } from "./emulate-values.js";
export { GuestEmulator } from "./guest-emulator.js";
export { HypervisorDomainPort, guestOf, type HostOptions } from "./emulate-host.js";
