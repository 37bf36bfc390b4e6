// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: XFRM netlink for the IKE helper, through libmnl.  States and
 * policies are tagged by their reqid: everything whose reqid lies in the
 * helper's range is the helper's, which is how a restarted helper finds and
 * removes what a killed one left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <linux/udp.h>
#include <libmnl/libmnl.h>

#include "ike.h"

#define XFRM_PRIORITY	1000

struct xfrm_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
};

typedef int (*xfrm_cb)(const struct nlmsghdr *nlh, void *data);

struct xfrm_nl *xfrm_open(void)
{
	struct xfrm_nl *x = calloc(1, sizeof(*x));
	int one = 1;

	if (!x)
		return NULL;
	x->sock = mnl_socket_open(NETLINK_XFRM);
	if (!x->sock || mnl_socket_bind(x->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (x->sock)
			mnl_socket_close(x->sock);
		free(x);
		return NULL;
	}
	mnl_socket_setsockopt(x->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	x->portid = mnl_socket_get_portid(x->sock);
	x->seq = (unsigned int)time(NULL);
	return x;
}

/**
 * xfrm_open_mappings() - a socket that hears the kernel's NAT mapping changes
 *
 * XFRMNLGRP_MAPPING: an authenticated ESP-in-UDP packet of one of the
 * states arrived from another address or port than the state's (RFC 7296
 * 2.23).  Non-blocking, for the event loop; read with xfrm_read_mappings().
 *
 * Return: the socket, or NULL with errno set.
 */
struct xfrm_nl *xfrm_open_mappings(void)
{
	struct xfrm_nl *x = calloc(1, sizeof(*x));
	int grp = XFRMNLGRP_MAPPING;

	if (!x)
		return NULL;
	x->sock = mnl_socket_open2(NETLINK_XFRM, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!x->sock || mnl_socket_bind(x->sock, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(x->sock, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		if (x->sock)
			mnl_socket_close(x->sock);
		free(x);
		return NULL;
	}
	x->portid = mnl_socket_get_portid(x->sock);
	return x;
}

int xfrm_fd(const struct xfrm_nl *x)
{
	return mnl_socket_get_fd(x->sock);
}

struct mapping_run {
	void (*cb)(const struct xfrm_mapping *m, void *data);
	void *data;
};

static int mapping_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct xfrm_user_mapping *um;
	struct mapping_run *r = data;
	struct xfrm_mapping m = { 0 };
	size_t len;

	if (nlh->nlmsg_type != XFRM_MSG_MAPPING || mnl_nlmsg_get_payload_len(nlh) < sizeof(*um))
		return MNL_CB_OK;
	um = mnl_nlmsg_get_payload(nlh);
	if (um->id.proto != IPPROTO_ESP || (um->id.family != AF_INET && um->id.family != AF_INET6))
		return MNL_CB_OK;
	len = um->id.family == AF_INET ? 4 : 16;
	m.family = um->id.family;
	m.spi = um->id.spi;
	m.reqid = um->reqid;
	memcpy(m.daddr, &um->id.daddr, len);
	memcpy(m.old_addr, &um->old_saddr, len);
	memcpy(m.new_addr, &um->new_saddr, len);
	m.old_port = ntohs(um->old_sport);
	m.new_port = ntohs(um->new_sport);
	r->cb(&m, r->data);
	return MNL_CB_OK;
}

/**
 * xfrm_read_mappings() - hand each queued mapping change to @cb
 * @x: a socket from xfrm_open_mappings()
 * @cb: called once per XFRM_MSG_MAPPING
 * @data: its argument
 *
 * Return: how many datagrams were read, or a negative errno other than
 * -EAGAIN (-ENOBUFS: the kernel dropped some; the next packet repeats them).
 */
int xfrm_read_mappings(struct xfrm_nl *x, void (*cb)(const struct xfrm_mapping *m, void *data),
		       void *data)
{
	struct mapping_run r = { cb, data };
	char buf[8192];
	int n = 0;

	for (;;) {
		ssize_t ret = mnl_socket_recvfrom(x->sock, buf, sizeof(buf));

		if (ret < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? n : -errno;
		mnl_cb_run(buf, (size_t)ret, 0, 0, mapping_cb, &r);
		n++;
	}
}

void xfrm_close(struct xfrm_nl *x)
{
	if (!x)
		return;
	mnl_socket_close(x->sock);
	free(x);
}

static struct nlmsghdr *msg_start(struct xfrm_nl *x, void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++x->seq;
	return nlh;
}

/* send one request and run cb on each reply until the ack or the dump ends */
/*
 * What is left of a dump that failed part way, read and dropped: the next
 * request on the socket must not take it for its answer.  Reading with
 * MSG_DONTWAIT lets the kernel fill the rest until its end.
 */
static void xfrm_drain(struct xfrm_nl *x, char *buf, size_t len)
{
	while (recv(mnl_socket_get_fd(x->sock), buf, len, MSG_DONTWAIT) > 0)
		;
}

static int xfrm_talk(struct xfrm_nl *x, struct nlmsghdr *nlh, xfrm_cb cb, void *data)
{
	char buf[32768];
	int ret, err = 0;

	if (mnl_socket_sendto(x->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ret = (int)mnl_socket_recvfrom(x->sock, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)ret, nlh->nlmsg_seq, x->portid, cb, data);
		if (ret < 0)
			err = -errno;
	} while (ret > 0);
	if (err && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP)
		xfrm_drain(x, buf, sizeof(buf));
	/* a dump or a GETSA answer carries states' keys, other daemons' too */
	ike_wipe(buf, sizeof(buf));
	return err;
}

static void put_addr(xfrm_address_t *a, int family, const uint8_t *src)
{
	memset(a, 0, sizeof(*a));
	memcpy(a, src, family == AF_INET ? 4 : 16);
}

struct spi_reply {
	uint32_t spi;
};

/*
 * A message's fixed header, copied out if it is @type and long enough:
 * the messages of a dump follow each other at 4-byte alignment, and the
 * SA and policy headers hold 64-bit counters.
 */
static bool nl_payload(const struct nlmsghdr *nlh, uint16_t type, void *out, size_t len)
{
	if (nlh->nlmsg_type != type || mnl_nlmsg_get_payload_len(nlh) < len)
		return false;
	memcpy(out, mnl_nlmsg_get_payload(nlh), len);
	return true;
}

static int spi_cb(const struct nlmsghdr *nlh, void *data)
{
	struct spi_reply *r = data;
	struct xfrm_usersa_info info;

	if (!nl_payload(nlh, XFRM_MSG_NEWSA, &info, sizeof(info)))
		return MNL_CB_OK;
	r->spi = info.id.spi;
	return MNL_CB_OK;
}

/**
 * xfrm_alloc_spi() - reserve an inbound SPI (a larval state the kernel ages out)
 * @x: the socket
 * @family: outer family
 * @src: the peer's outer address
 * @dst: ours
 * @reqid: the child's reqid
 * @spi: set to the SPI, network order
 *
 * Return: 0 or a negative errno.
 */
int xfrm_alloc_spi(struct xfrm_nl *x, int family, const uint8_t *src, const uint8_t *dst,
		   uint32_t reqid, uint32_t *spi)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(x, buf, XFRM_MSG_ALLOCSPI, NLM_F_ACK);
	struct xfrm_userspi_info *u = mnl_nlmsg_put_extra_header(nlh, sizeof(*u));
	struct spi_reply r = { 0 };
	int err;

	put_addr(&u->info.id.daddr, family, dst);
	put_addr(&u->info.saddr, family, src);
	u->info.id.proto = IPPROTO_ESP;
	u->info.family = (uint16_t)family;
	u->info.reqid = reqid;
	u->info.mode = XFRM_MODE_TUNNEL;
	u->min = 0xc0000000;
	u->max = 0xcfffffff;
	err = xfrm_talk(x, nlh, spi_cb, &r);
	if (!err && !r.spi)
		err = -EIO;
	*spi = r.spi;
	return err;
}

static void put_lft(struct xfrm_lifetime_cfg *l, unsigned int hard_s)
{
	l->soft_byte_limit = XFRM_INF;
	l->hard_byte_limit = XFRM_INF;
	l->soft_packet_limit = XFRM_INF;
	l->hard_packet_limit = XFRM_INF;
	l->hard_add_expires_seconds = hard_s;
}

static int add_state(struct xfrm_nl *x, const struct xfrm_child *c, bool in)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(x, buf, in ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA,
					 NLM_F_ACK | (in ? 0 : NLM_F_CREATE | NLM_F_EXCL));
	struct xfrm_usersa_info *info = mnl_nlmsg_put_extra_header(nlh, sizeof(*info));
	const uint8_t *key = in ? c->key_in : c->key_out;
	char algbuf[sizeof(struct xfrm_algo_auth) + 2 * IKE_MAX_KEY];
	const char *encr, *integ;
	unsigned int bits;
	int err;

	put_addr(&info->id.daddr, c->family, in ? c->local : c->remote);
	put_addr(&info->saddr, c->family, in ? c->remote : c->local);
	info->id.spi = in ? c->spi_in : c->spi_out;
	info->id.proto = IPPROTO_ESP;
	info->family = (uint16_t)c->family;
	info->sel.family = (uint16_t)c->family;
	info->reqid = c->reqid;
	info->mode = c->tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
	put_lft(&info->lft, c->hard_s);
	if (c->suite.esn)
		info->flags |= XFRM_STATE_ESN;
	{
		/*
		 * A 128-packet window, as a bitmap: packets in flight on the
		 * old path when an SA moves between UDP and TCP arrive late.
		 */
		char rbuf[sizeof(struct xfrm_replay_state_esn) + 4 * sizeof(__u32)];
		struct xfrm_replay_state_esn *rs = (void *)rbuf;

		memset(rbuf, 0, sizeof(rbuf));
		rs->bmp_len = 4;
		rs->replay_window = 128;
		mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(rbuf), rs);
	}
	if (ike_esp_xfrm_algs(&c->suite, &encr, &integ, &bits)) {
		ike_wipe(buf, sizeof(buf));
		return -EINVAL;
	}
	if (!integ) {
		struct xfrm_algo_aead *a = (void *)algbuf;

		memset(a, 0, sizeof(*a));
		snprintf(a->alg_name, sizeof(a->alg_name), "%s", encr);
		a->alg_key_len = (unsigned int)c->enc_len * 8;
		a->alg_icv_len = bits;
		memcpy(a->alg_key, key, c->enc_len);
		mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(*a) + c->enc_len, a);
	} else {
		struct xfrm_algo *e = (void *)algbuf;
		struct xfrm_algo_auth *a = (void *)algbuf;

		memset(e, 0, sizeof(*e));
		snprintf(e->alg_name, sizeof(e->alg_name), "%s", encr);
		e->alg_key_len = (unsigned int)c->enc_len * 8;
		memcpy(e->alg_key, key, c->enc_len);
		mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(*e) + c->enc_len, e);
		memset(a, 0, sizeof(*a));
		snprintf(a->alg_name, sizeof(a->alg_name), "%s", integ);
		a->alg_key_len = (unsigned int)c->integ_len * 8;
		a->alg_trunc_len = bits;
		memcpy(a->alg_key, key + c->enc_len, c->integ_len);
		mnl_attr_put(nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(*a) + c->integ_len, a);
	}
	if (c->encap_sport) {
		struct xfrm_encap_tmpl enc = {
			.encap_type = UDP_ENCAP_ESPINUDP,
			.encap_sport = htons(in ? c->encap_dport : c->encap_sport),
			.encap_dport = htons(in ? c->encap_sport : c->encap_dport),
		};

		mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(enc), &enc);
	}
	ike_wipe(algbuf, sizeof(algbuf));
	err = xfrm_talk(x, nlh, NULL, NULL);
	/* the keys were in the message too */
	ike_wipe(buf, sizeof(buf));
	return err;
}

