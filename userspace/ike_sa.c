// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKEv2 exchanges (RFC 7296).  IKE_SA_INIT with NAT
 * detection, COOKIE and INVALID_KE_PAYLOAD; IKE_AUTH with pre-shared keys
 * and one CHILD_SA; CREATE_CHILD_SA to rekey CHILD_SAs and the IKE SA;
 * INFORMATIONAL for liveness and DELETE.  Every message is checked before
 * it changes state, and nothing is kept for a peer that has not proved the
 * PSK beyond the bounded half-open table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "ike_sa.h"
#include "esptcp.h"

#define RETRANSMIT_BASE_MS	1000
#define INIT_TRIES_MAX		3

static bool ts_ok(const struct ike_ts *t);
static void drop_stale(struct ike_sa *sa);
static bool transport_timers(struct ike_sa *sa, uint64_t t);
static void drop_pending(struct ike_sa *sa);

static uint64_t now(struct ike_sa *sa)
{
	return sa->d->now;
}

static struct ike_sa *find_sa(struct ike_daemon *d, uint64_t ours, bool we_initiated)
{
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next)
		if (sa->state != SA_DEAD && sa->initiator == we_initiated &&
		    (we_initiated ? sa->spi_i : sa->spi_r) == ours)
			return sa;
	return NULL;
}

static uint64_t new_spi(void)
{
	uint64_t spi = 0;

	while (!spi)
		ike_random(&spi, sizeof(spi));
	return spi;
}

static const uint8_t *sa_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family &&
	       !memcmp(sa_addr(a), sa_addr(b), a->ss_family == AF_INET ? 4 : 16);
}

/* ---- building and sending ---- */

struct out {
	struct ike_buf b, in;
	struct ike_chain c;
};

static void out_begin(struct ike_sa *sa, struct out *o, uint8_t exchange, bool response,
		      uint32_t msgid)
{
	struct ike_hdr h = {
		.spi_i = sa->spi_i, .spi_r = sa->spi_r, .exchange = exchange,
		.flags = (sa->initiator ? IKE_FLAG_I : 0) | (response ? IKE_FLAG_R : 0),
		.msgid = msgid,
	};

	ike_buf_init(&o->b);
	ike_buf_init(&o->in);
	ike_hdr_put(&o->b, &h);
	ike_chain_init(&o->c, &o->in, SIZE_MAX);
}

static int out_seal(struct ike_sa *sa, struct out *o)
{
	size_t sk_off = o->b.len;
	int err;

	ike_pl_end(&o->c);
	if (o->in.err || o->b.err) {
		ike_buf_free(&o->in);
		return -EMSGSIZE;
	}
	o->b.p[16] = PL_SK;
	ike_put8(&o->b, o->c.any ? o->c.first : PL_NONE);
	ike_put8(&o->b, 0);
	ike_put16(&o->b, 0);
	err = ike_sk_seal(&sa->suite, &sa->keys, sa->initiator, &o->b, sk_off, o->in.p,
			  o->in.len);
	ike_wipe(o->in.p, o->in.len);
	ike_buf_free(&o->in);
	return err;
}

static void send_request(struct ike_sa *sa, enum req_kind kind, struct ike_buf *b)
{
	ike_buf_free(&sa->req_msg);
	sa->req_msg = *b;
	sa->req = kind;
	sa->req_sent = now(sa);
	sa->req_tries = 1;
	sa->req_next_tx = now(sa) + RETRANSMIT_BASE_MS;
	sa->req_deadline = 0;
	sa->next_req++;
	ike_link_send(sa->d, sa->link, b->p, b->len);
}

static void send_response(struct ike_sa *sa, struct ike_buf *b)
{
	ike_buf_free(&sa->last_resp);
	sa->last_resp = *b;
	sa->have_last_resp = true;
	sa->peer_next++;
	ike_link_send(sa->d, sa->link, b->p, b->len);
}

/* an encrypted response that carries only a notification */
static void respond_notify(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, uint16_t type,
			   const void *data, size_t len)
{
	struct out o;

	out_begin(sa, &o, exchange, true, msgid);
	ike_pl_notify(&o.c, 0, NULL, 0, type, data, len);
	if (out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		return;
	}
	send_response(sa, &o.b);
}

/* an unprotected IKE_SA_INIT response with one notification (COOKIE, errors) */
static void respond_init_notify(struct ike_daemon *d, struct ike_link *link,
				const struct ike_msg *m, uint16_t type, const void *data,
				size_t len)
{
	struct ike_hdr h = {
		.spi_i = m->hdr.spi_i, .exchange = IKE_SA_INIT, .flags = IKE_FLAG_R,
	};
	struct ike_buf b;
	struct ike_chain c;

	ike_buf_init(&b);
	ike_hdr_put(&b, &h);
	ike_chain_init(&c, &b, 16);
	ike_pl_notify(&c, 0, NULL, 0, type, data, len);
	ike_pl_end(&c);
	ike_hdr_finish(&b);
	if (!b.err)
		ike_link_send(d, link, b.p, b.len);
	ike_buf_free(&b);
}

static void put_nat_notifies(struct ike_sa *sa, struct ike_chain *c)
{
	uint8_t h[20];

	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &sa->link->local, h))
		ike_pl_notify(c, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &sa->link->peer, h))
		ike_pl_notify(c, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

/* compare the peer's NAT_DETECTION notifications with the addresses we see */
static void check_nat(struct ike_sa *sa, const struct ike_msg *m)
{
	uint8_t h[20];
	bool src_seen = false, src_match = false, dst_match = true;

	for (unsigned int i = 0; i < m->npl; i++) {
		const struct ike_pl *pl = &m->pl[i];
		const uint8_t *data;
		uint16_t type;
		size_t len;

		if (ike_notify_type(pl, &type))
			continue;
		data = ike_notify_data(pl, &len);
		if (type == N_NAT_DETECTION_SOURCE_IP && len == 20) {
			src_seen = true;
			if (!ike_nat_hash(m->hdr.spi_i, m->hdr.spi_r, &sa->link->peer, h) &&
			    !memcmp(h, data, 20))
				src_match = true;
		} else if (type == N_NAT_DETECTION_DESTINATION_IP && len == 20) {
			dst_match = !ike_nat_hash(m->hdr.spi_i, m->hdr.spi_r, &sa->link->local, h) &&
				    !memcmp(h, data, 20);
		}
	}
	sa->nat_there = src_seen && !src_match;
	sa->nat_here = src_seen && !dst_match;
}

static void id_body(uint8_t type, const char *id, size_t len, struct ike_buf *b)
{
	ike_put8(b, type);
	ike_put8(b, 0);
	ike_put16(b, 0);
	ike_put(b, id, len);
}

/* our identity: configured, or our outer address */
static void local_id(const struct ike_sa *sa, struct ike_buf *b)
{
	const struct ike_conn_conf *c = sa->conf;

	if (c->local_id_len) {
		id_body(c->local_id_type, c->local_id, c->local_id_len, b);
		return;
	}
	id_body(sa->link->local.ss_family == AF_INET ? ID_IPV4_ADDR : ID_IPV6_ADDR,
		(const char *)sa_addr(&sa->link->local),
		sa->link->local.ss_family == AF_INET ? 4 : 16, b);
}

static bool id_matches(const struct ike_conn_conf *c, const struct ike_pl *id,
		       const struct sockaddr_storage *peer)
{
	if (!id || id->len < 4)
		return false;
	if (!c->remote_id_len) {
		/* no remote-id: the peer must name itself by its address */
		size_t alen = peer->ss_family == AF_INET ? 4 : 16;

		return id->data[0] == (alen == 4 ? ID_IPV4_ADDR : ID_IPV6_ADDR) &&
		       id->len - 4 == alen && !memcmp(id->data + 4, sa_addr(peer), alen);
	}
	return id->data[0] == c->remote_id_type && id->len - 4 == c->remote_id_len &&
	       !memcmp(id->data + 4, c->remote_id, c->remote_id_len);
}

/*
 * AUTH for a shared key (RFC 7296 2.15):
 * prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))
 */
static int psk_auth(struct ike_sa *sa, const struct ike_conn_conf *c, bool of_initiator,
		    const uint8_t *id, size_t idlen, uint8_t *out)
{
	static const char pad[] = "Key Pad for IKEv2";
	const struct ike_buf *real = of_initiator ? &sa->init_req : &sa->init_resp;
	const uint8_t *nonce = of_initiator ? sa->nr : sa->ni;
	size_t nlen = of_initiator ? sa->nr_len : sa->ni_len, plen = sa->keys.prf_len;
	uint8_t maced[64], key[64];
	struct ike_buf b;
	int err;

	err = ike_prf(sa->suite.prf, of_initiator ? sa->keys.sk_pi : sa->keys.sk_pr, plen,
		      id, idlen, maced);
	if (err)
		return err;
	ike_buf_init(&b);
	ike_put(&b, real->p, real->len);
	ike_put(&b, nonce, nlen);
	ike_put(&b, maced, plen);
	err = b.err ? -ENOMEM : ike_prf(sa->suite.prf, c->psk, c->psk_len, pad, sizeof(pad) - 1,
					key);
	if (!err)
		err = ike_prf(sa->suite.prf, key, plen, b.p, b.len, out);
	ike_wipe(key, sizeof(key));
	ike_buf_free(&b);
	return err;
}

/* ---- CHILD_SAs ---- */

/* KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr); initiator-to-responder keys first */
static int child_keys(struct ike_sa *sa, bool we_started, const uint8_t *gir, size_t girlen,
		      const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
		      struct xfrm_child *x)
{
	uint8_t seed[256 + 512], km[4 * IKE_MAX_KEY];
	size_t slen = 0, one;
	int err;

	err = ike_esp_keylen(&x->suite, &x->enc_len, &x->integ_len);
	if (err || girlen > 256 || nilen + nrlen > 512)
		return -EINVAL;
	if (girlen)
		memcpy(seed, gir, girlen);
	slen += girlen;
	memcpy(seed + slen, ni, nilen);
	slen += nilen;
	memcpy(seed + slen, nr, nrlen);
	slen += nrlen;
	one = x->enc_len + x->integ_len;
	err = ike_prf_plus(sa->suite.prf, sa->keys.sk_d, sa->keys.prf_len, seed, slen, km,
			   2 * one);
	if (!err) {
		memcpy(we_started ? x->key_out : x->key_in, km, one);
		memcpy(we_started ? x->key_in : x->key_out, km + one, one);
	}
	ike_wipe(seed, sizeof(seed));
	ike_wipe(km, sizeof(km));
	return err;
}

static void child_xfrm(struct ike_sa *sa, const struct ike_child *c, struct xfrm_child *x)
{
	struct ike_link *l = sa->link;

	x->family = l->local.ss_family;
	memcpy(x->local, sa_addr(&l->local), x->family == AF_INET ? 4 : 16);
	memcpy(x->remote, sa_addr(&l->peer), x->family == AF_INET ? 4 : 16);
	x->spi_in = c->spi_in;
	x->spi_out = c->spi_out;
	x->reqid = c->reqid;
	x->suite = c->suite;
	x->local_ts = c->lts;
	x->remote_ts = c->rts;
	x->tunnel = sa->conf->tunnel;
	x->hard_s = 0;
	/* ESP in UDP only through a NAT (or when asked): 4500 alone is not enough */
	if (l->type == TRANSPORT_UDP && l->marker &&
	    (sa->nat_here || sa->nat_there || sa->conf->encap_force)) {
		x->encap_sport = sa_port(&l->local);
		x->encap_dport = sa_port(&l->peer);
	}
}

/* policies are keyed by selectors: another child with the same ones owns them too */
static bool policy_in_use(struct ike_daemon *d, const struct ike_child *skip)
{
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next)
		for (struct ike_child *c = sa->children; c; c = c->next)
			if (c != skip && c->installed &&
			    (c->reqid == skip->reqid ||
			     (!memcmp(&c->lts, &skip->lts, sizeof(c->lts)) &&
			      !memcmp(&c->rts, &skip->rts, sizeof(c->rts)))))
				return true;
	return false;
}

