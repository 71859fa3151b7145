/*
 * /dev/xen/evtchn: the fd the program gets is a Unix socket to the server
 * (the file's event stream), so read(), write(), poll, select and epoll work
 * on it natively: the server writes each pending port as 4 bytes, and the
 * program's write() of ports (unmasks) reaches the server as they are.  The
 * ioctls go over a second, hidden connection (docs/protocol.md, kinds
 * 0x10-0x12), which names the file by the token the server gave it.
 */
#include "shim.h"

/* _IOC(_IOC_NONE, 'E', nr, size), checked against the installed header where there is one */
#define EVT_IOC(nr, size) ((unsigned long)(((size) << 16) | (0x45 << 8) | (nr)))

static const struct {
    unsigned long req;
    unsigned nr;
    unsigned size; /* bytes of the argument struct read */
    const char *name;
} evtchn_ioctls[] = {
    { EVT_IOC(0, 4), 0, 4, "IOCTL_EVTCHN_BIND_VIRQ" },
    { EVT_IOC(1, 8), 1, 8, "IOCTL_EVTCHN_BIND_INTERDOMAIN" },
    { EVT_IOC(2, 4), 2, 4, "IOCTL_EVTCHN_BIND_UNBOUND_PORT" },
    { EVT_IOC(3, 4), 3, 4, "IOCTL_EVTCHN_UNBIND" },
    { EVT_IOC(4, 4), 4, 4, "IOCTL_EVTCHN_NOTIFY" },
    { EVT_IOC(5, 0), 5, 0, "IOCTL_EVTCHN_RESET" },
    { EVT_IOC(6, 2), 6, 2, "IOCTL_EVTCHN_RESTRICT_DOMID" },
};
#define EVTCHN_IOCTL_NOTIFY_NR 4
#define EVTCHN_IOCTL_RESET_NR 5

#if defined(__has_include)
#if __has_include(<xen/sys/evtchn.h>)
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
_Static_assert(EVT_IOC(1, 8) == IOCTL_EVTCHN_BIND_INTERDOMAIN, "IOCTL_EVTCHN_BIND_INTERDOMAIN");
_Static_assert(EVT_IOC(2, 4) == IOCTL_EVTCHN_BIND_UNBOUND_PORT, "IOCTL_EVTCHN_BIND_UNBOUND_PORT");
_Static_assert(EVT_IOC(3, 4) == IOCTL_EVTCHN_UNBIND, "IOCTL_EVTCHN_UNBIND");
_Static_assert(EVT_IOC(4, 4) == IOCTL_EVTCHN_NOTIFY, "IOCTL_EVTCHN_NOTIFY");
_Static_assert(EVT_IOC(5, 0) == IOCTL_EVTCHN_RESET, "IOCTL_EVTCHN_RESET");
_Static_assert(EVT_IOC(6, 2) == IOCTL_EVTCHN_RESTRICT_DOMID, "IOCTL_EVTCHN_RESTRICT_DOMID");
#endif
#endif

/* EVTCHN_OPEN on c (token 0: a new file).  0, or -1 with errno (the server's, or EIO). */
static int evtchn_open_on(struct conn *c, uint64_t token)
{
    size_t rlen;
    if (ensure_cap(c, HDR_SIZE + 8) < 0) {
        errno = ENOMEM;
        return -1;
    }
    put64(c->buf + HDR_SIZE, token);
    if (transact(c, KIND_EVTCHN_OPEN, 8, &rlen) < 0)
        return -1;
    if (rlen != 16) {
        c->broken = 1;
        errno = EIO;
        return -1;
    }
    int32_t ret = (int32_t)get32(c->buf), err = (int32_t)get32(c->buf + 4);
    if (ret != 0) {
        errno = err > 0 ? err : EIO;
        return -1;
    }
    c->token = (uint64_t)get32(c->buf + 8) | (uint64_t)get32(c->buf + 12) << 32;
    return 0;
}

/* A forked child's new control connection joins the same file (called with c->lock held). */
int evtchn_reattach(struct conn *c)
{
    return evtchn_open_on(c, c->token);
}

