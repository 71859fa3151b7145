/*
 * Golden vectors for targets that are only cross-compiled (i386, arm64,
 * arm32): the types whose layout or shape differs from x86_64, initialised
 * as static objects of the real C types with the patterns of patterns.h.
 * generate.sh extracts the section "xendm_vectors" from the object and the
 * host build of vectors.c (--blob) writes the JSON.
 */
#define VREC_TARGET
#include "probe.h"
#include "patterns.h"
#include "vectors_cross.h"

#define MSZ(T, m) sizeof(((T *)0)->m)
#define VF(T, path, m, PAT) \
    { path, offsetof(T, m), MSZ(T, m), (uint32_t)GEN(PAT, offsetof(T, m), MSZ(T, m)), \
      (uint32_t)(GEN(PAT, offsetof(T, m), MSZ(T, m)) >> 32) }
#define VI(T, m, PAT) ((__typeof__(((T *)0)->m))GEN(PAT, offsetof(T, m), MSZ(T, m)))
#define VP(T, m, PAT) ((__typeof__(((T *)0)->m))(uintptr_t)GEN(PAT, offsetof(T, m), MSZ(T, m)))

#if defined(__arm__) || defined(__aarch64__)
/* union { void *p; uint64_aligned_t q; }: the wire value is q */
#define XBUF_H(PAT) VF(struct xen_dm_op_buf, "h.q", h.q, PAT)
#define XBUF_H_INIT(PAT) .h.q = VI(struct xen_dm_op_buf, h.q, PAT)
#else
#define XBUF_H(PAT) VF(struct xen_dm_op_buf, "h.p", h.p, PAT)
#define XBUF_H_INIT(PAT) .h.p = VP(struct xen_dm_op_buf, h.p, PAT)
#endif

#define XBUF(PAT) \
    { "xen_dm_op_buf", #PAT, sizeof(struct xen_dm_op_buf), 2, \
      { XBUF_H(PAT), VF(struct xen_dm_op_buf, "size", size, PAT) }, PAT, \
      .obj.xen_dm_op_buf = { XBUF_H_INIT(PAT), .size = VI(struct xen_dm_op_buf, size, PAT) } },
#define PBUF(PAT) \
    { "privcmd_dm_op_buf", #PAT, sizeof(struct privcmd_dm_op_buf), 2, \
      { VF(struct privcmd_dm_op_buf, "uptr", uptr, PAT), VF(struct privcmd_dm_op_buf, "size", size, PAT) }, PAT, \
      .obj.privcmd_dm_op_buf = { .uptr = VP(struct privcmd_dm_op_buf, uptr, PAT), \
                                 .size = VI(struct privcmd_dm_op_buf, size, PAT) } },
#define PDMOP(PAT) \
    { "privcmd_dm_op", #PAT, sizeof(struct privcmd_dm_op), 3, \
      { VF(struct privcmd_dm_op, "dom", dom, PAT), VF(struct privcmd_dm_op, "num", num, PAT), \
        VF(struct privcmd_dm_op, "ubufs", ubufs, PAT) }, PAT, \
      .obj.privcmd_dm_op = { .dom = VI(struct privcmd_dm_op, dom, PAT), .num = VI(struct privcmd_dm_op, num, PAT), \
                             .ubufs = VP(struct privcmd_dm_op, ubufs, PAT) } },
#define ALL_PATTERNS(X) X(P_ZERO) X(P_ONES) X(P_ONE) X(P_TOP) X(P_BYTES_LO) X(P_BYTES_HI) X(P_ALT_AA) X(P_ALT_55)

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

__attribute__((section("xendm_vectors"), used, aligned(8)))
const struct vrec vector_recs[] = {
    ALL_PATTERNS(XBUF)
    ALL_PATTERNS(PBUF)
    ALL_PATTERNS(PDMOP)
};