static void child_remove(struct ike_sa *sa, struct ike_child *c, bool policies)
{
	struct xfrm_child x = { 0 };
	char b1[16], b2[16];

	child_xfrm(sa, c, &x);
	if (c->installed) {
		xfrm_del_state(sa->d->xfrm, x.family, x.local, c->spi_in);
		xfrm_del_state(sa->d->xfrm, x.family, x.remote, c->spi_out);
		if (policies && !policy_in_use(sa->d, c))
			xfrm_del_policies(sa->d->xfrm, &x);
		snprintf(b1, sizeof(b1), "%08x", ntohl(c->spi_in));
		snprintf(b2, sizeof(b2), "%08x", ntohl(c->spi_out));
		ike_log(sa, "CHILD_SA removed, in 0x%s out 0x%s", b1, b2);
	}
	ike_wipe(&x, sizeof(x));
}

static void child_unlink(struct ike_sa *sa, struct ike_child *c)
{
	for (struct ike_child **p = &sa->children; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (sa->req_child == c)
		sa->req_child = NULL;
	free(c);
}

/*
 * Install the states, bind them to the TCP connection in the module, and
 * only then the policies: traffic never meets a state esptcp does not carry.
 */
static int child_install(struct ike_sa *sa, struct ike_child *c, struct xfrm_child *x,
			 bool policies)
{
	int err;

	child_xfrm(sa, c, x);
	err = xfrm_add_states(sa->d->xfrm, x);
	if (err) {
		ike_log(sa, "installing CHILD_SA states failed: %s", strerror(-err));
		xfrm_del_state(sa->d->xfrm, x->family, x->local, c->spi_in);
		return err;
	}
	c->installed = true;
	if (sa->link->type == TRANSPORT_TCP) {
		err = ike_bind_child(sa->d, sa, c);
		if (err) {
			child_remove(sa, c, false);
			c->installed = false;
			return err;
		}
	}
	if (policies) {
		err = xfrm_add_policies(sa->d->xfrm, x);
		if (err) {
			ike_log(sa, "installing policies failed: %s", strerror(-err));
			child_remove(sa, c, true);
			c->installed = false;
			return err;
		}
	}
	ike_log(sa, "CHILD_SA installed, in 0x%08x out 0x%08x reqid %u%s", ntohl(c->spi_in),
		ntohl(c->spi_out), c->reqid,
		sa->link->type == TRANSPORT_TCP ? " (bound to the TCP connection)" :
		x->encap_sport ? " (ESP in UDP)" : "");
	sa->d->st.child_installed++;
	c->rekey_at = now(sa) + (uint64_t)sa->conf->child_rekey_s * 1000;
	if (sa->pending.spi_in == c->spi_in)
		sa->pending.spi_in = 0;
	ike_status_write(sa->d);
	return 0;
}

/* an SPI reserved for a child that never came: remove its larval state */
static void drop_pending(struct ike_sa *sa)
{
	uint32_t spi = sa->pending.spi_in;

	if (!spi || !sa->link)
		return;
	for (struct ike_child *c = sa->children; c; c = c->next)
		if (c->spi_in == spi)
			return;
	xfrm_del_state(sa->d->xfrm, sa->link->local.ss_family, sa_addr(&sa->link->local), spi);
	sa->pending.spi_in = 0;
}

/* remove every child; policies go with the last child of their reqid */
static void remove_children(struct ike_sa *sa)
{
	while (sa->children) {
		struct ike_child *c = sa->children;

		sa->children = c->next;
		child_remove(sa, c, true);
		free(c);
	}
	sa->req_child = NULL;
}

static struct ike_child *child_add(struct ike_sa *sa, const struct ike_child *tmpl)
{
	struct ike_child *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *tmpl;
	c->next = sa->children;
	sa->children = c;
	return c;
}

static int cmp_addr(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, len);
}

/* the intersection of one of the peer's selectors with ours */
static bool ts_narrow(const struct ike_ts *peer, unsigned int n, const struct ike_ts *ours,
		      struct ike_ts *out)
{
	size_t alen = ours->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < n; i++) {
		const struct ike_ts *t = &peer[i];
		struct ike_ts r = *ours;

		if (t->family != ours->family)
			continue;
		if (t->proto && ours->proto && t->proto != ours->proto)
			continue;
		r.proto = ours->proto ? ours->proto : t->proto;
		memcpy(r.start, cmp_addr(t->start, ours->start, alen) > 0 ? t->start : ours->start,
		       alen);
		memcpy(r.end, cmp_addr(t->end, ours->end, alen) < 0 ? t->end : ours->end, alen);
		r.sport = t->sport > ours->sport ? t->sport : ours->sport;
		r.eport = t->eport < ours->eport ? t->eport : ours->eport;
		if (cmp_addr(r.start, r.end, alen) > 0 || r.sport > r.eport || !ts_ok(&r))
			continue;
		*out = r;
		return true;
	}
	return false;
}

/* the range must be a prefix and the ports all or one: what an xfrm selector holds */
static bool ts_ok(const struct ike_ts *t)
{
	size_t alen = t->family == AF_INET ? 4 : 16;
	bool diverged = false;

	for (size_t i = 0; i < alen * 8; i++) {
		unsigned int byte = (unsigned int)(i / 8), bit = 0x80 >> (i % 8);
		bool s = t->start[byte] & bit, e = t->end[byte] & bit;

		if (!diverged && s != e)
			diverged = true;
		if (diverged && (s || !e))
			return false;
	}
	return (t->sport == 0 && t->eport == 65535) || t->sport == t->eport;
}

static bool ts_within(const struct ike_ts *t, const struct ike_ts *outer)
{
	size_t alen = outer->family == AF_INET ? 4 : 16;

	return t->family == outer->family &&
	       cmp_addr(t->start, outer->start, alen) >= 0 &&
	       cmp_addr(t->end, outer->end, alen) <= 0 &&
	       t->sport >= outer->sport && t->eport <= outer->eport &&
	       (!outer->proto || t->proto == outer->proto) && ts_ok(t);
}

/* pick our first ESP suite the peer's proposal list allows; nums[0] gets its number */
static bool choose_esp(const struct ike_conn_conf *c, const struct ike_proposal *props,
		       unsigned int n, bool with_dh, uint16_t ke_group, struct ike_suite *out,
		       uint8_t *num, uint32_t *peer_spi)
{
	for (unsigned int i = 0; i < n; i++) {
		if (props[i].proto != PROTO_ESP || props[i].spi_len != 4)
			continue;
		for (size_t j = 0; j < c->nesp; j++) {
			struct ike_suite s = c->esp[j];

			if (!with_dh)
				s.dh = 0;
			else if (s.dh && ke_group && s.dh != ke_group)
				continue;
			if (!ike_proposal_has(&props[i], &s))
				continue;
			*out = s;
			*num = props[i].num;
			memcpy(peer_spi, props[i].spi, 4);
			return true;
		}
	}
	return false;
}

/* ---- the state of an SA ---- */

void ike_sa_free(struct ike_sa *sa)
{
	struct ike_daemon *d = sa->d;

	for (struct ike_sa **p = &d->sas; *p; p = &(*p)->next) {
		if (*p == sa) {
			*p = sa->next;
			break;
		}
	}
	if (sa->half_counted && d->half_open)
		d->half_open--;
	while (sa->children) {
		struct ike_child *c = sa->children;

		sa->children = c->next;
		free(c);
	}
	ike_dh_free(sa->dh);
	ike_dh_free(sa->req_dh);
	ike_buf_free(&sa->init_req);
	ike_buf_free(&sa->init_resp);
	ike_buf_free(&sa->last_resp);
	ike_buf_free(&sa->req_msg);
	if (sa->moving)
		ike_link_put(d, sa->moving);
	if (sa->probe)
		ike_link_put(d, sa->probe);
	if (sa->link)
		ike_link_put(d, sa->link);
	ike_wipe(sa, sizeof(*sa));
	free(sa);
}

/* remove every child and the SA; an initiator starts over after a pause */
static void sa_die(struct ike_sa *sa, const char *why, bool restart)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_daemon *d = sa->d;
	bool initiator = c && c->initiator;

	ike_log(sa, "IKE SA down: %s", why);
	drop_pending(sa);
	remove_children(sa);
	sa->state = SA_DEAD;
	ike_sa_free(sa);
	if (restart && initiator && !d->stopping)
		ike_conn_restart(d, c, c->retry_s);
}

static struct ike_sa *sa_new(struct ike_daemon *d, const struct ike_conn_conf *c,
			     struct ike_link *link, bool initiator)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->d = d;
	sa->conf = c;
	sa->initiator = initiator;
	sa->link = link;
	ike_link_get(link);
	sa->created = d->now;
	sa->last_rx = d->now;
	sa->expire_at = d->now + (uint64_t)d->conf->half_open_timeout_s * 1000;
	sa->next = d->sas;
	d->sas = sa;
	return sa;
}

/* ---- initiator: IKE_SA_INIT ---- */

static int send_init(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_hdr h = { .spi_i = sa->spi_i, .exchange = IKE_SA_INIT, .flags = IKE_FLAG_I };
	uint8_t ke[256];
	size_t kelen = ike_ke_len(sa->group);
	struct ike_suite order[IKE_MAX_SUITES];
	size_t n = 0;
	struct ike_chain ch;
	struct ike_buf b;

	if (!sa->dh)
		sa->dh = ike_dh_new(sa->group);
	if (!sa->dh || ike_dh_public(sa->dh, ke, sizeof(ke)))
		return -EIO;
	/* proposals using the group of our KE first, so a responder can take one at once */
	for (size_t i = 0; i < c->nike; i++)
		if (c->ike[i].dh == sa->group)
			order[n++] = c->ike[i];
	for (size_t i = 0; i < c->nike; i++)
		if (c->ike[i].dh != sa->group)
			order[n++] = c->ike[i];
	ike_buf_init(&b);
	ike_hdr_put(&b, &h);
	ike_chain_init(&ch, &b, 16);
	if (sa->cookie_len)
		ike_pl_notify(&ch, 0, NULL, 0, N_COOKIE, sa->cookie, sa->cookie_len);
	ike_pl_sa(&ch, PROTO_IKE, order, n, NULL, 0, NULL);
	ike_pl_begin(&ch, PL_KE);
	ike_put16(&b, sa->group);
	ike_put16(&b, 0);
	ike_put(&b, ke, kelen);
	ike_pl_begin(&ch, PL_NONCE);
	ike_put(&b, sa->ni, sa->ni_len);
	put_nat_notifies(sa, &ch);
	ike_pl_end(&ch);
	ike_hdr_finish(&b);
	if (b.err) {
		ike_buf_free(&b);
		return -EMSGSIZE;
	}
	ike_buf_free(&sa->init_req);
	ike_put(&sa->init_req, b.p, b.len);
	sa->next_req = 0;
	sa->state = SA_INIT_SENT;
	sa->d->st.ike_sa_init_sent++;
	send_request(sa, REQ_INIT, &b);
	return 0;
}

