/*
 * Golden ioreq records: fills real ioreq_t / buf_ioreq_t values from the
 * installed xen/hvm/ioreq.h and prints them as JSON
 * ([{name, type, fields, hex}]) on stdout.  The emission tests compare the
 * fake hypervisor's page bytes against this output
 * (fixtures/records/ioreq-records.json).  The event channel ports are the ones
 * the fake hands out for server 0 (handle_bufioreq != 0) of a 2-vCPU guest:
 * vCPU 0 port 1, the buffered port 2, vCPU 1 port 3.
 *
 * Build: gcc -D__XEN_TOOLS__ -o ioreq_records ioreq_records.c
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t is 32 bytes");
_Static_assert(sizeof(buf_ioreq_t) == 8, "buf_ioreq_t is 8 bytes");

static int first = 1;

static void hex(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for ( i = 0; i < n; i++ )
        printf("%02x", b[i]);
}

static void open_record(const char *name, const char *type)
{
    printf("%s\n  {\"name\": \"%s\", \"type\": \"%s\", ", first ? "" : ",", name, type);
    first = 0;
}

static void emit_ioreq(const char *name, const ioreq_t *r)
{
    open_record(name, "ioreq_t");
    printf("\"fields\": {\"addr\": \"0x%llx\", \"data\": \"0x%llx\", \"count\": %u, "
           "\"size\": %u, \"vp_eport\": %u, \"state\": %u, \"data_is_ptr\": %u, "
           "\"dir\": %u, \"df\": %u, \"type\": %u}, \"hex\": \"",
           (unsigned long long)r->addr, (unsigned long long)r->data, r->count,
           r->size, r->vp_eport, r->state, r->data_is_ptr, r->dir, r->df,
           r->type);
    hex(r, sizeof(*r));
    printf("\"}");
}

static void emit_buf(const char *name, const buf_ioreq_t *b)
{
    open_record(name, "buf_ioreq_t");
    printf("\"fields\": {\"type\": %u, \"dir\": %u, \"size\": %u, \"addr\": \"0x%x\", "
           "\"data\": \"0x%x\"}, \"hex\": \"",
           b->type, b->dir, b->size, (unsigned int)b->addr, b->data);
    hex(b, sizeof(*b));
    printf("\"}");
}

static ioreq_t ioreq(uint64_t addr, uint64_t data, uint32_t count,
                     uint32_t size, uint32_t port, unsigned int state,
                     unsigned int ptr, unsigned int dir, unsigned int df,
                     uint8_t type)
{
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.addr = addr;
    r.data = data;
    r.count = count;
    r.size = size;
    r.vp_eport = port;
    r.state = state;
    r.data_is_ptr = ptr;
    r.dir = dir;
    r.df = df;
    r.type = type;
    return r;
}

static buf_ioreq_t buf(uint8_t type, unsigned int dir, unsigned int size,
                       uint32_t addr, uint32_t data)
{
    buf_ioreq_t b;

    memset(&b, 0, sizeof(b));
    b.type = type;
    b.dir = dir;
    b.size = size;
    b.addr = addr;
    b.data = data;
    return b;
}

int main(void)
{
    ioreq_t r;
    buf_ioreq_t b;
    const uint64_t delta = (uint64_t)-3600; /* RTC moved back one hour */

    printf("[");

    /* outb 0x41 to 0x3f8 on vCPU 0, event channel port 1 */
    r = ioreq(0x3f8, 0x41, 1, 1, 1, STATE_IOREQ_READY, 0, IOREQ_WRITE, 0, IOREQ_TYPE_PIO);
    emit_ioreq("pio_write_3f8", &r);

    /* inl from 0x3f8 after the response 0x12345678 (port 1) */
    r = ioreq(0x3f8, 0x12345678, 1, 4, 1, STATE_IORESP_READY, 0, IOREQ_READ, 0, IOREQ_TYPE_PIO);
    emit_ioreq("pio_read_3f8_response", &r);

    /* 4-byte MMIO read at 0xfeb00010 on vCPU 1, port 3 */
    r = ioreq(0xfeb00010ULL, 0, 1, 4, 3, STATE_IOREQ_READY, 0, IOREQ_READ, 0, IOREQ_TYPE_COPY);
    emit_ioreq("mmio_read_feb00010", &r);

    /* 8-byte MMIO write 0x1122334455667788 at 0xfeb00000 (port 1) */
    r = ioreq(0xfeb00000ULL, 0x1122334455667788ULL, 1, 8, 1, STATE_IOREQ_READY, 0,
              IOREQ_WRITE, 0, IOREQ_TYPE_COPY);
    emit_ioreq("mmio_write_feb00000_q", &r);

    /* rep outsw: 16 elements from guest buffer 0x2000, df set (port 1) */
    r = ioreq(0x1f0, 0x2000, 16, 2, 1, STATE_IOREQ_READY, 1, IOREQ_WRITE, 1, IOREQ_TYPE_PIO);
    emit_ioreq("pio_rep_outsw_ptr_df", &r);

    /* cf8 = 0x80001810, 2-byte read at 0xcfe -> sbdf 0x18, reg 0x12 (port 1) */
    r = ioreq(((uint64_t)0x18 << 32) | 0x12, 0, 1, 2, 1, STATE_IOREQ_READY, 0, IOREQ_READ, 0,
              IOREQ_TYPE_PCI_CONFIG);
    emit_ioreq("pci_config_read_cfe", &r);

    /* write to a p2m_ioreq_server page: 4 bytes at 0x100008 (port 1) */
    r = ioreq(0x100008, 0xdeadbeef, 1, 4, 1, STATE_IOREQ_READY, 0, IOREQ_WRITE, 0,
              IOREQ_TYPE_COPY);
    emit_ioreq("ioreq_server_page_write", &r);

    /* INVALIDATE broadcast (port 1) */
    r = ioreq(0, ~0ULL, 0, 4, 1, STATE_IOREQ_READY, 0, IOREQ_WRITE, 0, IOREQ_TYPE_INVALIDATE);
    emit_ioreq("invalidate", &r);

    /* TIMEOFFSET as the two buffered slots it takes */
    b = buf(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 3, 0, (uint32_t)delta);
    emit_buf("timeoffset_slot_lo", &b);
    b = buf(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 3, 0, (uint32_t)(delta >> 32));
    emit_buf("timeoffset_slot_hi", &b);

    /* stdvga: 2-byte write 0x1234 at 0xa0010 */
    b = buf(IOREQ_TYPE_COPY, IOREQ_WRITE, 1, 0xa0010, 0x1234);
    emit_buf("stdvga_write_w", &b);

    /* 1-byte write 0xff at 0xbffff */
    b = buf(IOREQ_TYPE_COPY, IOREQ_WRITE, 0, 0xbffff, 0xff);
    emit_buf("stdvga_write_b_last", &b);

    /* 8-byte write 0x0102030405060708 at 0xb8000: two slots */
    b = buf(IOREQ_TYPE_COPY, IOREQ_WRITE, 3, 0xb8000, 0x05060708);
    emit_buf("stdvga_write_q_lo", &b);
    b = buf(IOREQ_TYPE_COPY, IOREQ_WRITE, 3, 0xb8000, 0x01020304);
    emit_buf("stdvga_write_q_hi", &b);

    printf("\n]\n");
    return 0;
}
