/*
 * Debian's real libxenevtchn under the shim, driven by test/native/evtchn.test.ts.  One JSON line per step.
 *
 *   evtchnclient serve DOM N WAIT P...   bind each remote port P of DOM, report the pending ports the
 *                                        binds leave, then N times: wait (poll|select|epoll) for a port,
 *                                        unmask it and notify it back
 *   evtchnclient errors DOM P            the driver's refusals (EINVAL, ENOTCONN, EACCES, EFAULT, ENOSYS)
 *   evtchnclient pingpong DOM N WAIT P   bind P, then N times: wait for the port, read, unmask, notify;
 *                                        one line at the end (rounds done, the first one that timed out)
 *   evtchnclient split DOM N P           bind P; one thread waits in poll and reads, another notifies
 *   evtchnclient late DOM N P            bind P; N times: wait, read, and unmask 20 ms later
 *   evtchnclient reset DOM P             bind P, notify (answered at once), RESET, then a non-blocking read
 *   evtchnclient timeout DOM WAIT MS P   bind P, take the binding's pending port, then one wait of MS ms
 *                                        with nothing raised: its result and how long it took
 * WAIT is poll, ppoll, select, pselect or epoll (pollv: poll, and the port read with readv; poll2:
 * poll on the port and a pipe that becomes readable half way, reported as pipe_lag in rounds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>

static int wait_readable(int fd, const char *how, int ms)
{
    if (strcmp(how, "select") == 0) {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fd, &r);
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        return select(fd + 1, &r, NULL, NULL, &tv);
    }
    if (strcmp(how, "pselect") == 0) {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fd, &r);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        sigset_t none;
        sigemptyset(&none);
        return pselect(fd + 1, &r, NULL, NULL, &ts, &none);
    }
    if (strcmp(how, "ppoll") == 0) {
        struct pollfd p = { fd, POLLIN, 0 };
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        return ppoll(&p, 1, &ts, NULL);
    }
    if (strcmp(how, "epoll") == 0) {
        static int ep = -1;
        if (ep < 0) {
            ep = epoll_create1(EPOLL_CLOEXEC);
            struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        struct epoll_event out;
        return epoll_wait(ep, &out, 1, ms);
    }
    struct pollfd p = { fd, POLLIN, 0 };
    return poll(&p, 1, ms);
}

static int serve(unsigned dom, unsigned n, const char *how, int nports, char **ports)
{
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    if (!x) {
        printf("{\"open\":false,\"errno\":%d}\n", errno);
        return 1;
    }
    int fd = xenevtchn_fd(x);
    printf("{\"bound\":[");
    for (int i = 0; i < nports; i++) {
        xenevtchn_port_or_error_t l = xenevtchn_bind_interdomain(x, dom, (evtchn_port_t)strtoul(ports[i], NULL, 0));
        printf("%s%d", i ? "," : "", l < 0 ? -errno : (int)l);
    }
    printf("]}\n");
    /* a fresh binding is left pending by Xen: each bound port is read once */
    printf("{\"initial\":[");
    for (int k = 0; wait_readable(fd, how, 300) > 0; k++) {
        xenevtchn_port_or_error_t p = xenevtchn_pending(x);
        printf("%s%d", k ? "," : "", (int)p);
        xenevtchn_unmask(x, (evtchn_port_t)p);
    }
    printf("]}\n");
    printf("{\"ready\":true}\n");
    fflush(stdout);
    for (unsigned i = 0; i < n; i++) {
        int r = wait_readable(fd, how, 5000);
        if (r <= 0) {
            printf("{\"timeout\":%u}\n", i);
            return 1;
        }
        xenevtchn_port_or_error_t p = xenevtchn_pending(x);
        if (p < 0) {
            printf("{\"pending_errno\":%d}\n", errno);
            return 1;
        }
        xenevtchn_unmask(x, (evtchn_port_t)p);
        int nr = xenevtchn_notify(x, (evtchn_port_t)p);
        printf("{\"event\":%d,\"notify\":%d}\n", (int)p, nr);
        fflush(stdout);
    }
    xenevtchn_close(x);
    return 0;
}

static void line(const char *what, int r)
{
    printf("{\"case\":\"%s\",\"ret\":%d,\"errno\":%d}\n", what, r < 0 ? -1 : r, r < 0 ? errno : 0);
}

