/*
 * sigchain: a program with its own SIGSEGV/SIGBUS handlers under the shim, one JSON line per case
 * ({"case":...,"v":N} with N a result, an errno or a count).
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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

struct pc_buf { void *uptr; size_t size; };
struct pc_dm_op { uint16_t dom; uint16_t num; const struct pc_buf *ubufs; };
#define IOCTL_DM_OP ((unsigned long)((sizeof(struct pc_dm_op) << 16) | (0x50 << 8) | 5))

static unsigned dom;
static int pfd = -1;

static void out(const char *name, long v)
{
    printf("{\"case\":\"%s\",\"v\":%ld}\n", name, v);
    fflush(stdout);
}

/* ---- the program's handlers: count calls, remember si_addr and the mask, jump back */

static volatile sig_atomic_t calls, pre_calls;
static void *volatile last_addr;
static volatile int last_sig, mask_has_self, mask_has_usr1;
static sigjmp_buf back;

static void note(int sig, siginfo_t *si)
{
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    last_sig = sig;
    last_addr = si ? si->si_addr : (void *)-1;
    mask_has_self = sigismember(&m, sig);
    mask_has_usr1 = sigismember(&m, SIGUSR1);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    calls++;
    note(sig, si);
    siglongjmp(back, 1);
}

static void on_fault_plain(int sig)
{
    calls++;
    note(sig, NULL);
    siglongjmp(back, 1);
}

static void on_fault_pre(int sig, siginfo_t *si, void *uc)
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
static int pre_installed;
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
static int pre_installed;
#endif

/* ---- faults */

static volatile int sink;

/* A real fault at addr (read): 1 when the handler ran and came back. */
static int fault_at(volatile int *addr)
{
    if (sigsetjmp(back, 1) == 0) {
        sink = *addr;
        return 0;
    }
    return 1;
}

static void set_handler(int sig, void (*h)(int, siginfo_t *, void *), int flags, int mask_usr1)
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

static uint8_t *good; /* one page, read-write */

/* nr_vcpus (op 20) with its 32-byte buffer at p: the ioctl's -1/errno or 0. */
static long dm_op(void *p, size_t size)
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

static long dm_op_raw(const void *arg)
{
    errno = 0;
    long r = ioctl(pfd, IOCTL_DM_OP, arg);
    return r < 0 ? -errno : r;
}

/* The bad pointers a DM_OP may carry, each answered -EFAULT. */
struct bad {
    uint8_t *unmapped, *ro, *none, *bus;
};

static int bad_dm_ops(const struct bad *b, const char *prefix)
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

static int make_bad(struct bad *b)
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

static int open_privcmd(void)
{
    pfd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    good = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return pfd >= 0 && good != MAP_FAILED ? 0 : -1;
}

/* ---- threads */

static struct bad shared_bad;

/* The workers' buffers are static: a page mapped now could fill the hole of b->unmapped. */
static uint8_t worker_buf[4][64];

static void *worker(void *arg)
{
    long rounds = 200, ok = 0;
    uint8_t *mine = worker_buf[(intptr_t)arg];
    for (long i = 0; i < rounds; i++) {
        struct pc_buf b = { mine, 32 };
        struct pc_dm_op u = { (uint16_t)dom, 1, &b };
        memset(mine, 0, 32);
        mine[0] = 20;
        int good_call = ioctl(pfd, IOCTL_DM_OP, &u) == 0 && mine[8] > 0;
        b.uptr = shared_bad.unmapped;
        int bad_call = ioctl(pfd, IOCTL_DM_OP, &u) == -1 && errno == EFAULT;
        ok += good_call && bad_call;
    }
    return (void *)(intptr_t)ok;
}

static void *blocked_worker(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSEGV);
    sigaddset(&s, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    long ok = bad_dm_ops(&shared_bad, NULL) && dm_op(good, 32) == 0;
    return (void *)(intptr_t)ok;
}

/* SIGALRM: sigaction (a guarded copy of its own) in a handler that may interrupt one of the shim's copies */
static volatile sig_atomic_t alarm_calls, alarm_efault;
static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    struct sigaction old;
    alarm_calls++;
    if (sigaction(SIGSEGV, (const struct sigaction *)shared_bad.unmapped, NULL) < 0 && errno == EFAULT &&
        sigaction(SIGSEGV, NULL, &old) == 0 && old.sa_sigaction == on_fault)
        alarm_efault++;
    errno = saved;
}

