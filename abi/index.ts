// The whole ABI as data: every declared aggregate (by tag and typedef) and every constant, per ABI.

import { collect, type AggregateDecl } from "./ctypes.js";
import type { Arch } from "./profiles.js";
import { DM_OP_H_CONSTANTS, DM_OP_H_TYPES, xen_dm_op_u } from "./xen/dm_op.js";
import { IOREQ_H_CONSTANTS, IOREQ_H_TYPES } from "./xen/ioreq.js";
import { HVM_OP_H_CONSTANTS, HVM_OP_H_TYPES } from "./xen/hvm_op.js";
import { XEN_H_CONSTANTS } from "./xen/xen.js";
import { XEN_ERRNO } from "./xen/errno.js";
import { PRIVCMD_H_TYPES, privcmdIoctls } from "./linux/privcmd.js";

export * from "./profiles.js";
export * from "./ctypes.js";

/** Roots in header order: dm_op.h, ioreq.h, hvm_op.h, privcmd.h. */
const ROOTS: readonly AggregateDecl[] = [...DM_OP_H_TYPES, xen_dm_op_u, ...IOREQ_H_TYPES, ...HVM_OP_H_TYPES, ...PRIVCMD_H_TYPES];

/** Every aggregate of the ABI under `arch`, nested ones first. */
export function allTypes(arch: Arch): AggregateDecl[] {
  return collect(ROOTS, arch);
}

/** Finds a declaration by struct tag or typedef name. */
export function findType(name: string, arch: Arch): AggregateDecl | undefined {
  for (const d of allTypes(arch)) if (d.name === name || d.typedef === name) return d;
  return undefined;
}

/** Every constant, as the C headers give it for `arch`. */
export function constants(arch: Arch): Readonly<Record<string, number>> {
  return {
    ...DM_OP_H_CONSTANTS,
    ...IOREQ_H_CONSTANTS,
    ...HVM_OP_H_CONSTANTS,
    ...XEN_H_CONSTANTS,
    ...XEN_ERRNO,
    ...privcmdIoctls(arch),
  };
}
