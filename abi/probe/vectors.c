/*
 * Golden vectors: fills the real C structs of the installed Xen headers with
 * distinctive values (memset 0 first), dumps their bytes, and writes
 * language-neutral JSON, one file per type:
 *
 *   vectors OUTDIR     writes OUTDIR/x86_64/<type>.json (host build)
 *   vectors --blob FILE --arch ARCH --types T1,T2 OUTDIR
 *                      writes OUTDIR/ARCH/<type>.json from the record table
 *                      of a cross-compiled vectors_cross.c (section xendm_vectors)
 *
 * Value JSON uses the C field names; integers of at most 32 bits are numbers,
 * 64-bit integers decimal strings, arrays arrays, unions {"<member>": ...}.
 * must_fail cases (truncated, trailing, nonzero-pad, bad-op) are derived from
 * offsetof/sizeof of the same structs.  docs/fixtures.md describes the format.
 */
#include "probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "json.h"
#include "patterns.h"
#include "vectors_cross.h"

static const char *arch_name = "x86_64";

/* ---- field descriptors (non-bitfield members, declaration order) ---- */

enum fkind { FK_INT, FK_PAD, FK_PTR, FK_ARR, FK_PADARR, FK_UNION, FK_SUB };

struct fdesc {
    const char *name;
    size_t off, size, elem;
    enum fkind kind;
    const struct tdesc *sub;    /* FK_SUB and arrays of structs */
};

struct tdesc {
    const char *name;
    size_t size;
    const struct fdesc *fields;
    size_t nfields;
    void (*print_value)(const struct tdesc *, const unsigned char *);   /* NULL: generic */
};

#define MEMBER_SIZE(T, f) sizeof(((T *)0)->f)
#define FI(T, f)  { #f, offsetof(T, f), MEMBER_SIZE(T, f), MEMBER_SIZE(T, f), FK_INT, NULL }
#define FP(T, f)  { #f, offsetof(T, f), MEMBER_SIZE(T, f), MEMBER_SIZE(T, f), FK_PAD, NULL }
#define FPTR(T, f) { #f, offsetof(T, f), MEMBER_SIZE(T, f), MEMBER_SIZE(T, f), FK_PTR, NULL }
#define FA(T, f)  { #f, offsetof(T, f), MEMBER_SIZE(T, f), sizeof(((T *)0)->f[0]), FK_ARR, NULL }
#define FPA(T, f) { #f, offsetof(T, f), MEMBER_SIZE(T, f), sizeof(((T *)0)->f[0]), FK_PADARR, NULL }
#define FS(T, f, D) { #f, offsetof(T, f), MEMBER_SIZE(T, f), MEMBER_SIZE(T, f), FK_SUB, &D }
#define FSA(T, f, D) { #f, offsetof(T, f), MEMBER_SIZE(T, f), sizeof(((T *)0)->f[0]), FK_ARR, &D }
#define NF(a) (sizeof(a) / sizeof((a)[0]))
#define TD(NAME, T, F, PV) { NAME, sizeof(T), F, NF(F), PV }

typedef struct xen_dm_op_create_ioreq_server T_create;
typedef struct xen_dm_op_get_ioreq_server_info T_getinfo;
typedef struct xen_dm_op_ioreq_server_range T_range;
typedef struct xen_dm_op_set_ioreq_server_state T_state;
typedef struct xen_dm_op_destroy_ioreq_server T_destroy;
typedef struct xen_dm_op_track_dirty_vram T_vram;
typedef struct xen_dm_op_set_pci_intx_level T_intx;
typedef struct xen_dm_op_set_isa_irq_level T_isa;
typedef struct xen_dm_op_set_pci_link_route T_link;
typedef struct xen_dm_op_modified_memory T_modmem;
typedef struct xen_dm_op_modified_memory_extent T_extent;
typedef struct xen_dm_op_set_mem_type T_memtype;
typedef struct xen_dm_op_inject_event T_event;
typedef struct xen_dm_op_inject_msi T_msi;
typedef struct xen_dm_op_map_mem_type_to_ioreq_server T_mapmem;
typedef struct xen_dm_op_remote_shutdown T_shutdown;
typedef struct xen_dm_op_relocate_memory T_reloc;
typedef struct xen_dm_op_pin_memory_cacheattr T_pin;
typedef struct xen_dm_op_set_irq_level T_irq;
typedef struct xen_dm_op_nr_vcpus T_vcpus;

static const struct fdesc f_create[] = { FI(T_create, handle_bufioreq), FPA(T_create, pad), FI(T_create, id) };
static const struct fdesc f_getinfo[] = { FI(T_getinfo, id), FI(T_getinfo, flags), FI(T_getinfo, bufioreq_port),
                                          FI(T_getinfo, ioreq_gfn), FI(T_getinfo, bufioreq_gfn) };
static const struct fdesc f_range[] = { FI(T_range, id), FP(T_range, pad), FI(T_range, type), FI(T_range, start),
                                        FI(T_range, end) };
static const struct fdesc f_state[] = { FI(T_state, id), FI(T_state, enabled), FP(T_state, pad) };
static const struct fdesc f_destroy[] = { FI(T_destroy, id), FP(T_destroy, pad) };
static const struct fdesc f_vram[] = { FI(T_vram, nr), FP(T_vram, pad), FI(T_vram, first_pfn) };
static const struct fdesc f_intx[] = { FI(T_intx, domain), FI(T_intx, bus), FI(T_intx, device), FI(T_intx, intx),
                                       FI(T_intx, level) };
static const struct fdesc f_isa[] = { FI(T_isa, isa_irq), FI(T_isa, level) };
static const struct fdesc f_link[] = { FI(T_link, link), FI(T_link, isa_irq) };
static const struct fdesc f_modmem[] = { FI(T_modmem, nr_extents), FI(T_modmem, opaque) };
static const struct fdesc f_extent[] = { FI(T_extent, nr), FP(T_extent, pad), FI(T_extent, first_pfn) };
static const struct fdesc f_memtype[] = { FI(T_memtype, nr), FI(T_memtype, mem_type), FP(T_memtype, pad),
                                          FI(T_memtype, first_pfn) };
