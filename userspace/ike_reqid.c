// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: reqids inside the helper's range, used again once freed
 * (ike_reqid.h).  Pure: no I/O, no SA state.
 */
#include "ike_reqid.h"

/**
 * ike_reqid_take() - a free reqid of the range
 * @r: the range
 *
 * The search starts after the last one taken, so a reqid just freed is not
 * handed out again at once (a late kernel event for the old SA then names
 * no new one).
 *
 * Return: base + 1 .. base + 0xffff, or 0 when all 65535 are in use.
 */
uint32_t ike_reqid_take(struct ike_reqids *r)
{
	for (uint32_t k = 0; k < IKE_REQID_SLOTS - 1; k++) {
		uint32_t i = (r->next + k) % (IKE_REQID_SLOTS - 1) + 1;

		if (!(r->used[i / 8] & (1u << (i % 8)))) {
			r->used[i / 8] |= (uint8_t)(1u << (i % 8));
			r->next = i;
			return r->base + i;
		}
	}
	return 0;
}

/* ike_reqid_give() - @reqid is free again; one outside the range is ignored */
void ike_reqid_give(struct ike_reqids *r, uint32_t reqid)
{
	uint32_t i = reqid - r->base;

	if (reqid > r->base && i < IKE_REQID_SLOTS)
		r->used[i / 8] &= (uint8_t)~(1u << (i % 8));
}
