/*
 * The waits of poll.c and select.c on a set holding an evtchn fd with an event area (evring.c):
 * after one look without blocking, the call spins a bounded, adaptive time on the area's ring
 * (the server puts the ports there while the spinning bit is set), looking at the other fds with
 * a zero-timeout real call every EV_CHECK_NS; then it stops spinning, looks at the ring once more,
 * and otherwise sleeps in the real call for the rest of the timeout (the server writes the socket
 * then).  Also epoll_ctl, which marks an evtchn fd that is waited on where the shim does not look.
 */
#include "wait.h"
#include <sys/epoll.h>

/* How often a spin looks at the set's other fds (and lets a pending signal in). */
#define EV_CHECK_NS 4000L

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

int wait_any_ready(const struct waiter *w)
{
    for (int i = 0; i < w->k; i++)
        if (ev_avail(w->watch[i].c))
            return 1;
    return 0;
}

void wait_spin_begin(struct waiter *w)
{
    for (int i = 0; i < w->k; i++)
        ev_spin_begin(w->watch[i].c);
}

/* Stops spinning; 1 when a ring got ports (the last look, after the bit is clear). */
int wait_spin_end(struct waiter *w)
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
        if (wait_any_ready(w)) {
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
    if (wait_spin_end(w))
        found = 1;
    return found;
}

/*
 * The answer when a ring has ports: those fds alone, without a system call, but for every 8th
 * answer in a row, which looks at the other fds too (a stream of events never hides them for long).
 */
static __thread unsigned ring_streak;

int wait_ring_answer(struct waiter *w)
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
int wait_rings(struct waiter *w, int r, int64_t timeout_ns)
{
    if (r != 0 || timeout_ns == 0) {
        wait_spin_end(w);
        return r < 0 ? r : w->merge(w, r);
    }
    if (wait_any_ready(w)) {
        wait_spin_end(w);
        return w->merge(w, 0);
    }
    int64_t t0 = fp_now_ns();
    int rc, preempted;
    if (spin(w, timeout_ns, t0, &rc, &preempted)) {
        budget_up();
        return wait_ring_answer(w);
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

void wait_put_watches(struct waiter *w)
{
    int e = errno;
    for (int i = 0; i < w->k; i++)
        conn_put(w->watch[i].c);
    w->k = 0;
    errno = e;
}

/* An fd whose event area this call may spin on: its connection, with a reference. */
struct conn *wait_watchable(int fd)
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

/* A timeout in ns; one too long to count (centuries) is no bound. */
int64_t wait_ts_ns(int64_t sec, int64_t nsec)
{
    return sec >= INT64_MAX / 1000000000LL - 1 ? -1 : sec * 1000000000LL + nsec;
}

/* ---- epoll_ctl: a program that waits on the fd where the shim does not look */


/*
 * An evtchn fd added to an epoll set may be waited on there (epoll_wait is not interposed): from
 * then on a notify does not let the ring carry the answer (ev_polled stays 0), so every port the
 * server raises outside a shim wait takes the socket, which epoll sees.
 */
SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    init_real();
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
    return real.epoll_ctl(epfd, op, fd, ev);
}