static const struct fdesc f_event[] = { FI(T_event, vcpuid), FI(T_event, vector), FI(T_event, type),
                                        FI(T_event, insn_len), FP(T_event, pad0), FI(T_event, error_code),
                                        FP(T_event, pad1), FI(T_event, cr2) };
static const struct fdesc f_msi[] = { FI(T_msi, data), FP(T_msi, pad), FI(T_msi, addr) };
static const struct fdesc f_mapmem[] = { FI(T_mapmem, id), FI(T_mapmem, type), FI(T_mapmem, flags),
                                         FI(T_mapmem, opaque) };
static const struct fdesc f_shutdown[] = { FI(T_shutdown, reason) };
static const struct fdesc f_reloc[] = { FI(T_reloc, size), FP(T_reloc, pad), FI(T_reloc, src_gfn),
                                        FI(T_reloc, dst_gfn) };
static const struct fdesc f_pin[] = { FI(T_pin, start), FI(T_pin, end), FI(T_pin, type), FP(T_pin, pad) };
static const struct fdesc f_irq[] = { FI(T_irq, irq), FI(T_irq, level), FPA(T_irq, pad) };
static const struct fdesc f_vcpus[] = { FI(T_vcpus, vcpus) };

static const struct tdesc d_create = TD("xen_dm_op_create_ioreq_server", T_create, f_create, NULL);
static const struct tdesc d_getinfo = TD("xen_dm_op_get_ioreq_server_info", T_getinfo, f_getinfo, NULL);
static const struct tdesc d_range = TD("xen_dm_op_ioreq_server_range", T_range, f_range, NULL);
static const struct tdesc d_state = TD("xen_dm_op_set_ioreq_server_state", T_state, f_state, NULL);
static const struct tdesc d_destroy = TD("xen_dm_op_destroy_ioreq_server", T_destroy, f_destroy, NULL);
static const struct tdesc d_vram = TD("xen_dm_op_track_dirty_vram", T_vram, f_vram, NULL);
static const struct tdesc d_intx = TD("xen_dm_op_set_pci_intx_level", T_intx, f_intx, NULL);
static const struct tdesc d_isa = TD("xen_dm_op_set_isa_irq_level", T_isa, f_isa, NULL);
static const struct tdesc d_link = TD("xen_dm_op_set_pci_link_route", T_link, f_link, NULL);
static const struct tdesc d_modmem = TD("xen_dm_op_modified_memory", T_modmem, f_modmem, NULL);
static const struct tdesc d_extent = TD("xen_dm_op_modified_memory_extent", T_extent, f_extent, NULL);
static const struct tdesc d_memtype = TD("xen_dm_op_set_mem_type", T_memtype, f_memtype, NULL);
static const struct tdesc d_event = TD("xen_dm_op_inject_event", T_event, f_event, NULL);
static const struct tdesc d_msi = TD("xen_dm_op_inject_msi", T_msi, f_msi, NULL);
static const struct tdesc d_mapmem = TD("xen_dm_op_map_mem_type_to_ioreq_server", T_mapmem, f_mapmem, NULL);
static const struct tdesc d_shutdown = TD("xen_dm_op_remote_shutdown", T_shutdown, f_shutdown, NULL);
static const struct tdesc d_reloc = TD("xen_dm_op_relocate_memory", T_reloc, f_reloc, NULL);
static const struct tdesc d_pin = TD("xen_dm_op_pin_memory_cacheattr", T_pin, f_pin, NULL);
static const struct tdesc d_irq = TD("xen_dm_op_set_irq_level", T_irq, f_irq, NULL);
static const struct tdesc d_vcpus = TD("xen_dm_op_nr_vcpus", T_vcpus, f_vcpus, NULL);

/* xen_dm_op: op -> union member (mirrors the union in struct xen_dm_op) */
struct opdesc {
    uint32_t op;
    const char *member;
    size_t off;
    const struct tdesc *payload;
};
#define OPD(OP, M, D) { OP, #M, offsetof(struct xen_dm_op, u.M), &D }
static const struct opdesc ops[] = {
    OPD(XEN_DMOP_create_ioreq_server, create_ioreq_server, d_create),
    OPD(XEN_DMOP_get_ioreq_server_info, get_ioreq_server_info, d_getinfo),
    OPD(XEN_DMOP_map_io_range_to_ioreq_server, map_io_range_to_ioreq_server, d_range),
    OPD(XEN_DMOP_unmap_io_range_from_ioreq_server, unmap_io_range_from_ioreq_server, d_range),
    OPD(XEN_DMOP_set_ioreq_server_state, set_ioreq_server_state, d_state),
    OPD(XEN_DMOP_destroy_ioreq_server, destroy_ioreq_server, d_destroy),
    OPD(XEN_DMOP_track_dirty_vram, track_dirty_vram, d_vram),
    OPD(XEN_DMOP_set_pci_intx_level, set_pci_intx_level, d_intx),
    OPD(XEN_DMOP_set_isa_irq_level, set_isa_irq_level, d_isa),
    OPD(XEN_DMOP_set_pci_link_route, set_pci_link_route, d_link),
    OPD(XEN_DMOP_modified_memory, modified_memory, d_modmem),
    OPD(XEN_DMOP_set_mem_type, set_mem_type, d_memtype),
    OPD(XEN_DMOP_inject_event, inject_event, d_event),
    OPD(XEN_DMOP_inject_msi, inject_msi, d_msi),
    OPD(XEN_DMOP_map_mem_type_to_ioreq_server, map_mem_type_to_ioreq_server, d_mapmem),
    OPD(XEN_DMOP_remote_shutdown, remote_shutdown, d_shutdown),
    OPD(XEN_DMOP_relocate_memory, relocate_memory, d_reloc),
    OPD(XEN_DMOP_pin_memory_cacheattr, pin_memory_cacheattr, d_pin),
    OPD(XEN_DMOP_set_irq_level, set_irq_level, d_irq),
    OPD(XEN_DMOP_nr_vcpus, nr_vcpus, d_vcpus),
};

static const struct opdesc *find_op(uint32_t op)
{
    for (size_t i = 0; i < NF(ops); i++)
        if (ops[i].op == op)
            return &ops[i];
    return NULL;
}

