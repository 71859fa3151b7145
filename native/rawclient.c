/*
 * rawclient: exercises the shim below libxendevicemodel, one JSON line per case.
 *
 *   rawclient plain DIR     ordinary files, /dev/null, pipes: must behave the same
 *                           with and without the shim
 *   rawclient privcmd DOM   raw privcmd ioctls and their -1/errno results
 *   rawclient fork DOM      a restricted privcmd fd used by a forked child and its parent
 *   rawclient signals DOM   privcmd calls under a 100 us interval timer (handler without SA_RESTART)
 *   rawclient closeall DOM DIR  closes every fd from 3 to 63 but the privcmd fd, makes a
 *                           socketpair and a file (which take freed numbers), then calls
 *                           on the privcmd fd
 *   rawclient bindonly PATH a Unix socket bound but not listening (connect: ECONNREFUSED)
 *   rawclient stub PATH     a minimal protocol server (every call returns 0 with its
 *                           buffers unchanged; nr_vcpus-shaped replies are not
 *                           interpreted): measures the shim and socket alone
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

struct pc_hypercall { uint64_t op; uint64_t arg[5]; };
struct pc_buf { void *uptr; size_t size; };
struct pc_dm_op { uint16_t dom; uint16_t num; const struct pc_buf *ubufs; };
struct xen_buf { uint64_t h; uint64_t size; };

#define IOC(nr, size) ((unsigned long)(((size) << 16) | (0x50 << 8) | (nr)))
#define IOCTL_HYPERCALL IOC(0, sizeof(struct pc_hypercall))
#define IOCTL_DM_OP IOC(5, sizeof(struct pc_dm_op))
#define IOCTL_RESTRICT IOC(6, sizeof(uint16_t))

static void line(const char *name, long ret, int err)
{
    printf("{\"case\":\"%s\",\"ret\":%ld,\"errno\":%d}\n", name, ret, ret < 0 ? err : 0);
    fflush(stdout);
}

#define CASE(name, expr)            \
    do {                            \
        errno = 0;                  \
        long r_ = (long)(expr);     \
        line(name, r_, errno);      \
    } while (0)

static int plain(const char *dir)
{
    char path[4096], buf[64];
    snprintf(path, sizeof(path), "%s/plain.txt", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CASE("open_creat", fd >= 0 ? 0 : -1);
    CASE("write", write(fd, "hello shim\n", 11));
    CASE("close", close(fd));
    struct stat st;
    CASE("stat_mode", stat(path, &st) == 0 ? (long)(st.st_mode & 0777) : -1);
    fd = openat(AT_FDCWD, path, O_RDONLY);
    memset(buf, 0, sizeof(buf));
    CASE("openat_read", read(fd, buf, sizeof(buf)));
    CASE("read_matches", strcmp(buf, "hello shim\n") == 0 ? 0 : -1);
    int d = dup(fd);
    CASE("dup_lseek", lseek(d, 6, SEEK_SET));
    CASE("dup2", dup2(d, 100));
    CASE("fcntl_dupfd", fcntl(100, F_DUPFD_CLOEXEC, 200) >= 200 ? 0 : -1);
    CASE("read_after_dup", read(fd, buf, 4));
    CASE("fcntl_getfd", fcntl(fd, F_GETFD));
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    CASE("mmap_file", m != MAP_FAILED && memcmp(m, "hello", 5) == 0 ? 0 : -1);
    if (m != MAP_FAILED)
        munmap(m, 4096);
    close(fd);
    close(d);
    close(100);
    FILE *f = fopen(path, "r");
    CASE("fopen_fgets", f && fgets(buf, sizeof(buf), f) && strcmp(buf, "hello shim\n") == 0 ? 0 : -1);
    if (f)
        fclose(f);
    fd = open("/dev/null", O_RDWR);
    CASE("devnull_read", read(fd, buf, sizeof(buf)));
    CASE("devnull_write", write(fd, buf, 7));
    close(fd);
    int p[2];
    CASE("pipe", pipe(p));
    struct termios t;
    CASE("tcgets_pipe", ioctl(p[0], TCGETS, &t));
    CASE("pipe_write", write(p[1], "abc", 3));
    int avail = -1;
    CASE("fionread_pipe", ioctl(p[0], FIONREAD, &avail) == 0 ? avail : -1);
    close(p[0]);
    close(p[1]);
    CASE("close_bad", close(-1));
    CASE("ioctl_bad", ioctl(-1, FIONREAD, &avail));
    CASE("open_missing", open("/nonexistent/xendm", O_RDONLY));
    return 0;
}

static int privcmd(unsigned dom)
{
    uint8_t *op = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (op == MAP_FAILED || ro == MAP_FAILED)
        return 1;

    CASE("open_hypercall_dev", open("/dev/xen/hypercall", O_RDWR | O_CLOEXEC));
    int fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    CASE("open_privcmd", fd >= 0 ? 0 : -1);
    CASE("cloexec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0);

    CASE("dm_op_null_arg", ioctl(fd, IOCTL_DM_OP, NULL));
    struct pc_dm_op u = { 0x7ff4, 0, NULL };
    CASE("dm_op_probe", ioctl(fd, IOCTL_DM_OP, &u));
    u.num = 17;
    CASE("dm_op_num_17", ioctl(fd, IOCTL_DM_OP, &u));
    u.num = 1;
    CASE("dm_op_ubufs_null", ioctl(fd, IOCTL_DM_OP, &u));
    struct pc_buf b[3] = { { NULL, 32 }, { NULL, 0 }, { NULL, 0 } };
    u.dom = (uint16_t)dom;
    u.ubufs = b;
    CASE("dm_op_buf_null", ioctl(fd, IOCTL_DM_OP, &u));
    b[0].uptr = op;
    b[0].size = 4097;
    CASE("dm_op_buf_4097", ioctl(fd, IOCTL_DM_OP, &u));
    b[0].uptr = ro;
    b[0].size = 32;
    CASE("dm_op_buf_readonly", ioctl(fd, IOCTL_DM_OP, &u));
    b[0].uptr = op;
    b[0].size = (size_t)-1;
    CASE("dm_op_buf_size_max", ioctl(fd, IOCTL_DM_OP, &u));
    u.num = 0xffff;
    CASE("dm_op_num_max", ioctl(fd, IOCTL_DM_OP, &u));
    u.num = 1;
    b[0].size = 32;

    /* nr_vcpus: op 20, vcpus written at offset 8 */
    memset(op, 0, 32);
    op[0] = 20;
    memset(op + 8, 0xee, 4);
    b[0].uptr = op;
    CASE("dm_op_nr_vcpus", ioctl(fd, IOCTL_DM_OP, &u));
    CASE("dm_op_nr_vcpus_out", (long)(op[8] | op[9] << 8 | op[10] << 16 | (uint32_t)op[11] << 24));
    u.num = 3;
    b[1].uptr = op + 4096;
    b[2].uptr = op + 4096;
    CASE("dm_op_three_bufs", ioctl(fd, IOCTL_DM_OP, &u));
    u.num = 1;
    memset(op, 0, 32);
    op[0] = 21;
    CASE("dm_op_bad_op", ioctl(fd, IOCTL_DM_OP, &u));
    /* two buffers: a read-only second one fails the call (lock_pages) and buffer 0 stays as it was */
    memset(op, 0, 32);
    op[0] = 20;
    memset(op + 8, 0xee, 4);
    u.num = 2;
    b[1].uptr = ro;
    b[1].size = 16;
    CASE("dm_op_second_buf_readonly", ioctl(fd, IOCTL_DM_OP, &u));
    CASE("dm_op_second_buf_readonly_buf0", (long)(op[8] | op[9] << 8 | op[10] << 16 | (uint32_t)op[11] << 24));
    b[1].uptr = op + 4096;
    CASE("dm_op_two_bufs_nr_vcpus", ioctl(fd, IOCTL_DM_OP, &u));
    CASE("dm_op_two_bufs_nr_vcpus_out", (long)(op[8] | op[9] << 8 | op[10] << 16 | (uint32_t)op[11] << 24));
    u.num = 1;

    CASE("ioctl_unknown", ioctl(fd, 0x12345678UL, op));
    struct termios t;
    CASE("ioctl_tcgets", ioctl(fd, TCGETS, &t));

    CASE("hypercall_null_arg", ioctl(fd, IOCTL_HYPERCALL, NULL));
    struct pc_hypercall hc = { 34, { 0, 0, 0, 0, 0 } };
    CASE("hypercall_hvm_op", ioctl(fd, IOCTL_HYPERCALL, &hc));
    struct xen_buf *xb = (struct xen_buf *)(op + 64);
    memset(op, 0, 32);
    op[0] = 20;
    memset(op + 8, 0xee, 4);
    xb[0].h = (uint64_t)(uintptr_t)op;
    xb[0].size = 32;
    hc.op = 41;
    hc.arg[0] = dom;
    hc.arg[1] = 1;
    hc.arg[2] = (uint64_t)(uintptr_t)xb;
    CASE("hypercall_dm_op_nr_vcpus", ioctl(fd, IOCTL_HYPERCALL, &hc));
    CASE("hypercall_dm_op_nr_vcpus_out", (long)(op[8] | op[9] << 8 | op[10] << 16 | (uint32_t)op[11] << 24));
    xb[0].h = 0;
    CASE("hypercall_dm_op_buf_null", ioctl(fd, IOCTL_HYPERCALL, &hc));

    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CASE("mmap_privcmd", m == MAP_FAILED ? -1 : 0);

    int fd2 = open("/proc/xen/privcmd", O_RDWR);
    CASE("open_proc_privcmd", fd2 >= 0 ? 0 : -1);
    CASE("cloexec2", (fcntl(fd2, F_GETFD) & FD_CLOEXEC) ? 1 : 0);

    CASE("restrict_null_arg", ioctl(fd, IOCTL_RESTRICT, NULL));
    uint16_t rd = (uint16_t)dom;
    CASE("restrict", ioctl(fd, IOCTL_RESTRICT, &rd));
    CASE("restrict_same", ioctl(fd, IOCTL_RESTRICT, &rd));
    uint16_t other = (uint16_t)(dom + 1);
    CASE("restrict_other", ioctl(fd, IOCTL_RESTRICT, &other));
    u.dom = 0x7ff4;
    u.num = 0;
    CASE("restricted_probe", ioctl(fd, IOCTL_DM_OP, &u));
    CASE("restricted_hypercall", ioctl(fd, IOCTL_HYPERCALL, &hc));
    CASE("restricted_hypercall_null_arg", ioctl(fd, IOCTL_HYPERCALL, NULL));
    CASE("unrestricted_other_fd_probe", ioctl(fd2, IOCTL_DM_OP, &u));
    int fd3 = dup(fd);
    CASE("dup_restricted_probe", ioctl(fd3, IOCTL_DM_OP, &u));
    int fd4 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    CASE("fcntl_dupfd_restricted_probe", ioctl(fd4, IOCTL_DM_OP, &u));
    CASE("close", close(fd));
    CASE("closed_fd_ioctl", ioctl(fd, IOCTL_DM_OP, &u));
    u.dom = (uint16_t)dom;
    u.num = 1;
    memset(op, 0, 32);
    op[0] = 20;
    CASE("dup_after_close_dm_op", ioctl(fd3, IOCTL_DM_OP, &u));
    CASE("dup2_over_privcmd", dup2(0, fd4));
    u.num = 0;
    CASE("dup2_over_privcmd_ioctl", ioctl(fd4, IOCTL_DM_OP, &u));
    close(fd2);
    close(fd3);
    close(fd4);
    return 0;
}

