// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: CREATE_CHILD_SA (RFC 7296 1.3) in both roles: a new
 * CHILD_SA for an IKE SA that has none, rekeying a CHILD_SA (with PFS when
 * either side asks for it), rekeying the IKE SA (2.18), and what happens
 * when both sides rekey the same SA at once (2.8.1, 2.8.2): the exchange
 * holding the lowest of the four nonces made the redundant SA, which its
 * initiator deletes; the winner deletes the old one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike_sa.h"

#define REKEY_RETRY_MS	10000

/* nonces compare as byte strings; of two that agree as far as both go, the shorter is lower */
static int nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	return r ? r : (alen > blen) - (alen < blen);
}

/* the lower of an exchange's two nonces into out */
static void lowest(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out,
		   size_t *olen)
{
	bool first = nonce_cmp(a, alen, b, blen) <= 0;

	*olen = first ? alen : blen;
	memcpy(out, first ? a : b, *olen);
}

/* does our exchange (ni, nr) hold the lowest nonce, against the peer's lowest? */
static bool ours_lowest(const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
			const uint8_t *theirs, size_t tlen)
{
	uint8_t low[256];
	size_t llen;

	lowest(ni, nilen, nr, nrlen, low, &llen);
	return nonce_cmp(low, llen, theirs, tlen) < 0;
}

/* a nonce must be 128 bits at least and half the PRF's key (RFC 7296 2.10) */
static bool nonce_ok(const struct ike_sa *sa, const struct ike_pl *n)
{
	size_t min = ike_prf_len(sa->suite.prf) / 2;

	return n && n->len >= (min > 16 ? min : 16) && n->len <= 256;
}

/**
 * ike_rekey_time() - when to rekey an SA of this lifetime
 * @sa: the SA
 * @lifetime_s: the configured lifetime
 *
 * Up to a tenth earlier, at random, so that two peers with the same
 * lifetime seldom rekey at once.
 *
 * Return: the monotonic time in ms.
 */
uint64_t ike_rekey_time(const struct ike_sa *sa, unsigned int lifetime_s)
{
	uint64_t ms = (uint64_t)lifetime_s * 1000;
	uint32_t r = 0;

	if (ike_random(&r, sizeof(r)))
		r = 0;
	return ike_now(sa) + ms - (ms / 10 ? r % (ms / 10) : 0);
}

/* a rekeyed IKE SA's CHILD_SAs go to its successor */
static void take_children(struct ike_sa *to, struct ike_sa *from)
{
	struct ike_child **end = &to->children;

	/* a child the old SA was negotiating does not come along */
	ike_child_drop_pending(from);
	while (*end)
		end = &(*end)->next;
	*end = from->children;
	from->children = NULL;
	ike_children_moved(to);
	from->req.child = NULL;
	/* and its virtual address, whose lease they depend on */
	if (from->has_vip && !to->has_vip) {
		to->has_vip = true;
		memcpy(to->vip, from->vip, sizeof(to->vip));
		to->vip_ts = from->vip_ts;
		from->has_vip = false;
	}
	if (from->cvip.got && !to->cvip.got) {
		to->cvip = from->cvip;
		from->cvip.got = false;
	}
	/* and the path's state: the standby, the overlap's bindings, the RTT */
	ike_mob_inherit(to, from);
}

/**
 * ike_rekey_child_start() - rekey one of our CHILD_SAs
 * @sa: the SA
 * @old: the child
 * @group: the PFS group to use, or 0 for the conn's first ESP suite's
 */
