/*
 * The constants recorded in fixtures/layouts/<arch>.json, in output order.
 *
 *   K(NAME)          the macro or enumerator NAME, recorded under its own name
 *   KX(NAME, EXPR)   EXPR (a function-like macro applied), recorded as NAME
 *
 * Every object-like numeric #define of xen/hvm/dm_op.h and xen/hvm/ioreq.h
 * must appear here: generate.sh checks this list against the preprocessor's
 * view of those two headers.  The XEN_E* errno values are not listed here:
 * layouts.c expands the XEN_ERRNO list of xen/errno.h itself, so the fixture
 * holds exactly the entries a tools build sees (EINTR and ERESTART are
 * hypervisor-internal and absent).
 */
#define PROBE_CONSTANTS(K, KX) \
    /* xen/hvm/dm_op.h: operation numbers */ \
    K(XEN_DMOP_create_ioreq_server) \
    K(XEN_DMOP_get_ioreq_server_info) \
    K(XEN_DMOP_map_io_range_to_ioreq_server) \
    K(XEN_DMOP_unmap_io_range_from_ioreq_server) \
    K(XEN_DMOP_set_ioreq_server_state) \
    K(XEN_DMOP_destroy_ioreq_server) \
    K(XEN_DMOP_track_dirty_vram) \
    K(XEN_DMOP_set_pci_intx_level) \
    K(XEN_DMOP_set_isa_irq_level) \
    K(XEN_DMOP_set_pci_link_route) \
    K(XEN_DMOP_modified_memory) \
    K(XEN_DMOP_set_mem_type) \
    K(XEN_DMOP_inject_event) \
    K(XEN_DMOP_inject_msi) \
    K(XEN_DMOP_map_mem_type_to_ioreq_server) \
    K(XEN_DMOP_remote_shutdown) \
    K(XEN_DMOP_relocate_memory) \
    K(XEN_DMOP_pin_memory_cacheattr) \
    K(XEN_DMOP_set_irq_level) \
    K(XEN_DMOP_nr_vcpus) \
    /* xen/hvm/dm_op.h: flags and type codes */ \
    K(_XEN_DMOP_no_gfns) \
    K(XEN_DMOP_no_gfns) \
    K(XEN_DMOP_IO_RANGE_PORT) \
    K(XEN_DMOP_IO_RANGE_MEMORY) \
    K(XEN_DMOP_IO_RANGE_PCI) \
    K(XEN_DMOP_EVENT_ext_int) \
    K(XEN_DMOP_EVENT_nmi) \
    K(XEN_DMOP_EVENT_hw_exc) \
    K(XEN_DMOP_EVENT_sw_int) \
    K(XEN_DMOP_EVENT_pri_sw_exc) \
    K(XEN_DMOP_EVENT_sw_exc) \
    K(XEN_DMOP_IOREQ_MEM_ACCESS_READ) \
    K(XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) \
    K(XEN_DMOP_MEM_CACHEATTR_UC) \
    K(XEN_DMOP_MEM_CACHEATTR_WC) \
    K(XEN_DMOP_MEM_CACHEATTR_WT) \
    K(XEN_DMOP_MEM_CACHEATTR_WP) \
    K(XEN_DMOP_MEM_CACHEATTR_WB) \
    K(XEN_DMOP_MEM_CACHEATTR_UCM) \
    K(XEN_DMOP_DELETE_MEM_CACHEATTR) \
    /* xen/hvm/ioreq.h */ \
    K(IOREQ_READ) \
    K(IOREQ_WRITE) \
    K(STATE_IOREQ_NONE) \
    K(STATE_IOREQ_READY) \
    K(STATE_IOREQ_INPROCESS) \
    K(STATE_IORESP_READY) \
    K(IOREQ_TYPE_PIO) \
    K(IOREQ_TYPE_COPY) \
    K(IOREQ_TYPE_PCI_CONFIG) \
    K(IOREQ_TYPE_TIMEOFFSET) \
    K(IOREQ_TYPE_INVALIDATE) \
    K(IOREQ_BUFFER_SLOT_NUM) \
    K(ACPI_PM1A_EVT_BLK_ADDRESS_V0) \
    K(ACPI_PM1A_CNT_BLK_ADDRESS_V0) \
    K(ACPI_PM_TMR_BLK_ADDRESS_V0) \
    K(ACPI_GPE0_BLK_ADDRESS_V0) \
    K(ACPI_GPE0_BLK_LEN_V0) \
    K(ACPI_PM1A_EVT_BLK_ADDRESS_V1) \
    K(ACPI_PM1A_CNT_BLK_ADDRESS_V1) \
    K(ACPI_PM_TMR_BLK_ADDRESS_V1) \
    K(ACPI_GPE0_BLK_ADDRESS_V1) \
    K(ACPI_GPE0_BLK_LEN_V1) \
    K(ACPI_PM1A_EVT_BLK_ADDRESS) \
    K(ACPI_PM1A_CNT_BLK_ADDRESS) \
    K(ACPI_PM_TMR_BLK_ADDRESS) \
    K(ACPI_GPE0_BLK_ADDRESS) \
    K(ACPI_GPE0_BLK_LEN) \
    /* xen/hvm/hvm_op.h */ \
    K(HVMOP_set_param) \
    K(HVMOP_get_param) \
    K(HVMOP_get_mem_type) \
    K(HVMMEM_ram_rw) \
    K(HVMMEM_ram_ro) \
    K(HVMMEM_mmio_dm) \
    K(HVMMEM_unused) \
    K(HVMMEM_ioreq_server) \
    K(HVM_IOREQSRV_BUFIOREQ_OFF) \
    K(HVM_IOREQSRV_BUFIOREQ_LEGACY) \
    K(HVM_IOREQSRV_BUFIOREQ_ATOMIC) \
    /* xen/hvm/params.h */ \
    K(HVM_PARAM_IOREQ_PFN) \
    K(HVM_PARAM_BUFIOREQ_PFN) \
    K(HVM_PARAM_IOREQ_SERVER_PFN) \
    K(HVM_PARAM_NR_IOREQ_SERVER_PAGES) \
    /* xen/xen.h */ \
    K(__HYPERVISOR_memory_op) \
    K(__HYPERVISOR_multicall) \
    K(__HYPERVISOR_hvm_op) \
    K(__HYPERVISOR_dm_op) \
    K(DOMID_FIRST_RESERVED) \
    K(DOMID_SELF) \
    K(DOMID_IO) \
    K(DOMID_XEN) \
    K(DOMID_COW) \
    K(DOMID_INVALID) \
    K(DOMID_IDLE) \
    K(DOMID_MASK) \
    /* xen/sched.h */ \
    K(SHUTDOWN_poweroff) \
    K(SHUTDOWN_reboot) \
    K(SHUTDOWN_suspend) \
    K(SHUTDOWN_crash) \
    K(SHUTDOWN_watchdog) \
    K(SHUTDOWN_soft_reset) \
    /* xen/memory.h */ \
    K(XENMEM_increase_reservation) \
    K(XENMEM_decrease_reservation) \
    K(XENMEM_populate_physmap) \
    K(XENMEM_acquire_resource) \
    K(XENMEM_resource_ioreq_server) \
    K(XENMEM_resource_ioreq_server_frame_bufioreq) \
    KX(XENMEM_resource_ioreq_server_frame_ioreq_0, XENMEM_resource_ioreq_server_frame_ioreq(0)) \
    /* xen/sys/privcmd.h (sizes of the argument structs are encoded) */ \
    K(IOCTL_PRIVCMD_HYPERCALL) \
    K(IOCTL_PRIVCMD_MMAP) \
    K(IOCTL_PRIVCMD_MMAPBATCH) \
    K(IOCTL_PRIVCMD_MMAPBATCH_V2) \
    K(IOCTL_PRIVCMD_DM_OP) \
    K(IOCTL_PRIVCMD_RESTRICT) \
    K(IOCTL_PRIVCMD_MMAP_RESOURCE) \
    K(IOCTL_PRIVCMD_UNIMPLEMENTED)
