/*
 * A minimal ioreq-server device model on Debian's real libraries (libxendevicemodel,
 * libxenforeignmemory, libxenevtchn) under the shim, driven by test/native/ioreq.test.ts: it maps
 * its server's pages with xenforeignmemory_map_resource, binds every vCPU's port, and answers N port
 * I/O requests in the shared page (reads get 0x11223300 + n), one JSON line per step.
 *
 *   ioreqclient DOM N
 *   ioreqclient ram DOM      map gfns 0x100, 0x101, 0xa0 (a hole) and 0x102 with xenforeignmemory_map
 *                            (MMAPBATCH_V2), report the per-gfn errors and the first bytes of 0x101,
 *                            write "xendm" at 0x100:8, unmap
 *   ioreqclient depriv DOM N DIR   as DOM N, but after binding: xentoolcore_restrict_all(DOM), chroot(DIR),
 *                            a new network namespace, uid/gid 65534 and a seccomp filter that kills clone;
 *                            then, per request, 16 guest pages mapped, written and unmapped again
 */
#define _GNU_SOURCE
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>
#include <xen/hvm/hvm_op.h>
#include <xentoolcore.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A filter that kills the process on clone / clone3 (no thread or child can be started any more). */
static int forbid_clone(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435 /* __NR_clone3 */, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof(f) / sizeof(f[0])), f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static const char *depriv_dir;
static int depriv(domid_t dom)
{
    if (xentoolcore_restrict_all(dom))
        return -1;
    if (chroot(depriv_dir) || chdir("/"))
        return -2;
    if (unshare(CLONE_NEWNET))
        return -3;
    if (setgid(65534) || setuid(65534))
        return -4;
    if (forbid_clone())
        return -5;
    return 0;
}

#define FAIL(what) do { printf("{\"fail\":\"%s\",\"errno\":%d}\n", what, errno); return 1; } while (0)

