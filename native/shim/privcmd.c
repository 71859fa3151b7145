/* /dev/xen/privcmd: the ioctls forwarded to the server, the fd's open and its mmap. */
#include "shim.h"

/* ---- buffers of one dm_op call */

struct dbuf {
    void *uptr;
    uint64_t size;
    int fault;     /* unreadable or unwritable: sent flagged, never read */
    uint8_t *in;   /* bytes before the call (size bytes) when read */
    uint8_t *out;  /* points into the reply: bytes after the call */
    uint32_t out_size;
};

/*
 * Read every buffer when all of them are small enough to be sent.
 * A buffer the kernel could not pin writable is flagged; its contents are
 * then not sent (as the protocol asks) and nothing else is read.
 * The contents go to this thread's scratch area (valid until its next call).
 */
static int read_bufs(struct dbuf *b, unsigned n, int *send_contents)
{
    size_t total = 0;
    *send_contents = 1;
    for (unsigned i = 0; i < n; i++) {
        if (b[i].fault || b[i].size > DM_OP_BUF_MAX_SIZE)
            *send_contents = 0;
        else
            total += (size_t)b[i].size;
    }
    if (!*send_contents)
        return 0;
    uint8_t *area = scratch(total ? total : 1);
    if (!area)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        b[i].in = area;
        area += (size_t)b[i].size;
        if (mem_read(b[i].in, b[i].uptr, (size_t)b[i].size) < 0) {
            b[i].fault = 1;
            b[i].in = NULL;
            *send_contents = 0;
        }
    }
    /* lock_pages pins every buffer writable: probe each page, changing nothing (guard.c). */
    if (guard_usable()) {
        for (unsigned i = 0; i < n; i++)
            if (b[i].in && guard_probe_write(b[i].uptr, (size_t)b[i].size) < 0) {
                b[i].fault = 1;
                b[i].in = NULL;
                *send_contents = 0;
            }
        return 0;
    }
    /* Without the guard: probe them all in one call, each alone only on failure. */
    if (!vm_rw_broken) {
        struct iovec local[DM_OP_MAX_NR_BUFS], remote[DM_OP_MAX_NR_BUFS];
        unsigned k = 0;
        size_t want = 0;
        for (unsigned i = 0; i < n; i++) {
            if (!b[i].in || b[i].size == 0)
                continue;
            local[k] = (struct iovec){ b[i].in, (size_t)b[i].size };
            remote[k] = (struct iovec){ b[i].uptr, (size_t)b[i].size };
            want += (size_t)b[i].size;
            k++;
        }
        if (k == 0 || process_vm_writev(cached_pid, local, k, remote, k, 0) == (ssize_t)want)
            return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!b[i].in)
            continue;
        if (mem_write(b[i].uptr, b[i].in, (size_t)b[i].size) < 0) {
            b[i].fault = 1;
            b[i].in = NULL;
            *send_contents = 0;
        }
    }
    return 0;
}

/* One descriptor of IOCTL_PRIVCMD_DM_OP's array (privcmd_dm_op_buf_t) or of a dm_op hypercall's (xen_dm_op_buf_t). */
static void take_privcmd_buf(struct dbuf *b, const uint8_t *raw)
{
    struct shim_privcmd_dm_op_buf d;
    memcpy(&d, raw, sizeof(d));
    b->uptr = d.uptr;
    b->size = d.size;
}

static void take_xen_buf(struct dbuf *b, const uint8_t *raw)
{
    struct shim_xen_dm_op_buf d;
    memcpy(&d, raw, sizeof(d));
    b->uptr = (void *)(uintptr_t)d.h;
    b->size = d.size;
}

#define DESC_MAX_SIZE 16
_Static_assert(sizeof(struct shim_privcmd_dm_op_buf) <= DESC_MAX_SIZE, "privcmd_dm_op_buf");
_Static_assert(sizeof(struct shim_xen_dm_op_buf) <= DESC_MAX_SIZE, "xen_dm_op_buf");
_Static_assert(DM_OP_HCALL_MAX_BUFS <= DM_OP_MAX_NR_BUFS, "descriptor counts");

/*
 * The n descriptors (elem bytes each, decoded by take) at array, then their buffers (read_bufs).
 * An unreadable array flags every descriptor, size 0.  -1 only when no memory was had.
 */
