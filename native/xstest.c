/*
 * libxenstore against the xendm xenstored: transactions (a conflict is EAGAIN, the retry commits),
 * watches with relative paths, xs_fileno in select(), permissions across two caller domains, domains
 * (introduce, release and their special watches, set_target, resume) and CONTROL.
 * usage: xstest DOM0_SOCKET DOM1_SOCKET   (each is a XENSTORED_PATH; the second serves domain 1)
 * Prints "ok <name>" or "FAIL <name>: why" per check; exits 0 when every check passed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <xenstore.h>

static int failures;

static void check(bool cond, const char *name, const char *why)
{
	if (cond)
		printf("ok %s\n", name);
	else {
		printf("FAIL %s: %s (errno %d %s)\n", name, why, errno, strerror(errno));
		failures++;
	}
}

static struct xs_handle *open_at(const char *socket)
{
	struct xs_handle *h;

	setenv("XENSTORED_PATH", socket, 1);
	h = xs_open(0);
	if (!h) {
		printf("FAIL open %s: %s\n", socket, strerror(errno));
		exit(1);
	}
	return h;
}

static bool read_is(struct xs_handle *h, xs_transaction_t t, const char *path, const char *want)
{
	unsigned int len;
	char *v = xs_read(h, t, path, &len);
	bool same = v && len == strlen(want) && memcmp(v, want, len) == 0;

	free(v);
	return same;
}

/* waits at most ms for the handle's fd to become readable */
static bool readable_within(struct xs_handle *h, int ms)
{
	int fd = xs_fileno(h);
	fd_set rd;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	return select(fd + 1, &rd, NULL, NULL, &tv) == 1;
}

/* the next watch event's path (caller frees), after select() said it is there */
static char *next_event(struct xs_handle *h, const char *token)
{
	char **vec;
	char *path;

	if (!readable_within(h, 5000))
		return NULL;
	vec = xs_check_watch(h);
	if (!vec)
		return NULL;
	path = strcmp(vec[XS_WATCH_TOKEN], token) == 0 ? strdup(vec[XS_WATCH_PATH]) : NULL;
	free(vec);
	return path;
}

static void transactions(struct xs_handle *a, struct xs_handle *b)
{
	xs_transaction_t t;
	int tries = 0;
	bool committed = false;

	check(xs_write(a, XBT_NULL, "/txtest/n", "0", 1), "tx-setup", "write /txtest/n");
	t = xs_transaction_start(a);
	check(t != XBT_NULL, "tx-start", "xs_transaction_start");
	check(read_is(a, t, "/txtest/n", "0"), "tx-read", "read in the transaction");
	check(xs_write(a, t, "/txtest/n", "1", 1), "tx-write", "write in the transaction");
	check(read_is(a, t, "/txtest/n", "1"), "tx-own-write", "the transaction sees its write");
	check(read_is(b, XBT_NULL, "/txtest/n", "0"), "tx-isolated", "others do not see it");
	check(xs_write(b, XBT_NULL, "/txtest/n", "10", 2), "tx-conflicting-write", "write outside");
	errno = 0;
	check(!xs_transaction_end(a, t, false) && errno == EAGAIN, "tx-conflict-eagain", "commit after a conflict must fail with EAGAIN");
	check(read_is(a, XBT_NULL, "/txtest/n", "10"), "tx-conflict-lost", "the conflicting commit changed nothing");

	while (!committed && tries++ < 5) {
		unsigned int len;
		char *v, buf[16];

		t = xs_transaction_start(a);
		v = xs_read(a, t, "/txtest/n", &len);
		snprintf(buf, sizeof(buf), "%d", v ? atoi(v) + 1 : -1);
		free(v);
		xs_write(a, t, "/txtest/n", buf, strlen(buf));
		committed = xs_transaction_end(a, t, false);
	}
	check(committed && tries == 1, "tx-retry", "the retry commits at once");
	check(read_is(b, XBT_NULL, "/txtest/n", "11"), "tx-retry-value", "the retry's value");

	t = xs_transaction_start(a);
	xs_write(a, t, "/txtest/aborted", "x", 1);
	check(xs_transaction_end(a, t, true), "tx-abort", "abort");
	check(!xs_read(b, XBT_NULL, "/txtest/aborted", NULL) && errno == ENOENT, "tx-abort-nothing", "an abort leaves nothing");
}

static void watches(struct xs_handle *a, struct xs_handle *d1)
{
	char *p;

	check(xs_watch(d1, "dm", "tok"), "watch-relative", "xs_watch dm");
	p = next_event(d1, "tok");
	check(p && strcmp(p, "dm") == 0, "watch-first-event", "the registration event names the relative path");
	free(p);
	check(!readable_within(d1, 100), "watch-select-idle", "select times out while nothing changes");
	xs_write(a, XBT_NULL, "/local/domain/1/dm/state", "running", 7);
	p = next_event(d1, "tok");
	check(p && strcmp(p, "dm/state") == 0, "watch-relative-event", "a change below fires with the relative path");
	free(p);
	xs_write(a, XBT_NULL, "/local/domain/1/other", "x", 1);
	check(!readable_within(d1, 100), "watch-unrelated", "a change elsewhere does not fire");
	check(xs_unwatch(d1, "dm", "tok"), "unwatch", "xs_unwatch");
}

