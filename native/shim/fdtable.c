/* Connections and the fd table: which fds are Xen devices, and the hidden sockets behind them. */
#include "shim.h"

struct conn *fd_table[FD_TABLE_SIZE];
pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The hidden sockets, by fd: a program that closes an fd it did not open
 * (a close-everything loop) must not leave a connection writing its frames
 * into whatever file reuses the number.
 */
struct conn *sock_table[FD_TABLE_SIZE];

void sock_set(int fd, struct conn *c)
{
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    __atomic_store_n(&sock_table[fd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
}

void sock_clear(int fd, struct conn *c)
{
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    if (sock_table[fd] == c)
        __atomic_store_n(&sock_table[fd], NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
}


/* The program closes (or dup2s over) a connection's socket: the connection stops using it (EIO). */
void hidden_closed(int fd)
{
    struct conn *c;
    pthread_mutex_lock(&table_lock);
    c = sock_table[fd];
    if (c) {
        c->refs++;
        __atomic_store_n(&sock_table[fd], NULL, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&table_lock);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->sock == fd) {
        c->sock = -1;
        c->broken = 1;
    }
    pthread_mutex_unlock(&c->lock);
    conn_put(c);
}

int conn_abandon(struct conn *c)
{
    int e = errno;
    conn_put(c);
    errno = e;
    return -1;
}

void conn_put(struct conn *c)
{
    int last;
    pthread_mutex_lock(&table_lock);
    last = --c->refs == 0;
    pthread_mutex_unlock(&table_lock);
    if (last) {
        if (c->sock >= 0) {
            sock_clear(c->sock, c);
            /* Linux closes the fd even when close reports EINTR: nothing to retry. */
            real.close(c->sock);
        }
        fp_drop(c);
        pthread_mutex_destroy(&c->lock);
        free(c->buf);
        free(c);
    }
}

/* A reference to the connection behind fd, or NULL. */
struct conn *conn_get(int fd)
{
    struct conn *c = NULL;
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return NULL;
    pthread_mutex_lock(&table_lock);
    c = fd_table[fd];
    if (c)
        c->refs++;
    pthread_mutex_unlock(&table_lock);
    return c;
}

/* Forget fd (it was closed or replaced); drops the table's reference. */
void table_drop(int fd)
{
    struct conn *c;
    if (fd < 0 || fd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    c = fd_table[fd];
    __atomic_store_n(&fd_table[fd], NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (c)
        conn_put(c);
}

/* Make newfd refer to c too (after a successful dup of a privcmd fd). */
void table_alias(int newfd, struct conn *c)
{
    struct conn *old;
    if (newfd < 0 || newfd >= FD_TABLE_SIZE)
        return;
    pthread_mutex_lock(&table_lock);
    old = fd_table[newfd];
    c->refs++;
    __atomic_store_n(&fd_table[newfd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (old)
        conn_put(old);
}


/* Makes fd (a new fd of the program) refer to c, which gives its reference to the table. fd or -1/EMFILE. */
int table_install(int fd, struct conn *c)
{
    if (fd < 0 || fd >= FD_TABLE_SIZE) {
        real.close(fd);
        conn_put(c);
        errno = EMFILE;
        return -1;
    }
    pthread_mutex_lock(&table_lock);
    struct conn *old = fd_table[fd];
    __atomic_store_n(&fd_table[fd], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (old) /* a stale entry: the fd was closed behind our back */
        conn_put(old);
    return fd;
}

/*
 * In the child of a fork only the forking thread exists: a lock another
 * thread held at that moment (a call in flight on a connection, the table,
 * the capture file) would never be released.  Every such lock starts afresh
 * in the child; the connections themselves are replaced on their first use
 * (conn_after_fork), so no half-done exchange is continued.
 */
void shim_after_fork_child(void)
{
    pthread_mutex_init(&table_lock, NULL);
    for (int fd = 0; fd < FD_TABLE_SIZE; fd++) {
        struct conn *c = fd_table[fd];
        if (c && !c->forked) {
            pthread_mutex_init(&c->lock, NULL);
            c->forked = 1;
        }
        c = sock_table[fd];
        if (c && !c->forked) {
            pthread_mutex_init(&c->lock, NULL);
            c->forked = 1;
        }
    }
    for (int fd = 0; fd < FD_TABLE_SIZE; fd++) {
        if (fd_table[fd])
            fd_table[fd]->forked = 0;
        if (sock_table[fd])
            sock_table[fd]->forked = 0;
    }
    capture_after_fork_child();
}

/* The type of the connection behind fd (CONN_PRIVCMD, CONN_EVTCHN), or -1. */
int fd_conn_type(int fd)
{
    struct conn *c = conn_get(fd);
    if (!c)
        return -1;
    int t = c->type;
    conn_put(c);
    return t;
}
