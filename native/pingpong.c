/*
 * The C-to-C baseline of an ioreq round trip: two processes over a socketpair, each round one
 * 4-byte message each way (the same two sleeps and wake-ups as fake -> device model -> fake).
 *   pingpong N     prints {"rounds":N,"seconds":S}
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 10000;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        unsigned v;
        close(sv[0]);
        while (read(sv[1], &v, 4) == 4)
            if (write(sv[1], &v, 4) != 4)
                break;
        _exit(0);
    }
    close(sv[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = i;
        if (write(sv[0], &v, 4) != 4 || read(sv[0], &v, 4) != 4 || v != i)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    printf("{\"rounds\":%u,\"seconds\":%.6f}\n", n, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
