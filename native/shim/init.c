/* The libc functions the shim wraps, and its configuration (read once, at load). */
#include "shim.h"

struct real_fns real;

static pthread_once_t init_once = PTHREAD_ONCE_INIT, config_once = PTHREAD_ONCE_INIT;
static int config_done;
int shim_enabled;
int no_dmop;
/* XENDM_SHIM_SPIN_US: how long a call polls for its reply before sleeping (0: never). */
long spin_ns;
/* XENDM_SHIM_TIMEOUT_MS: the longest one request/reply may take before the call fails EIO. */
long timeout_ms = 30000;
/* XENDM_SHIM_CONNECT_MS: how long the first connection waits for the socket to appear. */
long connect_ms = 1000;
unsigned caller_domid;
char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
int socket_path_too_long;
char capture_path[4096];
pid_t cached_pid;
int vm_rw_broken; /* process_vm_readv unusable (seccomp): fall back to NULL checks */

static void *next_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static void after_fork_child(void)
{
    cached_pid = (pid_t)syscall(SYS_getpid);
    guard_after_fork_child();
    shim_after_fork_child();
}

/* A decimal environment value in [lo, hi], else `dflt`. */
static long env_long(const char *name, long lo, long hi, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end != 0 || errno != 0 || n < lo || n > hi) {
        fprintf(stderr, "xendm-shim: %s=%s is not a number in %ld..%ld: using %ld\n", name, v, lo, hi, dflt);
        return dflt;
    }
    return n;
}

static void do_init(void)
{
    real.open = (open_fn)next_sym("open");
    real.open64 = (open_fn)next_sym("open64");
    real.open_2 = (open2_fn)next_sym("__open_2");
    real.open64_2 = (open2_fn)next_sym("__open64_2");
    real.openat = (openat_fn)next_sym("openat");
    real.openat64 = (openat_fn)next_sym("openat64");
    real.openat_2 = (openat2_fn)next_sym("__openat_2");
    real.openat64_2 = (openat2_fn)next_sym("__openat64_2");
    real.ioctl = (ioctl_fn)next_sym("ioctl");
    real.close = (close_fn)next_sym("close");
    real.dup = (dup_fn)next_sym("dup");
    real.dup2 = (dup2_fn)next_sym("dup2");
    real.dup3 = (dup3_fn)next_sym("dup3");
    real.fcntl = (fcntl_fn)next_sym("fcntl");
    real.fcntl64 = (fcntl_fn)next_sym("fcntl64");
    real.mmap = (mmap_fn)next_sym("mmap");
    real.mmap64 = (mmap64_fn)next_sym("mmap64");
    real.munmap = (munmap_fn)next_sym("munmap");
    real.read = (read_fn)next_sym("read");
    real.read_chk = (read_chk_fn)next_sym("__read_chk");
    real.write = (write_fn)next_sym("write");
    real.readv = (readv_fn)next_sym("readv");
    real.poll = (poll_fn)next_sym("poll");
    real.ppoll = (ppoll_fn)next_sym("ppoll");
    real.poll_chk = (poll_chk_fn)next_sym("__poll_chk");
    real.ppoll_chk = (ppoll_chk_fn)next_sym("__ppoll_chk");
    real.select = (select_fn)next_sym("select");
    real.pselect = (pselect_fn)next_sym("pselect");
    real.epoll_ctl = (epoll_ctl_fn)next_sym("epoll_ctl");
    if (!real.open64) real.open64 = real.open;
    if (!real.openat64) real.openat64 = real.openat;
    if (!real.fcntl64) real.fcntl64 = real.fcntl;
    guard_resolve();
}

/* The environment: read once libc has set it up (the caller may come earlier, from .preinit_array). */
static void do_config(void)
{
    const char *sock = getenv("XENDM_SOCKET");
    if (sock && *sock) {
        shim_enabled = 1;
        if (strlen(sock) >= sizeof(socket_path) - 1)
            socket_path_too_long = 1;
        else
            strcpy(socket_path, sock);
    }
    const char *spin = getenv("XENDM_SHIM_SPIN_US");
    if (spin && *spin) {
        char *end;
        unsigned long v = strtoul(spin, &end, 10);
        if (*end == 0 && v <= 100000)
            spin_ns = (long)v * 1000;
    }
    timeout_ms = env_long("XENDM_SHIM_TIMEOUT_MS", 1, 3600000, timeout_ms);
    connect_ms = env_long("XENDM_SHIM_CONNECT_MS", 0, 600000, connect_ms);
    const char *nd = getenv("XENDM_SHIM_NO_DMOP");
    no_dmop = nd && *nd && strcmp(nd, "0") != 0;
    const char *caller = getenv("XENDM_CALLER");
    if (caller && *caller) {
        char *end;
        unsigned long v = strtoul(caller, &end, 0);
        caller_domid = (*end == 0 && v <= 0xffff) ? (unsigned)v : 0;
    }
    const char *cap = getenv("XENDM_CAPTURE");
    if (cap && *cap && strlen(cap) < sizeof(capture_path))
        strcpy(capture_path, cap);
    fp_init_env();
    /* XENDM_SHIM_GUARD: 0 checked copies through process_vm_readv/writev only (no SIGSEGV/SIGBUS
     * handler); 1 (default) guarded copies where SIGSEGV and SIGBUS are unblocked; 2 also where SIGBUS is blocked */
    long guard = env_long("XENDM_SHIM_GUARD", 0, 2, 1);
    if (shim_enabled && guard > 0)
        guard_install(guard == 2);
    cached_pid = (pid_t)syscall(SYS_getpid);
    pthread_atfork(NULL, NULL, after_fork_child);
    __atomic_store_n(&config_done, 1, __ATOMIC_RELEASE);
}

void init_real(void)
{
    pthread_once(&init_once, do_init);
}

/*
 * Every entry point calls this first.  A call made before libc's own initialisation (a program's
 * .preinit_array) finds no environment yet: it gets the libc functions, and the shim stays
 * disabled until the environment is there (at the latest, the shim's constructor).
 */
void init(void)
{
    pthread_once(&init_once, do_init);
    if (!__atomic_load_n(&config_done, __ATOMIC_ACQUIRE) && environ != NULL)
        pthread_once(&config_once, do_config);
}

__attribute__((constructor)) static void shim_ctor(void)
{
    init();
}