static int errors(unsigned dom, unsigned port)
{
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    if (!x)
        return 1;
    int fd = xenevtchn_fd(x);
    line("bind port 0", xenevtchn_bind_interdomain(x, dom, 0));
    line("bind no such domain", xenevtchn_bind_interdomain(x, 0x1234, 1));
    int l = xenevtchn_bind_interdomain(x, dom, port);
    line("bind", l);
    line("bind again", xenevtchn_bind_interdomain(x, dom, port));
    line("notify unbound", xenevtchn_notify(x, 999));
    line("unbind out of range", xenevtchn_unbind(x, 5000));
    line("unbind not ours", xenevtchn_unbind(x, 999));
    line("raw notify bad pointer", ioctl(fd, IOCTL_EVTCHN_NOTIFY, (void *)8));
    line("raw unknown ioctl", ioctl(fd, _IOC(_IOC_NONE, 'E', 9, 4), (void *)8));
    line("bind virq", xenevtchn_bind_virq(x, 0));
    line("reset", ioctl(fd, IOCTL_EVTCHN_RESET, 0));
    line("unbound port for dom", xenevtchn_bind_unbound_port(x, dom));
    line("restrict to 0", xenevtchn_restrict(x, 0));
    line("restrict", xenevtchn_restrict(x, dom));
    line("restrict again", xenevtchn_restrict(x, dom));
    line("restricted bind other domain", xenevtchn_bind_interdomain(x, dom + 1, 1));
    line("restricted unbound port", xenevtchn_bind_unbound_port(x, dom));
    line("restricted notify", xenevtchn_notify(x, (evtchn_port_t)l));
    line("unbind", xenevtchn_unbind(x, (evtchn_port_t)l));
    line("rebind after unbind", xenevtchn_bind_interdomain(x, dom, port));
    uint32_t c;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while (read(fd, &c, sizeof(c)) > 0) /* drain the bind's pending ports */
        ;
    line("nonblocking read, nothing pending", (int)read(fd, &c, sizeof(c)));
    xenevtchn_close(x);
    return 0;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The line a case prints when its binding could not be set up; the exit status. */
static int setup_failed(void)
{
    printf("{\"setup\":false,\"errno\":%d}\n", errno);
    return 1;
}

static xenevtchn_handle *bind_one(unsigned dom, unsigned remote, const char *how, evtchn_port_t *local)
{
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    if (!x)
        return NULL;
    xenevtchn_port_or_error_t l = xenevtchn_bind_interdomain(x, dom, remote);
    if (l < 0)
        return NULL;
    *local = (evtchn_port_t)l;
    /* the binding's pending port */
    if (wait_readable(xenevtchn_fd(x), how, 2000) <= 0 || xenevtchn_pending(x) != l || xenevtchn_unmask(x, *local) != 0)
        return NULL;
    return x;
}

static int pingpong(unsigned dom, unsigned n, const char *how, unsigned remote)
{
    evtchn_port_t local;
    xenevtchn_handle *x = bind_one(dom, remote, how, &local);
    if (!x)
        return setup_failed();
    int fd = xenevtchn_fd(x);
    printf("{\"ready\":%u}\n", local);
    fflush(stdout);
    unsigned i, wrong = 0;
    /* poll2: a pipe beside the evtchn fd, made readable half way: how many rounds until poll says so */
    int pipefd[2] = { -1, -1 };
    int two = strcmp(how, "poll2") == 0;
    long lag = -1;
    if (two && pipe(pipefd) != 0)
        return 1;
    for (i = 0; i < n; i++) {
        if (two) {
            if (i == n / 2 && write(pipefd[1], "x", 1) != 1)
                return 1;
            struct pollfd fds[2] = { { fd, POLLIN, 0 }, { pipefd[0], POLLIN, 0 } };
            for (;;) {
                if (poll(fds, 2, 5000) <= 0)
                    goto out;
                if (fds[1].revents & POLLIN) {
                    char b;
                    if (read(pipefd[0], &b, 1) == 1 && lag < 0)
                        lag = (long)(i - n / 2);
                }
                if (fds[0].revents & POLLIN)
                    break;
            }
        } else if (wait_readable(fd, how, 5000) <= 0)
            break;
        xenevtchn_port_or_error_t p;
        if (strcmp(how, "pollv") == 0) { /* the port read with readv (two buffers: a port, then none) */
            uint32_t got = 0;
            struct iovec v[2] = { { &got, sizeof(got) }, { NULL, 0 } };
            p = readv(fd, v, 2) == (ssize_t)sizeof(got) ? (xenevtchn_port_or_error_t)got : -1;
        } else {
            p = xenevtchn_pending(x);
        }
        if (p != (xenevtchn_port_or_error_t)local)
            wrong++;
        if (xenevtchn_unmask(x, local) != 0 || xenevtchn_notify(x, local) != 0)
            break;
    }
out:
    if (two)
        printf("{\"pipe_lag\":%ld}\n", lag);
    printf("{\"rounds\":%u,\"wrong\":%u}\n", i, wrong);
    xenevtchn_close(x);
    return i == n ? 0 : 1;
}

/* split: one thread waits (poll) and reads, another notifies: a notify must not hide the answer from the waiter */
struct split {
    xenevtchn_handle *x;
    evtchn_port_t local;
    unsigned n;
    int go[2];
    unsigned done;
};

static void *notifier(void *arg)
{
    struct split *sp = arg;
    char b;
    for (unsigned i = 0; i < sp->n; i++) {
        if (read(sp->go[0], &b, 1) != 1 || xenevtchn_notify(sp->x, sp->local) != 0)
            break;
    }
    return NULL;
}

static int split_case(unsigned dom, unsigned n, unsigned remote)
{
    struct split sp = { .n = n };
    sp.x = bind_one(dom, remote, "poll", &sp.local);
    if (!sp.x || pipe(sp.go) != 0)
        return setup_failed();
    pthread_t t;
    pthread_create(&t, NULL, notifier, &sp);
    int fd = xenevtchn_fd(sp.x);
    printf("{\"ready\":%u}\n", sp.local);
    fflush(stdout);
    unsigned i, slow = 0;
    for (i = 0; i < n; i++) {
        long long t0 = now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 3000) <= 0)
            break;
        if (now_ms() - t0 > 1000)
            slow++;
        if (xenevtchn_pending(sp.x) != (xenevtchn_port_or_error_t)sp.local || xenevtchn_unmask(sp.x, sp.local) != 0)
            break;
        if (write(sp.go[1], "g", 1) != 1)
            break;
    }
    close(sp.go[1]);
    pthread_join(t, NULL);
    printf("{\"rounds\":%u,\"slow\":%u}\n", i, slow);
    return i == n ? 0 : 1;
}

