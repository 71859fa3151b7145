/*
 * C baseline for the codec benchmarks: field-by-field encode and decode of
 * struct xen_dm_op (every op, in turn) and ioreq_t, using the real headers.
 *
 *   encode: zero the C struct, then assign each field from a source struct of
 *           plain integers (what libxendevicemodel does before a DM_OP ioctl)
 *   decode: read every field of the C struct back into plain integers
 *
 * Prints {"xen_dm_op":{"encode_ns":..,"decode_ns":..},"ioreq_t":{...}}:
 * nanoseconds per operation, the median of 5 runs.  Build with gcc -O2
 * (abi/probe/bench_codec.sh).  A compiler barrier after every operation
 * keeps each struct observable, so nothing is optimised away.
 */
#include "probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5
#define NOPS 20

#define BARRIER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

/* plain-integer view of one DMOP: the op and up to 8 field values */
struct plain_op {
    uint32_t op;
    uint64_t v[8];
};

struct plain_ioreq {
    uint64_t addr, data;
    uint32_t count, size, vp_eport;
    uint8_t state, data_is_ptr, dir, df, type;
};

static void encode_op(struct xen_dm_op *d, const struct plain_op *s)
{
    const uint64_t *v = s->v;
    memset(d, 0, sizeof *d);
    d->op = s->op;
    switch (s->op) {
    case XEN_DMOP_create_ioreq_server:
        d->u.create_ioreq_server.handle_bufioreq = v[0];
        d->u.create_ioreq_server.id = v[1];
        break;
    case XEN_DMOP_get_ioreq_server_info:
        d->u.get_ioreq_server_info.id = v[0];
        d->u.get_ioreq_server_info.flags = v[1];
        d->u.get_ioreq_server_info.bufioreq_port = v[2];
        d->u.get_ioreq_server_info.ioreq_gfn = v[3];
        d->u.get_ioreq_server_info.bufioreq_gfn = v[4];
        break;
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server:
        d->u.map_io_range_to_ioreq_server.id = v[0];
        d->u.map_io_range_to_ioreq_server.type = v[1];
        d->u.map_io_range_to_ioreq_server.start = v[2];
        d->u.map_io_range_to_ioreq_server.end = v[3];
        break;
    case XEN_DMOP_set_ioreq_server_state:
        d->u.set_ioreq_server_state.id = v[0];
        d->u.set_ioreq_server_state.enabled = v[1];
        break;
    case XEN_DMOP_destroy_ioreq_server:
        d->u.destroy_ioreq_server.id = v[0];
        break;
    case XEN_DMOP_track_dirty_vram:
        d->u.track_dirty_vram.nr = v[0];
        d->u.track_dirty_vram.first_pfn = v[1];
        break;
    case XEN_DMOP_set_pci_intx_level:
        d->u.set_pci_intx_level.domain = v[0];
        d->u.set_pci_intx_level.bus = v[1];
        d->u.set_pci_intx_level.device = v[2];
        d->u.set_pci_intx_level.intx = v[3];
        d->u.set_pci_intx_level.level = v[4];
        break;
    case XEN_DMOP_set_isa_irq_level:
        d->u.set_isa_irq_level.isa_irq = v[0];
        d->u.set_isa_irq_level.level = v[1];
        break;
    case XEN_DMOP_set_pci_link_route:
        d->u.set_pci_link_route.link = v[0];
        d->u.set_pci_link_route.isa_irq = v[1];
        break;
    case XEN_DMOP_modified_memory:
        d->u.modified_memory.nr_extents = v[0];
        d->u.modified_memory.opaque = v[1];
        break;
    case XEN_DMOP_set_mem_type:
        d->u.set_mem_type.nr = v[0];
        d->u.set_mem_type.mem_type = v[1];
        d->u.set_mem_type.first_pfn = v[2];
        break;
    case XEN_DMOP_inject_event:
        d->u.inject_event.vcpuid = v[0];
        d->u.inject_event.vector = v[1];
        d->u.inject_event.type = v[2];
        d->u.inject_event.insn_len = v[3];
        d->u.inject_event.error_code = v[4];
        d->u.inject_event.cr2 = v[5];
        break;
    case XEN_DMOP_inject_msi:
        d->u.inject_msi.data = v[0];
        d->u.inject_msi.addr = v[1];
        break;
    case XEN_DMOP_map_mem_type_to_ioreq_server:
        d->u.map_mem_type_to_ioreq_server.id = v[0];
        d->u.map_mem_type_to_ioreq_server.type = v[1];
        d->u.map_mem_type_to_ioreq_server.flags = v[2];
        d->u.map_mem_type_to_ioreq_server.opaque = v[3];
        break;
    case XEN_DMOP_remote_shutdown:
        d->u.remote_shutdown.reason = v[0];
        break;
    case XEN_DMOP_relocate_memory:
        d->u.relocate_memory.size = v[0];
        d->u.relocate_memory.src_gfn = v[1];
        d->u.relocate_memory.dst_gfn = v[2];
        break;
    case XEN_DMOP_pin_memory_cacheattr:
        d->u.pin_memory_cacheattr.start = v[0];
        d->u.pin_memory_cacheattr.end = v[1];
        d->u.pin_memory_cacheattr.type = v[2];
        break;
    case XEN_DMOP_set_irq_level:
        d->u.set_irq_level.irq = v[0];
        d->u.set_irq_level.level = v[1];
        break;
    case XEN_DMOP_nr_vcpus:
        d->u.nr_vcpus.vcpus = v[0];
        break;
    }
}

