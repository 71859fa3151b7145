/*
 * The types recorded in fixtures/layouts/<arch>.json, in header order, with
 * their direct members in declaration order.
 *
 *   T(NAME, CTYPE)               a type, recorded as NAME
 *   F(NAME, CTYPE, FIELD)        a member (arrays: offset and total size)
 *   B(NAME, CTYPE, FIELD, SLOT)  a bitfield member; SLOT names the member of
 *                                struct probe_rec's image union holding CTYPE
 *
 * An anonymous nested aggregate is recorded as "<outer>.<member>"; the guest
 * handle under the name of the typedef XEN_GUEST_HANDLE(void) expands to.
 */
#if defined(__arm__) || defined(__aarch64__)
/* arm: union { void *p; uint64_aligned_t q; } */
#define PROBE_GUEST_HANDLE_FIELDS(F) \
    F(PROBE_GUEST_HANDLE_VOID_NAME, probe_guest_handle_void, p) \
    F(PROBE_GUEST_HANDLE_VOID_NAME, probe_guest_handle_void, q)
#else
/* x86 tools: struct { void *p; } */
#define PROBE_GUEST_HANDLE_FIELDS(F) \
    F(PROBE_GUEST_HANDLE_VOID_NAME, probe_guest_handle_void, p)
#endif