/* ---- stub server: answers HELLO, SHM_INFO (-1/ENODEV), and DM_OP / HYPERCALL / RESTRICT with ret 0 */

static int full_read(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void st32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

static uint8_t stub_in[1 << 20], stub_out[1 << 20];

/* One frame from fd answered; -1 to drop the connection. */
static int stub_frame(int fd)
{
    uint8_t hdr[4];
    if (full_read(fd, hdr, 4) < 0)
        return -1;
    uint32_t len = le32(hdr);
    if (len < 8 || len > sizeof(stub_in))
        return -1;
    if (full_read(fd, stub_in, len) < 0)
        return -1;
    uint8_t kind = stub_in[1];
    const uint8_t *body = stub_in + 8;
    size_t blen = len - 8, olen = 0;
    uint8_t *o = stub_out + 12;
    if (kind == 0x01) {
        st32(o, 1);
        st32(o + 4, 0);
        olen = 8;
    } else if (kind == 0x03) {
        st32(o, 0);
        st32(o + 4, 0);
        olen = 8;
    } else if (kind == 0x20) {
        /* SHM_INFO: no shared pages here (-1/ENODEV) */
        st32(o, (uint32_t)-1);
        st32(o + 4, 19);
        st32(o + 8, 0);
        st32(o + 12, 0);
        olen = 16;
    } else if (kind == 0x02 || kind == 0x04) {
        size_t off = kind == 0x02 ? 4 : 48;
        if (blen < off + 4)
            return -1;
        uint32_t n = le32(body + off);
        const uint8_t *d = body + off + 4, *c = d + 16 * (size_t)n;
        int contents = 1;
        for (uint32_t i = 0; i < n; i++)
            if (le64(d + 16 * i) > 4096 || le32(d + 16 * i + 8) != 0)
                contents = 0;
        st32(o, 0);
        st32(o + 4, 0);
        st32(o + 8, contents ? n : 0);
        olen = 12;
        for (uint32_t i = 0; contents && i < n; i++) {
            uint32_t sz = (uint32_t)le64(d + 16 * i);
            st32(o + olen, sz);
            memcpy(o + olen + 4, c, sz);
            c += sz;
            olen += 4 + sz;
        }
    } else {
        return -1;
    }
    st32(stub_out, (uint32_t)(8 + olen));
    stub_out[4] = 1;
    stub_out[5] = (uint8_t)(kind | 0x80);
    stub_out[6] = stub_out[7] = 0;
    memcpy(stub_out + 8, stub_in + 4, 4);
    size_t total = 12 + olen, done = 0;
    while (done < total) {
        ssize_t w = write(fd, stub_out + done, total - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

static int stub(const char *path)
{
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 64) < 0) {
        perror("stub");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    struct pollfd fds[256];
    int nfds = 1;
    fds[0].fd = ls;
    fds[0].events = POLLIN;
    for (;;) {
        if (poll(fds, (nfds_t)nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int i = nfds - 1; i >= 1; i--) {
            if (fds[i].revents && stub_frame(fds[i].fd) < 0) {
                close(fds[i].fd);
                fds[i] = fds[--nfds];
            }
        }
        if ((fds[0].revents & POLLIN) && nfds < 256) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                fds[nfds].fd = c;
                fds[nfds].events = POLLIN;
                nfds++;
            }
        }
    }
}

static long nr_vcpus_via(int fd, unsigned dom)
{
    uint8_t op[32];
    memset(op, 0, sizeof(op));
    op[0] = 20;
    struct pc_buf b = { op, sizeof(op) };
    struct pc_dm_op u = { (uint16_t)dom, 1, &b };
    long r = ioctl(fd, IOCTL_DM_OP, &u);
    return r < 0 ? r : (long)(op[8] | op[9] << 8 | op[10] << 16 | (uint32_t)op[11] << 24);
}

static int forked(unsigned dom)
{
    int fd = open("/dev/xen/privcmd", O_RDWR);
    uint16_t rd = (uint16_t)dom;
    CASE("restrict", ioctl(fd, IOCTL_RESTRICT, &rd));
    CASE("parent_before_fork", nr_vcpus_via(fd, dom));
    pid_t pid = fork();
    if (pid == 0) {
        long ok = 0;
        for (int i = 0; i < 200; i++)
            ok += nr_vcpus_via(fd, dom) > 0;
        CASE("child_calls_ok", ok);
        struct pc_dm_op probe = { 0x7ff4, 0, NULL };
        CASE("child_still_restricted", ioctl(fd, IOCTL_DM_OP, &probe));
        _exit(0);
    }
    long ok = 0;
    for (int i = 0; i < 200; i++)
        ok += nr_vcpus_via(fd, dom) > 0;
    int status = -1;
    waitpid(pid, &status, 0);
    CASE("parent_calls_ok", ok);
    CASE("child_exit", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CASE("parent_after_child", nr_vcpus_via(fd, dom) > 0 ? 0 : -1);
    return 0;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static int signals(unsigned dom)
{
    int fd = open("/dev/xen/privcmd", O_RDWR);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: interrupted syscalls fail with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long ok = 0, eintr = 0, other = 0;
    for (int i = 0; i < 1000; i++) {
        errno = 0;
        long r = nr_vcpus_via(fd, dom);
        if (r > 0)
            ok++;
        else if (errno == EINTR)
            eintr++;
        else
            other++;
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    CASE("calls_ok", ok);
    CASE("calls_eintr", eintr);
    CASE("calls_other", other);
    CASE("alarms_seen", alarms > 0 ? 1 : 0);
    return 0;
}

static int closeall(unsigned dom, const char *dir)
{
    int fd = open("/dev/xen/privcmd", O_RDWR);
    CASE("before", nr_vcpus_via(fd, dom) > 0 ? 0 : -1);
    for (int i = 3; i < 64; i++)
        if (i != fd)
            close(i);
    /* the program's own socket takes the freed numbers (first the hidden socket's) */
    int sv[2];
    CASE("victim_socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    char path[4096];
    snprintf(path, sizeof(path), "%s/victim", dir);
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CASE("victim_open", f >= 0 ? 0 : -1);
    CASE("after", nr_vcpus_via(fd, dom));
    int avail = -1;
    CASE("victim_socket_bytes", ioctl(sv[1], FIONREAD, &avail) == 0 ? avail : -1);
    struct stat st;
    CASE("victim_file_size", fstat(f, &st) == 0 ? (long)st.st_size : -1);
    CASE("close_privcmd", close(fd));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "plain") == 0)
        return plain(argv[2]);
    if (argc > 2 && strcmp(argv[1], "privcmd") == 0)
        return privcmd((unsigned)strtoul(argv[2], NULL, 0));
    if (argc > 2 && strcmp(argv[1], "stub") == 0)
        return stub(argv[2]);
    if (argc > 3 && strcmp(argv[1], "closeall") == 0)
        return closeall((unsigned)strtoul(argv[2], NULL, 0), argv[3]);
    if (argc > 2 && strcmp(argv[1], "signals") == 0)
        return signals((unsigned)strtoul(argv[2], NULL, 0));
    if (argc > 2 && strcmp(argv[1], "fork") == 0)
        return forked((unsigned)strtoul(argv[2], NULL, 0));
    if (argc > 2 && strcmp(argv[1], "bindonly") == 0) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        return s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0;
    }
    fprintf(stderr, "usage: rawclient plain DIR | privcmd DOM | stub PATH | fork DOM | signals DOM | closeall DOM DIR | bindonly PATH\n");
    return 2;
}