static void print_xen_dm_op(const struct tdesc *, const unsigned char *);
static const struct fdesc f_dmop[] = { FI(struct xen_dm_op, op), FP(struct xen_dm_op, pad),
                                       { "u", offsetof(struct xen_dm_op, u), MEMBER_SIZE(struct xen_dm_op, u),
                                         MEMBER_SIZE(struct xen_dm_op, u), FK_UNION, NULL } };
static const struct tdesc d_dmop = TD("xen_dm_op", struct xen_dm_op, f_dmop, print_xen_dm_op);

static const struct fdesc f_gh[] = { FPTR(probe_guest_handle_void, p) };
static const struct tdesc d_gh = TD(PROBE_GUEST_HANDLE_VOID_NAME, probe_guest_handle_void, f_gh, NULL);
static const struct fdesc f_dmbuf[] = { FS(struct xen_dm_op_buf, h, d_gh), FI(struct xen_dm_op_buf, size) };
static const struct tdesc d_dmbuf = TD("xen_dm_op_buf", struct xen_dm_op_buf, f_dmbuf, NULL);

static void print_ioreq(const struct tdesc *, const unsigned char *);
static void print_buf_ioreq(const struct tdesc *, const unsigned char *);
static const struct fdesc f_ioreq[] = { FI(struct ioreq, addr), FI(struct ioreq, data), FI(struct ioreq, count),
                                        FI(struct ioreq, size), FI(struct ioreq, vp_eport), FP(struct ioreq, _pad0),
                                        FI(struct ioreq, type) };
static const struct tdesc d_ioreq = TD("ioreq", struct ioreq, f_ioreq, print_ioreq);
static const struct fdesc f_bufioreq[] = { FI(struct buf_ioreq, type), FI(struct buf_ioreq, data) };
static const struct tdesc d_bufioreq = TD("buf_ioreq", struct buf_ioreq, f_bufioreq, print_buf_ioreq);
static const struct fdesc f_shpage[] = { FSA(struct shared_iopage, vcpu_ioreq, d_ioreq) };
static const struct tdesc d_shpage = TD("shared_iopage", struct shared_iopage, f_shpage, NULL);
static const struct fdesc f_bufpage[] = { FI(struct buffered_iopage, read_pointer),
                                          FI(struct buffered_iopage, write_pointer),
                                          FSA(struct buffered_iopage, buf_ioreq, d_bufioreq) };
static const struct tdesc d_bufpage = TD("buffered_iopage", struct buffered_iopage, f_bufpage, NULL);

static const struct fdesc f_getmem[] = { FI(struct xen_hvm_get_mem_type, domid), FI(struct xen_hvm_get_mem_type, mem_type),
                                         FPA(struct xen_hvm_get_mem_type, pad), FI(struct xen_hvm_get_mem_type, pfn) };
static const struct tdesc d_getmem = TD("xen_hvm_get_mem_type", struct xen_hvm_get_mem_type, f_getmem, NULL);

static const struct fdesc f_hcall[] = { FI(struct privcmd_hypercall, op), FA(struct privcmd_hypercall, arg) };
static const struct tdesc d_hcall = TD("privcmd_hypercall", struct privcmd_hypercall, f_hcall, NULL);
static const struct fdesc f_pbuf[] = { FPTR(struct privcmd_dm_op_buf, uptr), FI(struct privcmd_dm_op_buf, size) };
static const struct tdesc d_pbuf = TD("privcmd_dm_op_buf", struct privcmd_dm_op_buf, f_pbuf, NULL);
static const struct fdesc f_pdmop[] = { FI(struct privcmd_dm_op, dom), FI(struct privcmd_dm_op, num),
                                        FPTR(struct privcmd_dm_op, ubufs) };
static const struct tdesc d_pdmop = TD("privcmd_dm_op", struct privcmd_dm_op, f_pdmop, NULL);
static const struct fdesc f_mres[] = { FI(struct privcmd_mmap_resource, dom), FI(struct privcmd_mmap_resource, type),
                                       FI(struct privcmd_mmap_resource, id), FI(struct privcmd_mmap_resource, idx),
                                       FI(struct privcmd_mmap_resource, num), FI(struct privcmd_mmap_resource, addr) };
static const struct tdesc d_mres = TD("privcmd_mmap_resource", struct privcmd_mmap_resource, f_mres, NULL);

/* ---- value printing (from the bytes of the C object at the C offsets) ---- */

static uint64_t rd(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);   /* little-endian host */
    return v;
}

static void pnum(const char *key, uint64_t v, size_t size)
{
    if (size > 4)
        ju64s(key, v);
    else
        jint(key, (long long)v);
}

static void print_value(const char *key, const struct tdesc *t, const unsigned char *b);

static void print_fields(const struct tdesc *t, const unsigned char *b)
{
    for (size_t i = 0; i < t->nfields; i++) {
        const struct fdesc *f = &t->fields[i];
        const unsigned char *p = b + f->off;
        switch (f->kind) {
        case FK_INT:
        case FK_PAD:
        case FK_PTR:
            pnum(f->name, rd(p, f->size), f->size);
            break;
        case FK_ARR:
        case FK_PADARR:
            jarr(f->name);
            for (size_t k = 0; k < f->size / f->elem; k++) {
                if (f->sub)
                    print_value(NULL, f->sub, p + k * f->elem);
                else
                    pnum(NULL, rd(p + k * f->elem, f->elem), f->elem);
            }
            jarr_end();
            break;
        case FK_SUB:
            print_value(f->name, f->sub, p);
            break;
        case FK_UNION:
            abort();
        }
    }
}

static void print_value(const char *key, const struct tdesc *t, const unsigned char *b)
{
    jobj(key);
    if (t->print_value)
        t->print_value(t, b);
    else
        print_fields(t, b);
    jobj_end();
}

static void print_xen_dm_op(const struct tdesc *t, const unsigned char *b)
{
    const struct xen_dm_op *s = (const void *)b;
    const struct opdesc *o = find_op(s->op);
    (void)t;
    if (!o)
        abort();
    jint("op", s->op);
    jint("pad", s->pad);
    jobj("u");
    print_value(o->member, o->payload, b + o->off);
    jobj_end();
}

