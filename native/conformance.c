/*
 * Conformance driver: calls every public function of Debian's real
 * libxendevicemodel (xendevicemodel.h) and prints one JSON line per call.
 * Meant to run under libxendm-shim.so against `xendm serve`.
 *
 *   conformance all [dom]          every function, error cases included
 *   conformance loop N [dom]       N x nr_vcpus, timed: {"calls":N,"ns":...}
 *   conformance ploop T N [dom]    T threads, each with its own handle, N x nr_vcpus
 *                                  each, timed as a whole
 *   conformance threads T N [dom]  T threads share one handle; each creates an
 *                                  ioreq server and calls get_ioreq_server_info
 *                                  N times, checking its own port comes back
 *   conformance open               xendevicemodel_open / close only
 *   conformance toolcore [dom]     xentoolcore_restrict_all(dom) on an open handle, then
 *                                  nr_vcpus on dom and on another domain
 *
 * dom defaults to 1.  Output lines:
 *   {"fn":NAME,"args":{...},"rc":RC,"errno":E,"out":{...}}
 * errno is the value after the call when rc < 0, else 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <xen/sched.h>
#include <xendevicemodel.h>
#include <xentoolcore.h>

static void (*shim_mark)(const char *);
static unsigned dom = 1;

#define BAD_DOM 0x1234u /* no such domain */

static void mark(const char *fn)
{
    if (shim_mark)
        shim_mark(fn);
}

/* Print the common head; the caller appends "out" members (or nothing) and closes with end(). */
static void head(const char *fn, int rc, int err, const char *argsfmt, ...) __attribute__((format(printf, 4, 5)));
static void head(const char *fn, int rc, int err, const char *argsfmt, ...)
{
    va_list ap;
    printf("{\"fn\":\"%s\",\"args\":{", fn);
    va_start(ap, argsfmt);
    vprintf(argsfmt, ap);
    va_end(ap);
    printf("},\"rc\":%d,\"errno\":%d,\"out\":{", rc, rc < 0 ? err : 0);
}

static void end(void)
{
    printf("}}\n");
    fflush(stdout);
}

#define CALL(fn, expr)          \
    do {                        \
        mark(fn);               \
        errno = 0;              \
        rc = (expr);            \
        err = errno;            \
    } while (0)

static void hex(const char *name, const void *p, size_t n, int comma)
{
    const unsigned char *b = p;
    printf("%s\"%s\":\"", comma ? "," : "", name);
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\"");
}

static xendevicemodel_handle *open_handle(void)
{
    int rc, err;
    xendevicemodel_handle *h;
    mark("xendevicemodel_open");
    errno = 0;
    h = xendevicemodel_open(NULL, 0);
    err = errno;
    rc = h ? 0 : -1;
    head("xendevicemodel_open", rc, err, "\"logger\":null,\"open_flags\":0");
    end();
    return h;
}

