/*
 * Foreign mappings through /dev/xen/privcmd: mmap of a privcmd fd makes a
 * placeholder area (the kernel's empty privcmd VMA), IOCTL_PRIVCMD_MMAP_RESOURCE
 * fills it with pages of the server's shared file (MAP_SHARED | MAP_FIXED at
 * the offsets the server names), munmap forgets it.  The shared file is opened
 * once, at the first privcmd open, so a program that deprivileges itself later
 * (chroot, setuid) still maps pages: it needs no new path or socket for that.
 */
#include "shim.h"

/* struct privcmd_mmap_resource: the same layout on every ABI (u64 fields at 16 and 24) */
struct shim_mmap_resource {
    uint16_t dom;
    uint32_t type;
    uint32_t id;
    uint32_t idx;
    uint64_t num;
    uint64_t addr;
};
_Static_assert(sizeof(struct shim_mmap_resource) == 32, "privcmd_mmap_resource");
#define SHIM_IOCTL_MMAP_RESOURCE SHIM_IOC(7, sizeof(struct shim_mmap_resource))
#if defined(IOCTL_PRIVCMD_MMAP_RESOURCE)
_Static_assert(SHIM_IOCTL_MMAP_RESOURCE == IOCTL_PRIVCMD_MMAP_RESOURCE, "IOCTL_PRIVCMD_MMAP_RESOURCE");
#endif

#define MMAP_ARG_FAULT 1u
#define MMAP_ADDR_SET 2u
#define MMAP_IN_VMA 4u
#define PAGE 4096u

/* ---- placeholder areas (the privcmd VMAs) */

#define MAX_AREAS 4096
static struct area {
    uintptr_t start, end;
    int prot;
} areas[MAX_AREAS];
static unsigned nareas;
static pthread_mutex_t areas_lock = PTHREAD_MUTEX_INITIALIZER;

