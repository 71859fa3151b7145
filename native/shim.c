/*
 * libxendm-shim.so: an LD_PRELOAD privcmd for unmodified programs.
 *
 * With XENDM_SOCKET=/path set, opening /dev/xen/privcmd or /proc/xen/privcmd
 * returns a real fd (a memfd) and opens one connection to a `xendm serve`
 * socket for it; the privcmd ioctls on that fd are forwarded over the
 * connection (docs/protocol.md) and their results written back into the
 * caller's memory as the kernel and Xen would.  /dev/xen/hypercall is made
 * absent (ENOENT).  Everything else goes straight to libc.
 *
 * Without XENDM_SOCKET every call is passed through untouched.
 *
 * Environment:
 *   XENDM_SOCKET=path        server socket (enables the shim)
 *   XENDM_CALLER=domid       calling domain sent in HELLO (default 0)
 *   XENDM_CAPTURE=file       append one JSON line per intercepted ioctl
 *   XENDM_SHIM_NO_DMOP=1     behave like a kernel without IOCTL_PRIVCMD_DM_OP
 *                            and IOCTL_PRIVCMD_RESTRICT (both -1/ENOTTY)
 *
 * See docs/shim.md.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

/* ---- privcmd ABI (the caller's ABI is the one this file is compiled for) */

typedef uint16_t shim_domid_t;

struct shim_privcmd_hypercall {
    uint64_t op;
    uint64_t arg[5];
};

struct shim_privcmd_dm_op_buf {
    void *uptr;
    size_t size;
};

struct shim_privcmd_dm_op {
    shim_domid_t dom;
    uint16_t num;
    const struct shim_privcmd_dm_op_buf *ubufs;
};

/* xen_dm_op_buf as Xen's public headers lay it out for this ABI. */
#if defined(__x86_64__) || defined(__aarch64__)
struct shim_xen_dm_op_buf { uint64_t h; uint64_t size; };
#define SHIM_ABI 0
#define SHIM_ABI_NAME "x86_64"
#if defined(__aarch64__)
#undef SHIM_ABI
#undef SHIM_ABI_NAME
#define SHIM_ABI 2
#define SHIM_ABI_NAME "arm64"
#endif
#elif defined(__i386__)
struct shim_xen_dm_op_buf { uint32_t h; uint32_t size; };
#define SHIM_ABI 1
#define SHIM_ABI_NAME "i386"
#elif defined(__arm__)
struct shim_xen_dm_op_buf { uint64_t h; uint64_t size; };
#define SHIM_ABI 3
#define SHIM_ABI_NAME "arm32"
#else
#error "unsupported ABI"
#endif

#define SHIM_IOC(nr, size) ((unsigned long)(((size) << 16) | (0x50 << 8) | (nr)))
#define SHIM_IOCTL_HYPERCALL SHIM_IOC(0, sizeof(struct shim_privcmd_hypercall))
#define SHIM_IOCTL_DM_OP SHIM_IOC(5, sizeof(struct shim_privcmd_dm_op))
#define SHIM_IOCTL_RESTRICT SHIM_IOC(6, sizeof(shim_domid_t))

/* ioctl numbers and sizes of each ABI (checked against the real headers on all four targets) */
_Static_assert(SHIM_IOCTL_HYPERCALL == 0x00305000UL, "IOCTL_PRIVCMD_HYPERCALL");
_Static_assert(SHIM_IOCTL_RESTRICT == 0x00025006UL, "IOCTL_PRIVCMD_RESTRICT");
#if SHIM_ABI == 0 || SHIM_ABI == 2
_Static_assert(SHIM_IOCTL_DM_OP == 0x00105005UL, "IOCTL_PRIVCMD_DM_OP");
_Static_assert(sizeof(struct shim_xen_dm_op_buf) == 16, "xen_dm_op_buf");
#elif SHIM_ABI == 1
_Static_assert(SHIM_IOCTL_DM_OP == 0x00085005UL, "IOCTL_PRIVCMD_DM_OP");
_Static_assert(sizeof(struct shim_xen_dm_op_buf) == 8, "xen_dm_op_buf");
#else
_Static_assert(SHIM_IOCTL_DM_OP == 0x00085005UL, "IOCTL_PRIVCMD_DM_OP");
_Static_assert(sizeof(struct shim_xen_dm_op_buf) == 16, "xen_dm_op_buf");
#endif

