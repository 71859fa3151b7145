/*
 * select and pselect of a set holding an evtchn fd with an event area: the wait of wait.c, on
 * copies of the caller's sets (only their first nfds bits, as the kernel reads and writes them).
 */
#include "wait.h"
#include <signal.h>
#include <sys/select.h>


struct swaiter {
    struct waiter w;
    int nfds;
    fd_set *sets[3];
    fd_set orig[3];
    int is_pselect;
    const sigset_t *mask;
    size_t bytes; /* what the kernel reads and writes of each set: nfds bits in whole longs */
};

/* The caller's set may be shorter than an fd_set: only its first s->bytes are touched, as the kernel does. */
static void set_out(const struct swaiter *s, fd_set *dst, const fd_set *src)
{
    memcpy(dst, src, s->bytes);
}

static void set_zero(const struct swaiter *s, fd_set *dst)
{
    memset(dst, 0, s->bytes);
}

/* One real call on copies of the sets the caller gave; they reach the caller when something is ready. */
static int s_call(struct swaiter *s, int64_t ns)
{
    fd_set work[3];
    fd_set *ws[3];
    for (int i = 0; i < 3; i++) {
        ws[i] = s->sets[i] ? &work[i] : NULL;
        if (s->sets[i])
            work[i] = s->orig[i];
    }
    int r;
    if (s->is_pselect) {
        struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
        r = real.pselect(s->nfds, ws[0], ws[1], ws[2], ns < 0 ? NULL : &ts, s->mask);
    } else {
        struct timeval tv = { (time_t)(ns / 1000000000LL), (suseconds_t)((ns % 1000000000LL + 999) / 1000) };
        r = real.select(s->nfds, ws[0], ws[1], ws[2], ns < 0 ? NULL : &tv);
    }
    if (r >= 0 && (r > 0 || ns != 0))
        for (int i = 0; i < 3; i++)
            if (s->sets[i])
                set_out(s, s->sets[i], &work[i]);
    return r;
}

static int s_check(struct waiter *w)
{
    return s_call((struct swaiter *)w, 0);
}

static int s_sleep(struct waiter *w, int64_t ns)
{
    return s_call((struct swaiter *)w, ns);
}

static int s_merge(struct waiter *w, int r)
{
    struct swaiter *s = (struct swaiter *)w;
    for (int i = 0; i < w->k; i++) {
        int fd = w->watch[i].at;
        if (!ev_avail(w->watch[i].c))
            continue;
        if (r == 0) /* the sets still hold what the caller asked: only what is ready stays */
            for (int j = 0; j < 3; j++)
                if (s->sets[j])
                    set_zero(s, s->sets[j]);
        if (!FD_ISSET(fd, s->sets[0])) {
            FD_SET(fd, s->sets[0]);
            r++;
        }
    }
    return r;
}

static int s_only(struct waiter *w)
{
    return s_merge(w, 0);
}

/* The sets this thread's last select found readable: the same ones again are copied directly. */
static __thread fd_set *known_sets[3];

static int ev_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int64_t ns, int is_pselect, const sigset_t *mask)
{
    struct swaiter s;
    memset(&s, 0, sizeof(s));
    s.w.check = s_check;
    s.w.sleep = s_sleep;
    s.w.merge = s_merge;
    s.w.only = s_only;
    s.nfds = nfds;
    s.sets[0] = rd;
    s.sets[1] = wr;
    s.sets[2] = ex;
    s.is_pselect = is_pselect;
    s.mask = mask;
    /* the kernel reads the sets first (EFAULT, EBADF, EINVAL); then they are known readable */
    fd_set probe[3];
    fd_set *ps[3];
    int known = rd == known_sets[0] && wr == known_sets[1] && ex == known_sets[2];
    size_t bytes = ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
    s.bytes = bytes;
    for (int i = 0; i < 3; i++) {
        ps[i] = s.sets[i] ? &probe[i] : NULL;
        if (!s.sets[i])
            continue;
        memset(&probe[i], 0, sizeof(fd_set));
        if (known)
            memcpy(&probe[i], s.sets[i], bytes);
        else if (bytes && mem_read(&probe[i], s.sets[i], bytes) < 0) {
            errno = EFAULT;
            return -1;
        }
        s.orig[i] = probe[i];
    }
    struct timespec zero = { 0, 0 };
    struct timeval zt = { 0, 0 };
    int r = is_pselect ? real.pselect(nfds, ps[0], ps[1], ps[2], &zero, mask) : real.select(nfds, ps[0], ps[1], ps[2], &zt);
    if (r < 0)
        return r;
    known_sets[0] = rd;
    known_sets[1] = wr;
    known_sets[2] = ex;
    if (rd)
        for (int fd = 0; fd < nfds && s.w.k < EV_WATCH_MAX; fd++) {
            if (!FD_ISSET(fd, &s.orig[0]))
                continue;
            struct conn *c = wait_watchable(fd);
            if (c)
                s.w.watch[s.w.k++] = (struct ev_watch){ c, fd };
        }
    if (r > 0 || ns == 0 || s.w.k == 0) {
        if (r > 0 || ns == 0) {
            for (int i = 0; i < 3; i++)
                if (s.sets[i])
                    set_out(&s, s.sets[i], &probe[i]);
            r = s.w.k ? s_merge(&s.w, r) : r;
        } else {
            r = s_call(&s, ns);
        }
        wait_put_watches(&s.w);
        return r;
    }
    wait_spin_begin(&s.w);
    r = wait_rings(&s.w, 0, ns);
    if (r == 0)
        for (int i = 0; i < 3; i++)
            if (s.sets[i])
                set_zero(&s, s.sets[i]);
    wait_put_watches(&s.w);
    return r;
}

SHIM_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    init_real();
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || nfds < 0 || nfds > FD_SETSIZE || !rd ||
        (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)))
        return real.select(nfds, rd, wr, ex, tv);
    int64_t ns = tv ? wait_ts_ns(tv->tv_sec, (int64_t)tv->tv_usec * 1000LL) : -1;
    int64_t t0 = fp_now_ns();
    int r = ev_select(nfds, rd, wr, ex, ns, 0, NULL);
    if (tv && ns >= 0 && r >= 0) { /* Linux leaves the time not slept in the timeval */
        int64_t left = ns - (fp_now_ns() - t0);
        if (left < 0)
            left = 0;
        tv->tv_sec = (time_t)(left / 1000000000LL);
        tv->tv_usec = (suseconds_t)((left % 1000000000LL) / 1000);
    }
    return r;
}

SHIM_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *mask)
{
    init_real();
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || nfds < 0 || nfds > FD_SETSIZE || !rd ||
        (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)))
        return real.pselect(nfds, rd, wr, ex, ts, mask);
    return ev_select(nfds, rd, wr, ex, ts ? wait_ts_ns(ts->tv_sec, ts->tv_nsec) : -1, 1, mask);
}
