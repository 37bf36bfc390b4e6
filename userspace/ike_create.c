// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: CREATE_CHILD_SA (RFC 7296 1.3): rekeying a CHILD_SA (with
 * PFS when the ESP proposal names a group) and the IKE SA (2.18), both roles.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike_sa.h"

void ike_rekey_child_start(struct ike_sa *sa, struct ike_child *old)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *p = &sa->req.pending;
	uint32_t old_spi = old->spi_in;
	struct ike_out o;
	int err;

	memset(p, 0, sizeof(*p));
	p->reqid = old->reqid;
	p->suite.dh = c->esp[0].dh;	/* PFS when our first suite names a group */
	err = xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family, ike_ss_addr(&sa->link->peer),
			     ike_ss_addr(&sa->link->local), p->reqid, &p->spi_in);
	if (err) {
		old->rekey_at = ike_now(sa) + 10000;
		return;
	}
	ike_dh_free(sa->req.dh);
	sa->req.dh = p->suite.dh ? ike_dh_new(p->suite.dh) : NULL;
	sa->req.nonce_len = IKE_NONCE_LEN;
	ike_random(sa->req.nonce, sa->req.nonce_len);
	ike_out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
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
	ike_put(&o.in, sa->req.nonce, sa->req.nonce_len);
	if (sa->req.dh)
		ike_put_ke(&o.c, sa->req.dh, p->suite.dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, &old->lts, 1);
	ike_pl_ts(&o.c, PL_TSR, &old->rts, 1);
	if ((p->suite.dh && !sa->req.dh) || ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		old->rekey_at = ike_now(sa) + 10000;
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
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(sa->req.new_spi >> (56 - 8 * i));
	for (size_t i = 0; i < c->nike; i++)
		if (c->ike[i].dh == sa->suite.dh)
			order[n++] = c->ike[i];
	ike_dh_free(sa->req.dh);
	sa->req.dh = ike_dh_new(sa->suite.dh);
	sa->req.nonce_len = IKE_NONCE_LEN;
	ike_random(sa->req.nonce, sa->req.nonce_len);
	ike_out_begin(sa, &o, CREATE_CHILD_SA, false, sa->next_req);
	ike_pl_sa(&o.c, PROTO_IKE, order, n, spi, 8, NULL);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, sa->req.nonce, sa->req.nonce_len);
	if (sa->req.dh)
		ike_put_ke(&o.c, sa->req.dh, sa->suite.dh);
	if (!sa->req.dh || ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		sa->rekey_at = ike_now(sa) + 10000;
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
				     const uint8_t *ni, size_t nilen, const uint8_t *nr,
				     size_t nrlen)
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
	err = ike_skeyseed_rekey(old->suite.prf, IKE_BYTES(old->keys.sk_d, old->keys.prf_len),
				 IKE_BYTES(gir, glen), IKE_BYTES(ni, nilen), IKE_BYTES(nr, nrlen),
				 skeyseed);
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
	ike_wipe(skeyseed, sizeof(skeyseed));
	if (err) {
		ike_sa_free(sa);
		return NULL;
	}
	sa->have_keys = true;
	sa->nat_here = old->nat_here;
	sa->nat_there = old->nat_there;
	sa->mobike = old->mobike;
	sa->mob.created_nat = old->mob.created_nat;
	sa->since = old->since;
	memcpy(sa->why, old->why, sizeof(sa->why));
	sa->children = old->children;
	old->children = NULL;
	old->req.child = NULL;
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

