// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: a client's virtual address (vip = yes).  The IKE_AUTH
 * request asks for an address and DNS servers (CFG_REQUEST, RFC 7296
 * 3.15.4) and proposes any address of the family as our selector; the
 * gateway narrows it to the address it gives.  That address goes on
 * vip-interface, and each of the gateway's selectors (its split list, or
 * everything) gets a route in route-table with the address as source,
 * looked up before main by a rule (priority ESPTCP_VIP_RULE_PRIO), as a
 * road warrior's routes go.  When a selector covers the gateway itself, a
 * route to the gateway without that source keeps IKE and ESP on the path
 * they had.  All of it is the IKE SA's and goes with it; an IKE SA rekey
 * hands it on, and a move between UDP and TCP or to other addresses leaves
 * it alone.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include "esptcp.h"
#include "ike_sa.h"
#include "ike_select.h"
#include "rtnl.h"

#define ESPTCP_VIP_RULE_PRIO	220

/* the CFG_REQUEST of an IKE_AUTH request: an address and DNS of the conn's family */
void ike_vip_request(struct ike_sa *sa, struct ike_chain *c)
{
	struct ike_cfg req = { .type = CFG_REQUEST };

	if (sa->conf->local_ts.ts[0].family == AF_INET)
		req.ask_ip4 = req.ask_dns4 = true;
	else
		req.ask_ip6 = req.ask_dns6 = true;
	ike_pl_cp(c, &req);
}

/*
 * An address we could not take as ours: one the host has (on any
 * interface), one on a link of ours (we would answer ARP for a neighbour),
 * the gateway's, or an IPv6 link-local or IPv4-mapped one.
 */
static const char *vip_unusable(struct ike_sa *sa)
{
	struct ike_vip *v = &sa->cvip;
	size_t alen = v->family == AF_INET ? 4 : 16;
	struct rtnl_route rt;

	if (!memcmp(v->addr, ike_ss_addr(&sa->link->peer), alen))
		return "the gateway's own address";
	if (v->family == AF_INET6 && ((v->addr[0] == 0xfe && (v->addr[1] & 0xc0) == 0x80) ||
				      !memcmp(v->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)))
		return "link-local or IPv4-mapped";
	if (rtnl_route_get(sa->d->rtnl, v->family, v->addr, &rt))
		return NULL;
	if (rt.type == RTN_LOCAL)
		return "an address of this host already";
	if (!rt.has_gw)
		return "on a link of this host";
	return NULL;
}

/**
 * ike_vip_take() - what the gateway's IKE_AUTH response gave us
 * @sa: the SA (vip = yes)
 * @m: the response
 *
 * The CFG_REPLY must hold an address of the family we asked for; the DNS
 * servers and split subnets it brings along are kept for the log and the
 * updown script.  Nothing is installed yet.
 *
 * Return: 0, or -EPROTO (logged) when there is no usable address.
 */
int ike_vip_take(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *cp = ike_find(m, PL_CP);
	int fam = sa->conf->local_ts.ts[0].family;
	struct ike_vip *v = &sa->cvip;
	size_t alen = fam == AF_INET ? 4 : 16;
	const char *bad;
	struct ike_cfg r;

	memset(v, 0, sizeof(*v));
	if (ike_find_notify(m, N_INTERNAL_ADDRESS_FAILURE)) {
		ike_log(sa, "the gateway has no address left for us (INTERNAL_ADDRESS_FAILURE)");
		return -EPROTO;
	}
	if (!cp || ike_parse_cp(cp, &r) || r.type != CFG_REPLY ||
	    (fam == AF_INET ? !r.has_ip4 : !r.has_ip6)) {
		ike_log(sa, "the gateway gave no virtual address (vip = yes)");
		return -EPROTO;
	}
	v->family = fam;
	memcpy(v->addr, fam == AF_INET ? r.ip4 : r.ip6, alen);
	/* a gateway handing out an address of its own side, or a reserved one, is refused */
	if (!memcmp(v->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", alen) ||
	    (fam == AF_INET && (v->addr[0] == 127 || v->addr[0] >= 224)) ||
	    (fam == AF_INET6 && (v->addr[0] == 0xff || !memcmp(v->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16)))) {
		ike_log(sa, "the gateway's virtual address is not a unicast address: refused");
		return -EPROTO;
	}
	bad = sa->d->rtnl ? vip_unusable(sa) : "not installable (no routing netlink)";
	if (bad) {
		char a[INET6_ADDRSTRLEN] = "?";

		inet_ntop(fam, v->addr, a, sizeof(a));
		ike_log(sa, "the virtual address %s is %s: refused", a, bad);
		return -EPROTO;
	}
	v->ts.n = 1;
	v->ts.ts[0] = (struct ike_ts){ .family = (uint8_t)fam, .eport = 65535 };
	ike_ts_set_prefix(&v->ts.ts[0], v->addr, (unsigned int)alen * 8);
	v->cfg = r;
	v->got = true;
	return 0;
}

/* the daemon's rule to a table: added with its first user, removed with its last */
static int rule_get(struct ike_daemon *d, int fam, uint32_t table)
{
	struct ike_vip_rule *free_slot = NULL;
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(d->vip_rules); i++) {
		struct ike_vip_rule *r = &d->vip_rules[i];

		if (r->users && r->family == fam && r->table == table) {
			r->users++;
			return 0;
		}
		if (!r->users && !free_slot)
			free_slot = r;
	}
	if (!free_slot)
		return -ENOSPC;
	err = rtnl_rule(d->rtnl, true, fam, table, ESPTCP_VIP_RULE_PRIO);
	if (err && err != -EEXIST)
		return err;
	/* one of ours there already (it survived the start-up flush) stays */
	*free_slot = (struct ike_vip_rule){ .family = fam, .table = table, .users = 1,
					    .added = !err };
	return 0;
}