static int run_all(void)
{
    int rc, err;
    xendevicemodel_handle *h = open_handle();
    if (!h)
        return 1;

    unsigned vcpus = 0xdeadbeef;
    CALL("xendevicemodel_nr_vcpus", xendevicemodel_nr_vcpus(h, dom, &vcpus));
    head("xendevicemodel_nr_vcpus", rc, err, "\"domid\":%u", dom);
    printf("\"vcpus\":%u", vcpus);
    end();

    vcpus = 0xdeadbeef;
    CALL("xendevicemodel_nr_vcpus", xendevicemodel_nr_vcpus(h, BAD_DOM, &vcpus));
    head("xendevicemodel_nr_vcpus", rc, err, "\"domid\":%u", BAD_DOM);
    printf("\"vcpus\":%u", vcpus);
    end();

    ioservid_t id = 0xeeee, id2 = 0xeeee;
    CALL("xendevicemodel_create_ioreq_server", xendevicemodel_create_ioreq_server(h, dom, 1, &id));
    head("xendevicemodel_create_ioreq_server", rc, err, "\"domid\":%u,\"handle_bufioreq\":1", dom);
    printf("\"id\":%u", id);
    end();

    CALL("xendevicemodel_create_ioreq_server", xendevicemodel_create_ioreq_server(h, dom, 0x1ff, &id2));
    head("xendevicemodel_create_ioreq_server", rc, err, "\"domid\":%u,\"handle_bufioreq\":511", dom);
    printf("\"id\":%u", id2);
    end();

    CALL("xendevicemodel_create_ioreq_server", xendevicemodel_create_ioreq_server(h, BAD_DOM, 0, &id2));
    head("xendevicemodel_create_ioreq_server", rc, err, "\"domid\":%u,\"handle_bufioreq\":0", BAD_DOM);
    printf("\"id\":%u", id2);
    end();

    xen_pfn_t gfn = 0x1111111111ull, bgfn = 0x2222222222ull;
    evtchn_port_t port = 0x33333333;
    CALL("xendevicemodel_get_ioreq_server_info",
         xendevicemodel_get_ioreq_server_info(h, dom, id, &gfn, &bgfn, &port));
    head("xendevicemodel_get_ioreq_server_info", rc, err, "\"domid\":%u,\"id\":%u,\"ioreq_gfn\":true,\"bufioreq_gfn\":true", dom, id);
    printf("\"ioreq_gfn\":%" PRIu64 ",\"bufioreq_gfn\":%" PRIu64 ",\"bufioreq_port\":%u", (uint64_t)gfn, (uint64_t)bgfn, port);
    end();

    port = 0x33333333;
    CALL("xendevicemodel_get_ioreq_server_info",
         xendevicemodel_get_ioreq_server_info(h, dom, id, NULL, NULL, &port));
    head("xendevicemodel_get_ioreq_server_info", rc, err, "\"domid\":%u,\"id\":%u,\"ioreq_gfn\":false,\"bufioreq_gfn\":false", dom, id);
    printf("\"bufioreq_port\":%u", port);
    end();

    gfn = 0x1111111111ull;
    port = 0x33333333;
    CALL("xendevicemodel_get_ioreq_server_info",
         xendevicemodel_get_ioreq_server_info(h, dom, id, &gfn, NULL, &port));
    head("xendevicemodel_get_ioreq_server_info", rc, err, "\"domid\":%u,\"id\":%u,\"ioreq_gfn\":true,\"bufioreq_gfn\":false", dom, id);
    printf("\"ioreq_gfn\":%" PRIu64 ",\"bufioreq_port\":%u", (uint64_t)gfn, port);
    end();

    CALL("xendevicemodel_get_ioreq_server_info",
         xendevicemodel_get_ioreq_server_info(h, dom, 0x77, NULL, NULL, NULL));
    head("xendevicemodel_get_ioreq_server_info", rc, err, "\"domid\":%u,\"id\":%u,\"ioreq_gfn\":false,\"bufioreq_gfn\":false,\"bufioreq_port\":false", dom, 0x77);
    end();

    static const struct { int is_mmio; uint64_t start, end; } ranges[] = {
        { 0, 0x3f8, 0x3ff }, { 1, 0xfee00000ull, 0xfee00fffull }, { 7, 0x100000000ull, 0x1000fffffull }, { 0, 0x20, 0x10 },
    };
    for (unsigned i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        CALL("xendevicemodel_map_io_range_to_ioreq_server",
             xendevicemodel_map_io_range_to_ioreq_server(h, dom, id, ranges[i].is_mmio, ranges[i].start, ranges[i].end));
        head("xendevicemodel_map_io_range_to_ioreq_server", rc, err,
             "\"domid\":%u,\"id\":%u,\"is_mmio\":%d,\"start\":%" PRIu64 ",\"end\":%" PRIu64, dom, id, ranges[i].is_mmio,
             ranges[i].start, ranges[i].end);
        end();
    }
    CALL("xendevicemodel_unmap_io_range_from_ioreq_server",
         xendevicemodel_unmap_io_range_from_ioreq_server(h, dom, id, 1, 0xfee00000ull, 0xfee00fffull));
    head("xendevicemodel_unmap_io_range_from_ioreq_server", rc, err,
         "\"domid\":%u,\"id\":%u,\"is_mmio\":1,\"start\":%" PRIu64 ",\"end\":%" PRIu64, dom, id, (uint64_t)0xfee00000ull,
         (uint64_t)0xfee00fffull);
    end();

    static const struct { uint16_t seg; uint8_t bus, dev, fn; } pcis[] = {
        { 0xabcd, 0xef, 0x1f, 7 }, { 0, 0, 0x20, 0 }, { 0, 0, 3, 8 },
    };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_map_pcidev_to_ioreq_server",
             xendevicemodel_map_pcidev_to_ioreq_server(h, dom, id, pcis[i].seg, pcis[i].bus, pcis[i].dev, pcis[i].fn));
        head("xendevicemodel_map_pcidev_to_ioreq_server", rc, err,
             "\"domid\":%u,\"id\":%u,\"segment\":%u,\"bus\":%u,\"device\":%u,\"function\":%u", dom, id, pcis[i].seg,
             pcis[i].bus, pcis[i].dev, pcis[i].fn);
        end();
    }
    for (unsigned i = 0; i < 2; i++) {
        CALL("xendevicemodel_unmap_pcidev_from_ioreq_server",
             xendevicemodel_unmap_pcidev_from_ioreq_server(h, dom, id, pcis[i].seg, pcis[i].bus, pcis[i].dev, pcis[i].fn));
        head("xendevicemodel_unmap_pcidev_from_ioreq_server", rc, err,
             "\"domid\":%u,\"id\":%u,\"segment\":%u,\"bus\":%u,\"device\":%u,\"function\":%u", dom, id, pcis[i].seg,
             pcis[i].bus, pcis[i].dev, pcis[i].fn);
        end();
    }

    static const struct { uint16_t type; uint32_t flags; } mts[] = {
        { HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_WRITE },
        { HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_READ },
        { HVMMEM_ram_rw, XEN_DMOP_IOREQ_MEM_ACCESS_WRITE },
        { HVMMEM_ioreq_server, 0 },
    };
    for (unsigned i = 0; i < 4; i++) {
        CALL("xendevicemodel_map_mem_type_to_ioreq_server",
             xendevicemodel_map_mem_type_to_ioreq_server(h, dom, id, mts[i].type, mts[i].flags));
        head("xendevicemodel_map_mem_type_to_ioreq_server", rc, err, "\"domid\":%u,\"id\":%u,\"type\":%u,\"flags\":%u",
             dom, id, mts[i].type, mts[i].flags);
        end();
    }

    for (int en = 1; en >= 0; en--) {
        int arg = en ? 0x100 : 0;
        CALL("xendevicemodel_set_ioreq_server_state", xendevicemodel_set_ioreq_server_state(h, dom, id, arg));
        head("xendevicemodel_set_ioreq_server_state", rc, err, "\"domid\":%u,\"id\":%u,\"enabled\":%d", dom, id, arg);
        end();
    }

    static const struct { uint16_t seg; uint8_t bus, dev, intx; unsigned level; } intxs[] = {
        { 0, 0, 3, 0, 1 }, { 0, 0, 3, 0, 0 }, { 0, 0, 0xff, 2, 1 }, { 1, 0, 3, 0, 1 }, { 0, 0, 3, 4, 1 },
    };
    for (unsigned i = 0; i < 5; i++) {
        CALL("xendevicemodel_set_pci_intx_level",
             xendevicemodel_set_pci_intx_level(h, dom, intxs[i].seg, intxs[i].bus, intxs[i].dev, intxs[i].intx,
                                               intxs[i].level));
        head("xendevicemodel_set_pci_intx_level", rc, err,
             "\"domid\":%u,\"segment\":%u,\"bus\":%u,\"device\":%u,\"intx\":%u,\"level\":%u", dom, intxs[i].seg,
             intxs[i].bus, intxs[i].dev, intxs[i].intx, intxs[i].level);
        end();
    }

    static const struct { uint8_t irq; unsigned level; } isas[] = { { 5, 1 }, { 5, 0 }, { 16, 1 }, { 3, 2 } };
    for (unsigned i = 0; i < 4; i++) {
        CALL("xendevicemodel_set_isa_irq_level", xendevicemodel_set_isa_irq_level(h, dom, isas[i].irq, isas[i].level));
        head("xendevicemodel_set_isa_irq_level", rc, err, "\"domid\":%u,\"irq\":%u,\"level\":%u", dom, isas[i].irq,
             isas[i].level);
        end();
    }

    static const struct { unsigned irq, level; } irqs[] = { { 10, 1 }, { 10, 0 }, { 0x10000, 1 } };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_set_irq_level", xendevicemodel_set_irq_level(h, dom, irqs[i].irq, irqs[i].level));
        head("xendevicemodel_set_irq_level", rc, err, "\"domid\":%u,\"irq\":%u,\"level\":%u", dom, irqs[i].irq,
             irqs[i].level);
        end();
    }

    static const struct { uint8_t link, irq; } links[] = { { 1, 10 }, { 4, 10 }, { 2, 16 } };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_set_pci_link_route", xendevicemodel_set_pci_link_route(h, dom, links[i].link, links[i].irq));
        head("xendevicemodel_set_pci_link_route", rc, err, "\"domid\":%u,\"link\":%u,\"irq\":%u", dom, links[i].link,
             links[i].irq);
        end();
    }

    CALL("xendevicemodel_inject_msi", xendevicemodel_inject_msi(h, dom, 0xfee01000ull, 0x4041));
    head("xendevicemodel_inject_msi", rc, err, "\"domid\":%u,\"msi_addr\":%" PRIu64 ",\"msi_data\":%u", dom,
         (uint64_t)0xfee01000ull, 0x4041);
    end();

    {
        unsigned long bitmap[4];
        memset(bitmap, 0xa5, sizeof(bitmap));
        CALL("xendevicemodel_track_dirty_vram", xendevicemodel_track_dirty_vram(h, dom, 0x100, 70, bitmap));
        head("xendevicemodel_track_dirty_vram", rc, err, "\"domid\":%u,\"first_pfn\":%u,\"nr\":%u", dom, 0x100, 70);
        hex("dirty_bitmap", bitmap, sizeof(bitmap), 0);
        end();
        CALL("xendevicemodel_track_dirty_vram", xendevicemodel_track_dirty_vram(h, dom, 0x100, 0, bitmap));
        head("xendevicemodel_track_dirty_vram", rc, err, "\"domid\":%u,\"first_pfn\":%u,\"nr\":%u", dom, 0x100, 0);
        end();
        /* (nr + 7) / 8 is computed in 32 bits: this nr sends a 0-byte bitmap */
        CALL("xendevicemodel_track_dirty_vram", xendevicemodel_track_dirty_vram(h, dom, 0x100, 0xfffffffau, bitmap));
        head("xendevicemodel_track_dirty_vram", rc, err, "\"domid\":%u,\"first_pfn\":%u,\"nr\":%u", dom, 0x100, 0xfffffffau);
        hex("dirty_bitmap", bitmap, sizeof(bitmap), 0);
        end();
    }

    CALL("xendevicemodel_modified_memory", xendevicemodel_modified_memory(h, dom, 0x100, 4));
    head("xendevicemodel_modified_memory", rc, err, "\"domid\":%u,\"first_pfn\":%u,\"nr\":%u", dom, 0x100, 4);
    end();

    {
        struct xen_dm_op_modified_memory_extent ext[2];
        memset(ext, 0, sizeof(ext));
        ext[0].first_pfn = 0x100;
        ext[0].nr = 2;
        ext[1].first_pfn = 0x180;
        ext[1].nr = 3;
        CALL("xendevicemodel_modified_memory_bulk", xendevicemodel_modified_memory_bulk(h, dom, ext, 2));
        head("xendevicemodel_modified_memory_bulk", rc, err, "\"domid\":%u,\"nr\":2,\"pad\":0", dom);
        hex("extents", ext, sizeof(ext), 0);
        end();
        ext[1].pad = 0x5a;
        CALL("xendevicemodel_modified_memory_bulk", xendevicemodel_modified_memory_bulk(h, dom, ext, 2));
        head("xendevicemodel_modified_memory_bulk", rc, err, "\"domid\":%u,\"nr\":2,\"pad\":90", dom);
        hex("extents", ext, sizeof(ext), 0);
        end();
        CALL("xendevicemodel_modified_memory_bulk", xendevicemodel_modified_memory_bulk(h, dom, NULL, 0));
        head("xendevicemodel_modified_memory_bulk", rc, err, "\"domid\":%u,\"nr\":0,\"extents\":null", dom);
        end();
    }

    static const struct { unsigned type; uint64_t first; uint32_t nr; } mems[] = {
        { HVMMEM_ram_ro, 0x100, 4 }, { HVMMEM_ram_rw, 0x100, 4 }, { 0x10005, 0x100, 1 },
    };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_set_mem_type",
             xendevicemodel_set_mem_type(h, dom, (hvmmem_type_t)mems[i].type, mems[i].first, mems[i].nr));
        head("xendevicemodel_set_mem_type", rc, err, "\"domid\":%u,\"mem_type\":%u,\"first_pfn\":%" PRIu64 ",\"nr\":%u",
             dom, mems[i].type, mems[i].first, mems[i].nr);
        end();
    }

    static const struct { int vcpu; uint8_t vector, type; uint32_t ec; uint8_t len; uint64_t extra; } evs[] = {
        { 0, 14, 3, 0x12, 0, 0xdeadbeefcafeull }, { -1, 2, 2, 0, 0, 0 }, { 0, 0x80, 4, 0, 2, 0 },
    };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_inject_event",
             xendevicemodel_inject_event(h, dom, evs[i].vcpu, evs[i].vector, evs[i].type, evs[i].ec, evs[i].len,
                                         evs[i].extra));
        head("xendevicemodel_inject_event", rc, err,
             "\"domid\":%u,\"vcpu\":%d,\"vector\":%u,\"type\":%u,\"error_code\":%u,\"insn_len\":%u,\"extra\":%" PRIu64,
             dom, evs[i].vcpu, evs[i].vector, evs[i].type, evs[i].ec, evs[i].len, evs[i].extra);
        end();
    }

    CALL("xendevicemodel_relocate_memory", xendevicemodel_relocate_memory(h, dom, 1, 0x100, 0x200));
    head("xendevicemodel_relocate_memory", rc, err, "\"domid\":%u,\"size\":1,\"src_gfn\":%u,\"dst_gfn\":%u", dom, 0x100,
         0x200);
    end();

    static const struct { uint64_t start, end; uint32_t type; } pins[] = {
        { 0x100, 0x1ff, XEN_DMOP_MEM_CACHEATTR_WB }, { 0x100, 0x1ff, 2 }, { 0x100, 0x1ff, XEN_DMOP_DELETE_MEM_CACHEATTR },
    };
    for (unsigned i = 0; i < 3; i++) {
        CALL("xendevicemodel_pin_memory_cacheattr",
             xendevicemodel_pin_memory_cacheattr(h, dom, pins[i].start, pins[i].end, pins[i].type));
        head("xendevicemodel_pin_memory_cacheattr", rc, err,
             "\"domid\":%u,\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"type\":%u", dom, pins[i].start, pins[i].end,
             pins[i].type);
        end();
    }

    CALL("xendevicemodel_destroy_ioreq_server", xendevicemodel_destroy_ioreq_server(h, dom, id));
    head("xendevicemodel_destroy_ioreq_server", rc, err, "\"domid\":%u,\"id\":%u", dom, id);
    end();
    CALL("xendevicemodel_destroy_ioreq_server", xendevicemodel_destroy_ioreq_server(h, dom, id));
    head("xendevicemodel_destroy_ioreq_server", rc, err, "\"domid\":%u,\"id\":%u", dom, id);
    end();

    CALL("xendevicemodel_restrict", xendevicemodel_restrict(h, dom));
    head("xendevicemodel_restrict", rc, err, "\"domid\":%u", dom);
    end();
    CALL("xendevicemodel_restrict", xendevicemodel_restrict(h, dom));
    head("xendevicemodel_restrict", rc, err, "\"domid\":%u", dom);
    end();
    CALL("xendevicemodel_restrict", xendevicemodel_restrict(h, BAD_DOM));
    head("xendevicemodel_restrict", rc, err, "\"domid\":%u", BAD_DOM);
    end();
    vcpus = 0xdeadbeef;
    CALL("xendevicemodel_nr_vcpus", xendevicemodel_nr_vcpus(h, BAD_DOM, &vcpus));
    head("xendevicemodel_nr_vcpus", rc, err, "\"domid\":%u", BAD_DOM);
    printf("\"vcpus\":%u", vcpus);
    end();

    CALL("xendevicemodel_shutdown", xendevicemodel_shutdown(h, dom, SHUTDOWN_reboot));
    head("xendevicemodel_shutdown", rc, err, "\"domid\":%u,\"reason\":%u", dom, SHUTDOWN_reboot);
    end();

    CALL("xendevicemodel_close", xendevicemodel_close(h));
    head("xendevicemodel_close", rc, err, "\"handle\":true");
    end();
    CALL("xendevicemodel_close", xendevicemodel_close(NULL));
    head("xendevicemodel_close", rc, err, "\"handle\":null");
    end();
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) of the whole process so far, all threads. */
static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static int run_loop(unsigned long n)
{
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    if (!h) {
        perror("xendevicemodel_open");
        return 1;
    }
    unsigned vcpus = 0, failures = 0;
    int last_errno = 0;
    uint64_t c0 = cpu_ns();
    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < n; i++)
        if (xendevicemodel_nr_vcpus(h, dom, &vcpus) != 0) {
            failures++;
            last_errno = errno;
        }
    uint64_t t1 = now_ns();
    uint64_t c1 = cpu_ns();
    xendevicemodel_close(h);
    printf("{\"mode\":\"loop\",\"fn\":\"xendevicemodel_nr_vcpus\",\"calls\":%lu,\"failures\":%u,\"last_errno\":%d,\"vcpus\":%u,"
           "\"ns\":%" PRIu64 ",\"cpu_ns\":%" PRIu64 "}\n",
           n, failures, last_errno, vcpus, t1 - t0, c1 - c0);
    return failures ? 1 : 0;
}

