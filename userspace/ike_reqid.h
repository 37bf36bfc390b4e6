/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: the reqids of the helper's states and policies
 * (ike_reqid.c).  Every one is inside the helper's range, reqid-base + 1 ..
 * reqid-base + 0xffff, which is what is flushed at start and exit; a freed
 * one is taken again, so no number of reconnects pushes them out of the
 * range.  No I/O; ike_unit tests it directly.
 */
#ifndef ESPTCP_IKE_REQID_H
#define ESPTCP_IKE_REQID_H

#include <stdint.h>

#define IKE_REQID_SLOTS	0x10000u	/* slot 0 is never used: base itself is no reqid */

struct ike_reqids {
	uint32_t base;
	uint32_t next;				/* where the search for a free one starts */
	uint8_t used[IKE_REQID_SLOTS / 8];
};

uint32_t ike_reqid_take(struct ike_reqids *r);
void ike_reqid_give(struct ike_reqids *r, uint32_t reqid);

#endif
