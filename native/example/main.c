/*
 * xendm-example-dm: options, set-up, the event loop and teardown.
 *
 * Set-up follows the order real ioreq-server device models use: open the handles, read nr_vcpus,
 * create the server, map its pages as a resource (frames 0 and 1 with a buffered ring, frame 1 alone
 * without), register the ranges and the PCI function, enable the server, bind every vCPU's vp_eport and
 * the buffered port, start the worker thread, then deprivilege with xentoolcore_restrict_all.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "example.h"

#define PROG "xendm-example-dm"

static struct dm the_dm;
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t in_teardown;

static void vlogmsg(const char *fmt, va_list ap) {
  fprintf(stderr, PROG ": ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void logmsg(struct dm *dm, const char *fmt, ...) {
  (void)dm;
  va_list ap;
  va_start(ap, fmt);
  vlogmsg(fmt, ap);
  va_end(ap);
}

static void teardown(struct dm *dm);

void fatal(struct dm *dm, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlogmsg(fmt, ap);
  va_end(ap);
  if (!in_teardown) teardown(dm);
  exit(code);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " --domain N [options]\n"
          "  -d, --domain N       the guest domain to serve (required)\n"
          "      --no-bufioreq    create the server without a buffered ring (maps resource frame 1 alone)\n"
          "      --no-restrict    do not call xentoolcore_restrict_all after set-up\n"
          "      --xenstore       write device-model/<domid>/state = running (needs a xenstored)\n"
          "      --unmap-first    at teardown, unmap the pages and close that handle before disabling\n"
          "      --port BASE      PIO register window base, 32 ports (default 0x100)\n"
          "      --mmio BASE      SRAM window base, one 4 KiB page, page aligned (default 0xfeb00000)\n"
          "      --pci S:B:D.F    the PCI function to claim (default 0000:00:05.0)\n"
          "      --irq N          ISA IRQ raised on DMA completion, 0-15 (default 5)\n"
          "      --wait-ms N      bound on internal waits, 1-600000 (default 5000)\n"
          "  -v, --verbose        log every ioreq on stderr\n"
          "  -h, --help           this text\n"
          "exit status: 0 stopped by SIGTERM/SIGINT, 1 set-up failed, 2 bad usage, 3 failure while serving\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  if (s[0] == '-' || s[0] == '\0') return -1;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || *end != '\0' || v > max) return -1;
  *out = v;
  return 0;
}

static void bad(const char *opt, const char *val, const char *why) {
  if (val[0] == '\0') fprintf(stderr, PROG ": %s %s\n", opt, why);
  else fprintf(stderr, PROG ": %s %s: %s\n", opt, val, why);
  usage(stderr);
  exit(EXIT_USAGE);
}

static void parse_options(int argc, char **argv, struct options *o) {
  static const struct option longs[] = {
    { "domain", required_argument, NULL, 'd' }, { "no-bufioreq", no_argument, NULL, 'B' },
    { "no-restrict", no_argument, NULL, 'R' },  { "xenstore", no_argument, NULL, 'X' },
    { "port", required_argument, NULL, 'p' },   { "mmio", required_argument, NULL, 'm' },
    { "pci", required_argument, NULL, 'c' },    { "irq", required_argument, NULL, 'i' },
    { "wait-ms", required_argument, NULL, 'w' }, { "verbose", no_argument, NULL, 'v' },
    { "unmap-first", no_argument, NULL, 'U' }, { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int have_domain = 0, c;
  uint64_t v;
  *o = (struct options){ .bufioreq = 1, .restrict_handles = 1, .port_base = 0x100, .mmio_base = 0xfeb00000u,
                         .pci_dev = 5, .isa_irq = 5, .wait_ms = 5000 };
  while ((c = getopt_long(argc, argv, "d:vh", longs, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (parse_u64(optarg, 0x7fef, &v) != 0) bad("--domain", optarg, "not a domain id (0 to 0x7fef)");
      o->domid = (domid_t)v;
      have_domain = 1;
      break;
    case 'B': o->bufioreq = 0; break;
    case 'R': o->restrict_handles = 0; break;
    case 'X': o->use_xenstore = 1; break;
    case 'U': o->unmap_first = 1; break;
    case 'p':
      if (parse_u64(optarg, 0x10000 - REG_WINDOW, &v) != 0) bad("--port", optarg, "not a port base (0 to 0xffe0)");
      o->port_base = (uint16_t)v;
      break;
    case 'm':
      if (parse_u64(optarg, UINT64_MAX - PAGE_SIZE_4K, &v) != 0 || (v & (PAGE_SIZE_4K - 1)) != 0) bad("--mmio", optarg, "not a page-aligned address");
      o->mmio_base = v;
      break;
    case 'c': {
      unsigned s, b, d, f;
      char tail;
      if (sscanf(optarg, "%4x:%2x:%2x.%1x%c", &s, &b, &d, &f, &tail) != 4 || d > 31 || f > 7) bad("--pci", optarg, "not SEG:BUS:DEV.FN (hex, device 0-1f, function 0-7)");
      o->pci_seg = (uint16_t)s;
      o->pci_bus = (uint8_t)b;
      o->pci_dev = (uint8_t)d;
      o->pci_fn = (uint8_t)f;
      break;
    }
    case 'i':
      if (parse_u64(optarg, 15, &v) != 0) bad("--irq", optarg, "not an ISA IRQ (0 to 15)");
      o->isa_irq = (unsigned)v;
      break;
    case 'w':
      if (parse_u64(optarg, 600000, &v) != 0 || v == 0) bad("--wait-ms", optarg, "not a time in ms (1 to 600000)");
      o->wait_ms = (unsigned)v;
      break;
    case 'v': o->verbose = 1; break;
    case 'h': usage(stdout); exit(EXIT_OK);
    default: usage(stderr); exit(EXIT_USAGE);
    }
  }
  if (optind != argc) bad("argument", argv[optind], "unexpected");
  if (!have_domain) bad("--domain", "", "is required");
  if (o->domid == 0) bad("--domain", "0", "the device model serves a guest, not the control domain");
}

static void on_signal(int sig) {
  unsigned char b = (unsigned char)sig;
  int saved = errno;
  if (write(sig_pipe[1], &b, 1) < 0) { /* the pipe is full: a stop is already pending */ }
  errno = saved;
}