void ike_create_request(struct ike_sa *sa, const struct ike_msg *m)
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
	struct ike_out o;

	if (!sapl || !ni || ni->len < 16 || ni->len > 256 || ike_parse_sa(sapl, props, &n) ||
	    (ke && ke->len < 4)) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
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
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid,
					   ke ? N_NO_PROPOSAL_CHOSEN : N_INVALID_SYNTAX, NULL, 0);
			return;
		}
		dh = ike_dh_new(ke_group);
		nsa = dh ? successor(sa, false, peer_spi, ike_new_spi(), &suite, dh, ke->data + 4,
					 ke->len - 4, ni->data, ni->len, nr, sizeof(nr)) : NULL;
		if (!nsa) {
			ike_dh_free(dh);
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_PROPOSAL_CHOSEN,
					   NULL, 0);
			return;
		}
		for (int k = 0; k < 8; k++)
			spi[k] = (uint8_t)(nsa->spi_r >> (56 - 8 * k));
		ike_out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
		ike_pl_sa(&o.c, PROTO_IKE, &suite, 1, spi, 8, &num);
		ike_pl_begin(&o.c, PL_NONCE);
		ike_put(&o.in, nr, sizeof(nr));
		ike_put_ke(&o.c, dh, ke_group);
		ike_dh_free(dh);
		if (!ike_out_seal(sa, &o))
			ike_send_response(sa, &o.b);
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
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_CHILD_SA_NOT_FOUND,
					   NULL, 0);
			return;
		}
	} else {
		/* one CHILD_SA per IKE SA: the tunnel's */
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_ADDITIONAL_SAS, NULL, 0);
		return;
	}
	if (!tsi || !tsr || ike_parse_ts(tsi, ti, &nti, 8) || ike_parse_ts(tsr, tr, &ntr, 8)) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (!ike_choose_esp(c, props, n, ke != NULL, ke_group, &p.suite, &num, &p.spi_out)) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	if (!ike_ts_narrow(ti, nti, &old->rts, &p.rts) || !ike_ts_narrow(tr, ntr, &old->lts, &p.lts)) {
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TS_UNACCEPTABLE, NULL, 0);
		return;
	}
	if (ke) {
		dh = ike_dh_new(ke_group);
		if (!dh || ike_dh_shared(dh, ke->data + 4, ke->len - 4, gir, &glen)) {
			ike_dh_free(dh);
			ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
			return;
		}
	}
	p.reqid = old->reqid;
	x.suite = p.suite;
	nc = NULL;
	if (!xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family, ike_ss_addr(&sa->link->peer),
			    ike_ss_addr(&sa->link->local), p.reqid, &p.spi_in) &&
	    !ike_child_keys(sa, false, gir, glen, ni->data, ni->len, nr, sizeof(nr), &x)) {
		nc = ike_child_add(sa, &p);
		if (nc && ike_child_install(sa, nc, &x, false)) {
			ike_child_unlink(sa, nc);
			nc = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	ike_wipe(gir, sizeof(gir));
	if (!nc) {
		ike_dh_free(dh);
		ike_respond_notify(sa, CREATE_CHILD_SA, m->hdr.msgid, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	old->rekey_at = UINT64_MAX;	/* the peer deletes it next */
	sa->d->st.child_rekeyed++;
	ike_out_begin(sa, &o, CREATE_CHILD_SA, true, m->hdr.msgid);
	ike_pl_sa(&o.c, PROTO_ESP, &nc->suite, 1, (const uint8_t *)&nc->spi_in, 4, &num);
	ike_pl_begin(&o.c, PL_NONCE);
	ike_put(&o.in, nr, sizeof(nr));
	if (dh)
		ike_put_ke(&o.c, dh, ke_group);
	ike_dh_free(dh);
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_ts(&o.c, PL_TSI, &nc->rts, 1);
	ike_pl_ts(&o.c, PL_TSR, &nc->lts, 1);
	if (!ike_out_seal(sa, &o))
		ike_send_response(sa, &o.b);
	else
		ike_buf_free(&o.b);
}

void ike_rekey_child_response(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *nr = ike_find(m, PL_NONCE), *ke = ike_find(m, PL_KE);
	struct ike_child *old = sa->req.child, *nc = NULL;
	struct xfrm_child x = { 0 };
	uint8_t gir[256];
	size_t glen = 0;
	uint16_t err_type;

	sa->req.kind = REQ_NONE;
	sa->req.child = NULL;
	if (!old)
		return;
	if (ike_first_error(m, &err_type) || !nr || nr->len < 16 || nr->len > 256 ||
	    ike_child_from_response(sa, m, &sa->req.pending) ||
	    (sa->req.dh && (!ke || ke->len < 4 ||
			    ike_dh_shared(sa->req.dh, ke->data + 4, ke->len - 4, gir, &glen)))) {
		ike_log(sa, "CHILD_SA rekey refused or malformed; trying again in 10 s");
		old->rekey_at = ike_now(sa) + 10000;
		ike_child_drop_pending(sa);
		return;
	}
	x.suite = sa->req.pending.suite;
	if (!ike_child_keys(sa, true, gir, glen, sa->req.nonce, sa->req.nonce_len, nr->data, nr->len,
			    &x)) {
		nc = ike_child_add(sa, &sa->req.pending);
		if (nc && ike_child_install(sa, nc, &x, false)) {
			ike_child_unlink(sa, nc);
			nc = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	ike_wipe(gir, sizeof(gir));
	if (!nc) {
		old->rekey_at = ike_now(sa) + 10000;
		return;
	}
	sa->d->st.child_rekeyed++;
	/* the new pair carries traffic now; retire the old one */
	old->rekey_at = UINT64_MAX;
	sa->req.child = old;
	ike_info_delete(sa, PROTO_ESP, &old->spi_in, 1, REQ_DELETE_CHILD);
	sa->req.child = old;
}

void ike_rekey_ike_response(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *nr = ike_find(m, PL_NONCE);
	const struct ike_pl *ke = ike_find(m, PL_KE);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_suite suite = { 0 };
	uint64_t peer_spi = 0;
	struct ike_sa *nsa;
	unsigned int n;
	uint16_t err_type;

	sa->req.kind = REQ_NONE;
	if (ike_first_error(m, &err_type) || !sapl || !nr || !ke || ke->len < 4 || nr->len < 16 ||
	    nr->len > 256 || ike_parse_sa(sapl, props, &n) || n != 1 ||
	    props[0].proto != PROTO_IKE || props[0].spi_len != 8) {
		ike_log(sa, "IKE SA rekey refused or malformed; trying again in 10 s");
		sa->rekey_at = ike_now(sa) + 10000;
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
		ike_log(sa, "IKE SA rekey response unusable; trying again in 10 s");
		sa->rekey_at = ike_now(sa) + 10000;
		return;
	}
	ike_info_delete(sa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
}