static void print_ioreq(const struct tdesc *t, const unsigned char *b)
{
    struct ioreq s;
    (void)t;
    memcpy(&s, b, sizeof s);
    ju64s("addr", s.addr);
    ju64s("data", s.data);
    jint("count", s.count);
    jint("size", s.size);
    jint("vp_eport", s.vp_eport);
    jint("_pad0", s._pad0);
    jint("state", s.state);
    jint("data_is_ptr", s.data_is_ptr);
    jint("dir", s.dir);
    jint("df", s.df);
    jint("_pad1", s._pad1);
    jint("type", s.type);
}

static void print_buf_ioreq(const struct tdesc *t, const unsigned char *b)
{
    struct buf_ioreq s;
    (void)t;
    memcpy(&s, b, sizeof s);
    jint("type", s.type);
    jint("pad", s.pad);
    jint("dir", s.dir);
    jint("size", s.size);
    jint("addr", s.addr);
    jint("data", s.data);
}

/* ---- distinctive fillings ---- */

static const char *const pat_name[NPAT] = PATTERN_NAMES;

/* The value of pattern `p` for a field of `size` bytes at absolute offset `off` (see patterns.h). */
static uint64_t gen(int p, size_t off, size_t size)
{
    return GEN(p, off, size);
}

/* The same for a bitfield of `width` bits. */
static unsigned gen_bits(int p, unsigned width)
{
    unsigned all = (1u << width) - 1;
    switch (p) {
    case P_ZERO: return 0;
    case P_ONES: return all;
    case P_ONE: return 1;
    case P_TOP: return 1u << (width - 1);
    case P_BYTES_LO: return 0x5a5a5 & all;
    case P_BYTES_HI: return 0xa5a5a & all;
    case P_ALT_AA: return 0xaaaaa & all;
    default: return 0x55555 & all;
    }
}

/* Assign real C members: S is the struct pointer, B its absolute offset. */
#define SET(S, f) ((S)->f = gen(pat, B + offsetof(__typeof__(*(S)), f), sizeof((S)->f)))
#define SETP(S, f) ((S)->f = (void *)(uintptr_t)gen(pat, B + offsetof(__typeof__(*(S)), f), sizeof((S)->f)))

static void fill_payload(uint32_t op, struct xen_dm_op *d, int pat)
{
    const size_t B = offsetof(struct xen_dm_op, u);
    switch (op) {
    case XEN_DMOP_create_ioreq_server: { T_create *s = &d->u.create_ioreq_server; SET(s, handle_bufioreq); SET(s, id); break; }
    case XEN_DMOP_get_ioreq_server_info: { T_getinfo *s = &d->u.get_ioreq_server_info; SET(s, id); SET(s, flags); SET(s, bufioreq_port); SET(s, ioreq_gfn); SET(s, bufioreq_gfn); break; }
    case XEN_DMOP_map_io_range_to_ioreq_server: { T_range *s = &d->u.map_io_range_to_ioreq_server; SET(s, id); SET(s, type); SET(s, start); SET(s, end); break; }
    case XEN_DMOP_unmap_io_range_from_ioreq_server: { T_range *s = &d->u.unmap_io_range_from_ioreq_server; SET(s, id); SET(s, type); SET(s, start); SET(s, end); break; }
    case XEN_DMOP_set_ioreq_server_state: { T_state *s = &d->u.set_ioreq_server_state; SET(s, id); SET(s, enabled); break; }
    case XEN_DMOP_destroy_ioreq_server: { T_destroy *s = &d->u.destroy_ioreq_server; SET(s, id); break; }
    case XEN_DMOP_track_dirty_vram: { T_vram *s = &d->u.track_dirty_vram; SET(s, nr); SET(s, first_pfn); break; }
    case XEN_DMOP_set_pci_intx_level: { T_intx *s = &d->u.set_pci_intx_level; SET(s, domain); SET(s, bus); SET(s, device); SET(s, intx); SET(s, level); break; }
    case XEN_DMOP_set_isa_irq_level: { T_isa *s = &d->u.set_isa_irq_level; SET(s, isa_irq); SET(s, level); break; }
    case XEN_DMOP_set_pci_link_route: { T_link *s = &d->u.set_pci_link_route; SET(s, link); SET(s, isa_irq); break; }
    case XEN_DMOP_modified_memory: { T_modmem *s = &d->u.modified_memory; SET(s, nr_extents); SET(s, opaque); break; }
    case XEN_DMOP_set_mem_type: { T_memtype *s = &d->u.set_mem_type; SET(s, nr); SET(s, mem_type); SET(s, first_pfn); break; }
    case XEN_DMOP_inject_event: { T_event *s = &d->u.inject_event; SET(s, vcpuid); SET(s, vector); SET(s, type); SET(s, insn_len); SET(s, error_code); SET(s, cr2); break; }
    case XEN_DMOP_inject_msi: { T_msi *s = &d->u.inject_msi; SET(s, data); SET(s, addr); break; }
    case XEN_DMOP_map_mem_type_to_ioreq_server: { T_mapmem *s = &d->u.map_mem_type_to_ioreq_server; SET(s, id); SET(s, type); SET(s, flags); SET(s, opaque); break; }
    case XEN_DMOP_remote_shutdown: { T_shutdown *s = &d->u.remote_shutdown; SET(s, reason); break; }
    case XEN_DMOP_relocate_memory: { T_reloc *s = &d->u.relocate_memory; SET(s, size); SET(s, src_gfn); SET(s, dst_gfn); break; }
    case XEN_DMOP_pin_memory_cacheattr: { T_pin *s = &d->u.pin_memory_cacheattr; SET(s, start); SET(s, end); SET(s, type); break; }
    case XEN_DMOP_set_irq_level: { T_irq *s = &d->u.set_irq_level; SET(s, irq); SET(s, level); break; }
    case XEN_DMOP_nr_vcpus: { T_vcpus *s = &d->u.nr_vcpus; SET(s, vcpus); break; }
    default: abort();
    }
}

/* ---- output files ---- */

static char outdir[4096];

