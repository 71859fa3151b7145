/*
 * C baselines of a round trip between two processes, for bench/fastpath.bench.ts:
 *   fastpath-baseline shm N [spin_us]   shared memory (MAP_SHARED anonymous), both sides spinning on a
 *                              sequence word (the requester yields after spin_us, default 100)
 *   fastpath-baseline sock N            a socketpair, 64-byte request and reply, both sides blocking
 * Prints one JSON line: {"mode":...,"round_trips":N,"ns":elapsed}.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *w == v; after `spin_ns` of spinning, yields between looks. */
static void await_word(const uint32_t *w, uint32_t v, int64_t spin_ns)
{
    int64_t t0 = 0;
    unsigned i = 0;
    while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != v) {
        if ((++i & 63) == 0) {
            if (!t0)
                t0 = now_ns();
            else if (now_ns() - t0 > spin_ns)
                sched_yield();
        }
        cpu_relax();
    }
}

static int run_shm(unsigned long n, int64_t spin_ns)
{
    uint32_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    uint32_t *req = m, *rep = m + 16;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        for (uint32_t s = 1; s <= n; s++) {
            await_word(req, s, spin_ns);
            __atomic_store_n(rep, s, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    int64_t t0 = now_ns();
    for (uint32_t s = 1; s <= n; s++) {
        __atomic_store_n(req, s, __ATOMIC_RELEASE);
        await_word(rep, s, spin_ns);
    }
    int64_t ns = now_ns() - t0;
    waitpid(pid, NULL, 0);
    printf("{\"mode\":\"shm\",\"round_trips\":%lu,\"ns\":%" PRId64 "}\n", n, ns);
    return 0;
}

static int io_all(int fd, uint8_t *b, size_t n, int wr)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = wr ? write(fd, b + off, n - off) : read(fd, b + off, n - off);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

static int run_sock(unsigned long n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
    uint8_t b[64];
    memset(b, 0x5a, sizeof(b));
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(sv[0]);
        for (unsigned long i = 0; i < n; i++)
            if (io_all(sv[1], b, sizeof(b), 0) < 0 || io_all(sv[1], b, sizeof(b), 1) < 0)
                _exit(1);
        _exit(0);
    }
    close(sv[1]);
    int64_t t0 = now_ns();
    for (unsigned long i = 0; i < n; i++)
        if (io_all(sv[0], b, sizeof(b), 1) < 0 || io_all(sv[0], b, sizeof(b), 0) < 0)
            return 1;
    int64_t ns = now_ns() - t0;
    waitpid(pid, NULL, 0);
    printf("{\"mode\":\"sock\",\"round_trips\":%lu,\"ns\":%" PRId64 "}\n", n, ns);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "shm") == 0)
        return run_shm(strtoul(argv[2], NULL, 0), (argc > 3 ? strtol(argv[3], NULL, 0) : 100) * 1000LL);
    if (argc >= 3 && strcmp(argv[1], "sock") == 0)
        return run_sock(strtoul(argv[2], NULL, 0));
    fprintf(stderr, "usage: fastpath-baseline shm N [spin_us] | fastpath-baseline sock N\n");
    return 2;
}