static void rule_put(struct ike_daemon *d, int fam, uint32_t table)
{
	for (size_t i = 0; i < ARRAY_SIZE(d->vip_rules); i++) {
		struct ike_vip_rule *r = &d->vip_rules[i];

		if (r->users && r->family == fam && r->table == table) {
			if (--r->users == 0 && r->added)
				rtnl_rule(d->rtnl, false, fam, table, ESPTCP_VIP_RULE_PRIO);
			return;
		}
	}
}

static void route_of(const struct ike_vip *v, const struct ike_ts *t, uint32_t table,
		     struct rtnl_route *rt)
{
	*rt = (struct rtnl_route){ .family = v->family, .plen = ike_ts_prefix(t),
				   .has_gw = v->has_gw, .oif = v->oif, .table = table,
				   .has_src = true };
	memcpy(rt->dst, t->start, sizeof(rt->dst));
	memcpy(rt->gw, v->gw, sizeof(rt->gw));
	memcpy(rt->src, v->addr, sizeof(rt->src));
}

/* does a selector's address range hold this address (whatever its ports)? */
static bool range_has(const struct ike_ts *t, const uint8_t *a)
{
	size_t len = t->family == AF_INET ? 4 : 16;

	return memcmp(t->start, a, len) <= 0 && memcmp(a, t->end, len) <= 0;
}

/* the routes, and the route to the gateway, out again */
static void routes_off(struct ike_sa *sa)
{
	struct ike_daemon *d = sa->d;
	struct ike_vip *v = &sa->cvip;
	unsigned int plen = v->family == AF_INET ? 32 : 128;
	struct rtnl_route rt;

	for (unsigned int i = 0; i < v->routes.n; i++) {
		route_of(v, &v->routes.ts[i], sa->conf->route_table, &rt);
		rtnl_route(d->rtnl, false, &rt);
	}
	v->routes.n = 0;
	if (v->peer_route) {
		struct ike_ts peer = { .family = (uint8_t)v->family };

		ike_ts_set_prefix(&peer, v->peer, plen);
		route_of(v, &peer, sa->conf->route_table, &rt);
		rt.has_src = false;
		rtnl_route(d->rtnl, false, &rt);
		v->peer_route = false;
	}
}

/*
 * A route per selector of the gateway's side, through the next hop the
 * kernel takes to the gateway now.  When a selector's range holds the
 * gateway, the gateway gets a route of its own without our source, and a
 * selector that is the gateway alone gets no route: IKE and the ESP
 * carrier keep their source.  A route someone else has (another tunnel's)
 * is not replaced: -EEXIST.
 */
