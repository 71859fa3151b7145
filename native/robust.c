/*
 * Reproducers for the shim's robustness rules, run under the shim by test/native/robust.test.ts.
 * One JSON line per case on stdout.
 *
 *   robust badpath            open/open64/openat/__open_2/... with unreadable path pointers
 *   robust forkioctl DOM N    N forks while another thread is inside privcmd ioctls; each child calls once
 *   robust stall DOM          one xendevicemodel_nr_vcpus against a server that stops answering
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xendevicemodel.h>

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

static void report(const char *fn, const char *ptr, int r)
{
    int e = r < 0 ? errno : 0;
    printf("{\"case\":\"%s %s\",\"ret\":%d,\"errno\":%d}\n", fn, ptr, r < 0 ? -1 : 0, e);
    fflush(stdout);
    if (r >= 0)
        close(r);
}

static void try_all(const char *label, const char *p)
{
    report("open", label, open(p, O_RDWR));
    report("open64", label, open64(p, O_RDWR));
    report("__open_2", label, __open_2(p, O_RDWR));
    report("__open64_2", label, __open64_2(p, O_RDWR));
    report("openat", label, openat(AT_FDCWD, p, O_RDWR));
    report("openat64", label, openat64(AT_FDCWD, p, O_RDWR));
    report("__openat_2", label, __openat_2(AT_FDCWD, p, O_RDWR));
    report("__openat64_2", label, __openat64_2(AT_FDCWD, p, O_RDWR));
}

static int badpath(void)
{
    /* two pages, the second inaccessible: a path that runs into it has no readable NUL */
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    mprotect(m + pg, (size_t)pg, PROT_NONE);
    static const char partial[] = "/dev/xen/priv";
    char *edge = m + pg - (sizeof(partial) - 1);
    memcpy(edge, partial, sizeof(partial) - 1); /* no NUL before the inaccessible page */
    try_all("low", (const char *)16);
    try_all("unmapped", m + pg);
    try_all("edge", edge);
    /* a readable path ending exactly at the page edge still opens */
    static const char full[] = "/dev/xen/privcmd";
    char *fits = m + pg - sizeof(full);
    memcpy(fits, full, sizeof(full));
    try_all("fits", fits);
    return 0;
}

static xendevicemodel_handle *shared;
static volatile int stop;

static void *spin(void *arg)
{
    unsigned dom = (unsigned)(uintptr_t)arg, n;
    while (!stop)
        (void)xendevicemodel_nr_vcpus(shared, dom, &n);
    return NULL;
}

static int forkioctl(unsigned dom, unsigned forks)
{
    shared = xendevicemodel_open(NULL, 0);
    if (!shared)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, spin, (void *)(uintptr_t)dom);
    unsigned ok = 0, hung = 0, failed = 0;
    for (unsigned i = 0; i < forks; i++) {
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a hang ends as SIGALRM */
            unsigned n = 0;
            int r = xendevicemodel_nr_vcpus(shared, dom, &n);
            _exit(r == 0 && n > 0 ? 0 : 3);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
        else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            hung++;
        else
            failed++;
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("{\"case\":\"forkioctl\",\"ok\":%u,\"hung\":%u,\"failed\":%u}\n", ok, hung, failed);
    return 0;
}

static int stall(unsigned dom)
{
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    if (!h) {
        printf("{\"case\":\"stall\",\"open\":false,\"errno\":%d}\n", errno);
        return 0;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned n = 0;
    int r = xendevicemodel_nr_vcpus(h, dom, &n);
    int e = r < 0 ? errno : 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    r = xendevicemodel_nr_vcpus(h, dom, &n);
    int e2 = r < 0 ? errno : 0;
    printf("{\"case\":\"stall\",\"open\":true,\"errno\":%d,\"ms\":%ld,\"again_errno\":%d}\n", e, ms, e2);
    xendevicemodel_close(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "badpath") == 0)
        return badpath();
    if (argc > 3 && strcmp(argv[1], "forkioctl") == 0)
        return forkioctl((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0));
    if (argc > 2 && strcmp(argv[1], "stall") == 0)
        return stall((unsigned)strtoul(argv[2], NULL, 0));
    fprintf(stderr, "usage: robust badpath | forkioctl DOM N | stall DOM\n");
    return 2;
}