static void decode_op(struct plain_op *s, const struct xen_dm_op *d)
{
    uint64_t *v = s->v;
    s->op = d->op;
    switch (d->op) {
    case XEN_DMOP_create_ioreq_server:
        v[0] = d->u.create_ioreq_server.handle_bufioreq;
        v[1] = d->u.create_ioreq_server.id;
        break;
    case XEN_DMOP_get_ioreq_server_info:
        v[0] = d->u.get_ioreq_server_info.id;
        v[1] = d->u.get_ioreq_server_info.flags;
        v[2] = d->u.get_ioreq_server_info.bufioreq_port;
        v[3] = d->u.get_ioreq_server_info.ioreq_gfn;
        v[4] = d->u.get_ioreq_server_info.bufioreq_gfn;
        break;
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server:
        v[0] = d->u.map_io_range_to_ioreq_server.id;
        v[1] = d->u.map_io_range_to_ioreq_server.type;
        v[2] = d->u.map_io_range_to_ioreq_server.start;
        v[3] = d->u.map_io_range_to_ioreq_server.end;
        break;
    case XEN_DMOP_set_ioreq_server_state:
        v[0] = d->u.set_ioreq_server_state.id;
        v[1] = d->u.set_ioreq_server_state.enabled;
        break;
    case XEN_DMOP_destroy_ioreq_server:
        v[0] = d->u.destroy_ioreq_server.id;
        break;
    case XEN_DMOP_track_dirty_vram:
        v[0] = d->u.track_dirty_vram.nr;
        v[1] = d->u.track_dirty_vram.first_pfn;
        break;
    case XEN_DMOP_set_pci_intx_level:
        v[0] = d->u.set_pci_intx_level.domain;
        v[1] = d->u.set_pci_intx_level.bus;
        v[2] = d->u.set_pci_intx_level.device;
        v[3] = d->u.set_pci_intx_level.intx;
        v[4] = d->u.set_pci_intx_level.level;
        break;
    case XEN_DMOP_set_isa_irq_level:
        v[0] = d->u.set_isa_irq_level.isa_irq;
        v[1] = d->u.set_isa_irq_level.level;
        break;
    case XEN_DMOP_set_pci_link_route:
        v[0] = d->u.set_pci_link_route.link;
        v[1] = d->u.set_pci_link_route.isa_irq;
        break;
    case XEN_DMOP_modified_memory:
        v[0] = d->u.modified_memory.nr_extents;
        v[1] = d->u.modified_memory.opaque;
        break;
    case XEN_DMOP_set_mem_type:
        v[0] = d->u.set_mem_type.nr;
        v[1] = d->u.set_mem_type.mem_type;
        v[2] = d->u.set_mem_type.first_pfn;
        break;
    case XEN_DMOP_inject_event:
        v[0] = d->u.inject_event.vcpuid;
        v[1] = d->u.inject_event.vector;
        v[2] = d->u.inject_event.type;
        v[3] = d->u.inject_event.insn_len;
        v[4] = d->u.inject_event.error_code;
        v[5] = d->u.inject_event.cr2;
        break;
    case XEN_DMOP_inject_msi:
        v[0] = d->u.inject_msi.data;
        v[1] = d->u.inject_msi.addr;
        break;
    case XEN_DMOP_map_mem_type_to_ioreq_server:
        v[0] = d->u.map_mem_type_to_ioreq_server.id;
        v[1] = d->u.map_mem_type_to_ioreq_server.type;
        v[2] = d->u.map_mem_type_to_ioreq_server.flags;
        v[3] = d->u.map_mem_type_to_ioreq_server.opaque;
        break;
    case XEN_DMOP_remote_shutdown:
        v[0] = d->u.remote_shutdown.reason;
        break;
    case XEN_DMOP_relocate_memory:
        v[0] = d->u.relocate_memory.size;
        v[1] = d->u.relocate_memory.src_gfn;
        v[2] = d->u.relocate_memory.dst_gfn;
        break;
    case XEN_DMOP_pin_memory_cacheattr:
        v[0] = d->u.pin_memory_cacheattr.start;
        v[1] = d->u.pin_memory_cacheattr.end;
        v[2] = d->u.pin_memory_cacheattr.type;
        break;
    case XEN_DMOP_set_irq_level:
        v[0] = d->u.set_irq_level.irq;
        v[1] = d->u.set_irq_level.level;
        break;
    case XEN_DMOP_nr_vcpus:
        v[0] = d->u.nr_vcpus.vcpus;
        break;
    }
}

