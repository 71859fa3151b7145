// Xen's own x86 HVM platform devices, standalone: each claims its addresses and answers from a small
// model; platform.ts puts them together per the domain's emulation flags.
export { HvmPlatform, LIBXL_HVM_EMULATION_FLAGS, type PlatformOptions, type InterceptRequest, type InterceptResult, type GuestBuffer, type Claim } from "./platform.js";
export { HostClock, ManualClock, type GuestClock } from "./clock.js";
export type { IoHandler, IoRc } from "./handler.js";
export { Rtc } from "./rtc.js";
export { Pit } from "./pit.js";
export { PmTimer } from "./pmtimer.js";
export { Vpic } from "./vpic.js";
export { Vioapic } from "./vioapic.js";
export { Hpet } from "./hpet.js";
export { Vlapic } from "./vlapic.js";
export { DebugConsole } from "./debugcon.js";
