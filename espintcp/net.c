// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: per network namespace state - the SA table, the socket list, the
 * counters and the output hooks.  A namespace goes away only after every
 * socket in it is gone, so its state outlives all of its sockets.
 */
#include <linux/module.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "esptcp.h"

static unsigned int esptcp_net_id __read_mostly;

/**
 * esptcp_net() - the esptcp state of a network namespace
 * @net: the namespace
 *
 * Context: any.
 * Return: the state; it exists for as long as @net does.
 */
struct esptcp_net *esptcp_net(const struct net *net)
{
	return net_generic(net, esptcp_net_id);
}

/**
 * esptcp_stats_sum() - add up per-CPU counters
 * @pcpu: the counters
 * @out: ESPTCP_STAT_MAX totals
 *
 * Context: any.  A total may be a few increments behind a concurrent writer.
 */
void esptcp_stats_sum(struct esptcp_stats __percpu *pcpu, u64 *out)
{
	int cpu, i;

	memset(out, 0, sizeof(u64) * ESPTCP_STAT_MAX);
	for_each_possible_cpu(cpu) {
		const struct esptcp_stats *s = per_cpu_ptr(pcpu, cpu);

		for (i = 0; i < ESPTCP_STAT_MAX; i++)
			out[i] += READ_ONCE(s->c[i]);
	}
}

/**
 * esptcp_sock_stats() - read a socket's counters
 * @ctx: the socket
 * @out: ESPTCP_STAT_MAX values
 *
 * Context: any.
 */
void esptcp_sock_stats(const struct esptcp_sock *ctx, u64 *out)
{
	int i;

	for (i = 0; i < ESPTCP_STAT_MAX; i++)
		out[i] = atomic64_read(&ctx->stats[i]);
}

static int __net_init esptcp_pernet_init(struct net *net)
{
	struct esptcp_net *en = esptcp_net(net);
	int err;

	write_pnet(&en->net, net);
	mutex_init(&en->lock);
	xa_init(&en->socks);
	en->gen = 1;
	atomic_set(&en->n_out, 0);
	en->stats = alloc_percpu(struct esptcp_stats);
	if (!en->stats)
		return -ENOMEM;
	err = esptcp_bind_net_init(en);
	if (err) {
		free_percpu(en->stats);
		return err;
	}
	esptcp_steer_net_init(net);
	return 0;
}

static void __net_exit esptcp_pernet_exit(struct net *net)
{
	struct esptcp_net *en = esptcp_net(net);

	esptcp_steer_net_exit(net);
	WARN_ON_ONCE(!xa_empty(&en->socks));
	xa_destroy(&en->socks);
	esptcp_bind_net_exit(en);
	free_percpu(en->stats);
}

static struct pernet_operations esptcp_pernet_ops = {
	.init = esptcp_pernet_init,
	.exit = esptcp_pernet_exit,
	.id   = &esptcp_net_id,
	.size = sizeof(struct esptcp_net),
};

/**
 * esptcp_net_init() - set up every namespace, now and future
 *
 * Context: process, module init.
 * Return: 0 or a negative errno.
 */
int esptcp_net_init(void)
{
	return register_pernet_subsys(&esptcp_pernet_ops);
}

/**
 * esptcp_net_exit() - tear down every namespace's state
 *
 * Context: process, module exit.
 */
void esptcp_net_exit(void)
{
	unregister_pernet_subsys(&esptcp_pernet_ops);
}
