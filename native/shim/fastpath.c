/*
 * The shared-memory fast path (docs/protocol.md, "Fast path"): a request frame written into the
 * connection's region, a kick on the socket only when the server is not polling, a bounded spin
 * for the reply, then a sleep on the socket until the server's WAKE frame.
 */
#include "shim.h"
#include "fastpath.h"
#include <sys/stat.h>

int fp_wanted = 1;
/* How long a call spins for its reply before sleeping on the socket. */
long fp_spin_ns = 100 * 1000L;

void fp_init_env(void)
{
    const char *v = getenv("XENDM_SHIM_FASTPATH");
    if (v && *v)
        fp_wanted = strcmp(v, "0") != 0;
    const char *s = getenv("XENDM_SHIM_FASTPATH_SPIN_US");
    if (s && *s) {
        char *end;
        unsigned long us = strtoul(s, &end, 10);
        if (*end == 0 && us <= 100000)
            fp_spin_ns = (long)us * 1000L;
        else
            fprintf(stderr, "xendm-shim: XENDM_SHIM_FASTPATH_SPIN_US=%s is not a number in 0..100000: using %ld\n", s,
                    fp_spin_ns / 1000L);
    }
}

#define FP_SPIN_MIN_NS 1000L
#define FP_PREEMPTED_NS 30000L
/* This thread's current spin budget (ns); -1 until its first fast-path call. */
static __thread long spin_budget = -1;

static inline uint32_t *word(uint8_t *base, size_t off)
{
    return (uint32_t *)(void *)(base + off);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static int64_t fp_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void fp_drop(struct conn *c)
{
    if (c->fp_base) {
        munmap(c->fp_base, FP_REGION_SIZE);
        c->fp_base = NULL;
    }
}

/* Maps the file the FASTPATH reply names and checks the header the server wrote. */
static uint8_t *map_region(const char *path)
{
    int fd = real.open(path, O_RDWR | O_CLOEXEC); /* /proc/<server>/fd/<n>: a memfd */
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *base = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)FP_REGION_SIZE) {
        void *p = real.mmap(NULL, FP_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            base = p;
    }
    real.close(fd);
    if (!base)
        return NULL;
    if (get32(base + FP_OFF_MAGIC) != FP_MAGIC || get32(base + FP_OFF_LAYOUT) != FP_LAYOUT ||
        get32(base + FP_OFF_SIZE) != FP_REGION_SIZE || get32(base + FP_OFF_DATA_OFF) != FP_DATA_OFF ||
        get32(base + FP_OFF_DATA_SIZE) != FP_DATA_SIZE) {
        munmap(base, FP_REGION_SIZE);
        return NULL;
    }
    return base;
}

int fp_setup(struct conn *c, uint32_t features)
{
    if (!fp_wanted || !(features & FEATURE_FASTPATH))
        return 0;
    size_t rlen;
    if (transact(c, KIND_FASTPATH, 0, &rlen) < 0)
        return -1;
    if (rlen < 8 || (int32_t)get32(c->buf) != 0)
        return 0; /* the server has no region for this connection: the socket it is */
    char path[256];
    size_t n = rlen - 8;
    if (n == 0 || n >= sizeof(path) || memchr(c->buf + 8, 0, n))
        return 0;
    memcpy(path, c->buf + 8, n);
    path[n] = 0;
    c->fp_base = map_region(path);
    if (!c->fp_base) {
        static int said;
        if (__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL) == 0)
            fprintf(stderr, "xendm-shim: cannot map the fast-path region %s: staying on the socket\n", path);
    }
    return 0;
}

int fp_usable(const struct conn *c, uint8_t kind, size_t body_len)
{
    /* the privcmd calls, and the evtchn ioctls (IOCTL_EVTCHN_NOTIFY: a device model's kick) */
    return c->fp_base &&
           (kind == KIND_DM_OP || kind == KIND_HYPERCALL || kind == KIND_RESTRICT || kind == KIND_EVTCHN_IOCTL) &&
           HDR_SIZE + body_len <= FP_DATA_SIZE;
}

