/* XENDM_CAPTURE: one JSON line per intercepted open and ioctl. */
#include "shim.h"

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static int capture_fd = -1;

static void sb_reserve(struct sbuf *s, size_t more)
{
    if (s->oom || s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->len + more + 1)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return;
    }
    s->p = p;
    s->cap = cap;
}

void sb_printf(struct sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(s, (size_t)n);
    if (s->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void sb_hex(struct sbuf *s, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    sb_reserve(s, 2 * n + 2);
    if (s->oom)
        return;
    s->p[s->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        s->p[s->len++] = digits[b[i] >> 4];
        s->p[s->len++] = digits[b[i] & 15];
    }
    s->p[s->len++] = '"';
    s->p[s->len] = 0;
}

void sb_json_str(struct sbuf *s, const char *str)
{
    sb_printf(s, "\"");
    for (; *str; str++) {
        unsigned char ch = (unsigned char)*str;
        if (ch == '"' || ch == '\\')
            sb_printf(s, "\\%c", ch);
        else if (ch < 0x20)
            sb_printf(s, "\\u%04x", ch);
        else
            sb_printf(s, "%c", ch);
    }
    sb_printf(s, "\"");
}

void capture_emit(struct sbuf *s)
{
    if (s->oom || !s->p) {
        free(s->p);
        return;
    }
    sb_printf(s, "\n");
    int saved = errno;
    pthread_mutex_lock(&capture_lock);
    if (capture_fd < 0)
        capture_fd = real.open(capture_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (capture_fd >= 0 && !s->oom) {
        size_t off = 0;
        while (off < s->len) {
            ssize_t w = write(capture_fd, s->p + off, s->len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            off += (size_t)w;
        }
    }
    pthread_mutex_unlock(&capture_lock);
    free(s->p);
    errno = saved;
}

/* The program closed (or dup2'd over) the capture file's fd: reopen it on the next line. */
void capture_forget(int fd)
{
    if (fd < 0 || __atomic_load_n(&capture_fd, __ATOMIC_ACQUIRE) != fd)
        return;
    pthread_mutex_lock(&capture_lock);
    if (capture_fd == fd)
        __atomic_store_n(&capture_fd, -1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&capture_lock);
}

/*
 * Programs may label what follows in the capture (the conformance driver
 * names each library call): looked up with dlsym(RTLD_DEFAULT, ...).
 */
SHIM_EXPORT void xendm_shim_mark(const char *label)
{
    init();
    if (!capture_on() || !label)
        return;
    struct sbuf s = { 0 };
    sb_printf(&s, "{\"mark\":");
    sb_json_str(&s, label);
    sb_printf(&s, "}");
    capture_emit(&s);
}

void capture_open(const char *path, int flags, int ret, int err)
{
    struct sbuf s = { 0 };
    sb_printf(&s, "{\"event\":\"open\",\"path\":");
    sb_json_str(&s, path);
    sb_printf(&s, ",\"flags\":\"0x%x\",\"ret\":%d,\"errno\":%d}", (unsigned)flags, ret < 0 ? -1 : 0,
              ret < 0 ? err : 0);
    capture_emit(&s);
}

void capture_result(struct sbuf *s, long ret, int err)
{
    sb_printf(s, ",\"ret\":%ld,\"errno\":%d}", ret, ret == -1 ? err : 0);
    capture_emit(s);
}


/* In a forked child: the capture lock may have been held by a thread that is not there. */
void capture_after_fork_child(void)
{
    pthread_mutex_init(&capture_lock, NULL);
}
