/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp: differences between the kernels the module builds against.  Each
 * ESPTCP_HAVE_* comes from a header probe in Kbuild.
 */
#ifndef _ESPTCP_COMPAT_H
#define _ESPTCP_COMPAT_H

#include <linux/uio.h>

#ifdef ESPTCP_HAVE_LINUX_UNALIGNED
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* the iov_iter direction names arrived in 6.2; 6.1 says WRITE */
#ifndef ITER_SOURCE
#define ITER_SOURCE WRITE
#endif

#endif /* _ESPTCP_COMPAT_H */
