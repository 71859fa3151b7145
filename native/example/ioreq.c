/*
 * The ioreq protocol as a device model sees it: the sync slot of each vCPU in the ioreq page, the
 * buffered ring, and guest RAM reached through foreign mappings (IOCTL_PRIVCMD_MMAPBATCH_V2).
 * The order of operations follows what Xen expects of an emulator (xen/common/ioreq.c and
 * xen/arch/x86/hvm/emulate.c are the other side): see STATE_IOREQ_READY, then read the record, answer,
 * publish the data before STATE_IORESP_READY, then notify the vCPU's port.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "example.h"

/* Maps the guest pages under [gpa, gpa + len) at most MAP_MAX_PAGES at a time and calls fn on each
 * mapped piece. Every page that fails to map fails the whole call with that page's errno. */
int guest_map_apply(struct dm *dm, uint64_t gpa, size_t len, void (*fn)(uint8_t *p, size_t n, void *ctx), void *ctx) {
  xen_pfn_t gfns[MAP_MAX_PAGES];
  int err[MAP_MAX_PAGES];
  while (len > 0) {
    uint64_t first = gpa >> PAGE_SHIFT_4K;
    size_t in_page = gpa & (PAGE_SIZE_4K - 1);
    size_t span = in_page + len;
    size_t pages = (span + PAGE_SIZE_4K - 1) >> PAGE_SHIFT_4K;
    if (pages > MAP_MAX_PAGES) pages = MAP_MAX_PAGES;
    size_t chunk = pages * PAGE_SIZE_4K - in_page;
    if (chunk > len) chunk = len;
    for (size_t i = 0; i < pages; i++) gfns[i] = (xen_pfn_t)(first + i);
    uint8_t *p = xenforeignmemory_map(dm->fmem, dm->opt.domid, PROT_READ | PROT_WRITE, pages, gfns, err);
    if (p == NULL) return -1;
    for (size_t i = 0; i < pages; i++) {
      if (err[i] != 0) {
        int e = err[i] < 0 ? -err[i] : err[i];
        logmsg(dm, "gfn 0x%llx did not map: %s", (unsigned long long)gfns[i], strerror(e));
        xenforeignmemory_unmap(dm->fmem, p, pages);
        errno = e;
        return -1;
      }
    }
    fn(p + in_page, chunk, ctx);
    if (xenforeignmemory_unmap(dm->fmem, p, pages) != 0) return -1;
    gpa += chunk;
    len -= chunk;
  }
  return 0;
}

struct copy_ctx {
  uint8_t *buf;
  int to_guest;
};

static void copy_piece(uint8_t *p, size_t n, void *ctx) {
  struct copy_ctx *c = ctx;
  if (c->to_guest) memcpy(p, c->buf, n);
  else memcpy(c->buf, p, n);
  c->buf += n;
}

int guest_copy(struct dm *dm, uint64_t gpa, void *buf, size_t len, int to_guest) {
  struct copy_ctx c = { .buf = buf, .to_guest = to_guest };
  return guest_map_apply(dm, gpa, len, copy_piece, &c);
}

static uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void get_item(const uint8_t *buf, unsigned size, uint64_t *v) {
  *v = 0;
  memcpy(v, buf, size); /* little-endian hosts only, as the ioreq ABI is */
}

static void put_item(uint8_t *buf, unsigned size, uint64_t v) {
  memcpy(buf, &v, size);
}

/* Device-side address of item i of a repeated access: items walk up, or down with df. */
static uint64_t item_addr(uint64_t base, const ioreq_t *req, uint32_t i) {
  uint64_t step = (uint64_t)i * req->size;
  return req->df ? base - step : base + step;
}

static uint64_t dev_read(struct dm *dm, const ioreq_t *req, uint64_t addr) {
  return req->type == IOREQ_TYPE_PIO ? device_pio_read(dm, addr, req->size) : device_mmio_read(dm, addr, req->size);
}

