/*
 * Checked access to the caller's memory without a system call, and the chaining of the program's
 * SIGSEGV/SIGBUS handlers (docs/shim.md, "Bad pointers").
 *
 * A guarded copy is a memcpy with this thread's landing point set (a guard_frame: a sigjmp_buf saved
 * without the signal mask, so no system call).  The shim's SIGSEGV/SIGBUS handler, installed at init with
 * SA_SIGINFO|SA_NODEFER|SA_ONSTACK, sees a fault inside the guarded range and jumps back to the
 * landing point, which returns -1: the kernel's exception table for copy_from_user/copy_to_user
 * (mirrors arch/x86/mm/extable.c:fixup_exception).  SA_NODEFER leaves the signal unblocked after the
 * jump, so the next fault is caught too.
 *
 * The shim's handler stays installed: sigaction and the other libc calls that install a handler
 * record the program's action for these two signals (returned as oldact later), and a fault that is
 * not the shim's is handed to it as the kernel would deliver it (the program's sa_mask and the signal
 * itself blocked unless SA_NODEFER, SA_RESETHAND honoured, SA_SIGINFO's three arguments).  SIG_DFL,
 * and SIG_IGN for a fault, put the default action back and return, so the faulting instruction
 * faults again and the process dies of the signal, as without the shim.
 *
 * A fault with the signal blocked is not delivered at all: the kernel kills the process.  So a
 * thread whose mask blocks SIGSEGV or SIGBUS takes the process_vm_readv path instead; the mask is
 * asked for once per thread and again after each change made through libc (interposed below).
 */
#include "shim.h"

#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

int guard_on; /* the handler is installed: guarded copies replace process_vm_* */
/* XENDM_SHIM_GUARD=2: guarded copies in a thread with SIGBUS blocked too (a SIGBUS there kills) */
static int guard_bus_blocked_ok;

/*
 * This thread's guarded copy: where a fault lands and the caller's range it may fault in.  Frames
 * nest (a copy in a signal handler that interrupted another copy) and live on the copier's stack.
 */
struct guard_frame {
    sigjmp_buf env;
    uintptr_t lo, hi;
    struct guard_frame *prev;
};
static TLS struct guard_frame *guard_top;

/* This thread's mask as last seen: MASK_UNKNOWN until asked, then whether SIGSEGV or SIGBUS is blocked. */
enum { MASK_UNKNOWN, MASK_OPEN, MASK_BLOCKED };
static TLS int mask_state;

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
typedef int (*intfn_int)(int);
typedef void (*longjmp_fn)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
static sigaction_fn real_sigaction;
static sigmask_fn real_sigprocmask, real_pthread_sigmask;
static intfn_int real_sigblock, real_sigsetmask, real_sighold, real_sigrelse;
static longjmp_fn real_siglongjmp, real_longjmp, real__longjmp, real_longjmp_chk;
typedef int (*setcontext_fn)(const ucontext_t *);
typedef int (*swapcontext_fn)(ucontext_t *, const ucontext_t *);
static setcontext_fn real_setcontext;
static swapcontext_fn real_swapcontext;
/* The libc calls that install a handler by its address alone, each passed on for the other signals. */
typedef sighandler_t (*handler_fn)(int, sighandler_t);
enum { H_SIGNAL, H_BSD_SIGNAL, H_SSIGNAL, H_SYSV_SIGNAL, H_SYSV_SIGNAL2, H_SIGSET, H_COUNT };
static const char *const handler_names[H_COUNT] = { "signal", "bsd_signal", "ssignal", "sysv_signal", "__sysv_signal", "sigset" };
static handler_fn real_handler[H_COUNT];
static intfn_int real_sigignore;

#define GUARD_FLAGS (SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART)

/* ---- the program's actions for SIGSEGV and SIGBUS, read by the handler without a lock */

