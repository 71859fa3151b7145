/*
 * Record format of the cross-compiled vector table (section "xendm_vectors"):
 * char and uint32_t arrays plus one 8-aligned byte image, so the layout is
 * the same on every target and the host can read a target's table.
 */
#ifndef XENDM_PROBE_VECTORS_CROSS_H
#define XENDM_PROBE_VECTORS_CROSS_H

#include <stdint.h>

#define VREC_MAXF 3
#define VREC_SIZE 192

struct vrec_field {
    char name[12];     /* member path inside the type, e.g. "h.q" */
    uint32_t off, size;
    uint32_t lo, hi;   /* the value assigned, as two 32-bit halves */
};

#define VREC_IMAGE_MEMBERS
struct vrec {
    char type[32];
    char name[32];
    uint32_t size, nfields;
    struct vrec_field f[VREC_MAXF];
    uint32_t pattern;  /* enum pat */
    union {
        unsigned char b[32];
#ifdef VREC_TARGET
        struct xen_dm_op_buf xen_dm_op_buf;
        struct privcmd_dm_op_buf privcmd_dm_op_buf;
        struct privcmd_dm_op privcmd_dm_op;
#endif
    } __attribute__((aligned(8))) obj;
};

_Static_assert(sizeof(struct vrec) == VREC_SIZE, "vector record layout must not depend on the target");

#endif