void ike_rekey_child_start(struct ike_sa *sa, struct ike_child *old, uint16_t group)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *p = &sa->req.pending;
	struct ike_suite esp[IKE_MAX_SUITES];
	uint32_t old_spi = old->spi_in;
	struct ike_out o;
	size_t n = 0;
	int err;

	memset(p, 0, sizeof(*p));
	p->reqid = old->reqid;
	/* PFS when asked for, or when our first suite names a group */
	p->suite.dh = group ? group : c->esp[0].dh;
	err = ike_child_spi(sa, p->reqid, &p->spi_in);
	if (err) {
		old->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	ike_dh_free(sa->req.dh);
	sa->req.dh = p->suite.dh ? ike_dh_new(p->suite.dh) : NULL;
	sa->req.nonce_len = IKE_NONCE_LEN;
	if (ike_random(sa->req.nonce, sa->req.nonce_len) || (p->suite.dh && !sa->req.dh)) {
		ike_child_drop_pending(sa);
		old->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	ike_out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
	ike_pl_notify(&o.c, PROTO_ESP, (const uint8_t *)&old_spi, 4, N_REKEY_SA, NULL, 0);
	for (size_t i = 0; i < c->nesp; i++) {
		esp[n] = c->esp[i];
		/* a suite without a group offers the one asked for too */
		if (!esp[n].dh || esp[n].dh == p->suite.dh) {
			esp[n].dh = p->suite.dh;
			n++;
		}
	}
	ike_pl_sa(&o.c, PROTO_ESP, esp, n, (const uint8_t *)&p->spi_in, 4, NULL);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, sa->req.nonce, sa->req.nonce_len);
	if (sa->req.dh)
		ike_put_ke(&o.c, sa->req.dh, p->suite.dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, old->lts.ts, old->lts.n);
	ike_pl_ts(&o.c, PL_TSR, old->rts.ts, old->rts.n);
	if (!n || ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		ike_child_drop_pending(sa);
		old->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	ike_log(sa, "rekeying CHILD_SA 0x%08x", ntohl(old->spi_in));
	sa->req.child = old;
	ike_send_request(sa, REQ_REKEY_CHILD, &o.b);
}

void ike_rekey_ike_start(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_suite order[IKE_MAX_SUITES];
	uint8_t spi[8];
	size_t n = 0;
	struct ike_out o;

	sa->req.new_spi = ike_new_spi();
	if (!sa->req.new_spi) {
		sa->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(sa->req.new_spi >> (56 - 8 * i));
	for (size_t i = 0; i < c->nike; i++)
		if (c->ike[i].dh == sa->suite.dh)
			order[n++] = c->ike[i];
	ike_dh_free(sa->req.dh);
	sa->req.dh = ike_dh_new(sa->suite.dh);
	sa->req.nonce_len = IKE_NONCE_LEN;
	if (ike_random(sa->req.nonce, sa->req.nonce_len)) {
		sa->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	ike_out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
	ike_pl_sa(&o.c, PROTO_IKE, order, n, spi, 8, NULL);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, sa->req.nonce, sa->req.nonce_len);
	if (sa->req.dh)
		ike_put_ke(&o.c, sa->req.dh, sa->suite.dh);
	if (!sa->req.dh || ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		sa->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	ike_log(sa, "rekeying the IKE SA");
	ike_send_request(sa, REQ_REKEY_IKE, &o.b);
}

/*
 * The new IKE SA of a rekey: keys from SKEYSEED = prf(SK_d (old), g^ir (new)
 * | Ni | Nr) (RFC 7296 2.18); it takes the link and every CHILD_SA.
 */
static struct ike_sa *successor(struct ike_sa *old, bool we_started, uint64_t spi_i,
				uint64_t spi_r, const struct ike_suite *suite,
				struct ike_dh *dh, const uint8_t *peer_ke, size_t kelen,
				const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen)
{
	struct ike_sa *sa;
	uint8_t gir[512], skeyseed[IKE_MAX_KEY];
	size_t glen;
	int err;

	if (ike_dh_shared(dh, peer_ke, kelen, gir, &glen) || nilen > sizeof(sa->ni) ||
	    nrlen > sizeof(sa->nr))
		return NULL;
	sa = ike_sa_new(old->d, old->conf, old->link, we_started);
	if (!sa)
		return NULL;
	sa->instance = old->instance;
	/* before its SPIs file it: the address its IKE_SA_INIT came from */
	sa->init_peer = old->init_peer;
	err = ike_skeyseed_rekey(old->suite.prf, IKE_BYTES(old->keys.sk_d, old->keys.prf_len),
				 IKE_BYTES(gir, glen), IKE_BYTES(ni, nilen), IKE_BYTES(nr, nrlen),
				 skeyseed);
	ike_sa_set_spis(sa, spi_i, spi_r);
	sa->suite = *suite;
	memcpy(sa->ni, ni, nilen);
	sa->ni_len = nilen;
	memcpy(sa->nr, nr, nrlen);
	sa->nr_len = nrlen;
	if (!err)
		err = ike_derive_ike_keys(suite, skeyseed, old->keys.prf_len, ni, nilen, nr, nrlen,
					  spi_i, spi_r, &sa->keys);
	ike_wipe(gir, sizeof(gir));
	ike_wipe(skeyseed, sizeof(skeyseed));
	if (err) {
		ike_sa_free(sa);
		return NULL;
	}
	sa->have_keys = true;
	memcpy(sa->peer_id, old->peer_id, sizeof(sa->peer_id));
	sa->peer_id_len = old->peer_id_len;
	/* who logged in, for show and updown, and what IKE_SA_INIT agreed */
	memcpy(sa->eap_user, old->eap_user, sizeof(sa->eap_user));
	memcpy(sa->eap_group, old->eap_group, sizeof(sa->eap_group));
	sa->frag = old->frag;
	sa->peer_sighashes = old->peer_sighashes;
	sa->nat_here = old->nat_here;
	sa->nat_there = old->nat_there;
	sa->mobike = old->mobike;
	sa->mob.created_nat = old->mob.created_nat;
	sa->since = old->since;
	memcpy(sa->why, old->why, sizeof(sa->why));
	take_children(sa, old);
	sa->state = SA_ESTABLISHED;
	ike_sa_peer_index(sa);
	ike_link_authed(sa->link);
	sa->rekey_at = ike_rekey_time(sa, sa->conf->ike_rekey_s);
	old->state = SA_DELETING;
	old->expire_at = old->d->now + 30000;
	ike_sa_touch(old);
	old->d->st.ike_rekeyed++;
	ike_log(sa, "IKE SA rekeyed; new SPIs %016llx_i %016llx_r",
		(unsigned long long)spi_i, (unsigned long long)spi_r);
	return sa;
}

/* the peer rekeys the IKE SA */
static void ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m,
			      const struct ike_proposal *props, unsigned int n)
{
	const struct ike_pl *ni = ike_find(m, PL_NONCE), *ke = ike_find(m, PL_KE);
	const struct ike_conn_conf *c = sa->conf;
	struct ike_suite suite = { 0 };
	uint16_t ke_group, want = 0;
	uint8_t nr[IKE_NONCE_LEN], num = 0, spi[8];
	uint64_t peer_spi = 0, new_spi = 0;
	struct ike_sa *nsa;
	struct ike_dh *dh;
	struct ike_out o;

	if (!ke || ke->len < 4) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (sa->req.kind == REQ_REKEY_CHILD || sa->req.kind == REQ_DELETE_CHILD) {
		/* a CHILD_SA exchange of ours is under way (RFC 7296 2.25.2) */
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	ke_group = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
	for (unsigned int i = 0; i < n && !suite.encr; i++) {
		if (props[i].proto != PROTO_IKE || props[i].spi_len != 8)
			continue;
		for (size_t j = 0; j < c->nike && !suite.encr; j++) {
			if (!ike_proposal_has(&props[i], &c->ike[j]))
				continue;
			if (c->ike[j].dh != ke_group) {
				want = want ? want : c->ike[j].dh;
				continue;
			}
			suite = c->ike[j];
			num = props[i].num;
			for (int k = 0; k < 8; k++)
				peer_spi = peer_spi << 8 | props[i].spi[k];
		}
	}
	if (!suite.encr && want) {
		uint8_t g[2] = { want >> 8, want & 0xff };

		sa->d->st.invalid_ke_sent++;
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	if (suite.encr)
		new_spi = ike_new_spi();
	if (!suite.encr || !peer_spi || ke->len - 4 != ike_ke_len(ke_group) ||
	    ike_random(nr, sizeof(nr)) || !new_spi) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid,
				   suite.encr ? N_INVALID_SYNTAX : N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	dh = ike_dh_new(ke_group);
	nsa = dh ? successor(sa, false, peer_spi, new_spi, &suite, dh, ke->data + 4,
			     ke->len - 4, ni->data, ni->len, nr, sizeof(nr)) : NULL;
	if (!nsa) {
		ike_dh_free(dh);
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_PROPOSAL_CHOSEN,
				   NULL, 0);
		return;
	}
	if (sa->req.kind == REQ_REKEY_IKE) {
		/* both sides rekey: ours decides when its answer comes (2.8.2) */
		sa->req.coll_ike = nsa;
		nsa->coll_named = true;
		lowest(ni->data, ni->len, nr, sizeof(nr), sa->req.coll_low, &sa->req.coll_low_len);
		sa->d->st.rekey_collisions++;
		ike_log(sa, "the peer rekeys the IKE SA while we do too");
	}
	for (int k = 0; k < 8; k++)
		spi[k] = (uint8_t)(nsa->spi_r >> (56 - 8 * k));
	ike_out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
	ike_pl_sa(&o.c, PROTO_IKE, &suite, 1, spi, 8, &num);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, nr, sizeof(nr));
	ike_put_ke(&o.c, dh, ke_group);
	ike_dh_free(dh);
	ike_out_respond(sa, &o);
}

/**
 * ike_create_request() - the peer's CREATE_CHILD_SA request
 * @sa: the SA
 * @m: the request
 */
void ike_create_request(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *ni = ike_find(m, PL_NONCE);
	const struct ike_pl *ke = ike_find(m, PL_KE), *rk = ike_find_notify(m, N_REKEY_SA);
	const struct ike_conn_conf *c = sa->conf;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_child *old = NULL, *nc = NULL;
	uint16_t ke_group = 0, err, want;
	uint8_t nr[IKE_NONCE_LEN], gir[512], num = 0;
	struct ike_dh *dh = NULL;
	size_t glen = 0;
	unsigned int n;
	struct ike_out o;

	if (!sapl || !nonce_ok(sa, ni) || ike_parse_sa(sapl, props, &n) || !n ||
	    (ke && ke->len < 4)) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (props[0].proto == PROTO_IKE) {
		ike_rekey_request(sa, m, props, n);
		return;
	}
	if (sa->req.kind == REQ_REKEY_IKE) {
		/* we rekey the IKE SA: its CHILD_SAs move with it (RFC 7296 2.25.2) */
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE, NULL, 0);
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
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_CHILD_SA_NOT_FOUND,
					   NULL, 0);
			return;
		}
		if ((sa->req.kind == REQ_DELETE_CHILD && sa->req.child == old) ||
		    (old->rekey_at == UINT64_MAX && sa->req.child != old)) {
			/*
			 * We rekeyed it already and are closing it: the peer's rekey
			 * crossed ours (RFC 7296 2.25.1: TEMPORARY_FAILURE).
			 */
			sa->d->st.rekey_collisions++;
			ike_log(sa, "the peer rekeys CHILD_SA 0x%08x, which we rekeyed and close",
				ntohl(old->spi_in));
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE,
					   NULL, 0);
			return;
		}
	} else if (sa->children) {
		/* one CHILD_SA per IKE SA: the tunnel's (a new one when it has none) */
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_ADDITIONAL_SAS, NULL, 0);
		return;
	}
	if (ke) {
		ke_group = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
		if (ke->len - 4 != ike_ke_len(ke_group) && ike_ke_len(ke_group)) {
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX,
					   NULL, 0);
			return;
		}
	}
	if (ike_random(nr, sizeof(nr))) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	/* the proposal first: a KE of a group we would not take costs no key generation */
	{
		struct ike_suite s;
		uint32_t spi;

		if (ke && ike_choose_esp(c, props, n, CHILD_KE_GROUP, ke_group, &s, &num, &spi)) {
			dh = ike_dh_new(ke_group);
			if (!dh || ike_dh_shared(dh, ke->data + 4, ke->len - 4, gir, &glen)) {
				ike_dh_free(dh);
				ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid,
						   N_INVALID_SYNTAX, NULL, 0);
				return;
			}
		}
	}
	err = ike_child_respond(sa, m, ke ? CHILD_KE_GROUP : CHILD_KE_NONE, ke_group, gir, glen,
				ni->data, ni->len, nr, sizeof(nr), old, &nc, &num, &want);
	ike_wipe(gir, sizeof(gir));
	if (err) {
		uint8_t g[2] = { want >> 8, want & 0xff };

		ike_dh_free(dh);
		if (err == N_INVALID_KE_PAYLOAD)
			sa->d->st.invalid_ke_sent++;
		ike_log(sa, "%s refused (notify %u)", old ? "CHILD_SA rekey" : "new CHILD_SA", err);
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, err,
				   err == N_INVALID_KE_PAYLOAD ? g : NULL,
				   err == N_INVALID_KE_PAYLOAD ? 2 : 0);
		return;
	}
	if (old) {
		sa->d->st.child_rekeyed++;
		if (sa->req.kind == REQ_REKEY_CHILD && sa->req.child == old) {
			/* both sides rekey it: ours decides when its answer comes (2.8.1) */
			sa->req.coll_old = old;
			sa->req.coll_new = nc;
			lowest(ni->data, ni->len, nr, sizeof(nr), sa->req.coll_low,
			       &sa->req.coll_low_len);
			sa->d->st.rekey_collisions++;
			ike_log(sa, "the peer rekeys CHILD_SA 0x%08x while we do too",
				ntohl(old->spi_in));
		}
		old->rekey_at = UINT64_MAX;	/* its rekey's initiator deletes it */
	}
	ike_out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
	ike_pl_sa(&o.c, PROTO_ESP, &nc->suite, 1, (const uint8_t *)&nc->spi_in, 4, &num);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, nr, sizeof(nr));
	if (dh)
		ike_put_ke(&o.c, dh, ke_group);
	ike_dh_free(dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, nc->rts.ts, nc->rts.n);
	ike_pl_ts(&o.c, PL_TSR, nc->lts.ts, nc->lts.n);
	ike_out_respond(sa, &o);
}