/**
 * xfrm_add_states() - install a CHILD_SA's two states
 * @x: the socket
 * @c: the child; its inbound SPI came from xfrm_alloc_spi()
 *
 * Return: 0 or a negative errno (the inbound state may then exist).
 */
int xfrm_add_states(struct xfrm_nl *x, const struct xfrm_child *c)
{
	int err = add_state(x, c, true);

	return err ? err : add_state(x, c, false);
}

int xfrm_del_state(struct xfrm_nl *x, int family, const uint8_t *daddr, uint32_t spi)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(x, buf, XFRM_MSG_DELSA, NLM_F_ACK);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	put_addr(&id->daddr, family, daddr);
	id->spi = spi;
	id->family = (uint16_t)family;
	id->proto = IPPROTO_ESP;
	return xfrm_talk(x, nlh, NULL, NULL);
}

static void put_sel(struct xfrm_selector *sel, const struct ike_ts *src,
		    const struct ike_ts *dst)
{
	memset(sel, 0, sizeof(*sel));
	sel->family = src->family;
	put_addr(&sel->saddr, src->family, src->start);
	put_addr(&sel->daddr, dst->family, dst->start);
	sel->prefixlen_s = ike_ts_prefix(src);
	sel->prefixlen_d = ike_ts_prefix(dst);
	sel->proto = src->proto ? src->proto : dst->proto;
	if (src->sport == src->eport) {
		sel->sport = htons(src->sport);
		sel->sport_mask = 0xffff;
	}
	if (dst->sport == dst->eport) {
		sel->dport = htons(dst->sport);
		sel->dport_mask = 0xffff;
	}
}