#if defined(__has_include)
#if __has_include(<xen/xen.h>) && __has_include(<xen/sys/privcmd.h>)
#include <xen/xen.h>
#include <xen/sys/privcmd.h>
_Static_assert(SHIM_IOCTL_HYPERCALL == IOCTL_PRIVCMD_HYPERCALL, "IOCTL_PRIVCMD_HYPERCALL");
_Static_assert(SHIM_IOCTL_DM_OP == IOCTL_PRIVCMD_DM_OP, "IOCTL_PRIVCMD_DM_OP");
_Static_assert(SHIM_IOCTL_RESTRICT == IOCTL_PRIVCMD_RESTRICT, "IOCTL_PRIVCMD_RESTRICT");
_Static_assert(sizeof(struct shim_privcmd_dm_op) == sizeof(privcmd_dm_op_t), "privcmd_dm_op");
_Static_assert(sizeof(struct shim_privcmd_dm_op_buf) == sizeof(privcmd_dm_op_buf_t), "privcmd_dm_op_buf");
#endif
#endif

/* Linux privcmd defaults (module parameters dm_op_max_nr_bufs, dm_op_buf_max_size). */
#define DM_OP_MAX_NR_BUFS 16
#define DM_OP_BUF_MAX_SIZE 4096
#define HYPERVISOR_DM_OP 41
#define DM_OP_HCALL_MAX_BUFS 2

/* ---- protocol (docs/protocol.md) */

#define PROTO_VERSION 1
#define KIND_HELLO 0x01
#define KIND_DM_OP 0x02
#define KIND_RESTRICT 0x03
#define KIND_HYPERCALL 0x04
#define KIND_BYE 0x7f
#define KIND_ERROR 0xff
#define FRAME_MAX (1u << 20)
#define HDR_SIZE 12 /* u32 length + u8 version + u8 kind + u16 flags + u32 seq */
#define DESC_FLAG_FAULT 1u

/* ---- libc entry points */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef void *(*mmap64_fn)(void *, size_t, int, int, int, off64_t);

static struct {
    open_fn open, open64;
    open2_fn open_2, open64_2;
    openat_fn openat, openat64;
    openat2_fn openat_2, openat64_2;
    ioctl_fn ioctl;
    close_fn close;
    dup_fn dup;
    dup2_fn dup2;
    dup3_fn dup3;
    fcntl_fn fcntl, fcntl64;
    mmap_fn mmap;
    mmap64_fn mmap64;
} real;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int shim_enabled;
static int no_dmop;
/* XENDM_SHIM_SPIN_US: how long a call polls for its reply before sleeping (0: never). */
static long spin_ns;
static unsigned caller_domid;
static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
static int socket_path_too_long;
static char capture_path[4096];
static pid_t cached_pid;
static int vm_rw_broken; /* process_vm_readv unusable (seccomp): fall back to NULL checks */

static void *next_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static void after_fork_child(void)
{
    cached_pid = (pid_t)syscall(SYS_getpid);
}

