/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: a binary min-heap of timers, one per IKE SA, so that a timer
 * pass visits the SAs that are due and no others (ike_timer.c).
 */
#ifndef ESPTCP_IKE_TIMER_H
#define ESPTCP_IKE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IKE_TIMER_OUT	UINT32_MAX	/* idx of a timer in no heap */

/* what embeds @ptr as its @member */
#define ike_timer_owner(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* embedded in what it times; the heap holds pointers to these */
struct ike_timer {
	uint64_t due;		/* ms: visit at or after this */
	uint64_t pass;		/* the last pass that visited it */
	uint64_t asked;		/* during its visit: the soonest asked for */
	uint32_t idx;		/* its place in the heap, or IKE_TIMER_OUT */
};

struct ike_timers {
	struct ike_timer **heap;
	uint32_t n, cap;
	uint64_t pass;		/* passes run so far */
	bool running;		/* inside ike_timers_run() */
	uint64_t now;		/* that pass's time */
	struct ike_timer *visiting;	/* the one being visited, while it lives */
	uint64_t visits;	/* every visit so far */
};

int ike_timer_add(struct ike_timers *h, struct ike_timer *t, uint64_t due);
void ike_timer_del(struct ike_timers *h, struct ike_timer *t);
void ike_timer_set(struct ike_timers *h, struct ike_timer *t, uint64_t due);
void ike_timer_lower(struct ike_timers *h, struct ike_timer *t, uint64_t due);
void ike_timer_touch(struct ike_timers *h, struct ike_timer *t);
uint64_t ike_timers_next(const struct ike_timers *h);
void ike_timers_run(struct ike_timers *h, uint64_t now, void (*visit)(struct ike_timer *t),
		    uint64_t (*next)(const struct ike_timer *t));
void ike_timers_free(struct ike_timers *h);

#endif