static int load_bufs(struct dbuf *b, unsigned n, const void *array, size_t elem,
                     void (*take)(struct dbuf *, const uint8_t *), int *send_contents)
{
    uint8_t raw[DM_OP_MAX_NR_BUFS * DESC_MAX_SIZE];
    if (mem_read(raw, array, n * elem) < 0) {
        for (unsigned i = 0; i < n; i++)
            b[i].fault = 1;
    } else {
        for (unsigned i = 0; i < n; i++)
            take(&b[i], raw + i * elem);
    }
    return read_bufs(b, n, send_contents);
}

/* Append ndesc, descriptors and (maybe) contents at c->buf + HDR_SIZE + off. */
static int put_descs(struct conn *c, size_t *off, struct dbuf *b, unsigned n, int send_contents)
{
    size_t need = HDR_SIZE + *off + 4 + (size_t)n * 16;
    if (send_contents)
        for (unsigned i = 0; i < n; i++)
            need += (size_t)b[i].size;
    if (need - HDR_SIZE + 8 > FRAME_MAX || ensure_cap(c, need) < 0) {
        errno = ENOMEM;
        return -1;
    }
    uint8_t *p = c->buf + HDR_SIZE + *off;
    put32(p, n);
    p += 4;
    for (unsigned i = 0; i < n; i++) {
        put64(p, b[i].size);
        put32(p + 8, b[i].fault ? DESC_FLAG_FAULT : 0);
        put32(p + 12, 0);
        p += 16;
    }
    if (send_contents)
        for (unsigned i = 0; i < n; i++) {
            memcpy(p, b[i].in, (size_t)b[i].size);
            p += b[i].size;
        }
    *off = (size_t)(p - (c->buf + HDR_SIZE));
    return 0;
}

/* Parse a DM_OP / HYPERCALL reply and write the buffers back. */
static int finish_dm_reply(struct conn *c, size_t rlen, struct dbuf *b, unsigned n, long *ret, int *err)
{
    const uint8_t *p = c->buf, *end = c->buf + rlen;
    if (rlen < 12)
        goto bad;
    *ret = (int32_t)get32(p);
    *err = (int32_t)get32(p + 4);
    uint32_t nb = get32(p + 8);
    p += 12;
    for (uint32_t i = 0; i < nb; i++) {
        if (end - p < 4)
            goto bad;
        uint32_t sz = get32(p);
        p += 4;
        if ((size_t)(end - p) < sz)
            goto bad;
        if (i < n) {
            b[i].out = (uint8_t *)p;
            b[i].out_size = sz;
        }
        p += sz;
    }
    if (*ret == -1 && *err <= 0)
        goto bad;
    /* Xen writes into the caller's memory in place (even when the call fails). */
    for (unsigned i = 0; i < n && i < nb; i++) {
        if (b[i].fault || !b[i].out)
            continue;
        size_t sz = b[i].out_size < b[i].size ? b[i].out_size : (size_t)b[i].size;
        /* Bytes that came back as they were sent need no write (and no system call). */
        if (b[i].in && sz == b[i].size && memcmp(b[i].in, b[i].out, sz) == 0)
            continue;
        (void)mem_write(b[i].uptr, b[i].out, sz);
    }
    return 0;
bad:
    c->broken = 1;
    errno = EIO;
    return -1;
}

/*
 * Sends the request built in c->buf and takes the DM_OP-shaped reply (DM_OP and HYPERCALL) into *ret /
 * *err and the caller's buffers; a failed connection is -1/EIO.  Called with c->lock held.
 */
static void dm_exchange(struct conn *c, uint8_t kind, size_t body_len, struct dbuf *b, unsigned n, long *ret, int *err)
{
    size_t rlen;
    if (transact(c, kind, body_len, &rlen) == 0 && finish_dm_reply(c, rlen, b, n, ret, err) == 0)
        return;
    *ret = -1;
    *err = EIO;
}

static void capture_bufs(struct sbuf *s, struct dbuf *b, unsigned n)
{
    sb_printf(s, ",\"bufs\":[");
    for (unsigned i = 0; i < n; i++) {
        sb_printf(s, "%s{\"size\":%llu", i ? "," : "", (unsigned long long)b[i].size);
        if (b[i].fault)
            sb_printf(s, ",\"fault\":true");
        if (b[i].in) {
            sb_printf(s, ",\"before\":");
            sb_hex(s, b[i].in, (size_t)b[i].size);
        }
        if (b[i].out) {
            sb_printf(s, ",\"after\":");
            sb_hex(s, b[i].out, b[i].out_size);
        }
        sb_printf(s, "}");
    }
    sb_printf(s, "]");
}

/* ---- ioctls */

