// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: negotiating a CHILD_SA, the part IKE_AUTH and CREATE_CHILD_SA
 * share (RFC 7296 2.9, 3.3): the ESP proposal, the traffic selectors and
 * who owns them, the SPI, the keys, and the installation in the kernel
 * (ike_child.c).  The exchanges build their messages around it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike_sa.h"

/**
 * ike_child_from_response() - the CHILD_SA a responder chose for our request
 * @sa: the SA
 * @m: the response (IKE_AUTH or CREATE_CHILD_SA)
 * @p: our pending child: its suite's group is what we offered; gets the rest
 * @ke: what the exchange made of Diffie-Hellman
 *
 * Return: 0, -EBADMSG when payloads are missing, -EPROTO when the choice is
 * not one we offered, or the notify type of a refusal as a positive number.
 */
int ike_child_from_response(struct ike_sa *sa, const struct ike_msg *m, struct ike_child *p,
			    enum ike_child_ke ke)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *tsi = ike_find(m, PL_TSI);
	const struct ike_pl *tsr = ike_find(m, PL_TSR);
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	/* one more than we keep: an answer with more is refused, not cut */
	struct ike_ts ti[IKE_MAX_TS + 1], tr[IKE_MAX_TS + 1];
	unsigned int n, nti, ntr;
	enum ike_child_pol pol;
	uint32_t peer_spi = 0;
	uint16_t err_type;
	uint8_t num;

	if (ike_first_error(m, &err_type))
		return err_type;
	if (!sapl || !tsi || !tsr || ike_parse_sa(sapl, props, &n) || n != 1 ||
	    ike_parse_ts(tsi, ti, &nti, IKE_MAX_TS + 1) ||
	    ike_parse_ts(tsr, tr, &ntr, IKE_MAX_TS + 1) || !nti || !ntr)
		return -EBADMSG;
	if (nti > IKE_MAX_TS || ntr > IKE_MAX_TS)
		return -EPROTO;
	if (!ike_choose_esp(sa->conf, props, 1, ke, p->suite.dh, &p->suite, &num, &peer_spi) ||
	    !peer_spi)
		return -EPROTO;
	/* every selector of the answer inside what we asked for */
	if (!ike_ts_set_within(ti, nti, &sa->conf->local_ts) ||
	    !ike_ts_set_within(tr, ntr, &sa->conf->remote_ts))
		return -EPROTO;
	if (!sa->conf->tunnel && !ike_find_notify(m, N_USE_TRANSPORT_MODE))
		return -EPROTO;
	p->lts.n = 0;
	p->rts.n = 0;
	/* a selector named twice would be a policy added twice */
	for (unsigned int i = 0; i < nti; i++) {
		if (ike_ts_set_has(&p->lts, &ti[i]))
			return -EPROTO;
		p->lts.ts[p->lts.n++] = ti[i];
	}
	for (unsigned int i = 0; i < ntr; i++) {
		if (ike_ts_set_has(&p->rts, &tr[i]))
			return -EPROTO;
		p->rts.ts[p->rts.n++] = tr[i];
	}
	if (ke == CHILD_KE_IGNORE && ike_child_ts_check(sa, &p->lts, &p->rts, &pol))
		return -EPROTO;
	p->spi_out = peer_spi;
	return 0;
}

/**
 * ike_child_respond() - answer a peer's request for a CHILD_SA
 * @sa: the SA
 * @m: the request (IKE_AUTH, or CREATE_CHILD_SA with or without REKEY_SA)
 * @ke: what the exchange makes of Diffie-Hellman
 * @ke_group: the group of the request's KE (CHILD_KE_GROUP)
 * @gir: the shared secret of that KE, or NULL
 * @glen: its length
 * @ni: the peer's nonce
 * @nilen: its length
 * @nr: ours
 * @nrlen: its length
 * @old: the child being rekeyed, or NULL for a new one
 * @out: the child installed
 * @num: the number of the proposal taken
 * @want_group: for INVALID_KE_PAYLOAD, the group we would take
 *
 * A new child's selectors are narrowed to the conn's and must not overlap
 * another peer's; a rekeyed one keeps within its predecessor's and shares
 * its reqid and policies.
 *
 * Return: 0, or the notify type to refuse the child with.
 */
