/*
 * xendm-example-dm: a small ioreq-server device model written against Debian's Xen libraries only
 * (libxendevicemodel, libxenforeignmemory, libxenevtchn, libxenstore, libxentoolcore).
 * Shared declarations of its three parts: main.c (options, set-up, event loop, teardown), ioreq.c (the
 * ioreq protocol: sync slots, buffered ring, guest RAM through foreign mappings) and device.c (the device:
 * a register file, a FIFO, SRAM, VGA memory, PCI config space, DMA and the interrupt line).
 */
#ifndef XENDM_EXAMPLE_H
#define XENDM_EXAMPLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

/* exit codes */
#define EXIT_OK 0
#define EXIT_SETUP 1   /* a Xen call during set-up failed */
#define EXIT_USAGE 2   /* bad command line */
#define EXIT_RUNTIME 3 /* a Xen call or a bounded wait failed while serving */

#define PAGE_SHIFT_4K 12
#define PAGE_SIZE_4K (1u << PAGE_SHIFT_4K)
/* at most this many guest pages are mapped at once (one DMA chunk, one string-I/O chunk) */
#define MAP_MAX_PAGES 16u

/* the PIO register window (offsets from --port) */
#define REG_SCRATCH 0x00  /* rw, plain storage */
#define REG_DMA_ADDR 0x04 /* rw, guest-physical byte address */
#define REG_DMA_LEN 0x08  /* rw, bytes (at most MAP_MAX_PAGES pages) */
#define REG_CMD 0x0c      /* w: a command; r: the last command's result */
#define REG_ID 0x10       /* r: DEVICE_ID */
#define REG_BUFCOUNT 0x14 /* r: buffered-ring records applied */
#define REG_FIFO 0x18     /* w: push bytes; r: pop bytes (0xff when empty) */
#define REG_FIFO_LEVEL 0x1c /* r: bytes in the FIFO */
#define REG_WINDOW 0x20

#define DEVICE_ID 0x4d445835u /* "5XDM" little-endian */

#define CMD_ACK 0  /* lower the interrupt line */
#define CMD_FILL 1 /* fill the DMA region with SCRATCH's low byte */
#define CMD_SUM 2  /* result = 32-bit sum of the DMA region's bytes */
#define CMD_INCR 3 /* add 1 to every byte of the DMA region */

#define RESULT_BAD_CMD 0xffffffffu
#define RESULT_TOO_LONG 0xfffffffeu
#define RESULT_MAP_FAILED 0xfffffffdu

#define FIFO_SIZE 4096u
#define SRAM_SIZE 4096u
#define VGA_BASE 0xa0000u
#define VGA_SIZE 0x20000u

struct options {
  domid_t domid;
  int bufioreq;          /* create the server with a buffered ring (HVM_IOREQSRV_BUFIOREQ_ATOMIC) */
  int restrict_handles;  /* xentoolcore_restrict_all once set up */
  int use_xenstore;      /* write device-model/<domid>/state */
  int unmap_first;       /* at teardown, unmap the pages and close the foreign-memory handle before disabling */
  int verbose;
  uint16_t port_base;
  uint64_t mmio_base;
  uint16_t pci_seg;
  uint8_t pci_bus, pci_dev, pci_fn;
  unsigned isa_irq;
  unsigned wait_ms;      /* bound on every internal wait (worker thread) */
};

struct device {
  uint32_t scratch, dma_addr, dma_len, result;
  uint32_t bufcount;
  uint8_t fifo[FIFO_SIZE];
  unsigned fifo_head, fifo_len;
  uint8_t sram[SRAM_SIZE];
  uint8_t *vga; /* VGA_SIZE bytes, only with a buffered ring */
  uint8_t pcicfg[256];
  int irq_level;
};

/* a job for the worker thread: DMA commands and interrupt changes run there, so that DM_OP and
 * MMAPBATCH calls are also made from a second thread */
struct worker {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int started, stop, busy;
  uint32_t cmd;
  int fatal; /* a DM_OP the worker made failed */
};

struct dm {
  struct options opt;
  xendevicemodel_handle *dmod;
  xenforeignmemory_handle *fmem;
  xenevtchn_handle *xce;
  struct xs_handle *xs;
  ioservid_t id;
  int server_created, server_enabled;
  xenforeignmemory_resource_handle *res;
  void *res_addr;
  shared_iopage_t *iopage;
  buffered_iopage_t *bufpage;
  unsigned nr_vcpus;
  evtchn_port_t *vcpu_local; /* local port bound to each vCPU's vp_eport */
  evtchn_port_t buf_remote, buf_local;
  int buf_bound;
  struct device dev;
  struct worker worker;
  unsigned long handled, buffered;
};

/* ioreq.c */
int guest_copy(struct dm *dm, uint64_t gpa, void *buf, size_t len, int to_guest);
int guest_map_apply(struct dm *dm, uint64_t gpa, size_t len, void (*fn)(uint8_t *p, size_t n, void *ctx), void *ctx);
void handle_sync(struct dm *dm, unsigned vcpu);
void drain_buffered(struct dm *dm);

/* device.c */
void device_init(struct dm *dm);
void device_fini(struct dm *dm);
uint64_t device_pio_read(struct dm *dm, uint64_t port, unsigned size);
void device_pio_write(struct dm *dm, uint64_t port, unsigned size, uint64_t val);
int device_mmio_owns(struct dm *dm, uint64_t addr);
uint64_t device_mmio_read(struct dm *dm, uint64_t addr, unsigned size);
void device_mmio_write(struct dm *dm, uint64_t addr, unsigned size, uint64_t val);
uint64_t device_cfg_read(struct dm *dm, unsigned reg, unsigned size);
void device_cfg_write(struct dm *dm, unsigned reg, unsigned size, uint64_t val);
int worker_start(struct dm *dm);
void worker_stop(struct dm *dm);

/* main.c */
void logmsg(struct dm *dm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fatal(struct dm *dm, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));

#endif