static long do_dm_op(struct conn *c, void *arg)
{
    struct shim_privcmd_dm_op uop;
    struct dbuf b[DM_OP_MAX_NR_BUFS];
    unsigned n = 0;
    int send_contents = 0;
    long ret = -1;
    int err = EIO;

    if (mem_read(&uop, arg, sizeof(uop)) < 0) {
        if (capture_on()) {
            struct sbuf s = { 0 };
            sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_DM_OP\",\"arg_fault\":true");
            capture_result(&s, -1, EFAULT);
        }
        errno = EFAULT;
        return -1;
    }
    memset(b, 0, sizeof(b));
    if (uop.num >= 1 && uop.num <= DM_OP_MAX_NR_BUFS) {
        n = uop.num;
        if (load_bufs(b, n, uop.ubufs, sizeof(struct shim_privcmd_dm_op_buf), take_privcmd_buf, &send_contents) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }

    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    size_t off = 4;
    int ok = ensure_cap(c, HDR_SIZE + 4) == 0;
    if (ok) {
        put16(c->buf + HDR_SIZE, uop.dom);
        put16(c->buf + HDR_SIZE + 2, uop.num);
        ok = put_descs(c, &off, b, n, send_contents) == 0;
        if (!ok)
            err = errno;
    } else {
        err = ENOMEM;
    }
    if (ok)
        dm_exchange(c, KIND_DM_OP, off, b, n, &ret, &err);
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_DM_OP\",\"dom\":%u,\"num\":%u", uop.dom, uop.num);
        capture_bufs(&s, b, n);
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
}

static long do_restrict(struct conn *c, void *arg)
{
    shim_domid_t dom = 0;
    int fault = mem_read(&dom, arg, sizeof(dom)) < 0;
    long ret = -1;
    int err = EIO;
    size_t rlen;

    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    if (ensure_cap(c, HDR_SIZE + 4) < 0) {
        err = ENOMEM;
    } else {
        put16(c->buf + HDR_SIZE, fault ? 0 : dom);
        put16(c->buf + HDR_SIZE + 2, fault ? 1 : 0);
        if (transact(c, KIND_RESTRICT, 4, &rlen) == 0) {
            if (rlen >= 8 && ((int32_t)get32(c->buf) != -1 || (int32_t)get32(c->buf + 4) > 0)) {
                ret = (int32_t)get32(c->buf);
                err = (int32_t)get32(c->buf + 4);
                if (ret == 0) {
                    c->restricted = 1;
                    c->restrict_dom = dom;
                }
            } else {
                c->broken = 1;
            }
        }
    }
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_RESTRICT\"");
        if (fault)
            sb_printf(&s, ",\"arg_fault\":true");
        else
            sb_printf(&s, ",\"dom\":%u", dom);
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
}

/*
 * memory_op (12) and multicall (13): the structures Xen reads travel as buffers, in the order
 * [multicall_entry array,] then per reservation command its xen_memory_reservation and extent array.
 * The server answers in the DM_OP reply form and the changed buffers are written back in place.
 */
static const uint8_t no_bytes[1];

/* The HYPERCALL body's head: op and the five arguments (u64 each). */
#define HCALL_HEAD_SIZE 48

/* 0, or -1 when the buffer could not grow (ENOMEM). */
static int put_hypercall_head(struct conn *c, const struct shim_privcmd_hypercall *hc)
{
    if (ensure_cap(c, HDR_SIZE + HCALL_HEAD_SIZE) < 0)
        return -1;
    put64(c->buf + HDR_SIZE, hc->op);
    for (int i = 0; i < 5; i++)
        put64(c->buf + HDR_SIZE + 8 + 8 * i, hc->arg[i]);
    return 0;
}

static int memop_cmd_has_reservation(uint64_t cmd)
{
    uint64_t c = cmd & 0x3f; /* MEMOP_CMD_MASK */
    return c == 0 || c == 1 || c == 6; /* increase / decrease_reservation, populate_physmap */
}

static void memop_buf(struct dbuf *b, uint64_t uptr, uint64_t size, uint8_t **area)
{
    b->uptr = (void *)(uintptr_t)uptr;
    b->size = size;
    b->in = *area;
    if (size == 0 || mem_read(b->in, b->uptr, (size_t)size) < 0) {
        b->fault = size != 0;
        b->size = 0;
        b->in = (uint8_t *)no_bytes;
        return;
    }
    *area += size;
}