static void open_file(const struct tdesc *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.json", outdir, t->name);
    jout = fopen(path, "w");
    if (!jout) {
        perror(path);
        exit(1);
    }
    jdepth = 0;
    jobj(NULL);
    jstr("type", t->name);
    jstr("arch", arch_name);
    jarr("cases");
}

static void begin_must_fail(void)
{
    jarr_end();
    jarr("must_fail");
}

static void close_file(void)
{
    jarr_end();
    jobj_end();
    fputc('\n', jout);
    if (fclose(jout)) {
        perror("write");
        exit(1);
    }
}

static void emit_case(const char *name, const struct tdesc *t, const void *obj)
{
    jobj(NULL);
    jstr("name", name);
    print_value("value", t, obj);
    jhex("hex", obj, t->size);
    jobj_end();
}

static void emit_fail(const char *name, const void *bytes, size_t n, const char *code, const char *path, size_t off)
{
    jobj(NULL);
    jstr("name", name);
    jhex("hex", bytes, n);
    jobj("error");
    jstr("code", code);
    jstr("path", path);
    jint("offset", (long long)off);
    jobj_end();
    jobj_end();
}

/* The first direct member of t (declaration order) that does not fit in `len` bytes. */
static const struct fdesc *first_missing(const struct tdesc *t, size_t len)
{
    for (size_t i = 0; i < t->nfields; i++)
        if (t->fields[i].off + t->fields[i].size > len)
            return &t->fields[i];
    return NULL;
}

/* truncated (one byte short) and trailing (one extra byte) from a valid object */
static void emit_size_fails(const char *name, const struct tdesc *t, const unsigned char *obj)
{
    char path[256], nm[128];
    unsigned char buf[8192];
    const struct fdesc *f = first_missing(t, t->size - 1);
    if (!f)
        abort();
    snprintf(path, sizeof path, "%s.%s", t->name, f->name);
    snprintf(nm, sizeof nm, "truncated/%s", name);
    emit_fail(nm, obj, t->size - 1, "truncated", path, f->off);
    memcpy(buf, obj, t->size);
    buf[t->size] = 0x5a;
    snprintf(nm, sizeof nm, "trailing/%s", name);
    emit_fail(nm, buf, t->size + 1, "trailing", t->name, t->size);
}

/* one nonzero-pad case per declared pad field and variant (all ones, last byte 1) */
static void emit_pad_fails(const char *prefix, const struct tdesc *t, size_t base, const unsigned char *obj,
                           size_t objsize)
{
    unsigned char buf[8192];
    for (size_t i = 0; i < t->nfields; i++) {
        const struct fdesc *f = &t->fields[i];
        if (f->kind != FK_PAD && f->kind != FK_PADARR)
            continue;
        for (int variant = 0; variant < 2; variant++) {
            char path[256], nm[300];
            memcpy(buf, obj, objsize);
            if (variant == 0)
                memset(buf + base + f->off, 0xff, f->size);
            else
                buf[base + f->off + f->size - 1] = 0x01;
            snprintf(path, sizeof path, "%s.%s", prefix, f->name);
            snprintf(nm, sizeof nm, "nonzero-pad/%s/%s", path, variant ? "last-byte-1" : "ones");
            emit_fail(nm, buf, objsize, "nonzero-pad", path, base + f->off);
        }
    }
}

/* ---- per-type generators ---- */

static void gen_xen_dm_op(void)
{
    char nm[128];
    struct xen_dm_op d;
    struct { struct xen_dm_op d; } x;
    open_file(&d_dmop);
    for (size_t i = 0; i < NF(ops); i++) {
        for (int pat = 0; pat < NPAT; pat++) {
            memset(&x, 0, sizeof x);
            x.d.op = ops[i].op;
            fill_payload(ops[i].op, &x.d, pat);
            snprintf(nm, sizeof nm, "%s/%s", ops[i].member, pat_name[pat]);
            emit_case(nm, &d_dmop, &x.d);
        }
    }
    /* realistic fillings */
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_inject_event;
    d.u.inject_event.vcpuid = 2;
    d.u.inject_event.vector = 14;
    d.u.inject_event.type = XEN_DMOP_EVENT_hw_exc;
    d.u.inject_event.error_code = 0x12;
    d.u.inject_event.cr2 = 0xdeadbeefcafeull;
    emit_case("inject_event/page-fault", &d_dmop, &d);
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_map_io_range_to_ioreq_server;
    d.u.map_io_range_to_ioreq_server.id = 1;
    d.u.map_io_range_to_ioreq_server.type = XEN_DMOP_IO_RANGE_PCI;
    /* 64-bit operands, as libxendevicemodel passes them (int operands would sign-extend bit 31) */
    d.u.map_io_range_to_ioreq_server.start = XEN_DMOP_PCI_SBDF((uint64_t)0xabcd, (uint64_t)0xef, (uint64_t)0x1f, (uint64_t)7);
    d.u.map_io_range_to_ioreq_server.end = d.u.map_io_range_to_ioreq_server.start;
    emit_case("map_io_range_to_ioreq_server/pci-sbdf", &d_dmop, &d);
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_set_mem_type;
    d.u.set_mem_type.nr = 0x100;
    d.u.set_mem_type.mem_type = HVMMEM_ioreq_server;
    d.u.set_mem_type.first_pfn = 0xfeedf00dull;
    emit_case("set_mem_type/ioreq_server", &d_dmop, &d);
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_pin_memory_cacheattr;
    d.u.pin_memory_cacheattr.start = 0xa0;
    d.u.pin_memory_cacheattr.end = 0xbf;
    d.u.pin_memory_cacheattr.type = XEN_DMOP_DELETE_MEM_CACHEATTR;
    emit_case("pin_memory_cacheattr/delete", &d_dmop, &d);
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_get_ioreq_server_info;
    d.u.get_ioreq_server_info.id = 3;
    d.u.get_ioreq_server_info.flags = XEN_DMOP_no_gfns;
    emit_case("get_ioreq_server_info/no_gfns", &d_dmop, &d);
    memset(&d, 0, sizeof d);
    d.op = XEN_DMOP_remote_shutdown;
    d.u.remote_shutdown.reason = SHUTDOWN_soft_reset;
    emit_case("remote_shutdown/soft_reset", &d_dmop, &d);

    begin_must_fail();
    for (size_t i = 0; i < NF(ops); i++) {
        memset(&x, 0, sizeof x);
        x.d.op = ops[i].op;
        fill_payload(ops[i].op, &x.d, P_BYTES_HI);
        const unsigned char *b = (const void *)&x.d;
        emit_size_fails(ops[i].member, &d_dmop, b);
        if (i == 0) {
            emit_fail("truncated/empty", b, 0, "truncated", "xen_dm_op.op", 0);
            emit_fail("truncated/header-only", b, offsetof(struct xen_dm_op, u), "truncated", "xen_dm_op.u",
                      offsetof(struct xen_dm_op, u));
            emit_pad_fails("xen_dm_op", &d_dmop, 0, b, sizeof(struct xen_dm_op));
        }
        char prefix[128];
        snprintf(prefix, sizeof prefix, "xen_dm_op.u.%s", ops[i].member);
        emit_pad_fails(prefix, ops[i].payload, ops[i].off, b, sizeof(struct xen_dm_op));
        /* union tail beyond the selected member */
        size_t end = ops[i].off + ops[i].payload->size;
        if (end < sizeof(struct xen_dm_op)) {
            unsigned char buf[sizeof(struct xen_dm_op)];
            char nm2[160];
            memcpy(buf, b, sizeof buf);
            buf[end] = 0x01;
            snprintf(nm2, sizeof nm2, "nonzero-pad/union-tail/%s/first", ops[i].member);
            emit_fail(nm2, buf, sizeof buf, "nonzero-pad", "xen_dm_op.u", end);
            memcpy(buf, b, sizeof buf);
            buf[sizeof buf - 1] = 0x80;
            snprintf(nm2, sizeof nm2, "nonzero-pad/union-tail/%s/last", ops[i].member);
            emit_fail(nm2, buf, sizeof buf, "nonzero-pad", "xen_dm_op.u", sizeof buf - 1);
        }
    }
    static const uint32_t bad_ops[] = { 0, 21, 22, 0x100, 0x80000000u, 0xffffffffu };
    for (size_t i = 0; i < NF(bad_ops); i++) {
        memset(&d, 0, sizeof d);
        d.op = bad_ops[i];
        snprintf(nm, sizeof nm, "bad-op/%u", bad_ops[i]);
        emit_fail(nm, &d, sizeof d, "bad-op", "xen_dm_op.op", 0);
    }
    close_file();
}