static int routes_on(struct ike_sa *sa, const struct ike_ts_set *rts, const char **what)
{
	struct ike_daemon *d = sa->d;
	struct ike_vip *v = &sa->cvip;
	unsigned int plen = v->family == AF_INET ? 32 : 128;
	struct ike_ts peer = { .family = (uint8_t)v->family, .eport = 65535 };
	struct rtnl_route rt, via;
	int err;

	*what = "the route to the gateway";
	memcpy(v->peer, ike_ss_addr(&sa->link->peer), plen / 8);
	err = rtnl_route_get(d->rtnl, v->family, v->peer, &via);
	if (err)
		return err;
	v->has_gw = via.has_gw;
	memcpy(v->gw, via.gw, sizeof(v->gw));
	v->oif = via.oif;
	ike_ts_set_prefix(&peer, v->peer, plen);
	for (unsigned int i = 0; i < rts->n; i++) {
		const struct ike_ts *t = &rts->ts[i];

		if (ike_ts_set_has(&v->routes, t))
			continue;	/* another CHILD_SA's already */
		if (!v->peer_route && range_has(t, v->peer)) {
			route_of(v, &peer, sa->conf->route_table, &rt);
			rt.has_src = false;
			err = rtnl_route(d->rtnl, true, &rt);
			if (err)
				return err;
			v->peer_route = true;
		}
		if (ike_ts_prefix(t) == plen && range_has(t, v->peer))
			continue;
		if (v->routes.n == IKE_MAX_TS)
			return -ENOSPC;
		*what = "a route";
		route_of(v, t, sa->conf->route_table, &rt);
		err = rtnl_route(d->rtnl, true, &rt);
		if (err)
			return err;
		v->routes.ts[v->routes.n++] = *t;
	}
	return 0;
}

/* take the routes and the address away again, as far as they went in */
static void uninstall(struct ike_sa *sa)
{
	struct ike_daemon *d = sa->d;
	struct ike_vip *v = &sa->cvip;
	unsigned int plen = v->family == AF_INET ? 32 : 128;

	routes_off(sa);
	if (v->rule) {
		rule_put(d, v->family, sa->conf->route_table);
		v->rule = false;
	}
	if (v->addr_added) {
		rtnl_addr(d->rtnl, false, v->family, v->addr, plen, v->ifindex);
		v->addr_added = false;
	}
}

/**
 * ike_vip_install() - the address, the rule and a route for each of the gateway's selectors
 * @sa: the SA, with ike_vip_take() done
 * @rts: the gateway's selectors of the first CHILD_SA
 *
 * Nothing of it may be there already: an address the host has (checked by
 * ike_vip_take() too), or a route another tunnel has, refuses the SA
 * rather than be taken over (and be removed from under its owner later).
 *
 * Return: 0, or -errno (logged; what went in is taken out again).
 */
int ike_vip_install(struct ike_sa *sa, const struct ike_ts_set *rts)
{
	struct ike_daemon *d = sa->d;
	struct ike_vip *v = &sa->cvip;
	const char *what = "the interface";
	char a[INET6_ADDRSTRLEN] = "?", sel[256];
	unsigned int plen = v->family == AF_INET ? 32 : 128;
	int err = -ENODEV;

	if (!d->rtnl)
		return -ENOTCONN;
	inet_ntop(v->family, v->addr, a, sizeof(a));
	v->ifindex = (int)if_nametoindex(sa->conf->vip_dev);
	if (v->ifindex) {
		what = "the address";
		err = rtnl_addr(d->rtnl, true, v->family, v->addr, plen, v->ifindex);
	}
	v->addr_added = !err;
	if (!err) {
		what = "the routing rule";
		err = rule_get(d, v->family, sa->conf->route_table);
		v->rule = !err;
	}
	if (!err)
		err = routes_on(sa, rts, &what);
	if (err) {
		ike_log(sa, "installing the virtual address %s failed at %s: %s%s", a, what,
			strerror(-err), err == -EEXIST ? " (another tunnel's, or the host's)" : "");
		uninstall(sa);
		return err;
	}
	ike_log(sa, "virtual address %s on %s, routes in table %u to %s", a, sa->conf->vip_dev,
		sa->conf->route_table, ike_ts_set_str(rts, sel, sizeof(sel)));
	return 0;
}

/* is a route still some other installed CHILD_SA's? */
static bool route_used(const struct ike_sa *sa, const struct ike_child *gone,
		       const struct ike_ts *r)
{
	for (const struct ike_child *o = sa->children; o; o = o->next)
		if (o != gone && o->installed && ike_ts_set_has(&o->rts, r))
			return true;
	return false;
}

/**
 * ike_vip_child_gone() - a CHILD_SA goes: the routes no other one has go too
 * @sa: the SA
 * @c: the child, still on the SA's list
 *
 * Called before the child's policies go, so that no traffic is routed
 * from the virtual address while no policy would take it.  With the last
 * route, the route to the gateway goes as well.
 */
void ike_vip_child_gone(struct ike_sa *sa, const struct ike_child *c)
{
	struct ike_vip *v = &sa->cvip;
	struct rtnl_route rt;
	unsigned int n = 0;

	if (!v->got || !v->addr_added)
		return;
	for (unsigned int i = 0; i < v->routes.n; i++) {
		if (route_used(sa, c, &v->routes.ts[i])) {
			v->routes.ts[n++] = v->routes.ts[i];
			continue;
		}
		route_of(v, &v->routes.ts[i], sa->conf->route_table, &rt);
		rtnl_route(sa->d->rtnl, false, &rt);
	}
	v->routes.n = n;
	if (!n && v->peer_route) {
		ike_log(sa, "no CHILD_SA left: the virtual address's routes are removed");
		routes_off(sa);
	}
}

