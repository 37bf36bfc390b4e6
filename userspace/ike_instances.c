// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: a load generator's instances.  A conn with instances = N
 * keeps N IKE SAs of its own at once, each an instance with its number
 * (sa->instance, 1..N), its identity (%u in local-id) and its connection.
 * They start at the conn's start-rate, and each starts over on its own
 * after the conn's retry time.  Their starts are timers of a heap of their
 * own (d->starts), so a pass visits only the instances due.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ike_sa.h"

/* starts in one pass at most: the loop answers the SAs already up meanwhile */
#define STARTS_PER_PASS	64
/*
 * Instances between their start and their IKE SA's establishment at most:
 * a generator that sent all its IKE_SA_INITs at once would overflow the
 * responder's socket and time its own retransmissions, not the responder
 */
#define OPENING_MAX	128

struct ike_instance {
	struct ike_timer timer;
	const struct ike_conn_conf *c;
	uint32_t num;		/* 1..c->instances */
	bool tcp;		/* start over TCP whatever the conn's transport */
	bool opening;		/* started, its IKE SA not up yet */
};

static struct ike_instance *instance_of(struct ike_daemon *d, const struct ike_conn_conf *c,
					uint32_t num)
{
	size_t i = (size_t)(c - d->conf->conns);

	if (!d->inst || i >= d->conf->nconns || !d->inst[i] || !num || num > c->instances)
		return NULL;
	return &d->inst[i][num - 1];
}

/* an instance no longer opening: its slot goes to the next one due */
static void opened(struct ike_daemon *d, struct ike_instance *in)
{
	if (!in->opening)
		return;
	in->opening = false;
	d->inst_opening--;
	ike_wake_at(d, d->now);
}

/* instance @num of @c has its IKE SA up, or its SA went: no longer opening */
void ike_instance_settled(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t num)
{
	struct ike_instance *in = instance_of(d, c, num);

	if (in)
		opened(d, in);
}

/**
 * ike_instances_init() - every instance of the load generator's conns, due
 * @d: the daemon, its configuration loaded
 *
 * Instance i of a conn starts (i - 1) / start-rate seconds from now (all
 * at once without a rate).
 *
 * Return: 0, or -ENOMEM.
 */
int ike_instances_init(struct ike_daemon *d)
{
	const struct ike_conf *conf = d->conf;

	d->inst = calloc(conf->nconns ? conf->nconns : 1, sizeof(*d->inst));
	if (!d->inst)
		return -ENOMEM;
	for (size_t i = 0; i < conf->nconns; i++) {
		const struct ike_conn_conf *c = &conf->conns[i];
		struct ike_instance *v;

		if (!c->initiator || c->instances < 2)
			continue;
		v = calloc(c->instances, sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->inst[i] = v;
		for (uint32_t n = 0; n < c->instances; n++) {
			uint64_t at = d->now;

			if (c->start_rate)
				at += (uint64_t)n * 1000 / c->start_rate;
			v[n].timer.idx = IKE_TIMER_OUT;
			v[n].c = c;
			v[n].num = n + 1;
			if (ike_timer_add(&d->starts, &v[n].timer, at))
				return -ENOMEM;
		}
		fprintf(stderr, "esptcp[%s]: %u instances, %s\n", c->name, c->instances,
			c->install ? "their CHILD_SAs installed" : "nothing installed (install = no)");
	}
	return 0;
}

/* instance @num of @c starts again in @delay_s */
void ike_instance_restart(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t num,
			  unsigned int delay_s, bool tcp)
{
	struct ike_instance *in = instance_of(d, c, num);

	if (!in)
		return;
	opened(d, in);
	in->tcp = tcp;
	if (in->timer.idx == IKE_TIMER_OUT)
		ike_timer_add(&d->starts, &in->timer, d->now + (uint64_t)delay_s * 1000);
	else
		ike_timer_set(&d->starts, &in->timer, d->now + (uint64_t)delay_s * 1000);
}

/* the instances due: started, a bounded number a pass; the loop wakes for the next */
void ike_instances_run(struct ike_daemon *d)
{
	for (unsigned int n = 0; n < STARTS_PER_PASS && d->starts.n; n++) {
		struct ike_timer *t = d->starts.heap[0];
		struct ike_instance *in = ike_timer_owner(t, struct ike_instance, timer);

		if (t->due > d->now)
			break;
		/* a full window: opened() wakes the loop for the next */
		if (d->inst_opening >= OPENING_MAX)
			return;
		ike_timer_del(&d->starts, t);
		in->opening = true;
		d->inst_opening++;
		ike_conn_start(d, in->c, in->num, in->tcp);
	}
	if (d->starts.n)
		ike_wake_at(d, ike_timers_next(&d->starts));
}

void ike_instances_free(struct ike_daemon *d)
{
	for (size_t i = 0; d->inst && i < d->conf->nconns; i++)
		free(d->inst[i]);
	free(d->inst);
	d->inst = NULL;
	ike_timers_free(&d->starts);
}