/* Two copies per signal; writers fill the idle one and publish its index (cur). */
static struct {
    struct sigaction slot[2];
    int cur;
} prog[2];
static int prog_lock;

static int sig_index(int sig)
{
    return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

static int raw_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return (int)syscall(SYS_rt_sigprocmask, how, set, old, (size_t)(_NSIG / 8));
}

static void prog_get(int i, struct sigaction *out)
{
    *out = prog[i].slot[__atomic_load_n(&prog[i].cur, __ATOMIC_ACQUIRE)];
}

/* Records act (when not NULL) and gives the action it replaces (when old is not NULL). */
static void prog_swap(int i, const struct sigaction *act, struct sigaction *old)
{
    sigset_t all, saved;
    sigfillset(&all);
    /* Every signal blocked: a handler in this thread cannot meet the lock held. */
    raw_sigmask(SIG_SETMASK, &all, &saved);
    while (__atomic_exchange_n(&prog_lock, 1, __ATOMIC_ACQUIRE))
        ;
    int c = prog[i].cur;
    if (old)
        *old = prog[i].slot[c];
    if (act) {
        prog[i].slot[c ^ 1] = *act;
        __atomic_store_n(&prog[i].cur, c ^ 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&prog_lock, 0, __ATOMIC_RELEASE);
    raw_sigmask(SIG_SETMASK, &saved, NULL);
}

/* A fork while another thread held the lock leaves the child's copy held by nobody. */
void guard_after_fork_child(void)
{
    __atomic_store_n(&prog_lock, 0, __ATOMIC_RELEASE);
}

/* ---- the handler */

/* The default action, as the kernel takes it for an unhandled fault (mirrors kernel/signal.c:force_sig_info_to_task). */
static void die_by_default(int sig, const siginfo_t *si)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    __atomic_store_n(&guard_on, 0, __ATOMIC_RELAXED);
    real_sigaction(sig, &dfl, NULL);
    /* A fault happens again when the handler returns; a signal someone sent is sent again. */
    if (si->si_code <= 0)
        syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid), sig);
}

/*
 * Delivers a signal that is not the shim's to the program's action: SA_RESETHAND as in
 * kernel/signal.c:get_signal, the mask as in kernel/signal.c:signal_delivered.
 */
static void chain(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    int i = sig_index(sig);
    struct sigaction pa;
    prog_get(i, &pa);
    if (pa.sa_handler == SIG_DFL || (pa.sa_handler == SIG_IGN && si->si_code > 0)) {
        die_by_default(sig, si);
    } else if (pa.sa_handler != SIG_IGN) {
        if (pa.sa_flags & SA_RESETHAND) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof(dfl));
            dfl.sa_handler = SIG_DFL;
            prog_swap(i, &dfl, NULL);
        }
        sigset_t block = pa.sa_mask;
        if (!(pa.sa_flags & SA_NODEFER))
            sigaddset(&block, sig);
        /* Blocked until the handler returns (the kernel's sigreturn restores the mask of uc). */
        raw_sigmask(SIG_BLOCK, &block, NULL);
        /* asked again after: the handler may change the mask it returns to (uc_mask) */
        mask_state = MASK_UNKNOWN;
        errno = saved_errno;
        if (pa.sa_flags & SA_SIGINFO)
            pa.sa_sigaction(sig, si, uc);
        else
            pa.sa_handler(sig);
        mask_state = MASK_UNKNOWN;
    }
    errno = saved_errno;
}

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    struct guard_frame *f = guard_top;
    uintptr_t a = (uintptr_t)si->si_addr;
    /* Ours: a fault the kernel raised (not a kill) inside the range being copied; a general
     * protection fault (a non-canonical address on x86) carries no address. */
    if (f && si->si_code > 0 && ((a >= f->lo && a < f->hi) || si->si_code == SI_KERNEL)) {
        guard_top = f->prev;
        real_siglongjmp(f->env, 1); /* not through the wrapper below: nothing to re-check */
    }
    chain(sig, si, uc);
}