struct ike_sa *ike_sa_initiate(struct ike_daemon *d, const struct ike_conn_conf *c,
			       struct ike_link *link)
{
	struct ike_sa *sa = sa_new(d, c, link, true);

	if (!sa)
		return NULL;
	sa->spi_i = new_spi();
	sa->group = c->ike[0].dh;
	sa->ni_len = IKE_NONCE_LEN;
	ike_random(sa->ni, sa->ni_len);
	return sa;
}

/* the link is ready (TCP connected and attached, or UDP): send IKE_SA_INIT */
void ike_sa_start(struct ike_sa *sa)
{
	ike_log(sa, "initiating IKE_SA_INIT over %s",
		sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP");
	if (send_init(sa))
		sa_die(sa, "cannot build IKE_SA_INIT", true);
}

static int derive_keys(struct ike_sa *sa, const uint8_t *peer_ke, size_t kelen)
{
	uint8_t gir[256], skeyseed[64], seedkey[512];
	size_t glen;
	int err;

	err = ike_dh_shared(sa->dh, peer_ke, kelen, gir, &glen);
	if (err)
		return err;
	memcpy(seedkey, sa->ni, sa->ni_len);
	memcpy(seedkey + sa->ni_len, sa->nr, sa->nr_len);
	err = ike_prf(sa->suite.prf, seedkey, sa->ni_len + sa->nr_len, gir, glen, skeyseed);
	if (!err)
		err = ike_derive_ike_keys(&sa->suite, skeyseed, ike_prf_len(sa->suite.prf), sa->ni,
					  sa->ni_len, sa->nr, sa->nr_len, sa->spi_i, sa->spi_r,
					  &sa->keys);
	sa->have_keys = !err;
	ike_wipe(gir, sizeof(gir));
	ike_wipe(skeyseed, sizeof(skeyseed));
	ike_wipe(seedkey, sizeof(seedkey));
	return err;
}

static int send_auth(struct ike_sa *sa);

static void initiator_init_resp(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *pl, *ke, *nr;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	unsigned int n;
	const uint8_t *data;
	size_t len;

	pl = ike_find_notify(m, N_COOKIE);
	if (pl) {
		data = ike_notify_data(pl, &len);
		if (len < 1 || len > sizeof(sa->cookie) || ++sa->init_tries > INIT_TRIES_MAX)
			return;
		memcpy(sa->cookie, data, len);
		sa->cookie_len = len;
		ike_log(sa, "responder asks for a COOKIE; sending IKE_SA_INIT again");
		sa->next_req = 0;
		send_init(sa);
		return;
	}
	pl = ike_find_notify(m, N_INVALID_KE_PAYLOAD);
	if (pl) {
		uint16_t group;
		bool ours = false;

		data = ike_notify_data(pl, &len);
		if (len != 2 || ++sa->init_tries > INIT_TRIES_MAX)
			return;
		group = (uint16_t)(data[0] << 8 | data[1]);
		for (size_t i = 0; i < sa->conf->nike; i++)
			ours |= sa->conf->ike[i].dh == group;
		if (!ours || group == sa->group) {
			sa_die(sa, "INVALID_KE_PAYLOAD names a group we did not offer", true);
			return;
		}
		ike_log(sa, "responder wants DH group %u; sending IKE_SA_INIT again", group);
		ike_dh_free(sa->dh);
		sa->dh = NULL;
		sa->group = group;
		send_init(sa);
		return;
	}
	for (unsigned int i = 0; i < m->npl; i++) {
		uint16_t type;

		if (!ike_notify_type(&m->pl[i], &type) && type <= N_ERROR_MAX) {
			char why[64];

			snprintf(why, sizeof(why), "IKE_SA_INIT refused with error %u", type);
			sa_die(sa, why, true);
			return;
		}
	}
	pl = ike_find(m, PL_SA);
	ke = ike_find(m, PL_KE);
	nr = ike_find(m, PL_NONCE);
	if (!pl || !ke || !nr || ike_parse_sa(pl, props, &n) || n != 1 || !m->hdr.spi_r ||
	    nr->len < 16 || nr->len > sizeof(sa->nr) || ke->len < 4) {
		if (ike_log_bad(sa->d))
			ike_log(sa, "malformed IKE_SA_INIT response ignored");
		sa->d->st.rx_bad++;
		return;
	}
	sa->suite.encr = 0;
	for (size_t i = 0; i < sa->conf->nike; i++) {
		if (sa->conf->ike[i].dh == sa->group && props[0].proto == PROTO_IKE &&
		    ike_proposal_has(&props[0], &sa->conf->ike[i]) &&
		    props[0].nids[TT_ENCR] == 1 && props[0].nids[TT_DH] == 1) {
			sa->suite = sa->conf->ike[i];
			break;
		}
	}
	if (!sa->suite.encr || (uint16_t)(ke->data[0] << 8 | ke->data[1]) != sa->group) {
		sa_die(sa, "the responder chose a proposal we did not offer", true);
		return;
	}
	sa->spi_r = m->hdr.spi_r;
	memcpy(sa->nr, nr->data, nr->len);
	sa->nr_len = nr->len;
	if (derive_keys(sa, ke->data + 4, ke->len - 4)) {
		sa_die(sa, "the responder's KE is unusable", true);
		return;
	}
	ike_buf_free(&sa->init_resp);
	ike_put(&sa->init_resp, m->raw, m->raw_len);
	check_nat(sa, m);
	sa->req = REQ_NONE;
	if (sa->link->type == TRANSPORT_UDP && !sa->link->marker &&
	    (sa->nat_here || sa->nat_there || sa->conf->encap_force)) {
		/* float to 4500: NAT-T, ESP in UDP from now on (RFC 7296 2.23) */
		struct sockaddr_storage peer = sa->link->peer, local = sa->link->local;
		struct ike_link *l;

		((struct sockaddr_in *)&peer)->sin_port = htons(4500);
		((struct sockaddr_in *)&local)->sin_port = htons(4500);
		l = ike_udp_link(sa->d, &local, &peer, true);
		if (l) {
			ike_link_put(sa->d, sa->link);
			sa->link = l;
		}
		ike_log(sa, "%s; continuing on UDP 4500",
			sa->nat_here || sa->nat_there ? "NAT detected" : "UDP encapsulation forced");
	}
	if (send_auth(sa))
		sa_die(sa, "cannot build IKE_AUTH", true);
}

static int send_auth(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *p = &sa->pending;
	struct ike_suite esp[IKE_MAX_SUITES];
	uint8_t auth[64];
	struct ike_buf idb;
	struct out o;
	int err;

	memset(p, 0, sizeof(*p));
	p->reqid = sa->d->next_reqid++;
	err = xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family, sa_addr(&sa->link->peer),
			     sa_addr(&sa->link->local), p->reqid, &p->spi_in);
	if (err) {
		ike_log(sa, "allocating an SPI failed: %s", strerror(-err));
		return err;
	}
	ike_buf_init(&idb);
	local_id(sa, &idb);
	err = idb.err ? -ENOMEM : psk_auth(sa, c, true, idb.p, idb.len, auth);
	if (err) {
		ike_buf_free(&idb);
		return err;
	}
	for (size_t i = 0; i < c->nesp; i++) {
		esp[i] = c->esp[i];
		esp[i].dh = 0;		/* no KE in IKE_AUTH */
	}
	out_begin(sa, &o, IKE_AUTH, false, 1);
	ike_pl_begin(&o.c, PL_IDI);
	ike_put(&o.in, idb.p, idb.len);
	if (c->remote_id_len) {
		ike_pl_begin(&o.c, PL_IDR);
		id_body(c->remote_id_type, c->remote_id, c->remote_id_len, &o.in);
	}
	ike_pl_begin(&o.c, PL_AUTH);
	ike_put8(&o.in, AUTH_SHARED_KEY_MIC);
	ike_put8(&o.in, 0);
	ike_put16(&o.in, 0);
	ike_put(&o.in, auth, sa->keys.prf_len);
	ike_pl_notify(&o.c, 0, NULL, 0, N_INITIAL_CONTACT, NULL, 0);
	if (c->mobike)
		ike_pl_notify(&o.c, 0, NULL, 0, N_MOBIKE_SUPPORTED, NULL, 0);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_notify(&o.c, 0, NULL, 0, N_ESP_TFC_PADDING_NOT_SUPPORTED, NULL, 0);
	ike_pl_sa(&o.c, PROTO_ESP, esp, c->nesp, (const uint8_t *)&p->spi_in, 4, NULL);
	ike_pl_ts(&o.c, PL_TSI, &c->local_ts, 1);
	ike_pl_ts(&o.c, PL_TSR, &c->remote_ts, 1);
	ike_buf_free(&idb);
	err = out_seal(sa, &o);
	if (err) {
		ike_buf_free(&o.b);
		return err;
	}
	sa->state = SA_AUTH_SENT;
	send_request(sa, REQ_AUTH, &o.b);
	return 0;
}

/* a change of transport, logged once with its reason and shown by esptcp show */
static void transition(struct ike_sa *sa, const char *why)
{
	snprintf(sa->why, sizeof(sa->why), "%s", why);
	sa->since = (uint64_t)time(NULL);
	ike_log(sa, "%s", why);
	ike_status_write(sa->d);
}