/*
 * A CHILD_SA with several selectors a side has a policy (out, in and fwd)
 * for each pair of ours and the peer's of one family: pair @i of ours and
 * @j of the peer's.
 */
static bool pair_valid(const struct xfrm_child *c, unsigned int i, unsigned int j)
{
	const struct ike_ts *l = &c->local_ts.ts[i], *r = &c->remote_ts.ts[j];

	/* one family, and one protocol (RFC 7296 2.9: TSi and TSr's) */
	return l->family == r->family && (!l->proto || !r->proto || l->proto == r->proto);
}

static void put_sel(struct xfrm_selector *sel, const struct ike_ts *src,
		    const struct ike_ts *dst);

/*
 * A pair gets policies unless it is invalid or selects what an earlier
 * pair of the child selects already (L and L[6] with R[6]: one selector).
 */
static bool pair_ok(const struct xfrm_child *c, unsigned int i, unsigned int j)
{
	struct xfrm_selector a, b;

	if (!pair_valid(c, i, j))
		return false;
	put_sel(&a, &c->local_ts.ts[i], &c->remote_ts.ts[j]);
	for (unsigned int k = 0; k <= i; k++) {
		for (unsigned int m = 0; m < c->remote_ts.n && (k < i || m < j); m++) {
			if (!pair_valid(c, k, m))
				continue;
			put_sel(&b, &c->local_ts.ts[k], &c->remote_ts.ts[m]);
			if (!memcmp(&a, &b, sizeof(a)))
				return false;
		}
	}
	return true;
}

