/* One request/reply exchange with the server (docs/protocol.md), HELLO, connect, and reconnect after fork. */
#include "shim.h"

int ensure_cap(struct conn *c, size_t need)
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

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * The socket carries SO_SNDTIMEO / SO_RCVTIMEO of XENDM_SHIM_TIMEOUT_MS, so a
 * single send or recv never blocks longer; `deadline` bounds the whole
 * exchange (a server trickling bytes cannot stretch it).
 */
static int send_all(int sock, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR && now_ns() < deadline)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        if (n > 0 && now_ns() >= deadline)
            return -1;
    }
    return 0;
}

/* A server that does not answer within the bound: said once per process, then EIO. */
void warn_timeout(void)
{
    static int said;
    if (__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL) == 0)
        fprintf(stderr, "xendm-shim: no complete reply from %s within %ld ms (XENDM_SHIM_TIMEOUT_MS): EIO\n",
                socket_path, timeout_ms);
}

/*
 * One request/reply exchange.  c->buf holds the request body at offset
 * HDR_SIZE (body_len bytes).  On return 0 the reply body is at c->buf
 * (*reply_len bytes).  On failure the connection is marked broken and -1
 * is returned with errno EIO.  Called with c->lock held.
 */
int transact(struct conn *c, uint8_t kind, size_t body_len, size_t *reply_len)
{
    if (c->broken)
        goto fail;
    if (fp_usable(c, kind, body_len))
        return fp_transact(c, kind, body_len, reply_len);
    uint32_t seq = ++c->seq;
    put32(c->buf, (uint32_t)(8 + body_len));
    c->buf[4] = PROTO_VERSION;
    c->buf[5] = kind;
    put16(c->buf + 6, 0);
    put32(c->buf + 8, seq);
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
    if (send_all(c->sock, c->buf, HDR_SIZE + body_len, deadline) < 0)
        goto timed_out;
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
            if (errno == EINTR && now_ns() < deadline)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                goto timed_out;
            goto broken;
        }
        if (r == 0)
            goto broken;
        got += (size_t)r;
        if (got < need && now_ns() >= deadline)
            goto timed_out;
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
timed_out:
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || now_ns() >= deadline)
        warn_timeout();
broken:
    c->broken = 1;
fail:
    errno = EIO;
    return -1;
}


/* HELLO on a fresh connection: caller, ABI, client name.  Called with c->lock held (or unshared). */
int conn_hello(struct conn *c)
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
    return fp_setup(c, get32(c->buf + 4));
}

/*
 * After fork the child shares its parent's socket: frames of both would
 * interleave.  On its first call on the connection the child opens its own,
 * says HELLO and restores the restriction the file had.  Called with c->lock
 * held; on failure the connection is marked broken (calls fail EIO).
 */
void conn_after_fork(struct conn *c)
{
    if (c->pid == cached_pid)
        return;
    if (c->sock >= 0) {
        sock_clear(c->sock, c);
        real.close(c->sock); /* the child's copy only */
    }
    fp_drop(c); /* the parent's region: the child asks for its own */
    c->pid = cached_pid;
    c->broken = 0;
    c->sock = connect_server();
    if (c->sock < 0 || conn_hello(c) < 0) {
        c->broken = 1;
        return;
    }
    sock_set(c->sock, c);
    if (c->type == CONN_EVTCHN && evtchn_reattach(c) < 0)
        c->broken = 1;
    if (c->restricted) {
        size_t rlen;
        put16(c->buf + HDR_SIZE, c->restrict_dom);
        put16(c->buf + HDR_SIZE + 2, 0);
        if (transact(c, KIND_RESTRICT, 4, &rlen) < 0 || rlen < 8 || get32(c->buf) != 0)
            c->broken = 1;
    }
}

/* A new connection of the given type: connected, HELLO said, its socket hidden.  NULL with errno. */
struct conn *conn_new(int type)
{
    int sock = connect_server();
    if (sock < 0)
        return NULL;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || ensure_cap(c, 256) < 0) {
        free(c);
        real.close(sock);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->sock = sock;
    c->refs = 1;
    c->pid = cached_pid;
    c->type = type;
    if (conn_hello(c) < 0) {
        warn_once("say HELLO to", EPROTO);
        conn_put(c);
        errno = ECONNREFUSED;
        return NULL;
    }
    sock_set(sock, c);
    return c;
}

static int warned;

void warn_once(const char *what, int err)
{
    if (__atomic_exchange_n(&warned, 1, __ATOMIC_ACQ_REL) == 0)
        fprintf(stderr, "xendm-shim: cannot %s %s: %s\n", what, socket_path_too_long ? "(XENDM_SOCKET)" : socket_path,
                strerror(err));
}

static void set_timeouts(int s)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    (void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * A socket that is not there yet (ENOENT) or not listened on yet
 * (ECONNREFUSED: a stale file being replaced) is tried again every 10 ms for
 * up to XENDM_SHIM_CONNECT_MS, so a program started beside its server does
 * not race it.  Only the first connection of the process waits: once the
 * server was missing for that long, later opens fail at once.
 */
static int connect_waited;

int connect_server(void)
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
    int wait = !__atomic_exchange_n(&connect_waited, 1, __ATOMIC_ACQ_REL);
    int64_t deadline = now_ns() + (int64_t)connect_ms * 1000000LL;
    int r;
    for (;;) {
        r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (!wait || (errno != ENOENT && errno != ECONNREFUSED) || now_ns() >= deadline)
            break;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (r < 0) {
        int e = errno;
        warn_once("connect to", e);
        real.close(s);
        errno = e;
        return -1;
    }
    set_timeouts(s);
    return s;
}