static void established(struct ike_sa *sa)
{
	char s[96];

	if (sa->half_counted && sa->d->half_open)
		sa->d->half_open--;
	sa->half_counted = false;
	sa->state = SA_ESTABLISHED;
	sa->link->authed = true;
	sa->rekey_at = now(sa) + (uint64_t)sa->conf->ike_rekey_s * 1000;
	sa->d->st.sa_established++;
	ike_log(sa, "IKE SA established (%s, %s%s)", ike_suite_str(&sa->suite, true, s, sizeof(s)),
		sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP",
		sa->nat_here || sa->nat_there ? ", behind NAT" : "");
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	sa->created_nat = sa->nat_here || sa->nat_there;
	snprintf(sa->why, sizeof(sa->why), "established over %s",
		 sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP");
	sa->since = (uint64_t)time(NULL);
	ike_status_write(sa->d);
}

/* pick up the CHILD_SA of an IKE_AUTH or CREATE_CHILD_SA response */
static int initiator_child(struct ike_sa *sa, const struct ike_msg *m, struct ike_child *p)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *tsi = ike_find(m, PL_TSI);
	const struct ike_pl *tsr = ike_find(m, PL_TSR);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_ts ti[4], tr[4];
	unsigned int n, nti, ntr;
	uint32_t peer_spi = 0;
	uint8_t num;

	if (!sapl || !tsi || !tsr || ike_parse_sa(sapl, props, &n) || n != 1 ||
	    ike_parse_ts(tsi, ti, &nti, 4) || ike_parse_ts(tsr, tr, &ntr, 4) || nti != 1 ||
	    ntr != 1)
		return -EBADMSG;
	if (!choose_esp(sa->conf, props, 1, p->suite.dh != 0, p->suite.dh, &p->suite, &num,
			&peer_spi) || !peer_spi)
		return -EPROTO;
	if (!ts_within(&ti[0], &sa->conf->local_ts) || !ts_within(&tr[0], &sa->conf->remote_ts))
		return -EPROTO;
	if (!sa->conf->tunnel && !ike_find_notify(m, N_USE_TRANSPORT_MODE))
		return -EPROTO;
	p->spi_out = peer_spi;
	p->lts = ti[0];
	p->rts = tr[0];
	return 0;
}

static const char *first_error(const struct ike_msg *m, uint16_t *type)
{
	for (unsigned int i = 0; i < m->npl; i++)
		if (!ike_notify_type(&m->pl[i], type) && *type <= N_ERROR_MAX)
			return "error";
	return NULL;
}

static void initiator_auth_resp(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *idr = ike_find(m, PL_IDR), *auth = ike_find(m, PL_AUTH);
	struct xfrm_child x = { 0 };
	struct ike_child *c;
	uint8_t want[64];
	uint16_t err_type;
	int err;

	sa->req = REQ_NONE;
	if (first_error(m, &err_type) && (err_type == N_AUTHENTICATION_FAILED || !auth)) {
		char why[80];

		if (err_type == N_AUTHENTICATION_FAILED)
			sa->d->st.auth_failed++;
		snprintf(why, sizeof(why), "IKE_AUTH refused with %s (%u)",
			 err_type == N_AUTHENTICATION_FAILED ? "AUTHENTICATION_FAILED" : "an error",
			 err_type);
		sa_die(sa, why, true);
		return;
	}
	if (!idr || !auth || auth->len < 4 + sa->keys.prf_len || auth->data[0] != AUTH_SHARED_KEY_MIC ||
	    !id_matches(sa->conf, idr, &sa->link->peer) ||
	    psk_auth(sa, sa->conf, false, idr->data, idr->len, want) ||
	    auth->len != 4 + sa->keys.prf_len ||
	    !ike_memeq(want, auth->data + 4, sa->keys.prf_len)) {
		sa->d->st.auth_failed++;
		sa_die(sa, "the responder failed authentication (identity or PSK)", true);
		return;
	}
	sa->mobike = sa->conf->mobike && ike_find_notify(m, N_MOBIKE_SUPPORTED);
	established(sa);
	sa->pending.suite.dh = 0;
	err = initiator_child(sa, m, &sa->pending);
	if (err) {
		sa_die(sa, err == -EPROTO ? "the responder's CHILD_SA is not what we proposed" :
		       "no CHILD_SA in the IKE_AUTH response", true);
		return;
	}
	err = ike_esp_keylen(&sa->pending.suite, &x.enc_len, &x.integ_len);
	x.suite = sa->pending.suite;
	if (!err)
		err = child_keys(sa, true, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len, &x);
	c = err ? NULL : child_add(sa, &sa->pending);
	if (!c || child_install(sa, c, &x, true)) {
		if (c)
			child_unlink(sa, c);
		ike_wipe(&x, sizeof(x));
		sa_die(sa, "installing the CHILD_SA failed", true);
		return;
	}
	ike_wipe(&x, sizeof(x));
}

/* ---- responder: IKE_SA_INIT ---- */

static bool conn_accepts(const struct ike_conn_conf *c, const struct ike_link *l)
{
	if (c->initiator || c->local.ss_family != l->local.ss_family)
		return false;
	if (!same_addr(&c->local, &l->local))
		return false;
	return c->remote_any || same_addr(&c->remote, &l->peer);
}

/* choose an IKE suite over every conn this peer may be; prefer the KE's group */
static const struct ike_conn_conf *choose_ike(struct ike_daemon *d, const struct ike_link *l,
					      const struct ike_proposal *props, unsigned int n,
					      uint16_t ke_group, struct ike_suite *out,
					      uint8_t *num)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t ci = 0; ci < d->conf->nconns; ci++) {
			const struct ike_conn_conf *c = &d->conf->conns[ci];

			if (!conn_accepts(c, l))
				continue;
			for (unsigned int i = 0; i < n; i++) {
				if (props[i].proto != PROTO_IKE || props[i].spi_len)
					continue;
				for (size_t j = 0; j < c->nike; j++) {
					if (pass == 0 && c->ike[j].dh != ke_group)
						continue;
					if (ike_proposal_has(&props[i], &c->ike[j])) {
						*out = c->ike[j];
						*num = props[i].num;
						return c;
					}
				}
			}
		}
	}
	return NULL;
}