/**
 * ike_vip_child_up() - a CHILD_SA of a client with its address came up
 * @sa: the SA
 * @c: the child
 *
 * Its selectors get the routes they lack (a CHILD_SA the gateway made
 * later, or the first one after the last went).
 */
void ike_vip_child_up(struct ike_sa *sa, const struct ike_child *c)
{
	const char *what;

	if (!sa->cvip.got || !sa->cvip.addr_added)
		return;
	/* ended at the next timer pass: the child's installer goes on with it */
	if (routes_on(sa, &c->rts, &what))
		ike_sa_set_dying(sa, "the virtual address's routes cannot be installed");
}

/**
 * ike_vip_moved() - the SA's path changed: the routes follow the next hop
 * @sa: the SA
 *
 * A MOBIKE move or a reconnect from another address can change the route
 * to the gateway; the routes of every installed CHILD_SA are put in again
 * through the new one.
 *
 * Return: 0, or -errno when they cannot be (the caller takes the SA down:
 * better no tunnel than traffic from the address without a policy).
 */
int ike_vip_moved(struct ike_sa *sa)
{
	struct ike_vip *v = &sa->cvip;
	const char *what = "a route";
	int err = 0;

	if (!v->got || !v->addr_added || (!v->routes.n && !v->peer_route))
		return 0;
	/*
	 * the same gateway through the same next hop (a NAT port change):
	 * nothing to do (with a route of ours to the gateway, the lookup
	 * would find that one: then they go in again)
	 */
	if (!v->peer_route &&
	    !memcmp(v->peer, ike_ss_addr(&sa->link->peer), v->family == AF_INET ? 4 : 16)) {
		struct rtnl_route via;

		if (!rtnl_route_get(sa->d->rtnl, v->family, v->peer, &via) && via.oif == v->oif &&
		    via.has_gw == v->has_gw && !memcmp(via.gw, v->gw, sizeof(v->gw)))
			return 0;
	}
	routes_off(sa);
	for (const struct ike_child *c = sa->children; c && !err; c = c->next)
		if (c->installed)
			err = routes_on(sa, &c->rts, &what);
	if (err) {
		ike_log(sa, "the virtual address's routes after the move failed at %s: %s", what,
			strerror(-err));
		routes_off(sa);
	}
	return err;
}

/**
 * ike_vip_may_follow() - whether ike_vip_follow() has routes to look after
 * @sa: the SA
 *
 * Return: true when the SA put in an address and routes of its own, and the
 * gateway has no route of ours.
 */
bool ike_vip_may_follow(const struct ike_sa *sa)
{
	const struct ike_vip *v = &sa->cvip;

	return v->got && v->addr_added && v->routes.n && !v->peer_route;
}

/**
 * ike_vip_follow() - routing changed under the tunnel: the routes follow
 * @sa: the SA
 *
 * Without a move of the SA the route to the gateway can still change (a
 * new default router on the same link, another interface); a client looks
 * once a second and puts the routes in again through the new next hop.
 * Not when routing now picks another address of ours (a move: MOBIKE or a
 * reconnect, which put the routes in themselves), and not when the
 * gateway has a route of ours: the lookup would find that one.
 *
 * Return: as ike_vip_moved().
 */
int ike_vip_follow(struct ike_sa *sa)
{
	struct ike_vip *v = &sa->cvip;
	struct rtnl_route via;

	if (!ike_vip_may_follow(sa))
		return 0;
	if (rtnl_route_get(sa->d->rtnl, v->family, v->peer, &via) ||
	    (via.oif == v->oif && via.has_gw == v->has_gw && !memcmp(via.gw, v->gw, sizeof(v->gw))))
		return 0;
	/* from another address of ours: that is a move, which puts them in itself */
	if (via.has_src && memcmp(via.src, ike_ss_addr(&sa->link->local),
				  v->family == AF_INET ? 4 : 16))
		return 0;
	ike_log(sa, "the route to the gateway changed: the virtual address's routes follow");
	return ike_vip_moved(sa);
}

/* the SA goes: its address and routes with it (nothing when handed on) */
void ike_vip_remove(struct ike_sa *sa)
{
	if (!sa->cvip.got)
		return;
	/* install = no: the address was only logged */
	if (sa->conf->install)
		uninstall(sa);
	sa->cvip.got = false;
}
