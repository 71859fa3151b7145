// Typed errors of the toolstack role: QMP and the device model's process.

export type QmpErrorCode =
  /** the socket could not be reached within the bound */
  | "connect-timeout"
  /** no greeting, or no answer to a command, within the bound */
  | "timeout"
  /** the peer closed the connection (QEMU exited) */
  | "closed"
  /** the peer sent something that is not QMP (bad JSON, an oversized line, no greeting) */
  | "protocol"
  /** QEMU answered with {"error": {...}} */
  | "command-failed";

export class QmpError extends Error {
  constructor(
    readonly code: QmpErrorCode,
    /** the command being run, or "greeting" / "connect" */
    readonly command: string,
    message: string,
    /** for command-failed: QEMU's error class ("GenericError", "CommandNotFound", ...) */
    readonly errorClass?: string,
  ) {
    super(message);
    this.name = "QmpError";
  }
}

export type DeviceModelErrorCode =
  /** the binary could not be started (missing, not executable) */
  | "spawn-failed"
  /** the process exited before it became ready */
  | "exited"
  /** it did not become ready within the bound */
  | "start-timeout"
  /** QMP reported a state other than the one expected (libxl: ERROR_NOT_READY) */
  | "not-ready"
  /** it did not exit within the bound after being asked to */
  | "stop-timeout";

export class DeviceModelError extends Error {
  constructor(
    readonly code: DeviceModelErrorCode,
    /** "domain <domid> device model", as libxl names the spawn */
    readonly what: string,
    message: string,
    /** the last lines the process wrote to stderr (and stdout) */
    readonly lastLines: readonly string[],
    /** exit code or signal, once it has exited */
    readonly exit?: { code: number | null; signal: string | null },
  ) {
    super(lastLines.length > 0 ? `${message}\n  last output:\n    ${lastLines.join("\n    ")}` : message);
    this.name = "DeviceModelError";
  }
}
