// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the routing netlink calls a client with a virtual address
 * makes (rtnl.h): the address on an interface, routes with it as source in
 * a table of their own, the rule that looks that table up, and the route
 * the kernel takes to a peer.  Everything through libmnl, one request and
 * its acknowledgement at a time.  What we add carries RTNL_PROTO_ESPTCP
 * as its protocol (IFA_PROTO, rtm_protocol, FRA_PROTOCOL) and is added
 * exclusively, so that it is never someone else's, and rtnl_flush_ours()
 * removes what a killed helper left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include "rtnl.h"

struct rtnl {
	struct mnl_socket *sock;
	unsigned int portid, seq;
};

/**
 * rtnl_open() - a routing netlink socket for requests
 *
 * Return: the socket, or NULL with errno set.
 */
struct rtnl *rtnl_open(void)
{
	struct rtnl *r = calloc(1, sizeof(*r));
	int one = 1;

	if (!r)
		return NULL;
	r->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!r->sock || mnl_socket_bind(r->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (r->sock)
			mnl_socket_close(r->sock);
		free(r);
		return NULL;
	}
	mnl_socket_setsockopt(r->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	r->portid = mnl_socket_get_portid(r->sock);
	r->seq = (unsigned int)time(NULL);
	return r;
}

void rtnl_close(struct rtnl *r)
{
	if (!r)
		return;
	mnl_socket_close(r->sock);
	free(r);
}

static struct nlmsghdr *msg_start(struct rtnl *r, void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++r->seq;
	return nlh;
}

/*
 * Send one request, read to its acknowledgement (or its answers): 0 or
 * -errno.  What an earlier request that failed half-way left unread goes
 * first, so that no answer is ever taken for another's.
 */
static int talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;
	int ret;

	while (recv(mnl_socket_get_fd(r->sock), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	if (mnl_socket_sendto(r->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(r->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, r->portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/**
 * rtnl_addr() - add or remove an address of an interface
 * @r: the socket
 * @add: add (an address there already: -EEXIST) or remove
 * @family: AF_INET or AF_INET6
 * @addr: the address
 * @plen: its prefix length
 * @ifindex: the interface
 *
 * An IPv6 address is added without duplicate address detection, usable at
 * once, as a virtual address must be.
 *
 * Return: 0 or -errno (removing one that is not there: -EADDRNOTAVAIL).
 */
int rtnl_addr(struct rtnl *r, bool add, int family, const uint8_t *addr, unsigned int plen,
	      int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(r, buf, add ? RTM_NEWADDR : RTM_DELADDR,
					 NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)ifindex;
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, alen(family), addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen(family), addr);
	if (add)
		mnl_attr_put_u8(nlh, IFA_PROTO, RTNL_PROTO_ESPTCP);
	return talk(r, nlh, NULL, NULL);
}

/**
 * rtnl_route() - add or remove a unicast route of a table
 * @r: the socket
 * @add: add (one to the same prefix there already: -EEXIST) or remove
 * @rt: the route: prefix, gateway (optional), interface, source (optional), table
 *
 * Return: 0 or -errno (removing one that is not there: -ESRCH).
 */
int rtnl_route(struct rtnl *r, bool add, const struct rtnl_route *rt)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(r, buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
					 NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t len = alen(rt->family);

	rtm->rtm_family = (uint8_t)rt->family;
	rtm->rtm_dst_len = (uint8_t)rt->plen;
	rtm->rtm_table = rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTNL_PROTO_ESPTCP;
	rtm->rtm_scope = rt->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, rt->table);
	mnl_attr_put(nlh, RTA_DST, len, rt->dst);
	if (rt->has_gw)
		mnl_attr_put(nlh, RTA_GATEWAY, len, rt->gw);
	if (rt->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)rt->oif);
	if (rt->has_src)
		mnl_attr_put(nlh, RTA_PREFSRC, len, rt->src);
	return talk(r, nlh, NULL, NULL);
}

/**
 * rtnl_rule() - add or remove the rule "from all lookup TABLE" at a priority
 * @r: the socket
 * @add: add (one of ours there already: -EEXIST) or remove (ours only)
 * @family: AF_INET or AF_INET6
 * @table: the table
 * @prio: the rule's priority (smaller: looked at first; main is 32766)
 *
 * Return: 0 or -errno.
 */
int rtnl_rule(struct rtnl *r, bool add, int family, uint32_t table, uint32_t prio)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(r, buf, add ? RTM_NEWRULE : RTM_DELRULE,
					 NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	frh->family = (uint8_t)family;
	frh->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, prio);
	/* on delete too: without it, the kernel takes the first rule alike, an operator's */
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTNL_PROTO_ESPTCP);
	return talk(r, nlh, NULL, NULL);
}

struct get_reply {
	struct rtnl_route *rt;
	bool found;
};

static int get_attr(const struct nlattr *a, void *data)
{
	struct get_reply *g = data;
	size_t len = alen(g->rt->family);

	switch (mnl_attr_get_type(a)) {
	case RTA_GATEWAY:
		if (mnl_attr_get_payload_len(a) == len) {
			memcpy(g->rt->gw, mnl_attr_get_payload(a), len);
			g->rt->has_gw = true;
		}
		break;
	case RTA_OIF:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			g->rt->oif = (int)mnl_attr_get_u32(a);
		break;
	case RTA_PREFSRC:
		if (mnl_attr_get_payload_len(a) == len) {
			memcpy(g->rt->src, mnl_attr_get_payload(a), len);
			g->rt->has_src = true;
		}
		break;
	}
	return MNL_CB_OK;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_reply *g = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	g->found = true;
	g->rt->type = ((const struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_type;
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), get_attr, g);
}

/**
 * rtnl_route_get() - the route the kernel takes to an address now
 * @r: the socket
 * @family: AF_INET or AF_INET6
 * @dst: the address
 * @rt: set to the next hop: gateway (when there is one), interface,
 *	preferred source and route type (RTN_LOCAL: an address of ours); dst
 *	and plen to the address itself
 *
 * Return: 0 or -errno (no route: -ENETUNREACH).
 */
int rtnl_route_get(struct rtnl *r, int family, const uint8_t *dst, struct rtnl_route *rt)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(r, buf, RTM_GETROUTE, NLM_F_ACK);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct get_reply g = { .rt = rt };
	int err;