/* ---- guarded access */

static int mask_open(void)
{
    if (mask_state == MASK_UNKNOWN) {
        sigset_t cur;
        if (raw_sigmask(SIG_BLOCK, NULL, &cur) != 0)
            return 0;
        int bus = sigismember(&cur, SIGBUS) && !guard_bus_blocked_ok;
        mask_state = sigismember(&cur, SIGSEGV) || bus ? MASK_BLOCKED : MASK_OPEN;
    }
    return mask_state == MASK_OPEN;
}

int guard_usable(void)
{
    return __atomic_load_n(&guard_on, __ATOMIC_RELAXED) && mask_open();
}

static int range_ok(const void *user, size_t n)
{
    return (uintptr_t)user + n >= (uintptr_t)user;
}

/* memcpy(dst, src, n) where user (src or dst) is the caller's range: 0, or -1 when it faults. */
int guard_copy(void *dst, const void *src, size_t n, const void *user)
{
    if (!range_ok(user, n))
        return -1;
    struct guard_frame f;
    f.lo = (uintptr_t)user;
    f.hi = f.lo + n;
    f.prev = guard_top;
    if (sigsetjmp(f.env, 0) != 0)
        return -1; /* the handler has popped the frame */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_top = &f;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    memcpy(dst, src, n);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_top = f.prev;
    return 0;
}

static __attribute__((noinline)) void touch_pages(uintptr_t a, uintptr_t end)
{
    for (; a < end; a = (a | 4095) + 1)
        __atomic_fetch_or((volatile uint8_t *)a, 0, __ATOMIC_RELAXED);
}

/*
 * 0 when every page of [p, p+n) can be written, else -1; the memory is left as it is (an atomic
 * OR of zero into one byte per page, a write access that changes nothing even with another thread
 * writing there).  The check lock_pages makes by pinning the buffer writable (drivers/xen/privcmd.c).
 */
int guard_probe_write(void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (!range_ok(p, n))
        return -1;
    struct guard_frame f;
    f.lo = (uintptr_t)p;
    f.hi = f.lo + n;
    f.prev = guard_top;
    if (sigsetjmp(f.env, 0) != 0)
        return -1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_top = &f;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    touch_pages((uintptr_t)p, (uintptr_t)p + n);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_top = f.prev;
    return 0;
}

/* ---- install (init.c, with XENDM_SOCKET set and XENDM_SHIM_GUARD not 0) */

static void *next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void guard_resolve(void)
{
    real_sigaction = (sigaction_fn)next("sigaction");
    real_sigprocmask = (sigmask_fn)next("sigprocmask");
    real_pthread_sigmask = (sigmask_fn)next("pthread_sigmask");
    real_sigblock = (intfn_int)next("sigblock");
    real_sigsetmask = (intfn_int)next("sigsetmask");
    real_sighold = (intfn_int)next("sighold");
    real_sigrelse = (intfn_int)next("sigrelse");
    real_siglongjmp = (longjmp_fn)next("siglongjmp");
    real_longjmp = (longjmp_fn)next("longjmp");
    real__longjmp = (longjmp_fn)next("_longjmp");
    real_longjmp_chk = (longjmp_fn)next("__longjmp_chk");
    for (int i = 0; i < H_COUNT; i++)
        real_handler[i] = (handler_fn)next(handler_names[i]);
    real_sigignore = (intfn_int)next("sigignore");
    real_setcontext = (setcontext_fn)next("setcontext");
    real_swapcontext = (swapcontext_fn)next("swapcontext");
}

