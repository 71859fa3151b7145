/* sigchain: what its two files share (see sigchain.c). */
#ifndef SIGCHAIN_H
#define SIGCHAIN_H
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

/* The bad pointers a DM_OP may carry, each answered -EFAULT. */
struct bad {
    uint8_t *unmapped, *ro, *none, *bus;
};

extern unsigned dom;
extern int pfd;
extern uint8_t *good;
extern struct bad shared_bad;
extern int pre_installed;

/* the program's handlers and what they saw */
extern volatile sig_atomic_t calls, pre_calls;
extern void *volatile last_addr;
extern volatile int last_sig, mask_has_self, mask_has_usr1;
extern sigjmp_buf back;
extern volatile int sink;
void on_fault(int sig, siginfo_t *si, void *uc);
void on_fault_plain(int sig);
void on_fault_pre(int sig, siginfo_t *si, void *uc);

void out(const char *name, long v);
int fault_at(volatile int *addr);
void set_handler(int sig, void (*h)(int, siginfo_t *, void *), int flags, int mask_usr1);
long dm_op(void *p, size_t size);
long dm_op_raw(const void *arg);
int bad_dm_ops(const struct bad *b, const char *prefix);
int make_bad(struct bad *b);
int open_privcmd(void);

/* sigchain-all.c */
int all(int guarded);

#endif
