/*
 * poll and ppoll (and their fortified forms) of a set holding an evtchn fd with an event area: the
 * wait of wait.c.  Sets without such an fd go to libc untouched (and cost nothing more while no
 * event area is open in the process).
 */
#include "wait.h"
#include <poll.h>
#include <signal.h>


struct pwaiter {
    struct waiter w;
    struct pollfd *fds;
    nfds_t n;
    int is_ppoll;
    const sigset_t *mask;
};

static int p_check(struct waiter *w)
{
    struct pwaiter *p = (struct pwaiter *)w;
    if (p->is_ppoll) {
        struct timespec zero = { 0, 0 };
        return real.ppoll(p->fds, p->n, &zero, p->mask);
    }
    return real.poll(p->fds, p->n, 0);
}

static int p_sleep(struct waiter *w, int64_t ns)
{
    struct pwaiter *p = (struct pwaiter *)w;
    if (p->is_ppoll) {
        struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
        return real.ppoll(p->fds, p->n, ns < 0 ? NULL : &ts, p->mask);
    }
    return real.poll(p->fds, p->n, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
}

static int p_merge(struct waiter *w, int r)
{
    struct pwaiter *p = (struct pwaiter *)w;
    for (int i = 0; i < w->k; i++) {
        struct pollfd *f = &p->fds[w->watch[i].at];
        if (!ev_avail(w->watch[i].c))
            continue;
        short add = f->events & (POLLIN | POLLRDNORM);
        if ((f->revents & add) == add)
            continue;
        if (f->revents == 0)
            r++;
        f->revents |= add;
    }
    return r;
}

/* The last array this thread's poll found readable: the same one again is read before the first look. */
static __thread struct pollfd *known_fds;
static __thread nfds_t known_n;

static void p_collect(struct pwaiter *p)
{
    for (nfds_t i = 0; i < p->n && p->w.k < EV_WATCH_MAX; i++) {
        if (!(p->fds[i].events & (POLLIN | POLLRDNORM)))
            continue;
        struct conn *c = wait_watchable(p->fds[i].fd);
        if (c)
            p->w.watch[p->w.k++] = (struct ev_watch){ c, (int)i };
    }
}

static int p_only(struct waiter *w)
{
    struct pwaiter *p = (struct pwaiter *)w;
    for (nfds_t i = 0; i < p->n; i++)
        p->fds[i].revents = 0;
    return p_merge(w, 0);
}

static int ev_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, int is_ppoll, const sigset_t *mask)
{
    struct pwaiter p = { { p_check, p_sleep, p_merge, p_only, { { NULL, 0 } }, 0 }, fds, n, is_ppoll, mask };
    int r;
    if (fds == known_fds && n <= known_n) {
        /* the bits go up before the first look: a port raised meanwhile already takes the ring */
        p_collect(&p);
        if (p.w.k == 0) /* no event area in this set: libc's call alone */
            return p_sleep(&p.w, timeout_ns);
        wait_spin_begin(&p.w);
        if (p.w.k > 0 && wait_any_ready(&p.w)) {
            /* the ring answers: no system call (the other fds are looked at by the next call) */
            wait_spin_end(&p.w);
            r = wait_ring_answer(&p.w);
            wait_put_watches(&p.w);
            return r;
        }
        r = p_check(&p.w);
    } else {
        r = p_check(&p.w); /* the kernel checks the array (EFAULT, EINVAL) before it is read here */
        if (r < 0)
            return r;
        known_fds = fds;
        known_n = n;
        p_collect(&p);
        wait_spin_begin(&p.w);
    }
    if (p.w.k == 0)
        return r != 0 || timeout_ns == 0 ? r : p_sleep(&p.w, timeout_ns);
    r = wait_rings(&p.w, r, timeout_ns);
    wait_put_watches(&p.w);
    return r;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    init_real();
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0)
        return real.poll(fds, n, timeout);
    return ev_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000LL, 0, NULL);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    init_real();
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)))
        return real.ppoll(fds, n, ts, mask); /* an invalid timeout: the kernel's EINVAL */
    int64_t ns = -1;
    if (ts)
        ns = wait_ts_ns(ts->tv_sec, ts->tv_nsec);
    return ev_poll(fds, n, ns, 1, mask);
}

/* The fortified forms: a set longer than the caller's array goes to libc, which reports the overflow. */
SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n) {
        init_real();
        if (real.poll_chk)
            return real.poll_chk(fds, n, timeout, fdslen);
        abort();
    }
    return poll(fds, n, timeout);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n) {
        init_real();
        if (real.ppoll_chk)
            return real.ppoll_chk(fds, n, ts, mask, fdslen);
        abort();
    }
    return ppoll(fds, n, ts, mask);
}