static void do_init(void)
{
    real.open = (open_fn)next_sym("open");
    real.open64 = (open_fn)next_sym("open64");
    real.open_2 = (open2_fn)next_sym("__open_2");
    real.open64_2 = (open2_fn)next_sym("__open64_2");
    real.openat = (openat_fn)next_sym("openat");
    real.openat64 = (openat_fn)next_sym("openat64");
    real.openat_2 = (openat2_fn)next_sym("__openat_2");
    real.openat64_2 = (openat2_fn)next_sym("__openat64_2");
    real.ioctl = (ioctl_fn)next_sym("ioctl");
    real.close = (close_fn)next_sym("close");
    real.dup = (dup_fn)next_sym("dup");
    real.dup2 = (dup2_fn)next_sym("dup2");
    real.dup3 = (dup3_fn)next_sym("dup3");
    real.fcntl = (fcntl_fn)next_sym("fcntl");
    real.fcntl64 = (fcntl_fn)next_sym("fcntl64");
    real.mmap = (mmap_fn)next_sym("mmap");
    real.mmap64 = (mmap64_fn)next_sym("mmap64");
    if (!real.open64) real.open64 = real.open;
    if (!real.openat64) real.openat64 = real.openat;
    if (!real.fcntl64) real.fcntl64 = real.fcntl;

    const char *sock = getenv("XENDM_SOCKET");
    if (sock && *sock) {
        shim_enabled = 1;
        if (strlen(sock) >= sizeof(socket_path) - 1)
            socket_path_too_long = 1;
        else
            strcpy(socket_path, sock);
    }
    const char *spin = getenv("XENDM_SHIM_SPIN_US");
    if (spin && *spin) {
        char *end;
        unsigned long v = strtoul(spin, &end, 10);
        if (*end == 0 && v <= 100000)
            spin_ns = (long)v * 1000;
    }
    const char *nd = getenv("XENDM_SHIM_NO_DMOP");
    no_dmop = nd && *nd && strcmp(nd, "0") != 0;
    const char *caller = getenv("XENDM_CALLER");
    if (caller && *caller) {
        char *end;
        unsigned long v = strtoul(caller, &end, 0);
        caller_domid = (*end == 0 && v <= 0xffff) ? (unsigned)v : 0;
    }
    const char *cap = getenv("XENDM_CAPTURE");
    if (cap && *cap && strlen(cap) < sizeof(capture_path))
        strcpy(capture_path, cap);
    cached_pid = (pid_t)syscall(SYS_getpid);
    pthread_atfork(NULL, NULL, after_fork_child);
}

static inline void init(void)
{
    pthread_once(&init_once, do_init);
}

__attribute__((constructor)) static void shim_ctor(void)
{
    init();
}

/* ---- the caller's memory: read and write without crashing on bad pointers */

/* 0 on success, -1 when any byte of [src, src+n) is not readable. */
static int mem_read(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (src == NULL)
        return -1;
    if (!vm_rw_broken) {
        struct iovec local = { dst, n }, remote = { (void *)src, n };
        ssize_t r = process_vm_readv(cached_pid, &local, 1, &remote, 1, 0);
        if (r == (ssize_t)n)
            return 0;
        if (r >= 0 || errno == EFAULT)
            return -1;
        vm_rw_broken = 1; /* ENOSYS / EPERM: no checked access available */
    }
    memcpy(dst, src, n);
    return 0;
}

/* 0 on success, -1 when any byte of [dst, dst+n) is not writable. */
static int mem_write(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (dst == NULL)
        return -1;
    if (!vm_rw_broken) {
        struct iovec local = { (void *)src, n }, remote = { dst, n };
        ssize_t r = process_vm_writev(cached_pid, &local, 1, &remote, 1, 0);
        if (r == (ssize_t)n)
            return 0;
        if (r >= 0 || errno == EFAULT)
            return -1;
        vm_rw_broken = 1;
    }
    memcpy(dst, src, n);
    return 0;
}

/* The buffers' contents before the call live in this thread's scratch area (no malloc per call). */
struct scratch {
    uint8_t *p;
    size_t cap;
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *arg)
{
    struct scratch *s = arg;
    free(s->p);
    free(s);
}

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static uint8_t *scratch(size_t need)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

/* ---- connections and the fd table */

struct conn {
    pthread_mutex_t lock; /* one request/reply at a time on this connection */
    int sock;             /* hidden socket to the server, closed when refs drops to 0 */
    int refs;             /* fds of the table pointing here + calls in flight */
    int broken;           /* the stream is out of step: every further call fails EIO */
    int restricted;       /* a RESTRICT succeeded on this file (the server holds the domid) */
    uint16_t restrict_dom;
    pid_t pid;            /* the process whose connection sock is (a forked child reconnects) */
    uint32_t seq;
    uint8_t *buf;         /* request / reply scratch, grown as needed */
    size_t cap;
};

#define FD_TABLE_SIZE 65536
static struct conn *fd_table[FD_TABLE_SIZE];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static inline int fd_is_privcmd(int fd)
{
    return fd >= 0 && fd < FD_TABLE_SIZE && __atomic_load_n(&fd_table[fd], __ATOMIC_ACQUIRE) != NULL;
}