/* add (exclusively, or replacing one with the same selector) or delete one policy */
static int policy(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i,
		  unsigned int j, uint8_t dir, bool add, bool replace)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool out = dir == XFRM_POLICY_OUT;
	const struct ike_ts *src = out ? &c->local_ts.ts[i] : &c->remote_ts.ts[j];
	const struct ike_ts *dst = out ? &c->remote_ts.ts[j] : &c->local_ts.ts[i];
	struct nlmsghdr *nlh;

	if (!add) {
		struct xfrm_userpolicy_id *id;

		nlh = msg_start(x, buf, XFRM_MSG_DELPOLICY, NLM_F_ACK);
		id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		put_sel(&id->sel, src, dst);
		id->dir = dir;
	} else {
		struct xfrm_userpolicy_info *p;
		struct xfrm_user_tmpl t = { 0 };

		nlh = msg_start(x, buf, replace ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY, NLM_F_ACK);
		p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
		put_sel(&p->sel, src, dst);
		put_lft(&p->lft, 0);
		p->priority = XFRM_PRIORITY;
		p->dir = dir;
		p->action = XFRM_POLICY_ALLOW;
		put_addr(&t.id.daddr, c->family, out ? c->remote : c->local);
		put_addr(&t.saddr, c->family, out ? c->local : c->remote);
		t.id.proto = IPPROTO_ESP;
		t.family = (uint16_t)c->family;
		t.reqid = c->reqid;
		t.mode = c->tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
		t.aalgos = ~0u;
		t.ealgos = ~0u;
		t.calgos = ~0u;
		mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	}
	return xfrm_talk(x, nlh, NULL, NULL);
}

