// xen/include/public/hvm/ioreq.h: the records Xen writes into the device model's shared pages.

import type { StructDecl } from "../ctypes.js";

export const IOREQ_READ = 1;
export const IOREQ_WRITE = 0;

export const STATE_IOREQ_NONE = 0;
export const STATE_IOREQ_READY = 1;
export const STATE_IOREQ_INPROCESS = 2;
export const STATE_IORESP_READY = 3;

export const IOREQ_TYPE_PIO = 0;
export const IOREQ_TYPE_COPY = 1;
export const IOREQ_TYPE_PCI_CONFIG = 2;
export const IOREQ_TYPE_TIMEOFFSET = 7;
export const IOREQ_TYPE_INVALIDATE = 8;

export const IOREQ_BUFFER_SLOT_NUM = 511;

export const ACPI_PM1A_EVT_BLK_ADDRESS_V0 = 0x1f40;
export const ACPI_PM1A_CNT_BLK_ADDRESS_V0 = ACPI_PM1A_EVT_BLK_ADDRESS_V0 + 0x04;
export const ACPI_PM_TMR_BLK_ADDRESS_V0 = ACPI_PM1A_EVT_BLK_ADDRESS_V0 + 0x08;
export const ACPI_GPE0_BLK_ADDRESS_V0 = ACPI_PM_TMR_BLK_ADDRESS_V0 + 0x20;
export const ACPI_GPE0_BLK_LEN_V0 = 0x08;
export const ACPI_PM1A_EVT_BLK_ADDRESS_V1 = 0xb000;
export const ACPI_PM1A_CNT_BLK_ADDRESS_V1 = ACPI_PM1A_EVT_BLK_ADDRESS_V1 + 0x04;
export const ACPI_PM_TMR_BLK_ADDRESS_V1 = ACPI_PM1A_EVT_BLK_ADDRESS_V1 + 0x08;
export const ACPI_GPE0_BLK_ADDRESS_V1 = 0xafe0;
export const ACPI_GPE0_BLK_LEN_V1 = 0x04;
export const ACPI_PM1A_EVT_BLK_ADDRESS = ACPI_PM1A_EVT_BLK_ADDRESS_V0;
export const ACPI_PM1A_CNT_BLK_ADDRESS = ACPI_PM1A_CNT_BLK_ADDRESS_V0;
export const ACPI_PM_TMR_BLK_ADDRESS = ACPI_PM_TMR_BLK_ADDRESS_V0;
export const ACPI_GPE0_BLK_ADDRESS = ACPI_GPE0_BLK_ADDRESS_V0;
export const ACPI_GPE0_BLK_LEN = ACPI_GPE0_BLK_LEN_V0;

export const IOREQ_STATE_NAMES: Readonly<Record<string, number>> = {
  STATE_IOREQ_NONE,
  STATE_IOREQ_READY,
  STATE_IOREQ_INPROCESS,
  STATE_IORESP_READY,
};
export const IOREQ_TYPE_NAMES: Readonly<Record<string, number>> = {
  IOREQ_TYPE_PIO,
  IOREQ_TYPE_COPY,
  IOREQ_TYPE_PCI_CONFIG,
  IOREQ_TYPE_TIMEOFFSET,
  IOREQ_TYPE_INVALIDATE,
};
export const IOREQ_DIR_NAMES: Readonly<Record<string, number>> = { IOREQ_READ, IOREQ_WRITE };

export const IOREQ_H_CONSTANTS: Readonly<Record<string, number>> = {
  IOREQ_READ,
  IOREQ_WRITE,
  ...IOREQ_STATE_NAMES,
  ...IOREQ_TYPE_NAMES,
  IOREQ_BUFFER_SLOT_NUM,
  ACPI_PM1A_EVT_BLK_ADDRESS_V0,
  ACPI_PM1A_CNT_BLK_ADDRESS_V0,
  ACPI_PM_TMR_BLK_ADDRESS_V0,
  ACPI_GPE0_BLK_ADDRESS_V0,
  ACPI_GPE0_BLK_LEN_V0,
  ACPI_PM1A_EVT_BLK_ADDRESS_V1,
  ACPI_PM1A_CNT_BLK_ADDRESS_V1,
  ACPI_PM_TMR_BLK_ADDRESS_V1,
  ACPI_GPE0_BLK_ADDRESS_V1,
  ACPI_GPE0_BLK_LEN_V1,
  ACPI_PM1A_EVT_BLK_ADDRESS,
  ACPI_PM1A_CNT_BLK_ADDRESS,
  ACPI_PM_TMR_BLK_ADDRESS,
  ACPI_GPE0_BLK_ADDRESS,
  ACPI_GPE0_BLK_LEN,
};

export const ioreq: StructDecl = {
  kind: "struct",
  name: "ioreq",
  typedef: "ioreq_t",
  fields: [
    { name: "addr", type: "u64" }, // physical address
    { name: "data", type: "u64" }, // data, or guest paddr of data when data_is_ptr
    { name: "count", type: "u32" }, // rep count
    { name: "size", type: "u32" }, // bytes per element
    { name: "vp_eport", type: "u32" }, // event channel for this vCPU
    { name: "_pad0", type: "u16", pad: true },
    { name: "state", type: "u8", bits: 4, enum: IOREQ_STATE_NAMES },
    { name: "data_is_ptr", type: "u8", bits: 1 },
    { name: "dir", type: "u8", bits: 1, enum: IOREQ_DIR_NAMES },
    { name: "df", type: "u8", bits: 1 },
    { name: "_pad1", type: "u8", bits: 1, pad: true },
    { name: "type", type: "u8", enum: IOREQ_TYPE_NAMES },
  ],
};

export const shared_iopage: StructDecl = {
  kind: "struct",
  name: "shared_iopage",
  typedef: "shared_iopage_t",
  fields: [{ name: "vcpu_ioreq", type: ioreq, count: 1 }],
};

export const buf_ioreq: StructDecl = {
  kind: "struct",
  name: "buf_ioreq",
  typedef: "buf_ioreq_t",
  fields: [
    { name: "type", type: "u8", enum: IOREQ_TYPE_NAMES },
    { name: "pad", type: "u8", bits: 1, pad: true },
    { name: "dir", type: "u8", bits: 1, enum: IOREQ_DIR_NAMES },
    { name: "size", type: "u8", bits: 2 }, // 0..3 for 1, 2, 4, 8 bytes
    { name: "addr", type: "u32", bits: 20 },
    { name: "data", type: "u32" },
  ],
};

export const buffered_iopage: StructDecl = {
  kind: "struct",
  name: "buffered_iopage",
  typedef: "buffered_iopage_t",
  fields: [
    { name: "read_pointer", type: "u32" },
    { name: "write_pointer", type: "u32" },
    { name: "buf_ioreq", type: buf_ioreq, count: IOREQ_BUFFER_SLOT_NUM },
  ],
};

export const IOREQ_H_TYPES: readonly StructDecl[] = [ioreq, shared_iopage, buf_ioreq, buffered_iopage];