struct looper {
    pthread_t tid;
    unsigned long n, failures;
    pthread_barrier_t *start;
};

static void *looper_main(void *arg)
{
    struct looper *l = arg;
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    unsigned vcpus;
    pthread_barrier_wait(l->start);
    if (!h) {
        l->failures = l->n;
        return NULL;
    }
    for (unsigned long i = 0; i < l->n; i++)
        if (xendevicemodel_nr_vcpus(h, dom, &vcpus) != 0)
            l->failures++;
    xendevicemodel_close(h);
    return NULL;
}

static int run_ploop(unsigned t, unsigned long n)
{
    struct looper *ls = calloc(t, sizeof(*ls));
    pthread_barrier_t start;
    if (!ls || t == 0 || pthread_barrier_init(&start, NULL, t + 1) != 0)
        return 1;
    for (unsigned i = 0; i < t; i++) {
        ls[i].n = n;
        ls[i].start = &start;
        if (pthread_create(&ls[i].tid, NULL, looper_main, &ls[i]) != 0)
            return 1;
    }
    pthread_barrier_wait(&start);
    uint64_t c0 = cpu_ns();
    uint64_t t0 = now_ns();
    unsigned long failures = 0;
    for (unsigned i = 0; i < t; i++) {
        pthread_join(ls[i].tid, NULL);
        failures += ls[i].failures;
    }
    uint64_t t1 = now_ns();
    uint64_t c1 = cpu_ns();
    printf("{\"mode\":\"ploop\",\"fn\":\"xendevicemodel_nr_vcpus\",\"threads\":%u,\"calls\":%lu,\"failures\":%lu,\"ns\":%" PRIu64
           ",\"cpu_ns\":%" PRIu64 "}\n",
           t, (unsigned long)t * n, failures, t1 - t0, c1 - c0);
    free(ls);
    return failures ? 1 : 0;
}