#define CHECK(call, ...)                                                                                  \
  do {                                                                                                    \
    if ((call) != 0) fatal(dm, EXIT_SETUP, __VA_ARGS__);                                                  \
  } while (0)

static void setup(struct dm *dm) {
  const struct options *o = &dm->opt;
  domid_t dom = o->domid;
  dm->dmod = xendevicemodel_open(NULL, 0);
  if (dm->dmod == NULL) fatal(dm, EXIT_SETUP, "xendevicemodel_open: %s", strerror(errno));
  dm->fmem = xenforeignmemory_open(NULL, 0);
  if (dm->fmem == NULL) fatal(dm, EXIT_SETUP, "xenforeignmemory_open: %s", strerror(errno));
  dm->xce = xenevtchn_open(NULL, 0);
  if (dm->xce == NULL) fatal(dm, EXIT_SETUP, "xenevtchn_open: %s", strerror(errno));
  if (o->use_xenstore) {
    dm->xs = xs_open(0);
    if (dm->xs == NULL) fatal(dm, EXIT_SETUP, "xs_open: %s", strerror(errno));
  }

  unsigned int vcpus = 0;
  CHECK(xendevicemodel_nr_vcpus(dm->dmod, dom, &vcpus), "xendevicemodel_nr_vcpus(%u): %s", dom, strerror(errno));
  if (vcpus == 0 || vcpus > PAGE_SIZE_4K / sizeof(ioreq_t)) fatal(dm, EXIT_SETUP, "domain %u has %u vCPUs: one ioreq page holds 1 to %zu", dom, vcpus, PAGE_SIZE_4K / sizeof(ioreq_t));
  dm->nr_vcpus = vcpus;
  dm->vcpu_local = calloc(vcpus, sizeof *dm->vcpu_local);
  if (dm->vcpu_local == NULL) fatal(dm, EXIT_SETUP, "out of memory");

  CHECK(xendevicemodel_create_ioreq_server(dm->dmod, dom, o->bufioreq ? HVM_IOREQSRV_BUFIOREQ_ATOMIC : HVM_IOREQSRV_BUFIOREQ_OFF, &dm->id),
        "xendevicemodel_create_ioreq_server(%u): %s", dom, strerror(errno));
  dm->server_created = 1;

  /* frame 0 is the buffered page, frame 1 the sync page; without a ring only frame 1 exists to map */
  unsigned long frame = o->bufioreq ? XENMEM_resource_ioreq_server_frame_bufioreq : XENMEM_resource_ioreq_server_frame_ioreq(0);
  unsigned long nr = o->bufioreq ? 2 : 1;
  dm->res = xenforeignmemory_map_resource(dm->fmem, dom, XENMEM_resource_ioreq_server, dm->id, frame, nr, &dm->res_addr, PROT_READ | PROT_WRITE, 0);
  if (dm->res == NULL) fatal(dm, EXIT_SETUP, "xenforeignmemory_map_resource(server %u, frame %lu, %lu frames): %s", dm->id, frame, nr, strerror(errno));
  uint8_t *base = dm->res_addr;
  dm->bufpage = o->bufioreq ? (buffered_iopage_t *)(void *)base : NULL;
  dm->iopage = (shared_iopage_t *)(void *)(base + (o->bufioreq ? PAGE_SIZE_4K : 0));

  if (o->bufioreq)
    CHECK(xendevicemodel_get_ioreq_server_info(dm->dmod, dom, dm->id, NULL, NULL, &dm->buf_remote), "xendevicemodel_get_ioreq_server_info(%u): %s", dm->id, strerror(errno));

  CHECK(xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dom, dm->id, 0, o->port_base, o->port_base + REG_WINDOW - 1), "map ports 0x%x: %s", o->port_base, strerror(errno));
  CHECK(xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dom, dm->id, 1, o->mmio_base, o->mmio_base + SRAM_SIZE - 1), "map mmio 0x%" PRIx64 ": %s", o->mmio_base, strerror(errno));
  if (o->bufioreq)
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dom, dm->id, 1, VGA_BASE, VGA_BASE + VGA_SIZE - 1), "map VGA memory: %s", strerror(errno));
  CHECK(xendevicemodel_map_pcidev_to_ioreq_server(dm->dmod, dom, dm->id, o->pci_seg, o->pci_bus, o->pci_dev, o->pci_fn), "map PCI %04x:%02x:%02x.%x: %s",
        o->pci_seg, o->pci_bus, o->pci_dev, o->pci_fn, strerror(errno));
  CHECK(xendevicemodel_set_ioreq_server_state(dm->dmod, dom, dm->id, 1), "xendevicemodel_set_ioreq_server_state(enable): %s", strerror(errno));
  dm->server_enabled = 1;

  for (unsigned i = 0; i < vcpus; i++) {
    evtchn_port_t remote = dm->iopage->vcpu_ioreq[i].vp_eport;
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(dm->xce, dom, remote);
    if (p < 0) fatal(dm, EXIT_SETUP, "xenevtchn_bind_interdomain(vcpu %u, port %u): %s", i, remote, strerror(errno));
    dm->vcpu_local[i] = (evtchn_port_t)p;
  }
  if (o->bufioreq) {
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(dm->xce, dom, dm->buf_remote);
    if (p < 0) fatal(dm, EXIT_SETUP, "xenevtchn_bind_interdomain(buffered port %u): %s", dm->buf_remote, strerror(errno));
    dm->buf_local = (evtchn_port_t)p;
    dm->buf_bound = 1;
  }

  if (worker_start(dm) != 0) fatal(dm, EXIT_SETUP, "pthread_create: %s", strerror(errno));

  if (dm->xs != NULL) {
    char path[64];
    snprintf(path, sizeof path, "/local/domain/0/device-model/%u/state", dom);
    if (!xs_write(dm->xs, XBT_NULL, path, "running", 7)) fatal(dm, EXIT_SETUP, "xs_write %s: %s", path, strerror(errno));
  }

  /* every handle is restricted to the guest from here on; the same handles keep serving it */
  if (o->restrict_handles) CHECK(xentoolcore_restrict_all(dom), "xentoolcore_restrict_all(%u): %s", dom, strerror(errno));
}

