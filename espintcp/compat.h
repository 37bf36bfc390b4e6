/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp: differences between the kernels the module builds against.  Each
 * ESPTCP_HAVE_* comes from a header probe in Kbuild.
 */
#ifndef _ESPTCP_COMPAT_H
#define _ESPTCP_COMPAT_H

#include <linux/timer.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#ifdef ESPTCP_HAVE_LINUX_UNALIGNED
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* the iov_iter direction names arrived in 6.2; 6.1 says WRITE */
#ifndef ITER_SOURCE
#define ITER_SOURCE WRITE
#endif

/* del_timer*() were renamed timer_delete*() */
#ifndef ESPTCP_HAVE_TIMER_DELETE
#define timer_delete(t) del_timer(t)
#define timer_delete_sync(t) del_timer_sync(t)
#endif

/* from_timer() was renamed timer_container_of() */
#ifndef ESPTCP_HAVE_TIMER_CONTAINER_OF
#define timer_container_of(var, t, field) from_timer(var, t, field)
#endif

/*
 * disable_work_sync() also refuses later queue_work() calls, so nothing can
 * queue the work again once close has waited for it.  Without it, the close
 * path's own flags (rx_dead, tx_dead, a stopped parser) are what keeps the
 * work from coming back; cancel_work_sync() then waits as well.
 */
#ifndef ESPTCP_HAVE_DISABLE_WORK
#define disable_work_sync(w) cancel_work_sync(w)
#endif

/*
 * Newer kernels warn when a workqueue is neither WQ_PERCPU nor WQ_UNBOUND;
 * per-CPU is what older kernels give without a flag.
 */
#ifdef ESPTCP_HAVE_WQ_PERCPU
#define ESPTCP_WQ_PERCPU WQ_PERCPU
#else
#define ESPTCP_WQ_PERCPU 0
#endif

/* sk_under_memory_pressure() moved to its own header (6.10) */
#ifdef ESPTCP_HAVE_PROTO_MEMORY_H
#include <net/proto_memory.h>
#endif

/* sk_forward_alloc_add() writes the field with WRITE_ONCE() */
#ifdef ESPTCP_HAVE_FWD_ALLOC_ADD
#define esptcp_fwd_alloc_add(sk, v) sk_forward_alloc_add(sk, v)
#else
#define esptcp_fwd_alloc_add(sk, v) ((sk)->sk_forward_alloc += (v))
#endif

#endif /* _ESPTCP_COMPAT_H */
