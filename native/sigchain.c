/*
 * sigchain (sigchain.c, sigchain-all.c): a program with its own SIGSEGV/SIGBUS handlers under the
 * shim, one JSON line per case ({"case":...,"v":N} with N a result, an errno or a count).
 *
 *   sigchain all DOM [noguard]  handlers set before the shim's init (in preinit: SIGSEGV with the raw
 *                         rt_sigaction, SIGBUS with sigaction) and after
 *                         it (sigaction); real faults reach them with si_addr; DM_OP and open with bad
 *                         pointers fail EFAULT without calling them; sa_mask, SA_NODEFER, SA_RESETHAND;
 *                         a stack overflow caught on the alternate signal stack; a forked child;
 *                         swapcontext into a context that blocks SIGSEGV;
 *                         a thread with SIGSEGV blocked; four threads at once; sigaction with a bad
 *                         pointer in a SIGALRM handler interrupting the shim's copies
 *   sigchain die CASE DOM one way of dying by the default action (the parent checks the signal):
 *                         segv-dfl, segv-signal-dfl, segv-ign, segv-blocked, segv-resethand,
 *                         bus-dfl, kill-dfl; and kill-ign, which survives (exit 0)
 *   sigchain ign-at-start DOM  run with SIGSEGV ignored across exec: sigaction reports SIG_IGN, a bad
 *                         DM_OP buffer still fails EFAULT, a NULL dereference still kills (exit by 11)
 *   sigchain loop N DOM [block-bus]  N good DM_OPs (for counting system calls), with SIGBUS blocked
 */
#include "sigchain.h"

unsigned dom;
int pfd = -1;

void out(const char *name, long v)
{
    printf("{\"case\":\"%s\",\"v\":%ld}\n", name, v);
    fflush(stdout);
}

/* ---- the program's handlers: count calls, remember si_addr and the mask, jump back */

volatile sig_atomic_t calls, pre_calls;
void *volatile last_addr;
volatile int last_sig, mask_has_self, mask_has_usr1;
sigjmp_buf back;

static void note(int sig, siginfo_t *si)
{
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    last_sig = sig;
    last_addr = si ? si->si_addr : (void *)-1;
    mask_has_self = sigismember(&m, sig);
    mask_has_usr1 = sigismember(&m, SIGUSR1);
}

void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    calls++;
    note(sig, si);
    siglongjmp(back, 1);
}

void on_fault_plain(int sig)
{
    calls++;
    note(sig, NULL);
    siglongjmp(back, 1);
}

void on_fault_pre(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    pre_calls++;
    note(sig, si);
    siglongjmp(back, 1);
}

/* ---- a handler set with the raw system call before any shim code runs (x86_64 only) */

#if defined(__x86_64__)
struct k_sigaction { void *handler; unsigned long flags; void *restorer; uint64_t mask; };
void sigchain_restorer(void);
__asm__(".text\n.globl sigchain_restorer\n.type sigchain_restorer,@function\nsigchain_restorer:\n"
        "  mov $15, %eax\n  syscall\n  hlt\n");
int pre_installed;
static void pre_install(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)envp;
    if (argc < 2 || strcmp(argv[1], "all") != 0)
        return;
    struct k_sigaction k = { (void *)on_fault_pre, SA_SIGINFO | 0x04000000UL /* SA_RESTORER */, (void *)sigchain_restorer, 0 };
    pre_installed = syscall(SYS_rt_sigaction, SIGSEGV, &k, NULL, 8) == 0;
    /* and SIGBUS through libc, still before the shim's constructor */
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_sigaction = on_fault_pre;
    a.sa_flags = SA_SIGINFO;
    sigemptyset(&a.sa_mask);
    pre_installed &= sigaction(SIGBUS, &a, NULL) == 0;
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **, char **) = pre_install;
#else
int pre_installed;
#endif

/* ---- faults */

volatile int sink;

/* A real fault at addr (read): 1 when the handler ran and came back. */
int fault_at(volatile int *addr)
{
    if (sigsetjmp(back, 1) == 0) {
        sink = *addr;
        return 0;
    }
    return 1;
}

void set_handler(int sig, void (*h)(int, siginfo_t *, void *), int flags, int mask_usr1)
{
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_sigaction = h;
    a.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&a.sa_mask);
    if (mask_usr1)
        sigaddset(&a.sa_mask, SIGUSR1);
    sigaction(sig, &a, NULL);
}