static void responder_init(struct ike_daemon *d, struct ike_link *link, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *ke = ike_find(m, PL_KE);
	const struct ike_pl *ni = ike_find(m, PL_NONCE), *cookie;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	const struct ike_conn_conf *c;
	struct ike_suite suite;
	uint16_t ke_group;
	unsigned int n;
	uint8_t num, kebuf[256], want[36];
	struct ike_chain ch;
	struct ike_buf b;
	struct ike_sa *sa;

	/* a retransmission of a request we answered: answer again (UDP only) */
	for (sa = d->sas; sa; sa = sa->next) {
		if (!sa->initiator && sa->spi_i == m->hdr.spi_i && same_addr(&sa->link->peer, &link->peer)) {
			if (sa->state == SA_HALF_OPEN && link->type == TRANSPORT_UDP &&
			    sa->init_req.len == m->raw_len &&
			    !memcmp(sa->init_req.p, m->raw, m->raw_len))
				ike_link_send(d, link, sa->init_resp.p, sa->init_resp.len);
			d->st.rx_retransmits++;
			return;
		}
	}
	if (!sapl || !ke || !ni || ke->len < 4 || ni->len < 16 || ni->len > 256 ||
	    ike_parse_sa(sapl, props, &n)) {
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: malformed IKE_SA_INIT request dropped\n");
		return;
	}
	if (d->half_open >= d->conf->half_open_max) {
		d->st.half_open_dropped++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: %u half-open IKE SAs: IKE_SA_INIT dropped\n",
				d->half_open);
		return;
	}
	if (d->half_open >= d->conf->cookie_threshold) {
		uint8_t h[32];
		const uint8_t *data;
		size_t len = 0;

		want[0] = want[1] = want[2] = want[3] = 0;
		if (ike_cookie_hash(d->cookie_secret, ni->data, ni->len, &link->peer,
				    m->hdr.spi_i, h))
			return;
		memcpy(want + 4, h, 32);
		cookie = ike_find_notify(m, N_COOKIE);
		data = cookie ? ike_notify_data(cookie, &len) : NULL;
		if (!data || len != sizeof(want) || !ike_memeq(data, want, sizeof(want))) {
			d->st.cookies_sent++;
			respond_init_notify(d, link, m, N_COOKIE, want, sizeof(want));
			return;
		}
	}
	ke_group = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
	c = choose_ike(d, link, props, n, ke_group, &suite, &num);
	if (!c) {
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: IKE_SA_INIT: no acceptable proposal\n");
		respond_init_notify(d, link, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (suite.dh != ke_group) {
		uint8_t g[2] = { suite.dh >> 8, suite.dh & 0xff };

		d->st.invalid_ke_sent++;
		respond_init_notify(d, link, m, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	sa = sa_new(d, c, link, false);
	if (!sa)
		return;
	sa->state = SA_HALF_OPEN;
	d->half_open++;
	sa->half_counted = true;
	sa->spi_i = m->hdr.spi_i;
	sa->spi_r = new_spi();
	sa->suite = suite;
	sa->group = suite.dh;
	memcpy(sa->ni, ni->data, ni->len);
	sa->ni_len = ni->len;
	sa->nr_len = IKE_NONCE_LEN;
	ike_random(sa->nr, sa->nr_len);
	sa->dh = ike_dh_new(suite.dh);
	if (!sa->dh || ike_dh_public(sa->dh, kebuf, sizeof(kebuf)) ||
	    derive_keys(sa, ke->data + 4, ke->len - 4)) {
		d->st.rx_bad++;
		ike_log(sa, "unusable KE from the initiator");
		respond_init_notify(d, link, m, N_INVALID_SYNTAX, NULL, 0);
		ike_sa_free(sa);
		return;
	}
	check_nat(sa, m);
	ike_put(&sa->init_req, m->raw, m->raw_len);
	ike_buf_init(&b);
	{
		struct ike_hdr h = { .spi_i = sa->spi_i, .spi_r = sa->spi_r,
				     .exchange = IKE_SA_INIT, .flags = IKE_FLAG_R };

		ike_hdr_put(&b, &h);
	}
	ike_chain_init(&ch, &b, 16);
	ike_pl_sa(&ch, PROTO_IKE, &suite, 1, NULL, 0, &num);
	ike_pl_begin(&ch, PL_KE);
	ike_put16(&b, suite.dh);
	ike_put16(&b, 0);
	ike_put(&b, kebuf, ike_ke_len(suite.dh));
	ike_pl_begin(&ch, PL_NONCE);
	ike_put(&b, sa->nr, sa->nr_len);
	put_nat_notifies(sa, &ch);
	ike_pl_end(&ch);
	ike_hdr_finish(&b);
	if (b.err || sa->init_req.err) {
		ike_buf_free(&b);
		ike_sa_free(sa);
		return;
	}
	ike_put(&sa->init_resp, b.p, b.len);
	sa->peer_next = 1;
	ike_link_send(d, link, b.p, b.len);
	ike_buf_free(&b);
}

/* ---- responder: IKE_AUTH ---- */

static const struct ike_conn_conf *conn_by_id(struct ike_sa *sa, const struct ike_pl *idi)
{
	struct ike_daemon *d = sa->d;

	for (size_t i = 0; i < d->conf->nconns; i++) {
		const struct ike_conn_conf *c = &d->conf->conns[i];
		bool suite_ok = false;

		if (!conn_accepts(c, sa->link) || !id_matches(c, idi, &sa->link->peer))
			continue;
		for (size_t j = 0; j < c->nike; j++)
			suite_ok |= !memcmp(&c->ike[j], &sa->suite, sizeof(sa->suite));
		if (suite_ok)
			return c;
	}
	return NULL;
}

static void responder_auth(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *idi = ike_find(m, PL_IDI), *auth = ike_find(m, PL_AUTH);
	const struct ike_pl *sapl = ike_find(m, PL_SA), *tsi = ike_find(m, PL_TSI);
	const struct ike_pl *tsr = ike_find(m, PL_TSR);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_ts ti[8], tr[8];
	const struct ike_conn_conf *c;
	struct xfrm_child x = { 0 };
	struct ike_child p = { 0 }, *child = NULL;
	unsigned int n, nti, ntr;
	uint8_t want[64], num = 0;
	uint16_t child_err = 0;
	struct ike_buf idb;
	struct out o;

	if (!idi || !auth || auth->len < 4) {
		respond_notify(sa, IKE_AUTH, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		sa_die(sa, "IKE_AUTH without identity or AUTH", false);
		return;
	}
	c = conn_by_id(sa, idi);
	if (!c || auth->data[0] != AUTH_SHARED_KEY_MIC ||
	    auth->len != 4 + sa->keys.prf_len ||
	    psk_auth(sa, c, true, idi->data, idi->len, want) ||
	    !ike_memeq(want, auth->data + 4, sa->keys.prf_len)) {
		sa->d->st.auth_failed++;
		respond_notify(sa, IKE_AUTH, m->hdr.msgid, N_AUTHENTICATION_FAILED, NULL, 0);
		sa_die(sa, c ? "AUTHENTICATION_FAILED: wrong PSK" :
		       "AUTHENTICATION_FAILED: no conn for this identity", false);
		return;
	}
	sa->conf = c;
	sa->mobike = c->mobike && ike_find_notify(m, N_MOBIKE_SUPPORTED);
	established(sa);
	if (ike_find_notify(m, N_INITIAL_CONTACT))
		drop_stale(sa);

	/* the CHILD_SA: a failure here leaves the IKE SA up, without a child */
	if (!sapl || !tsi || !tsr || ike_parse_sa(sapl, props, &n) ||
	    ike_parse_ts(tsi, ti, &nti, 8) || ike_parse_ts(tsr, tr, &ntr, 8))
		child_err = N_INVALID_SYNTAX;
	else if (!choose_esp(c, props, n, false, 0, &p.suite, &num, &p.spi_out))
		child_err = N_NO_PROPOSAL_CHOSEN;
	else if (!ts_narrow(ti, nti, &c->remote_ts, &p.rts) ||
		 !ts_narrow(tr, ntr, &c->local_ts, &p.lts))
		child_err = N_TS_UNACCEPTABLE;
	else if (!c->tunnel != !!ike_find_notify(m, N_USE_TRANSPORT_MODE))
		child_err = N_NO_PROPOSAL_CHOSEN;
	if (!child_err) {
		p.reqid = sa->d->next_reqid++;
		x.suite = p.suite;
		if (xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family,
				   sa_addr(&sa->link->peer), sa_addr(&sa->link->local), p.reqid,
				   &p.spi_in) ||
		    child_keys(sa, false, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len, &x))
			child_err = N_TEMPORARY_FAILURE;
	}
	if (!child_err) {
		child = child_add(sa, &p);
		if (!child || child_install(sa, child, &x, true)) {
			if (child)
				child_unlink(sa, child);
			child = NULL;
			child_err = N_TEMPORARY_FAILURE;
		}
	}
	ike_wipe(&x, sizeof(x));
	if (child_err)
		ike_log(sa, "CHILD_SA refused (notify %u)", child_err);

	ike_buf_init(&idb);
	local_id(sa, &idb);
	if (idb.err || psk_auth(sa, c, false, idb.p, idb.len, want)) {
		ike_buf_free(&idb);
		sa_die(sa, "cannot compute AUTH", false);
		return;
	}
	out_begin(sa, &o, IKE_AUTH, true, m->hdr.msgid);
	ike_pl_begin(&o.c, PL_IDR);
	ike_put(&o.in, idb.p, idb.len);
	ike_buf_free(&idb);
	ike_pl_begin(&o.c, PL_AUTH);
	ike_put8(&o.in, AUTH_SHARED_KEY_MIC);
	ike_put8(&o.in, 0);
	ike_put16(&o.in, 0);
	ike_put(&o.in, want, sa->keys.prf_len);
	if (sa->mobike)
		ike_pl_notify(&o.c, 0, NULL, 0, N_MOBIKE_SUPPORTED, NULL, 0);
	if (child) {
		if (!c->tunnel)
			ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
		ike_pl_sa(&o.c, PROTO_ESP, &child->suite, 1, (const uint8_t *)&child->spi_in, 4,
			  &num);
		ike_pl_ts(&o.c, PL_TSI, &child->rts, 1);
		ike_pl_ts(&o.c, PL_TSR, &child->lts, 1);
	} else {
		ike_pl_notify(&o.c, 0, NULL, 0, child_err, NULL, 0);
	}
	if (out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		sa_die(sa, "cannot build the IKE_AUTH response", false);
		return;
	}
	send_response(sa, &o.b);
}

/* INITIAL_CONTACT: the peer restarted; older SAs of the same conn are stale */
static void drop_stale(struct ike_sa *sa)
{
	struct ike_sa *o, *next;

	for (o = sa->d->sas; o; o = next) {
		next = o->next;
		if (o != sa && !o->initiator && o->conf == sa->conf &&
		    o->state == SA_ESTABLISHED) {
			sa_die(o, "replaced after the peer's INITIAL_CONTACT", false);
			next = sa->d->sas;	/* the list changed */
		}
	}
}

/* ---- CREATE_CHILD_SA ---- */

static void put_ke(struct ike_chain *c, struct ike_dh *dh, uint16_t group)
{
	uint8_t ke[256];

	if (ike_dh_public(dh, ke, sizeof(ke))) {
		c->b->err = true;
		return;
	}
	ike_pl_begin(c, PL_KE);
	ike_put16(c->b, group);
	ike_put16(c->b, 0);
	ike_put(c->b, ke, ike_ke_len(group));
}

static void start_child_rekey(struct ike_sa *sa, struct ike_child *old)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *p = &sa->pending;
	uint32_t old_spi = old->spi_in;
	struct out o;
	int err;

	memset(p, 0, sizeof(*p));
	p->reqid = old->reqid;
	p->suite.dh = c->esp[0].dh;	/* PFS when our first suite names a group */
	err = xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family, sa_addr(&sa->link->peer),
			     sa_addr(&sa->link->local), p->reqid, &p->spi_in);
	if (err) {
		old->rekey_at = now(sa) + 10000;
		return;
	}
	ike_dh_free(sa->req_dh);
	sa->req_dh = p->suite.dh ? ike_dh_new(p->suite.dh) : NULL;
	sa->req_nonce_len = IKE_NONCE_LEN;
	ike_random(sa->req_nonce, sa->req_nonce_len);
	out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
	ike_pl_notify(&o.c, PROTO_ESP, (const uint8_t *)&old_spi, 4, N_REKEY_SA, NULL, 0);
	{
		struct ike_suite esp[IKE_MAX_SUITES];
		size_t n = 0;

		for (size_t i = 0; i < c->nesp; i++)
			if (c->esp[i].dh == p->suite.dh)
				esp[n++] = c->esp[i];
		ike_pl_sa(&o.c, PROTO_ESP, esp, n, (const uint8_t *)&p->spi_in, 4, NULL);
	}
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, sa->req_nonce, sa->req_nonce_len);
	if (sa->req_dh)
		put_ke(&o.c, sa->req_dh, p->suite.dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, &old->lts, 1);
	ike_pl_ts(&o.c, PL_TSR, &old->rts, 1);
	if ((p->suite.dh && !sa->req_dh) || out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		old->rekey_at = now(sa) + 10000;
		return;
	}
	ike_log(sa, "rekeying CHILD_SA 0x%08x", ntohl(old->spi_in));
	sa->req_child = old;
	send_request(sa, REQ_REKEY_CHILD, &o.b);
}

static void start_ike_rekey(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_suite order[IKE_MAX_SUITES];
	uint8_t spi[8];
	size_t n = 0;
	struct out o;

	sa->req_new_spi = new_spi();
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(sa->req_new_spi >> (56 - 8 * i));
	for (size_t i = 0; i < c->nike; i++)
		if (c->ike[i].dh == sa->suite.dh)
			order[n++] = c->ike[i];
	ike_dh_free(sa->req_dh);
	sa->req_dh = ike_dh_new(sa->suite.dh);
	sa->req_nonce_len = IKE_NONCE_LEN;
	ike_random(sa->req_nonce, sa->req_nonce_len);
	out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
	ike_pl_sa(&o.c, PROTO_IKE, order, n, spi, 8, NULL);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, sa->req_nonce, sa->req_nonce_len);
	if (sa->req_dh)
		put_ke(&o.c, sa->req_dh, sa->suite.dh);
	if (!sa->req_dh || out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		sa->rekey_at = now(sa) + 10000;
		return;
	}
	ike_log(sa, "rekeying the IKE SA");
	send_request(sa, REQ_REKEY_IKE, &o.b);
}

static void send_delete(struct ike_sa *sa, uint8_t proto, const uint32_t *spis, unsigned int n,
			enum req_kind kind)
{
	struct out o;

