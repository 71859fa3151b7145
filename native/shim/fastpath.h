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
#define FP_OFF_REQ_SEQ 64
#define FP_OFF_REP_SEQ 128
#define FP_OFF_POLLING 192
#define FP_OFF_WAITING 256
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

#endif