uint16_t ike_child_respond(struct ike_sa *sa, const struct ike_msg *m, enum ike_child_ke ke,
			   uint16_t ke_group, const uint8_t *gir, size_t glen, const uint8_t *ni,
			   size_t nilen, const uint8_t *nr, size_t nrlen,
			   const struct ike_child *old, struct ike_child **out, uint8_t *num,
			   uint16_t *want_group)
{
	const struct ike_pl *sapl = ike_find(m, PL_SA), *tsi = ike_find(m, PL_TSI);
	const struct ike_pl *tsr = ike_find(m, PL_TSR);
	const struct ike_conn_conf *c = sa->conf;
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	enum ike_child_pol pol = POL_NONE;
	struct ike_ts ti[IKE_MAX_TS], tr[IKE_MAX_TS];
	struct xfrm_child x = { 0 };
	struct ike_child p = { 0 };
	unsigned int n, nti, ntr;
	uint16_t err;
	int rc;

	*out = NULL;
	*want_group = 0;
	if (!sapl || !tsi || !tsr || ike_parse_sa(sapl, props, &n) ||
	    ike_parse_ts(tsi, ti, &nti, IKE_MAX_TS) || ike_parse_ts(tsr, tr, &ntr, IKE_MAX_TS))
		return N_INVALID_SYNTAX;
	if (!ike_choose_esp(c, props, n, ke, ke_group, &p.suite, num, &p.spi_out)) {
		/* the proposal would do with another group: say which (RFC 7296 1.3) */
		if (ke == CHILD_KE_GROUP) {
			*want_group = ike_child_ke_wanted(c, props, n);
			if (*want_group && *want_group != ke_group)
				return N_INVALID_KE_PAYLOAD;
		}
		return N_NO_PROPOSAL_CHOSEN;
	}
	/* a client with a virtual address gets that address as its selector */
	if (!ike_ts_set_narrow(ti, nti, old ? &old->rts : sa->has_vip ? &sa->vip_ts : &c->remote_ts,
			       &p.rts) ||
	    !ike_ts_set_narrow(tr, ntr, old ? &old->lts : sa->cvip.got ? &sa->cvip.ts : &c->local_ts,
			       &p.lts))
		return N_TS_UNACCEPTABLE;
	/* a rekey keeps its predecessor's selectors: it takes over its policies */
	if (old && (!ike_ts_set_equal(&p.rts, &old->rts) ||
		    !ike_ts_set_equal(&p.lts, &old->lts)))
		return N_TS_UNACCEPTABLE;
	if (!c->tunnel != !!ike_find_notify(m, N_USE_TRANSPORT_MODE))
		return N_NO_PROPOSAL_CHOSEN;
	if (!old) {
		err = ike_child_ts_check(sa, &p.lts, &p.rts, &pol);
		if (err)
			return err;
	}
	p.reqid = old ? old->reqid : ike_reqid_new(sa->d);
	if (!p.reqid)
		return N_TEMPORARY_FAILURE;
	x.suite = p.suite;
	rc = ike_child_spi(sa, p.reqid, &p.spi_in);
	if (!rc)
		rc = ike_child_keys(sa, false, gir, glen, ni, nilen, nr, nrlen, &x);
	if (!rc) {
		*out = ike_child_add(sa, &p);
		if (*out && ike_child_install(sa, *out, &x, pol)) {
			ike_child_unlink(sa, *out);
			*out = NULL;
		}
	}
	ike_wipe(&x, sizeof(x));
	if (!*out) {
		if (p.spi_in)
			xfrm_del_state(sa->d->xfrm, sa->link->local.ss_family,
				       ike_ss_addr(&sa->link->local), p.spi_in);
		if (!old)
			ike_reqid_free(sa->d, p.reqid);
		return N_TEMPORARY_FAILURE;
	}
	return 0;
}
