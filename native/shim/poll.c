/*
 * poll, ppoll, select and pselect of a set holding an evtchn fd with an event area (evring.c):
 * after one look without blocking, the call spins a bounded, adaptive time on the area's ring
 * (the server puts the ports there while the spinning bit is set), looking at the other fds with
 * a zero-timeout real call every EV_CHECK_NS; then it stops spinning, looks at the ring once more,
 * and otherwise sleeps in the real call for the rest of the timeout (the server writes the socket
 * then).  Sets without such an fd go to libc untouched (and cost nothing more while no event area
 * is open in the process).
 */
#include "shim.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*pselect_fn)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);

static struct {
    poll_fn poll;
    ppoll_fn ppoll;
    select_fn select;
    pselect_fn pselect;
} rp;
static pthread_once_t rp_once = PTHREAD_ONCE_INIT;

static void rp_resolve(void)
{
    rp.poll = (poll_fn)dlsym(RTLD_NEXT, "poll");
    rp.ppoll = (ppoll_fn)dlsym(RTLD_NEXT, "ppoll");
    rp.select = (select_fn)dlsym(RTLD_NEXT, "select");
    rp.pselect = (pselect_fn)dlsym(RTLD_NEXT, "pselect");
}

/* How often a spin looks at the set's other fds (and lets a pending signal in). */
#define EV_CHECK_NS 4000L
/* Event areas one call spins on at most (a set with more: the first ones). */
#define EV_WATCH_MAX 8

struct ev_watch {
    struct conn *c;
    int at; /* index in the pollfd array, or the fd (select) */
};

/* One wait's view of the real call: a look without blocking, and the sleep for `ns` (-1: no bound). */
struct waiter {
    int (*check)(struct waiter *w);
    int (*sleep)(struct waiter *w, int64_t ns);
    /* The ring's ports make the watched fd readable in the call's result r. */
    int (*merge)(struct waiter *w, int r);
    /* The result is the ring-ready fds alone (no system call: the others wait for the next call). */
    int (*only)(struct waiter *w);
    struct ev_watch watch[EV_WATCH_MAX];
    int k;
};

/*
 * This thread's spin budget (ns): doubles after an event the spin caught, halves after a wait that
 * slept (down to FP_SPIN_MIN_NS), is left alone when the thread lost its CPU while spinning, and
 * goes back to the whole XENDM_SHIM_FASTPATH_SPIN_US after 16 sleeps in a row (a probe: on a machine
 * with more runnable threads than CPUs a spin delays the very answer it waits for, and the budget
 * stays low; once the machine has room, the probe's catch lets it grow again).
 */
static __thread long ev_budget = -1;
static __thread unsigned ev_misses;

static void budget_up(void)
{
    ev_misses = 0;
    ev_budget = ev_budget * 2 + FP_SPIN_MIN_NS;
    if (ev_budget > fp_spin_ns)
        ev_budget = fp_spin_ns;
}

static void budget_down(void)
{
    if (++ev_misses % 16 == 0) {
        ev_budget = fp_spin_ns;
        return;
    }
    ev_budget = ev_budget / 2 > FP_SPIN_MIN_NS ? ev_budget / 2 : FP_SPIN_MIN_NS;
}

static int any_ready(const struct waiter *w)
{
    for (int i = 0; i < w->k; i++)
        if (ev_avail(w->watch[i].c))
            return 1;
    return 0;
}

static void spin_begin(struct waiter *w)
{
    for (int i = 0; i < w->k; i++)
        ev_spin_begin(w->watch[i].c);
}

/* Stops spinning; 1 when a ring got ports (the last look, after the bit is clear). */
static int spin_end(struct waiter *w)
{
    int e = errno, found = 0;
    for (int i = 0; i < w->k; i++)
        if (ev_spin_end(w->watch[i].c))
            found = 1;
    errno = e;
    return found;
}

/*
 * Spins on the rings (the spinning bits already set) for the thread's budget (within timeout_ns
 * when it is not -1), then clears the bits.  1: a ring has ports; otherwise 0, with *rc the result
 * of a periodic look that found something (or -1 with errno, a signal) and *preempted when this
 * thread lost its CPU meanwhile.
 */
