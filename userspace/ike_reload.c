// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: SIGHUP reads the configuration again (ike_reload()).  Conns
 * are matched by name.  A conn that is gone takes its SAs down (DELETE);
 * every other SA stays up and goes by its conn's new settings from then on
 * (rekeys, new CHILD_SAs, DPD), keeping the selectors and keys it has.  New
 * conns start (initiators) or are listened for (responders, on new TCP
 * ports too); a TCP port no conn names any more is no longer listened on,
 * while connections accepted on it stay.  A pool whose range is the same
 * keeps its leases; a new or changed one starts empty, with the addresses
 * of the conn's live SAs taken again where they fit.  A configuration that
 * does not load, or changes what only a restart can (reqid-base, ulp,
 * status-dir), is refused as a whole: the running one stays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include "esptcp.h"
#include "ike_sa.h"
#include "rtnl.h"

static ssize_t conn_by_name(const struct ike_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nconns; i++)
		if (!strcmp(c->conns[i].name, name))
			return (ssize_t)i;
	return -1;
}

static bool same_pool(const struct ike_conn_conf *a, const struct ike_conn_conf *b)
{
	return a->pool_set && b->pool_set && a->pool_family == b->pool_family &&
	       !memcmp(a->pool_first, b->pool_first, sizeof(a->pool_first)) &&
	       !memcmp(a->pool_last, b->pool_last, sizeof(a->pool_last));
}

/* a TCP listener that no responder conn of @c names any more */
static bool listener_unused(const struct ike_conf *c, const struct ike_sock *o)
{
	for (size_t i = 0; i < c->nconns; i++) {
		const struct ike_conn_conf *k = &c->conns[i];

		if (k->initiator || !ike_ss_same_addr(&k->local, &o->local))
			continue;
		for (unsigned int p = 0; p < k->ntcp_ports; p++)
			if (k->tcp_ports[p] == ike_ss_port(&o->local))
				return false;
	}
	return true;
}

static void close_listeners(struct ike_daemon *d)
{
	for (struct ike_sock **p = &d->socks; *p;) {
		struct ike_sock *o = *p;
		char buf[64];

		if (o->kind != OBJ_LISTEN || !listener_unused(d->conf, o)) {
			p = &o->next;
			continue;
		}
		fprintf(stderr, "esptcp: no longer listening on TCP %s\n",
			esptcp_addr_str(&o->local, buf, sizeof(buf)));
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, o->fd, NULL);
		close(o->fd);
		*p = o->next;
		free(o);
	}
}

/* the live SAs' addresses, in a pool that starts empty */
static void pool_take_back(struct ike_daemon *d, size_t conn, struct ike_pool *p)
{
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (!sa->has_vip || sa->conf != &d->conf->conns[conn])
			continue;
		if (ike_pool_hold(p, sa->vip, sa->peer_id[0], sa->peer_id + 4,
				  sa->peer_id_len - 4, d->now))
			ike_log(sa, "its virtual address is not in the conn's new pool: it keeps it"
				" until it goes");
	}
}

/* refused: what only a restart changes */
static const char *needs_restart(const struct ike_conf *old, const struct ike_conf *nc)
{
	if (old->reqid_base != nc->reqid_base)
		return "reqid-base";
	if (strcmp(old->ulp, nc->ulp))
		return "ulp";
	if (strcmp(old->status_dir, nc->status_dir))
		return "status-dir";
	/* a load generator's instances time their starts by conn (ike_instances.c) */
	for (size_t i = 0; i < old->nconns; i++)
		if (old->conns[i].instances > 1)
			return "a conn with instances";
	for (size_t i = 0; i < nc->nconns; i++)
		if (nc->conns[i].instances > 1)
			return "a conn with instances";
	return NULL;
}

/**
 * ike_reload() - SIGHUP: the configuration file again
 * @d: the daemon
 * @path: the file
 *
 * Context: the event loop, between event batches.
 *
 * Return: 0, or -errno when the new configuration was refused (logged;
 * nothing changed).
 */