static void permissions(struct xs_handle *a, struct xs_handle *d1)
{
	struct xs_permissions perms[2] = { { .id = 0, .perms = XS_PERM_NONE }, { .id = 1, .perms = XS_PERM_READ } };
	struct xs_permissions *got;
	unsigned int num = 0;

	xs_write(a, XBT_NULL, "/local/domain/1/private", "p", 1);
	check(xs_set_permissions(a, XBT_NULL, "/local/domain/1/private", perms, 1), "perm-set", "set n0");
	errno = 0;
	check(!xs_read(d1, XBT_NULL, "private", NULL) && errno == EACCES, "perm-eacces", "domain 1 may not read a node n0");
	check(xs_set_permissions(a, XBT_NULL, "/local/domain/1/private", perms, 2), "perm-grant", "set n0 r1");
	check(read_is(d1, XBT_NULL, "private", "p"), "perm-read", "domain 1 reads with r1");
	errno = 0;
	check(!xs_write(d1, XBT_NULL, "private", "q", 1) && errno == EACCES, "perm-no-write", "r1 does not allow writing");
	got = xs_get_permissions(d1, XBT_NULL, "private", &num);
	check(got && num == 2 && got[0].id == 0 && got[0].perms == XS_PERM_NONE && got[1].id == 1 && got[1].perms == XS_PERM_READ,
	      "perm-get", "xs_get_permissions n0,r1");
	free(got);
	check(xs_write(d1, XBT_NULL, "mine", "m", 1), "perm-own-home", "domain 1 writes in its home");
	got = xs_get_permissions(a, XBT_NULL, "/local/domain/1/mine", &num);
	check(got && num >= 1 && got[0].id == 1, "perm-owner", "domain 1 owns what it creates");
	free(got);
	errno = 0;
	check(!xs_write(d1, XBT_NULL, "/tool/x", "x", 1) && errno == EACCES, "perm-outside", "domain 1 may not write /tool");
	errno = 0;
	check(!xs_introduce_domain(d1, 5, 0, 1) && errno == EACCES, "perm-priv-only", "INTRODUCE is for the privileged");
}

static void domains(struct xs_handle *a)
{
	char *p;
	char *q;

	check(xs_watch(a, "@introduceDomain", "in") && xs_watch(a, "@releaseDomain", "out"), "dom-watch-special", "watch the special nodes");
	p = next_event(a, "in");
	free(p);
	p = next_event(a, "out");
	free(p);
	check(!xs_is_domain_introduced(a, 7), "dom-not-introduced", "domain 7 is not introduced yet");
	check(xs_introduce_domain(a, 7, 0, 1), "dom-introduce", "xs_introduce_domain 7");
	p = next_event(a, "in");
	check(p && strcmp(p, "@introduceDomain") == 0, "dom-introduce-event", "@introduceDomain fires");
	free(p);
	check(xs_is_domain_introduced(a, 7), "dom-introduced", "domain 7 is introduced");
	p = xs_get_domain_path(a, 7);
	check(p && strcmp(p, "/local/domain/7") == 0, "dom-path", "xs_get_domain_path");
	free(p);
	check(xs_introduce_domain(a, 8, 0, 1) && xs_set_target(a, 8, 7), "dom-set-target", "domain 8 serves domain 7");
	free(next_event(a, "in"));
	check(xs_resume_domain(a, 7), "dom-resume", "xs_resume_domain");
	errno = 0;
	check(!xs_resume_domain(a, 99) && errno == ENOENT, "dom-resume-unknown", "an unknown domain is ENOENT");
	check(xs_release_domain(a, 7), "dom-release", "xs_release_domain");
	p = next_event(a, "out");
	check(p && strcmp(p, "@releaseDomain") == 0, "dom-release-event", "@releaseDomain fires");
	free(p);
	check(!xs_is_domain_introduced(a, 7), "dom-released", "domain 7 is gone");
	q = xs_control_command(a, "quota", NULL, 0);
	check(q && strstr(q, "Nodes per domain") != NULL, "control-quota", "CONTROL quota lists the quotas");
	free(q);
	errno = 0;
	q = xs_control_command(a, "no-such-command", NULL, 0);
	check(!q && errno == EINVAL, "control-unknown", "an unknown CONTROL command is EINVAL");
	xs_unwatch(a, "@introduceDomain", "in");
	xs_unwatch(a, "@releaseDomain", "out");
}

int main(int argc, char **argv)
{
	struct xs_handle *a, *b, *d1;
	struct xs_permissions home[1] = { { .id = 1, .perms = XS_PERM_NONE } };

	if (argc != 3) {
		fprintf(stderr, "usage: xstest DOM0_SOCKET DOM1_SOCKET\n");
		return 2;
	}
	a = open_at(argv[1]);
	b = open_at(argv[1]);
	d1 = open_at(argv[2]);
	xs_mkdir(a, XBT_NULL, "/local/domain/1");
	xs_set_permissions(a, XBT_NULL, "/local/domain/1", home, 1);

	transactions(a, b);
	watches(a, d1);
	permissions(a, d1);
	domains(a);

	xs_close(d1);
	xs_close(b);
	xs_close(a);
	printf("%s\n", failures ? "FAILED" : "PASSED");
	return failures ? 1 : 0;
}