static int spin(struct waiter *w, int64_t timeout_ns, int64_t t0, int *rc, int *preempted)
{
    if (ev_budget < 0 || ev_budget > fp_spin_ns)
        ev_budget = fp_spin_ns;
    int64_t budget = ev_budget;
    if (timeout_ns >= 0 && timeout_ns < budget)
        budget = timeout_ns;
    *rc = 0;
    *preempted = 0;
    int found = 0;
    int64_t last = t0, next = t0 + EV_CHECK_NS;
    unsigned spins = 0;
    while (budget > 0) {
        if (any_ready(w)) {
            found = 1;
            break;
        }
        if ((++spins & 15) == 0) {
            int64_t t = fp_now_ns();
            if (t - last >= FP_PREEMPTED_NS) {
                *preempted = 1;
                break;
            }
            if (t - t0 >= budget)
                break;
            if (t >= next) {
                int r = w->check(w);
                if (r != 0) {
                    *rc = r;
                    break;
                }
                t = fp_now_ns();
                next = t + EV_CHECK_NS;
            }
            last = t;
        }
        fp_cpu_relax();
    }
    if (spin_end(w))
        found = 1;
    return found;
}

/*
 * The answer when a ring has ports: those fds alone, without a system call, but for every 8th
 * answer in a row, which looks at the other fds too (a stream of events never hides them for long).
 */
static __thread unsigned ring_streak;

static int ring_answer(struct waiter *w)
{
    if ((++ring_streak & 7) != 0)
        return w->only(w);
    int r = w->check(w);
    return r < 0 ? r : w->merge(w, r);
}

/*
 * The common wait, the spinning bits set: w->check already answered r (0: nothing ready yet);
 * timeout_ns -1 waits without bound.
 */
static int wait_rings(struct waiter *w, int r, int64_t timeout_ns)
{
    if (r != 0 || timeout_ns == 0) {
        spin_end(w);
        return r < 0 ? r : w->merge(w, r);
    }
    if (any_ready(w)) {
        spin_end(w);
        return w->merge(w, 0);
    }
    int64_t t0 = fp_now_ns();
    int rc, preempted;
    if (spin(w, timeout_ns, t0, &rc, &preempted)) {
        budget_up();
        return ring_answer(w);
    }
    if (rc != 0)
        return rc < 0 ? rc : w->merge(w, rc);
    int64_t left = -1;
    if (timeout_ns >= 0) {
        left = timeout_ns - (fp_now_ns() - t0);
        if (left <= 0)
            return 0;
    }
    if (!preempted)
        budget_down();
    r = w->sleep(w, left);
    return r < 0 ? r : w->merge(w, r);
}

static void put_watches(struct waiter *w)
{
    int e = errno;
    for (int i = 0; i < w->k; i++)
        conn_put(w->watch[i].c);
    w->k = 0;
    errno = e;
}

/* An fd whose event area this call may spin on: its connection, with a reference. */
static struct conn *watchable(int fd)
{
    if (fd < 0 || !fd_is_privcmd(fd))
        return NULL;
    struct conn *c = conn_get(fd);
    if (c && (c->type != CONN_EVTCHN || !ev_readable(c) || c->broken)) {
        conn_put(c);
        c = NULL;
    }
    if (c && !__atomic_load_n(&c->ev_epolled, __ATOMIC_RELAXED)) {
        c->ev_polled = 1;
        pid_t me = ev_tid(), was = 0;
        if (!__atomic_compare_exchange_n(&c->ev_waiter, &was, me, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) && was != me)
            __atomic_store_n(&c->ev_multi, 1, __ATOMIC_RELAXED); /* two threads wait on it: notifies leave the bit alone */
    }
    return c;
}

/* ---- poll, ppoll */

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
        return rp.ppoll(p->fds, p->n, &zero, p->mask);
    }
    return rp.poll(p->fds, p->n, 0);
}

static int p_sleep(struct waiter *w, int64_t ns)
{
    struct pwaiter *p = (struct pwaiter *)w;
    if (p->is_ppoll) {
        struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
        return rp.ppoll(p->fds, p->n, ns < 0 ? NULL : &ts, p->mask);
    }
    return rp.poll(p->fds, p->n, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
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
        struct conn *c = watchable(p->fds[i].fd);
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
        spin_begin(&p.w);
        if (p.w.k > 0 && any_ready(&p.w)) {
            /* the ring answers: no system call (the other fds are looked at by the next call) */
            spin_end(&p.w);
            r = ring_answer(&p.w);
            put_watches(&p.w);
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
        spin_begin(&p.w);
    }
    if (p.w.k == 0)
        return r != 0 || timeout_ns == 0 ? r : p_sleep(&p.w, timeout_ns);
    r = wait_rings(&p.w, r, timeout_ns);
    put_watches(&p.w);
    return r;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    pthread_once(&rp_once, rp_resolve);
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0)
        return rp.poll(fds, n, timeout);
    return ev_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000LL, 0, NULL);
}

