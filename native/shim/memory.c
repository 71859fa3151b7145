/*
 * The caller's memory: read and write without crashing on bad pointers.  Guarded copies (guard.c)
 * when this thread can take them, else process_vm_readv/writev on the process itself, else (both
 * forbidden, a seccomp filter) plain copies that catch NULL only.
 */
#include "shim.h"

/* 0 on success, -1 when any byte of [src, src+n) is not readable. */
int mem_read(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (src == NULL)
        return -1;
    if (guard_usable())
        return guard_copy(dst, src, n, src);
    if (!vm_rw_broken) {
        struct iovec local = { dst, n }, remote = { (void *)src, n };
        ssize_t r = process_vm_readv(cached_pid, &local, 1, &remote, 1, 0);
        if (r == (ssize_t)n)
            return 0;
        if (r >= 0 || errno == EFAULT)
            return -1;
        vm_rw_broken = 1; /* ENOSYS / EPERM: no checked access available */
    }
    memcpy(dst, src, n);
    return 0;
}

/* 0 on success, -1 when any byte of [dst, dst+n) is not writable. */
int mem_write(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (dst == NULL)
        return -1;
    if (guard_usable())
        return guard_copy(dst, src, n, dst);
    if (!vm_rw_broken) {
        struct iovec local = { (void *)src, n }, remote = { dst, n };
        ssize_t r = process_vm_writev(cached_pid, &local, 1, &remote, 1, 0);
        if (r == (ssize_t)n)
            return 0;
        if (r >= 0 || errno == EFAULT)
            return -1;
        vm_rw_broken = 1;
    }
    memcpy(dst, src, n);
    return 0;
}

/*
 * Copies the C string at src into dst (at most cap bytes, NUL included when
 * it fits).  Returns the bytes copied, or -1 when the string's first byte, or
 * any byte before its NUL within cap, is unreadable (the kernel's EFAULT for a
 * path).  cap must be at most one page.
 */
long mem_read_str(char *dst, const char *src, size_t cap)
{
    if (src == NULL)
        return -1;
    const size_t page = 4096;
    uintptr_t a = (uintptr_t)src;
    size_t first = page - (a & (page - 1));
    if (first > cap)
        first = cap;
    if (guard_usable()) {
        /* The page the string starts in, then the rest: a NUL before the unreadable page is enough. */
        if (guard_copy(dst, src, first, src) < 0)
            return -1;
        if (first == cap || guard_copy(dst + first, src + first, cap - first, src + first) == 0)
            return (long)cap;
        return memchr(dst, 0, first) ? (long)first : -1;
    }
    if (vm_rw_broken) {
        size_t n = strnlen(src, cap);
        memcpy(dst, src, n < cap ? n + 1 : cap);
        return (long)(n < cap ? n + 1 : cap);
    }
    struct iovec local = { dst, cap };
    struct iovec remote[2] = { { (void *)src, first }, { (void *)(a + first), cap - first } };
    ssize_t r = process_vm_readv(cached_pid, &local, 1, remote, cap > first ? 2 : 1, 0);
    if (r < 0 && errno != EFAULT) {
        vm_rw_broken = 1;
        return mem_read_str(dst, src, cap);
    }
    if (r <= 0)
        return -1;
    if ((size_t)r < cap && memchr(dst, 0, (size_t)r) == NULL)
        return -1;
    return (long)r;
}

/* The buffers' contents before the call live in this thread's scratch area (no malloc per call). */
struct scratch {
    uint8_t *p;
    size_t cap;
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *arg)
{
    struct scratch *s = arg;
    free(s->p);
    free(s);
}

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

uint8_t *scratch(size_t need)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

