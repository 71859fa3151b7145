/*
 * Common includes for the ABI probes.  Compiled with -D__XEN_TOOLS__ and an
 * include path that holds only the Xen public header tree (as "xen/...").
 * The Xen headers expect <stdint.h> to be included first; xen/sys/privcmd.h
 * needs _IOC from <linux/ioctl.h>.
 */
#ifndef XENDM_PROBE_H
#define XENDM_PROBE_H

#ifndef __XEN_TOOLS__
#error "compile the probes with -D__XEN_TOOLS__ (tools view of the Xen ABI)"
#endif

#include <stdint.h>
#include <stddef.h>
#include <linux/ioctl.h>
#include <xen/xen.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/errno.h>
#include <xen/sys/privcmd.h>

#define PROBE_STR_(x) #x
#define PROBE_STR(x) PROBE_STR_(x)

/* The typedef that XEN_GUEST_HANDLE(void) names on this architecture. */
typedef XEN_GUEST_HANDLE(void) probe_guest_handle_void;
#define PROBE_GUEST_HANDLE_VOID_NAME PROBE_STR(XEN_GUEST_HANDLE(void))

/* The anonymous union inside struct xen_dm_op. */
typedef __typeof__(((struct xen_dm_op *)0)->u) probe_xen_dm_op_u;

#endif