/* out, in, and fwd so that a gateway forwards for the subnet behind it */
/* one policy's template, and the state it names, to new addresses (and UDP encapsulation) */
static int migrate(struct xfrm_nl *x, const struct xfrm_child *o, const struct xfrm_child *n,
		   unsigned int i, unsigned int j, uint8_t dir)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool out = dir == XFRM_POLICY_OUT;
	struct nlmsghdr *nlh = msg_start(x, buf, XFRM_MSG_MIGRATE, NLM_F_ACK);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct xfrm_user_migrate um = { 0 };

	put_sel(&id->sel, out ? &o->local_ts.ts[i] : &o->remote_ts.ts[j],
		out ? &o->remote_ts.ts[j] : &o->local_ts.ts[i]);
	id->dir = dir;
	put_addr(&um.old_daddr, o->family, out ? o->remote : o->local);
	put_addr(&um.old_saddr, o->family, out ? o->local : o->remote);
	put_addr(&um.new_daddr, n->family, out ? n->remote : n->local);
	put_addr(&um.new_saddr, n->family, out ? n->local : n->remote);
	um.proto = IPPROTO_ESP;
	um.mode = o->tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
	um.reqid = o->reqid;
	um.old_family = (uint16_t)o->family;
	um.new_family = (uint16_t)n->family;
	mnl_attr_put(nlh, XFRMA_MIGRATE, sizeof(um), &um);
	if (n->encap_sport) {
		bool in = !out;
		struct xfrm_encap_tmpl enc = {
			.encap_type = UDP_ENCAP_ESPINUDP,
			.encap_sport = htons(in ? n->encap_dport : n->encap_sport),
			.encap_dport = htons(in ? n->encap_sport : n->encap_dport),
		};

		mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(enc), &enc);
	}
	return xfrm_talk(x, nlh, NULL, NULL);
}

/**
 * xfrm_migrate_child() - move a CHILD_SA to new outer addresses or NAT-T ports
 * @x: the socket
 * @o: the child as installed
 * @n: the same child with its new addresses and ports
 *
 * XFRM_MSG_MIGRATE per policy (out, in, fwd): the kernel moves the
 * template and clones the state it names, sequence numbers and replay
 * window included, so the peer's replay window never sees a restart.
 * A migrated state keeps its UDP encapsulation when @n has none.
 *
 * Return: 0 or a negative errno.
 */
int xfrm_migrate_child(struct xfrm_nl *x, const struct xfrm_child *o, const struct xfrm_child *n)
{
	int err = 0, e;

	/* every pair, whatever one of them answers: the first error is returned */
	for (unsigned int i = 0; i < o->local_ts.n; i++) {
		for (unsigned int j = 0; j < o->remote_ts.n; j++) {
			if (!pair_ok(o, i, j))
				continue;
			e = migrate(x, o, n, i, j, XFRM_POLICY_OUT);
			if (!e)
				e = migrate(x, o, n, i, j, XFRM_POLICY_IN);
			if (!e && o->tunnel)
				e = migrate(x, o, n, i, j, XFRM_POLICY_FWD);
			if (!err)
				err = e;
		}
	}
	return err;
}

static int pair_del(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i,
		    unsigned int j)
{
	int e1 = policy(x, c, i, j, XFRM_POLICY_OUT, false, false);
	int e2 = policy(x, c, i, j, XFRM_POLICY_IN, false, false);
	int e3 = c->tunnel ? policy(x, c, i, j, XFRM_POLICY_FWD, false, false) : 0;

	return e1 ? e1 : e2 ? e2 : e3;
}

/* one pair's policies; exclusively, what it added is removed on failure */
static int pair_add(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i,
		    unsigned int j, bool replace)
{
	int err = policy(x, c, i, j, XFRM_POLICY_OUT, true, replace);

	if (!err) {
		err = policy(x, c, i, j, XFRM_POLICY_IN, true, replace);
		if (err && !replace)
			policy(x, c, i, j, XFRM_POLICY_OUT, false, false);
	}
	if (!err && c->tunnel) {
		err = policy(x, c, i, j, XFRM_POLICY_FWD, true, replace);
		if (err && !replace) {
			policy(x, c, i, j, XFRM_POLICY_OUT, false, false);
			policy(x, c, i, j, XFRM_POLICY_IN, false, false);
		}
	}
	return err;
}

/* one pair's policies, on their own (a pair that gets none: 0) */
int xfrm_pair_add(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i, unsigned int j,
		  bool replace)
{
	return pair_ok(c, i, j) ? pair_add(x, c, i, j, replace) : 0;
}