struct worker {
    pthread_t tid;
    xendevicemodel_handle *h;
    unsigned long n;
    ioservid_t id;
    int create_rc, create_errno;
    evtchn_port_t port;
    unsigned long ok, bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->create_rc = xendevicemodel_create_ioreq_server(w->h, dom, 1, &w->id);
    w->create_errno = w->create_rc ? errno : 0;
    if (w->create_rc)
        return NULL;
    evtchn_port_t first = 0;
    if (xendevicemodel_get_ioreq_server_info(w->h, dom, w->id, NULL, NULL, &first) != 0) {
        w->bad++;
        return NULL;
    }
    w->port = first;
    for (unsigned long i = 0; i < w->n; i++) {
        evtchn_port_t p = ~first;
        if (xendevicemodel_get_ioreq_server_info(w->h, dom, w->id, NULL, NULL, &p) == 0 && p == first)
            w->ok++;
        else
            w->bad++;
    }
    return NULL;
}

static int run_threads(unsigned t, unsigned long n)
{
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    if (!h) {
        perror("xendevicemodel_open");
        return 1;
    }
    struct worker *ws = calloc(t, sizeof(*ws));
    if (!ws)
        return 1;
    for (unsigned i = 0; i < t; i++) {
        ws[i].h = h;
        ws[i].n = n;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            return 1;
    }
    for (unsigned i = 0; i < t; i++)
        pthread_join(ws[i].tid, NULL);
    for (unsigned i = 0; i < t; i++) {
        printf("{\"mode\":\"threads\",\"thread\":%u,\"create_rc\":%d,\"create_errno\":%d,\"id\":%u,\"port\":%u,\"ok\":%lu,"
               "\"bad\":%lu}\n",
               i, ws[i].create_rc, ws[i].create_errno, ws[i].id, ws[i].port, ws[i].ok, ws[i].bad);
        if (ws[i].create_rc == 0)
            xendevicemodel_destroy_ioreq_server(h, dom, ws[i].id);
    }
    free(ws);
    xendevicemodel_close(h);
    return 0;
}

