// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: RFC 9329 ESP-in-TCP as a TCP ULP for kernels built without
 * CONFIG_INET_ESPINTCP.  Module init/exit: each part is brought up in
 * order and taken down in reverse, so a failure part-way unwinds cleanly.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "esptcp.h"

bool esptcp_allow_netns_admin;
module_param_named(allow_netns_admin, esptcp_allow_netns_admin, bool, 0644);
MODULE_PARM_DESC(allow_netns_admin,
		 "let CAP_NET_ADMIN in a non-initial user namespace attach and bind (default: no)");

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

	err = esptcp_ulp_init();
	if (err)
		return err;

	pr_info("esptcp: RFC 9329 ESP-in-TCP ULP \"%s\" loaded\n", ESPTCP_ULP_NAME);
	return 0;
}

static void __exit esptcp_mod_exit(void)
{
	esptcp_ulp_exit();
}

module_init(esptcp_mod_init);
module_exit(esptcp_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ESP-in-TCP (RFC 9329) datapath as a TCP ULP");
MODULE_AUTHOR("The esptcp authors");
