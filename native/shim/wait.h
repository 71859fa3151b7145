/*
 * The waits that spin on an evtchn fd's event area (wait.c), shared by poll.c (poll, ppoll) and
 * select.c (select, pselect).
 */
#ifndef XENDM_SHIM_WAIT_H
#define XENDM_SHIM_WAIT_H
#include "shim.h"

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

/* The spinning bits of the wait's event areas go up (before its first look). */
void wait_spin_begin(struct waiter *w);
/*
 * The common wait, the spinning bits set: w->check already answered r (0: nothing ready yet);
 * timeout_ns -1 waits without bound.  The call's result, or -1 with errno.
 */
int wait_rings(struct waiter *w, int r, int64_t timeout_ns);
/* Whether a ring of the wait has ports. */
int wait_any_ready(const struct waiter *w);
/* The spinning bits go down; 1 when a ring got ports (the last look, after the bits are clear). */
int wait_spin_end(struct waiter *w);
/* The result when a ring has ports: those fds alone, but for every 8th answer in a row (w->check too). */
int wait_ring_answer(struct waiter *w);
/* Drops the references the wait holds (errno kept). */
void wait_put_watches(struct waiter *w);
/* An fd whose event area a wait may spin on: its connection, with a reference; else NULL. */
struct conn *wait_watchable(int fd);
/* A timeout in ns; one too long to count (centuries) is no bound (-1). */
int64_t wait_ts_ns(int64_t sec, int64_t nsec);

#endif