/* A timeout in ns; one too long to count (centuries) is no bound. */
static int64_t ts_ns(int64_t sec, int64_t nsec)
{
    return sec >= INT64_MAX / 1000000000LL - 1 ? -1 : sec * 1000000000LL + nsec;
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    pthread_once(&rp_once, rp_resolve);
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)))
        return rp.ppoll(fds, n, ts, mask); /* an invalid timeout: the kernel's EINVAL */
    int64_t ns = -1;
    if (ts)
        ns = ts_ns(ts->tv_sec, ts->tv_nsec);
    return ev_poll(fds, n, ns, 1, mask);
}

/* The fortified forms: a set longer than the caller's array goes to libc, which reports the overflow. */
typedef int (*poll_chk_fn)(struct pollfd *, nfds_t, int, size_t);
typedef int (*ppoll_chk_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n) {
        poll_chk_fn f = (poll_chk_fn)dlsym(RTLD_NEXT, "__poll_chk");
        if (f)
            return f(fds, n, timeout, fdslen);
        abort();
    }
    return poll(fds, n, timeout);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n) {
        ppoll_chk_fn f = (ppoll_chk_fn)dlsym(RTLD_NEXT, "__ppoll_chk");
        if (f)
            return f(fds, n, ts, mask, fdslen);
        abort();
    }
    return ppoll(fds, n, ts, mask);
}

/* ---- select, pselect */

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
        r = rp.pselect(s->nfds, ws[0], ws[1], ws[2], ns < 0 ? NULL : &ts, s->mask);
    } else {
        struct timeval tv = { (time_t)(ns / 1000000000LL), (suseconds_t)((ns % 1000000000LL + 999) / 1000) };
        r = rp.select(s->nfds, ws[0], ws[1], ws[2], ns < 0 ? NULL : &tv);
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
    int r = is_pselect ? rp.pselect(nfds, ps[0], ps[1], ps[2], &zero, mask) : rp.select(nfds, ps[0], ps[1], ps[2], &zt);
    if (r < 0)
        return r;
    known_sets[0] = rd;
    known_sets[1] = wr;
    known_sets[2] = ex;
    if (rd)
        for (int fd = 0; fd < nfds && s.w.k < EV_WATCH_MAX; fd++) {
            if (!FD_ISSET(fd, &s.orig[0]))
                continue;
            struct conn *c = watchable(fd);
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
        put_watches(&s.w);
        return r;
    }
    spin_begin(&s.w);
    r = wait_rings(&s.w, 0, ns);
    if (r == 0)
        for (int i = 0; i < 3; i++)
            if (s.sets[i])
                set_zero(&s, s.sets[i]);
    put_watches(&s.w);
    return r;
}

SHIM_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    pthread_once(&rp_once, rp_resolve);
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || nfds < 0 || nfds > FD_SETSIZE || !rd ||
        (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)))
        return rp.select(nfds, rd, wr, ex, tv);
    int64_t ns = tv ? ts_ns(tv->tv_sec, (int64_t)tv->tv_usec * 1000LL) : -1;
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
    pthread_once(&rp_once, rp_resolve);
    if (__atomic_load_n(&ev_areas, __ATOMIC_RELAXED) <= 0 || nfds < 0 || nfds > FD_SETSIZE || !rd ||
        (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)))
        return rp.pselect(nfds, rd, wr, ex, ts, mask);
    return ev_select(nfds, rd, wr, ex, ts ? ts_ns(ts->tv_sec, ts->tv_nsec) : -1, 1, mask);
}

/* ---- epoll_ctl: a program that waits on the fd where the shim does not look */

typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);

/*
 * An evtchn fd added to an epoll set may be waited on there (epoll_wait is not interposed): from
 * then on a notify does not let the ring carry the answer (ev_polled stays 0), so every port the
 * server raises outside a shim wait takes the socket, which epoll sees.
 */
SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static epoll_ctl_fn real_ctl;
    if (!real_ctl)
        real_ctl = (epoll_ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");
    if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && fd_is_privcmd(fd)) {
        struct conn *c = conn_get(fd);
        if (c) {
            if (c->type == CONN_EVTCHN) {
                __atomic_store_n(&c->ev_epolled, 1, __ATOMIC_RELAXED);
                if (ev_readable(c)) /* a notify's bit goes: from now on its answers take the socket */
                    (void)ev_spin_end(c);
            }
            conn_put(c);
        }
    }
    return real_ctl(epfd, op, fd, ev);
}