/*
 * The hidden sockets, by fd: a program that closes an fd it did not open
 * (a close-everything loop) must not leave a connection writing its frames
 * into whatever file reuses the number.
 */
static struct conn *sock_table[FD_TABLE_SIZE];

static inline int fd_is_hidden(int fd)
{
    return fd >= 0 && fd < FD_TABLE_SIZE && __atomic_load_n(&sock_table[fd], __ATOMIC_ACQUIRE) != NULL;
}

static void sock_set(int fd, struct conn *c)
{
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    __atomic_store_n(&sock_table[fd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
}

static void sock_clear(int fd, struct conn *c)
{
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    if (sock_table[fd] == c)
        __atomic_store_n(&sock_table[fd], NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
}

static void conn_put(struct conn *c);

/* The program closes (or dup2s over) a connection's socket: the connection stops using it (EIO). */
static void hidden_closed(int fd)
{
    struct conn *c;
    pthread_mutex_lock(&table_lock);
    c = sock_table[fd];
    if (c) {
        c->refs++;
        __atomic_store_n(&sock_table[fd], NULL, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&table_lock);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->sock == fd) {
        c->sock = -1;
        c->broken = 1;
    }
    pthread_mutex_unlock(&c->lock);
    conn_put(c);
}

static void conn_put(struct conn *c)
{
    int last;
    pthread_mutex_lock(&table_lock);
    last = --c->refs == 0;
    pthread_mutex_unlock(&table_lock);
    if (last) {
        if (c->sock >= 0) {
            sock_clear(c->sock, c);
            /* Linux closes the fd even when close reports EINTR: nothing to retry. */
            real.close(c->sock);
        }
        pthread_mutex_destroy(&c->lock);
        free(c->buf);
        free(c);
    }
}

/* A reference to the connection behind fd, or NULL. */
static struct conn *conn_get(int fd)
{
    struct conn *c = NULL;
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return NULL;
    pthread_mutex_lock(&table_lock);
    c = fd_table[fd];
    if (c)
        c->refs++;
    pthread_mutex_unlock(&table_lock);
    return c;
}

/* Forget fd (it was closed or replaced); drops the table's reference. */
static void table_drop(int fd)
{
    struct conn *c;
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    c = fd_table[fd];
    __atomic_store_n(&fd_table[fd], NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (c)
        conn_put(c);
}

/* Make newfd refer to c too (after a successful dup of a privcmd fd). */
static void table_alias(int newfd, struct conn *c)
{
    struct conn *old;
    if (newfd < 0 || newfd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    old = fd_table[newfd];
    c->refs++;
    __atomic_store_n(&fd_table[newfd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (old)
        conn_put(old);
}

static int ensure_cap(struct conn *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(c->buf, cap);
    if (!p)
        return -1;
    c->buf = p;
    c->cap = cap;
    return 0;
}

static int send_all(int sock, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * One request/reply exchange.  c->buf holds the request body at offset
 * HDR_SIZE (body_len bytes).  On return 0 the reply body is at c->buf
 * (*reply_len bytes).  On failure the connection is marked broken and -1
 * is returned with errno EIO.  Called with c->lock held.
 */
static int transact(struct conn *c, uint8_t kind, size_t body_len, size_t *reply_len)
{
    if (c->broken)
        goto fail;
    uint32_t seq = ++c->seq;
    put32(c->buf, (uint32_t)(8 + body_len));
    c->buf[4] = PROTO_VERSION;
    c->buf[5] = kind;
    put16(c->buf + 6, 0);
    put32(c->buf + 8, seq);
    if (send_all(c->sock, c->buf, HDR_SIZE + body_len) < 0)
        goto broken;
    /*
     * The reply, usually in one recv: the server sends nothing else on the
     * connection while a request is outstanding, so reading up to the
     * buffer's capacity never takes bytes of a later frame.
     */
    size_t got = 0, need = HDR_SIZE;
    int spinning = spin_ns > 0;
    struct timespec t0 = { 0, 0 };
    if (spinning)
        clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < need) {
        /*
         * Poll without sleeping for up to XENDM_SHIM_SPIN_US first: a reply that comes within
         * microseconds then costs no sleep and wake-up of this thread.
         */
        ssize_t r = recv(c->sock, c->buf + got, c->cap - got, spinning ? MSG_DONTWAIT : 0);
        if (r < 0 && spinning && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) >= spin_ns)
                spinning = 0;
            continue;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            goto broken;
        }
        if (r == 0)
            goto broken;
        got += (size_t)r;
        if (need == HDR_SIZE && got >= HDR_SIZE) {
            uint32_t len = get32(c->buf);
            if (len < 8 || len > FRAME_MAX)
                goto broken;
            need = 4 + (size_t)len;
            if (ensure_cap(c, need) < 0)
                goto broken;
        }
    }
    if (got != need || c->buf[4] != PROTO_VERSION || get32(c->buf + 8) != seq)
        goto broken;
    uint8_t rkind = c->buf[5];
    size_t blen = need - HDR_SIZE;
    memmove(c->buf, c->buf + HDR_SIZE, blen);
    if (rkind != (uint8_t)(kind | 0x80)) {
        if (rkind == KIND_ERROR && blen >= 4)
            fprintf(stderr, "xendm-shim: server error %u: %.*s\n", get32(c->buf),
                    (int)(blen - 4 > 200 ? 200 : blen - 4), (const char *)c->buf + 4);
        goto broken;
    }
    *reply_len = blen;
    return 0;
broken:
    c->broken = 1;
fail:
    errno = EIO;
    return -1;
}

static int connect_server(void);

/* HELLO on a fresh connection: caller, ABI, client name.  Called with c->lock held (or unshared). */
static int conn_hello(struct conn *c)
{
    static const char name[] = "libxendm-shim " SHIM_ABI_NAME;
    size_t rlen;
    if (ensure_cap(c, HDR_SIZE + 4 + sizeof(name)) < 0)
        return -1;
    put16(c->buf + HDR_SIZE, (uint16_t)caller_domid);
    c->buf[HDR_SIZE + 2] = SHIM_ABI;
    c->buf[HDR_SIZE + 3] = 0;
    memcpy(c->buf + HDR_SIZE + 4, name, sizeof(name) - 1);
    if (transact(c, KIND_HELLO, 4 + sizeof(name) - 1, &rlen) < 0 || rlen < 8 || get32(c->buf) != PROTO_VERSION)
        return -1;
    return 0;
}

/*
 * After fork the child shares its parent's socket: frames of both would
 * interleave.  On its first call on the connection the child opens its own,
 * says HELLO and restores the restriction the file had.  Called with c->lock
 * held; on failure the connection is marked broken (calls fail EIO).
 */
static void conn_after_fork(struct conn *c)
{
    if (c->pid == cached_pid)
        return;
    if (c->sock >= 0) {
        sock_clear(c->sock, c);
        real.close(c->sock); /* the child's copy only */
    }
    c->pid = cached_pid;
    c->broken = 0;
    c->sock = connect_server();
    if (c->sock < 0 || conn_hello(c) < 0) {
        c->broken = 1;
        return;
    }
    sock_set(c->sock, c);
    if (c->restricted) {
        size_t rlen;
        put16(c->buf + HDR_SIZE, c->restrict_dom);
        put16(c->buf + HDR_SIZE + 2, 0);
        if (transact(c, KIND_RESTRICT, 4, &rlen) < 0 || rlen < 8 || get32(c->buf) != 0)
            c->broken = 1;
    }
}

/* ---- capture (XENDM_CAPTURE) */

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static int capture_fd = -1;

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_reserve(struct sbuf *s, size_t more)
{
    if (s->oom || s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->len + more + 1)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return;
    }
    s->p = p;
    s->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(s, (size_t)n);
    if (s->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

static void sb_hex(struct sbuf *s, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    sb_reserve(s, 2 * n + 2);
    if (s->oom)
        return;
    s->p[s->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        s->p[s->len++] = digits[b[i] >> 4];
        s->p[s->len++] = digits[b[i] & 15];
    }
    s->p[s->len++] = '"';
    s->p[s->len] = 0;
}

static void sb_json_str(struct sbuf *s, const char *str)
{
    sb_printf(s, "\"");
    for (; *str; str++) {
        unsigned char ch = (unsigned char)*str;
        if (ch == '"' || ch == '\\')
            sb_printf(s, "\\%c", ch);
        else if (ch < 0x20)
            sb_printf(s, "\\u%04x", ch);
        else
            sb_printf(s, "%c", ch);
    }
    sb_printf(s, "\"");
}

static int capture_on(void)
{
    return capture_path[0] != 0;
}

static void capture_emit(struct sbuf *s)
{
    if (s->oom || !s->p) {
        free(s->p);
        return;
    }
    sb_printf(s, "\n");
    int saved = errno;
    pthread_mutex_lock(&capture_lock);
    if (capture_fd < 0)
        capture_fd = real.open(capture_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (capture_fd >= 0 && !s->oom) {
        size_t off = 0;
        while (off < s->len) {
            ssize_t w = write(capture_fd, s->p + off, s->len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            off += (size_t)w;
        }
    }
    pthread_mutex_unlock(&capture_lock);
    free(s->p);
    errno = saved;
}

/* The program closed (or dup2'd over) the capture file's fd: reopen it on the next line. */
static void capture_forget(int fd)
{
    if (fd < 0 || __atomic_load_n(&capture_fd, __ATOMIC_ACQUIRE) != fd)
        return;
    pthread_mutex_lock(&capture_lock);
    if (capture_fd == fd)
        __atomic_store_n(&capture_fd, -1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&capture_lock);
}

/*
 * Programs may label what follows in the capture (the conformance driver
 * names each library call): looked up with dlsym(RTLD_DEFAULT, ...).
 */
SHIM_EXPORT void xendm_shim_mark(const char *label)
{
    init();
    if (!capture_on() || !label)
        return;
    struct sbuf s = { 0 };
    sb_printf(&s, "{\"mark\":");
    sb_json_str(&s, label);
    sb_printf(&s, "}");
    capture_emit(&s);
}

static void capture_open(const char *path, int flags, int ret, int err)
{
    struct sbuf s = { 0 };
    sb_printf(&s, "{\"event\":\"open\",\"path\":");
    sb_json_str(&s, path);
    sb_printf(&s, ",\"flags\":\"0x%x\",\"ret\":%d,\"errno\":%d}", (unsigned)flags, ret < 0 ? -1 : 0,
              ret < 0 ? err : 0);
    capture_emit(&s);
}

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
    /* lock_pages pins every buffer writable: probe them all in one call, each alone only on failure. */
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

static void capture_result(struct sbuf *s, long ret, int err)
{
    sb_printf(s, ",\"ret\":%ld,\"errno\":%d}", ret, ret == -1 ? err : 0);
    capture_emit(s);
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
        struct shim_privcmd_dm_op_buf kb[DM_OP_MAX_NR_BUFS];
        n = uop.num;
        if (mem_read(kb, uop.ubufs, n * sizeof(kb[0])) < 0) {
            /* The array itself is unreadable: every descriptor flagged, size 0. */
            for (unsigned i = 0; i < n; i++)
                b[i].fault = 1;
        } else {
            for (unsigned i = 0; i < n; i++) {
                b[i].uptr = kb[i].uptr;
                b[i].size = kb[i].size;
            }
        }
        if (read_bufs(b, n, &send_contents) < 0) {
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
    memset(b, 0, sizeof(b));
    int is_dm_op = hc.op == HYPERVISOR_DM_OP;
    if (is_dm_op && hc.arg[1] >= 1 && hc.arg[1] <= DM_OP_HCALL_MAX_BUFS) {
        struct shim_xen_dm_op_buf xb[DM_OP_HCALL_MAX_BUFS];
        n = (unsigned)hc.arg[1];
        if (mem_read(xb, (const void *)(uintptr_t)hc.arg[2], n * sizeof(xb[0])) < 0) {
            for (unsigned i = 0; i < n; i++)
                b[i].fault = 1;
        } else {
            for (unsigned i = 0; i < n; i++) {
                b[i].uptr = (void *)(uintptr_t)xb[i].h;
                b[i].size = xb[i].size;
            }
        }
        if (read_bufs(b, n, &send_contents) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }

    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    size_t off = 48;
    int ok = ensure_cap(c, HDR_SIZE + off) == 0;
    if (ok) {
        put64(c->buf + HDR_SIZE, hc.op);
        for (int i = 0; i < 5; i++)
            put64(c->buf + HDR_SIZE + 8 + 8 * i, hc.arg[i]);
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

static long privcmd_ioctl(int fd, unsigned long req, void *arg)
{
    struct conn *c = conn_get(fd);
    long r;
    if (!c) {
        errno = EBADF;
        return -1;
    }
    if (req == SHIM_IOCTL_DM_OP && !no_dmop) {
        r = do_dm_op(c, arg);
    } else if (req == SHIM_IOCTL_RESTRICT && !no_dmop) {
        r = do_restrict(c, arg);
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

/* ---- open */

enum path_kind { PATH_OTHER, PATH_PRIVCMD, PATH_HYPERCALL };

static enum path_kind classify(const char *path)
{
    if (!shim_enabled || !path)
        return PATH_OTHER;
    if (strcmp(path, "/dev/xen/privcmd") == 0 || strcmp(path, "/proc/xen/privcmd") == 0)
        return PATH_PRIVCMD;
    if (strcmp(path, "/dev/xen/hypercall") == 0)
        return PATH_HYPERCALL;
    return PATH_OTHER;
}

static int warned;

static void warn_once(const char *what, int err)
{
    if (__atomic_exchange_n(&warned, 1, __ATOMIC_ACQ_REL) == 0)
        fprintf(stderr, "xendm-shim: cannot %s %s: %s\n", what, socket_path_too_long ? "(XENDM_SOCKET)" : socket_path,
                strerror(err));
}

static int connect_server(void)
{
    init();
    if (socket_path_too_long) {
        warn_once("use socket", ENAMETOOLONG);
        errno = ENAMETOOLONG;
        return -1;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        int e = errno;
        warn_once("create a socket for", e);
        errno = e;
        return -1;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, socket_path);
    int r;
    do
        r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        warn_once("connect to", e);
        real.close(s);
        errno = e;
        return -1;
    }
    return s;
}

static int open_privcmd(const char *path, int flags)
{
    int sock = connect_server();
    if (sock < 0)
        return -1;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || ensure_cap(c, 256) < 0) {
        free(c);
        real.close(sock);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->sock = sock;
    c->refs = 1;
    c->pid = cached_pid;
    if (conn_hello(c) < 0) {
        warn_once("say HELLO to", EPROTO);
        conn_put(c);
        errno = ECONNREFUSED;
        return -1;
    }
    sock_set(sock, c);

    unsigned mfd_flags = (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0;
    int fd = memfd_create("xendm-privcmd", mfd_flags);
    if (fd < 0) {
        int e = errno;
        conn_put(c);
        errno = e;
        return -1;
    }
    if (fd >= FD_TABLE_SIZE) {
        real.close(fd);
        conn_put(c);
        errno = EMFILE;
        return -1;
    }
    (void)path;
    pthread_mutex_lock(&table_lock);
    struct conn *old = fd_table[fd];
    __atomic_store_n(&fd_table[fd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (old) /* a stale entry: the fd was closed behind our back */
        conn_put(old);
    return fd;
}

static int shim_open_common(const char *path, int flags, int *handled)
{
    enum path_kind k = classify(path);
    *handled = k != PATH_OTHER;
    if (k == PATH_OTHER)
        return -1;
    int fd, err = 0;
    if (k == PATH_HYPERCALL) {
        fd = -1;
        err = ENOENT;
    } else {
        fd = open_privcmd(path, flags);
        err = fd < 0 ? errno : 0;
    }
    if (capture_on())
        capture_open(path, flags, fd, err);
    if (fd < 0)
        errno = err;
    return fd;
}

static inline int needs_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
    init();
    mode_t mode = 0;
    if (needs_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int handled, r = shim_open_common(path, flags, &handled);
    return handled ? r : real.open(path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
    init();
    mode_t mode = 0;
    if (needs_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int handled, r = shim_open_common(path, flags, &handled);
    return handled ? r : real.open64(path, flags, mode);
}

SHIM_EXPORT int __open_2(const char *path, int flags)
{
    init();
    int handled, r = shim_open_common(path, flags, &handled);
    if (handled)
        return r;
    return real.open_2 ? real.open_2(path, flags) : real.open(path, flags);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
    init();
    int handled, r = shim_open_common(path, flags, &handled);
    if (handled)
        return r;
    return real.open64_2 ? real.open64_2(path, flags) : real.open64(path, flags);
}

/* Only absolute paths are recognised, whatever dirfd is. */
SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    init();
    mode_t mode = 0;
    if (needs_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int handled, r = shim_open_common(path, flags, &handled);
    return handled ? r : real.openat(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    init();
    mode_t mode = 0;
    if (needs_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int handled, r = shim_open_common(path, flags, &handled);
    return handled ? r : real.openat64(dirfd, path, flags, mode);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    init();
    int handled, r = shim_open_common(path, flags, &handled);
    if (handled)
        return r;
    return real.openat_2 ? real.openat_2(dirfd, path, flags) : real.openat(dirfd, path, flags);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    init();
    int handled, r = shim_open_common(path, flags, &handled);
    if (handled)
        return r;
    return real.openat64_2 ? real.openat64_2(dirfd, path, flags) : real.openat64(dirfd, path, flags);
}

/* ---- ioctl, close, dup*, fcntl, mmap */

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    init();
    if (fd_is_privcmd(fd))
        return (int)privcmd_ioctl(fd, req, arg);
    return real.ioctl(fd, req, arg);
}

SHIM_EXPORT int close(int fd)
{
    init();
    if (fd_is_privcmd(fd))
        table_drop(fd);
    else if (fd_is_hidden(fd))
        hidden_closed(fd);
    capture_forget(fd);
    return real.close(fd);
}

SHIM_EXPORT int dup(int fd)
{
    init();
    int r = real.dup(fd);
    if (r >= 0 && fd_is_privcmd(fd)) {
        struct conn *c = conn_get(fd);
        if (c) {
            table_alias(r, c);
            conn_put(c);
        }
    }
    return r;
}

static int dup_into(int oldfd, int newfd, int r)
{
    if (r < 0 || oldfd == newfd)
        return r;
    struct conn *c = conn_get(oldfd);
    if (c) {
        table_alias(newfd, c);
        conn_put(c);
    } else {
        table_drop(newfd);
    }
    return r;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
    init();
    if (oldfd != newfd && fd_is_hidden(newfd))
        hidden_closed(newfd);
    if (oldfd != newfd)
        capture_forget(newfd);
    int r = real.dup2(oldfd, newfd);
    int saved = errno;
    r = dup_into(oldfd, newfd, r);
    errno = saved;
    return r;
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    init();
    if (oldfd != newfd && fd_is_hidden(newfd))
        hidden_closed(newfd);
    if (oldfd != newfd)
        capture_forget(newfd);
    int r = real.dup3(oldfd, newfd, flags);
    int saved = errno;
    r = dup_into(oldfd, newfd, r);
    errno = saved;
    return r;
}

static int fcntl_common(fcntl_fn fn, int fd, int cmd, void *arg)
{
    int r = fn(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && fd_is_privcmd(fd)) {
        int saved = errno;
        struct conn *c = conn_get(fd);
        if (c) {
            table_alias(r, c);
            conn_put(c);
        }
        errno = saved;
    }
    return r;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    init();
    return fcntl_common(real.fcntl, fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    init();
    return fcntl_common(real.fcntl64, fd, cmd, arg);
}

/*
 * mmap of a privcmd fd: the kernel gives an empty VMA that
 * IOCTL_PRIVCMD_MMAP* later fill; those ioctls are not forwarded yet, so the
 * mapping is an anonymous placeholder of the requested size.
 */
static void *privcmd_mmap(void *addr, size_t len, int prot, int flags)
{
    return real.mmap(addr, len, prot, (flags & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    init();
    if (fd_is_privcmd(fd))
        return privcmd_mmap(addr, len, prot, flags);
    return real.mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    init();
    if (fd_is_privcmd(fd))
        return privcmd_mmap(addr, len, prot, flags);
    return real.mmap64(addr, len, prot, flags, fd, off);
}
