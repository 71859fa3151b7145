/*
 * Debian's real libxengnttab (gntdev and gntalloc) under the shim, on a host with no grants:
 * driven by test/native/gnt.test.ts, one JSON line per call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xengnttab.h>

#define LINE(what, rc) printf("{\"case\":\"%s\",\"ret\":%d,\"errno\":%d}\n", what, (rc) < 0 ? -1 : (rc), (rc) < 0 ? errno : 0)

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    LINE("gnttab open", g ? 0 : -1);
    if (!g)
        return 1;
    void *p = xengnttab_map_grant_ref(g, 1, 8, PROT_READ | PROT_WRITE);
    LINE("map grant ref", p ? 0 : -1);
    LINE("copy nothing", xengnttab_grant_copy(g, 0, NULL));
    static uint8_t local[4096];
    xengnttab_grant_copy_segment_t seg;
    memset(&seg, 0, sizeof(seg));
    seg.source.foreign.ref = 8;
    seg.source.foreign.domid = 1;
    seg.dest.virt = local;
    seg.len = 64;
    seg.flags = GNTCOPY_source_gref;
    int rc = xengnttab_grant_copy(g, 1, &seg);
    printf("{\"case\":\"copy one\",\"ret\":%d,\"status\":%d}\n", rc, seg.status);
    seg.flags = 0;
    LINE("copy local to local", xengnttab_grant_copy(g, 1, &seg));
    xengnttab_close(g);
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    LINE("gntshr open", s ? 0 : -1);
    if (!s)
        return 1;
    uint32_t ref;
    void *q = xengntshr_share_pages(s, 1, 1, &ref, 1);
    LINE("share pages", q ? 0 : -1);
    xengntshr_close(s);
    return 0;
}