#define S_(t) struct t
#define PROBE_TYPES(T, F, B) \
    /* xen/xen.h (arch header) */ \
    T(PROBE_GUEST_HANDLE_VOID_NAME, probe_guest_handle_void) \
    PROBE_GUEST_HANDLE_FIELDS(F) \
    /* xen/hvm/dm_op.h */ \
    T("xen_dm_op_create_ioreq_server", S_(xen_dm_op_create_ioreq_server)) \
    F("xen_dm_op_create_ioreq_server", S_(xen_dm_op_create_ioreq_server), handle_bufioreq) \
    F("xen_dm_op_create_ioreq_server", S_(xen_dm_op_create_ioreq_server), pad) \
    F("xen_dm_op_create_ioreq_server", S_(xen_dm_op_create_ioreq_server), id) \
    T("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info)) \
    F("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info), id) \
    F("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info), flags) \
    F("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info), bufioreq_port) \
    F("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info), ioreq_gfn) \
    F("xen_dm_op_get_ioreq_server_info", S_(xen_dm_op_get_ioreq_server_info), bufioreq_gfn) \
    T("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range)) \
    F("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range), id) \
    F("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range), pad) \
    F("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range), type) \
    F("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range), start) \
    F("xen_dm_op_ioreq_server_range", S_(xen_dm_op_ioreq_server_range), end) \
    T("xen_dm_op_set_ioreq_server_state", S_(xen_dm_op_set_ioreq_server_state)) \
    F("xen_dm_op_set_ioreq_server_state", S_(xen_dm_op_set_ioreq_server_state), id) \
    F("xen_dm_op_set_ioreq_server_state", S_(xen_dm_op_set_ioreq_server_state), enabled) \
    F("xen_dm_op_set_ioreq_server_state", S_(xen_dm_op_set_ioreq_server_state), pad) \
    T("xen_dm_op_destroy_ioreq_server", S_(xen_dm_op_destroy_ioreq_server)) \
    F("xen_dm_op_destroy_ioreq_server", S_(xen_dm_op_destroy_ioreq_server), id) \
    F("xen_dm_op_destroy_ioreq_server", S_(xen_dm_op_destroy_ioreq_server), pad) \
    T("xen_dm_op_track_dirty_vram", S_(xen_dm_op_track_dirty_vram)) \
    F("xen_dm_op_track_dirty_vram", S_(xen_dm_op_track_dirty_vram), nr) \
    F("xen_dm_op_track_dirty_vram", S_(xen_dm_op_track_dirty_vram), pad) \
    F("xen_dm_op_track_dirty_vram", S_(xen_dm_op_track_dirty_vram), first_pfn) \
    T("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level)) \
    F("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level), domain) \
    F("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level), bus) \
    F("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level), device) \
    F("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level), intx) \
    F("xen_dm_op_set_pci_intx_level", S_(xen_dm_op_set_pci_intx_level), level) \
    T("xen_dm_op_set_isa_irq_level", S_(xen_dm_op_set_isa_irq_level)) \
    F("xen_dm_op_set_isa_irq_level", S_(xen_dm_op_set_isa_irq_level), isa_irq) \
    F("xen_dm_op_set_isa_irq_level", S_(xen_dm_op_set_isa_irq_level), level) \
    T("xen_dm_op_set_pci_link_route", S_(xen_dm_op_set_pci_link_route)) \
    F("xen_dm_op_set_pci_link_route", S_(xen_dm_op_set_pci_link_route), link) \
    F("xen_dm_op_set_pci_link_route", S_(xen_dm_op_set_pci_link_route), isa_irq) \
    T("xen_dm_op_modified_memory", S_(xen_dm_op_modified_memory)) \
    F("xen_dm_op_modified_memory", S_(xen_dm_op_modified_memory), nr_extents) \
    F("xen_dm_op_modified_memory", S_(xen_dm_op_modified_memory), opaque) \
    T("xen_dm_op_modified_memory_extent", S_(xen_dm_op_modified_memory_extent)) \
    F("xen_dm_op_modified_memory_extent", S_(xen_dm_op_modified_memory_extent), nr) \
    F("xen_dm_op_modified_memory_extent", S_(xen_dm_op_modified_memory_extent), pad) \
    F("xen_dm_op_modified_memory_extent", S_(xen_dm_op_modified_memory_extent), first_pfn) \
    T("xen_dm_op_set_mem_type", S_(xen_dm_op_set_mem_type)) \
    F("xen_dm_op_set_mem_type", S_(xen_dm_op_set_mem_type), nr) \
    F("xen_dm_op_set_mem_type", S_(xen_dm_op_set_mem_type), mem_type) \
    F("xen_dm_op_set_mem_type", S_(xen_dm_op_set_mem_type), pad) \
    F("xen_dm_op_set_mem_type", S_(xen_dm_op_set_mem_type), first_pfn) \
    T("xen_dm_op_inject_event", S_(xen_dm_op_inject_event)) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), vcpuid) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), vector) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), type) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), insn_len) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), pad0) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), error_code) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), pad1) \
    F("xen_dm_op_inject_event", S_(xen_dm_op_inject_event), cr2) \
    T("xen_dm_op_inject_msi", S_(xen_dm_op_inject_msi)) \
    F("xen_dm_op_inject_msi", S_(xen_dm_op_inject_msi), data) \
    F("xen_dm_op_inject_msi", S_(xen_dm_op_inject_msi), pad) \
    F("xen_dm_op_inject_msi", S_(xen_dm_op_inject_msi), addr) \
    T("xen_dm_op_map_mem_type_to_ioreq_server", S_(xen_dm_op_map_mem_type_to_ioreq_server)) \
    F("xen_dm_op_map_mem_type_to_ioreq_server", S_(xen_dm_op_map_mem_type_to_ioreq_server), id) \
    F("xen_dm_op_map_mem_type_to_ioreq_server", S_(xen_dm_op_map_mem_type_to_ioreq_server), type) \
    F("xen_dm_op_map_mem_type_to_ioreq_server", S_(xen_dm_op_map_mem_type_to_ioreq_server), flags) \
    F("xen_dm_op_map_mem_type_to_ioreq_server", S_(xen_dm_op_map_mem_type_to_ioreq_server), opaque) \
    T("xen_dm_op_remote_shutdown", S_(xen_dm_op_remote_shutdown)) \
    F("xen_dm_op_remote_shutdown", S_(xen_dm_op_remote_shutdown), reason) \
    T("xen_dm_op_relocate_memory", S_(xen_dm_op_relocate_memory)) \
    F("xen_dm_op_relocate_memory", S_(xen_dm_op_relocate_memory), size) \
    F("xen_dm_op_relocate_memory", S_(xen_dm_op_relocate_memory), pad) \
    F("xen_dm_op_relocate_memory", S_(xen_dm_op_relocate_memory), src_gfn) \
    F("xen_dm_op_relocate_memory", S_(xen_dm_op_relocate_memory), dst_gfn) \
    T("xen_dm_op_pin_memory_cacheattr", S_(xen_dm_op_pin_memory_cacheattr)) \
    F("xen_dm_op_pin_memory_cacheattr", S_(xen_dm_op_pin_memory_cacheattr), start) \
    F("xen_dm_op_pin_memory_cacheattr", S_(xen_dm_op_pin_memory_cacheattr), end) \
    F("xen_dm_op_pin_memory_cacheattr", S_(xen_dm_op_pin_memory_cacheattr), type) \
    F("xen_dm_op_pin_memory_cacheattr", S_(xen_dm_op_pin_memory_cacheattr), pad) \
    T("xen_dm_op_set_irq_level", S_(xen_dm_op_set_irq_level)) \
    F("xen_dm_op_set_irq_level", S_(xen_dm_op_set_irq_level), irq) \
    F("xen_dm_op_set_irq_level", S_(xen_dm_op_set_irq_level), level) \
    F("xen_dm_op_set_irq_level", S_(xen_dm_op_set_irq_level), pad) \
    T("xen_dm_op_nr_vcpus", S_(xen_dm_op_nr_vcpus)) \
    F("xen_dm_op_nr_vcpus", S_(xen_dm_op_nr_vcpus), vcpus) \
    T("xen_dm_op", S_(xen_dm_op)) \
    F("xen_dm_op", S_(xen_dm_op), op) \
    F("xen_dm_op", S_(xen_dm_op), pad) \
    F("xen_dm_op", S_(xen_dm_op), u) \
    T("xen_dm_op.u", probe_xen_dm_op_u) \
    F("xen_dm_op.u", probe_xen_dm_op_u, create_ioreq_server) \
    F("xen_dm_op.u", probe_xen_dm_op_u, get_ioreq_server_info) \
    F("xen_dm_op.u", probe_xen_dm_op_u, map_io_range_to_ioreq_server) \
    F("xen_dm_op.u", probe_xen_dm_op_u, unmap_io_range_from_ioreq_server) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_ioreq_server_state) \
    F("xen_dm_op.u", probe_xen_dm_op_u, destroy_ioreq_server) \
    F("xen_dm_op.u", probe_xen_dm_op_u, track_dirty_vram) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_pci_intx_level) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_isa_irq_level) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_irq_level) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_pci_link_route) \
    F("xen_dm_op.u", probe_xen_dm_op_u, modified_memory) \
    F("xen_dm_op.u", probe_xen_dm_op_u, set_mem_type) \
    F("xen_dm_op.u", probe_xen_dm_op_u, inject_event) \
    F("xen_dm_op.u", probe_xen_dm_op_u, inject_msi) \
    F("xen_dm_op.u", probe_xen_dm_op_u, map_mem_type_to_ioreq_server) \
    F("xen_dm_op.u", probe_xen_dm_op_u, remote_shutdown) \
    F("xen_dm_op.u", probe_xen_dm_op_u, relocate_memory) \
    F("xen_dm_op.u", probe_xen_dm_op_u, pin_memory_cacheattr) \
    F("xen_dm_op.u", probe_xen_dm_op_u, nr_vcpus) \
    T("xen_dm_op_buf", S_(xen_dm_op_buf)) \
    F("xen_dm_op_buf", S_(xen_dm_op_buf), h) \
    F("xen_dm_op_buf", S_(xen_dm_op_buf), size) \
    /* xen/hvm/ioreq.h */ \
    T("ioreq", S_(ioreq)) \
    F("ioreq", S_(ioreq), addr) \
    F("ioreq", S_(ioreq), data) \
    F("ioreq", S_(ioreq), count) \
    F("ioreq", S_(ioreq), size) \
    F("ioreq", S_(ioreq), vp_eport) \
    F("ioreq", S_(ioreq), _pad0) \
    B("ioreq", S_(ioreq), state, ioreq) \
    B("ioreq", S_(ioreq), data_is_ptr, ioreq) \
    B("ioreq", S_(ioreq), dir, ioreq) \
    B("ioreq", S_(ioreq), df, ioreq) \
    B("ioreq", S_(ioreq), _pad1, ioreq) \
    F("ioreq", S_(ioreq), type) \
    T("shared_iopage", S_(shared_iopage)) \
    F("shared_iopage", S_(shared_iopage), vcpu_ioreq) \
    T("buf_ioreq", S_(buf_ioreq)) \
    F("buf_ioreq", S_(buf_ioreq), type) \
    B("buf_ioreq", S_(buf_ioreq), pad, buf_ioreq) \
    B("buf_ioreq", S_(buf_ioreq), dir, buf_ioreq) \
    B("buf_ioreq", S_(buf_ioreq), size, buf_ioreq) \
    B("buf_ioreq", S_(buf_ioreq), addr, buf_ioreq) \
    F("buf_ioreq", S_(buf_ioreq), data) \
    T("buffered_iopage", S_(buffered_iopage)) \
    F("buffered_iopage", S_(buffered_iopage), read_pointer) \
    F("buffered_iopage", S_(buffered_iopage), write_pointer) \
    F("buffered_iopage", S_(buffered_iopage), buf_ioreq) \
    /* xen/hvm/hvm_op.h */ \
    T("xen_hvm_get_mem_type", S_(xen_hvm_get_mem_type)) \
    F("xen_hvm_get_mem_type", S_(xen_hvm_get_mem_type), domid) \
    F("xen_hvm_get_mem_type", S_(xen_hvm_get_mem_type), mem_type) \
    F("xen_hvm_get_mem_type", S_(xen_hvm_get_mem_type), pad) \
    F("xen_hvm_get_mem_type", S_(xen_hvm_get_mem_type), pfn) \
    /* xen/sys/privcmd.h */ \
    T("privcmd_hypercall", S_(privcmd_hypercall)) \
    F("privcmd_hypercall", S_(privcmd_hypercall), op) \
    F("privcmd_hypercall", S_(privcmd_hypercall), arg) \
    T("privcmd_dm_op_buf", S_(privcmd_dm_op_buf)) \
    F("privcmd_dm_op_buf", S_(privcmd_dm_op_buf), uptr) \
    F("privcmd_dm_op_buf", S_(privcmd_dm_op_buf), size) \
    T("privcmd_dm_op", S_(privcmd_dm_op)) \
    F("privcmd_dm_op", S_(privcmd_dm_op), dom) \
    F("privcmd_dm_op", S_(privcmd_dm_op), num) \
    F("privcmd_dm_op", S_(privcmd_dm_op), ubufs) \
    T("privcmd_mmap_resource", S_(privcmd_mmap_resource)) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), dom) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), type) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), id) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), idx) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), num) \
    F("privcmd_mmap_resource", S_(privcmd_mmap_resource), addr)
