// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: RFC 9329 ESP-in-TCP as a TCP ULP for kernels built without
 * CONFIG_INET_ESPINTCP.  Module init/exit: each part is brought up in
 * order and taken down in reverse, so a failure part-way unwinds cleanly.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>

#include "esptcp.h"
#include "compat.h"

struct workqueue_struct *esptcp_wq;

bool esptcp_allow_netns_admin;
module_param_named(allow_netns_admin, esptcp_allow_netns_admin, bool, 0644);
MODULE_PARM_DESC(allow_netns_admin,
		 "let CAP_NET_ADMIN in a non-initial user namespace attach and bind (default: no)");

unsigned int esptcp_tx_queue_bytes = 1 << 20;
module_param_named(tx_queue_bytes, esptcp_tx_queue_bytes, uint, 0644);
MODULE_PARM_DESC(tx_queue_bytes,
		 "ESP memory (truesize) a socket may queue before new ESP is dropped (default 1 MiB)");

unsigned long esptcp_queue_mem_max;
module_param_named(queue_mem_max, esptcp_queue_mem_max, ulong, 0644);
MODULE_PARM_DESC(queue_mem_max,
		 "ESP memory (truesize) all sockets together may queue (default: 1/32 of RAM)");

#ifdef ESPTCP_SELFTEST_BUILD
static bool esptcp_selftest;
module_param_named(selftest, esptcp_selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the built-in self-tests at load and refuse to load if one fails");

static bool __init esptcp_selftests(void)
{
	if (!esptcp_selftest)
		return true;
	return esptcp_frame_selftest();
}
#else
static inline bool esptcp_selftests(void)
{
	return true;
}
#endif

static int __init esptcp_mod_init(void)
{
	int err;

	if (!esptcp_selftests())
		return -ENOTRECOVERABLE;
	if (!esptcp_queue_mem_max)
		esptcp_queue_mem_max = (totalram_pages() << PAGE_SHIFT) / 32;

	esptcp_wq = alloc_workqueue("esptcp", WQ_MEM_RECLAIM | ESPTCP_WQ_PERCPU, 0);
	if (!esptcp_wq)
		return -ENOMEM;
	err = esptcp_net_init();
	if (err)
		goto err_wq;
	err = esptcp_genl_init();
	if (err)
		goto err_net;
	err = esptcp_ulp_init();
	if (err)
		goto err_genl;

	pr_info("esptcp: RFC 9329 ESP-in-TCP ULP \"%s\" loaded\n", ESPTCP_ULP_NAME);
	return 0;

err_genl:
	esptcp_genl_exit();
err_net:
	esptcp_net_exit();
err_wq:
	destroy_workqueue(esptcp_wq);
	return err;
}

static void __exit esptcp_mod_exit(void)
{
	esptcp_ulp_exit();
	esptcp_genl_exit();
	esptcp_net_exit();
	/* socket state is freed by call_rcu() callbacks in this module */
	rcu_barrier();
	destroy_workqueue(esptcp_wq);
}

module_init(esptcp_mod_init);
module_exit(esptcp_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ESP-in-TCP (RFC 9329) datapath as a TCP ULP");
MODULE_AUTHOR("The esptcp authors");
