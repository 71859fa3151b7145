// xen/include/public/hvm/dm_op.h (Xen 4.17), as data. One declaration per C struct, C names throughout.
// IN/OUT notes follow the header's comments on each field.

import type { EnumTable, FieldDecl, StructDecl, UnionDecl } from "../ctypes.js";
import { HVMMEM_NAMES, HVM_IOREQSRV_BUFIOREQ_NAMES } from "./hvm_op.js";
import { SHUTDOWN_NAMES } from "./xen.js";

export const XEN_DMOP_create_ioreq_server = 1;
export const XEN_DMOP_get_ioreq_server_info = 2;
export const XEN_DMOP_map_io_range_to_ioreq_server = 3;
export const XEN_DMOP_unmap_io_range_from_ioreq_server = 4;
export const XEN_DMOP_set_ioreq_server_state = 5;
export const XEN_DMOP_destroy_ioreq_server = 6;
export const XEN_DMOP_track_dirty_vram = 7;
export const XEN_DMOP_set_pci_intx_level = 8;
export const XEN_DMOP_set_isa_irq_level = 9;
export const XEN_DMOP_set_pci_link_route = 10;
export const XEN_DMOP_modified_memory = 11;
export const XEN_DMOP_set_mem_type = 12;
export const XEN_DMOP_inject_event = 13;
export const XEN_DMOP_inject_msi = 14;
export const XEN_DMOP_map_mem_type_to_ioreq_server = 15;
export const XEN_DMOP_remote_shutdown = 16;
export const XEN_DMOP_relocate_memory = 17;
export const XEN_DMOP_pin_memory_cacheattr = 18;
export const XEN_DMOP_set_irq_level = 19;
export const XEN_DMOP_nr_vcpus = 20;

export const _XEN_DMOP_no_gfns = 0;
export const XEN_DMOP_no_gfns = 1 << _XEN_DMOP_no_gfns;
export const XEN_DMOP_IO_RANGE_PORT = 0;
export const XEN_DMOP_IO_RANGE_MEMORY = 1;
export const XEN_DMOP_IO_RANGE_PCI = 2;
export const XEN_DMOP_EVENT_ext_int = 0;
export const XEN_DMOP_EVENT_nmi = 2;
export const XEN_DMOP_EVENT_hw_exc = 3;
export const XEN_DMOP_EVENT_sw_int = 4;
export const XEN_DMOP_EVENT_pri_sw_exc = 5;
export const XEN_DMOP_EVENT_sw_exc = 6;
export const XEN_DMOP_IOREQ_MEM_ACCESS_READ = 1 << 0;
export const XEN_DMOP_IOREQ_MEM_ACCESS_WRITE = 1 << 1;
export const XEN_DMOP_MEM_CACHEATTR_UC = 0;
export const XEN_DMOP_MEM_CACHEATTR_WC = 1;
export const XEN_DMOP_MEM_CACHEATTR_WT = 4;
export const XEN_DMOP_MEM_CACHEATTR_WP = 5;
export const XEN_DMOP_MEM_CACHEATTR_WB = 6;
export const XEN_DMOP_MEM_CACHEATTR_UCM = 7;
export const XEN_DMOP_DELETE_MEM_CACHEATTR = 0xffffffff;

/** XEN_DMOP_PCI_SBDF(s, b, d, f) */
export function XEN_DMOP_PCI_SBDF(s: number, b: number, d: number, f: number): number {
  return (((s & 0xffff) << 16) | ((b & 0xff) << 8) | ((d & 0x1f) << 3) | (f & 0x07)) >>> 0;
}

/** The op numbers, by C name. */
export const XEN_DMOP_OPS = {
  XEN_DMOP_create_ioreq_server,
  XEN_DMOP_get_ioreq_server_info,
  XEN_DMOP_map_io_range_to_ioreq_server,
  XEN_DMOP_unmap_io_range_from_ioreq_server,
  XEN_DMOP_set_ioreq_server_state,
  XEN_DMOP_destroy_ioreq_server,
  XEN_DMOP_track_dirty_vram,
  XEN_DMOP_set_pci_intx_level,
  XEN_DMOP_set_isa_irq_level,
  XEN_DMOP_set_pci_link_route,
  XEN_DMOP_modified_memory,
  XEN_DMOP_set_mem_type,
  XEN_DMOP_inject_event,
  XEN_DMOP_inject_msi,
  XEN_DMOP_map_mem_type_to_ioreq_server,
  XEN_DMOP_remote_shutdown,
  XEN_DMOP_relocate_memory,
  XEN_DMOP_pin_memory_cacheattr,
  XEN_DMOP_set_irq_level,
  XEN_DMOP_nr_vcpus,
} as const;