void guard_install(int bus_blocked_ok)
{
    guard_bus_blocked_ok = bus_blocked_ok;
    if (!real_sigaction || !real_siglongjmp)
        return;
    struct sigaction mine;
    memset(&mine, 0, sizeof(mine));
    mine.sa_sigaction = guard_handler;
    mine.sa_flags = GUARD_FLAGS;
    sigemptyset(&mine.sa_mask);
    struct sigaction old[2];
    if (real_sigaction(SIGSEGV, &mine, &old[0]) != 0)
        return;
    if (real_sigaction(SIGBUS, &mine, &old[1]) != 0) {
        real_sigaction(SIGSEGV, &old[0], NULL);
        return;
    }
    /* What was there before (a handler set before the shim loaded, SIG_IGN inherited across exec) is the program's. */
    for (int i = 0; i < 2; i++)
        prog_swap(i, &old[i], NULL);
    __atomic_store_n(&guard_on, 1, __ATOMIC_RELEASE);
}

/* ---- libc entry points that install a handler */

static int guarded_sig(int sig)
{
    return sig_index(sig) >= 0 && __atomic_load_n(&guard_on, __ATOMIC_ACQUIRE);
}

/* mirrors kernel/signal.c:rt_sigaction: the new action is read first, the old one written last. */
static int shim_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    init();
    if (!real_sigaction) {
        errno = ENOSYS;
        return -1;
    }
    if (!guarded_sig(sig))
        return real_sigaction(sig, act, oldact);
    struct sigaction in, prev;
    if (act && mem_read(&in, act, sizeof(in)) < 0) {
        errno = EFAULT;
        return -1;
    }
    if (act) {
        /* the kernel never blocks SIGKILL and SIGSTOP (sigdelsetmask in do_sigaction) */
        sigdelset(&in.sa_mask, SIGKILL);
        sigdelset(&in.sa_mask, SIGSTOP);
    }
    prog_swap(sig_index(sig), act ? &in : NULL, &prev);
    if (oldact && mem_write(oldact, &prev, sizeof(prev)) < 0) {
        errno = EFAULT;
        return -1;
    }
    return 0;
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    return shim_sigaction(sig, act, oldact);
}

SHIM_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    return shim_sigaction(sig, act, oldact);
}

static sighandler_t pass_handler(int which, int sig, sighandler_t h)
{
    if (!real_handler[which]) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return real_handler[which](sig, h);
}