static void dev_write(struct dm *dm, const ioreq_t *req, uint64_t addr, uint64_t v) {
  if (req->type == IOREQ_TYPE_PIO) device_pio_write(dm, addr, req->size, v);
  else device_mmio_write(dm, addr, req->size, v);
}

/* A string access with data_is_ptr: the data lives in guest RAM at req->data (item i at data +- i*size).
 * PIO repeats on one port; MMIO walks the device addresses in the same direction. */
#define STRING_MAX (MAP_MAX_PAGES * PAGE_SIZE_4K)
static void string_io(struct dm *dm, ioreq_t *req) {
  uint64_t total = (uint64_t)req->count * req->size;
  if (req->count == 0 || total > STRING_MAX) {
    logmsg(dm, "string access of %u x %u bytes refused (at most %u bytes)", req->count, req->size, STRING_MAX);
    return;
  }
  uint64_t lo = req->df ? req->data - (total - req->size) : req->data;
  uint8_t *buf = malloc(total);
  if (buf == NULL) {
    logmsg(dm, "string access: out of memory");
    return;
  }
  int to_guest = req->dir == IOREQ_READ;
  if (!to_guest && guest_copy(dm, lo, buf, total, 0) != 0) {
    logmsg(dm, "string access: guest RAM at 0x%llx: %s", (unsigned long long)lo, strerror(errno));
    free(buf);
    return;
  }
  for (uint32_t i = 0; i < req->count; i++) {
    /* the buffer holds the items in address order; item i sits at data +- i*size */
    size_t off = req->df ? (size_t)(req->count - 1 - i) * req->size : (size_t)i * req->size;
    uint64_t at = req->type == IOREQ_TYPE_PIO ? req->addr : item_addr(req->addr, req, i);
    if (to_guest) put_item(buf + off, req->size, dev_read(dm, req, at));
    else {
      uint64_t v;
      get_item(buf + off, req->size, &v);
      dev_write(dm, req, at, v);
    }
  }
  if (to_guest && guest_copy(dm, lo, buf, total, 1) != 0)
    logmsg(dm, "string access: guest RAM at 0x%llx: %s", (unsigned long long)lo, strerror(errno));
  free(buf);
}

static void dispatch(struct dm *dm, ioreq_t *req) {
  if (req->type == IOREQ_TYPE_INVALIDATE || req->type == IOREQ_TYPE_TIMEOFFSET) return; /* no mapcache, no RTC */
  if (req->size != 1 && req->size != 2 && req->size != 4 && req->size != 8) {
    logmsg(dm, "ioreq type %u with size %u ignored", req->type, req->size);
    return;
  }
  switch (req->type) {
  case IOREQ_TYPE_PIO:
  case IOREQ_TYPE_COPY:
    if (req->data_is_ptr) string_io(dm, req);
    else if (req->dir == IOREQ_READ) {
      uint32_t n = req->type == IOREQ_TYPE_PIO || req->count == 0 ? 1 : req->count;
      for (uint32_t i = 0; i < n; i++) req->data = dev_read(dm, req, item_addr(req->addr, req, i));
    } else {
      uint32_t n = req->type == IOREQ_TYPE_PIO || req->count == 0 ? 1 : req->count;
      for (uint32_t i = 0; i < n; i++) dev_write(dm, req, item_addr(req->addr, req, i), req->data & size_mask(req->size));
    }
    break;
  case IOREQ_TYPE_PCI_CONFIG: {
    uint32_t sbdf = (uint32_t)(req->addr >> 32);
    uint32_t want = ((uint32_t)dm->opt.pci_seg << 16) | ((uint32_t)dm->opt.pci_bus << 8) | ((uint32_t)dm->opt.pci_dev << 3) | dm->opt.pci_fn;
    unsigned reg = (unsigned)(req->addr & 0xffffffffu);
    if (sbdf != want || reg + req->size > sizeof dm->dev.pcicfg) {
      if (req->dir == IOREQ_READ) req->data = size_mask(req->size);
    } else if (req->dir == IOREQ_READ) req->data = device_cfg_read(dm, reg, req->size);
    else device_cfg_write(dm, reg, req->size, req->data & size_mask(req->size));
    break;
  }
  default:
    logmsg(dm, "ioreq of unknown type %u ignored", req->type);
  }
}