int xfrm_pair_del(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i, unsigned int j)
{
	return pair_ok(c, i, j) ? pair_del(x, c, i, j) : 0;
}

/*
 * Exclusively unless replace: a policy with the same selectors that exists
 * already is -EEXIST, and what this call added is removed again.  With
 * replace, what it pointed at @c stays so: the caller points it back
 * (ike_child.c, policies_release()).
 */
int xfrm_add_policies(struct xfrm_nl *x, const struct xfrm_child *c, bool replace)
{
	unsigned int i, j, done = 0;
	int err = 0;

	for (i = 0; i < c->local_ts.n && !err; i++) {
		for (j = 0; j < c->remote_ts.n && !err; j++) {
			if (!pair_ok(c, i, j))
				continue;
			err = pair_add(x, c, i, j, replace);
			if (!err)
				done++;
		}
	}
	if (!err || replace)
		return err;
	/* the pairs added before the one that failed, in the same order */
	for (i = 0; i < c->local_ts.n && done; i++) {
		for (j = 0; j < c->remote_ts.n && done; j++) {
			if (!pair_ok(c, i, j))
				continue;
			pair_del(x, c, i, j);
			done--;
		}
	}
	return err;
}

int xfrm_del_policies(struct xfrm_nl *x, const struct xfrm_child *c)
{
	int err = 0, e;

	for (unsigned int i = 0; i < c->local_ts.n; i++) {
		for (unsigned int j = 0; j < c->remote_ts.n; j++) {
			if (!pair_ok(c, i, j))
				continue;
			e = pair_del(x, c, i, j);
			if (!err)
				err = e;
		}
	}
	return err;
}

/* ---- cleaning up after a predecessor ---- */

struct owned {
	uint32_t base, mask;
	struct xfrm_usersa_id *sa;
	size_t nsa;
	struct xfrm_userpolicy_id *pol;
	size_t npol;
	bool oom;
};

static int owned_sa_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xfrm_usersa_info info;
	struct owned *o = data;
	struct xfrm_usersa_id *n;

	if (!nl_payload(nlh, XFRM_MSG_NEWSA, &info, sizeof(info)))
		return MNL_CB_OK;
	if ((info.reqid & o->mask) != o->base || info.id.proto != IPPROTO_ESP)
		return MNL_CB_OK;
	n = realloc(o->sa, (o->nsa + 1) * sizeof(*n));
	if (!n) {
		o->oom = true;
		return MNL_CB_OK;
	}
	o->sa = n;
	memset(&n[o->nsa], 0, sizeof(*n));
	n[o->nsa].daddr = info.id.daddr;
	n[o->nsa].spi = info.id.spi;
	n[o->nsa].family = info.family;
	n[o->nsa].proto = info.id.proto;
	o->nsa++;
	return MNL_CB_OK;
}

static int owned_pol_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xfrm_userpolicy_info info;
	const struct xfrm_user_tmpl *t;
	struct owned *o = data;
	struct xfrm_userpolicy_id *n;
	struct nlattr *attr;
	bool mine = false;

	if (!nl_payload(nlh, XFRM_MSG_NEWPOLICY, &info, sizeof(info)))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(info)) {
		if (mnl_attr_get_type(attr) != XFRMA_TMPL ||
		    mnl_attr_get_payload_len(attr) < sizeof(*t))
			continue;
		t = mnl_attr_get_payload(attr);
		mine = (t->reqid & o->mask) == o->base;
	}
	if (!mine)
		return MNL_CB_OK;
	n = realloc(o->pol, (o->npol + 1) * sizeof(*n));
	if (!n) {
		o->oom = true;
		return MNL_CB_OK;
	}
	o->pol = n;
	memset(&n[o->npol], 0, sizeof(*n));
	n[o->npol].sel = info.sel;
	n[o->npol].index = info.index;
	n[o->npol].dir = info.dir;
	o->npol++;
	return MNL_CB_OK;
}

/**
 * xfrm_flush_owned() - delete every state and policy in our reqid range
 * @x: the socket
 * @reqid_base: the range's base
 * @reqid_mask: which bits of a reqid name the range
 *
 * Return: the number of objects removed, or a negative errno.
 */
