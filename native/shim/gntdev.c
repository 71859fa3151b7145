/*
 * /dev/xen/gntdev and /dev/xen/gntalloc on a host with no grants to give:
 * real fds (memfds), answered in the shim with the drivers' own checks.
 * gntdev keeps the grant maps a program asks for (drivers/xen/gntdev.c maps
 * at mmap time, where the grant hypercall then fails: mmap is EINVAL); a grant
 * copy reports GNTST_bad_gntref for every segment; gntalloc cannot grant
 * (ENOSPC).  Nothing here talks to the server.
 */
#include "shim.h"

#define GNT_IOC(nr, size) ((unsigned long)(((size) << 16) | ('G' << 8) | (nr)))

struct gnt_map_grant_ref { uint32_t count, pad; uint64_t index; };  /* then count x { u32 domid, ref } */
struct gnt_unmap_grant_ref { uint64_t index; uint32_t count, pad; };
struct gnt_offset_for_vaddr { uint64_t vaddr, offset; uint32_t count, pad; };
struct gnt_unmap_notify { uint64_t index; uint32_t action, port; };
struct gnt_copy_segment {
    union {
        void *virt;
        struct { uint32_t ref; uint16_t offset, domid; } foreign;
    } source, dest;
    uint16_t len, flags;
    int16_t status;
};
struct gnt_copy { unsigned int count; struct gnt_copy_segment *segments; };
struct gntalloc_alloc { uint16_t domid, flags; uint32_t count; uint64_t index; uint32_t gref_ids[1]; }; /* count gref_ids */
struct gntalloc_dealloc { uint64_t index; uint32_t count; };

#define IOC_MAP GNT_IOC(0, 24)
#define IOC_UNMAP GNT_IOC(1, sizeof(struct gnt_unmap_grant_ref))
#define IOC_OFFSET GNT_IOC(2, sizeof(struct gnt_offset_for_vaddr))
#define IOC_NOTIFY GNT_IOC(7, sizeof(struct gnt_unmap_notify))
#define IOC_COPY GNT_IOC(8, sizeof(struct gnt_copy))
#define IOC_ALLOC GNT_IOC(5, sizeof(struct gntalloc_alloc))
#define IOC_DEALLOC GNT_IOC(6, sizeof(struct gntalloc_dealloc))
#define IOC_ALLOC_NOTIFY GNT_IOC(7, sizeof(struct gnt_unmap_notify))

#if defined(__has_include)
#if __has_include(<xen/sys/gntdev.h>) && __has_include(<xen/sys/gntalloc.h>)
#include <xen/sys/gntdev.h>
#include <xen/sys/gntalloc.h>
_Static_assert(IOC_MAP == IOCTL_GNTDEV_MAP_GRANT_REF, "IOCTL_GNTDEV_MAP_GRANT_REF");
_Static_assert(IOC_UNMAP == IOCTL_GNTDEV_UNMAP_GRANT_REF, "IOCTL_GNTDEV_UNMAP_GRANT_REF");
_Static_assert(IOC_OFFSET == IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, "IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR");
_Static_assert(IOC_NOTIFY == IOCTL_GNTDEV_SET_UNMAP_NOTIFY, "IOCTL_GNTDEV_SET_UNMAP_NOTIFY");
_Static_assert(IOC_COPY == IOCTL_GNTDEV_GRANT_COPY, "IOCTL_GNTDEV_GRANT_COPY");
_Static_assert(IOC_ALLOC == IOCTL_GNTALLOC_ALLOC_GREF, "IOCTL_GNTALLOC_ALLOC_GREF");
_Static_assert(IOC_DEALLOC == IOCTL_GNTALLOC_DEALLOC_GREF, "IOCTL_GNTALLOC_DEALLOC_GREF");
_Static_assert(sizeof(struct gnt_copy_segment) == sizeof(struct ioctl_gntdev_grant_copy_segment), "grant_copy_segment");
#endif
#endif

#define GNTDEV_LIMIT 65536u /* the driver's default page limit */
#define GNTCOPY_source_gref 1u
#define GNTCOPY_dest_gref 2u
#define GNTST_bad_gntref (-4)
#define MAX_MAPS 1024

/* A grant device's state: its maps (by page index), kept in the connection slot of the fd table. */
struct gnt_state {
    unsigned n;
    struct { uint64_t index; uint32_t count; } maps[MAX_MAPS];
};

