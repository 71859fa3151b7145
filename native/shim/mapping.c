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
    int used; /* an MMAPBATCH filled it once: later batches may fill parts (the kernel's vm_private_data) */
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
        areas[nareas++] = (struct area){ (uintptr_t)p, (uintptr_t)p + rounded, prot, 0 };
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

/* ---- IOCTL_PRIVCMD_MMAPBATCH and MMAPBATCH_V2 */

#if defined(__x86_64__) || defined(__i386__)
typedef unsigned long shim_pfn_t;
#else
typedef uint64_t shim_pfn_t;
#endif

struct shim_mmapbatch {
    int num;
    uint16_t dom;
    uint64_t addr;
    shim_pfn_t *arr;
};
struct shim_mmapbatch_v2 {
    unsigned int num;
    uint16_t dom;
    uint64_t addr;
    const shim_pfn_t *arr;
    int *err;
};
#if defined(IOCTL_PRIVCMD_MMAPBATCH_V2)
_Static_assert(sizeof(struct shim_mmapbatch) == sizeof(privcmd_mmapbatch_t), "privcmd_mmapbatch");
_Static_assert(sizeof(struct shim_mmapbatch_v2) == sizeof(privcmd_mmapbatch_v2_t), "privcmd_mmapbatch_v2");
_Static_assert(sizeof(shim_pfn_t) == sizeof(xen_pfn_t), "xen_pfn_t");
#endif

int mmapbatch_version(unsigned long req)
{
    if (req == SHIM_IOC(3, sizeof(struct shim_mmapbatch)))
        return 1;
    if (req == SHIM_IOC(4, sizeof(struct shim_mmapbatch_v2)))
        return 2;
    return 0;
}
#if defined(IOCTL_PRIVCMD_MMAPBATCH_V2)
_Static_assert(SHIM_IOC(4, sizeof(struct shim_mmapbatch_v2)) == IOCTL_PRIVCMD_MMAPBATCH_V2, "IOCTL_PRIVCMD_MMAPBATCH_V2");
_Static_assert(SHIM_IOC(3, sizeof(struct shim_mmapbatch)) == IOCTL_PRIVCMD_MMAPBATCH, "IOCTL_PRIVCMD_MMAPBATCH");
#endif

#define MMAPBATCH_CHUNK 8192u
#define MFN_ERROR 0xf0000000U
#define PAGED_ERROR 0x80000000U
#define ENOENT_NEG (-ENOENT)

/*
 * The area for a batch: a fresh one must be mapped whole, a used one may be
 * filled in parts.  Marks it used.  0, or -1 (EINVAL).
 * mirrors privcmd.c:privcmd_ioctl_mmap_batch (its VMA checks)
 */
static int batch_area(uintptr_t addr, uint64_t len, int *prot)
{
    int ok = 0;
    pthread_mutex_lock(&areas_lock);
    for (unsigned i = 0; i < nareas; i++) {
        struct area *r = &areas[i];
        if (addr < r->start || addr >= r->end)
            continue;
        if (!r->used ? (addr == r->start && len == r->end - r->start) : len <= r->end - addr) {
            r->used = 1;
            *prot = r->prot;
            ok = 1;
        }
        break;
    }
    pthread_mutex_unlock(&areas_lock);
    return ok ? 0 : -1;
}

/* One chunk: n gfns to the server, the results mapped and reported.  0, or -1 with errno (EIO). */
static int batch_chunk(struct conn *c, int version, uint16_t dom, uintptr_t va, shim_pfn_t *uarr, int *uerr,
                       const shim_pfn_t *gfns, uint32_t n, int prot, int *any_enoent)
{
    size_t rlen;
    if (ensure_cap(c, HDR_SIZE + 8 + (size_t)n * 16 + 16) < 0) {
        errno = ENOMEM;
        return -1;
    }
    uint8_t *b = c->buf + HDR_SIZE;
    put16(b, dom);
    put16(b + 2, 0);
    put32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        put64(b + 8 + 8 * (size_t)i, (uint64_t)gfns[i]);
    if (transact(c, KIND_MMAPBATCH, 8 + (size_t)n * 8, &rlen) < 0)
        return -1;
    if (rlen != 12 + (size_t)n * 16 || get32(c->buf) != 0 || get32(c->buf + 8) != n) {
        c->broken = 1;
        errno = EIO;
        return -1;
    }
    const uint8_t *r = c->buf + 12;
    for (uint32_t i = 0; i < n;) {
        int32_t err = (int32_t)get32(r + 16 * (size_t)i);
        if (err != 0) {
            if (err == ENOENT_NEG)
                *any_enoent = 1;
            if (version == 2) {
                (void)mem_write(uerr + i, &err, sizeof(err));
            } else {
                shim_pfn_t v = gfns[i] | (err == ENOENT_NEG ? PAGED_ERROR : MFN_ERROR);
                (void)mem_write(uarr + i, &v, sizeof(v));
            }
            i++;
            continue;
        }
        /* a run of mapped frames at consecutive file offsets is one mmap */
        uint64_t off = (uint64_t)get32(r + 16 * (size_t)i + 8) | (uint64_t)get32(r + 16 * (size_t)i + 12) << 32;
        uint32_t run = 1;
        while (i + run < n) {
            const uint8_t *q = r + 16 * (size_t)(i + run);
            uint64_t o = (uint64_t)get32(q + 8) | (uint64_t)get32(q + 12) << 32;
            if ((int32_t)get32(q) != 0 || o != off + (uint64_t)run * PAGE)
                break;
            run++;
        }
        if (shm_fd < 0 || off % PAGE != 0 || off + (uint64_t)run * PAGE > shm_size ||
            real.mmap((void *)(va + (uintptr_t)i * PAGE), (size_t)run * PAGE, prot, MAP_SHARED | MAP_FIXED, shm_fd,
                      (off_t)off) == MAP_FAILED) {
            errno = EIO;
            return -1;
        }
        i += run;
    }
    return 0;
}

