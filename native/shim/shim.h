/*
 * Shared declarations of libxendm-shim.so (see shim/entry.c for the overview and docs/shim.md).
 */
#ifndef XENDM_SHIM_H
#define XENDM_SHIM_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fastpath.h"

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
#define HYPERVISOR_MEMORY_OP 12
#define HYPERVISOR_MULTICALL 13
#define HYPERVISOR_HVM_OP 34
/* multicall entries the shim forwards at once; each memory_op entry adds two buffers */
#define MC_MAX_ENTRIES 7
#define MEMOP_MAX_BUFS (1 + 2 * MC_MAX_ENTRIES)
#define DM_OP_HCALL_MAX_BUFS 2

/* ---- protocol (docs/protocol.md) */

#define PROTO_VERSION 1
#define KIND_HELLO 0x01
#define KIND_DM_OP 0x02
#define KIND_RESTRICT 0x03
#define KIND_HYPERCALL 0x04
#define KIND_EVTCHN_OPEN 0x10
#define KIND_EVTCHN_STREAM 0x11
#define KIND_EVTCHN_IOCTL 0x12
#define KIND_SHM_INFO 0x20
#define KIND_MMAP_RESOURCE 0x21
#define KIND_MMAPBATCH 0x22
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
typedef int (*munmap_fn)(void *, size_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*read_chk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
typedef int (*poll_chk_fn)(struct pollfd *, nfds_t, int, size_t);
typedef int (*ppoll_chk_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*pselect_fn)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);

struct real_fns {
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
    munmap_fn munmap;
    /* the event area's (evring.c, poll.c, select.c, wait.c); read_chk, poll_chk, ppoll_chk may be NULL */
    read_fn read;
    read_chk_fn read_chk;
    write_fn write;
    readv_fn readv;
    poll_fn poll;
    ppoll_fn ppoll;
    poll_chk_fn poll_chk;
    ppoll_chk_fn ppoll_chk;
    select_fn select;
    pselect_fn pselect;
    epoll_ctl_fn epoll_ctl;
};
extern struct real_fns real;
/* `real` resolved, without the configuration: for the wrappers of calls libc itself makes (read, poll...). */
void init_real(void);

/* ---- configuration (init.c) */

extern int shim_enabled;
extern int no_dmop;
extern long spin_ns;
extern long timeout_ms;
extern long connect_ms;
extern unsigned caller_domid;
extern char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
extern int socket_path_too_long;
extern char capture_path[4096];
extern pid_t cached_pid;
extern int vm_rw_broken;

void init(void);
void shim_after_fork_child(void);

/* ---- the caller's memory (memory.c) */

int mem_read(void *dst, const void *src, size_t n);
int mem_write(void *dst, const void *src, size_t n);
long mem_read_str(char *dst, const char *src, size_t cap);
uint8_t *scratch(size_t need);

/* ---- guarded copies and the program's SIGSEGV/SIGBUS handlers (guard.c) */

extern int guard_on;
void guard_resolve(void);
void guard_install(int bus_blocked_ok);
void guard_after_fork_child(void);
/* 1 when this thread may use the two below (the handler is installed, SIGSEGV and SIGBUS unblocked) */
int guard_usable(void);
int guard_copy(void *dst, const void *src, size_t n, const void *user);
int guard_probe_write(void *p, size_t n);

/* ---- connections and the fd table (fdtable.c) */

enum { CONN_PRIVCMD, CONN_EVTCHN, CONN_GNTDEV, CONN_GNTALLOC };

