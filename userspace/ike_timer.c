// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKE SAs' timers in a binary min-heap keyed by the time
 * each SA next needs its timers run.  A pass pops what is due, visits it,
 * and puts it back at the time its owner computes; an SA whose state
 * changed outside a visit (a message, a link event, another SA's doing)
 * is touched and visited at the next pass.  So a pass costs O(k log n)
 * for k SAs due among n, and an idle gateway's SAs cost nothing between
 * their DPD and rekey times.
 */
#include <errno.h>
#include <stdlib.h>

#include "ike_timer.h"

static void place(struct ike_timers *h, uint32_t i, struct ike_timer *t)
{
	h->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct ike_timers *h, uint32_t i)
{
	struct ike_timer *t = h->heap[i];

	while (i) {
		uint32_t p = (i - 1) / 2;

		if (h->heap[p]->due <= t->due)
			break;
		place(h, i, h->heap[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct ike_timers *h, uint32_t i)
{
	struct ike_timer *t = h->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->heap[c + 1]->due < h->heap[c]->due)
			c++;
		if (t->due <= h->heap[c]->due)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, t);
}

/* due changed either way: restore the heap around it */
static void fix(struct ike_timers *h, struct ike_timer *t)
{
	uint32_t i = t->idx;

	if (i && h->heap[(i - 1) / 2]->due > t->due)
		sift_up(h, i);
	else
		sift_down(h, i);
}

/**
 * ike_timer_add() - put a timer in the heap
 * @h: the heap
 * @t: a timer in no heap
 * @due: when it is first visited (0: at the next pass)
 *
 * Return: 0, or -ENOMEM.
 */
int ike_timer_add(struct ike_timers *h, struct ike_timer *t, uint64_t due)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct ike_timer **p;

		if (cap < h->cap)
			return -ENOMEM;
		p = realloc(h->heap, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		h->heap = p;
		h->cap = cap;
	}
	t->due = due;
	t->pass = 0;
	t->asked = UINT64_MAX;
	place(h, h->n++, t);
	sift_up(h, t->idx);
	return 0;
}

/* take a timer out (its owner goes away); a timer in no heap is left alone */
void ike_timer_del(struct ike_timers *h, struct ike_timer *t)
{
	uint32_t i = t->idx;
	struct ike_timer *last;

	if (i == IKE_TIMER_OUT)
		return;
	if (h->visiting == t)
		h->visiting = NULL;
	t->idx = IKE_TIMER_OUT;
	last = h->heap[--h->n];
	if (last == t)
		return;
	place(h, i, last);
	fix(h, last);
}

void ike_timer_set(struct ike_timers *h, struct ike_timer *t, uint64_t due)
{
	if (t->idx == IKE_TIMER_OUT || t->due == due)
		return;
	t->due = due;
	fix(h, t);
}

/*
 * Visit it by @due at the latest.  Asked during its own visit, that is
 * kept for when the visit ends (its due is then set again).
 */
void ike_timer_lower(struct ike_timers *h, struct ike_timer *t, uint64_t due)
{
	if (h->visiting == t) {
		if (due < t->asked)
			t->asked = due;
		return;
	}
	if (due < t->due)
		ike_timer_set(h, t, due);
}

/*
 * Its owner's state changed outside a visit: visit it at the next pass, or
 * in this one if the pass running has not visited it yet.  During its own
 * visit nothing: the time its owner gives after it sees the change.
 */
void ike_timer_touch(struct ike_timers *h, struct ike_timer *t)
{
	if (h->visiting == t)
		return;
	if (h->running && t->pass == h->pass)
		ike_timer_lower(h, t, h->now + 1);
	else
		ike_timer_lower(h, t, 0);
}

/* when the next pass has something to visit; UINT64_MAX: nothing in the heap */
uint64_t ike_timers_next(const struct ike_timers *h)
{
	return h->n ? h->heap[0]->due : UINT64_MAX;
}

/**
 * ike_timers_run() - one pass: visit every timer due at @now, once
 * @h: the heap
 * @now: the pass's time, ms
 * @visit: runs the owner's timers; it may delete this timer and others,
 *	add timers, and touch or move any of them
 * @next: after a visit the timer is still there: when it is due again
 *
 * After a visit the timer is due at the sooner of @next's time and what
 * the visit asked for (ike_timer_lower()), but no earlier than @now + 1,
 * so a pass ends; timers added during the pass at 0 are visited in it.
 */
void ike_timers_run(struct ike_timers *h, uint64_t now, void (*visit)(struct ike_timer *t),
		    uint64_t (*next)(const struct ike_timer *t))
{
	h->pass++;
	h->now = now;
	h->running = true;
	while (h->n && h->heap[0]->due <= now) {
		struct ike_timer *t = h->heap[0];

		t->pass = h->pass;
		h->visiting = t;
		h->visits++;
		visit(t);
		if (h->visiting == t) {
			uint64_t due = next(t);

			if (t->asked < due)
				due = t->asked;
			t->asked = UINT64_MAX;
			ike_timer_set(h, t, due > now ? due : now + 1);
		}
		h->visiting = NULL;
	}
	h->running = false;
}

void ike_timers_free(struct ike_timers *h)
{
	free(h->heap);
	h->heap = NULL;
	h->n = 0;
	h->cap = 0;
}