/* the answer to our CHILD_SA rekey */
void ike_rekey_child_response(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *nr = ike_find(m, PL_NONCE), *ke = ike_find(m, PL_KE);
	struct ike_child *old = sa->req.child, *nc = NULL, *coll_new = sa->req.coll_new;
	bool collided = old && sa->req.coll_old == old;
	const struct ike_pl *ike = ike_find_notify(m, N_INVALID_KE_PAYLOAD);
	struct xfrm_child x = { 0 };
	uint8_t gir[512];
	size_t glen = 0;
	int err;

	sa->req.kind = REQ_NONE;
	sa->req.child = NULL;
	sa->req.coll_old = sa->req.coll_new = NULL;
	if (!old) {
		ike_child_drop_pending(sa);
		return;
	}
	if (ike) {
		size_t len;
		const uint8_t *g = ike_notify_data(ike, &len);
		uint16_t group = len == 2 ? (uint16_t)(g[0] << 8 | g[1]) : 0;

		ike_child_drop_pending(sa);
		if (group && ike_ke_len(group) && group != sa->req.pending.suite.dh &&
		    !sa->req.ke_retried) {
			ike_log(sa, "the peer wants DH group %u for the CHILD_SA rekey", group);
			sa->req.ke_retried = true;
			ike_rekey_child_start(sa, old, group);
			return;
		}
	}
	sa->req.ke_retried = false;
	err = ike_child_from_response(sa, m, &sa->req.pending,
				      sa->req.pending.suite.dh ? CHILD_KE_GROUP : CHILD_KE_NONE);
	/* the new pair takes over the old one's policies: same selectors only */
	if (!err && (!ike_ts_set_equal(&sa->req.pending.lts, &old->lts) ||
		     !ike_ts_set_equal(&sa->req.pending.rts, &old->rts)))
		err = -EPROTO;
	if (err || !nonce_ok(sa, nr) ||
	    (sa->req.dh && (!ke || ke->len < 4 ||
			    ike_dh_shared(sa->req.dh, ke->data + 4, ke->len - 4, gir, &glen)))) {
		ike_log(sa, "CHILD_SA rekey refused or malformed%s; trying again in 10 s",
			err == N_CHILD_SA_NOT_FOUND ? " (the peer rekeyed or deleted it)" : "");
		old->rekey_at = collided ? UINT64_MAX : ike_now(sa) + REKEY_RETRY_MS;
		ike_child_drop_pending(sa);
		return;
	}
	x.suite = sa->req.pending.suite;
	if (!ike_child_keys(sa, true, gir, glen, sa->req.nonce, sa->req.nonce_len, nr->data,
			    nr->len, &x)) {
		nc = ike_child_add(sa, &sa->req.pending);
		if (nc && ike_child_install(sa, nc, &x, POL_NONE)) {
			ike_child_unlink(sa, nc);
			nc = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	ike_wipe(gir, sizeof(gir));
	if (!nc) {
		ike_child_drop_pending(sa);
		old->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	sa->d->st.child_rekeyed++;
	if (collided && coll_new &&
	    ours_lowest(sa->req.nonce, sa->req.nonce_len, nr->data, nr->len, sa->req.coll_low,
			sa->req.coll_low_len)) {
		/* we lost: ours is the redundant one, the peer deletes the old one */
		ike_log(sa, "rekey collision: ours is redundant; deleting CHILD_SA 0x%08x",
			ntohl(nc->spi_in));
		nc->rekey_at = UINT64_MAX;
		sa->req.child = nc;
		ike_info_delete(sa, PROTO_ESP, &nc->spi_in, 1, REQ_DELETE_CHILD);
		sa->req.child = nc;
		return;
	}
	if (collided)
		ike_log(sa, "rekey collision: ours stays; the peer deletes its redundant CHILD_SA");
	/* the new pair carries traffic now; retire the old one */
	old->rekey_at = UINT64_MAX;
	sa->req.child = old;
	ike_info_delete(sa, PROTO_ESP, &old->spi_in, 1, REQ_DELETE_CHILD);
	sa->req.child = old;
}

/* the answer to our IKE SA rekey */
void ike_rekey_ike_response(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *nr = ike_find(m, PL_NONCE);
	const struct ike_pl *ke = ike_find(m, PL_KE);
	struct ike_sa *theirs = sa->req.coll_ike;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_suite suite = { 0 };
	uint64_t peer_spi = 0;
	struct ike_sa *nsa;
	unsigned int n;
	uint16_t err_type;

	sa->req.kind = REQ_NONE;
	sa->req.coll_ike = NULL;
	if (ike_first_error(m, &err_type) || !sapl || !nonce_ok(sa, nr) || !ke || ke->len < 4 ||
	    ike_parse_sa(sapl, props, &n) || n != 1 ||
	    props[0].proto != PROTO_IKE || props[0].spi_len != 8) {
		if (sa->state == SA_DELETING)
			return;		/* the peer's rekey won; this SA goes */
		ike_log(sa, "IKE SA rekey refused or malformed; trying again in 10 s");
		sa->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	for (size_t j = 0; j < sa->conf->nike; j++)
		if (sa->conf->ike[j].dh == sa->suite.dh &&
		    ike_proposal_has(&props[0], &sa->conf->ike[j]))
			suite = sa->conf->ike[j];
	for (int k = 0; k < 8; k++)
		peer_spi = peer_spi << 8 | props[0].spi[k];
	nsa = suite.encr && peer_spi ?
	      successor(sa, true, sa->req.new_spi, peer_spi, &suite, sa->req.dh, ke->data + 4,
			ke->len - 4, sa->req.nonce, sa->req.nonce_len, nr->data, nr->len) :
	      NULL;
	if (!nsa) {
		if (sa->state == SA_DELETING)
			return;
		ike_log(sa, "IKE SA rekey response unusable; trying again in 10 s");
		sa->rekey_at = ike_now(sa) + REKEY_RETRY_MS;
		return;
	}
	if (theirs) {
		if (ours_lowest(sa->req.nonce, sa->req.nonce_len, nr->data, nr->len,
				sa->req.coll_low, sa->req.coll_low_len)) {
			/* we lost: our new IKE SA is redundant; the peer deletes the old one */
			ike_log(nsa, "IKE rekey collision: this SA is redundant; deleting it");
			take_children(theirs, nsa);
			ike_sa_touch(theirs);
			nsa->state = SA_DELETING;
			nsa->expire_at = ike_now(nsa) + 30000;
			ike_sa_touch(nsa);
			ike_info_delete(nsa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
			return;
		}
		/* we won: ours takes the children; the peer deletes its redundant one */
		ike_log(nsa, "IKE rekey collision: this SA stays");
		take_children(nsa, theirs);
		theirs->state = SA_DELETING;
		theirs->expire_at = ike_now(theirs) + 30000;
		ike_sa_touch(theirs);
	}
	ike_info_delete(sa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
}