/* Adds a reservation (read from uptr) and its extent array. */
static int memop_add_reservation(struct dbuf *b, unsigned *n, uint64_t uptr, uint8_t **area, uint8_t *end)
{
    if ((size_t)(end - *area) < 32)
        return -1;
    memop_buf(&b[(*n)++], uptr, 32, area);
    struct dbuf *r = &b[*n - 1];
    uint64_t start = 0, nr = 0;
    if (r->size == 32) {
        memcpy(&start, r->in, 8);
        memcpy(&nr, r->in + 8, 8);
    }
    if (nr > (uint64_t)(end - *area) / 8)
        return -1;
    memop_buf(&b[(*n)++], start, nr * 8, area);
    return 0;
}

static long do_memop_hypercall(struct conn *c, const struct shim_privcmd_hypercall *hc)
{
    struct dbuf b[MEMOP_MAX_BUFS];
    unsigned n = 0;
    long ret = -1;
    int err = EIO;
    size_t cap = FRAME_MAX - 4096;
    uint8_t *mem = malloc(cap), *area = mem, *end = mem + cap;
    if (!mem) {
        errno = ENOMEM;
        return -1;
    }
    memset(b, 0, sizeof(b));
    int fits = 1;
    if (hc->op == HYPERVISOR_MULTICALL) {
        uint64_t nr = hc->arg[1] & 0xffffffffu;
        if (nr > MC_MAX_ENTRIES) {
            free(mem);
            errno = E2BIG;
            return -1;
        }
        memop_buf(&b[n++], hc->arg[0], nr * 64, &area);
        for (uint64_t i = 0; i < nr && b[0].size == nr * 64 && fits; i++) {
            uint64_t e[8];
            memcpy(e, b[0].in + 64 * i, 64);
            if (e[0] == HYPERVISOR_MEMORY_OP && memop_cmd_has_reservation(e[2]))
                fits = memop_add_reservation(b, &n, e[3], &area, end) == 0;
        }
    } else if (hc->op == HYPERVISOR_HVM_OP) {
        if (hc->arg[0] == 0 || hc->arg[0] == 1) /* HVMOP_set_param, HVMOP_get_param: struct xen_hvm_param */
            memop_buf(&b[n++], hc->arg[1], 16, &area);
    } else if (memop_cmd_has_reservation(hc->arg[0])) {
        fits = memop_add_reservation(b, &n, hc->arg[1], &area, end) == 0;
    }
    if (!fits) {
        free(mem);
        errno = E2BIG;
        return -1;
    }

    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    size_t off = HCALL_HEAD_SIZE;
    int ok = put_hypercall_head(c, hc) == 0;
    if (ok) {
        ok = put_descs(c, &off, b, n, 1) == 0;
        if (!ok)
            err = errno;
    } else {
        err = ENOMEM;
    }
    if (ok)
        dm_exchange(c, KIND_HYPERCALL, off, b, n, &ret, &err);
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_HYPERCALL\",\"op\":%llu", (unsigned long long)hc->op);
        capture_bufs(&s, b, n);
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    free(mem);
    if (ret == -1)
        errno = err;
    return ret;
}

static long do_hypercall(struct conn *c, void *arg)
{
    struct shim_privcmd_hypercall hc;
    struct dbuf b[DM_OP_HCALL_MAX_BUFS];
    unsigned n = 0;
    int send_contents = 0;
    long ret = -1;
    int err = EIO;

    if (mem_read(&hc, arg, sizeof(hc)) < 0) {
        /* privcmd.c checks the restriction before copying the arguments in */
        pthread_mutex_lock(&c->lock);
        err = c->restricted ? EPERM : EFAULT;
        pthread_mutex_unlock(&c->lock);
        if (capture_on()) {
            struct sbuf s = { 0 };
            sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_HYPERCALL\",\"arg_fault\":true");
            capture_result(&s, -1, err);
        }
        errno = err;
        return -1;
    }
    if (hc.op == HYPERVISOR_MULTICALL || hc.op == HYPERVISOR_MEMORY_OP || hc.op == HYPERVISOR_HVM_OP)
        return do_memop_hypercall(c, &hc);
    memset(b, 0, sizeof(b));
    int is_dm_op = hc.op == HYPERVISOR_DM_OP;
    if (is_dm_op && hc.arg[1] >= 1 && hc.arg[1] <= DM_OP_HCALL_MAX_BUFS) {
        n = (unsigned)hc.arg[1];
        if (load_bufs(b, n, (const void *)(uintptr_t)hc.arg[2], sizeof(struct shim_xen_dm_op_buf), take_xen_buf,
                      &send_contents) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }

    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    size_t off = HCALL_HEAD_SIZE;
    int ok = put_hypercall_head(c, &hc) == 0;
    if (ok) {
        if (is_dm_op) {
            ok = put_descs(c, &off, b, n, send_contents) == 0;
            if (!ok)
                err = errno;
        }
    } else {
        err = ENOMEM;
    }
    if (ok)
        dm_exchange(c, KIND_HYPERCALL, off, b, n, &ret, &err);
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"IOCTL_PRIVCMD_HYPERCALL\",\"op\":%llu", (unsigned long long)hc.op);
        if (is_dm_op) {
            /* arg[2] is a pointer: left out so that captures are reproducible */
            sb_printf(&s, ",\"dom\":%llu,\"nr\":%llu,\"arg3\":%llu,\"arg4\":%llu", (unsigned long long)hc.arg[0],
                      (unsigned long long)hc.arg[1], (unsigned long long)hc.arg[3],
                      (unsigned long long)hc.arg[4]);
            capture_bufs(&s, b, n);
        } else {
            sb_printf(&s, ",\"arg\":[");
            for (int i = 0; i < 5; i++)
                sb_printf(&s, "%s\"0x%llx\"", i ? "," : "", (unsigned long long)hc.arg[i]);
            sb_printf(&s, "]");
        }
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
}

