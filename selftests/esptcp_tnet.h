/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small things the test programs do in a network namespace of their own.
 */
#ifndef ESPTCP_TEST_NET_H
#define ESPTCP_TEST_NET_H

/* bring lo up; 0 or -1 */
int tnet_lo_up(void);
/* kB of slab and per-CPU memory in use (/proc/meminfo), or -1 */
long tnet_kernel_kb(void);

#endif