/* For SIGSEGV and SIGBUS: sigaction with the flags and mask glibc gives each call. */
static sighandler_t install(int which, int sig, sighandler_t h, int flags, int mask_self)
{
    init();
    if (!guarded_sig(sig))
        return pass_handler(which, sig, h);
    if (h == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = h;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (mask_self)
        sigaddset(&act.sa_mask, sig);
    if (shim_sigaction(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* signal(), bsd_signal(), ssignal(): BSD semantics, the handler stays and interrupted calls restart. */
SHIM_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    return install(H_SIGNAL, sig, h, SA_RESTART, 1);
}

SHIM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return install(H_BSD_SIGNAL, sig, h, SA_RESTART, 1);
}

SHIM_EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
    return install(H_SSIGNAL, sig, h, SA_RESTART, 1);
}

/* System V: the handler is reset on delivery and the signal not blocked in it. */
SHIM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    return install(H_SYSV_SIGNAL, sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

SHIM_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
    return install(H_SYSV_SIGNAL2, sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

SHIM_EXPORT int sigignore(int sig)
{
    init();
    if (!guarded_sig(sig)) {
        if (!real_sigignore) {
            errno = ENOSYS;
            return -1;
        }
        return real_sigignore(sig);
    }
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = SIG_IGN;
    sigemptyset(&act.sa_mask);
    return shim_sigaction(sig, &act, NULL);
}

/* ---- libc entry points that change the mask: this thread's mask is asked again before the next copy */

static int shim_sigmask(sigmask_fn fn, int how, const sigset_t *set, sigset_t *old)
{
    init();
    if (!fn)
        return ENOSYS;
    int r = fn(how, set, old);
    if (set)
        mask_state = MASK_UNKNOWN;
    return r;
}

SHIM_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int r = shim_sigmask(real_sigprocmask, how, set, old);
    if (!real_sigprocmask) {
        errno = r;
        return -1;
    }
    return r;
}

SHIM_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return shim_sigmask(real_pthread_sigmask, how, set, old);
}

static int mask_call(intfn_int fn, int arg)
{
    init();
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    int r = fn(arg);
    mask_state = MASK_UNKNOWN;
    return r;
}

SHIM_EXPORT int sigblock(int mask)
{
    return mask_call(real_sigblock, mask);
}

SHIM_EXPORT int sigsetmask(int mask)
{
    return mask_call(real_sigsetmask, mask);
}

SHIM_EXPORT int sighold(int sig)
{
    return mask_call(real_sighold, sig);
}

SHIM_EXPORT int sigrelse(int sig)
{
    return mask_call(real_sigrelse, sig);
}

/* System V sigset: SIG_HOLD blocks the signal; a disposition installs it and unblocks the signal. */
SHIM_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
    init();
    if (!guarded_sig(sig)) {
        mask_state = MASK_UNKNOWN; /* SIG_HOLD blocks, anything else unblocks */
        return pass_handler(H_SIGSET, sig, disp);
    }
    sigset_t one, was;
    sigemptyset(&one);
    sigaddset(&one, sig);
    struct sigaction prev;
    if (disp == SIG_HOLD) {
        if (shim_sigmask(real_pthread_sigmask, SIG_BLOCK, &one, &was) != 0 || shim_sigaction(sig, NULL, &prev) < 0)
            return SIG_ERR;
    } else {
        struct sigaction act;
        memset(&act, 0, sizeof(act));
        act.sa_handler = disp;
        sigemptyset(&act.sa_mask);
        if (disp == SIG_ERR || shim_sigaction(sig, &act, &prev) < 0) {
            errno = EINVAL;
            return SIG_ERR;
        }
        if (shim_sigmask(real_pthread_sigmask, SIG_UNBLOCK, &one, &was) != 0)
            return SIG_ERR;
    }
    return sigismember(&was, sig) ? SIG_HOLD : prev.sa_handler;
}

/* A jump that restores a saved mask changes it behind the wrappers above. */
static void before_jump(struct __jmp_buf_tag *env)
{
    init();
    if (env->__mask_was_saved)
        mask_state = MASK_UNKNOWN;
}

SHIM_EXPORT __attribute__((noreturn)) void siglongjmp(struct __jmp_buf_tag env[1], int val)
{
    before_jump(env);
    real_siglongjmp(env, val);
}

SHIM_EXPORT __attribute__((noreturn)) void longjmp(struct __jmp_buf_tag env[1], int val)
{
    before_jump(env);
    (real_longjmp ? real_longjmp : real_siglongjmp)(env, val);
}

SHIM_EXPORT __attribute__((noreturn)) void _longjmp(struct __jmp_buf_tag env[1], int val)
{
    before_jump(env);
    (real__longjmp ? real__longjmp : real_siglongjmp)(env, val);
}

SHIM_EXPORT __attribute__((noreturn)) void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
    before_jump(env);
    (real_longjmp_chk ? real_longjmp_chk : real_siglongjmp)(env, val);
}

/* A context switch installs the target's uc_sigmask (the mask is asked again in this thread). */
SHIM_EXPORT int setcontext(const ucontext_t *ucp)
{
    init();
    mask_state = MASK_UNKNOWN;
    if (!real_setcontext) {
        errno = ENOSYS;
        return -1;
    }
    return real_setcontext(ucp);
}

SHIM_EXPORT int swapcontext(ucontext_t *oucp, const ucontext_t *ucp)
{
    init();
    mask_state = MASK_UNKNOWN;
    if (!real_swapcontext) {
        errno = ENOSYS;
        return -1;
    }
    return real_swapcontext(oucp, ucp);
}
