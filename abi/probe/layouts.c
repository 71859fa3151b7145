/*
 * Layout probe: sizes, alignments, member offsets, bitfield positions and
 * constants of the Xen DMOP ABI, taken from the installed Xen headers.
 *
 * Every value is a compile-time constant stored in the record table
 * probe_recs[] (section "xendm_probe").  Records use only char and uint32_t
 * arrays plus 8-aligned byte images, so their layout is the same on every
 * target: a cross-compiled object's section can be read by the host build.
 *
 *   layouts --arch x86_64               print the table linked into this
 *                                       program (and re-measure every
 *                                       bitfield at run time)
 *   layouts --blob FILE --arch ARCH     print a table extracted from a
 *                                       cross-compiled object with
 *                                       objcopy -O binary -j xendm_probe
 *
 * Bitfields are measured, not assumed: each record holds the bytes of a
 * zeroed struct with the field set to all-ones, and with the field set to 1.
 */
#include "probe.h"
#include "constants.h"
#include "types.h"

#define PROBE_REC_SIZE 288

struct probe_rec {
    char kind[4];   /* "M" header, "T" type, "F" field, "B" bitfield, "C" constant, "E" end */
    char tname[60];
    char fname[64];
    uint32_t v[8];
    union {
        unsigned char b[64];
        struct ioreq ioreq;
        struct buf_ioreq buf_ioreq;
    } __attribute__((aligned(8))) ones, one;
};

_Static_assert(sizeof(struct probe_rec) == PROBE_REC_SIZE, "record layout must not depend on the target");
_Static_assert(offsetof(struct probe_rec, ones) == 160, "record layout must not depend on the target");

#define REC_T(NAME, CT) \
    { "T", NAME, "", { sizeof(CT), _Alignof(CT) } },
