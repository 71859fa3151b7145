/*
 * Minimal JSON writer whose output is byte-identical to
 * JSON.stringify(value, null, 2): two-space indent, "key": value,
 * empty containers as [] / {}.  The caller adds the final newline.
 */
#ifndef XENDM_PROBE_JSON_H
#define XENDM_PROBE_JSON_H

#include <stdio.h>
#include <stdint.h>
#include <inttypes.h>

static FILE *jout;
static int jdepth;
static int jcount[64];

static __attribute__((unused)) void jindent(void)
{
    for (int i = 0; i < jdepth; i++)
        fputs("  ", jout);
}

static __attribute__((unused)) void jstring(const char *s)
{
    fputc('"', jout);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', jout);
        fputc(*s, jout);
    }
    fputc('"', jout);
}

static __attribute__((unused)) void jkey(const char *key)
{
    if (jdepth > 0) {
        fputs(jcount[jdepth] ? ",\n" : "\n", jout);
        jindent();
        jcount[jdepth]++;
    }
    if (key) {
        jstring(key);
        fputs(": ", jout);
    }
}

static __attribute__((unused)) void jbegin(const char *key, char open)
{
    jkey(key);
    fputc(open, jout);
    jdepth++;
    jcount[jdepth] = 0;
}

static __attribute__((unused)) void jend(char close)
{
    int n = jcount[jdepth];
    jdepth--;
    if (n) {
        fputc('\n', jout);
        jindent();
    }
    fputc(close, jout);
}

static __attribute__((unused)) void jobj(const char *key) { jbegin(key, '{'); }
static __attribute__((unused)) void jobj_end(void) { jend('}'); }
static __attribute__((unused)) void jarr(const char *key) { jbegin(key, '['); }
static __attribute__((unused)) void jarr_end(void) { jend(']'); }

static __attribute__((unused)) void jint(const char *key, long long v)
{
    jkey(key);
    fprintf(jout, "%lld", v);
}

/* 64-bit values travel as decimal strings. */
static __attribute__((unused)) void ju64s(const char *key, uint64_t v)
{
    jkey(key);
    fprintf(jout, "\"%" PRIu64 "\"", v);
}

static __attribute__((unused)) void jstr(const char *key, const char *v)
{
    jkey(key);
    jstring(v);
}

static __attribute__((unused)) void jhex(const char *key, const void *p, size_t n)
{
    const unsigned char *b = p;
    jkey(key);
    fputc('"', jout);
    for (size_t i = 0; i < n; i++)
        fprintf(jout, "%02x", b[i]);
    fputc('"', jout);
}

#endif
