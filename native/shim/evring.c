/*
 * The event area of an evtchn file (docs/protocol.md, "Event area"): while the program waits in
 * poll() on its evtchn fd and the shim spins (poll.c), the server puts the ports that become
 * pending into a ring of the control connection's region instead of writing them on the fd's
 * socket; read() of the fd returns them before what the socket holds.  write() of unmasks puts
 * them into the other ring, with a KICK on the control socket only when the server is not polling.
 * The fd stays the real socket: whatever the shim does not see (epoll, io_uring) still works
 * through it, since the server writes the socket whenever the client is not spinning.
 */
#include "shim.h"

int ev_areas;
/* Set at the first evtchn open: from then on read/write look whether their fd is one. */
int ev_files_seen;



static inline uint32_t *ev_word(const struct conn *c, size_t off)
{
    return (uint32_t *)(void *)(c->fp_base + off);
}

/* The driver's read()/write() size rules: whole ports only, at most a page (evtchn.c:evtchn_read, evtchn_write). */
#define EV_IO_MAX 4096u

void ev_arm(struct conn *c)
{
    if (!c->fp_base || !(get32(c->fp_base + FP_OFF_FEATURES) & FP_FEATURE_EVENTS) || c->ev_on)
        return;
    pthread_mutex_init(&c->ev_lock, NULL);
    c->ev_on = 1;
    __atomic_fetch_add(&ev_areas, 1, __ATOMIC_RELAXED);
}

int ev_readable(const struct conn *c)
{
    return c->ev_on && c->fp_base && c->pid == cached_pid;
}

uint32_t ev_avail(const struct conn *c)
{
    uint32_t prod = __atomic_load_n(ev_word(c, FP_OFF_EV_PROD), __ATOMIC_ACQUIRE) & FP_EV_MASK;
    uint32_t cons = __atomic_load_n(ev_word(c, FP_OFF_EV_CONS), __ATOMIC_RELAXED) & FP_EV_MASK;
    uint32_t n = (prod - cons) & FP_EV_MASK;
    return n > FP_RING_SIZE ? FP_RING_SIZE : n; /* a server that overran the ring: never read past it */
}

void ev_spin_begin(struct conn *c)
{
    __atomic_fetch_or(ev_word(c, FP_OFF_EV_PROD), FP_EV_SPINNING, __ATOMIC_SEQ_CST);
    /* a thread blocked in read() of the socket would not see the ring: the ports keep to the socket */
    if (__atomic_load_n(&c->ev_blockers, __ATOMIC_SEQ_CST) > 0)
        __atomic_fetch_and(ev_word(c, FP_OFF_EV_PROD), ~FP_EV_SPINNING, __ATOMIC_SEQ_CST);
}

/*
 * The bit is cleared in the word the server publishes with: its push either came before (its
 * count is in the value seen here) or finds the bit clear and takes the socket.
 */
int ev_spin_end(struct conn *c)
{
    uint32_t v = __atomic_fetch_and(ev_word(c, FP_OFF_EV_PROD), ~FP_EV_SPINNING, __ATOMIC_SEQ_CST);
    uint32_t cons = __atomic_load_n(ev_word(c, FP_OFF_EV_CONS), __ATOMIC_RELAXED) & FP_EV_MASK;
    return ((v & FP_EV_MASK) - cons) & FP_EV_MASK ? 1 : 0;
}

pid_t ev_tid(void)
{
    static __thread pid_t tid;
    if (tid == 0)
        tid = (pid_t)syscall(SYS_gettid);
    return tid;
}

/*
 * The answer to a notify usually comes at once: the spinning bit goes up now and stays until the
 * next wait of this thread ends, so the answer takes the ring.  Only when that wait is sure to look
 * at the ring first: the program waits on the fd through the shim's poll/select, never through
 * epoll, from this one thread; and no thread blocks in a read of the socket (checked after the bit
 * is set, the other half of the reader's count-then-clear: a port that came meanwhile stays in the
 * ring for this thread's next wait).
 */
void ev_before_notify(struct conn *c)
{
    if (!c->ev_polled || c->ev_epolled || __atomic_load_n(&c->ev_multi, __ATOMIC_RELAXED) || !ev_readable(c) ||
        c->broken || __atomic_load_n(&c->ev_waiter, __ATOMIC_RELAXED) != ev_tid())
        return;
    ev_spin_begin(c);
}