/** Every numeric #define of dm_op.h. */
export const DM_OP_H_CONSTANTS: Readonly<Record<string, number>> = {
  ...XEN_DMOP_OPS,
  _XEN_DMOP_no_gfns,
  XEN_DMOP_no_gfns,
  XEN_DMOP_IO_RANGE_PORT,
  XEN_DMOP_IO_RANGE_MEMORY,
  XEN_DMOP_IO_RANGE_PCI,
  XEN_DMOP_EVENT_ext_int,
  XEN_DMOP_EVENT_nmi,
  XEN_DMOP_EVENT_hw_exc,
  XEN_DMOP_EVENT_sw_int,
  XEN_DMOP_EVENT_pri_sw_exc,
  XEN_DMOP_EVENT_sw_exc,
  XEN_DMOP_IOREQ_MEM_ACCESS_READ,
  XEN_DMOP_IOREQ_MEM_ACCESS_WRITE,
  XEN_DMOP_MEM_CACHEATTR_UC,
  XEN_DMOP_MEM_CACHEATTR_WC,
  XEN_DMOP_MEM_CACHEATTR_WT,
  XEN_DMOP_MEM_CACHEATTR_WP,
  XEN_DMOP_MEM_CACHEATTR_WB,
  XEN_DMOP_MEM_CACHEATTR_UCM,
  XEN_DMOP_DELETE_MEM_CACHEATTR,
};

/** Builds an enum table that accepts both `PREFIX_name` and the bare `name`. */
function withBare(prefix: string, t: Readonly<Record<string, number>>): EnumTable {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) {
    out[k] = v;
    if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  }
  return out;
}

const pick = (re: RegExp): Record<string, number> =>
  Object.fromEntries(Object.entries(DM_OP_H_CONSTANTS).filter(([k]) => re.test(k)));

export const XEN_DMOP_OP_NAMES: EnumTable = withBare("XEN_DMOP_", XEN_DMOP_OPS);
const IO_RANGE_NAMES = withBare("XEN_DMOP_IO_RANGE_", pick(/^XEN_DMOP_IO_RANGE_/));
const EVENT_NAMES = withBare("XEN_DMOP_EVENT_", pick(/^XEN_DMOP_EVENT_/));
const MEM_ACCESS_NAMES = withBare("XEN_DMOP_IOREQ_MEM_ACCESS_", pick(/^XEN_DMOP_IOREQ_MEM_ACCESS_/));
const CACHEATTR_NAMES = withBare("XEN_DMOP_MEM_CACHEATTR_", {
  ...pick(/^XEN_DMOP_MEM_CACHEATTR_/),
  XEN_DMOP_DELETE_MEM_CACHEATTR,
});
const GET_INFO_FLAGS: EnumTable = { XEN_DMOP_no_gfns, no_gfns: XEN_DMOP_no_gfns };

const u8 = (name: string, extra: Partial<FieldDecl> = {}): FieldDecl => ({ name, type: "u8", ...extra });
const u16 = (name: string, extra: Partial<FieldDecl> = {}): FieldDecl => ({ name, type: "u16", ...extra });
const u32 = (name: string, extra: Partial<FieldDecl> = {}): FieldDecl => ({ name, type: "u32", ...extra });
const u64a = (name: string): FieldDecl => ({ name, type: "u64a" });
const pad = (name: string, type: "u8" | "u16" | "u32", count?: number): FieldDecl => ({
  name,
  type,
  pad: true,
  ...(count !== undefined ? { count } : {}),
});

const struct = (name: string, fields: FieldDecl[], typedef: string | null = name + "_t"): StructDecl => ({
  kind: "struct",
  name,
  ...(typedef !== null ? { typedef } : {}),
  fields,
});