static void nested(void)
{
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_handler = on_alarm;
    sigemptyset(&a.sa_mask);
    sigaction(SIGALRM, &a, NULL);
    struct itimerval it = { { 0, 50 }, { 0, 50 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long efault = 0, n = 3000;
    for (long i = 0; i < n; i++)
        efault += dm_op(shared_bad.unmapped - 16, 32) == -EFAULT && dm_op(good, 32) == 0;
    memset(&it, 0, sizeof(it));
    setitimer(ITIMER_REAL, &it, NULL);
    out("nested_main_ok", efault == n);
    out("nested_alarms", alarm_calls > 0);
    out("nested_alarm_ok", alarm_efault == alarm_calls);
}

static long join(pthread_t t)
{
    void *r;
    pthread_join(t, &r);
    return (long)(intptr_t)r;
}

/* The handler the kernel holds for sig (the raw system call, past libc and the shim). */
static void *kernel_handler(int sig)
{
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k;
    memset(&k, 0, sizeof(k));
    if (syscall(SYS_rt_sigaction, sig, NULL, &k, 8) != 0)
        return (void *)-1;
    return k.handler;
}

/* A stack overflow, caught on the alternate signal stack (SA_ONSTACK), as language runtimes do. */
static uint8_t altstack[64 * 1024];
static volatile int on_altstack;

static void on_overflow(int sig, siginfo_t *si, void *uc)
{
    volatile uint8_t here = 0;
    on_altstack = (uintptr_t)&here >= (uintptr_t)altstack && (uintptr_t)&here < (uintptr_t)altstack + sizeof(altstack);
    on_fault(sig, si, uc);
}

static int recurse(long n)
{
    volatile uint8_t frame[1024];
    frame[0] = (uint8_t)n;
    if (n > 1000000000L)
        return 0;
    return recurse(n + 1) + frame[0];
}

static int overflow(void)
{
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    set_handler(SIGSEGV, on_overflow, SA_ONSTACK, 0);
    int caught = 0;
    if (sigsetjmp(back, 1) == 0)
        sink = recurse(0);
    else
        caught = 1;
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    return caught;
}

/* swapcontext into a context whose mask blocks SIGSEGV: the shim's copies must not fault there */
static ucontext_t main_ctx, blocked_ctx;
static uint8_t ctx_stack[64 * 1024];
static volatile int ctx_ok;

static void in_blocked_ctx(void)
{
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    ctx_ok = sigismember(&m, SIGSEGV) && bad_dm_ops(&shared_bad, NULL) && dm_op(good, 32) == 0;
}

static int context_switch(void)
{
    if (getcontext(&blocked_ctx) != 0)
        return 0;
    blocked_ctx.uc_stack.ss_sp = ctx_stack;
    blocked_ctx.uc_stack.ss_size = sizeof(ctx_stack);
    blocked_ctx.uc_link = &main_ctx;
    sigaddset(&blocked_ctx.uc_sigmask, SIGSEGV);
    makecontext(&blocked_ctx, in_blocked_ctx, 0);
    if (swapcontext(&main_ctx, &blocked_ctx) != 0)
        return 0;
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    return ctx_ok && !sigismember(&m, SIGSEGV) && dm_op(good, 32) == 0;
}

static volatile sig_atomic_t usr1_calls;
static void on_usr1(int sig)
{
    (void)sig;
    usr1_calls++;
}

static int all(int guarded)
{
    struct sigaction old;
    memset(&old, 0, sizeof(old));
    out("pre_installed", pre_installed);
    sigaction(SIGSEGV, NULL, &old);
    out("before_init_reported", pre_installed && (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_fault_pre);
    out("before_init_fault", fault_at((volatile int *)16));
    out("before_init_calls", pre_calls);
    out("before_init_si_addr", (long)(uintptr_t)last_addr);

    if (open_privcmd() < 0 || make_bad(&shared_bad) < 0) {
        out("setup", -1);
        return 1;
    }
    memset(&old, 0, sizeof(old));
    sigaction(SIGBUS, NULL, &old);
    out("before_init_bus_reported", pre_installed && old.sa_sigaction == on_fault_pre);
    pre_calls = 0;
    out("before_init_bus_fault", fault_at((volatile int *)shared_bad.bus) && pre_calls == 1 && last_sig == SIGBUS);
    /* after the shim's init: sigaction replaces the program's handler (and reports the old one) */
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_sigaction = on_fault;
    a.sa_flags = SA_SIGINFO;
    sigemptyset(&a.sa_mask);
    sigaddset(&a.sa_mask, SIGUSR1);
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, &a, &old);
    out("replaced_reported", old.sa_sigaction == on_fault_pre);
    sigaction(SIGBUS, &a, NULL);
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, NULL, &old);
    out("after_init_reported", (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_fault && sigismember(&old.sa_mask, SIGUSR1));

    calls = 0;
    pre_calls = 0;
    out("null_deref_handled", fault_at((volatile int *)24));
    out("null_deref_si_addr", (long)(uintptr_t)last_addr);
    out("null_deref_sig", last_sig);
    out("handler_mask_self", mask_has_self);
    out("handler_mask_usr1", mask_has_usr1);
    volatile int *busp = (volatile int *)shared_bad.bus;
    out("sigbus_handled", fault_at(busp + 1));
    out("sigbus_sig", last_sig);
    out("sigbus_si_addr_ok", last_addr == (void *)(busp + 1));
    out("handler_calls", calls);

    /* the kernel keeps the shim's handler for SIGSEGV; other signals are the program's own */
    out("kernel_segv_handler_is_programs", kernel_handler(SIGSEGV) == (void *)on_fault);
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    out("usr1_passed_through", kernel_handler(SIGUSR1) == (void *)on_usr1 && usr1_calls == 1);

    /* the shim's own faults: EFAULT, the program's handler never runs */
    calls = 0;
    out("dm_op_good", dm_op(good, 32));
    out("dm_op_good_vcpus", good[8]);
    bad_dm_ops(&shared_bad, "dm_op");
    errno = 0;
    out("open_bad_path", open((const char *)shared_bad.unmapped, O_RDONLY) < 0 ? -errno : 0);
    /* without the guard, sigaction is libc's own, which reads act in user space (a crash) */
    if (guarded) {
        errno = 0;
        out("sigaction_bad_act", sigaction(SIGSEGV, (const struct sigaction *)shared_bad.unmapped, NULL) < 0 ? -errno : 0);
        errno = 0;
        out("sigaction_bad_oldact", sigaction(SIGSEGV, NULL, (struct sigaction *)shared_bad.ro) < 0 ? -errno : 0);
    }
    out("calls_during_bad_calls", calls);

    /* SA_NODEFER: the signal stays unblocked in the handler; signal(): the BSD form */
    set_handler(SIGSEGV, on_fault, SA_NODEFER, 0);
    fault_at((volatile int *)32);
    out("nodefer_mask_self", mask_has_self);
    calls = 0;
    signal(SIGSEGV, on_fault_plain);
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, NULL, &old);
    out("signal_reported", old.sa_handler == on_fault_plain && !(old.sa_flags & SA_SIGINFO));
    out("signal_handled", fault_at((volatile int *)40) && calls == 1 && last_sig == SIGSEGV);
    /* the System V forms (deprecated, still exported): sysv_signal resets on delivery; sigignore; sigset's
     * SIG_HOLD blocks, a handler unblocks */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    calls = 0;
    sysv_signal(SIGSEGV, on_fault_plain);
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, NULL, &old);
    int sysv_flags = (old.sa_flags & (SA_RESETHAND | SA_NODEFER)) == (SA_RESETHAND | SA_NODEFER);
    fault_at((volatile int *)64);
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, NULL, &old);
    out("sysv_signal_once", sysv_flags && calls == 1 && old.sa_handler == SIG_DFL);
    sigignore(SIGSEGV);
    out("sigignore_reported", signal(SIGSEGV, on_fault_plain) == SIG_IGN);
    sigset_t m;
    int held = sigset(SIGSEGV, SIG_HOLD) == on_fault_plain;
    sigprocmask(SIG_BLOCK, NULL, &m);
    held = held && sigismember(&m, SIGSEGV);
    /* blocked now: the shim's copies take process_vm_readv, still EFAULT, no death */
    held = held && bad_dm_ops(&shared_bad, NULL) && dm_op(good, 32) == 0;
    held = held && sigset(SIGSEGV, on_fault_plain) == SIG_HOLD;
    sigprocmask(SIG_BLOCK, NULL, &m);
    out("sigset_hold", held && !sigismember(&m, SIGSEGV));
