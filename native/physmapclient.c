/*
 * Populates guest frames with the real libxenctrl (xc_domain_populate_physmap_exact, which wraps
 * memory_op in a multicall), maps them with libxenforeignmemory and checks both mappings share the
 * page. One JSON line per step. Usage: physmapclient DOMID BASE_GFN
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>

#define N 4

static void line(const char *what, int ret, int err)
{
    printf("{\"case\":\"%s\",\"ret\":%d,\"errno\":%d}\n", what, ret, ret < 0 ? err : 0);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint32_t dom = (uint32_t)strtoul(argv[1], NULL, 0);
    xen_pfn_t base = (xen_pfn_t)strtoull(argv[2], NULL, 0);
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    if (!xch || !fmem) {
        line("open", -1, errno);
        return 1;
    }
    xen_pfn_t pfns[N];
    for (int i = 0; i < N; i++)
        pfns[i] = base + (xen_pfn_t)i;

    int r = xc_domain_populate_physmap_exact(xch, dom, N, 0, 0, pfns);
    line("populate", r, errno);

    int errs[N];
    uint8_t *a = xenforeignmemory_map(fmem, dom, PROT_READ | PROT_WRITE, N, pfns, errs);
    line("map", a ? 0 : -1, errno);
    if (a) {
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += errs[i] != 0 || a[i * 4096] != 0;
        line("map errs and zeroed", -bad, 0);
        for (int i = 0; i < N; i++)
            memset(a + i * 4096, 0xa0 + i, 4096);
        uint8_t *b = xenforeignmemory_map(fmem, dom, PROT_READ, N, pfns, errs);
        int same = b != NULL;
        for (int i = 0; b && i < N; i++)
            same &= b[i * 4096 + 17] == 0xa0 + i;
        line("second map sees the writes", same ? 0 : -1, 0);
        if (b)
            xenforeignmemory_unmap(fmem, b, N);
        xenforeignmemory_unmap(fmem, a, N);
    }

    xen_pfn_t big = base + 0x200000;
    r = xc_domain_populate_physmap_exact(xch, dom, 1, 21, 0, &big);
    line("order 21", r, errno);
    xen_pfn_t unaligned = base + 0x201;
    r = xc_domain_populate_physmap_exact(xch, dom, 1, 9, 0, &unaligned);
    line("unaligned order 9", r, errno);
    xen_pfn_t other = base;
    r = xc_domain_populate_physmap_exact(xch, 0x77, 1, 0, 0, &other);
    line("no such domain", r, errno);
    r = xc_domain_populate_physmap_exact(xch, dom, 0, 0, 0, pfns);
    line("no extents", r, errno);

    uint64_t v = 0;
    r = xc_hvm_param_set(xch, dom, HVM_PARAM_ACPI_S_STATE, 3);
    line("hvm_param_set ACPI_S_STATE 3", r, errno);
    r = xc_hvm_param_get(xch, dom, HVM_PARAM_ACPI_S_STATE, &v);
    printf("{\"case\":\"hvm_param_get ACPI_S_STATE\",\"ret\":%d,\"value\":%llu}\n", r, (unsigned long long)v);
    r = xc_hvm_param_set(xch, dom, HVM_PARAM_ACPI_S_STATE, 5);
    line("hvm_param_set ACPI_S_STATE 5", r, errno);
    r = xc_hvm_param_set(xch, dom, HVM_PARAM_ACPI_S_STATE, 0);
    line("hvm_param_set ACPI_S_STATE 0", r, errno);
    r = xc_hvm_param_get(xch, dom, HVM_PARAM_ACPI_S_STATE, &v);
    printf("{\"case\":\"hvm_param_get ACPI_S_STATE\",\"ret\":%d,\"value\":%llu}\n", r, (unsigned long long)v);
    r = xc_hvm_param_set(xch, dom, HVM_PARAM_TIMER_MODE, 1);
    line("hvm_param_set TIMER_MODE 1", r, errno);
    r = xc_hvm_param_get(xch, dom, HVM_PARAM_TIMER_MODE, &v);
    printf("{\"case\":\"hvm_param_get TIMER_MODE\",\"ret\":%d,\"value\":%llu}\n", r, (unsigned long long)v);
    r = xc_hvm_param_set(xch, dom, HVM_PARAM_DM_DOMAIN, 0);
    line("hvm_param_set DM_DOMAIN (deprecated)", r, errno);
    r = xc_hvm_param_set(xch, dom, 39, 0);
    line("hvm_param_set 39", r, errno);
    r = xc_hvm_param_get(xch, 0x77, HVM_PARAM_TIMER_MODE, &v);
    line("hvm_param_get no such domain", r, errno);

    xenforeignmemory_close(fmem);
    xc_interface_close(xch);
    return 0;
}