export const xen_dm_op_create_ioreq_server = struct("xen_dm_op_create_ioreq_server", [
  u8("handle_bufioreq", { enum: HVM_IOREQSRV_BUFIOREQ_NAMES }), // IN
  pad("pad", "u8", 3),
  u16("id"), // OUT
]);
export const xen_dm_op_get_ioreq_server_info = struct("xen_dm_op_get_ioreq_server_info", [
  u16("id"), // IN
  u16("flags", { enum: GET_INFO_FLAGS }), // IN
  u32("bufioreq_port"), // OUT
  u64a("ioreq_gfn"), // OUT
  u64a("bufioreq_gfn"), // OUT
]);
export const xen_dm_op_ioreq_server_range = struct("xen_dm_op_ioreq_server_range", [
  u16("id"),
  pad("pad", "u16"),
  u32("type", { enum: IO_RANGE_NAMES }),
  u64a("start"),
  u64a("end"),
]);
export const xen_dm_op_set_ioreq_server_state = struct("xen_dm_op_set_ioreq_server_state", [
  u16("id"),
  u8("enabled"),
  pad("pad", "u8"),
]);
export const xen_dm_op_destroy_ioreq_server = struct("xen_dm_op_destroy_ioreq_server", [u16("id"), pad("pad", "u16")]);
export const xen_dm_op_track_dirty_vram = struct("xen_dm_op_track_dirty_vram", [
  u32("nr"),
  pad("pad", "u32"),
  u64a("first_pfn"),
]);
export const xen_dm_op_set_pci_intx_level = struct("xen_dm_op_set_pci_intx_level", [
  u16("domain"),
  u8("bus"),
  u8("device"),
  u8("intx"),
  u8("level"),
]);
export const xen_dm_op_set_isa_irq_level = struct("xen_dm_op_set_isa_irq_level", [u8("isa_irq"), u8("level")]);
export const xen_dm_op_set_pci_link_route = struct("xen_dm_op_set_pci_link_route", [u8("link"), u8("isa_irq")]);
export const xen_dm_op_modified_memory = struct("xen_dm_op_modified_memory", [
  u32("nr_extents"), // IN/OUT
  u32("opaque"), // IN/OUT
]);
export const xen_dm_op_modified_memory_extent = struct(
  "xen_dm_op_modified_memory_extent",
  [u32("nr"), pad("pad", "u32"), u64a("first_pfn")],
  null,
);
export const xen_dm_op_set_mem_type = struct("xen_dm_op_set_mem_type", [
  u32("nr"),
  u16("mem_type", { enum: HVMMEM_NAMES }),
  pad("pad", "u16"),
  u64a("first_pfn"),
]);
export const xen_dm_op_inject_event = struct("xen_dm_op_inject_event", [
  u32("vcpuid"),
  u8("vector"),
  u8("type", { enum: EVENT_NAMES }),
  u8("insn_len"),
  pad("pad0", "u8"),
  u32("error_code"),
  pad("pad1", "u32"),
  u64a("cr2"),
]);
export const xen_dm_op_inject_msi = struct("xen_dm_op_inject_msi", [u32("data"), pad("pad", "u32"), u64a("addr")]);
export const xen_dm_op_map_mem_type_to_ioreq_server = struct("xen_dm_op_map_mem_type_to_ioreq_server", [
  u16("id"),
  u16("type", { enum: HVMMEM_NAMES }),
  u32("flags", { enum: MEM_ACCESS_NAMES }),
  { name: "opaque", type: "u64" }, // plain uint64_t: 4-byte aligned on i386
]);
export const xen_dm_op_remote_shutdown = struct("xen_dm_op_remote_shutdown", [u32("reason", { enum: withBare("SHUTDOWN_", SHUTDOWN_NAMES) })]);
export const xen_dm_op_relocate_memory = struct("xen_dm_op_relocate_memory", [
  u32("size"),
  pad("pad", "u32"),
  u64a("src_gfn"),
  u64a("dst_gfn"),
]);
export const xen_dm_op_pin_memory_cacheattr = struct("xen_dm_op_pin_memory_cacheattr", [
  u64a("start"),
  u64a("end"),
  u32("type", { enum: CACHEATTR_NAMES }),
  pad("pad", "u32"),
]);
export const xen_dm_op_set_irq_level = struct("xen_dm_op_set_irq_level", [u32("irq"), u8("level"), pad("pad", "u8", 3)]);
export const xen_dm_op_nr_vcpus = struct("xen_dm_op_nr_vcpus", [u32("vcpus")]);