/* late: each port is unmasked 20 ms after it was read (a raise meanwhile finds it masked) */
static int late_case(unsigned dom, unsigned n, unsigned remote)
{
    evtchn_port_t local;
    xenevtchn_handle *x = bind_one(dom, remote, "poll", &local);
    if (!x)
        return setup_failed();
    int fd = xenevtchn_fd(x);
    unsigned i;
    long long worst = 0;
    printf("{\"ready\":%u}\n", local);
    fflush(stdout);
    for (i = 0; i < n; i++) {
        long long t0 = now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 3000) <= 0 || xenevtchn_pending(x) != (xenevtchn_port_or_error_t)local)
            break;
        if (i > 0 && now_ms() - t0 > worst)
            worst = now_ms() - t0;
        printf("{\"got\":%u}\n", i);
        fflush(stdout);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
        if (xenevtchn_unmask(x, local) != 0)
            break;
    }
    printf("{\"rounds\":%u,\"worst_ms\":%lld}\n", i, worst);
    return i == n ? 0 : 1;
}

/* reset: a notify whose answer is raised at once, then IOCTL_EVTCHN_RESET: nothing is left to read */
static int reset_case(unsigned dom, unsigned remote)
{
    evtchn_port_t local;
    xenevtchn_handle *x = bind_one(dom, remote, "poll", &local);
    if (!x)
        return setup_failed();
    int fd = xenevtchn_fd(x);
    int nr = xenevtchn_notify(x, local);
    struct timespec ts = { 0, 50 * 1000000L };
    nanosleep(&ts, NULL); /* the answer is there by now (ring or socket) */
    int rr = ioctl(fd, IOCTL_EVTCHN_RESET, 0);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint32_t port;
    errno = 0;
    int r = (int)read(fd, &port, sizeof(port));
    printf("{\"notify\":%d,\"reset\":%d,\"read\":%d,\"errno\":%d}\n", nr, rr, r, r < 0 ? errno : 0);
    return 0;
}

static int timeout_case(unsigned dom, const char *how, int ms, unsigned remote)
{
    evtchn_port_t local;
    xenevtchn_handle *x = bind_one(dom, remote, how, &local);
    if (!x)
        return setup_failed();
    int fd = xenevtchn_fd(x);
    long long t0 = now_ms();
    int r = wait_readable(fd, how, ms);
    long long took = now_ms() - t0;
    /* then, with nothing pending: a non-blocking read is EAGAIN, and one of fewer than 4 bytes reads nothing */
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint32_t port;
    errno = 0;
    ssize_t nb = read(fd, &port, sizeof(port));
    int nb_errno = errno;
    ssize_t small = read(fd, &port, 3);
    printf("{\"ret\":%d,\"ms\":%lld,\"nonblock_read\":%d,\"nonblock_errno\":%d,\"small_read\":%d}\n", r, took, (int)nb, nb_errno,
           (int)small);
    xenevtchn_close(x);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 4 && strcmp(argv[1], "serve") == 0)
        return serve((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0), argv[4], argc - 5, argv + 5);
    if (argc > 3 && strcmp(argv[1], "errors") == 0)
        return errors((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0));
    if (argc == 6 && strcmp(argv[1], "pingpong") == 0)
        return pingpong((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0), argv[4], (unsigned)strtoul(argv[5], NULL, 0));
    if (argc == 4 && strcmp(argv[1], "reset") == 0)
        return reset_case((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0));
    if (argc == 5 && strcmp(argv[1], "late") == 0)
        return late_case((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0));
    if (argc == 5 && strcmp(argv[1], "split") == 0)
        return split_case((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0));
    if (argc == 6 && strcmp(argv[1], "timeout") == 0)
        return timeout_case((unsigned)strtoul(argv[2], NULL, 0), argv[3], atoi(argv[4]), (unsigned)strtoul(argv[5], NULL, 0));
    fprintf(stderr, "usage: evtchnclient serve DOM N WAIT PORT... | errors DOM PORT | pingpong DOM N WAIT PORT | timeout DOM WAIT MS PORT\n");
    return 2;
}