static void unmap_pages(struct dm *dm) {
  if (dm->res != NULL && xenforeignmemory_unmap_resource(dm->fmem, dm->res) != 0) logmsg(dm, "xenforeignmemory_unmap_resource: %s", strerror(errno));
  dm->res = NULL;
  dm->iopage = NULL;
  dm->bufpage = NULL;
}

/* disable, destroy, unmap, unbind, close (or unmap and close the foreign-memory handle first, with
 * --unmap-first, as some device models do): each step runs once, whatever failed before it */
static void teardown(struct dm *dm) {
  in_teardown = 1;
  if (!dm->worker.busy) worker_stop(dm);
  if (dm->opt.unmap_first) {
    unmap_pages(dm);
    if (dm->fmem != NULL) xenforeignmemory_close(dm->fmem);
    dm->fmem = NULL;
  }
  if (dm->server_enabled && xendevicemodel_set_ioreq_server_state(dm->dmod, dm->opt.domid, dm->id, 0) != 0)
    logmsg(dm, "xendevicemodel_set_ioreq_server_state(disable): %s", strerror(errno));
  dm->server_enabled = 0;
  if (dm->server_created && xendevicemodel_destroy_ioreq_server(dm->dmod, dm->opt.domid, dm->id) != 0)
    logmsg(dm, "xendevicemodel_destroy_ioreq_server: %s", strerror(errno));
  dm->server_created = 0;
  unmap_pages(dm);
  if (dm->xce != NULL) {
    for (unsigned i = 0; i < dm->nr_vcpus; i++)
      if (dm->vcpu_local != NULL && dm->vcpu_local[i] != 0) xenevtchn_unbind(dm->xce, dm->vcpu_local[i]);
    if (dm->buf_bound) xenevtchn_unbind(dm->xce, dm->buf_local);
    xenevtchn_close(dm->xce);
    dm->xce = NULL;
  }
  if (dm->fmem != NULL) xenforeignmemory_close(dm->fmem);
  dm->fmem = NULL;
  if (dm->dmod != NULL) xendevicemodel_close(dm->dmod);
  dm->dmod = NULL;
  if (dm->xs != NULL) xs_close(dm->xs);
  dm->xs = NULL;
  free(dm->vcpu_local);
  dm->vcpu_local = NULL;
  device_fini(dm);
}

