// The toolstack role for an HVM guest with a QEMU device model, as libxl plays it.
export { resolveGuest, ToolstackConfigError, type HvmGuest, type HvmGuestInput, type VgaKind } from "./config.js";
export { buildDeviceModelArgs, qmpPath, QEMU_XEN_BINARY, type DeviceModelCommand } from "./argv.js";
export { hvmDomainLayout, writeLayout, domainPath, deviceModelPath, deviceModelStatePath, type XsNode, type XsWriter } from "./layout.js";
export { QmpClient, type QmpEvent, type QmpStatus, type QmpConnectOptions } from "./qmp.js";
export { DeviceModelProcess, DEVICE_MODEL_START_TIMEOUT_MS, QMP_CMD_TIMEOUT_MS, type DeviceModelSpawn, type SupervisorStore, type ExitInfo } from "./supervisor.js";
export { QmpError, DeviceModelError, type QmpErrorCode, type DeviceModelErrorCode } from "./errors.js";
export { launchUnderShim, shimPath, withTimeout, LaunchedProgram, LaunchError, OUTPUT_LIMIT, type LaunchOptions, type Exit } from "./launch.js";
export { XsDirectClient, XsClientError } from "./xs-client.js";
export { GuestIo, GuestIoError, type GuestIoOptions } from "./guest-io.js";
export { enumeratePci, formatLspci, bdfString, type PciConfig, type PciFunction, type PciBar } from "./lspci.js";
export { launchQemu, defaultShimPath, type QemuGuest, type QemuLaunchOptions } from "./qemu.js";
