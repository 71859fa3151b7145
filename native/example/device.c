/*
 * The example device: a 32-byte PIO register window, a 4 KiB SRAM window in MMIO, VGA memory served
 * through the buffered ring, a PCI function's config space, and a DMA engine whose commands and
 * interrupt changes run on a worker thread (so DM_OP and foreign-mapping calls also come from a second
 * thread, as several real device models make them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example.h"

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

void device_init(struct dm *dm) {
  struct device *d = &dm->dev;
  memset(d, 0, sizeof *d);
  if (dm->opt.bufioreq) {
    d->vga = calloc(VGA_SIZE, 1);
    if (d->vga == NULL) fatal(dm, EXIT_SETUP, "out of memory for VGA memory");
  }
  /* config space: vendor 0x5853, device 0xc0de, class ff (unassigned), header type 0, INTA */
  uint8_t *c = d->pcicfg;
  c[0x00] = 0x53; c[0x01] = 0x58;
  c[0x02] = 0xde; c[0x03] = 0xc0;
  c[0x08] = 0x01;             /* revision */
  c[0x0b] = 0xff;             /* class */
  c[0x3c] = (uint8_t)dm->opt.isa_irq; /* interrupt line */
  c[0x3d] = 0x01;             /* interrupt pin A */
}

void device_fini(struct dm *dm) {
  free(dm->dev.vga);
  dm->dev.vga = NULL;
}

/* ---- PIO register window ---- */

uint64_t device_pio_read(struct dm *dm, uint64_t port, unsigned size) {
  struct device *d = &dm->dev;
  uint64_t off = port - dm->opt.port_base;
  uint8_t win[REG_WINDOW + 8];
  uint64_t v = 0;
  if (off == REG_FIFO) {
    for (unsigned i = 0; i < size; i++) {
      uint8_t byte = 0xff;
      if (d->fifo_len > 0) {
        byte = d->fifo[d->fifo_head];
        d->fifo_head = (d->fifo_head + 1) % FIFO_SIZE;
        d->fifo_len--;
      }
      v |= (uint64_t)byte << (8 * i);
    }
    return v;
  }
  memset(win, 0xff, sizeof win);
  uint32_t regs[REG_WINDOW / 4] = { d->scratch, d->dma_addr, d->dma_len, d->result, DEVICE_ID, d->bufcount, 0xffffffffu, d->fifo_len };
  memcpy(win, regs, sizeof regs);
  if (off >= REG_WINDOW) return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  memcpy(&v, win + off, size);
  return v;
}

static void run_command(struct dm *dm, uint32_t cmd);

void device_pio_write(struct dm *dm, uint64_t port, unsigned size, uint64_t val) {
  struct device *d = &dm->dev;
  uint64_t off = port - dm->opt.port_base;
  if (off == REG_FIFO) {
    for (unsigned i = 0; i < size && d->fifo_len < FIFO_SIZE; i++) {
      d->fifo[(d->fifo_head + d->fifo_len) % FIFO_SIZE] = (uint8_t)(val >> (8 * i));
      d->fifo_len++;
    }
    return;
  }
  if (off == REG_CMD) {
    run_command(dm, (uint32_t)val);
    return;
  }
  if (off >= REG_CMD) return; /* read-only registers */
  uint8_t rw[REG_CMD];
  uint32_t regs[3] = { d->scratch, d->dma_addr, d->dma_len };
  memcpy(rw, regs, sizeof rw);
  for (unsigned i = 0; i < size && off + i < REG_CMD; i++) rw[off + i] = (uint8_t)(val >> (8 * i));
  d->scratch = rd32(rw);
  d->dma_addr = rd32(rw + 4);
  d->dma_len = rd32(rw + 8);
}

/* ---- MMIO: SRAM at --mmio, VGA memory at 0xa0000 (with a buffered ring) ---- */

static uint8_t *mmio_byte(struct dm *dm, uint64_t a) {
  if (a >= dm->opt.mmio_base && a - dm->opt.mmio_base < SRAM_SIZE) return &dm->dev.sram[a - dm->opt.mmio_base];
  if (dm->dev.vga != NULL && a >= VGA_BASE && a - VGA_BASE < VGA_SIZE) return &dm->dev.vga[a - VGA_BASE];
  return NULL;
}

int device_mmio_owns(struct dm *dm, uint64_t addr) {
  return mmio_byte(dm, addr) != NULL;
}

uint64_t device_mmio_read(struct dm *dm, uint64_t addr, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; i++) {
    uint8_t *p = mmio_byte(dm, addr + i);
    v |= (uint64_t)(p != NULL ? *p : 0xff) << (8 * i);
  }
  return v;
}