/* A 12-byte frame with an empty body on the socket (KICK). */
static int send_small(int sock, uint8_t kind, uint32_t seq, int64_t deadline)
{
    uint8_t h[HDR_SIZE];
    put32(h, 8);
    h[4] = PROTO_VERSION;
    h[5] = kind;
    put16(h + 6, 0);
    put32(h + 8, seq);
    size_t off = 0;
    while (off < sizeof(h)) {
        ssize_t w = send(sock, h + off, sizeof(h) - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR && fp_now_ns() < deadline)
                continue;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/*
 * Sleeps on the socket until the server's WAKE frame for `seq` (the only frame it sends while a
 * fast-path request is outstanding, but for an error reply before it closes).  0, or -1 with
 * *timed_out set when the bound passed.
 */
static int await_wake(struct conn *c, uint32_t seq, int64_t deadline, int *timed_out)
{
    uint8_t h[HDR_SIZE];
    size_t got = 0;
    while (got < sizeof(h)) {
        ssize_t r = recv(c->sock, h + got, sizeof(h) - got, 0);
        if (r < 0) {
            if (errno == EINTR && fp_now_ns() < deadline)
                continue;
            *timed_out = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            return -1;
        }
        if (r == 0)
            return -1;
        got += (size_t)r;
        if (got < sizeof(h) && fp_now_ns() >= deadline) {
            *timed_out = 1;
            return -1;
        }
    }
    uint32_t len = get32(h);
    if (h[5] == KIND_ERROR && len >= 12 && len <= 8 + 4 + 200) {
        uint8_t msg[200 + 4];
        ssize_t r = recv(c->sock, msg, len - 8, MSG_WAITALL);
        if (r == (ssize_t)(len - 8))
            fprintf(stderr, "xendm-shim: server error %u: %.*s\n", get32(msg), (int)(len - 12), (const char *)msg + 4);
        return -1;
    }
    if (len != 8 || h[4] != PROTO_VERSION || h[5] != KIND_WAKE || get32(h + 8) != seq)
        return -1;
    return 0;
}

int fp_transact(struct conn *c, uint8_t kind, size_t body_len, size_t *reply_len)
{
    uint8_t *base = c->fp_base;
    uint8_t *data = base + FP_DATA_OFF;
    uint32_t *req_seq = word(base, FP_OFF_REQ_SEQ), *rep_seq = word(base, FP_OFF_REP_SEQ);
    uint32_t *polling = word(base, FP_OFF_POLLING), *waiting = word(base, FP_OFF_WAITING);
    int timed_out = 0;
    uint32_t seq = ++c->seq;
    if (seq == 0) /* 0 is the region's "no request yet" */
        seq = ++c->seq;
    int64_t t0 = fp_now_ns();
    int64_t deadline = t0 + (int64_t)timeout_ms * 1000000LL;

    put32(data, (uint32_t)(8 + body_len));
    data[4] = PROTO_VERSION;
    data[5] = kind;
    put16(data + 6, 0);
    put32(data + 8, seq);
    memcpy(data + HDR_SIZE, c->buf + HDR_SIZE, body_len);
    /* The frame is published by req_seq; a server that is not polling is kicked (Dekker with its polling word). */
    __atomic_store_n(req_seq, seq, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(polling, __ATOMIC_SEQ_CST) == 0 && send_small(c->sock, KIND_KICK, seq, deadline) < 0)
        goto broken;

    /*
     * Adaptive spin: the budget doubles after a reply caught while spinning; after one that came later
     * (the call slept), it goes back to the whole XENDM_SHIM_FASTPATH_SPIN_US window when the reply
     * came within that window, sleep and wake-up included (spinning longer would have caught it), and
     * halves, down to FP_SPIN_MIN_NS, when it came later still (the server is slower than any spin
     * pays for).  A look that comes FP_PREEMPTED_NS or more after the previous one means this thread
     * lost its CPU meanwhile (an oversubscribed machine, where the two sides do not run at once):
     * spinning does not pay then, and the call sleeps at once, the budget unchanged (the scheduler
     * favours a thread it wakes).
     */
    if (spin_budget < 0 || spin_budget > fp_spin_ns)
        spin_budget = fp_spin_ns;
    unsigned spins = 0;
    int missed = 0;
    int64_t last = t0;
    while (__atomic_load_n(rep_seq, __ATOMIC_ACQUIRE) != seq) {
        if ((++spins & 31) == 0) {
            int64_t t = fp_now_ns();
            if (t - last >= FP_PREEMPTED_NS)
                goto sleep;
            if (t - t0 >= spin_budget) {
                missed = 1;
                goto sleep;
            }
            last = t;
        }
        cpu_relax();
    }
    spin_budget = spin_budget * 2 + FP_SPIN_MIN_NS;
    goto reply;
sleep:
    /*
     * Ask for a WAKE frame for this seq, then look once more: the compare-exchange on `waiting` decides
     * who owns it.  The word holds the seq, not a flag, so a server that stored the previous reply and
     * only now gets to its compare-exchange cannot take this call's request for a WAKE.
     */
    __atomic_store_n(waiting, seq, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(rep_seq, __ATOMIC_SEQ_CST) == seq && __atomic_exchange_n(waiting, 0, __ATOMIC_SEQ_CST) == seq)
        goto reply; /* taken back before the server saw it: no WAKE comes */
    if (await_wake(c, seq, deadline, &timed_out) < 0 || __atomic_load_n(rep_seq, __ATOMIC_ACQUIRE) != seq)
        goto broken;
    if (missed) {
        /* A reply within the window (wake-up included) would have been caught by spinning the whole window. */
        if (fp_now_ns() - t0 <= fp_spin_ns)
            spin_budget = fp_spin_ns;
        else
            spin_budget = spin_budget / 2 > FP_SPIN_MIN_NS ? spin_budget / 2 : FP_SPIN_MIN_NS;
    }
reply: {
    uint32_t len = get32(data);
    if (len < 8 || len > FP_DATA_SIZE - 4 || data[4] != PROTO_VERSION || get32(data + 8) != seq)
        goto broken;
    uint8_t rkind = data[5];
    size_t blen = len - 8;
    if (rkind != (uint8_t)(kind | 0x80) || ensure_cap(c, blen + HDR_SIZE) < 0)
        goto broken;
    memcpy(c->buf, data + HDR_SIZE, blen);
    *reply_len = blen;
    return 0;
}
broken:
    if (timed_out || fp_now_ns() >= deadline)
        warn_timeout();
    c->broken = 1;
    errno = EIO;
    return -1;
}
