/*
 * conformclient: privcmd ioctls issued by hand, as a binding of its own would, each case
 * deliberately departing from what libxendevicemodel sends in one way (or not at all: "good").
 * Meant to run under libxendm-shim.so against `xendm serve --conform`.
 *
 *   conformclient CASE [dom]     one case; prints {"case":CASE,"ret":R,"errno":E}
 *
 *   good           set_mem_type exactly as the library sends it (DM_OP ioctl)
 *   good-hcall     the same through IOCTL_PRIVCMD_HYPERCALL (the library's fallback)
 *   short-buf0     set_mem_type with a 24-byte buffer 0 (8 + sizeof the union member)
 *   short-buf0-hcall  the same on the hypercall path
 *   bad-pad        set_mem_type with xen_dm_op.u.set_mem_type.pad = 0x1234
 *   swapped        modified_memory with the extent array in buffer 0, struct xen_dm_op in buffer 1
 *   short-bitmap   track_dirty_vram nr 100 with a 12-byte bitmap ((100 + 7) / 8 is 13)
 *   i386-bufs      track_dirty_vram with privcmd_dm_op_buf laid out as on i386 (8-byte entries)
 *   read-flag      map_mem_type_to_ioreq_server with XEN_DMOP_IOREQ_MEM_ACCESS_READ (the
 *                  library refuses that itself: a call it never makes)
 */
#define _GNU_SOURCE
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/sys/privcmd.h>

/* What an i386 build of the same program would put in its privcmd_dm_op_buf array. */
struct i386_dm_op_buf {
    uint32_t uptr;
    uint32_t size;
};

static int fd = -1;
static domid_t dom = 1;

static long dm_op(unsigned num, privcmd_dm_op_buf_t *bufs)
{
    privcmd_dm_op_t op = { .dom = dom, .num = (uint16_t)num, .ubufs = bufs };
    return ioctl(fd, IOCTL_PRIVCMD_DM_OP, &op);
}

static long hcall(unsigned num, xen_dm_op_buf_t *bufs)
{
    privcmd_hypercall_t h = { .op = __HYPERVISOR_dm_op, .arg = { dom, num, (uint64_t)(uintptr_t)bufs, 0, 0 } };
    return ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &h);
}

static void set_mem_type(struct xen_dm_op *op)
{
    memset(op, 0, sizeof(*op));
    op->op = XEN_DMOP_set_mem_type;
    op->u.set_mem_type.mem_type = HVMMEM_ram_ro;
    op->u.set_mem_type.first_pfn = 0x100;
    op->u.set_mem_type.nr = 1;
}

/* Memory below 4 GiB, so that a pointer fits the 32-bit uptr of the i386 layout. */
static void *low(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

static long run(const char *c)
{
    struct xen_dm_op op;
    if (!strcmp(c, "good") || !strcmp(c, "bad-pad") || !strcmp(c, "short-buf0")) {
        set_mem_type(&op);
        if (!strcmp(c, "bad-pad"))
            op.u.set_mem_type.pad = 0x1234;
        privcmd_dm_op_buf_t b = { &op, !strcmp(c, "short-buf0") ? 8 + sizeof(op.u.set_mem_type) : sizeof(op) };
        return dm_op(1, &b);
    }
    if (!strcmp(c, "good-hcall") || !strcmp(c, "short-buf0-hcall")) {
        set_mem_type(&op);
        xen_dm_op_buf_t b = { .size = !strcmp(c, "good-hcall") ? sizeof(op) : 8 + sizeof(op.u.set_mem_type) };
        set_xen_guest_handle(b.h, &op);
        return hcall(1, &b);
    }
    if (!strcmp(c, "swapped")) {
        struct xen_dm_op_modified_memory_extent ext = { .nr = 1, .first_pfn = 0x100 };
        memset(&op, 0, sizeof(op));
        op.op = XEN_DMOP_modified_memory;
        op.u.modified_memory.nr_extents = 1;
        privcmd_dm_op_buf_t b[2] = { { &ext, sizeof(ext) }, { &op, sizeof(op) } };
        return dm_op(2, b);
    }
    if (!strcmp(c, "short-bitmap")) {
        uint8_t bitmap[16];
        memset(&op, 0, sizeof(op));
        op.op = XEN_DMOP_track_dirty_vram;
        op.u.track_dirty_vram.first_pfn = 0x100;
        op.u.track_dirty_vram.nr = 100;
        privcmd_dm_op_buf_t b[2] = { { &op, sizeof(op) }, { bitmap, 12 } };
        return dm_op(2, b);
    }
    if (!strcmp(c, "i386-bufs")) {
        struct xen_dm_op *lop = low(4096);
        uint8_t *bitmap = (uint8_t *)lop + 256;
        struct i386_dm_op_buf *b = (struct i386_dm_op_buf *)((uint8_t *)lop + 512);
        lop->op = XEN_DMOP_track_dirty_vram;
        lop->u.track_dirty_vram.first_pfn = 0x100;
        lop->u.track_dirty_vram.nr = 100;
        b[0] = (struct i386_dm_op_buf){ (uint32_t)(uintptr_t)lop, sizeof(*lop) };
        b[1] = (struct i386_dm_op_buf){ (uint32_t)(uintptr_t)bitmap, 13 };
        return dm_op(2, (privcmd_dm_op_buf_t *)b);
    }
    if (!strcmp(c, "read-flag")) {
        memset(&op, 0, sizeof(op));
        op.op = XEN_DMOP_map_mem_type_to_ioreq_server;
        op.u.map_mem_type_to_ioreq_server.type = HVMMEM_ioreq_server;
        op.u.map_mem_type_to_ioreq_server.flags = XEN_DMOP_IOREQ_MEM_ACCESS_READ;
        privcmd_dm_op_buf_t b = { &op, sizeof(op) };
        return dm_op(1, &b);
    }
    fprintf(stderr, "conformclient: unknown case %s\n", c);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: conformclient CASE [dom]\n");
        return 2;
    }
    if (argc > 2)
        dom = (domid_t)strtoul(argv[2], NULL, 0);
    fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("/dev/xen/privcmd");
        return 1;
    }
    errno = 0;
    long r = run(argv[1]);
    printf("{\"case\":\"%s\",\"ret\":%ld,\"errno\":%d}\n", argv[1], r, r < 0 ? errno : 0);
    return 0;
}