static void encode_ioreq(ioreq_t *r, const struct plain_ioreq *s)
{
    memset(r, 0, sizeof *r);
    r->addr = s->addr;
    r->data = s->data;
    r->count = s->count;
    r->size = s->size;
    r->vp_eport = s->vp_eport;
    r->state = s->state;
    r->data_is_ptr = s->data_is_ptr;
    r->dir = s->dir;
    r->df = s->df;
    r->type = s->type;
}

static void decode_ioreq(struct plain_ioreq *s, const ioreq_t *r)
{
    s->addr = r->addr;
    s->data = r->data;
    s->count = r->count;
    s->size = r->size;
    s->vp_eport = r->vp_eport;
    s->state = r->state;
    s->data_is_ptr = r->data_is_ptr;
    s->dir = r->dir;
    s->df = r->df;
    s->type = r->type;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof v[0], cmp_double);
    return v[RUNS / 2];
}

static struct plain_op src_ops[NOPS];
static struct xen_dm_op wire_ops[NOPS];
static struct plain_ioreq src_io[4];
static ioreq_t wire_io[4];

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    double enc_op[RUNS], dec_op[RUNS], enc_io[RUNS], dec_io[RUNS];
    if (n <= 0)
        n = 2000000;

    for (int i = 0; i < NOPS; i++) {
        src_ops[i].op = i + 1;
        for (int k = 0; k < 8; k++)
            src_ops[i].v[k] = 0x0102030405060708ull * (uint64_t)(i + k + 1);
        encode_op(&wire_ops[i], &src_ops[i]);
    }
    for (int i = 0; i < 4; i++) {
        src_io[i] = (struct plain_ioreq){ 0xfee00000ull + i, 0x1122334455667788ull ^ (uint64_t)i, 1 + i, 4, 5,
                                          (uint8_t)i, (uint8_t)(i & 1), (uint8_t)((i >> 1) & 1), 0, 1 };
        encode_ioreq(&wire_io[i], &src_io[i]);
    }

    for (int run = 0; run < RUNS; run++) {
        struct xen_dm_op d;
        struct plain_op p;
        ioreq_t r;
        struct plain_ioreq q;
        double t0 = now_ns();
        for (long i = 0, j = 0; i < n; i++, j = j + 1 == NOPS ? 0 : j + 1) {
            encode_op(&d, &src_ops[j]);
            BARRIER(&d);
        }
        double t1 = now_ns();
        for (long i = 0, j = 0; i < n; i++, j = j + 1 == NOPS ? 0 : j + 1) {
            BARRIER(&wire_ops[j]);
            decode_op(&p, &wire_ops[j]);
            BARRIER(&p);
        }
        double t2 = now_ns();
        for (long i = 0; i < n; i++) {
            encode_ioreq(&r, &src_io[i & 3]);
            BARRIER(&r);
        }
        double t3 = now_ns();
        for (long i = 0; i < n; i++) {
            BARRIER(&wire_io[i & 3]);
            decode_ioreq(&q, &wire_io[i & 3]);
            BARRIER(&q);
        }
        double t4 = now_ns();
        enc_op[run] = (t1 - t0) / n;
        dec_op[run] = (t2 - t1) / n;
        enc_io[run] = (t3 - t2) / n;
        dec_io[run] = (t4 - t3) / n;
    }

    /* the last decode must match its source (a cheap guard that the loops did the work) */
    struct plain_op chk;
    memset(&chk, 0, sizeof chk);
    decode_op(&chk, &wire_ops[12]);
    if (chk.op != src_ops[12].op || chk.v[5] != src_ops[12].v[5]) {
        fprintf(stderr, "bench_codec: inject_event round trip failed\n");
        return 1;
    }

    printf("{\"xen_dm_op\":{\"encode_ns\":%.2f,\"decode_ns\":%.2f},\"ioreq_t\":{\"encode_ns\":%.2f,\"decode_ns\":%.2f}}\n",
           median(enc_op), median(dec_op), median(enc_io), median(dec_io));
    return 0;
}