int open_gnt(int type, int flags)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct gnt_state *g = calloc(1, sizeof(*g));
    if (!c || !g) {
        free(c);
        free(g);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->sock = -1;
    c->refs = 1;
    c->pid = cached_pid;
    c->type = type;
    c->buf = (uint8_t *)g; /* freed with the connection */
    int fd = memfd_create(type == CONN_GNTDEV ? "xendm-gntdev" : "xendm-gntalloc", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (fd < 0)
        return conn_abandon(c);
    return table_install(fd, c);
}

/* The first free page range of `count` pages after the maps (the driver's find_next_free index). */
static uint64_t next_index(struct gnt_state *g, uint32_t count)
{
    uint64_t at = 0;
    for (;;) {
        int clash = 0;
        for (unsigned i = 0; i < g->n; i++)
            if (at < g->maps[i].index + g->maps[i].count && g->maps[i].index < at + count) {
                at = g->maps[i].index + g->maps[i].count;
                clash = 1;
            }
        if (!clash)
            return at;
    }
}

static long gntdev_op(struct gnt_state *g, unsigned long req, void *arg)
{
    if (req == IOC_MAP) {
        struct gnt_map_grant_ref m;
        if (mem_read(&m, arg, sizeof(m)) < 0)
            return -EFAULT;
        if (m.count == 0 || m.count > GNTDEV_LIMIT)
            return -EINVAL;
        uint8_t probe[8];
        /* the refs are copied in (EFAULT when unreadable): the last one stands for them all */
        if (mem_read(probe, (uint8_t *)arg + 16 + (size_t)(m.count - 1) * 8, 8) < 0 || mem_read(probe, (uint8_t *)arg + 16, 8) < 0)
            return -EFAULT;
        if (g->n == MAX_MAPS)
            return -ENOMEM;
        uint64_t index = next_index(g, m.count);
        g->maps[g->n].index = index;
        g->maps[g->n].count = m.count;
        uint64_t off = index << 12;
        if (mem_write((uint8_t *)arg + 8, &off, sizeof(off)) < 0)
            return -EFAULT; /* the map stays, as in the driver */
        g->n++;
        return 0;
    }
    if (req == IOC_UNMAP) {
        struct gnt_unmap_grant_ref u;
        if (mem_read(&u, arg, sizeof(u)) < 0)
            return -EFAULT;
        for (unsigned i = 0; i < g->n; i++)
            if (g->maps[i].index == u.index >> 12 && g->maps[i].count == u.count) {
                g->maps[i] = g->maps[--g->n];
                return 0;
            }
        return -ENOENT;
    }
    if (req == IOC_OFFSET) {
        struct gnt_offset_for_vaddr v;
        if (mem_read(&v, arg, sizeof(v)) < 0)
            return -EFAULT;
        return -EINVAL; /* no gntdev mapping can exist: mmap never succeeds */
    }
    if (req == IOC_NOTIFY) {
        struct gnt_unmap_notify n;
        if (mem_read(&n, arg, sizeof(n)) < 0)
            return -EFAULT;
        if (n.action & ~3u)
            return -EINVAL;
        for (unsigned i = 0; i < g->n; i++)
            if (n.index >> 12 >= g->maps[i].index && n.index >> 12 < g->maps[i].index + g->maps[i].count)
                return 0;
        return -ENOENT;
    }
    if (req == IOC_COPY) {
        struct gnt_copy cp;
        if (mem_read(&cp, arg, sizeof(cp)) < 0)
            return -EFAULT;
        for (unsigned i = 0; i < cp.count; i++) {
            struct gnt_copy_segment s;
            if (mem_read(&s, cp.segments + i, sizeof(s)) < 0)
                return -EFAULT;
            /* mirrors gntdev.c:gntdev_grant_copy_seg: local to local is refused, and so is a page overrun */
            if (!(s.flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)))
                return -EINVAL;
            if ((s.flags & GNTCOPY_source_gref) && (unsigned)s.source.foreign.offset + s.len > 4096)
                return -EINVAL;
            if ((s.flags & GNTCOPY_dest_gref) && (unsigned)s.dest.foreign.offset + s.len > 4096)
                return -EINVAL;
            int16_t st = GNTST_bad_gntref; /* no domain has granted anything */
            if (mem_write(&cp.segments[i].status, &st, sizeof(st)) < 0)
                return -EFAULT;
        }
        return 0;
    }
    return -ENOTTY;
}

static long gntalloc_op(unsigned long req, void *arg)
{
    if (req == IOC_ALLOC) {
        struct gntalloc_alloc a;
        if (mem_read(&a, arg, sizeof(a)) < 0)
            return -EFAULT;
        return -ENOSPC; /* this host's grant table has no entries to give */
    }
    if (req == IOC_DEALLOC) {
        struct gntalloc_dealloc d;
        if (mem_read(&d, arg, sizeof(d)) < 0)
            return -EFAULT;
        return -EINVAL;
    }
    if (req == IOC_ALLOC_NOTIFY) {
        struct gnt_unmap_notify n;
        if (mem_read(&n, arg, sizeof(n)) < 0)
            return -EFAULT;
        return -ENOENT;
    }
    return -ENOTTY;
}

long gnt_ioctl(struct conn *c, unsigned long req, void *arg)
{
    pthread_mutex_lock(&c->lock);
    long r = c->type == CONN_GNTDEV ? gntdev_op((struct gnt_state *)c->buf, req, arg) : gntalloc_op(req, arg);
    pthread_mutex_unlock(&c->lock);
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"%s 0x%lx\"", c->type == CONN_GNTDEV ? "gntdev" : "gntalloc", req);
        capture_result(&s, r < 0 ? -1 : r, r < 0 ? (int)-r : 0);
    }
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
