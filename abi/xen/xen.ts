// xen/include/public/xen.h, sched.h and memory.h: domain ids, shutdown reasons, hypercall numbers,
// resource types.

export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;
export const DOMID_MASK = 0x7fff;

export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
export const SHUTDOWN_soft_reset = 5;
export const SHUTDOWN_MAX = 5;

export const __HYPERVISOR_memory_op = 12;
export const __HYPERVISOR_multicall = 13;
export const __HYPERVISOR_hvm_op = 34;
export const __HYPERVISOR_dm_op = 41;

export const XENMEM_increase_reservation = 0;
export const XENMEM_decrease_reservation = 1;
export const XENMEM_populate_physmap = 6;
/** memory.h: cmd[:6] is the start extent of a continued reservation command. */
export const MEMOP_EXTENT_SHIFT = 6;
export const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;
/** sizeof(struct multicall_entry) and sizeof(struct xen_memory_reservation) on x86_64. */
export const MULTICALL_ENTRY_SIZE = 64;
export const XEN_MEMORY_RESERVATION_SIZE = 32;
export const XENMEM_acquire_resource = 28;
export const XENMEM_resource_ioreq_server = 0;
export const XENMEM_resource_ioreq_server_frame_bufioreq = 0;
/** XENMEM_resource_ioreq_server_frame_ioreq(n) */
export const XENMEM_resource_ioreq_server_frame_ioreq = (n: number): number => 1 + n;
/** XENMEM_resource_ioreq_server_frame_ioreq(0): the first (and on x86 only) sync ioreq frame */
export const XENMEM_resource_ioreq_server_frame_ioreq_0 = XENMEM_resource_ioreq_server_frame_ioreq(0);

export const DOMID_NAMES: Readonly<Record<string, number>> = {
  DOMID_FIRST_RESERVED,
  DOMID_SELF,
  DOMID_IO,
  DOMID_XEN,
  DOMID_COW,
  DOMID_INVALID,
  DOMID_IDLE,
  DOMID_MASK,
};

export const SHUTDOWN_NAMES: Readonly<Record<string, number>> = {
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  SHUTDOWN_suspend,
  SHUTDOWN_crash,
  SHUTDOWN_watchdog,
  SHUTDOWN_soft_reset,
};

export const XEN_H_CONSTANTS: Readonly<Record<string, number>> = {
  ...DOMID_NAMES,
  ...SHUTDOWN_NAMES,
  __HYPERVISOR_memory_op,
  __HYPERVISOR_multicall,
  __HYPERVISOR_hvm_op,
  __HYPERVISOR_dm_op,
  XENMEM_increase_reservation,
  XENMEM_decrease_reservation,
  XENMEM_populate_physmap,
  XENMEM_acquire_resource,
  XENMEM_resource_ioreq_server,
  XENMEM_resource_ioreq_server_frame_bufioreq,
  XENMEM_resource_ioreq_server_frame_ioreq_0,
};