int ike_reload(struct ike_daemon *d, const char *path)
{
	struct ike_conf nc, *old = d->conf;
	struct ike_pool *pools = NULL;
	uint64_t *restart_at = NULL;
	bool *restart_tcp = NULL;
	unsigned int *port_at = NULL, gone = 0, added = 0;
	bool *moved = NULL, need_tcp = false, need_rtnl = false;
	const char *why;
	ssize_t *map;
	int err = -ENOMEM;

	if (ike_conf_load(path, &nc)) {
		fprintf(stderr, "esptcp: reload of %s refused: the running configuration stays\n",
			path);
		return -EINVAL;
	}
	why = needs_restart(old, &nc);
	if (why) {
		fprintf(stderr, "esptcp: reload of %s refused: %s changes only with a restart\n",
			path, why);
		ike_conf_free(&nc);
		return -EINVAL;
	}
	map = calloc(old->nconns ? old->nconns : 1, sizeof(*map));
	pools = calloc(nc.nconns ? nc.nconns : 1, sizeof(*pools));
	restart_at = calloc(nc.nconns ? nc.nconns : 1, sizeof(*restart_at));
	restart_tcp = calloc(nc.nconns ? nc.nconns : 1, sizeof(*restart_tcp));
	port_at = calloc(nc.nconns ? nc.nconns : 1, sizeof(*port_at));
	moved = calloc(nc.nconns ? nc.nconns : 1, sizeof(*moved));
	if (!map || !pools || !restart_at || !restart_tcp || !port_at || !moved)
		goto fail;
	for (size_t i = 0; i < old->nconns; i++)
		map[i] = conn_by_name(&nc, old->conns[i].name);
	for (size_t j = 0; j < nc.nconns; j++) {
		ssize_t i = conn_by_name(old, nc.conns[j].name);

		if (i >= 0 && same_pool(&old->conns[i], &nc.conns[j])) {
			/* the leases move over; the old array forgets them */
			pools[j] = d->pools[i];
			memset(&d->pools[i], 0, sizeof(d->pools[i]));
			moved[j] = true;
		} else if (nc.conns[j].pool_set &&
			   ike_pool_init(&pools[j], nc.conns[j].pool_family,
					 nc.conns[j].pool_first, nc.conns[j].pool_last)) {
			goto fail;
		}
		if (i >= 0) {
			restart_at[j] = d->restart_at[i];
			restart_tcp[j] = d->restart_tcp[i];
			port_at[j] = d->tcp_port_at[i];
		} else {
			restart_at[j] = nc.conns[j].initiator ? d->now : 0;
			added++;
		}
	}
	/* the SAs of conns that are gone go now, while their conn is there */
	for (struct ike_sa *sa = d->sas, *next; sa; sa = next) {
		next = sa->next;
		if (sa->conf && map[sa->conf - old->conns] < 0) {
			ike_log(sa, "its conn is gone from the configuration");
			ike_sa_shutdown(sa);
		}
	}
	for (size_t i = 0; i < old->nconns; i++)
		gone += map[i] < 0;
	/* everything that points at a conn points at its new self */
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->conf)
			sa->conf = &nc.conns[map[sa->conf - old->conns]];
		ike_sa_touch(sa);	/* its conn's times may have changed */
	}
	for (struct ike_link *l = d->links; l; l = l->next)
		if (l->conn)
			l->conn = map[l->conn - old->conns] >= 0 ?
				  &nc.conns[map[l->conn - old->conns]] : NULL;
	ike_daemon_pools_free(d);
	free(d->restart_at);
	free(d->restart_tcp);
	free(d->tcp_port_at);
	ike_conf_free(old);
	*old = nc;
	d->pools = pools;
	d->restart_at = restart_at;
	d->restart_tcp = restart_tcp;
	d->tcp_port_at = port_at;
	d->pools_any = false;
	for (size_t j = 0; j < old->nconns; j++) {
		d->pools_any |= old->conns[j].pool_set;
		if (old->conns[j].pool_set && !moved[j])
			pool_take_back(d, j, &pools[j]);
	}
	free(map);
	free(moved);
	/* what a new conn needs that the old ones did not: one try each */
	for (size_t j = 0; j < old->nconns; j++) {
		const struct ike_conn_conf *k = &old->conns[j];

		need_tcp |= !k->initiator || k->transport != TRANSPORT_UDP;
		need_rtnl |= k->vip || k->updown[0];
	}
	if (need_tcp && !d->nl)
		d->nl = esptcp_nl_open();
	if (need_rtnl && !d->rtnl)
		d->rtnl = rtnl_open();
	close_listeners(d);
	err = ike_open_listeners(d);
	if (err)
		fprintf(stderr, "esptcp: reload: a new listener could not be opened\n");
	ike_leases_changed(d);
	ike_status_changed(d);
	fprintf(stderr, "esptcp: reloaded %s: %zu conn%s (%u new, %u gone); the other tunnels"
		" stay up\n", path, old->nconns, old->nconns == 1 ? "" : "s", added, gone);
	return 0;
fail:
	for (size_t j = 0; pools && j < nc.nconns; j++) {
		ssize_t i = conn_by_name(old, nc.conns[j].name);

		/* leases that had moved go back */
		if (moved && moved[j] && i >= 0)
			d->pools[i] = pools[j];
		else
			ike_pool_free(&pools[j]);
	}
	free(map);
	free(moved);
	free(pools);
	free(restart_at);
	free(restart_tcp);
	free(port_at);
	ike_conf_free(&nc);
	fprintf(stderr, "esptcp: reload of %s refused: %s\n", path, strerror(-err));
	return err;
}