	memset(rt, 0, sizeof(*rt));
	rt->family = family;
	rt->plen = family == AF_INET ? 32 : 128;
	memcpy(rt->dst, dst, alen(family));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)rt->plen;
	mnl_attr_put(nlh, RTA_DST, alen(family), dst);
	err = talk(r, nlh, get_cb, &g);
	if (!err && (!g.found || !rt->oif))
		err = -ENETUNREACH;
	return err;
}

/* what a dump found of ours: up to this many at a time, removed after */
#define FLUSH_BATCH	64

struct flush {
	uint16_t type;			/* the RTM_NEW* the dump answers with */
	unsigned int n;
	char msgs[FLUSH_BATCH][256];	/* the objects as found, to send back as RTM_DEL* */
	size_t lens[FLUSH_BATCH];
};

static uint8_t addr_proto(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct ifaddrmsg))
		if (mnl_attr_get_type(a) == IFA_PROTO && !mnl_attr_validate(a, MNL_TYPE_U8))
			return mnl_attr_get_u8(a);
	return 0;
}

static uint8_t rule_proto(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct fib_rule_hdr))
		if (mnl_attr_get_type(a) == FRA_PROTOCOL && !mnl_attr_validate(a, MNL_TYPE_U8))
			return mnl_attr_get_u8(a);
	return 0;
}

static int flush_cb(const struct nlmsghdr *nlh, void *data)
{
	struct flush *f = data;
	bool ours;

	if (nlh->nlmsg_type != f->type || f->n == FLUSH_BATCH || nlh->nlmsg_len > 256)
		return MNL_CB_OK;
	if (f->type == RTM_NEWROUTE)
		ours = ((const struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_protocol ==
		       RTNL_PROTO_ESPTCP;
	else if (f->type == RTM_NEWADDR)
		ours = addr_proto(nlh) == RTNL_PROTO_ESPTCP;
	else
		ours = rule_proto(nlh) == RTNL_PROTO_ESPTCP;
	if (ours) {
		memcpy(f->msgs[f->n], nlh, nlh->nlmsg_len);
		f->lens[f->n++] = nlh->nlmsg_len;
	}
	return MNL_CB_OK;
}

/* dump one kind of object of both families; delete those of ours */
static int flush_kind(struct rtnl *r, uint16_t get, uint16_t del, size_t hdr, int *removed)
{
	static struct flush f;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err;

	do {
		struct nlmsghdr *nlh = msg_start(r, buf, get, NLM_F_DUMP);
		struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, hdr);

		g->rtgen_family = AF_UNSPEC;
		memset(&f, 0, sizeof(f));
		f.type = (uint16_t)(get - 2);	/* RTM_GET* - 2 is RTM_NEW* */
		err = talk(r, nlh, flush_cb, &f);
		for (unsigned int i = 0; !err && i < f.n; i++) {
			struct nlmsghdr *d = (struct nlmsghdr *)f.msgs[i];

			d->nlmsg_type = del;
			d->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
			d->nlmsg_seq = ++r->seq;
			d->nlmsg_pid = 0;
			if (!talk(r, d, NULL, NULL))
				(*removed)++;
		}
	} while (!err && f.n == FLUSH_BATCH);
	return err;
}

/**
 * rtnl_flush_ours() - remove the addresses, routes and rules a helper added
 * @r: the socket
 *
 * At start: a helper that was killed left them (RTNL_PROTO_ESPTCP says
 * they are ours).  Kernels without IFA_PROTO or FRA_PROTOCOL (before 5.18
 * and 4.17) keep theirs.
 *
 * Return: how many were removed, or -errno.
 */
int rtnl_flush_ours(struct rtnl *r)
{
	int n = 0, err;

	err = flush_kind(r, RTM_GETROUTE, RTM_DELROUTE, sizeof(struct rtmsg), &n);
	if (!err)
		err = flush_kind(r, RTM_GETRULE, RTM_DELRULE, sizeof(struct fib_rule_hdr), &n);
	if (!err)
		err = flush_kind(r, RTM_GETADDR, RTM_DELADDR, sizeof(struct ifaddrmsg), &n);
	return err ? err : n;
}
