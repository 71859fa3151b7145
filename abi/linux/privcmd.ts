// xen/sys/privcmd.h (the Linux privcmd driver's ioctl interface as the Xen tools see it).

import type { Arch } from "../profiles.js";
import { resolve, type StructDecl } from "../ctypes.js";

export const privcmd_hypercall: StructDecl = {
  kind: "struct",
  name: "privcmd_hypercall",
  typedef: "privcmd_hypercall_t",
  fields: [
    { name: "op", type: "u64" },
    { name: "arg", type: "u64", count: 5 },
  ],
};

export const privcmd_dm_op_buf: StructDecl = {
  kind: "struct",
  name: "privcmd_dm_op_buf",
  typedef: "privcmd_dm_op_buf_t",
  fields: [
    { name: "uptr", type: "ptr" },
    { name: "size", type: "size_t" },
  ],
};

export const privcmd_dm_op: StructDecl = {
  kind: "struct",
  name: "privcmd_dm_op",
  typedef: "privcmd_dm_op_t",
  fields: [
    { name: "dom", type: "u16" },
    { name: "num", type: "u16" },
    { name: "ubufs", type: "ptr" },
  ],
};

export const privcmd_mmap_resource: StructDecl = {
  kind: "struct",
  name: "privcmd_mmap_resource",
  typedef: "privcmd_mmap_resource_t",
  fields: [
    { name: "dom", type: "u16" },
    { name: "type", type: "u32" },
    { name: "id", type: "u32" },
    { name: "idx", type: "u32" },
    { name: "num", type: "u64" },
    { name: "addr", type: "u64" },
  ],
};

export const PRIVCMD_H_TYPES: readonly StructDecl[] = [privcmd_hypercall, privcmd_dm_op_buf, privcmd_dm_op, privcmd_mmap_resource];

/** _IOC(_IOC_NONE, 'P', nr, size) */
export const _IOC_NONE_P = (nr: number, size: number): number => ((size << 16) | (0x50 << 8) | nr) >>> 0;

export const PRIVCMD_MMAPBATCH_MFN_ERROR = 0xf0000000;
export const PRIVCMD_MMAPBATCH_PAGED_ERROR = 0x80000000;

// The other ioctl argument structs, declared only for their sizes (the ioctl numbers encode them).
const privcmd_mmap: StructDecl = {
  kind: "struct",
  name: "privcmd_mmap",
  fields: [
    { name: "num", type: "u32" }, // int
    { name: "dom", type: "u16" },
    { name: "entry", type: "ptr" },
  ],
};
const privcmd_mmapbatch: StructDecl = {
  kind: "struct",
  name: "privcmd_mmapbatch",
  fields: [
    { name: "num", type: "u32" }, // int
    { name: "dom", type: "u16" },
    { name: "addr", type: "u64" },
    { name: "arr", type: "ptr" },
  ],
};
const privcmd_mmapbatch_v2: StructDecl = {
  kind: "struct",
  name: "privcmd_mmapbatch_v2",
  fields: [
    { name: "num", type: "u32" },
    { name: "dom", type: "u16" },
    { name: "addr", type: "u64" },
    { name: "arr", type: "ptr" },
    { name: "err", type: "ptr" },
  ],
};

/** The IOCTL_PRIVCMD_* numbers for one ABI (the struct sizes differ on 32-bit ABIs). */
export function privcmdIoctls(arch: Arch): Readonly<Record<string, number>> {
  const size = (d: StructDecl): number => resolve(d, arch).size;
  return {
    IOCTL_PRIVCMD_HYPERCALL: _IOC_NONE_P(0, size(privcmd_hypercall)),
    IOCTL_PRIVCMD_MMAP: _IOC_NONE_P(2, size(privcmd_mmap)),
    IOCTL_PRIVCMD_MMAPBATCH: _IOC_NONE_P(3, size(privcmd_mmapbatch)),
    IOCTL_PRIVCMD_MMAPBATCH_V2: _IOC_NONE_P(4, size(privcmd_mmapbatch_v2)),
    IOCTL_PRIVCMD_DM_OP: _IOC_NONE_P(5, size(privcmd_dm_op)),
    IOCTL_PRIVCMD_RESTRICT: _IOC_NONE_P(6, 2), // sizeof(domid_t)
    IOCTL_PRIVCMD_MMAP_RESOURCE: _IOC_NONE_P(7, size(privcmd_mmap_resource)),
    IOCTL_PRIVCMD_UNIMPLEMENTED: _IOC_NONE_P(0xff, 0),
  };
}

export const IOCTL_PRIVCMD_DM_OP = privcmdIoctls("x86_64").IOCTL_PRIVCMD_DM_OP!;
export const IOCTL_PRIVCMD_RESTRICT = privcmdIoctls("x86_64").IOCTL_PRIVCMD_RESTRICT!;
export const IOCTL_PRIVCMD_HYPERCALL = privcmdIoctls("x86_64").IOCTL_PRIVCMD_HYPERCALL!;
export const IOCTL_PRIVCMD_MMAP_RESOURCE = privcmdIoctls("x86_64").IOCTL_PRIVCMD_MMAP_RESOURCE!;