/* One event: which port fired decides the work (the buffered port, or one vCPU's port). */
static void on_event(struct dm *dm) {
  xenevtchn_port_or_error_t port = xenevtchn_pending(dm->xce);
  if (port < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    fatal(dm, EXIT_RUNTIME, "xenevtchn_pending: %s", strerror(errno));
  }
  if (xenevtchn_unmask(dm->xce, (evtchn_port_t)port) != 0) fatal(dm, EXIT_RUNTIME, "xenevtchn_unmask(%d): %s", port, strerror(errno));
  if (dm->buf_bound && (evtchn_port_t)port == dm->buf_local) drain_buffered(dm);
  for (unsigned i = 0; i < dm->nr_vcpus; i++)
    if (dm->vcpu_local[i] == (evtchn_port_t)port) handle_sync(dm, i);
}

int main(int argc, char **argv) {
  struct dm *dm = &the_dm;
  parse_options(argc, argv, &dm->opt);
  if (pipe(sig_pipe) != 0) {
    perror(PROG ": pipe");
    return EXIT_SETUP;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  device_init(dm);
  setup(dm);
  printf(PROG ": ready domain=%u server=%u vcpus=%u bufioreq=%s restricted=%s\n", dm->opt.domid, dm->id, dm->nr_vcpus,
         dm->opt.bufioreq ? "on" : "off", dm->opt.restrict_handles ? "yes" : "no");
  fflush(stdout);

  struct pollfd fds[2] = { { .fd = xenevtchn_fd(dm->xce), .events = POLLIN }, { .fd = sig_pipe[0], .events = POLLIN } };
  for (;;) {
    /* the timeout only paces the fallback drain of the buffered ring; events wake the loop at once */
    int n = poll(fds, 2, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal(dm, EXIT_RUNTIME, "poll: %s", strerror(errno));
    }
    if (fds[1].revents & POLLIN) break;
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) fatal(dm, EXIT_RUNTIME, "the event channel device failed (revents 0x%x)", fds[0].revents);
    if (fds[0].revents & POLLIN) on_event(dm);
    else drain_buffered(dm);
  }
  unsigned long handled = dm->handled, buffered = dm->buffered;
  teardown(dm);
  printf(PROG ": stopped after %lu ioreqs and %lu buffered records\n", handled, buffered);
  return EXIT_OK;
}
