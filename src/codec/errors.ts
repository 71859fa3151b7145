// Typed codec errors: every refusal names the field path and the byte offset it concerns.

export type CodecErrorCode =
  | "truncated" // the buffer ends before this field
  | "trailing" // bytes after the end of the structure
  | "nonzero-pad" // a declared pad (or a union's unused tail) is not zero
  | "bad-op" // xen_dm_op.op names no operation
  | "out-of-range" // a value does not fit its field
  | "bad-value" // a value of the wrong kind, or an unknown symbolic name
  | "unknown-field" // a key that the C structure does not have
  | "bad-member" // a union value naming the wrong or several members
  | "unknown-type" // no such type
  | "bad-arch" // an arch option that names no ABI
  | "bad-offset"; // a byte offset that is not an integer

export class CodecError extends Error {
  override readonly name = "CodecError";
  constructor(
    readonly code: CodecErrorCode,
    /** dotted C path, e.g. `xen_dm_op.u.set_mem_type.pad` */
    readonly path: string,
    /** byte offset in the buffer the error concerns */
    readonly offset: number,
    detail: string,
  ) {
    super(`${path} at byte offset ${offset}: ${detail}`);
  }
}
