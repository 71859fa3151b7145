// xen/include/public/hvm/hvm_op.h and hvm/params.h: the values DMOPs use (built with __XEN_TOOLS__).

import type { StructDecl } from "../ctypes.js";

// hvmmem_type_t (a 4-byte enum)
export const HVMMEM_ram_rw = 0;
export const HVMMEM_ram_ro = 1;
export const HVMMEM_mmio_dm = 2;
/** value 3 is HVMMEM_mmio_write_dm without __XEN_TOOLS__ */
export const HVMMEM_unused = 3;
export const HVMMEM_ioreq_server = 4;

export const HVM_IOREQSRV_BUFIOREQ_OFF = 0;
export const HVM_IOREQSRV_BUFIOREQ_LEGACY = 1;
export const HVM_IOREQSRV_BUFIOREQ_ATOMIC = 2;

export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
export const HVMOP_get_mem_type = 15;
/** sizeof(struct xen_hvm_param): domid u16, pad, index u32 at 4, value u64 at 8. */
export const XEN_HVM_PARAM_SIZE = 16;
export const HVM_PARAM_ACPI_S_STATE = 14;

// hvm/params.h
export const HVM_PARAM_IOREQ_PFN = 5;
export const HVM_PARAM_BUFIOREQ_PFN = 6;
export const HVM_PARAM_IOREQ_SERVER_PFN = 32;
export const HVM_PARAM_NR_IOREQ_SERVER_PAGES = 33;

export const HVMMEM_NAMES: Readonly<Record<string, number>> = {
  HVMMEM_ram_rw,
  HVMMEM_ram_ro,
  HVMMEM_mmio_dm,
  HVMMEM_unused,
  HVMMEM_ioreq_server,
  ram_rw: HVMMEM_ram_rw,
  ram_ro: HVMMEM_ram_ro,
  mmio_dm: HVMMEM_mmio_dm,
  unused: HVMMEM_unused,
  ioreq_server: HVMMEM_ioreq_server,
};

export const HVM_IOREQSRV_BUFIOREQ_NAMES: Readonly<Record<string, number>> = {
  HVM_IOREQSRV_BUFIOREQ_OFF,
  HVM_IOREQSRV_BUFIOREQ_LEGACY,
  HVM_IOREQSRV_BUFIOREQ_ATOMIC,
  OFF: HVM_IOREQSRV_BUFIOREQ_OFF,
  LEGACY: HVM_IOREQSRV_BUFIOREQ_LEGACY,
  ATOMIC: HVM_IOREQSRV_BUFIOREQ_ATOMIC,
};

export const HVM_OP_H_CONSTANTS: Readonly<Record<string, number>> = {
  HVMMEM_ram_rw,
  HVMMEM_ram_ro,
  HVMMEM_mmio_dm,
  HVMMEM_unused,
  HVMMEM_ioreq_server,
  HVM_IOREQSRV_BUFIOREQ_OFF,
  HVM_IOREQSRV_BUFIOREQ_LEGACY,
  HVM_IOREQSRV_BUFIOREQ_ATOMIC,
  HVMOP_set_param,
  HVMOP_get_param,
  HVMOP_get_mem_type,
  HVM_PARAM_IOREQ_PFN,
  HVM_PARAM_BUFIOREQ_PFN,
  HVM_PARAM_IOREQ_SERVER_PFN,
  HVM_PARAM_NR_IOREQ_SERVER_PAGES,
};

export const xen_hvm_get_mem_type: StructDecl = {
  kind: "struct",
  name: "xen_hvm_get_mem_type",
  typedef: "xen_hvm_get_mem_type_t",
  fields: [
    { name: "domid", type: "u16" },
    { name: "mem_type", type: "u16", enum: HVMMEM_NAMES }, // OUT
    { name: "pad", type: "u16", count: 2, pad: true },
    { name: "pfn", type: "u64" },
  ],
};

export const HVM_OP_H_TYPES: readonly StructDecl[] = [xen_hvm_get_mem_type];
