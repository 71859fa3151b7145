// The errors a request can end in: one of xsd_errors[] (xs_wire.h), sent as the XS_ERROR payload.
import type { XsdErrorName } from "../../abi/xen/xs_wire.js";

/** A request refused with one of xenstored's error strings (xenstored_core.c:send_error). */
export class XsError extends Error {
  override readonly name = "XsError";
  constructor(readonly code: XsdErrorName, detail?: string) {
    // a refusal is an answer, not a bug: no stack trace (capturing one costs more than the request)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(detail === undefined ? code : `${code}: ${detail}`);
    Error.stackTraceLimit = limit;
  }
}

export const xsError = (code: XsdErrorName, detail?: string): XsError => new XsError(code, detail);