	out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	ike_pl_begin(&o.c, PL_DELETE);
	ike_put8(&o.in, proto);
	ike_put8(&o.in, proto == PROTO_IKE ? 0 : 4);
	ike_put16(&o.in, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		ike_put(&o.in, &spis[i], 4);
	if (out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		return;
	}
	send_request(sa, kind, &o.b);
}

/*
 * The new IKE SA of a rekey: keys from SKEYSEED = prf(SK_d (old), g^ir (new)
 * | Ni | Nr) (RFC 7296 2.18); it takes the link and every CHILD_SA.
 */
static struct ike_sa *ike_successor(struct ike_sa *old, bool we_started, uint64_t spi_i,
				    uint64_t spi_r, const struct ike_suite *suite,
				    struct ike_dh *dh, const uint8_t *peer_ke, size_t kelen,
				    const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen)
{
	struct ike_sa *sa;
	uint8_t gir[256], seed[256 + 512], skeyseed[64];
	size_t glen;
	int err;

	if (ike_dh_shared(dh, peer_ke, kelen, gir, &glen) || nilen + nrlen > 512)
		return NULL;
	sa = sa_new(old->d, old->conf, old->link, we_started);
	if (!sa)
		return NULL;
	memcpy(seed, gir, glen);
	memcpy(seed + glen, ni, nilen);
	memcpy(seed + glen + nilen, nr, nrlen);
	err = ike_prf(old->suite.prf, old->keys.sk_d, old->keys.prf_len, seed,
		      glen + nilen + nrlen, skeyseed);
	sa->spi_i = spi_i;
	sa->spi_r = spi_r;
	sa->suite = *suite;
	memcpy(sa->ni, ni, nilen);
	sa->ni_len = nilen;
	memcpy(sa->nr, nr, nrlen);
	sa->nr_len = nrlen;
	if (!err)
		err = ike_derive_ike_keys(suite, skeyseed, old->keys.prf_len, ni, nilen, nr, nrlen,
					  spi_i, spi_r, &sa->keys);
	ike_wipe(gir, sizeof(gir));
	ike_wipe(seed, sizeof(seed));
	ike_wipe(skeyseed, sizeof(skeyseed));
	if (err) {
		ike_sa_free(sa);
		return NULL;
	}
	sa->have_keys = true;
	sa->nat_here = old->nat_here;
	sa->nat_there = old->nat_there;
	sa->mobike = old->mobike;
	sa->created_nat = old->created_nat;
	sa->since = old->since;
	memcpy(sa->why, old->why, sizeof(sa->why));
	sa->children = old->children;
	old->children = NULL;
	old->req_child = NULL;
	sa->state = SA_ESTABLISHED;
	sa->link->authed = true;
	sa->rekey_at = old->d->now + (uint64_t)sa->conf->ike_rekey_s * 1000;
	old->state = SA_DELETING;
	old->expire_at = old->d->now + 30000;
	old->d->st.ike_rekeyed++;
	ike_log(sa, "IKE SA rekeyed; new SPIs %016llx_i %016llx_r",
		(unsigned long long)spi_i, (unsigned long long)spi_r);
	return sa;
}

static void handle_create_child(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *ni = ike_find(m, PL_NONCE);
	const struct ike_pl *ke = ike_find(m, PL_KE), *rk = ike_find_notify(m, N_REKEY_SA);
	const struct ike_pl *tsi = ike_find(m, PL_TSI), *tsr = ike_find(m, PL_TSR);
	const struct ike_conn_conf *c = sa->conf;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_child p = { 0 }, *old = NULL, *nc;
	struct xfrm_child x = { 0 };
	struct ike_ts ti[8], tr[8];
	unsigned int n, nti, ntr;
	uint16_t ke_group = 0;
	uint8_t nr[IKE_NONCE_LEN], gir[256], num = 0;
	size_t glen = 0;
	struct ike_dh *dh = NULL;
	struct out o;

	if (!sapl || !ni || ni->len < 16 || ni->len > 256 || ike_parse_sa(sapl, props, &n) ||
	    (ke && ke->len < 4)) {
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (ke)
		ke_group = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
	ike_random(nr, sizeof(nr));
	if (props[0].proto == PROTO_IKE) {
		struct ike_suite suite = { 0 };
		uint64_t peer_spi = 0;
		struct ike_sa *nsa;
		uint8_t spi[8];

		for (unsigned int i = 0; i < n && !suite.encr; i++) {
			if (props[i].proto != PROTO_IKE || props[i].spi_len != 8)
				continue;
			for (size_t j = 0; j < c->nike; j++) {
				if (c->ike[j].dh == ke_group && ike_proposal_has(&props[i], &c->ike[j])) {
					suite = c->ike[j];
					num = props[i].num;
					for (int k = 0; k < 8; k++)
						peer_spi = peer_spi << 8 | props[i].spi[k];
					break;
				}
			}
		}
		if (!suite.encr || !ke || !peer_spi) {
			respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid,
				       ke ? N_NO_PROPOSAL_CHOSEN : N_INVALID_SYNTAX, NULL, 0);
			return;
		}
		dh = ike_dh_new(ke_group);
		nsa = dh ? ike_successor(sa, false, peer_spi, new_spi(), &suite, dh, ke->data + 4,
					 ke->len - 4, ni->data, ni->len, nr, sizeof(nr)) : NULL;
		if (!nsa) {
			ike_dh_free(dh);
			respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_PROPOSAL_CHOSEN,
				       NULL, 0);
			return;
		}
		for (int k = 0; k < 8; k++)
			spi[k] = (uint8_t)(nsa->spi_r >> (56 - 8 * k));
		out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
		ike_pl_sa(&o.c, PROTO_IKE, &suite, 1, spi, 8, &num);
		ike_pl_begin(&o.c, PL_NONCE);
		ike_put(&o.in, nr, sizeof(nr));
		put_ke(&o.c, dh, ke_group);
		ike_dh_free(dh);
		if (!out_seal(sa, &o))
			send_response(sa, &o.b);
		else
			ike_buf_free(&o.b);
		return;
	}