void device_mmio_write(struct dm *dm, uint64_t addr, unsigned size, uint64_t val) {
  for (unsigned i = 0; i < size; i++) {
    uint8_t *p = mmio_byte(dm, addr + i);
    if (p != NULL) *p = (uint8_t)(val >> (8 * i));
  }
}

/* ---- PCI config space: command (0x04), interrupt line (0x3c) and a scratch dword (0x40) are writable ---- */

uint64_t device_cfg_read(struct dm *dm, unsigned reg, unsigned size) {
  uint64_t v = 0;
  memcpy(&v, dm->dev.pcicfg + reg, size);
  return v;
}

void device_cfg_write(struct dm *dm, unsigned reg, unsigned size, uint64_t val) {
  for (unsigned i = 0; i < size; i++) {
    unsigned r = reg + i;
    if (r == 0x04 || r == 0x05 || r == 0x3c || (r >= 0x40 && r < 0x44)) dm->dev.pcicfg[r] = (uint8_t)(val >> (8 * i));
  }
}

/* ---- DMA engine and interrupt line (worker thread) ---- */

struct dma_ctx {
  uint32_t cmd, fill, sum;
};

static void dma_piece(uint8_t *p, size_t n, void *ctx) {
  struct dma_ctx *c = ctx;
  for (size_t i = 0; i < n; i++) {
    if (c->cmd == CMD_FILL) p[i] = (uint8_t)c->fill;
    else if (c->cmd == CMD_SUM) c->sum += p[i];
    else p[i] = (uint8_t)(p[i] + 1);
  }
}

static int set_irq(struct dm *dm, int level) {
  if (xendevicemodel_set_isa_irq_level(dm->dmod, dm->opt.domid, (uint8_t)dm->opt.isa_irq, (unsigned)level) != 0) return -1;
  dm->dev.irq_level = level;
  return 0;
}

/* runs on the worker thread while the main thread waits for it */
static void do_command(struct dm *dm, uint32_t cmd) {
  struct device *d = &dm->dev;
  if (cmd == CMD_ACK) {
    d->result = 0;
    if (set_irq(dm, 0) != 0) dm->worker.fatal = errno;
    return;
  }
  if (cmd != CMD_FILL && cmd != CMD_SUM && cmd != CMD_INCR) {
    d->result = RESULT_BAD_CMD;
    return;
  }
  if (d->dma_len > MAP_MAX_PAGES * PAGE_SIZE_4K) d->result = RESULT_TOO_LONG;
  else {
    struct dma_ctx c = { .cmd = cmd, .fill = d->scratch & 0xff, .sum = 0 };
    if (guest_map_apply(dm, d->dma_addr, d->dma_len, dma_piece, &c) != 0) d->result = RESULT_MAP_FAILED;
    else d->result = cmd == CMD_SUM ? c.sum : d->dma_len;
  }
  if (set_irq(dm, 1) != 0) dm->worker.fatal = errno; /* completion interrupt */
}

static void *worker_main(void *arg) {
  struct dm *dm = arg;
  struct worker *w = &dm->worker;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->busy && !w->stop) pthread_cond_wait(&w->cond, &w->lock);
    if (w->stop) break;
    uint32_t cmd = w->cmd;
    pthread_mutex_unlock(&w->lock);
    do_command(dm, cmd);
    pthread_mutex_lock(&w->lock);
    w->busy = 0;
    pthread_cond_broadcast(&w->cond);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

int worker_start(struct dm *dm) {
  struct worker *w = &dm->worker;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&w->thread, NULL, worker_main, dm);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  w->started = 1;
  return 0;
}

void worker_stop(struct dm *dm) {
  struct worker *w = &dm->worker;
  if (!w->started) return;
  pthread_mutex_lock(&w->lock);
  w->stop = 1;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  w->started = 0;
}

/* Hands a command to the worker and waits for it, at most --wait-ms. */
static void run_command(struct dm *dm, uint32_t cmd) {
  struct worker *w = &dm->worker;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += dm->opt.wait_ms / 1000;
  until.tv_nsec += (long)(dm->opt.wait_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&w->lock);
  w->cmd = cmd;
  w->busy = 1;
  pthread_cond_broadcast(&w->cond);
  int rc = 0;
  while (w->busy && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w->cond, &w->lock, &until);
  int late = w->busy, err = w->fatal;
  pthread_mutex_unlock(&w->lock);
  if (late) fatal(dm, EXIT_RUNTIME, "command %u did not finish within %u ms", cmd, dm->opt.wait_ms);
  if (err != 0) fatal(dm, EXIT_RUNTIME, "xendevicemodel_set_isa_irq_level(%u): %s", dm->opt.isa_irq, strerror(err));
}