/* A file mapping of two pages over a one-page file: the second page gives SIGBUS. */
static uint8_t *truncated_map(void)
{
    char path[] = "/tmp/xendm-sigchain-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    if (ftruncate(fd, 4096) != 0)
        return NULL;
    void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

/* ---- DM_OP */

uint8_t *good; /* one page, read-write */
struct bad shared_bad;

/* nr_vcpus (op 20) with its 32-byte buffer at p: the ioctl's -1/errno or 0. */
long dm_op(void *p, size_t size)
{
    struct pc_buf b = { p, size };
    struct pc_dm_op u = { (uint16_t)dom, 1, &b };
    if (p == good) {
        memset(good, 0, 32);
        good[0] = 20;
    }
    errno = 0;
    long r = ioctl(pfd, IOCTL_DM_OP, &u);
    return r < 0 ? -errno : r;
}

long dm_op_raw(const void *arg)
{
    errno = 0;
    long r = ioctl(pfd, IOCTL_DM_OP, arg);
    return r < 0 ? -errno : r;
}


int bad_dm_ops(const struct bad *b, const char *prefix)
{
    char name[64];
    int efault = 0, n = 0;
    struct { const char *what; void *p; } cases[] = {
        { "unmapped", b->unmapped },
        { "readonly", b->ro },
        { "prot_none", b->none },
        { "noncanonical", (void *)(uintptr_t)0xdead000000000000ULL },
        { "straddle", b->unmapped - 16 },
        { "truncated_file", b->bus },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long r = dm_op(cases[i].p, 32);
        if (prefix) {
            snprintf(name, sizeof(name), "%s_%s", prefix, cases[i].what);
            out(name, r);
        }
        efault += r == -EFAULT;
        n++;
    }
    struct pc_dm_op u = { (uint16_t)dom, 1, (const struct pc_buf *)b->unmapped };
    long r1 = dm_op_raw(b->unmapped), r2 = dm_op_raw(&u);
    if (prefix) {
        snprintf(name, sizeof(name), "%s_arg_unmapped", prefix);
        out(name, r1);
        snprintf(name, sizeof(name), "%s_ubufs_unmapped", prefix);
        out(name, r2);
    }
    efault += (r1 == -EFAULT) + (r2 == -EFAULT);
    return efault == n + 2;
}

int make_bad(struct bad *b)
{
    uint8_t *m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    /* page 0 writable (straddle starts there), page 1 unmapped, page 2 read-only, page 3 PROT_NONE */
    munmap(m + 4096, 4096);
    mprotect(m + 2 * 4096, 4096, PROT_READ);
    mprotect(m + 3 * 4096, 4096, PROT_NONE);
    b->unmapped = m + 4096;
    b->ro = m + 2 * 4096;
    b->none = m + 3 * 4096;
    uint8_t *t = truncated_map();
    if (!t)
        return -1;
    b->bus = t + 4096;
    return 0;
}

int open_privcmd(void)
{
    pfd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    good = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return pfd >= 0 && good != MAP_FAILED ? 0 : -1;
}

/* ---- dying by the default action (run in a fresh process each) */

static int die(const char *what)
{
    if (open_privcmd() < 0 || make_bad(&shared_bad) < 0)
        return 2;
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    sigemptyset(&a.sa_mask);
    volatile int *where = (volatile int *)8;
    if (strcmp(what, "segv-dfl") == 0) {
        set_handler(SIGSEGV, on_fault, 0, 0);
        a.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &a, NULL);
    } else if (strcmp(what, "segv-signal-dfl") == 0) {
        signal(SIGSEGV, on_fault_plain);
        signal(SIGSEGV, SIG_DFL);
    } else if (strcmp(what, "segv-ign") == 0) {
        a.sa_handler = SIG_IGN;
        sigaction(SIGSEGV, &a, NULL);
    } else if (strcmp(what, "segv-blocked") == 0) {
        set_handler(SIGSEGV, on_fault, 0, 0);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
    } else if (strcmp(what, "segv-resethand") == 0) {
        set_handler(SIGSEGV, on_fault, SA_RESETHAND, 0);
        fault_at((volatile int *)8);
    } else if (strcmp(what, "bus-dfl") == 0) {
        where = (volatile int *)shared_bad.bus;
    } else if (strcmp(what, "kill-dfl") == 0 || strcmp(what, "kill-ign") == 0) {
        a.sa_handler = what[5] == 'd' ? SIG_DFL : SIG_IGN;
        sigaction(SIGSEGV, &a, NULL);
        where = NULL;
    } else {
        return 2;
    }
    /* the shim's faults stay its own, whatever the program's disposition */
    if (!bad_dm_ops(&shared_bad, NULL) || dm_op(good, 32) != 0)
        return 3;
    if (where)
        sink = *where;
    else
        kill(getpid(), SIGSEGV);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "all") == 0) {
        dom = (unsigned)atoi(argv[2]);
        return all(!(argc > 3 && strcmp(argv[3], "noguard") == 0));
    }
    if (argc >= 4 && strcmp(argv[1], "die") == 0) {
        dom = (unsigned)atoi(argv[3]);
        return die(argv[2]);
    }
    if (argc >= 3 && strcmp(argv[1], "ign-at-start") == 0) {
        dom = (unsigned)atoi(argv[2]);
        struct sigaction old;
        memset(&old, 0, sizeof(old));
        sigaction(SIGSEGV, NULL, &old);
        out("ign_reported", old.sa_handler == SIG_IGN);
        if (open_privcmd() < 0 || make_bad(&shared_bad) < 0)
            return 2;
        out("ign_bad_dm_ops", bad_dm_ops(&shared_bad, NULL));
        volatile int *volatile p = (volatile int *)8;
        sink = *p;
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "loop") == 0) {
        long n = atol(argv[2]);
        dom = (unsigned)atoi(argv[3]);
        if (argc > 4 && strcmp(argv[4], "block-bus") == 0) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGBUS);
            pthread_sigmask(SIG_BLOCK, &s, NULL);
        }
        if (open_privcmd() < 0)
            return 2;
        long ok = 0;
        for (long i = 0; i < n; i++)
            ok += dm_op(good, 32) == 0 && good[8] > 0;
        out("loop_ok", ok);
        return 0;
    }
    fprintf(stderr, "usage: sigchain all DOM [noguard] | die CASE DOM | ign-at-start DOM | loop N DOM [block-bus]\n");
    return 2;
}