/* The stream connection: EVTCHN_STREAM as its only frame, then raw ports. */
static int open_stream(uint64_t token, int flags)
{
    struct conn tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.sock = connect_server();
    if (tmp.sock < 0)
        return -1;
    int ok = ensure_cap(&tmp, HDR_SIZE + 16) == 0;
    size_t rlen = 0;
    if (ok) {
        put64(tmp.buf + HDR_SIZE, token);
        ok = transact(&tmp, KIND_EVTCHN_STREAM, 8, &rlen) == 0 && rlen == 8 && get32(tmp.buf) == 0;
    }
    free(tmp.buf);
    if (!ok) {
        real.close(tmp.sock);
        errno = EIO;
        return -1;
    }
    /* the program's own fd now: its reads block as long as it likes, with the flags it asked for */
    struct timeval none = { 0, 0 };
    (void)setsockopt(tmp.sock, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    (void)setsockopt(tmp.sock, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    if (!(flags & O_CLOEXEC))
        (void)real.fcntl(tmp.sock, F_SETFD, 0);
    if (flags & O_NONBLOCK)
        (void)real.fcntl(tmp.sock, F_SETFL, O_NONBLOCK);
    return tmp.sock;
}

int open_evtchn(int flags)
{
    __atomic_store_n(&ev_files_seen, 1, __ATOMIC_RELAXED);
    struct conn *c = conn_new(CONN_EVTCHN);
    if (!c)
        return -1;
    if (evtchn_open_on(c, 0) < 0)
        return conn_abandon(c);
    ev_arm(c); /* the server gave a new file opened on a connection with a region its event area */
    int fd = open_stream(c->token, flags);
    if (fd < 0)
        return conn_abandon(c);
    return table_install(fd, c);
}

/* RESET empties the ring: the ports the program has not read yet are dropped from its socket. */
static void drain(int fd)
{
    uint8_t junk[256];
    while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

long evtchn_ioctl(int fd, struct conn *c, unsigned long req, void *arg)
{
    unsigned i, n = sizeof(evtchn_ioctls) / sizeof(evtchn_ioctls[0]);
    for (i = 0; i < n; i++)
        if (evtchn_ioctls[i].req == req)
            break;
    if (i == n) {
        /* what the VFS answers itself for any file; everything else reaches evtchn_ioctl: -ENOSYS */
        if (req == FIONBIO || req == FIOCLEX || req == FIONCLEX || req == FIOASYNC)
            return real.ioctl(fd, req, arg);
        errno = ENOSYS;
        return -1;
    }
    uint32_t a[2] = { 0, 0 };
    uint8_t raw[8] = { 0 };
    int fault = 0;
    if (evtchn_ioctls[i].size > 0) {
        fault = mem_read(raw, arg, evtchn_ioctls[i].size) < 0;
        if (!fault && evtchn_ioctls[i].size == 2) {
            a[0] = (uint32_t)raw[0] | (uint32_t)raw[1] << 8;
        } else if (!fault) {
            memcpy(&a[0], raw, 4);
            if (evtchn_ioctls[i].size == 8)
                memcpy(&a[1], raw + 4, 4);
        }
    }
    long ret = -1;
    int err = EIO;
    size_t rlen;
    pthread_mutex_lock(&c->lock);
    conn_after_fork(c);
    if (ensure_cap(c, HDR_SIZE + 16) < 0) {
        err = ENOMEM;
    } else {
        put32(c->buf + HDR_SIZE, evtchn_ioctls[i].nr);
        put32(c->buf + HDR_SIZE + 4, fault ? DESC_FLAG_FAULT : 0);
        put32(c->buf + HDR_SIZE + 8, a[0]);
        put32(c->buf + HDR_SIZE + 12, a[1]);
        /* the answer to a kick usually comes at once: it may take the ring until the next wait ends */
        if (evtchn_ioctls[i].nr == EVTCHN_IOCTL_NOTIFY_NR)
            ev_before_notify(c);
        if (transact(c, KIND_EVTCHN_IOCTL, 16, &rlen) == 0) {
            if (rlen == 8 && ((int32_t)get32(c->buf) != -1 || (int32_t)get32(c->buf + 4) > 0)) {
                ret = (int32_t)get32(c->buf);
                err = (int32_t)get32(c->buf + 4);
            } else {
                c->broken = 1;
            }
        }
    }
    if (ret == 0 && evtchn_ioctls[i].nr == EVTCHN_IOCTL_RESET_NR) {
        ev_discard(c);
        drain(fd);
    }
    if (capture_on()) {
        struct sbuf s = { 0 };
        sb_printf(&s, "{\"ioctl\":\"%s\"", evtchn_ioctls[i].name);
        if (fault)
            sb_printf(&s, ",\"arg_fault\":true");
        else if (evtchn_ioctls[i].size > 0)
            sb_printf(&s, ",\"arg\":[%u,%u]", a[0], a[1]);
        capture_result(&s, ret, err);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret == -1)
        errno = err;
    return ret;
}