/* A plain struct: pattern cases fill every non-pad member through the real C member. */
#define GEN_PLAIN(T, DESC, FILL)                                              \
    static void gen_##DESC(void)                                             \
    {                                                                        \
        T obj, *s = &obj;                                                    \
        const size_t B = 0;                                                  \
        open_file(&DESC);                                                    \
        for (int pat = 0; pat < NPAT; pat++) {                               \
            memset(s, 0, sizeof *s);                                         \
            FILL;                                                            \
            emit_case(pat_name[pat], &DESC, s);                              \
        }                                                                    \
        begin_must_fail();                                                   \
        {                                                                    \
            int pat = P_BYTES_HI;                                            \
            memset(s, 0, sizeof *s);                                         \
            FILL;                                                            \
            emit_size_fails(pat_name[pat], &DESC, (const void *)s);          \
            emit_pad_fails(DESC.name, &DESC, 0, (const void *)s, sizeof *s); \
        }                                                                    \
        close_file();                                                        \
    }

GEN_PLAIN(T_create, d_create, (SET(s, handle_bufioreq), SET(s, id)))
GEN_PLAIN(T_getinfo, d_getinfo, (SET(s, id), SET(s, flags), SET(s, bufioreq_port), SET(s, ioreq_gfn), SET(s, bufioreq_gfn)))
GEN_PLAIN(T_range, d_range, (SET(s, id), SET(s, type), SET(s, start), SET(s, end)))
GEN_PLAIN(T_state, d_state, (SET(s, id), SET(s, enabled)))
GEN_PLAIN(T_destroy, d_destroy, (SET(s, id)))
GEN_PLAIN(T_vram, d_vram, (SET(s, nr), SET(s, first_pfn)))
GEN_PLAIN(T_intx, d_intx, (SET(s, domain), SET(s, bus), SET(s, device), SET(s, intx), SET(s, level)))
GEN_PLAIN(T_isa, d_isa, (SET(s, isa_irq), SET(s, level)))
GEN_PLAIN(T_link, d_link, (SET(s, link), SET(s, isa_irq)))
GEN_PLAIN(T_modmem, d_modmem, (SET(s, nr_extents), SET(s, opaque)))
GEN_PLAIN(T_extent, d_extent, (SET(s, nr), SET(s, first_pfn)))
GEN_PLAIN(T_memtype, d_memtype, (SET(s, nr), SET(s, mem_type), SET(s, first_pfn)))
GEN_PLAIN(T_event, d_event, (SET(s, vcpuid), SET(s, vector), SET(s, type), SET(s, insn_len), SET(s, error_code), SET(s, cr2)))
GEN_PLAIN(T_msi, d_msi, (SET(s, data), SET(s, addr)))
GEN_PLAIN(T_mapmem, d_mapmem, (SET(s, id), SET(s, type), SET(s, flags), SET(s, opaque)))
GEN_PLAIN(T_shutdown, d_shutdown, (SET(s, reason)))
GEN_PLAIN(T_reloc, d_reloc, (SET(s, size), SET(s, src_gfn), SET(s, dst_gfn)))
GEN_PLAIN(T_pin, d_pin, (SET(s, start), SET(s, end), SET(s, type)))
GEN_PLAIN(T_irq, d_irq, (SET(s, irq), SET(s, level)))
GEN_PLAIN(T_vcpus, d_vcpus, (SET(s, vcpus)))
GEN_PLAIN(struct xen_hvm_get_mem_type, d_getmem, (SET(s, domid), SET(s, mem_type), SET(s, pfn)))
GEN_PLAIN(struct xen_dm_op_buf, d_dmbuf, (SETP(s, h.p), SET(s, size)))
GEN_PLAIN(struct privcmd_dm_op_buf, d_pbuf, (SETP(s, uptr), SET(s, size)))
GEN_PLAIN(struct privcmd_dm_op, d_pdmop, (SET(s, dom), SET(s, num), SETP(s, ubufs)))
GEN_PLAIN(struct privcmd_mmap_resource, d_mres, (SET(s, dom), SET(s, type), SET(s, id), SET(s, idx), SET(s, num), SET(s, addr)))
GEN_PLAIN(struct privcmd_hypercall, d_hcall,
          (SET(s, op), SET(s, arg[0]), SET(s, arg[1]), SET(s, arg[2]), SET(s, arg[3]), SET(s, arg[4])))