struct conn {
    int type;             /* CONN_PRIVCMD or CONN_EVTCHN: which device the fds behind it are */
    uint64_t token;       /* CONN_EVTCHN: the server's name for the open file */
    pthread_mutex_t lock; /* one request/reply at a time on this connection */
    int sock;             /* hidden socket to the server, closed when refs drops to 0 */
    int refs;             /* fds of the table pointing here + calls in flight */
    int broken;           /* the stream is out of step: every further call fails EIO */
    int restricted;       /* a RESTRICT succeeded on this file (the server holds the domid) */
    uint16_t restrict_dom;
    pid_t pid;            /* the process whose connection sock is (a forked child reconnects) */
    int forked;           /* mark while a forked child resets the locks */
    uint32_t seq;
    uint8_t *buf;         /* request / reply scratch, grown as needed */
    uint8_t *fp_base;     /* the fast-path region (fastpath.c), or NULL: the socket only */
    size_t cap;
    int ev_on;            /* CONN_EVTCHN: the region's event area carries this file's ports (evring.c) */
    pthread_mutex_t ev_lock; /* the event area's consumer and unmask producer (set up with ev_on) */
    int ev_polled;        /* the program waits on this fd through the shim's poll/select (poll.c) */
    int ev_epolled;       /* ... and never added it to an epoll set (then ev_polled stays 0) */
    pid_t ev_waiter;      /* the thread that waits on it there; ev_multi: more than one did */
    int ev_multi;
    int ev_blockers;      /* threads in a blocking read of the fd's socket */
};

#define FD_TABLE_SIZE 65536
extern struct conn *fd_table[FD_TABLE_SIZE];
extern struct conn *sock_table[FD_TABLE_SIZE];
extern pthread_mutex_t table_lock;

static inline int fd_is_privcmd(int fd)
{
    return fd >= 0 && fd < FD_TABLE_SIZE && __atomic_load_n(&fd_table[fd], __ATOMIC_ACQUIRE) != NULL;
}

static inline int fd_is_hidden(int fd)
{
    return fd >= 0 && fd < FD_TABLE_SIZE && __atomic_load_n(&sock_table[fd], __ATOMIC_ACQUIRE) != NULL;
}

void sock_set(int fd, struct conn *c);
void sock_clear(int fd, struct conn *c);
void hidden_closed(int fd);
void conn_put(struct conn *c);
/* Drops a connection whose open failed, keeping errno: returns -1 for the caller to return. */
int conn_abandon(struct conn *c);
struct conn *conn_get(int fd);
void table_drop(int fd);
void table_alias(int newfd, struct conn *c);
int table_install(int fd, struct conn *c);
int fd_conn_type(int fd);

/* ---- transport (transport.c) */

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


int ensure_cap(struct conn *c, size_t need);
int transact(struct conn *c, uint8_t kind, size_t body_len, size_t *reply_len);
int conn_hello(struct conn *c);
void conn_after_fork(struct conn *c);
int connect_server(void);
struct conn *conn_new(int type);
void warn_once(const char *what, int err);
void warn_timeout(void);

/* ---- capture (capture.c) */

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

__attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *s, const char *fmt, ...);
void sb_hex(struct sbuf *s, const uint8_t *b, size_t n);
void sb_json_str(struct sbuf *s, const char *str);
static inline int capture_on(void)
{
    return capture_path[0] != 0;
}
void capture_emit(struct sbuf *s);
void capture_forget(int fd);
void capture_after_fork_child(void);
void capture_open(const char *path, int flags, int ret, int err);
void capture_result(struct sbuf *s, long ret, int err);

/* ---- privcmd (privcmd.c) */

long privcmd_ioctl(int fd, unsigned long req, void *arg);
int open_privcmd(const char *path, int flags);

/* ---- mappings (mapping.c) */

/* IOCTL_PRIVCMD_MMAP_RESOURCE: _IOC(_IOC_NONE, 'P', 7, 32) on every ABI */
#define SHIM_IOCTL_MMAP_RESOURCE_NR SHIM_IOC(7, 32)
void *privcmd_mmap(void *addr, size_t len, int prot, int flags);
void areas_unmapped(void *addr, size_t len);
void shm_open_once(struct conn *c);
long do_mmap_resource(struct conn *c, void *arg);
long do_mmap_batch(struct conn *c, void *arg, int version);
/* 1 for IOCTL_PRIVCMD_MMAPBATCH, 2 for MMAPBATCH_V2 (sizes of this ABI's structs), else 0 */
int mmapbatch_version(unsigned long req);

/* ---- /dev/xen/evtchn (evtchn.c) */

int open_evtchn(int flags);
long evtchn_ioctl(int fd, struct conn *c, unsigned long req, void *arg);
int evtchn_reattach(struct conn *c);

/* ---- /dev/xen/gntdev, /dev/xen/gntalloc (gntdev.c) */

int open_gnt(int type, int flags);
long gnt_ioctl(struct conn *c, unsigned long req, void *arg);

#endif
