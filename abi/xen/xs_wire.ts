// xen/include/public/io/xs_wire.h and tools/include/xenstore_lib.h: the xenstore wire protocol's message
// types, error table, limits and permission bits.

/** enum xsd_sockmsg_type (XS_RESTRICT, 20, has been removed; XS_RESET_WATCHES = XS_SET_TARGET + 2). */
export const XS_CONTROL = 0;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESET_WATCHES = XS_SET_TARGET + 2;
export const XS_DIRECTORY_PART = 22;
export const XS_TYPE_COUNT = 23;
export const XS_INVALID = 0xffff;

export const XS_MSG_NAMES: Readonly<Record<number, string>> = {
  [XS_CONTROL]: "CONTROL",
  [XS_DIRECTORY]: "DIRECTORY",
  [XS_READ]: "READ",
  [XS_GET_PERMS]: "GET_PERMS",
  [XS_WATCH]: "WATCH",
  [XS_UNWATCH]: "UNWATCH",
  [XS_TRANSACTION_START]: "TRANSACTION_START",
  [XS_TRANSACTION_END]: "TRANSACTION_END",
  [XS_INTRODUCE]: "INTRODUCE",
  [XS_RELEASE]: "RELEASE",
  [XS_GET_DOMAIN_PATH]: "GET_DOMAIN_PATH",
  [XS_WRITE]: "WRITE",
  [XS_MKDIR]: "MKDIR",
  [XS_RM]: "RM",
  [XS_SET_PERMS]: "SET_PERMS",
  [XS_WATCH_EVENT]: "WATCH_EVENT",
  [XS_ERROR]: "ERROR",
  [XS_IS_DOMAIN_INTRODUCED]: "IS_DOMAIN_INTRODUCED",
  [XS_RESUME]: "RESUME",
  [XS_SET_TARGET]: "SET_TARGET",
  [XS_RESET_WATCHES]: "RESET_WATCHES",
  [XS_DIRECTORY_PART]: "DIRECTORY_PART",
};

/** struct xsd_sockmsg: type, req_id, tx_id, len, each a little-endian u32 (host order on x86 and Arm). */
export const XSD_SOCKMSG_SIZE = 16;

/** xsd_errors[], in the header's order: index 0 (EINVAL) is what an untranslatable errno becomes. */
export const XSD_ERRORS: readonly string[] = [
  "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO", "ENOTEMPTY", "ENOSYS", "EROFS",
  "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
];
export type XsdErrorName = "EINVAL" | "EACCES" | "EEXIST" | "EISDIR" | "ENOENT" | "ENOMEM" | "ENOSPC" | "EIO" |
  "ENOTEMPTY" | "ENOSYS" | "EROFS" | "EBUSY" | "EAGAIN" | "EISCONN" | "E2BIG" | "EPERM";

export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

export const XS_WRITE_NONE = "NONE";
export const XS_WRITE_CREATE = "CREATE";
export const XS_WRITE_CREATE_EXCL = "CREATE|EXCL";

/** xenstore_lib.h permission bits. */
export const XS_PERM_NONE = 0x00;
export const XS_PERM_READ = 0x01;
export const XS_PERM_WRITE = 0x02;
export const XS_PERM_ENOENT_OK = 0x04;
export const XS_PERM_OWNER = 0x08;
export const XS_PERM_IGNORE = 0x10;

/** struct xs_permissions { int id; enum xs_perm_type perms; } */
export const XS_PERMISSIONS_SIZE = 8;
/** struct xs_tdb_record_hdr { u64 generation; u32 num_perms, datalen, childlen; perms[] }, padded to 8 */
export const XS_TDB_RECORD_HDR_SIZE = 24;
/** The generation of a node that does not exist (~0ULL in xenstored; -1 here). */
export const NO_GENERATION = -1;

export const XS_WIRE_CONSTANTS: Readonly<Record<string, number>> = {
  XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH, XS_TRANSACTION_START,
  XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE, XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS,
  XS_WATCH_EVENT, XS_ERROR, XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET, XS_RESET_WATCHES,
  XS_DIRECTORY_PART, XS_TYPE_COUNT, XS_INVALID, XENSTORE_PAYLOAD_MAX, XENSTORE_ABS_PATH_MAX,
  XENSTORE_REL_PATH_MAX, XS_PERM_NONE, XS_PERM_READ, XS_PERM_WRITE, XS_PERM_ENOENT_OK, XS_PERM_OWNER,
  XS_PERM_IGNORE,
};
