/*
 * The shared-memory fast path beside a connection's socket (docs/protocol.md, "Fast path").
 * A region both sides map carries one request frame and then its reply; the socket stays the
 * control path (HELLO, FASTPATH, BYE) and carries the kicks and wake-ups that miss a spin.
 */
#ifndef XENDM_SHIM_FASTPATH_H
#define XENDM_SHIM_FASTPATH_H
#include <stddef.h>
#include <stdint.h>

#define KIND_FASTPATH 0x08 /* request a region; reply: i32 ret, i32 errno, UTF-8 path */
#define KIND_KICK 0x09     /* client -> server: the region holds a request (no reply) */
#define KIND_WAKE 0x89     /* server -> client: the reply is in the region (only when asked) */
#define FEATURE_FASTPATH 1u /* HELLO reply features bit 0 */

/* Region layout: one control page, then the data area (offsets in bytes, every word u32 LE). */
#define FP_MAGIC 0x50464458u /* "XDFP" */
#define FP_LAYOUT 2u
#define FP_OFF_MAGIC 0
#define FP_OFF_LAYOUT 4
#define FP_OFF_SIZE 8
#define FP_OFF_DATA_OFF 12
#define FP_OFF_DATA_SIZE 16
#define FP_OFF_FEATURES 20 /* server: bit 0, the event area below is live */
#define FP_FEATURE_EVENTS 1u
#define FP_OFF_REQ_SEQ 64
#define FP_OFF_REP_SEQ 128
#define FP_OFF_POLLING 192
#define FP_OFF_WAITING 256
/* The event area (evring.c): the file's ports server -> client, its unmasks client -> server. */
#define FP_OFF_EV_PROD 320 /* bits 0-30 ports pushed (server), bit 31 the client spins (client) */
#define FP_OFF_EV_CONS 384 /* client: ports taken (bits 0-30) */
#define FP_OFF_UM_PROD 448 /* client: unmasks pushed */
#define FP_OFF_UM_CONS 512 /* server: unmasks taken */
#define FP_OFF_UM_WANTED 576 /* server: 1 while a port of the file waits for its unmask (KICK it) */
#define FP_OFF_EV_RING 1024
#define FP_OFF_UM_RING 2048
#define FP_RING_SIZE 256u
#define FP_EV_SPINNING 0x80000000u
#define FP_EV_MASK 0x7fffffffu
#define FP_DATA_OFF 4096u
#define FP_DATA_SIZE (128u * 1024u)
#define FP_REGION_SIZE (FP_DATA_OFF + FP_DATA_SIZE)

struct conn;

/* XENDM_SHIM_FASTPATH (0 off, 1 on: the default) and XENDM_SHIM_FASTPATH_SPIN_US, read by init(). */
extern int fp_wanted;
extern long fp_spin_ns;

/*
 * After HELLO: asks for a region when the server offers one.  -1 when the exchange failed (the
 * connection is broken); 0 otherwise, on the fast path or, when the region could not be had, on the
 * socket.
 */
int fp_setup(struct conn *c, uint32_t features);
/* Unmaps the connection's region (close, or a forked child's copy of its parent's). */
void fp_drop(struct conn *c);
/* Whether a request of `kind` (body_len bytes at c->buf + HDR_SIZE) goes through the region. */
int fp_usable(const struct conn *c, uint8_t kind, size_t body_len);
/* transact() through the region: same contract (reply body at c->buf, -1/EIO and broken on failure). */
int fp_transact(struct conn *c, uint8_t kind, size_t body_len, size_t *reply_len);
/* Reads XENDM_SHIM_FASTPATH and XENDM_SHIM_FASTPATH_SPIN_US (from init()). */
void fp_init_env(void);
int64_t fp_now_ns(void);
static inline void fp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}
#define FP_SPIN_MIN_NS 1000L
#define FP_PREEMPTED_NS 30000L

/* ---- the event area of an evtchn file (evring.c) */

/* Event areas in use in this process (the poll interpositions look only when there is one). */
extern int ev_areas;
/* 1 once the process opened /dev/xen/evtchn (read and write then look at their fd). */
extern int ev_files_seen;
/* After EVTCHN_OPEN of a new file on c: its ports use the region's event area when the server has one. */
void ev_arm(struct conn *c);
/* Whether c's event area may be read (mapped, armed, this process's). */
int ev_readable(const struct conn *c);
/* Ports waiting in c's ring (0 when it has none). */
uint32_t ev_avail(const struct conn *c);
/* The client spins on c's ring (1) or stops (0); stopping answers whether ports arrived meanwhile. */
void ev_spin_begin(struct conn *c);
int ev_spin_end(struct conn *c);
/* Before an IOCTL_EVTCHN_NOTIFY on c: lets the ring carry the answer until the next wait ends, when safe. */
void ev_before_notify(struct conn *c);
/* This thread's id (cached). */
pid_t ev_tid(void);
/* RESET: the ports the ring holds are dropped, as those the socket holds. */
void ev_discard(struct conn *c);

#endif