/* mirrors privcmd.c:privcmd_ioctl_mmap_batch (its checks in order, then mmap_batch_fn per gfn) */
long do_mmap_batch(struct conn *c, void *arg, int version)
{
    uint32_t num;
    uint16_t dom;
    uint64_t addr;
    shim_pfn_t *arr;
    int *uerr = NULL;
    if (version == 1) {
        struct shim_mmapbatch m;
        if (mem_read(&m, arg, sizeof(m)) < 0)
            goto efault;
        if (m.num <= 0) {
            errno = EINVAL; /* after the restriction check below in the kernel: same answer unless restricted */
            if (c->restricted && c->restrict_dom != m.dom)
                errno = EPERM;
            return -1;
        }
        num = (uint32_t)m.num;
        dom = m.dom;
        addr = m.addr;
        arr = m.arr;
    } else {
        struct shim_mmapbatch_v2 m;
        if (mem_read(&m, arg, sizeof(m)) < 0)
            goto efault;
        num = m.num;
        dom = m.dom;
        addr = m.addr;
        arr = (shim_pfn_t *)m.arr;
        uerr = m.err;
    }
    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    long ret = -1;
    int err = EINVAL, prot = 0, any_enoent = 0;
    shim_pfn_t *gfns = NULL;
    if (c->restricted && c->restrict_dom != dom) {
        err = EPERM;
        goto out;
    }
    if (num == 0 || (uint64_t)num * PAGE > (uint64_t)UINTPTR_MAX - addr)
        goto out;
    gfns = malloc(sizeof(shim_pfn_t) * (num < MMAPBATCH_CHUNK ? num : MMAPBATCH_CHUNK));
    if (!gfns) {
        err = ENOMEM;
        goto out;
    }
    /* gather_array: the first gfns must be readable before anything else happens */
    if (mem_read(gfns, arr, sizeof(shim_pfn_t) * (num < MMAPBATCH_CHUNK ? num : MMAPBATCH_CHUNK)) < 0) {
        err = EFAULT;
        goto out;
    }
    if (version == 2) {
        static const int zeros[256];
        for (uint32_t i = 0; i < num; i += 256) {
            uint32_t k = num - i < 256 ? num - i : 256;
            if (mem_write(uerr + i, zeros, sizeof(int) * k) < 0) {
                err = EFAULT;
                goto out;
            }
        }
    }
    if (batch_area((uintptr_t)addr, (uint64_t)num * PAGE, &prot) < 0) {
        err = EINVAL;
        goto out;
    }
    for (uint32_t i = 0; i < num; i += MMAPBATCH_CHUNK) {
        uint32_t k = num - i < MMAPBATCH_CHUNK ? num - i : MMAPBATCH_CHUNK;
        if (i > 0 && mem_read(gfns, arr + i, sizeof(shim_pfn_t) * k) < 0) {
            err = EFAULT;
            goto out;
        }
        if (batch_chunk(c, version, dom, (uintptr_t)addr + (uintptr_t)i * PAGE, arr + i, uerr ? uerr + i : NULL, gfns, k, prot,
                        &any_enoent) < 0) {
            err = errno;
            goto out;
        }
    }
    if (any_enoent) {
        err = ENOENT;
    } else {
        ret = 0;
    }
out:
    free(gfns);
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"%s\",\"dom\":%u,\"num\":%u", version == 2 ? "IOCTL_PRIVCMD_MMAPBATCH_V2" : "IOCTL_PRIVCMD_MMAPBATCH",
                  dom, num);
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
efault:
    errno = EFAULT;
    return -1;
}