/* Names of the privcmd ioctls this shim does not forward (for the capture). */
static const char *ioctl_name(unsigned long req)
{
    static const struct { unsigned nr; const char *name; } names[] = {
        { 2, "IOCTL_PRIVCMD_MMAP" }, { 3, "IOCTL_PRIVCMD_MMAPBATCH" }, { 4, "IOCTL_PRIVCMD_MMAPBATCH_V2" },
        { 5, "IOCTL_PRIVCMD_DM_OP" }, { 6, "IOCTL_PRIVCMD_RESTRICT" }, { 7, "IOCTL_PRIVCMD_MMAP_RESOURCE" },
    };
    if (((req >> 8) & 0xff) != 0x50 || (req >> 30) != 0)
        return NULL;
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((req & 0xff) == names[i].nr)
            return names[i].name;
    return NULL;
}

long privcmd_ioctl(int fd, unsigned long req, void *arg)
{
    struct conn *c = conn_get(fd);
    long r;
    if (!c) {
        errno = EBADF;
        return -1;
    }
    if (c->type == CONN_EVTCHN) {
        r = evtchn_ioctl(fd, c, req, arg);
    } else if (c->type == CONN_GNTDEV || c->type == CONN_GNTALLOC) {
        r = gnt_ioctl(c, req, arg);
    } else if (req == SHIM_IOCTL_DM_OP && !no_dmop) {
        r = do_dm_op(c, arg);
    } else if (req == SHIM_IOCTL_RESTRICT && !no_dmop) {
        r = do_restrict(c, arg);
    } else if (mmapbatch_version(req) != 0) {
        r = do_mmap_batch(c, arg, mmapbatch_version(req));
    } else if (req == SHIM_IOCTL_MMAP_RESOURCE_NR) {
        r = do_mmap_resource(c, arg);
    } else if (req == SHIM_IOCTL_HYPERCALL) {
        r = do_hypercall(c, arg);
    } else {
        if (capture_on()) {
            struct sbuf s = { 0 };
            const char *name = ioctl_name(req);
            struct shim_privcmd_dm_op uop;
            if (req == SHIM_IOCTL_DM_OP && mem_read(&uop, arg, sizeof(uop)) == 0)
                sb_printf(&s, "{\"ioctl\":\"%s\",\"unsupported\":true,\"dom\":%u,\"num\":%u", name, uop.dom,
                          uop.num);
            else if (name)
                sb_printf(&s, "{\"ioctl\":\"%s\",\"unsupported\":true", name);
            else
                sb_printf(&s, "{\"ioctl\":\"0x%lx\"", req);
            capture_result(&s, -1, ENOTTY);
        }
        errno = ENOTTY;
        r = -1;
    }
    int saved = errno;
    conn_put(c);
    errno = saved;
    return r;
}

int open_privcmd(const char *path, int flags)
{
    struct conn *c = conn_new(CONN_PRIVCMD);
    if (!c)
        return -1;
    shm_open_once(c);
    unsigned mfd_flags = (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0;
    int fd = memfd_create("xendm-privcmd", mfd_flags);
    if (fd < 0)
        return conn_abandon(c);
    (void)path;
    return table_install(fd, c);
}