void *privcmd_mmap(void *addr, size_t len, int prot, int flags)
{
    pthread_mutex_lock(&areas_lock);
    if (nareas == MAX_AREAS) {
        pthread_mutex_unlock(&areas_lock);
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = real.mmap(addr, len, prot, (flags & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        size_t rounded = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
        areas[nareas++] = (struct area){ (uintptr_t)p, (uintptr_t)p + rounded, prot };
    }
    pthread_mutex_unlock(&areas_lock);
    return p;
}

/* munmap of [addr, addr + len): the areas inside it are forgotten, those it cuts are trimmed. */
void areas_unmapped(void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr, b = a + ((len + PAGE - 1) & ~(size_t)(PAGE - 1));
    pthread_mutex_lock(&areas_lock);
    for (unsigned i = 0; i < nareas;) {
        struct area *r = &areas[i];
        if (r->end <= a || r->start >= b) {
            i++;
        } else if (a <= r->start && b >= r->end) {
            areas[i] = areas[--nareas];
        } else if (a <= r->start) {
            r->start = b;
            i++;
        } else {
            r->end = a; /* a hole in the middle keeps the front part only */
            i++;
        }
    }
    pthread_mutex_unlock(&areas_lock);
}

/* The protection of the area holding [addr, addr + len) whole, or -1. */
static int area_prot(uintptr_t addr, uint64_t len)
{
    int prot = -1;
    pthread_mutex_lock(&areas_lock);
    for (unsigned i = 0; i < nareas; i++)
        if (addr >= areas[i].start && addr < areas[i].end && len <= areas[i].end - addr) {
            prot = areas[i].prot;
            break;
        }
    pthread_mutex_unlock(&areas_lock);
    return prot;
}

/* ---- the server's shared file */

static int shm_fd = -1;
static uint64_t shm_size;
static pthread_mutex_t shm_lock = PTHREAD_MUTEX_INITIALIZER;

/* SHM_INFO on a fresh connection (c unshared yet); opens the file once per process. */
void shm_open_once(struct conn *c)
{
    pthread_mutex_lock(&shm_lock);
    if (shm_fd < 0) {
        size_t rlen;
        if (transact(c, KIND_SHM_INFO, 0, &rlen) == 0 && rlen >= 16 && get32(c->buf) == 0 && rlen - 16 < 4096) {
            char path[4096];
            memcpy(path, c->buf + 16, rlen - 16);
            path[rlen - 16] = 0;
            shm_size = (uint64_t)get32(c->buf + 8) | (uint64_t)get32(c->buf + 12) << 32;
            shm_fd = real.open(path, O_RDWR | O_CLOEXEC);
        }
    }
    pthread_mutex_unlock(&shm_lock);
}

/* Maps the frames at their file offsets over the area, coalescing runs.  0 or -1 with errno. */
static int map_frames(uintptr_t addr, const uint8_t *offs, uint32_t n, int prot)
{
    uint32_t i = 0;
    while (i < n) {
        uint64_t off = (uint64_t)get32(offs + 8 * i) | (uint64_t)get32(offs + 8 * i + 4) << 32;
        uint32_t run = 1;
        while (i + run < n) {
            const uint8_t *q = offs + 8 * (i + run);
            uint64_t o = (uint64_t)get32(q) | (uint64_t)get32(q + 4) << 32;
            if (o != off + (uint64_t)run * PAGE)
                break;
            run++;
        }
        if (off % PAGE != 0 || off + (uint64_t)run * PAGE > shm_size) {
            errno = EIO;
            return -1;
        }
        void *p = real.mmap((void *)(addr + (uintptr_t)i * PAGE), (size_t)run * PAGE, prot, MAP_SHARED | MAP_FIXED, shm_fd,
                            (off_t)off);
        if (p == MAP_FAILED)
            return -1;
        i += run;
    }
    return 0;
}

long do_mmap_resource(struct conn *c, void *arg)
{
    struct shim_mmap_resource m;
    memset(&m, 0, sizeof(m));
    int fault = mem_read(&m, arg, sizeof(m)) < 0;
    unsigned flags = fault ? MMAP_ARG_FAULT : 0;
    int prot = -1;
    if (!fault && m.addr) {
        flags |= MMAP_ADDR_SET;
        if (m.num <= (uint64_t)UINTPTR_MAX / PAGE && (prot = area_prot((uintptr_t)m.addr, m.num * PAGE)) >= 0)
            flags |= MMAP_IN_VMA;
    }
    long ret = -1;
    int err = EIO;
    size_t rlen;
    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    if (ensure_cap(c, HDR_SIZE + 24) < 0) {
        err = ENOMEM;
    } else {
        uint8_t *b = c->buf + HDR_SIZE;
        put16(b, m.dom);
        put16(b + 2, (uint16_t)flags);
        put32(b + 4, m.type);
        put32(b + 8, m.id);
        put32(b + 12, m.idx);
        put64(b + 16, m.num);
        if (transact(c, KIND_MMAP_RESOURCE, 24, &rlen) == 0 && rlen >= 16) {
            int32_t r = (int32_t)get32(c->buf), e = (int32_t)get32(c->buf + 4);
            uint32_t nr_frames = get32(c->buf + 8), n = get32(c->buf + 12);
            if (rlen != 16 + (size_t)n * 8 || (r == -1 && e <= 0)) {
                c->broken = 1;
            } else if (r != 0) {
                ret = -1;
                err = e;
            } else if (!(flags & MMAP_ADDR_SET)) {
                /* the size query: the kernel writes nr_frames into the caller's num */
                uint64_t num = nr_frames;
                ret = mem_write((uint8_t *)arg + 16, &num, sizeof(num)) < 0 ? -1 : 0;
                err = EFAULT;
            } else if (n != (uint32_t)m.num || shm_fd < 0) {
                err = EIO;
            } else if (map_frames((uintptr_t)m.addr, c->buf + 16, n, prot) == 0) {
                ret = 0;
            } else {
                err = errno;
            }
        } else {
            c->broken = 1;
        }
    }
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_MMAP_RESOURCE\"");
        if (fault)
            sb_printf(&s, ",\"arg_fault\":true");
        else
            sb_printf(&s, ",\"dom\":%u,\"type\":%u,\"id\":%u,\"idx\":%u,\"num\":%llu,\"addr_set\":%s", m.dom, m.type, m.id,
                      m.idx, (unsigned long long)m.num, m.addr ? "true" : "false");
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
}