static int run_toolcore(void)
{
    int rc, err;
    xendevicemodel_handle *h = open_handle();
    if (!h)
        return 1;
    unsigned vcpus = 0xdeadbeef;
    CALL("xendevicemodel_nr_vcpus", xendevicemodel_nr_vcpus(h, dom, &vcpus));
    head("xendevicemodel_nr_vcpus", rc, err, "\"domid\":%u", dom);
    printf("\"vcpus\":%u", vcpus);
    end();
    CALL("xentoolcore_restrict_all", xentoolcore_restrict_all((domid_t)dom));
    head("xentoolcore_restrict_all", rc, err, "\"domid\":%u", dom);
    end();
    static const unsigned doms[2] = { 0, BAD_DOM };
    for (unsigned i = 0; i < 2; i++) {
        unsigned d = i == 0 ? dom : doms[1];
        vcpus = 0xdeadbeef;
        CALL("xendevicemodel_nr_vcpus", xendevicemodel_nr_vcpus(h, d, &vcpus));
        head("xendevicemodel_nr_vcpus", rc, err, "\"domid\":%u", d);
        printf("\"vcpus\":%u", vcpus);
        end();
    }
    CALL("xendevicemodel_close", xendevicemodel_close(h));
    head("xendevicemodel_close", rc, err, "\"handle\":true");
    end();
    return 0;
}