static void fill_ioreq(struct ioreq *s, int pat, size_t B)
{
    SET(s, addr);
    SET(s, data);
    SET(s, count);
    SET(s, size);
    SET(s, vp_eport);
    s->state = gen_bits(pat, 4);
    s->data_is_ptr = gen_bits(pat, 1);
    s->dir = gen_bits(pat, 1);
    s->df = gen_bits(pat, 1);
    SET(s, type);
}

static void gen_ioreq(void)
{
    static const uint8_t types[] = { IOREQ_TYPE_PIO, IOREQ_TYPE_COPY, IOREQ_TYPE_PCI_CONFIG, IOREQ_TYPE_TIMEOFFSET,
                                     IOREQ_TYPE_INVALIDATE };
    char nm[128];
    struct ioreq s;
    open_file(&d_ioreq);
    for (int pat = 0; pat < NPAT; pat++) {
        memset(&s, 0, sizeof s);
        fill_ioreq(&s, pat, 0);
        emit_case(pat_name[pat], &d_ioreq, &s);
    }
    for (size_t t = 0; t < NF(types); t++)
        for (unsigned bits = 0; bits < 32; bits++) {
            memset(&s, 0, sizeof s);
            s.addr = 0xfee00000ull + 0x1000 * bits + t;
            s.data = 0x0123456789abcdefull ^ ((uint64_t)bits << 56) ^ t;
            s.count = 1 + bits;
            s.size = 1u << (bits % 4);
            s.vp_eport = 0x30 + (unsigned)t;
            s.state = bits & 3;
            s.data_is_ptr = (bits >> 2) & 1;
            s.dir = (bits >> 3) & 1;
            s.df = (bits >> 4) & 1;
            s.type = types[t];
            snprintf(nm, sizeof nm, "type-%u/state-%u/ptr-%u/dir-%u/df-%u", types[t], s.state, s.data_is_ptr, s.dir,
                     s.df);
            emit_case(nm, &d_ioreq, &s);
        }
    begin_must_fail();
    memset(&s, 0, sizeof s);
    fill_ioreq(&s, P_BYTES_HI, 0);
    emit_size_fails(pat_name[P_BYTES_HI], &d_ioreq, (const void *)&s);
    emit_pad_fails("ioreq", &d_ioreq, 0, (const void *)&s, sizeof s);
    {
        /* the _pad1 bitfield: offset is the byte holding its first bit, found by setting it */
        struct ioreq z, p = s;
        memset(&z, 0, sizeof z);
        z._pad1 = 1;
        size_t at = 0;
        while (((unsigned char *)&z)[at] == 0)
            at++;
        p._pad1 = 1;
        emit_fail("nonzero-pad/ioreq._pad1", &p, sizeof p, "nonzero-pad", "ioreq._pad1", at);
    }
    close_file();
}

static void fill_buf_ioreq(struct buf_ioreq *s, int pat, size_t B)
{
    SET(s, type);
    s->dir = gen_bits(pat, 1);
    s->size = gen_bits(pat, 2);
    s->addr = gen_bits(pat, 20);
    SET(s, data);
}

static void gen_buf_ioreq(void)
{
    static const uint32_t addrs[] = { 0, 1, 0x12345, 0x80000, 0xa0010, 0xfffff };
    char nm[128];
    struct buf_ioreq s;
    open_file(&d_bufioreq);
    for (int pat = 0; pat < NPAT; pat++) {
        memset(&s, 0, sizeof s);
        fill_buf_ioreq(&s, pat, 0);
        emit_case(pat_name[pat], &d_bufioreq, &s);
    }
    for (size_t a = 0; a < NF(addrs); a++)
        for (unsigned size = 0; size < 4; size++)
            for (unsigned dir = 0; dir < 2; dir++) {
                memset(&s, 0, sizeof s);
                s.type = (a + size) % 2 ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO;
                s.addr = addrs[a];
                s.size = size;
                s.dir = dir;
                s.data = 0xc0de0000u + (uint32_t)(a << 8) + size * 2 + dir;
                snprintf(nm, sizeof nm, "addr-0x%x/size-%u/dir-%u", addrs[a], size, dir);
                emit_case(nm, &d_bufioreq, &s);
            }
    begin_must_fail();
    memset(&s, 0, sizeof s);
    fill_buf_ioreq(&s, P_BYTES_HI, 0);
    emit_size_fails(pat_name[P_BYTES_HI], &d_bufioreq, (const void *)&s);
    {
        struct buf_ioreq z, p = s;
        memset(&z, 0, sizeof z);
        z.pad = 1;
        size_t at = 0;
        while (((unsigned char *)&z)[at] == 0)
            at++;
        p.pad = 1;
        emit_fail("nonzero-pad/buf_ioreq.pad", &p, sizeof p, "nonzero-pad", "buf_ioreq.pad", at);
    }
    close_file();
}

