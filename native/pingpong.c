/*
 * pingpong N: the C-to-C baseline of the ioreq round-trip bench. Two processes on a socketpair; each
 * round trip is one 4-byte message each way, so two wake-ups, as an ioreq round trip has (the event to
 * the device model, the notification back). Prints one JSON line: round trips, wall ns, CPU ns.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int full(ssize_t (*op)(int, void *, size_t), int fd, void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = op(fd, (char *)buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

static ssize_t wr(int fd, void *b, size_t n) { return write(fd, b, n); }
static ssize_t rd(int fd, void *b, size_t n) { return read(fd, b, n); }

static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv) {
  char *end = NULL;
  unsigned long n = argc == 2 ? strtoul(argv[1], &end, 10) : 0;
  if (argc != 2 || *end != '\0' || n == 0 || n > 100000000ul) {
    fprintf(stderr, "usage: pingpong N (1 to 100000000 round trips)\n");
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("socketpair");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  uint32_t v = 0;
  if (pid == 0) {
    close(sv[0]);
    for (unsigned long i = 0; i < n; i++) {
      if (full(rd, sv[1], &v, sizeof v) != 0) _exit(1);
      v++;
      if (full(wr, sv[1], &v, sizeof v) != 0) _exit(1);
    }
    _exit(0);
  }
  close(sv[1]);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  for (unsigned long i = 0; i < n; i++) {
    uint32_t want = v + 1;
    if (full(wr, sv[0], &v, sizeof v) != 0 || full(rd, sv[0], &v, sizeof v) != 0 || v != want) {
      fprintf(stderr, "pingpong: round trip %lu failed\n", i);
      return 1;
    }
  }
  uint64_t ns = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
  int st = 0;
  waitpid(pid, &st, 0);
  printf("{\"round_trips\":%lu,\"ns\":%llu,\"cpu_ns\":%llu}\n", n, (unsigned long long)ns, (unsigned long long)cpu);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