int main(int argc, char **argv)
{
    shim_mark = (void (*)(const char *))dlsym(RTLD_DEFAULT, "xendm_shim_mark");
    const char *mode = argc > 1 ? argv[1] : "all";
    if (strcmp(mode, "all") == 0) {
        if (argc > 2)
            dom = (unsigned)strtoul(argv[2], NULL, 0);
        return run_all();
    }
    if (strcmp(mode, "loop") == 0 && argc > 2) {
        if (argc > 3)
            dom = (unsigned)strtoul(argv[3], NULL, 0);
        return run_loop(strtoul(argv[2], NULL, 0));
    }
    if (strcmp(mode, "ploop") == 0 && argc > 3) {
        if (argc > 4)
            dom = (unsigned)strtoul(argv[4], NULL, 0);
        return run_ploop((unsigned)strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
    }
    if (strcmp(mode, "threads") == 0 && argc > 3) {
        if (argc > 4)
            dom = (unsigned)strtoul(argv[4], NULL, 0);
        return run_threads((unsigned)strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
    }
    if (strcmp(mode, "toolcore") == 0) {
        if (argc > 2)
            dom = (unsigned)strtoul(argv[2], NULL, 0);
        return run_toolcore();
    }
    if (strcmp(mode, "open") == 0) {
        xendevicemodel_handle *h = open_handle();
        if (!h)
            return 1;
        int rc, err;
        CALL("xendevicemodel_close", xendevicemodel_close(h));
        head("xendevicemodel_close", rc, err, "\"handle\":true");
        end();
        return 0;
    }
    fprintf(stderr, "usage: conformance all [dom] | loop N [dom] | ploop T N [dom] | threads T N [dom] | toolcore [dom] | open\n");
    return 2;
}
