// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: IKE_SA_INIT (RFC 7296 1.2) in both roles: proposals, the
 * Diffie-Hellman exchange and SKEYSEED, NAT detection, COOKIE (2.6) and
 * INVALID_KE_PAYLOAD (1.3).  A responder keeps nothing for a peer beyond the
 * bounded half-open table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "esptcp.h"
#include "ike_sa.h"

#define COOKIE_ROTATE_MS	120000

static int send_init(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_hdr h = { .spi_i = sa->spi_i, .exchange = IKE_SA_INIT, .flags = IKE_FLAG_I };
	uint8_t ke[512];
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
	ike_put_nat_notifies(sa, &ch);
	if (c->fragment_size && sa->link->type == TRANSPORT_UDP)
		ike_pl_notify(&ch, 0, NULL, 0, N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	if (ike_conn_pubkey(c))
		ike_put_sighashes(&ch);
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
	ike_send_request(sa, REQ_INIT, &b);
	return 0;
}

struct ike_sa *ike_sa_initiate(struct ike_daemon *d, const struct ike_conn_conf *c,
			       struct ike_link *link)
{
	struct ike_sa *sa = ike_sa_new(d, c, link, true);

	if (!sa)
		return NULL;
	ike_sa_set_spis(sa, ike_new_spi(), 0);
	sa->group = c->ike[0].dh;
	sa->ni_len = IKE_NONCE_LEN;
	if (!sa->spi_i || ike_random(sa->ni, sa->ni_len)) {
		ike_sa_free(sa);
		return NULL;
	}
	return sa;
}

/* the link is ready (TCP connected and attached, or UDP): send IKE_SA_INIT */
void ike_sa_start(struct ike_sa *sa)
{
	ike_log(sa, "initiating IKE_SA_INIT over %s",
		sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP");
	if (send_init(sa))
		ike_sa_die(sa, "cannot build IKE_SA_INIT", true);
}

static int derive_keys(struct ike_sa *sa, const uint8_t *peer_ke, size_t kelen)
{
	uint8_t gir[512], skeyseed[IKE_MAX_KEY];
	size_t glen;
	int err;

	err = ike_dh_shared(sa->dh, peer_ke, kelen, gir, &glen);
	if (err)
		return err;
	err = ike_skeyseed(sa->suite.prf, IKE_BYTES(sa->ni, sa->ni_len),
			   IKE_BYTES(sa->nr, sa->nr_len), IKE_BYTES(gir, glen), skeyseed);
	if (!err)
		err = ike_derive_ike_keys(&sa->suite, skeyseed, ike_prf_len(sa->suite.prf), sa->ni,
					  sa->ni_len, sa->nr, sa->nr_len, sa->spi_i, sa->spi_r,
					  &sa->keys);
	sa->have_keys = !err;
	ike_wipe(gir, sizeof(gir));
	ike_wipe(skeyseed, sizeof(skeyseed));
	return err;
}

void ike_init_response(struct ike_sa *sa, const struct ike_msg *m)
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
			ike_sa_die(sa, "INVALID_KE_PAYLOAD names a group we did not offer", true);
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
			ike_sa_die(sa, why, true);
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
		ike_sa_die(sa, "the responder chose a proposal we did not offer", true);
		return;
	}
	ike_sa_set_spis(sa, sa->spi_i, m->hdr.spi_r);
	memcpy(sa->nr, nr->data, nr->len);
	sa->nr_len = nr->len;
	if (derive_keys(sa, ke->data + 4, ke->len - 4)) {
		ike_sa_die(sa, "the responder's KE is unusable", true);
		return;
	}
	ike_buf_free(&sa->init_resp);
	ike_put(&sa->init_resp, m->raw, m->raw_len);
	ike_nat_check(sa, m, sa->link);
	sa->peer_sighashes = ike_get_sighashes(m);
	sa->frag = sa->conf->fragment_size && sa->link->type == TRANSPORT_UDP &&
		   ike_find_notify(m, N_IKEV2_FRAGMENTATION_SUPPORTED);
	sa->req.kind = REQ_NONE;
	if (sa->link->type == TRANSPORT_UDP && !sa->link->marker &&
	    (sa->nat_here || sa->nat_there || sa->conf->encap_force)) {
		/* float to 4500: NAT-T, ESP in UDP from now on (RFC 7296 2.23) */
		struct sockaddr_storage peer = sa->link->peer, local = sa->link->local;
		struct ike_link *l;

		ike_ss_set_port(&peer, 4500);
		ike_ss_set_port(&local, 4500);
		l = ike_udp_link(sa->d, &local, &peer, true);
		if (l) {
			ike_link_put(sa->d, sa->link);
			sa->link = l;
		}
		ike_log(sa, "%s; continuing on UDP 4500",
			sa->nat_here || sa->nat_there ? "NAT detected" : "UDP encapsulation forced");
	}
	if (ike_auth_start(sa))
		ike_sa_die(sa, "cannot build IKE_AUTH", true);
}