#pragma GCC diagnostic pop

    /* SA_RESETHAND: one delivery, then SIG_DFL */
    set_handler(SIGSEGV, on_fault, SA_RESETHAND, 0);
    out("resethand_first", fault_at((volatile int *)48));
    memset(&old, 0, sizeof(old));
    sigaction(SIGSEGV, NULL, &old);
    out("resethand_reported_dfl", old.sa_handler == SIG_DFL);
    /* a forked child: the shim's faults still EFAULT, a real one still reaches the program's handler */
    pid_t child = fork();
    if (child == 0) {
        set_handler(SIGSEGV, on_fault, 0, 0);
        calls = 0;
        int ok = bad_dm_ops(&shared_bad, NULL) && dm_op(good, 32) == 0 && calls == 0 && fault_at((volatile int *)56) && calls == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    out("fork_child_ok", child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    out("swapcontext_blocked", context_switch());
    out("stack_overflow_handled", overflow());
    out("stack_overflow_on_altstack", on_altstack);
    set_handler(SIGSEGV, on_fault, 0, 1);

    /* a thread with SIGSEGV and SIGBUS blocked still gets EFAULT (the kernel would kill on a blocked fault) */
    calls = 0;
    pthread_t t;
    pthread_create(&t, NULL, blocked_worker, NULL);
    out("blocked_thread_efault", join(t));
    /* four threads, each 200 good and 200 bad calls */
    pthread_t ts[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&ts[i], NULL, worker, (void *)(intptr_t)i);
    long ok = 0;
    for (int i = 0; i < 4; i++)
        ok += join(ts[i]);
    out("threads_ok", ok);
    if (guarded)
        nested();
    out("calls_during_threads", calls);
    return 0;
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
