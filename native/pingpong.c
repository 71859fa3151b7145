/*
 * The floor for a notification round trip between two processes: a 4-byte word sent over a Unix
 * socketpair and echoed back, N times, timed in C. Prints {"round_trips": N, "ns_per_round_trip": X}.
 *
 *   pingpong N
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int xfer(int fd, void *buf, int send)
{
    size_t done = 0;
    while (done < 4) {
        ssize_t n = send ? write(fd, (char *)buf + done, 4 - done) : read(fd, (char *)buf + done, 4 - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    int sv[2];
    if (n <= 0 || n > 100000000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        fprintf(stderr, "usage: pingpong N (1..100000000)\n");
        return 2;
    }
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        uint32_t w;
        close(sv[0]);
        while (xfer(sv[1], &w, 0) == 0 && xfer(sv[1], &w, 1) == 0)
            ;
        _exit(0);
    }
    close(sv[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        uint32_t w = (uint32_t)i;
        if (xfer(sv[0], &w, 1) != 0 || xfer(sv[0], &w, 0) != 0 || w != (uint32_t)i)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(sv[0]);
    waitpid(child, NULL, 0);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("{\"round_trips\": %ld, \"ns_per_round_trip\": %.1f}\n", n, ns / (double)n);
    return 0;
}