/* does every conn this peer may be accept suite s? */
static bool all_accept(struct ike_daemon *d, const struct ike_link *l, const struct ike_suite *s)
{
	for (size_t ci = 0; ci < d->conf->nconns; ci++) {
		const struct ike_conn_conf *c = &d->conf->conns[ci];
		bool has = false;

		if (!ike_conn_accepts(c, &l->local, &l->peer))
			continue;
		for (size_t j = 0; j < c->nike && !has; j++)
			has = !memcmp(&c->ike[j], s, sizeof(*s));
		if (!has)
			return false;
	}
	return true;
}

/*
 * Choose an IKE suite over every conn this peer may be.  Which conn it is
 * shows only in IKE_AUTH, and the suite must suit that conn then: a suite
 * every candidate conn accepts comes first, then the first conn's; within
 * each, one of the KE's group first (no INVALID_KE_PAYLOAD round).
 */
static const struct ike_conn_conf *choose_ike(struct ike_daemon *d, const struct ike_link *l,
					      const struct ike_proposal *props, unsigned int n,
					      uint16_t ke_group, struct ike_suite *out,
					      uint8_t *num)
{
	for (int pass = 0; pass < 4; pass++) {
		for (size_t ci = 0; ci < d->conf->nconns; ci++) {
			const struct ike_conn_conf *c = &d->conf->conns[ci];

			if (!ike_conn_accepts(c, &l->local, &l->peer))
				continue;
			for (unsigned int i = 0; i < n; i++) {
				if (props[i].proto != PROTO_IKE || props[i].spi_len)
					continue;
				for (size_t j = 0; j < c->nike; j++) {
					if (pass % 2 == 0 && c->ike[j].dh != ke_group)
						continue;
					if (pass < 2 && !all_accept(d, l, &c->ike[j]))
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

/*
 * Failed IKE_SA_INITs (no proposal, wrong group, bad KE) cost a reply or a
 * check each; they count toward COOKIE mode like half-open SAs do, halving
 * every 10 s.
 */
static unsigned int recent_failures(struct ike_daemon *d)
{
	while (d->now - d->init_fail_at >= 10000 && d->init_fails) {
		d->init_fails /= 2;
		d->init_fail_at += 10000;
	}
	if (!d->init_fails)
		d->init_fail_at = d->now;
	return d->init_fails;
}

/* a failure of an unauthenticated peer's: IKE_SA_INIT refused, or IKE_AUTH that failed */
void ike_init_failed(struct ike_daemon *d)
{
	recent_failures(d);
	d->init_fails++;
}

/* what one source address holds before it authenticates (refused ones linger too) */
static unsigned int half_open_from(struct ike_daemon *d, const struct ike_link *link,
				   bool *on_link)
{
	unsigned int n = 0;

	*on_link = false;
	for (struct ike_hnode *e = d->unauth; e; e = e->next) {
		const struct ike_sa *sa = ike_hnode_owner(e, struct ike_sa, unauth_node);

		if (sa->state != SA_HALF_OPEN && sa->state != SA_FAILED)
			continue;
		n += ike_ss_same_addr(&sa->init_peer, &link->peer);
		*on_link |= sa->link == link;
	}
	return n;
}

/*
 * The COOKIE secret changes every two minutes (RFC 7296 2.6); a cookie
 * made with the one before still counts, so no initiator is caught between.
 */
static void cookie_rotate(struct ike_daemon *d)
{
	uint8_t next[32];

	if (d->cookie_at && d->now - d->cookie_at < COOKIE_ROTATE_MS)
		return;
	if (ike_random(next, sizeof(next)))
		return;		/* keep the current one rather than a weak one */
	memcpy(d->cookie_prev, d->cookie_at ? d->cookie_secret : next, sizeof(next));
	memcpy(d->cookie_secret, next, sizeof(next));
	ike_wipe(next, sizeof(next));
	d->cookie_at = d->now;
}

/* the COOKIE the peer must return: a hash keyed by the current or the previous secret */
static bool cookie_ok(struct ike_daemon *d, const struct ike_link *link, const struct ike_msg *m,
		      const struct ike_pl *ni, uint8_t want[36])
{
	const struct ike_pl *cookie = ike_find_notify(m, N_COOKIE);
	const uint8_t *data = NULL;
	size_t len = 0;
	uint8_t h[32];

	cookie_rotate(d);
	memset(want, 0, 4);
	if (ike_cookie_hash(d->cookie_secret, ni->data, ni->len, &link->peer, m->hdr.spi_i, h))
		return false;
	memcpy(want + 4, h, 32);
	if (cookie)
		data = ike_notify_data(cookie, &len);
	if (!data || len != 36 || memcmp(data, want, 4))
		return false;
	if (ike_memeq(data + 4, h, 32))
		return true;
	return !ike_cookie_hash(d->cookie_prev, ni->data, ni->len, &link->peer, m->hdr.spi_i, h) &&
	       ike_memeq(data + 4, h, 32);
}

/*
 * The first conn this peer may be that speaks certificates: which one it
 * is shows only in IKE_AUTH, so its CERTREQ goes out on a guess.
 */
static const struct ike_conn_conf *pubkey_conn(struct ike_daemon *d, const struct ike_link *l)
{
	const struct ike_conn_conf *any = NULL;

	for (size_t i = 0; i < d->conf->nconns; i++) {
		const struct ike_conn_conf *c = &d->conf->conns[i];

		if (!ike_conn_pubkey(c) || !ike_conn_accepts(c, &l->local, &l->peer))
			continue;
		if (c->remote_auth == AUTHM_PUBKEY)
			return c;
		any = any ? any : c;
	}
	return any;
}

void ike_init_request(struct ike_daemon *d, struct ike_link *link, const struct ike_msg *m)
{
	const struct ike_conn_conf *pk;
	const struct ike_pl *sapl = ike_find(m, PL_SA), *ke = ike_find(m, PL_KE);
	const struct ike_pl *ni = ike_find(m, PL_NONCE);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	const struct ike_conn_conf *c;
	struct ike_suite suite;
	uint16_t ke_group;
	unsigned int n;
	uint8_t num, kebuf[512], want[36];
	struct ike_chain ch;
	struct ike_buf b;
	struct ike_sa *sa;
	bool on_link, need_cookie;
	unsigned int from;
	char abuf[64];

	/* a retransmission of a request we answered: answer again (UDP only) */
	sa = ike_sa_find_responder(d, m->hdr.spi_i, &link->peer);
	if (sa) {
		if (sa->state == SA_HALF_OPEN && link->type == TRANSPORT_UDP &&
		    sa->init_req.len == m->raw_len && !memcmp(sa->init_req.p, m->raw, m->raw_len))
			ike_link_send(d, link, sa->init_resp.p, sa->init_resp.len);
		d->st.rx_retransmits++;
		return;
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
	/*
	 * One source cannot hold every slot.  Over TCP, one connection has one
	 * half-open SA (RFC 9329 section 6) and the limit is firm; over UDP an
	 * address can be spoofed, so past the limit it must return a COOKIE
	 * (which a spoofer cannot), and past twice the limit it is refused.
	 */
	from = half_open_from(d, link, &on_link);
	need_cookie = d->half_open + recent_failures(d) >= d->conf->cookie_threshold;
	if ((link->type == TRANSPORT_TCP && (on_link || from >= d->conf->half_open_per_source)) ||
	    from >= 2 * d->conf->half_open_per_source) {
		d->st.per_source_dropped++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: %s: IKE_SA_INIT dropped (%s)\n",
				esptcp_addr_str(&link->peer, abuf, sizeof(abuf)),
				on_link ? "its connection has a half-open SA already" :
				"half-open-per-source reached");
		return;
	}
	if (from >= d->conf->half_open_per_source)
		need_cookie = true;
	if (need_cookie && !cookie_ok(d, link, m, ni, want)) {
		d->st.cookies_sent++;
		ike_respond_init_notify(d, link, m, N_COOKIE, want, sizeof(want));
		return;
	}
	ke_group = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
	c = choose_ike(d, link, props, n, ke_group, &suite, &num);
	if (!c) {
		ike_init_failed(d);
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: %s: IKE_SA_INIT: no acceptable proposal\n",
				esptcp_addr_str(&link->peer, abuf, sizeof(abuf)));
		ike_respond_init_notify(d, link, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (suite.dh != ke_group) {
		uint8_t g[2] = { suite.dh >> 8, suite.dh & 0xff };

		ike_init_failed(d);
		d->st.invalid_ke_sent++;
		ike_respond_init_notify(d, link, m, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	/* checked before a key of ours is spent on it; dropped without a reply */
	if (ike_dh_check(ke_group, ke->data + 4, ke->len - 4) ||
	    ni->len < ike_prf_len(suite.prf) / 2) {
		ike_init_failed(d);
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: %s: IKE_SA_INIT with an unusable %s dropped\n",
				esptcp_addr_str(&link->peer, abuf, sizeof(abuf)),
				ni->len < ike_prf_len(suite.prf) / 2 ? "nonce" : "KE");
		return;
	}
	sa = ike_sa_new(d, c, link, false);
	if (!sa)
		return;
	sa->state = SA_HALF_OPEN;
	d->half_open++;
	sa->half_counted = true;
	ike_sa_unauth_add(sa);
	ike_sa_set_spis(sa, m->hdr.spi_i, ike_new_spi());
	sa->suite = suite;
	sa->group = suite.dh;
	memcpy(sa->ni, ni->data, ni->len);
	sa->ni_len = ni->len;
	sa->nr_len = IKE_NONCE_LEN;
	sa->dh = ike_dh_new(suite.dh);
	if (!sa->spi_r || ike_random(sa->nr, sa->nr_len) || !sa->dh ||
	    ike_dh_public(sa->dh, kebuf, sizeof(kebuf)) ||
	    derive_keys(sa, ke->data + 4, ke->len - 4)) {
		/* an X25519 point of low order shows only here */
		ike_init_failed(d);
		d->st.rx_bad++;
		if (ike_log_bad(d))
			ike_log(sa, "IKE_SA_INIT failed (randomness, key generation or KE)");
		ike_sa_free(sa);
		return;
	}
	ike_nat_check(sa, m, sa->link);
	sa->peer_sighashes = ike_get_sighashes(m);
	sa->frag = c->fragment_size && link->type == TRANSPORT_UDP &&
		   ike_find_notify(m, N_IKEV2_FRAGMENTATION_SUPPORTED);
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
	ike_put_nat_notifies(sa, &ch);
	if (sa->frag)
		ike_pl_notify(&ch, 0, NULL, 0, N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	pk = pubkey_conn(d, link);
	if (pk)
		ike_put_certreq(&ch, pk, 8);
	if (sa->peer_sighashes && pk)
		ike_put_sighashes(&ch);
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