#define REC_F(NAME, CT, FIELD) \
    { "F", NAME, #FIELD, { offsetof(CT, FIELD), sizeof(((CT *)0)->FIELD) } },
#define REC_B(NAME, CT, FIELD, SLOT) \
    { "B", NAME, #FIELD, { sizeof(CT) }, .ones.SLOT.FIELD = -1, .one.SLOT.FIELD = 1 },
#define REC_K(NAME) REC_KV(#NAME, NAME)
#define REC_KX(NAME, EXPR) REC_KV(#NAME, EXPR)
#define REC_KV(NAME, EXPR) \
    { "C", NAME, "", { (uint32_t)(uint64_t)(EXPR), (uint32_t)((uint64_t)(EXPR) >> 32), (EXPR) < 0 } },

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverflow"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

__attribute__((section("xendm_probe"), used, aligned(8)))
const struct probe_rec probe_recs[] = {
    { "M", "xendm-layout-probe", "", { PROBE_REC_SIZE, sizeof(void *), sizeof(long) } },
    PROBE_TYPES(REC_T, REC_F, REC_B)
    PROBE_CONSTANTS(REC_K, REC_KX)
    /* xen/errno.h: expand its XEN_ERRNO(name, value) list (tools view) */
#define XEN_ERRNO(name, value) { "C", "XEN_" #name, "", { (uint32_t)XEN_##name, 0, 0, value } },
#include <xen/errno.h>
    { "E", "", "", { 0 } },
};

#pragma GCC diagnostic pop

#ifdef PROBE_MAIN
#include <stdlib.h>
#include <string.h>
#include "json.h"

static void die(const char *msg, const struct probe_rec *r)
{
    fprintf(stderr, "layouts: %s%s%s%s%s\n", msg, r ? " (" : "", r ? r->tname : "",
            r ? "." : "", r ? r->fname : "");
    if (r)
        fputs(")\n", stderr);
    exit(1);
}

/* Re-measure a bitfield at run time (native build only). */
static int runtime_bitfield_matches(const struct probe_rec *r)
{
#define RT_T(NAME, CT)
#define RT_F(NAME, CT, FIELD)
#define RT_B(NAME, CT, FIELD, SLOT) \
    if (!strcmp(r->tname, NAME) && !strcmp(r->fname, #FIELD)) { \
        CT s; \
        memset(&s, 0, sizeof s); \
        s.FIELD = -1; \
        if (memcmp(&s, r->ones.b, sizeof s)) \
            return 0; \
        memset(&s, 0, sizeof s); \
        s.FIELD = 1; \
        return !memcmp(&s, r->one.b, sizeof s); \
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverflow"
    PROBE_TYPES(RT_T, RT_F, RT_B)
#pragma GCC diagnostic pop
    return 0;
}

static int bit(const unsigned char *b, unsigned i)
{
    return (b[i / 8] >> (i % 8)) & 1;
}

static void emit_bitfield(const struct probe_rec *r)
{
    unsigned nbits = r->v[0] * 8, lo = 0, hi = 0, count = 0;
    if (r->v[0] > sizeof r->ones.b)
        die("bitfield container too large", r);
    for (unsigned i = 0; i < nbits; i++) {
        if (bit(r->ones.b, i)) {
            if (!count)
                lo = i;
            hi = i;
            count++;
        }
        /* value 1 must set exactly the lowest bit of the field */
        if (bit(r->one.b, i) != (count == 1 && i == lo && bit(r->ones.b, i)))
            die("bitfield value 1 is not the field's lowest bit", r);
    }
    if (!count || hi - lo + 1 != count)
        die("bitfield bits are not contiguous", r);
    jobj(NULL);
    jstr("name", r->fname);
    jint("offset", lo / 8);
    jint("size", (lo + count + 7) / 8 - lo / 8);
    jint("bit_offset", lo);
    jint("bit_width", count);
    jobj_end();
}

static void emit(const struct probe_rec *recs, size_t n, const char *arch, int native)
{
    size_t i = 0;
    if (n < 2 || strcmp(recs[0].kind, "M") || strcmp(recs[0].tname, "xendm-layout-probe") ||
        recs[0].v[0] != PROBE_REC_SIZE)
        die("not a layout probe table", NULL);
    jout = stdout;
    jobj(NULL);
    jstr("arch", arch);
    jarr("types");
    for (i = 1; i < n && recs[i].kind[0] != 'C' && recs[i].kind[0] != 'E'; i++) {
        const struct probe_rec *r = &recs[i];
        if (r->kind[0] == 'T') {
            if (i > 1) {
                jarr_end();
                jobj_end();
            }
            jobj(NULL);
            jstr("name", r->tname);
            jint("size", r->v[0]);
            jint("align", r->v[1]);
            jarr("fields");
        } else if (r->kind[0] == 'F') {
            jobj(NULL);
            jstr("name", r->fname);
            jint("offset", r->v[0]);
            jint("size", r->v[1]);
            jobj_end();
        } else if (r->kind[0] == 'B') {
            if (native && !runtime_bitfield_matches(r))
                die("run-time bitfield image differs from the compile-time one", r);
            emit_bitfield(r);
        } else {
            die("unknown record", r);
        }
    }
    jarr_end();
    jobj_end();
    jarr_end();
    jobj("constants");
    for (; i < n && recs[i].kind[0] == 'C'; i++) {
        const struct probe_rec *r = &recs[i];
        uint64_t v = (uint64_t)r->v[1] << 32 | r->v[0];
        if (r->v[2])
            die("negative constant", r);
        if (v > 9007199254740991ull)
            die("constant does not fit a JSON number", r);
        if (!strncmp(r->tname, "XEN_E", 5) && r->v[3] != r->v[0])
            die("errno enumerator differs from its XEN_ERRNO value", r);
        jint(r->tname, (long long)v);
    }
    jobj_end();
    jobj_end();
    fputc('\n', stdout);
    if (i >= n || recs[i].kind[0] != 'E')
        die("table not terminated", NULL);
}

int main(int argc, char **argv)
{
    const char *arch = NULL, *blob = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--arch"))
            arch = argv[i + 1];
        else if (!strcmp(argv[i], "--blob"))
            blob = argv[i + 1];
        else
            die("usage: layouts [--blob FILE] --arch ARCH", NULL);
    }
    if (!arch)
        die("usage: layouts [--blob FILE] --arch ARCH", NULL);
    if (!blob) {
        emit(probe_recs, sizeof probe_recs / sizeof probe_recs[0], arch, 1);
        return 0;
    }
    FILE *f = fopen(blob, "rb");
    if (!f)
        die("cannot open blob", NULL);
    static struct probe_rec recs[1024];
    size_t n = fread(recs, sizeof recs[0], 1024, f);
    if (!feof(f) || ferror(f))
        die("blob too large or unreadable", NULL);
    fclose(f);
    emit(recs, n, arch, 0);
    return 0;
}
#endif
