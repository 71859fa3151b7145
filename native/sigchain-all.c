/* sigchain all: the cases of one process (see sigchain.c). */
#include "sigchain.h"

/* ---- threads */

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

int all(int guarded)
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