	if (rk) {
		uint8_t proto;
		uint32_t spi;

		if (!ike_notify_spi(rk, &proto, &spi))
			for (old = sa->children; old; old = old->next)
				if (old->spi_out == spi)
					break;
		if (!old) {
			respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_CHILD_SA_NOT_FOUND,
				       NULL, 0);
			return;
		}
	} else {
		/* one CHILD_SA per IKE SA: the tunnel's */
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_ADDITIONAL_SAS, NULL, 0);
		return;
	}
	if (!tsi || !tsr || ike_parse_ts(tsi, ti, &nti, 8) || ike_parse_ts(tsr, tr, &ntr, 8)) {
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (!choose_esp(c, props, n, ke != NULL, ke_group, &p.suite, &num, &p.spi_out)) {
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (!ts_narrow(ti, nti, &old->rts, &p.rts) || !ts_narrow(tr, ntr, &old->lts, &p.lts)) {
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TS_UNACCEPTABLE, NULL, 0);
		return;
	}
	if (ke) {
		dh = ike_dh_new(ke_group);
		if (!dh || ike_dh_shared(dh, ke->data + 4, ke->len - 4, gir, &glen)) {
			ike_dh_free(dh);
			respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
			return;
		}
	}
	p.reqid = old->reqid;
	x.suite = p.suite;
	nc = NULL;
	if (!xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family, sa_addr(&sa->link->peer),
			    sa_addr(&sa->link->local), p.reqid, &p.spi_in) &&
	    !child_keys(sa, false, gir, glen, ni->data, ni->len, nr, sizeof(nr), &x)) {
		nc = child_add(sa, &p);
		if (nc && child_install(sa, nc, &x, false)) {
			child_unlink(sa, nc);
			nc = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	ike_wipe(gir, sizeof(gir));
	if (!nc) {
		ike_dh_free(dh);
		respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	old->rekey_at = UINT64_MAX;	/* the peer deletes it next */
	sa->d->st.child_rekeyed++;
	out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
	ike_pl_sa(&o.c, PROTO_ESP, &nc->suite, 1, (const uint8_t *)&nc->spi_in, 4, &num);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, nr, sizeof(nr));
	if (dh)
		put_ke(&o.c, dh, ke_group);
	ike_dh_free(dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, &nc->rts, 1);
	ike_pl_ts(&o.c, PL_TSR, &nc->lts, 1);
	if (!out_seal(sa, &o))
		send_response(sa, &o.b);
	else
		ike_buf_free(&o.b);
}

static void rekey_child_resp(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *nr = ike_find(m, PL_NONCE), *ke = ike_find(m, PL_KE);
	struct ike_child *old = sa->req_child, *nc = NULL;
	struct xfrm_child x = { 0 };
	uint8_t gir[256];
	size_t glen = 0;
	uint16_t err_type;

	sa->req = REQ_NONE;
	sa->req_child = NULL;
	if (!old)
		return;
	if (first_error(m, &err_type) || !nr || nr->len < 16 || nr->len > 256 ||
	    initiator_child(sa, m, &sa->pending) ||
	    (sa->req_dh && (!ke || ke->len < 4 ||
			    ike_dh_shared(sa->req_dh, ke->data + 4, ke->len - 4, gir, &glen)))) {
		ike_log(sa, "CHILD_SA rekey refused or malformed; trying again in 10 s");
		old->rekey_at = now(sa) + 10000;
		drop_pending(sa);
		return;
	}
	x.suite = sa->pending.suite;
	if (!child_keys(sa, true, gir, glen, sa->req_nonce, sa->req_nonce_len, nr->data, nr->len,
			&x)) {
		nc = child_add(sa, &sa->pending);
		if (nc && child_install(sa, nc, &x, false)) {
			child_unlink(sa, nc);
			nc = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	ike_wipe(gir, sizeof(gir));
	if (!nc) {
		old->rekey_at = now(sa) + 10000;
		return;
	}
	sa->d->st.child_rekeyed++;
	/* the new pair carries traffic now; retire the old one */
	old->rekey_at = UINT64_MAX;
	sa->req_child = old;
	send_delete(sa, PROTO_ESP, &old->spi_in, 1, REQ_DELETE_CHILD);
	sa->req_child = old;
}

static void rekey_ike_resp(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *nr = ike_find(m, PL_NONCE);
	const struct ike_pl *ke = ike_find(m, PL_KE);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_suite suite = { 0 };
	uint64_t peer_spi = 0;
	struct ike_sa *nsa;
	unsigned int n;
	uint16_t err_type;

	sa->req = REQ_NONE;
	if (first_error(m, &err_type) || !sapl || !nr || !ke || ke->len < 4 || nr->len < 16 ||
	    nr->len > 256 || ike_parse_sa(sapl, props, &n) || n != 1 ||
	    props[0].proto != PROTO_IKE || props[0].spi_len != 8) {
		ike_log(sa, "IKE SA rekey refused or malformed; trying again in 10 s");
		sa->rekey_at = now(sa) + 10000;
		return;
	}
	for (size_t j = 0; j < sa->conf->nike; j++)
		if (sa->conf->ike[j].dh == sa->suite.dh &&
		    ike_proposal_has(&props[0], &sa->conf->ike[j]))
			suite = sa->conf->ike[j];
	for (int k = 0; k < 8; k++)
		peer_spi = peer_spi << 8 | props[0].spi[k];
	nsa = suite.encr && peer_spi ?
	      ike_successor(sa, true, sa->req_new_spi, peer_spi, &suite, sa->req_dh, ke->data + 4,
			    ke->len - 4, sa->req_nonce, sa->req_nonce_len, nr->data, nr->len) :
	      NULL;
	if (!nsa) {
		ike_log(sa, "IKE SA rekey response unusable; trying again in 10 s");
		sa->rekey_at = now(sa) + 10000;
		return;
	}
	send_delete(sa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
}

/* ---- INFORMATIONAL ---- */

static void handle_info(struct ike_sa *sa, const struct ike_msg *m)
{
	uint32_t gone[16];
	unsigned int ngone = 0;
	bool ike_gone = false;
	struct out o;

	for (unsigned int i = 0; i < m->npl; i++) {
		const struct ike_pl *pl = &m->pl[i];
		unsigned int count;

		if (pl->type != PL_DELETE || pl->len < 4)
			continue;
		if (pl->data[0] == PROTO_IKE) {
			ike_gone = true;
			continue;
		}
		if (pl->data[0] != PROTO_ESP || pl->data[1] != 4)
			continue;
		count = (unsigned int)(pl->data[2] << 8 | pl->data[3]);
		if (pl->len != 4 + 4 * (size_t)count)
			continue;
		for (unsigned int k = 0; k < count; k++) {
			uint32_t spi;

			memcpy(&spi, pl->data + 4 + 4 * k, 4);
			for (struct ike_child *c = sa->children; c; c = c->next) {
				if (c->spi_out != spi)
					continue;
				if (ngone < 16)
					gone[ngone++] = c->spi_in;
				child_remove(sa, c, true);
				child_unlink(sa, c);
				break;
			}
		}
	}
	out_begin(sa, &o, INFORMATIONAL, true, m->hdr.msgid);
	if (ngone && !ike_gone) {
		ike_pl_begin(&o.c, PL_DELETE);
		ike_put8(&o.in, PROTO_ESP);
		ike_put8(&o.in, 4);
		ike_put16(&o.in, (uint16_t)ngone);
		ike_put(&o.in, gone, 4 * ngone);
	}
	if (!out_seal(sa, &o))
		send_response(sa, &o.b);
	else
		ike_buf_free(&o.b);
	if (ike_gone) {
		if (sa->state == SA_DELETING && !sa->children) {
			ike_log(sa, "old IKE SA deleted after rekey");
			sa->state = SA_DEAD;
			ike_sa_free(sa);
		} else {
			sa_die(sa, "the peer deleted the IKE SA", true);
		}
	}
}

static void handle_info_resp(struct ike_sa *sa, const struct ike_msg *m)
{
	enum req_kind kind = sa->req;
	struct ike_child *c = sa->req_child;

	(void)m;
	sa->req = REQ_NONE;
	sa->req_child = NULL;
	if (kind == REQ_DELETE_CHILD && c) {
		child_remove(sa, c, true);
		child_unlink(sa, c);
	} else if (kind == REQ_DELETE_IKE) {
		ike_log(sa, sa->state == SA_DELETING ? "old IKE SA deleted after rekey" :
			"IKE SA deleted");
		remove_children(sa);
		sa->state = SA_DEAD;
		ike_sa_free(sa);
	}
}

/* ---- input ---- */

static void dispatch_request(struct ike_sa *sa, const struct ike_msg *m)
{
	switch (m->hdr.exchange) {
	case IKE_AUTH:
		if (sa->state == SA_HALF_OPEN && !sa->initiator) {
			responder_auth(sa, m);
			return;
		}
		break;
	case CREATE_CHILD_SA:
		if (sa->state == SA_ESTABLISHED) {
			handle_create_child(sa, m);
			return;
		}
		break;
	case INFORMATIONAL:
		if (sa->state == SA_ESTABLISHED || sa->state == SA_DELETING) {
			handle_info(sa, m);
			return;
		}
		break;
	}
	if (ike_log_bad(sa->d))
		ike_log(sa, "unexpected request (exchange %u) ignored", m->hdr.exchange);
	sa->d->st.rx_bad++;
}

static void dispatch_response(struct ike_sa *sa, const struct ike_msg *m)
{
	enum req_kind kind = sa->req;

	if (m->hdr.exchange == IKE_AUTH && kind == REQ_AUTH)
		initiator_auth_resp(sa, m);
	else if (m->hdr.exchange == CREATE_CHILD_SA && kind == REQ_REKEY_CHILD)
		rekey_child_resp(sa, m);
	else if (m->hdr.exchange == CREATE_CHILD_SA && kind == REQ_REKEY_IKE)
		rekey_ike_resp(sa, m);
	else if (m->hdr.exchange == INFORMATIONAL)
		handle_info_resp(sa, m);
	else
		sa->d->st.rx_bad++;
}

/*
 * An authenticated message came over another path: move there.  To TCP,
 * the CHILD_SAs are bound to the new connection (a bind moves them off the
 * old one); from TCP to UDP they are unbound, so xfrm sends them itself.
 */
static void switch_link(struct ike_sa *sa, struct ike_link *link)
{
	struct ike_link *old = sa->link;
	bool was_tcp = old->type == TRANSPORT_TCP;

	ike_link_get(link);
	sa->link = link;
	sa->down_seen = false;
	sa->reconnects = 0;
	sa->esp_stall_since = 0;
	link->authed = true;
	for (struct ike_child *c = sa->children; c; c = c->next) {
		if (!c->installed)
			continue;
		if (link->type == TRANSPORT_TCP)
			ike_bind_child(sa->d, sa, c);
		else if (was_tcp)
			ike_unbind_child(sa->d, sa, c);
	}
	if (sa->state == SA_ESTABLISHED && (was_tcp || link->type == TRANSPORT_TCP)) {
		char why[96];

		if (link->type == TRANSPORT_TCP)
			sa->d->st.moved_to_tcp++;
		else
			sa->d->st.moved_to_udp++;
		snprintf(why, sizeof(why), "now on %s (%s)",
			 link->type == TRANSPORT_TCP ? "TCP" : "UDP",
			 link->type == TRANSPORT_TCP ? (was_tcp ? "the initiator reconnected" :
			 "UDP path lost") : "UDP works again");
		transition(sa, why);
	}
	ike_link_put(sa->d, old);
}

/* is this request one that may move the SA to the path it came on? */
static bool may_move(const struct ike_sa *sa, const struct ike_link *link,
		     const struct ike_msg *m, bool response)
{
	if (link->type == sa->link->type)
		/* UDP: the float to 4500 during setup; NAT rebinding is not followed */
		return link->type == TRANSPORT_UDP ? sa->state != SA_ESTABLISHED :
		       sa->state == SA_ESTABLISHED && !response;
	if (sa->state != SA_ESTABLISHED || response)
		return false;
	/* UDP to TCP: any authenticated request (RFC 9329); back: MOBIKE only */
	return link->type == TRANSPORT_TCP ||
	       (sa->mobike && ike_find_notify(m, N_UPDATE_SA_ADDRESSES));
}

/**
 * ike_input() - one IKE message from a peer
 * @d: the daemon
 * @link: where it came from (TCP connection, or UDP socket and peer)
 * @msg: the message, without any non-ESP marker
 * @len: its length
 */
void ike_input(struct ike_daemon *d, struct ike_link *link, const uint8_t *msg, size_t len)
{
	struct ike_msg m;
	struct ike_sa *sa;
	bool response, from_init;
	uint8_t *plain = NULL;
	size_t plen;
	int err;

	d->st.rx_msgs++;
	err = ike_parse(&m, msg, len);
	if (err == -EBADMSG || err == -EPROTO) {
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: malformed IKE message (%zu bytes) dropped\n", len);
		return;
	}
	response = m.hdr.flags & IKE_FLAG_R;
	from_init = m.hdr.flags & IKE_FLAG_I;
	if (m.hdr.exchange == IKE_SA_INIT) {
		if (err || m.hdr.msgid != 0) {
			d->st.rx_bad++;
			return;
		}
		if (!response) {
			if (from_init && !m.hdr.spi_r && m.hdr.spi_i)
				responder_init(d, link, &m);
			else
				d->st.rx_bad++;
			return;
		}
		sa = find_sa(d, m.hdr.spi_i, true);
		if (!sa || sa->state != SA_INIT_SENT || from_init || sa->link != link) {
			d->st.rx_unknown_spi++;
			return;
		}
		sa->last_rx = d->now;
		initiator_init_resp(sa, &m);
		return;
	}
	sa = find_sa(d, from_init ? m.hdr.spi_r : m.hdr.spi_i, !from_init);
	if (!sa || (from_init ? m.hdr.spi_i != sa->spi_i : m.hdr.spi_r != sa->spi_r) ||
	    !sa->have_keys) {
		d->st.rx_unknown_spi++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: IKE message for an unknown SA dropped\n");
		return;
	}
	if (response ? (sa->req == REQ_NONE || m.hdr.msgid + 1 != sa->next_req) :
	    m.hdr.msgid != sa->peer_next) {
		if (!response && m.hdr.msgid + 1 == sa->peer_next && sa->have_last_resp) {
			/*
			 * A retransmission: answered again when it is the very
			 * request we answered (over UDP, or over a new TCP
			 * connection after a move), but never a reason to move:
			 * anyone who saw it could replay it.
			 */
			uint8_t h[32];

			d->st.rx_retransmits++;
			if ((link->type == TRANSPORT_UDP || link != sa->link) &&
			    !ike_sha256(m.raw, m.raw_len, h) && ike_memeq(h, sa->last_req_hash, 32))
				ike_link_send(d, link, sa->last_resp.p, sa->last_resp.len);
		}
		return;
	}
	if (!m.sk_off) {
		d->st.rx_bad++;
		return;
	}
	if (ike_sk_open(&sa->suite, &sa->keys, from_init, m.raw, m.raw_len, m.sk_off, &plain,
			&plen)) {
		d->st.rx_bad_icv++;
		if (ike_log_bad(d))
			ike_log(sa, "message failed its integrity check; dropped");
		return;
	}
	err = ike_parse_inner(&m, plain, plen);
	sa->last_rx = d->now;
	/*
	 * Authenticated, so the peer may move: UDP floats to 4500 or changes
	 * its NAT mapping at any time; TCP reconnects once established.
	 */
	if (response && link != sa->link && link == sa->probe) {
		/* the MOBIKE probe came back over UDP: UDP works, go back to it */
		struct ike_link *tcp = sa->link;

		if (!err && sa->req == REQ_PROBE) {
			sa->req = REQ_NONE;
			ike_link_get(tcp);
			switch_link(sa, link);
			ike_link_put(d, sa->probe);
			sa->probe = NULL;
			/* closed after this event batch: its events may be pending */
			if (tcp->type == TRANSPORT_TCP && tcp->stage != LINK_DEAD)
				tcp->closing = "the SAs moved back to UDP";
			ike_link_put(d, tcp);
		}
		goto out;
	} else if (link != sa->link && !err && may_move(sa, link, &m, response)) {
		switch_link(sa, link);
	} else if (link != sa->link) {
		goto out;
	}
	if (err) {
		d->st.rx_bad++;
		if (!response) {
			uint8_t t = m.unknown_critical;

			if (err == -ENOTSUP)
				respond_notify(sa, m.hdr.exchange, m.hdr.msgid,
					       N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
			else
				respond_notify(sa, m.hdr.exchange, m.hdr.msgid, N_INVALID_SYNTAX,
					       NULL, 0);
		} else {
			sa->req = REQ_NONE;
		}
		goto out;
	}
	if (response) {
		dispatch_response(sa, &m);
	} else {
		ike_sha256(m.raw, m.raw_len, sa->last_req_hash);
		dispatch_request(sa, &m);
	}
out:
	ike_msg_free(&m);
}

/* ---- time ---- */

static void retransmit(struct ike_sa *sa)
{
	sa->req_tries++;
	sa->req_next_tx = now(sa) + ((uint64_t)RETRANSMIT_BASE_MS << (sa->req_tries - 1));
	ike_link_send(sa->d, sa->link, sa->req_msg.p, sa->req_msg.len);
}

/**
 * ike_sa_timers() - whatever is due: timeouts, retransmissions, rekeys, DPD
 * @sa: the SA; it may be freed
 */
void ike_sa_timers(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	uint64_t t = now(sa), dpd_to = (uint64_t)c->dpd_timeout_s * 1000;

	switch (sa->state) {
	case SA_INIT_SENT:
	case SA_AUTH_SENT:
	case SA_HALF_OPEN:
		if (sa->state == SA_INIT_SENT && sa->fallback_at && t >= sa->fallback_at) {
			const struct ike_conn_conf *fc = sa->conf;
			struct ike_daemon *d = sa->d;

			ike_log(sa, "no answer over UDP in %u ms: trying TCP", fc->fallback_ms);
			d->st.fallback_connects++;
			sa->state = SA_DEAD;
			ike_sa_free(sa);
			ike_conn_start_tcp(d, fc);
			return;
		}
		if (t >= sa->expire_at) {
			sa_die(sa, sa->state == SA_HALF_OPEN ? "half-open SA timed out" :
			       "no answer from the responder", true);
			return;
		}
		break;
	case SA_DELETING:
		if (t >= sa->expire_at) {
			remove_children(sa);
			sa->state = SA_DEAD;
			ike_sa_free(sa);
			return;
		}
		break;
	default:
		break;
	}
	if (sa->link->stage == LINK_DEAD && sa->state == SA_ESTABLISHED &&
	    t - sa->link->dead_since >= dpd_to) {
		sa_die(sa, "the TCP connection did not come back", true);
		return;
	}
	/* a request resent after a move is answered at once, or never */
	if (sa->req != REQ_NONE && sa->state == SA_ESTABLISHED &&
	    (t - sa->req_sent >= dpd_to || (sa->req_deadline && t >= sa->req_deadline))) {
		sa->d->st.dpd_dead++;
		sa_die(sa, "the peer stopped answering", true);
		return;
	}
	if (transport_timers(sa, t))
		return;
	if (sa->req != REQ_NONE) {
		if (sa->link->type == TRANSPORT_UDP && t >= sa->req_next_tx && sa->req_tries < 8)
			retransmit(sa);
		return;
	}
	if (sa->state != SA_ESTABLISHED || sa->link->stage != LINK_READY)
		return;
	if (sa->initiator) {
		for (struct ike_child *ch = sa->children; ch; ch = ch->next) {
			if (t >= ch->rekey_at) {
				start_child_rekey(sa, ch);
				return;
			}
		}
		if (t >= sa->rekey_at) {
			start_ike_rekey(sa);
			return;
		}
	}
	if (c->dpd_s && t - sa->last_rx >= (uint64_t)c->dpd_s * 1000) {
		struct out o;

		out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
		if (!out_seal(sa, &o))
			send_request(sa, REQ_DPD, &o.b);
		else
			ike_buf_free(&o.b);
	}
}

/* the TCP connection closed under an established SA */
void ike_sa_link_down(struct ike_sa *sa)
{
	if (sa->state == SA_DELETING) {
		/* replaced by a rekey: its successor handles the connection */
		sa->state = SA_DEAD;
		ike_sa_free(sa);
		return;
	}
	if (sa->state != SA_ESTABLISHED) {
		sa_die(sa, "the TCP connection closed during setup", true);
		return;
	}
	if (sa->conf && sa->conf->initiator) {
		/* RFC 9329 section 6: the originator reconnects; same IKE SA */
		sa->reconnect_at = now(sa);
		transition(sa, "TCP connection lost; reconnecting");
		return;
	}
	transition(sa, "TCP connection lost; waiting for the initiator to reconnect");
}

static void move_to_tcp(struct ike_sa *sa, const char *why)
{
	struct ike_link *l;
	char msg[96];

	if (sa->moving)
		return;
	l = ike_tcp_connect(sa->d, sa->conf);
	if (!l) {
		sa->reconnect_at = now(sa) + (1000u << (sa->reconnects < 5 ? sa->reconnects : 5));
		sa->reconnects++;
		return;
	}
	ike_link_get(l);
	sa->moving = l;
	if (sa->link->type == TRANSPORT_UDP) {
		snprintf(msg, sizeof(msg), "moving to TCP: %s", why);
		transition(sa, msg);
	}
}

/* an empty INFORMATIONAL: the peer moves on its authentication */
static void send_resync(struct ike_sa *sa)
{
	struct out o;

	sa->resync_needed = false;
	out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	if (out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		return;
	}
	send_request(sa, REQ_RESYNC, &o.b);
	sa->req_deadline = now(sa) + 10000;
}

/* the new TCP connection is up: bind the CHILD_SAs to it and say so to the peer */
void ike_sa_moved(struct ike_sa *sa, struct ike_link *l)
{
	ike_link_put(sa->d, sa->moving);
	sa->moving = NULL;
	if (sa->link->type == TRANSPORT_TCP)
		sa->d->st.tcp_reconnects++;
	switch_link(sa, l);
	if (sa->probe) {
		ike_link_put(sa->d, sa->probe);
		sa->probe = NULL;
	}
	if (sa->req != REQ_NONE) {
		/*
		 * The unanswered request goes again, on the new connection;
		 * the peer answers it there but moves only for a fresh
		 * request, which follows once this one is answered.
		 */
		if (!sa->req_deadline)
			sa->req_deadline = now(sa) + 10000;
		sa->resync_needed = true;
		if (sa->req == REQ_PROBE)
			sa->req = REQ_RESYNC;
		ike_link_send(sa->d, sa->link, sa->req_msg.p, sa->req_msg.len);
	} else {
		send_resync(sa);
	}
	ike_status_write(sa->d);
}

void ike_sa_move_failed(struct ike_sa *sa, const char *why)
{
	unsigned int backoff = 1000u << (sa->reconnects < 5 ? sa->reconnects : 5);

	ike_link_put(sa->d, sa->moving);
	sa->moving = NULL;
	sa->reconnects++;
	sa->reconnect_at = now(sa) + backoff;
	ike_log(sa, "TCP connection failed (%s); trying again in %u ms", why, backoff);
}

/* the first child's packet counters: is inbound ESP arriving? */
static void esp_watch(struct ike_sa *sa, uint64_t t)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *ch = sa->children;
	uint64_t in = 0, out = 0;
	uint64_t step = c->udp_timeout_ms / 4 ? c->udp_timeout_ms / 4 : 1;
	struct xfrm_child x = { 0 };

	if (!ch || t < sa->esp_check_at)
		return;
	sa->esp_check_at = t + (step < 250 ? step : 250);
	child_xfrm(sa, ch, &x);
	if (xfrm_state_seq(sa->d->xfrm, x.family, x.local, ch->spi_in, &in) ||
	    xfrm_state_seq(sa->d->xfrm, x.family, x.remote, ch->spi_out, &out))
		return;
	if (in != sa->esp_in || out == sa->esp_out) {
		/* something came in, or nothing went out: no evidence of a dead path */
		sa->esp_stall_since = in != sa->esp_in ? 0 : sa->esp_stall_since;
	} else if (!sa->esp_stall_since) {
		sa->esp_stall_since = t;
	}
	sa->esp_in = in;
	sa->esp_out = out;
	if (sa->esp_stall_since && t - sa->esp_stall_since >= c->udp_timeout_ms) {
		char why[80];

		snprintf(why, sizeof(why), "no inbound ESP for %u ms while sending",
			 c->udp_timeout_ms);
		move_to_tcp(sa, why);
	}
}

/* on TCP with MOBIKE: ask over UDP 4500 whether UDP works again */
static void send_probe(struct ike_sa *sa)
{
	struct sockaddr_storage local = sa->conf->local, peer = sa->conf->remote;
	uint8_t h[20];
	struct out o;

	if (local.ss_family == AF_INET) {
		((struct sockaddr_in *)&local)->sin_port = htons(4500);
		((struct sockaddr_in *)&peer)->sin_port = htons(4500);
	} else {
		((struct sockaddr_in6 *)&local)->sin6_port = htons(4500);
		((struct sockaddr_in6 *)&peer)->sin6_port = htons(4500);
	}
	sa->probe = ike_udp_link(sa->d, &local, &peer, true);
	if (!sa->probe)
		return;
	out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	ike_pl_notify(&o.c, 0, NULL, 0, N_UPDATE_SA_ADDRESSES, NULL, 0);
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &local, h))
		ike_pl_notify(&o.c, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &peer, h))
		ike_pl_notify(&o.c, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
	if (out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		ike_link_put(sa->d, sa->probe);
		sa->probe = NULL;
		return;
	}
	ike_buf_free(&sa->req_msg);
	sa->req_msg = o.b;
	sa->req = REQ_PROBE;
	sa->req_sent = now(sa);
	sa->req_tries = 1;
	sa->req_next_tx = now(sa) + 500;
	sa->next_req++;
	ike_link_send(sa->d, sa->probe, o.b.p, o.b.len);
}

/* the initiator's transport duties; true when it did something */
static bool transport_timers(struct ike_sa *sa, uint64_t t)
{
	const struct ike_conn_conf *c = sa->conf;

	if (!c->initiator || sa->state != SA_ESTABLISHED)
		return false;
	if (sa->link->stage == LINK_DEAD) {
		if (!sa->moving && t >= sa->reconnect_at)
			move_to_tcp(sa, "TCP connection lost");
		return true;
	}
	if (sa->req == REQ_PROBE) {
		if (t - sa->req_sent >= c->udp_timeout_ms) {
			/* no answer over UDP: the same request goes over TCP */
			ike_link_put(sa->d, sa->probe);
			sa->probe = NULL;
			sa->req = REQ_RESYNC;
			sa->req_sent = t;
			ike_link_send(sa->d, sa->link, sa->req_msg.p, sa->req_msg.len);
		} else if (t >= sa->req_next_tx) {
			sa->req_next_tx = t + 500;
			ike_link_send(sa->d, sa->probe, sa->req_msg.p, sa->req_msg.len);
		}
		return true;
	}
	if (sa->resync_needed && sa->req == REQ_NONE) {
		send_resync(sa);
		return true;
	}
	if (c->transport != TRANSPORT_FALLBACK)
		return false;
	if (sa->link->type == TRANSPORT_UDP) {
		if (sa->moving)
			return true;
		if (t < sa->reconnect_at)
			return false;
		if (sa->req != REQ_NONE && t - sa->req_sent >= c->udp_timeout_ms) {
			char why[64];

			snprintf(why, sizeof(why), "no answer over UDP for %u ms", c->udp_timeout_ms);
			move_to_tcp(sa, why);
			return sa->moving != NULL;
		}
		if (c->udp_timeout_ms)
			esp_watch(sa, t);
		return sa->moving != NULL;
	}
	if (sa->mobike && c->probe_s && !sa->created_nat && sa->req == REQ_NONE) {
		if (!sa->probe_at)
			sa->probe_at = t + (uint64_t)c->probe_s * 1000;
		if (t >= sa->probe_at) {
			sa->probe_at = t + (uint64_t)c->probe_s * 1000;
			send_probe(sa);
			return true;
		}
	}
	return false;
}

/* on exit: tell the peer, remove what we installed */
void ike_sa_shutdown(struct ike_sa *sa)
{
	if (sa->state == SA_ESTABLISHED && sa->link->stage == LINK_READY) {
		sa->req = REQ_NONE;
		send_delete(sa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
	}
	drop_pending(sa);
	remove_children(sa);
	sa->state = SA_DEAD;
	ike_sa_free(sa);
}