int xfrm_flush_owned(struct xfrm_nl *x, uint32_t reqid_base, uint32_t reqid_mask)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct owned o = { .base = reqid_base, .mask = reqid_mask };
	struct nlmsghdr *nlh;
	int err, n = 0;

	nlh = msg_start(x, buf, XFRM_MSG_GETSA, NLM_F_DUMP);
	err = xfrm_talk(x, nlh, owned_sa_cb, &o);
	nlh = msg_start(x, buf, XFRM_MSG_GETPOLICY, NLM_F_DUMP);
	if (!err)
		err = xfrm_talk(x, nlh, owned_pol_cb, &o);
	if (!err && o.oom)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < o.nsa; i++) {
		nlh = msg_start(x, buf, XFRM_MSG_DELSA, NLM_F_ACK);
		memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(o.sa[i])), &o.sa[i],
		       sizeof(o.sa[i]));
		if (!xfrm_talk(x, nlh, NULL, NULL))
			n++;
	}
	for (size_t i = 0; !err && i < o.npol; i++) {
		nlh = msg_start(x, buf, XFRM_MSG_DELPOLICY, NLM_F_ACK);
		memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(o.pol[i])), &o.pol[i],
		       sizeof(o.pol[i]));
		if (!xfrm_talk(x, nlh, NULL, NULL))
			n++;
	}
	free(o.sa);
	free(o.pol);
	return err ? err : n;
}

struct seq_reply {
	struct xfrm_counts c;
	bool found;
};

static int seq_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xfrm_usersa_info info;
	struct seq_reply *r = data;

	if (!nl_payload(nlh, XFRM_MSG_NEWSA, &info, sizeof(info)))
		return MNL_CB_OK;
	r->c.packets = info.curlft.packets;
	r->c.bytes = info.curlft.bytes;
	r->found = true;
	return MNL_CB_OK;
}

/* what a state has processed: for inbound, a sign that the path works */
int xfrm_state_counts(struct xfrm_nl *x, int family, const uint8_t *daddr, uint32_t spi,
		      struct xfrm_counts *counts)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(x, buf, XFRM_MSG_GETSA, NLM_F_ACK);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct seq_reply r = { 0 };
	int err;

	put_addr(&id->daddr, family, daddr);
	id->spi = spi;
	id->family = (uint16_t)family;
	id->proto = IPPROTO_ESP;
	err = xfrm_talk(x, nlh, seq_cb, &r);
	if (!err && !r.found)
		err = -ENOENT;
	*counts = r.c;
	return err;
}

struct counts_dump {
	uint32_t base, mask;
	void (*cb)(const struct xfrm_state_seen *st, void *data);
	void *data;
};

static int counts_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counts_dump *o = data;
	struct xfrm_usersa_info info;
	struct xfrm_state_seen st = { 0 };

	if (!nl_payload(nlh, XFRM_MSG_NEWSA, &info, sizeof(info)))
		return MNL_CB_OK;
	if ((info.reqid & o->mask) != o->base || info.id.proto != IPPROTO_ESP)
		return MNL_CB_OK;
	st.family = info.family;
	memcpy(st.daddr, &info.id.daddr, sizeof(st.daddr));
	st.spi = info.id.spi;
	st.reqid = info.reqid;
	st.c.packets = info.curlft.packets;
	st.c.bytes = info.curlft.bytes;
	o->cb(&st, o->data);
	return MNL_CB_OK;
}

/**
 * xfrm_states_counts() - what each ESP state of a reqid range has processed, in one dump
 * @x: the xfrm socket
 * @reqid_base: the range's base
 * @reqid_mask: which bits of a reqid name the range
 * @cb: called for each state of the range
 * @data: its argument
 *
 * One dump for all of them, where xfrm_state_counts() is a round trip each:
 * a gateway's status file reads thousands.
 *
 * Return: 0, or a negative errno (the states seen before it were reported).
 */
int xfrm_states_counts(struct xfrm_nl *x, uint32_t reqid_base, uint32_t reqid_mask,
		       void (*cb)(const struct xfrm_state_seen *st, void *data), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct counts_dump o = { .base = reqid_base, .mask = reqid_mask, .cb = cb, .data = data };

	return xfrm_talk(x, msg_start(x, buf, XFRM_MSG_GETSA, NLM_F_DUMP), counts_cb, &o);
}
