// Errors raised where the C library returns -1 (XenError) or where a C caller could not even
// express the argument (DeviceModelArgumentError).
import { errnoName } from "../../abi/xen/errno.js";

/** The C function returned -1 with `errno` set. */
export class XenError extends Error {
  readonly errnoName: string;
  constructor(
    /** The libxendevicemodel function name, e.g. "xendevicemodel_set_mem_type". */
    readonly fn: string,
    readonly errno: number,
    /** "library" when the library refused before any call, "ioctl"/"hypercall" otherwise. */
    readonly where: "library" | "ioctl" | "hypercall",
  ) {
    const name = errnoName(errno);
    super(`${fn}: ${name} (${errno})${where === "library" ? " (refused by the library)" : ""}`);
    this.name = "XenError";
    this.errnoName = name;
  }
}

/**
 * The hypercall fallback path returned a positive value: the C function returns it and leaves its
 * out-parameters untouched. Methods with outputs have nothing to return, so they raise this.
 */
export class XenPositiveReturn extends Error {
  constructor(readonly fn: string, readonly rc: number) {
    super(`${fn}: returned ${rc} (positive return on the hypercall path; outputs not written)`);
    this.name = "XenPositiveReturn";
  }
}

/** An argument outside its C parameter type (a C caller could not pass it). */
export class DeviceModelArgumentError extends RangeError {
  constructor(readonly fn: string, readonly field: string, message: string) {
    super(`${fn}: ${field}: ${message}`);
    this.name = "DeviceModelArgumentError";
  }
}