static int ram(domid_t dom)
{
    xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
    if (!fm)
        FAIL("open");
    xen_pfn_t gfns[4] = { 0x100, 0x101, 0xa0, 0x102 };
    int err[4] = { -1, -1, -1, -1 };
    uint8_t *p = xenforeignmemory_map(fm, dom, PROT_READ | PROT_WRITE, 4, gfns, err);
    if (!p)
        FAIL("map");
    printf("{\"err\":[%d,%d,%d,%d],\"page101\":\"%.8s\"}\n", err[0], err[1], err[2], err[3], (const char *)p + 4096);
    memcpy(p + 8, "xendm", 6);
    p[2 * 4096 + 5 + 4096] = 0x5a; /* gfn 0x102, byte 5 */
    if (xenforeignmemory_unmap(fm, p, 4))
        FAIL("unmap");
    /* the same gfn mapped again sees what was written through the first mapping */
    uint8_t *q = xenforeignmemory_map(fm, dom, PROT_READ, 1, gfns, NULL);
    if (!q)
        FAIL("map again");
    printf("{\"again\":\"%.5s\"}\n", (const char *)q + 8);
    xenforeignmemory_unmap(fm, q, 1);
    xenforeignmemory_close(fm);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && strcmp(argv[1], "ram") == 0)
        return ram((domid_t)strtoul(argv[2], NULL, 0));
    if (argc > 4 && strcmp(argv[1], "depriv") == 0) {
        depriv_dir = argv[4];
        argv += 1;
        argc -= 1;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: ioreqclient DOM N\n");
        return 2;
    }
    domid_t dom = (domid_t)strtoul(argv[1], NULL, 0);
    unsigned n = (unsigned)strtoul(argv[2], NULL, 0);
    xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xe = xenevtchn_open(NULL, 0);
    if (!dm || !fm || !xe)
        FAIL("open");
    ioservid_t id;
    if (xendevicemodel_create_ioreq_server(dm, dom, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id))
        FAIL("create_ioreq_server");
    size_t size = 0;
    if (xenforeignmemory_resource_size(fm, dom, XENMEM_resource_ioreq_server, id, &size))
        FAIL("resource_size");
    void *addr = NULL;
    xenforeignmemory_resource_handle *res = xenforeignmemory_map_resource(
        fm, dom, XENMEM_resource_ioreq_server, id, XENMEM_resource_ioreq_server_frame_bufioreq, 2, &addr,
        PROT_READ | PROT_WRITE, 0);
    if (!res)
        FAIL("map_resource");
    shared_iopage_t *sync = (shared_iopage_t *)((uint8_t *)addr + 4096);
    if (xendevicemodel_map_io_range_to_ioreq_server(dm, dom, id, 0, 0x100, 0x103))
        FAIL("map_io_range");
    if (xendevicemodel_set_ioreq_server_state(dm, dom, id, 1))
        FAIL("set_ioreq_server_state");
    unsigned vcpus = 0;
    if (xendevicemodel_nr_vcpus(dm, dom, &vcpus) || vcpus == 0 || vcpus > 16)
        FAIL("nr_vcpus");
    evtchn_port_t local[16];
    printf("{\"size\":%zu,\"vp_eport\":[", size);
    for (unsigned v = 0; v < vcpus; v++) {
        xenevtchn_port_or_error_t l = xenevtchn_bind_interdomain(xe, dom, sync->vcpu_ioreq[v].vp_eport);
        if (l < 0)
            FAIL("bind_interdomain");
        local[v] = (evtchn_port_t)l;
        printf("%s%u", v ? "," : "", sync->vcpu_ioreq[v].vp_eport);
    }
    printf("]");
    if (depriv_dir) {
        int d = depriv(dom);
        printf(",\"depriv\":%d,\"uid\":%d", d, (int)getuid());
        if (d)
            FAIL("deprivilege");
    }
    printf(",\"ready\":true}\n");
    int fd = xenevtchn_fd(xe);
    unsigned done = 0;
    while (done < n) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            FAIL("poll timeout");
        xenevtchn_port_or_error_t port = xenevtchn_pending(xe);
        if (port < 0)
            FAIL("pending");
        xenevtchn_unmask(xe, (evtchn_port_t)port);
        for (unsigned v = 0; v < vcpus; v++) {
            ioreq_t *r = &sync->vcpu_ioreq[v];
            if (local[v] != (evtchn_port_t)port || (__atomic_thread_fence(__ATOMIC_ACQUIRE), r->state) != STATE_IOREQ_READY)
                continue; /* the binding's first, spurious event, or another vCPU's */
            r->state = STATE_IOREQ_INPROCESS;
            if (n <= 64) /* a long run (a benchmark) stays quiet */
                printf("{\"vcpu\":%u,\"addr\":%llu,\"size\":%u,\"dir\":%u,\"type\":%u,\"data\":%llu}\n", v,
                   (unsigned long long)r->addr, r->size, r->dir, r->type, (unsigned long long)r->data);
            if (r->dir == IOREQ_READ)
                r->data = 0x11223300u + done;
            if (depriv_dir) {
                /* a mapcache bucket: 16 guest pages mapped, one written, unmapped again */
                xen_pfn_t g[16];
                int e[16];
                for (unsigned k = 0; k < 16; k++)
                    g[k] = 0x200 + k;
                uint8_t *m = xenforeignmemory_map(fm, dom, PROT_READ | PROT_WRITE, 16, g, e);
                if (!m)
                    FAIL("map after deprivilege");
                m[15 * 4096 + done] = (uint8_t)(0xc0 + done);
                xenforeignmemory_unmap(fm, m, 16);
                unsigned nv = 0;
                if (xendevicemodel_nr_vcpus(dm, dom, &nv) || nv != vcpus)
                    FAIL("dm_op after deprivilege");
            }
            __atomic_thread_fence(__ATOMIC_RELEASE);
            r->state = STATE_IORESP_READY;
            xenevtchn_notify(xe, local[v]);
            done++;
        }
    }
    xenforeignmemory_unmap_resource(fm, res);
    xendevicemodel_set_ioreq_server_state(dm, dom, id, 0);
    xendevicemodel_destroy_ioreq_server(dm, dom, id);
    printf("{\"done\":%u}\n", done);
    return 0;
}
