/* The caller's memory: read and write without crashing on bad pointers. */
#include "shim.h"

/* 0 on success, -1 when any byte of [src, src+n) is not readable. */
int mem_read(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (src == NULL)
        return -1;
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

