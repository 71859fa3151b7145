/*
 * Round trips per second for bench/xenstore.bench.ts.
 *   xsbench xs SOCKET N        N xs_read then N xs_write through libxenstore (XENSTORED_PATH=SOCKET)
 *   xsbench pingpong N         the C<->C baseline: a forked C server on a Unix socket pair answering
 *                              xsd_sockmsg-framed requests of the same sizes, N round trips
 * Prints one JSON object per line: {"what":..., "n":..., "seconds":...}.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int full(int fd, void *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ? write(fd, (char *)buf + done, len - done) : read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int bench_xs(const char *socket, long n)
{
	struct xs_handle *h;
	double t0;
	long i;
	unsigned int len;

	setenv("XENSTORED_PATH", socket, 1);
	h = xs_open(0);
	if (!h || !xs_write(h, XBT_NULL, "/bench/key", "value-0123456789", 16)) {
		perror("xsbench: xs_open/xs_write");
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++)
		free(xs_read(h, XBT_NULL, "/bench/key", &len));
	printf("{\"what\":\"xs_read\",\"n\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
	t0 = now();
	for (i = 0; i < n; i++)
		if (!xs_write(h, XBT_NULL, "/bench/key", "value-0123456789", 16))
			return 1;
	printf("{\"what\":\"xs_write\",\"n\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
	xs_close(h);
	return 0;
}

/* a request the size of xs_read("/bench/key"), a reply the size of its value */
static int bench_pingpong(long n)
{
	int sv[2];
	pid_t pid;
	double t0;
	long i;
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (full(sv[1], &hdr, sizeof(hdr), 0) == 0 && hdr.len <= sizeof(body) && full(sv[1], body, hdr.len, 0) == 0) {
			hdr.len = 16;
			memset(body, 'v', 16);
			if (full(sv[1], &hdr, sizeof(hdr), 1) || full(sv[1], body, hdr.len, 1))
				break;
		}
		_exit(0);
	}
	close(sv[1]);
	t0 = now();
	for (i = 0; i < n; i++) {
		hdr.type = XS_READ;
		hdr.req_id = i;
		hdr.tx_id = 0;
		hdr.len = sizeof("/bench/key");
		memcpy(body, "/bench/key", hdr.len);
		if (full(sv[0], &hdr, sizeof(hdr), 1) || full(sv[0], body, hdr.len, 1) ||
		    full(sv[0], &hdr, sizeof(hdr), 0) || full(sv[0], body, hdr.len, 0))
			return 1;
	}
	printf("{\"what\":\"pingpong\",\"n\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "xs") == 0)
		return bench_xs(argv[2], atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "pingpong") == 0)
		return bench_pingpong(atol(argv[2]));
	fprintf(stderr, "usage: xsbench xs SOCKET N | xsbench pingpong N\n");
	return 2;
}