void ev_discard(struct conn *c)
{
    if (!ev_readable(c))
        return;
    pthread_mutex_lock(&c->ev_lock);
    uint32_t cons = __atomic_load_n(ev_word(c, FP_OFF_EV_CONS), __ATOMIC_RELAXED) & FP_EV_MASK;
    __atomic_store_n(ev_word(c, FP_OFF_EV_CONS), (cons + ev_avail(c)) & FP_EV_MASK, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&c->ev_lock);
}

/* Up to `max` ports from the ring into the caller's buffer; the consumer index moves only after the copy. */
static long ev_take(struct conn *c, void *buf, uint32_t max)
{
    uint32_t ports[EV_IO_MAX / 4];
    pthread_mutex_lock(&c->ev_lock);
    uint32_t n = ev_avail(c);
    if (n > max)
        n = max;
    uint32_t cons = __atomic_load_n(ev_word(c, FP_OFF_EV_CONS), __ATOMIC_RELAXED) & FP_EV_MASK;
    for (uint32_t i = 0; i < n; i++)
        ports[i] = __atomic_load_n(ev_word(c, FP_OFF_EV_RING + 4 * ((cons + i) % FP_RING_SIZE)), __ATOMIC_RELAXED);
    long r = (long)n;
    if (n > 0) {
        if (mem_write(buf, ports, (size_t)n * 4) < 0)
            r = -1;
        if (r > 0) /* taken only once the caller has them */
            __atomic_store_n(ev_word(c, FP_OFF_EV_CONS), (cons + n) & FP_EV_MASK, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&c->ev_lock);
    return r;
}

/* A KICK on the control socket: the server takes the unmasks now (it is not polling). */
static void ev_kick(struct conn *c)
{
    uint8_t h[HDR_SIZE];
    put32(h, 8);
    h[4] = PROTO_VERSION;
    h[5] = KIND_KICK;
    put16(h + 6, 0);
    put32(h + 8, __atomic_load_n(&c->seq, __ATOMIC_RELAXED));
    /* 12 bytes go out whole or not at all; a full socket means the server is busy and drains soon */
    (void)send(c->sock, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Unmasks into the ring when they all fit: 1; 0 when the caller writes them on the socket. */
static int ev_put_unmasks(struct conn *c, const uint32_t *ports, uint32_t n)
{
    if (c->broken || c->sock < 0)
        return 0;
    pthread_mutex_lock(&c->ev_lock);
    uint32_t prod = __atomic_load_n(ev_word(c, FP_OFF_UM_PROD), __ATOMIC_RELAXED);
    uint32_t cons = __atomic_load_n(ev_word(c, FP_OFF_UM_CONS), __ATOMIC_ACQUIRE);
    uint32_t used = prod - cons;
    if (used > FP_RING_SIZE || FP_RING_SIZE - used < n) {
        pthread_mutex_unlock(&c->ev_lock);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        __atomic_store_n(ev_word(c, FP_OFF_UM_RING + 4 * ((prod + i) % FP_RING_SIZE)), ports[i], __ATOMIC_RELAXED);
    /*
     * Published by um_prod.  The server needs a KICK only when it is not polling and a port of
     * the file waits for its unmask (um_wanted); else it takes the unmasks before its next raise or
     * request.  Both words are Dekker pairs: polling with the server's last look before it stops
     * polling, um_wanted with its look at um_prod right after it sets it.
     */
    __atomic_store_n(ev_word(c, FP_OFF_UM_PROD), prod + n, __ATOMIC_SEQ_CST);
    int kick = __atomic_load_n(ev_word(c, FP_OFF_POLLING), __ATOMIC_SEQ_CST) == 0 &&
               __atomic_load_n(ev_word(c, FP_OFF_UM_WANTED), __ATOMIC_SEQ_CST) != 0;
    pthread_mutex_unlock(&c->ev_lock);
    if (kick)
        ev_kick(c);
    return 1;
}

/* The connection of an evtchn fd (with or without an event area), with a reference; NULL otherwise. */
static struct conn *ev_conn(int fd)
{
    if (!__atomic_load_n(&ev_files_seen, __ATOMIC_RELAXED) || !fd_is_privcmd(fd))
        return NULL;
    struct conn *c = conn_get(fd);
    if (c && c->type != CONN_EVTCHN) {
        conn_put(c);
        c = NULL;
    }
    return c;
}

/* read() of the evtchn fd: the ring's ports, then (without blocking) what the socket holds. */
/* The driver's size rule for read() and write(): whole ports, at most EV_IO_MAX bytes (0: nothing to do). */
static size_t ev_count(size_t count)
{
    count &= ~(size_t)3;
    return count > EV_IO_MAX ? EV_IO_MAX : count;
}

static ssize_t ev_read(int fd, struct conn *c, void *buf, size_t count, size_t buflen)
{
    count = ev_count(count);
    if (count == 0)
        return 0;
    if (!ev_readable(c)) /* no event area: the socket, with the driver's size rules */
        return real.read_chk && buflen != (size_t)-1 ? real.read_chk(fd, buf, count, buflen) : real.read(fd, buf, count);
    long n = ev_take(c, buf, (uint32_t)(count / 4));
    if (n == 0) {
        /* counted before the bit is cleared: a notify that sets it again sees this reader (ev_before_notify) */
        __atomic_fetch_add(&c->ev_blockers, 1, __ATOMIC_SEQ_CST);
        if (ev_spin_end(c)) /* a notify left the bit set: ports take the socket from now on */
            n = ev_take(c, buf, (uint32_t)(count / 4));
        ssize_t r = 0;
        if (n == 0) /* nothing in the ring: the socket as the fd's flags say (blocking, or EAGAIN) */
            r = real.read_chk && buflen != (size_t)-1 ? real.read_chk(fd, buf, count, buflen) : real.read(fd, buf, count);
        int e = errno;
        __atomic_fetch_sub(&c->ev_blockers, 1, __ATOMIC_SEQ_CST);
        errno = e;
        if (n == 0)
            return r;
    }
    if (n < 0) {
        errno = EFAULT;
        return -1;
    }
    size_t got = (size_t)n * 4;
    if (got < count) {
        ssize_t r = recv(fd, (uint8_t *)buf + got, count - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
    }
    return (ssize_t)got;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t count)
{
    init_real();
    struct conn *c = ev_conn(fd);
    if (!c)
        return real.read(fd, buf, count);
    ssize_t r = ev_read(fd, c, buf, count, (size_t)-1);
    int e = errno;
    conn_put(c);
    errno = e;
    return r;
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
    init_real();
    struct conn *c = ev_conn(fd);
    if (!c) {
        if (real.read_chk)
            return real.read_chk(fd, buf, count, buflen);
        return real.read(fd, buf, count);
    }
    if (count > buflen)
        return real.read_chk(fd, buf, count, buflen); /* the fortified libc reports the overflow */
    ssize_t r = ev_read(fd, c, buf, count, buflen);
    int e = errno;
    conn_put(c);
    errno = e;
    return r;
}

/* write() of the evtchn fd: unmasks into the ring when they fit, else on the socket as before. */
static ssize_t ev_write(int fd, struct conn *c, const void *buf, size_t count)
{
    count = ev_count(count);
    if (count == 0)
        return 0;
    if (!ev_readable(c)) /* no event area: the socket, with the driver's size rules */
        return real.write(fd, buf, count);
    uint32_t ports[EV_IO_MAX / 4];
    if (mem_read(ports, buf, count) < 0) {
        errno = EFAULT;
        return -1;
    }
    if (ev_put_unmasks(c, ports, (uint32_t)(count / 4)))
        return (ssize_t)count;
    return real.write(fd, ports, count);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
    init_real();
    struct conn *c = ev_conn(fd);
    if (!c)
        return real.write(fd, buf, count);
    ssize_t r = ev_write(fd, c, buf, count);
    int e = errno;
    conn_put(c);
    errno = e;
    return r;
}

/*
 * readv() of the evtchn fd: the driver has no read_iter, so the VFS calls its read for each buffer
 * in turn and stops at the first short one (fs/read_write.c:do_loop_readv_writev).
 */
SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    init_real();
    struct conn *c = ev_conn(fd);
    if (!c)
        return real.readv(fd, iov, iovcnt);
    conn_put(c);
    if (iovcnt < 0 || iovcnt > 1024) /* UIO_MAXIOV */
        return real.readv(fd, iov, iovcnt);
    ssize_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        struct iovec v;
        if (mem_read(&v, &iov[i], sizeof(v)) < 0) {
            if (total > 0)
                break;
            errno = EFAULT;
            return -1;
        }
        if (v.iov_len == 0)
            continue;
        ssize_t r = read(fd, v.iov_base, v.iov_len);
        if (r < 0) {
            if (total > 0)
                break;
            return -1;
        }
        total += r;
        if ((size_t)r != v.iov_len)
            break;
    }
    return total;
}