static void gen_pages(void)
{
    static struct shared_iopage sp;
    static struct buffered_iopage bp;
    memset(&sp, 0, sizeof sp);
    fill_ioreq(&sp.vcpu_ioreq[0], P_BYTES_LO, 0);
    open_file(&d_shpage);
    emit_case("bytes-lo", &d_shpage, &sp);
    begin_must_fail();
    emit_size_fails("bytes-lo", &d_shpage, (const void *)&sp);
    close_file();

    memset(&bp, 0, sizeof bp);
    bp.read_pointer = 0x1234;
    bp.write_pointer = 0x1240;
    for (unsigned i = 0; i < IOREQ_BUFFER_SLOT_NUM; i++) {
        bp.buf_ioreq[i].type = i % 2 ? IOREQ_TYPE_COPY : IOREQ_TYPE_TIMEOFFSET;
        bp.buf_ioreq[i].dir = (i >> 1) & 1;
        bp.buf_ioreq[i].size = (i >> 2) & 3;
        bp.buf_ioreq[i].addr = (0xa0000 + i * 0x101) & 0xfffff;
        bp.buf_ioreq[i].data = 0x5eed0000u + i;
    }
    open_file(&d_bufpage);
    emit_case("slots", &d_bufpage, &bp);
    begin_must_fail();
    emit_size_fails("slots", &d_bufpage, (const void *)&bp);
    close_file();
}

/* ---- tables of cross-compiled targets (see vectors_cross.c) ---- */

static void print_rec_value(const struct vrec *r)
{
    jobj("value");
    for (uint32_t i = 0; i < r->nfields; i++) {
        const struct vrec_field *f = &r->f[i];
        const char *dot = strchr(f->name, '.');
        uint64_t v = (uint64_t)f->hi << 32 | f->lo;
        if (dot) {
            char outer[16];
            snprintf(outer, sizeof outer, "%.*s", (int)(dot - f->name), f->name);
            jobj(outer);
            pnum(dot + 1, v, f->size);
            jobj_end();
        } else {
            pnum(f->name, v, f->size);
        }
    }
    jobj_end();
}

static int from_blob(const char *blob, const char *types)
{
    static struct vrec recs[256];
    FILE *f = fopen(blob, "rb");
    if (!f) {
        perror(blob);
        return 1;
    }
    size_t n = fread(recs, sizeof recs[0], NF(recs), f);
    if (!feof(f) || ferror(f)) {
        fprintf(stderr, "vectors: %s: too large or unreadable\n", blob);
        return 1;
    }
    fclose(f);
    /* every recorded value must be what the object holds at the recorded offset */
    for (size_t i = 0; i < n; i++) {
        const struct vrec *r = &recs[i];
        if (r->nfields > VREC_MAXF || r->size > sizeof r->obj.b || r->pattern >= NPAT) {
            fprintf(stderr, "vectors: %s: bad record %zu\n", blob, i);
            return 1;
        }
        for (uint32_t k = 0; k < r->nfields; k++) {
            const struct vrec_field *fd = &r->f[k];
            uint64_t v = (uint64_t)fd->hi << 32 | fd->lo;
            if (fd->off + fd->size > r->size || rd(r->obj.b + fd->off, fd->size) != v ||
                v != gen(r->pattern, fd->off, fd->size)) {
                fprintf(stderr, "vectors: %s: %s.%s: object bytes differ from the recorded value\n", blob, r->type,
                        fd->name);
                return 1;
            }
        }
    }
    char list[1024];
    snprintf(list, sizeof list, "%s", types);
    for (char *type = strtok(list, ","); type; type = strtok(NULL, ",")) {
        const struct vrec *last = NULL;
        struct tdesc td = { type, 0, NULL, 0, NULL };
        for (size_t i = 0; i < n; i++)
            if (!strcmp(recs[i].type, type))
                td.size = recs[i].size;
        if (!td.size) {
            fprintf(stderr, "vectors: no records for %s\n", type);
            return 1;
        }
        open_file(&td);
        for (size_t i = 0; i < n; i++) {
            const struct vrec *r = &recs[i];
            if (strcmp(r->type, type))
                continue;
            jobj(NULL);
            jstr("name", pat_name[r->pattern]);
            print_rec_value(r);
            jhex("hex", r->obj.b, r->size);
            jobj_end();
            if (r->pattern == P_BYTES_HI)
                last = r;
        }
        begin_must_fail();
        if (last) {
            unsigned char buf[64];
            char path[128] = "";
            size_t off = 0;
            /* the first direct member that does not fit ("h.q" belongs to the member "h") */
            for (uint32_t k = last->nfields; k-- > 0;)
                if (last->f[k].off + last->f[k].size > last->size - 1u) {
                    size_t outer = strcspn(last->f[k].name, ".");
                    snprintf(path, sizeof path, "%s.%.*s", type, (int)outer, last->f[k].name);
                    off = last->f[k].off;
                }
            emit_fail("truncated/bytes-hi", last->obj.b, last->size - 1, "truncated", path, off);
            memcpy(buf, last->obj.b, last->size);
            buf[last->size] = 0x5a;
            emit_fail("trailing/bytes-hi", buf, last->size + 1, "trailing", type, last->size);
        }
        close_file();
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *blob = NULL, *types = NULL;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "--arch"))
            arch_name = argv[i + 1];
        else if (!strcmp(argv[i], "--blob"))
            blob = argv[i + 1];
        else if (!strcmp(argv[i], "--types"))
            types = argv[i + 1];
        else
            break;
    }
    if (i + 1 != argc || (blob && !types)) {
        fprintf(stderr, "usage: vectors [--blob FILE --arch ARCH --types T1,T2] OUTDIR\n");
        return 2;
    }
    snprintf(outdir, sizeof outdir, "%s/%s", argv[i], arch_name);
    mkdir(argv[i], 0777);
    mkdir(outdir, 0777);
    if (blob)
        return from_blob(blob, types);
    gen_xen_dm_op();
    gen_d_create();
    gen_d_getinfo();
    gen_d_range();
    gen_d_state();
    gen_d_destroy();
    gen_d_vram();
    gen_d_intx();
    gen_d_isa();
    gen_d_link();
    gen_d_modmem();
    gen_d_extent();
    gen_d_memtype();
    gen_d_event();
    gen_d_msi();
    gen_d_mapmem();
    gen_d_shutdown();
    gen_d_reloc();
    gen_d_pin();
    gen_d_irq();
    gen_d_vcpus();
    gen_d_getmem();
    gen_d_dmbuf();
    gen_d_pbuf();
    gen_d_pdmop();
    gen_d_mres();
    gen_d_hcall();
    gen_ioreq();
    gen_buf_ioreq();
    gen_pages();
    return 0;
}
