/*
 * libxendm-shim.so: an LD_PRELOAD privcmd for unmodified programs (the exported libc entry points).
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
#include "shim.h"

/* ---- open */

enum path_kind { PATH_OTHER, PATH_FAULT, PATH_PRIVCMD, PATH_HYPERCALL, PATH_EVTCHN, PATH_GNTDEV, PATH_GNTALLOC };

static const struct {
    const char *path;
    enum path_kind kind;
} xen_paths[] = {
    { "/dev/xen/privcmd", PATH_PRIVCMD },
    { "/proc/xen/privcmd", PATH_PRIVCMD },
    { "/dev/xen/hypercall", PATH_HYPERCALL },
    { "/dev/xen/evtchn", PATH_EVTCHN },
    { "/dev/xen/gntdev", PATH_GNTDEV },
    { "/dev/xen/gntalloc", PATH_GNTALLOC },
};

/* Longer than every path above: a string that long is none of them. */
#define XEN_PATH_CAP 32

/*
 * Which device a path names.  The path is read with a checked copy: a bad
 * pointer is PATH_FAULT (EFAULT, as the kernel gives for open), never a crash.
 */
static enum path_kind classify(const char *path)
{
    if (!shim_enabled || !path)
        return PATH_OTHER;
    char buf[XEN_PATH_CAP];
    long n = mem_read_str(buf, path, sizeof(buf));
    if (n < 0)
        return PATH_FAULT;
    if (memchr(buf, 0, (size_t)n) == NULL)
        return PATH_OTHER;
    for (unsigned i = 0; i < sizeof(xen_paths) / sizeof(xen_paths[0]); i++)
        if (strcmp(buf, xen_paths[i].path) == 0)
            return xen_paths[i].kind;
    return PATH_OTHER;
}

static int shim_open_common(const char *path, int flags, int *handled)
{
    enum path_kind k = classify(path);
    *handled = k != PATH_OTHER;
    if (k == PATH_OTHER)
        return -1;
    if (k == PATH_FAULT) {
        errno = EFAULT;
        return -1;
    }
    int fd, err = 0;
    if (k == PATH_HYPERCALL) {
        fd = -1;
        err = ENOENT;
    } else if (k == PATH_GNTDEV || k == PATH_GNTALLOC) {
        fd = open_gnt(k == PATH_GNTDEV ? CONN_GNTDEV : CONN_GNTALLOC, flags);
        err = fd < 0 ? errno : 0;
    } else if (k == PATH_EVTCHN) {
        fd = open_evtchn(flags);
        err = fd < 0 ? errno : 0;
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

/* mmap of a privcmd fd: a placeholder area; of a grant device: the grant map fails (no grants), EINVAL. */
static void *xen_mmap(int fd, void *addr, size_t len, int prot, int flags)
{
    if (fd_conn_type(fd) == CONN_PRIVCMD)
        return privcmd_mmap(addr, len, prot, flags);
    errno = EINVAL;
    return MAP_FAILED;
}

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

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    init();
    if (fd_is_privcmd(fd) && fd_conn_type(fd) != CONN_EVTCHN)
        return xen_mmap(fd, addr, len, prot, flags);
    return real.mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    init();
    if (fd_is_privcmd(fd) && fd_conn_type(fd) != CONN_EVTCHN)
        return xen_mmap(fd, addr, len, prot, flags);
    return real.mmap64(addr, len, prot, flags, fd, off);
}

/* munmap: a privcmd area (or part of one) stops being one. */
SHIM_EXPORT int munmap(void *addr, size_t len)
{
    init();
    int r = real.munmap(addr, len);
    if (r == 0)
        areas_unmapped(addr, len);
    return r;
}