/** The members of `xen_dm_op.u`, in header order, with the op that selects each. */
const UNION_MEMBERS: ReadonlyArray<readonly [string, StructDecl, number]> = [
  ["create_ioreq_server", xen_dm_op_create_ioreq_server, XEN_DMOP_create_ioreq_server],
  ["get_ioreq_server_info", xen_dm_op_get_ioreq_server_info, XEN_DMOP_get_ioreq_server_info],
  ["map_io_range_to_ioreq_server", xen_dm_op_ioreq_server_range, XEN_DMOP_map_io_range_to_ioreq_server],
  ["unmap_io_range_from_ioreq_server", xen_dm_op_ioreq_server_range, XEN_DMOP_unmap_io_range_from_ioreq_server],
  ["set_ioreq_server_state", xen_dm_op_set_ioreq_server_state, XEN_DMOP_set_ioreq_server_state],
  ["destroy_ioreq_server", xen_dm_op_destroy_ioreq_server, XEN_DMOP_destroy_ioreq_server],
  ["track_dirty_vram", xen_dm_op_track_dirty_vram, XEN_DMOP_track_dirty_vram],
  ["set_pci_intx_level", xen_dm_op_set_pci_intx_level, XEN_DMOP_set_pci_intx_level],
  ["set_isa_irq_level", xen_dm_op_set_isa_irq_level, XEN_DMOP_set_isa_irq_level],
  ["set_irq_level", xen_dm_op_set_irq_level, XEN_DMOP_set_irq_level],
  ["set_pci_link_route", xen_dm_op_set_pci_link_route, XEN_DMOP_set_pci_link_route],
  ["modified_memory", xen_dm_op_modified_memory, XEN_DMOP_modified_memory],
  ["set_mem_type", xen_dm_op_set_mem_type, XEN_DMOP_set_mem_type],
  ["inject_event", xen_dm_op_inject_event, XEN_DMOP_inject_event],
  ["inject_msi", xen_dm_op_inject_msi, XEN_DMOP_inject_msi],
  ["map_mem_type_to_ioreq_server", xen_dm_op_map_mem_type_to_ioreq_server, XEN_DMOP_map_mem_type_to_ioreq_server],
  ["remote_shutdown", xen_dm_op_remote_shutdown, XEN_DMOP_remote_shutdown],
  ["relocate_memory", xen_dm_op_relocate_memory, XEN_DMOP_relocate_memory],
  ["pin_memory_cacheattr", xen_dm_op_pin_memory_cacheattr, XEN_DMOP_pin_memory_cacheattr],
  ["nr_vcpus", xen_dm_op_nr_vcpus, XEN_DMOP_nr_vcpus],
];

/** op -> { member of xen_dm_op.u, its struct tag }; index 0 is empty (no op 0). Length 21. */
export const dmOpMembers: ReadonlyArray<{ readonly member: string; readonly type: string } | undefined> = (() => {
  const t: ({ member: string; type: string } | undefined)[] = new Array<undefined>(21).fill(undefined);
  for (const [member, decl, op] of UNION_MEMBERS) t[op] = { member, type: decl.name };
  return t;
})();

export const xen_dm_op_u: UnionDecl = {
  kind: "union",
  name: "xen_dm_op.u",
  fields: UNION_MEMBERS.map(([member, decl]) => ({ name: member, type: decl })),
};

export const xen_dm_op: StructDecl = {
  kind: "struct",
  name: "xen_dm_op",
  fields: [
    u32("op", { enum: XEN_DMOP_OP_NAMES }),
    pad("pad", "u32"),
    {
      name: "u",
      type: xen_dm_op_u,
      select: {
        by: "op",
        members: Object.fromEntries(UNION_MEMBERS.map(([member, , op]) => [op, member])),
      },
    },
  ],
};

export const xen_dm_op_buf = struct("xen_dm_op_buf", [
  { name: "h", type: "guest_handle_void" },
  { name: "size", type: "xen_ulong_t" },
]);

/** The aggregates of dm_op.h in header order. */
export const DM_OP_H_TYPES: readonly StructDecl[] = [
  xen_dm_op_create_ioreq_server,
  xen_dm_op_get_ioreq_server_info,
  xen_dm_op_ioreq_server_range,
  xen_dm_op_set_ioreq_server_state,
  xen_dm_op_destroy_ioreq_server,
  xen_dm_op_track_dirty_vram,
  xen_dm_op_set_pci_intx_level,
  xen_dm_op_set_isa_irq_level,
  xen_dm_op_set_pci_link_route,
  xen_dm_op_modified_memory,
  xen_dm_op_modified_memory_extent,
  xen_dm_op_set_mem_type,
  xen_dm_op_inject_event,
  xen_dm_op_inject_msi,
  xen_dm_op_map_mem_type_to_ioreq_server,
  xen_dm_op_remote_shutdown,
  xen_dm_op_relocate_memory,
  xen_dm_op_pin_memory_cacheattr,
  xen_dm_op_set_irq_level,
  xen_dm_op_nr_vcpus,
  xen_dm_op,
  xen_dm_op_buf,
];