/* One vCPU's sync slot: answer it if Xen left a request there. */
void handle_sync(struct dm *dm, unsigned vcpu) {
  volatile ioreq_t *slot = &dm->iopage->vcpu_ioreq[vcpu];
  if (slot->state != STATE_IOREQ_READY) return;
  __atomic_thread_fence(__ATOMIC_ACQUIRE); /* see READY, then read the record */
  slot->state = STATE_IOREQ_INPROCESS;
  drain_buffered(dm); /* buffered writes were issued before this request */
  ioreq_t req;
  memcpy(&req, (const void *)slot, sizeof req);
  if (dm->opt.verbose)
    logmsg(dm, "vcpu %u: type %u dir %u addr 0x%llx size %u count %u ptr %u data 0x%llx", vcpu, req.type, req.dir,
           (unsigned long long)req.addr, req.size, req.count, req.data_is_ptr, (unsigned long long)req.data);
  dispatch(dm, &req);
  slot->data = req.data;
  __atomic_thread_fence(__ATOMIC_RELEASE); /* the data before the state */
  slot->state = STATE_IORESP_READY;
  dm->handled++;
  if (xenevtchn_notify(dm->xce, dm->vcpu_local[vcpu]) != 0) fatal(dm, EXIT_RUNTIME, "xenevtchn_notify(%u): %s", dm->vcpu_local[vcpu], strerror(errno));
}

/* The buffered ring: records from read_pointer up to write_pointer; an 8-byte write takes two slots,
 * the second carrying the high 32 bits. Both pointers are read in one 64-bit load, since Xen folds them
 * together (xen/common/ioreq.c:ioreq_send_buffered with HVM_IOREQSRV_BUFIOREQ_ATOMIC). */
void drain_buffered(struct dm *dm) {
  buffered_iopage_t *b = dm->bufpage;
  if (b == NULL) return;
  for (;;) {
    uint64_t both = __atomic_load_n((uint64_t *)(void *)b, __ATOMIC_ACQUIRE);
    uint32_t rp = (uint32_t)both, wp = (uint32_t)(both >> 32);
    uint32_t n = wp - rp;
    if (n == 0) return;
    if (n > IOREQ_BUFFER_SLOT_NUM) fatal(dm, EXIT_RUNTIME, "buffered ring: write_pointer %u is %u slots past read_pointer %u", wp, n, rp);
    uint32_t done = 0;
    while (done < n) {
      const buf_ioreq_t *s = &b->buf_ioreq[(rp + done) % IOREQ_BUFFER_SLOT_NUM];
      ioreq_t req = { .addr = s->addr, .data = s->data, .count = 1, .size = 1u << s->size, .dir = s->dir, .type = s->type };
      uint32_t used = 1;
      if (req.size == 8) {
        if (done + 1 >= n) fatal(dm, EXIT_RUNTIME, "buffered ring: an 8-byte write without its second slot");
        req.data |= (uint64_t)b->buf_ioreq[(rp + done + 1) % IOREQ_BUFFER_SLOT_NUM].data << 32;
        used = 2;
      }
      if (dm->opt.verbose)
        logmsg(dm, "buffered: type %u addr 0x%llx size %u data 0x%llx", req.type, (unsigned long long)req.addr, req.size, (unsigned long long)req.data);
      if (req.dir == IOREQ_WRITE && req.type != IOREQ_TYPE_TIMEOFFSET) {
        dispatch(dm, &req);
        dm->dev.bufcount++;
      }
      dm->buffered++;
      done += used;
    }
    __atomic_fetch_add(&b->read_pointer, done, __ATOMIC_RELEASE);
  }
}
