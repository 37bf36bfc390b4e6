// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: IKE_AUTH (RFC 7296 1.2, 2.15) in both roles: identities,
 * AUTH with a pre-shared key or a certificate's key (CERT and CERTREQ,
 * signatures by ike_sig.c), and the first CHILD_SA.  Nothing reaches the
 * kernel for a peer before its AUTH payload checks out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/evp.h>

#include "ike_cert.h"
#include "ike_sa.h"

void ike_id_body(uint8_t type, const char *id, size_t len, struct ike_buf *b)
{
	ike_put8(b, type);
	ike_put8(b, 0);
	ike_put16(b, 0);
	ike_put(b, id, len);
}

/* our identity: configured (a load generator's instance: %u, its number), or our outer address */
static void local_id(const struct ike_sa *sa, struct ike_buf *b)
{
	const struct ike_conn_conf *c = sa->conf;
	bool text = c->local_id_type == ID_FQDN || c->local_id_type == ID_RFC822_ADDR ||
		    c->local_id_type == ID_KEY_ID;
	const char *pct = sa->instance && text ? memmem(c->local_id, c->local_id_len, "%u", 2) :
			  NULL;

	if (pct) {
		size_t head = (size_t)(pct - c->local_id);
		char id[sizeof(c->local_id) + 12];
		int n = snprintf(id, sizeof(id), "%.*s%u%.*s", (int)head, c->local_id,
				 sa->instance, (int)(c->local_id_len - head - 2), pct + 2);

		ike_id_body(c->local_id_type, id, n > 0 && (size_t)n < sizeof(id) ? (size_t)n : 0, b);
		return;
	}
	if (c->local_id_len) {
		ike_id_body(c->local_id_type, c->local_id, c->local_id_len, b);
		return;
	}
	ike_id_body(sa->link->local.ss_family == AF_INET ? ID_IPV4_ADDR : ID_IPV6_ADDR,
		    (const char *)ike_ss_addr(&sa->link->local),
		sa->link->local.ss_family == AF_INET ? 4 : 16, b);
}

/*
 * AUTH for a shared key (RFC 7296 2.15):
 * prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))
 */
static int psk_auth(struct ike_sa *sa, const struct ike_conn_conf *c, bool of_initiator,
		    const uint8_t *id, size_t idlen, uint8_t *out)
{
	return ike_auth_mac(sa, c->psk, c->psk_len, of_initiator, id, idlen, out);
}

/* our CERT payloads, when we sign: the end entity first, then its intermediates */
static void put_certs(struct ike_out *o, const struct ike_conn_conf *c)
{
	if (c->local_auth != AUTHM_PUBKEY)
		return;
	for (size_t i = 0; i < ike_creds_ncerts(c->creds); i++) {
		ike_pl_begin(&o->c, PL_CERT);
		ike_put8(&o->in, CERT_X509_SIGNATURE);
		if (ike_creds_cert(c->creds, i, &o->in))
			o->in.err = true;
	}
}

/* our AUTH payload for identity @id, by the conn's local auth */
static int put_auth(struct ike_sa *sa, const struct ike_conn_conf *c, bool of_initiator,
		    const uint8_t *id, size_t idlen, struct ike_out *o)
{
	const char *why = NULL;
	struct ike_buf oct;
	uint8_t mac[64];
	int err;

	if (c->local_auth == AUTHM_PSK || (sa->eap && sa->eap->have_msk)) {
		/* after EAP, the gateway's last AUTH is made with the MSK (2.16) */
		err = sa->eap && sa->eap->have_msk ?
		      ike_auth_mac(sa, sa->eap->msk, sizeof(sa->eap->msk), of_initiator, id, idlen,
				   mac) :
		      psk_auth(sa, c, of_initiator, id, idlen, mac);
		if (err)
			return err;
		ike_put_auth_mac(o, mac, sa->keys.prf_len);
		ike_wipe(mac, sizeof(mac));
		return 0;
	}
	ike_buf_init(&oct);
	err = ike_auth_octets(sa, of_initiator, id, idlen, &oct);
	if (!err) {
		ike_pl_begin(&o->c, PL_AUTH);
		err = ike_sig_sign(ike_creds_key(c->creds), sa->peer_sighashes,
				   IKE_BYTES(oct.p, oct.len), &o->in, &why);
	}
	if (err && why)
		ike_log(sa, "cannot sign AUTH: %s", why);
	ike_buf_free(&oct);
	return err;
}

/* the auth method of an AUTH payload, as a conn names it */
static uint8_t auth_kind(const struct ike_pl *auth)
{
	return auth->data[0] == AUTH_SHARED_KEY_MIC ? AUTHM_PSK : AUTHM_PUBKEY;
}

/* the identity an SA keeps for its peer: @id, or (see check_auth) its certificate's DN */
struct peer_id {
	struct ike_pl pl;
	uint8_t body[4 + 255];
};

/*
 * The peer's AUTH payload (and CERTs) against conn @c: its shared key, or
 * a chain to one of its anchors naming identity @id, with a signature.
 * @keep gets the identity to keep: @id, but for a DN the certificate's own
 * subject, so that two DNs X.509 deems equal are one identity everywhere
 * (leases, INITIAL_CONTACT) byte for byte.
 * Return: 0, or -EPERM with the reason in @why.
 */
static int check_auth(struct ike_sa *sa, const struct ike_conn_conf *c, const struct ike_msg *m,
		      const struct ike_pl *id, const struct ike_pl *auth, bool of_initiator,
		      struct peer_id *keep, char *why, size_t whylen)
{
	size_t sublen = 0;
	struct ike_bytes certs[8];
	const char *bad = NULL;
	struct ike_buf oct;
	EVP_PKEY *pub;
	uint8_t want[64];
	size_t n = 0;
	int err;

	keep->pl = *id;
	if (auth->len < 4 || auth_kind(auth) != c->remote_auth) {
		snprintf(why, whylen, "an auth method the conn does not take (%u)",
			 auth->len ? auth->data[0] : 0);
		return -EPERM;
	}
	if (c->remote_auth == AUTHM_PSK) {
		if (auth->len != 4 + sa->keys.prf_len ||
		    psk_auth(sa, c, of_initiator, id->data, id->len, want) ||
		    !ike_memeq(want, auth->data + 4, sa->keys.prf_len)) {
			snprintf(why, whylen, "wrong PSK");
			return -EPERM;
		}
		return 0;
	}
	for (unsigned int i = 0; i < m->npl && n < 8; i++)
		if (m->pl[i].type == PL_CERT && m->pl[i].len > 1 &&
		    m->pl[i].data[0] == CERT_X509_SIGNATURE)
			certs[n++] = IKE_BYTES(m->pl[i].data + 1, m->pl[i].len - 1);
	if (ike_creds_verify_peer(c->creds, certs, n, id->data[0], id->data + 4, id->len - 4,
				  &pub, keep->body + 4, &sublen, why, whylen))
		return -EPERM;
	ike_buf_init(&oct);
	err = ike_auth_octets(sa, of_initiator, id->data, id->len, &oct);
	if (!err)
		err = ike_sig_verify(pub, auth->data, auth->len, IKE_BYTES(oct.p, oct.len), &bad);
	if (err)
		snprintf(why, whylen, "%s", bad ? bad : "cannot compute AUTH");
	EVP_PKEY_free(pub);
	ike_buf_free(&oct);
	if (!err && id->data[0] == ID_DER_ASN1_DN) {
		memset(keep->body, 0, 4);
		keep->body[0] = ID_DER_ASN1_DN;
		keep->pl.data = keep->body;
		keep->pl.len = 4 + sublen;
	}
	return err ? -EPERM : 0;
}

int ike_auth_start(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_child *p = &sa->req.pending;
	struct ike_suite esp[IKE_MAX_SUITES];
	struct ike_buf idb;
	struct ike_out o;
	int err;

	memset(p, 0, sizeof(*p));
	p->reqid = ike_reqid_new(sa->d);
	if (!p->reqid) {
		ike_log(sa, "all 65535 reqids of the range are in use");
		return -ENOSPC;
	}
	err = ike_child_spi(sa, p->reqid, &p->spi_in);
	if (err) {
		ike_log(sa, "allocating an SPI failed: %s", strerror(-err));
		return err;
	}
	ike_buf_init(&idb);
	local_id(sa, &idb);
	if (idb.err) {
		ike_buf_free(&idb);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->nesp; i++) {
		esp[i] = c->esp[i];
		esp[i].dh = 0;		/* no KE in IKE_AUTH */
	}
	ike_out_begin(sa, &o, IKE_AUTH, false, 1);
	ike_pl_begin(&o.c, PL_IDI);
	ike_put(&o.in, idb.p, idb.len);
	put_certs(&o, c);
	ike_put_certreq(&o.c, c, 0);
	if (c->remote_id_len && !c->remote_id_glob) {
		ike_pl_begin(&o.c, PL_IDR);
		ike_id_body(c->remote_id_type, c->remote_id, c->remote_id_len, &o.in);
	}
	/* with EAP, no AUTH now: it follows EAP, made with the MSK */
	err = c->local_auth == AUTHM_EAP ? ike_eap_client_start(sa, idb.p, idb.len) :
	      put_auth(sa, c, true, idb.p, idb.len, &o);
	if (err) {
		ike_buf_free(&idb);
		ike_buf_free(&o.in);
		ike_buf_free(&o.b);
		return err;
	}
	/* not from a load generator's instance: its siblings may share its identity */
	if (!sa->instance)
		ike_pl_notify(&o.c, 0, NULL, 0, N_INITIAL_CONTACT, NULL, 0);
	if (c->mobike)
		ike_pl_notify(&o.c, 0, NULL, 0, N_MOBIKE_SUPPORTED, NULL, 0);
	/*
	 * We may move to TCP and back: whether we would keep a standby TCP
	 * connection (no data) or not (one zero byte), ike_standby.c
	 */
	if (c->transport == TRANSPORT_FALLBACK && sa->d->nl) {
		static const uint8_t no;

		ike_pl_notify(&o.c, 0, NULL, 0, N_ESPTCP_TCP_STANDBY, &no, c->standby ? 0 : 1);
	}
	if (!c->tunnel)
		ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ike_pl_notify(&o.c, 0, NULL, 0, N_ESP_TFC_PADDING_NOT_SUPPORTED, NULL, 0);
	if (c->vip)
		ike_vip_request(sa, &o.c);
	ike_pl_sa(&o.c, PROTO_ESP, esp, c->nesp, (const uint8_t *)&p->spi_in, 4, NULL);
	ike_pl_ts(&o.c, PL_TSI, c->local_ts.ts, c->local_ts.n);
	ike_pl_ts(&o.c, PL_TSR, c->remote_ts.ts, c->remote_ts.n);
	ike_buf_free(&idb);
	err = ike_out_seal(sa, &o);
	if (err) {
		ike_buf_free(&o.b);
		return err;
	}
	sa->state = SA_AUTH_SENT;
	ike_send_request(sa, REQ_AUTH, &o.b);
	return 0;
}

static void finish_initiator(struct ike_sa *sa, const struct ike_msg *m);

/* a round of EAP with the gateway, and the end of it */
static void eap_response(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_out o;
	char line[200];
	int rc;

	ike_out_begin(sa, &o, IKE_AUTH, false, sa->next_req);
	rc = ike_eap_client_input(sa, m, &o);
	if (rc == 0) {
		if (ike_out_request(sa, &o, REQ_AUTH))
			ike_sa_die(sa, "cannot build IKE_AUTH", true);
		return;
	}
	ike_buf_free(&o.in);
	ike_buf_free(&o.b);
	if (rc < 0) {
		snprintf(line, sizeof(line), "EAP failed: %s", sa->eap->why);
		sa->d->st.auth_failed++;
		ike_sa_die(sa, line, true);
		return;
	}
	ike_eap_free(sa);
	finish_initiator(sa, m);
}

void ike_auth_response(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *idr = ike_find(m, PL_IDR), *auth = ike_find(m, PL_AUTH);
	struct peer_id keep;
	uint16_t err_type;
	char why[256];

	sa->req.kind = REQ_NONE;
	if (ike_first_error(m, &err_type) && (err_type == N_AUTHENTICATION_FAILED || !auth)) {
		char why[80];

		if (err_type == N_AUTHENTICATION_FAILED)
			sa->d->st.auth_failed++;
		snprintf(why, sizeof(why), "IKE_AUTH refused with %s (%u)",
			 err_type == N_AUTHENTICATION_FAILED ? "AUTHENTICATION_FAILED" : "an error",
			 err_type);
		ike_sa_die(sa, why, true);
		return;
	}
	if (sa->eap && sa->eap->peer_idr_len) {
		eap_response(sa, m);
		return;
	}
	if (!idr || !auth || !ike_id_matches(sa->conf, idr, &sa->link->peer) ||
	    check_auth(sa, sa->conf, m, idr, auth, false, &keep, why, sizeof(why))) {
		char line[320];

		snprintf(line, sizeof(line), "the responder failed authentication: %s",
			 !idr || !auth ? "no identity or AUTH" :
			 !ike_id_matches(sa->conf, idr, &sa->link->peer) ?
			 "not the identity we expect" : why);
		sa->d->st.auth_failed++;
		ike_sa_die(sa, line, true);
		return;
	}
	ike_sa_set_peer_id(sa, &keep.pl);
	if (sa->eap) {
		/* the gateway proved itself; EAP now, in rounds of IKE_AUTH */
		memcpy(sa->eap->peer_idr, idr->data, idr->len);
		sa->eap->peer_idr_len = idr->len;
		eap_response(sa, m);
		return;
	}
	finish_initiator(sa, m);
}

/*
 * The peer's ESPTCP_TCP_STANDBY in IKE_AUTH: it is esptcp (it answers path
 * checks over UDP while on TCP), and it keeps or takes a standby TCP
 * connection when the notify has no data; we do when @ours.
 */
static void standby_notify(struct ike_sa *sa, const struct ike_msg *m, bool ours)
{
	const struct ike_pl *pl = ike_find_notify(m, N_ESPTCP_TCP_STANDBY);
	size_t len = 0;

	sa->mob.esptcp_peer = pl != NULL;
	if (pl)
		ike_notify_data(pl, &len);
	sa->mob.standby_offered = pl && !len && ours;
}

/* the last IKE_AUTH response: the IKE SA, its CHILD_SA, a virtual address */
static void finish_initiator(struct ike_sa *sa, const struct ike_msg *m)
{
	struct xfrm_child x = { 0 };
	struct ike_child *c;
	int err;

	sa->mobike = sa->conf->mobike && ike_find_notify(m, N_MOBIKE_SUPPORTED);
	standby_notify(sa, m, sa->conf->standby);
	if (sa->conf->vip && ike_vip_take(sa, m)) {
		ike_sa_die(sa, "no virtual address from the gateway", true);
		return;
	}
	ike_sa_established(sa);
	sa->req.pending.suite.dh = 0;
	err = ike_child_from_response(sa, m, &sa->req.pending, CHILD_KE_IGNORE);
	/* with a virtual address, our selector is that address and nothing else */
	if (!err && sa->cvip.got &&
	    !ike_ts_set_within(sa->req.pending.lts.ts, sa->req.pending.lts.n, &sa->cvip.ts))
		err = -EPROTO;
	if (err > 0) {
		/*
		 * The IKE SA stands; the responder said why there is no child.
		 * Trying again would draw the same answer: an operator has to
		 * change a configuration, and the log says which notify.
		 */
		ike_log(sa, "the responder refused the CHILD_SA (notify %d); "
			"the IKE SA stays up without one", err);
		ike_child_drop_pending(sa);
		return;
	}
	if (err) {
		ike_sa_die(sa, err == -EPROTO ? "the responder's CHILD_SA is not what we proposed" :
		       "no CHILD_SA in the IKE_AUTH response", true);
		return;
	}
	err = ike_esp_keylen(&sa->req.pending.suite, &x.enc_len, &x.integ_len);
	x.suite = sa->req.pending.suite;
	if (!err)
		err = ike_child_keys(sa, true, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len, &x);
	c = err ? NULL : ike_child_add(sa, &sa->req.pending);
	if (!c || ike_child_install(sa, c, &x, POL_EXCL)) {
		if (c)
			ike_child_unlink(sa, c);
		ike_wipe(&x, sizeof(x));
		ike_sa_die(sa, "installing the CHILD_SA failed", true);
		return;
	}
	ike_wipe(&x, sizeof(x));
	if (sa->cvip.got && sa->conf->install && ike_vip_install(sa, &c->rts))
		ike_sa_die(sa, "installing the virtual address failed", true);
}

static const struct ike_conn_conf *conn_by_id(struct ike_sa *sa, const struct ike_pl *idi,
					       uint8_t method)
{
	struct ike_daemon *d = sa->d;

	/* a conn naming the identity itself first, then patterns, then %any */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < d->conf->nconns; i++) {
			const struct ike_conn_conf *c = &d->conf->conns[i];
			bool suite_ok = false;

			if (pass != (c->remote_id_any ? 2 : c->remote_id_glob ? 1 : 0) ||
			    c->remote_auth != method)
				continue;
			/* the address is the one IKE_SA_INIT came from, whatever the SA did since */
			if (!ike_conn_accepts(c, &sa->link->local, &sa->init_peer) ||
			    !ike_id_matches(c, idi, &sa->init_peer))
				continue;
			for (size_t j = 0; j < c->nike; j++)
				suite_ok |= !memcmp(&c->ike[j], &sa->suite, sizeof(sa->suite));
			if (suite_ok)
				return c;
		}
	}
	return NULL;
}

/*
 * INITIAL_CONTACT: the peer restarted, so its older SAs are stale.  Only
 * its own: the same conn and authenticated identity (ike_sa_same_peer), so
 * clients sharing a conn never evict each other.
 */
static void drop_stale(struct ike_sa *sa)
{
	uint64_t h = ike_sa_peer_hash(sa);
	struct ike_hnode *e;

again:
	ike_htab_for_each(e, &sa->d->peers, h) {
		struct ike_sa *o = ike_hnode_owner(e, struct ike_sa, peer_node);

		if (o != sa && !o->conf->initiator && o->state == SA_ESTABLISHED &&
		    ike_sa_same_peer(o, sa)) {
			ike_sa_die(o, "replaced after the peer's INITIAL_CONTACT", false);
			goto again;	/* the bucket changed */
		}
	}
}

/*
 * A client's CFG_REQUEST for an address of its conn's pool family: the
 * lease of its authenticated identity (RFC 7296 3.15.4).  Return: 0 (an
 * address, or none asked for), or INTERNAL_ADDRESS_FAILURE when the pool
 * has none left.
 */
static uint16_t vip_assign(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_conn_conf *c = sa->conf;
	const struct ike_pl *cp = ike_find(m, PL_CP);
	struct ike_pool *pool;
	struct ike_cfg req;
	size_t alen;
	int err;

	if (!c->pool_set || !cp || ike_parse_cp(cp, &req) || req.type != CFG_REQUEST)
		return 0;
	if (c->pool_family == AF_INET ? !req.ask_ip4 : !req.ask_ip6)
		return 0;
	pool = &sa->d->pools[c - sa->d->conf->conns];
	err = ike_pool_acquire(pool, sa->peer_id[0], sa->peer_id + 4, sa->peer_id_len - 4,
			       ike_now(sa), sa->vip);
	if (err) {
		sa->d->st.vip_exhausted++;
		if (ike_log_bad(sa->d))
			ike_log(sa, "no virtual address for the client: the pool of conn %s %s",
				c->name, err == -ENOSPC ? "is exhausted" : "failed");
		return N_INTERNAL_ADDRESS_FAILURE;
	}
	alen = c->pool_family == AF_INET ? 4 : 16;
	sa->has_vip = true;
	sa->vip_ts.n = 1;
	sa->vip_ts.ts[0] = (struct ike_ts){ .family = c->pool_family, .eport = 65535 };
	memcpy(sa->vip_ts.ts[0].start, sa->vip, alen);
	memcpy(sa->vip_ts.ts[0].end, sa->vip, alen);
	sa->d->st.vip_leased++;
	ike_leases_changed(sa->d);
	return 0;
}

/* the CFG_REPLY to it: the address, the DNS servers, the split list */
static void vip_reply(struct ike_sa *sa, struct ike_out *o)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_cfg r = { .type = CFG_REPLY };
	char buf[INET6_ADDRSTRLEN];

	if (c->pool_family == AF_INET) {
		r.has_ip4 = true;
		memcpy(r.ip4, sa->vip, 4);
	} else {
		r.has_ip6 = true;
		memcpy(r.ip6, sa->vip, 16);
		r.ip6_prefix = 128;
	}
	r.ndns4 = c->ndns4;
	memcpy(r.dns4, c->dns4, sizeof(r.dns4));
	r.ndns6 = c->ndns6;
	memcpy(r.dns6, c->dns6, sizeof(r.dns6));
	r.subnets = c->local_ts;
	ike_pl_cp(&o->c, &r);
	ike_log(sa, "virtual address %s leased to the client",
		inet_ntop(c->pool_family, sa->vip, buf, sizeof(buf)) ? buf : "?");
}

/*
 * The responder's answer once the client is authenticated (by its AUTH, or
 * by EAP and the AUTH made with the MSK): the IKE SA, the CHILD_SA and
 * virtual address that @m (the first IKE_AUTH request) asked for.
 */
static void finish_responder(struct ike_sa *sa, const struct ike_conn_conf *c,
			     const struct ike_msg *m, uint32_t msgid, const struct ike_pl *keep)
{
	bool eap = sa->eap;
	struct ike_child *child = NULL;
	uint16_t child_err, want_group;
	struct ike_buf idb;
	struct ike_out o;
	uint8_t num = 0;

	sa->conf = c;
	ike_sa_set_peer_id(sa, keep);
	sa->mobike = c->mobike && ike_find_notify(m, N_MOBIKE_SUPPORTED);
	ike_sa_established(sa);
	if (ike_find_notify(m, N_INITIAL_CONTACT))
		drop_stale(sa);

	/* the CHILD_SA: a failure here leaves the IKE SA up, without a child */
	child_err = vip_assign(sa, m);
	if (!child_err)
		child_err = ike_child_respond(sa, m, CHILD_KE_IGNORE, 0, NULL, 0, sa->ni, sa->ni_len,
					      sa->nr, sa->nr_len, NULL, &child, &num, &want_group);
	if (child_err)
		ike_log(sa, "CHILD_SA refused (notify %u)", child_err);

	ike_buf_init(&idb);
	local_id(sa, &idb);
	ike_out_begin(sa, &o, IKE_AUTH, true, msgid);
	/* after EAP, the identity and certificates went with the first answer */
	if (!eap) {
		ike_pl_begin(&o.c, PL_IDR);
		ike_put(&o.in, idb.p, idb.len);
		put_certs(&o, c);
	}
	if (idb.err || put_auth(sa, c, false, idb.p, idb.len, &o)) {
		ike_buf_free(&idb);
		ike_buf_free(&o.in);
		ike_buf_free(&o.b);
		ike_sa_die(sa, "cannot compute AUTH", false);
		return;
	}
	ike_buf_free(&idb);
	if (sa->mobike)
		ike_pl_notify(&o.c, 0, NULL, 0, N_MOBIKE_SUPPORTED, NULL, 0);
	/* the client would keep a standby TCP connection, and we take them */
	/*
	 * The client keeps a standby TCP connection: we say whether we take
	 * it (no data) or not (one zero byte); either way it learns that we
	 * answer its path checks over UDP while on TCP.
	 */
	standby_notify(sa, m, c->standby && sa->d->nl);
	if (sa->mob.esptcp_peer) {
		static const uint8_t no = 0;

		ike_pl_notify(&o.c, 0, NULL, 0, N_ESPTCP_TCP_STANDBY, &no,
			      sa->mob.standby_offered ? 0 : 1);
	}
	if (sa->has_vip)
		vip_reply(sa, &o);
	if (child) {
		if (!c->tunnel)
			ike_pl_notify(&o.c, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
		ike_pl_sa(&o.c, PROTO_ESP, &child->suite, 1, (const uint8_t *)&child->spi_in, 4,
			  &num);
		ike_pl_ts(&o.c, PL_TSI, child->rts.ts, child->rts.n);
		ike_pl_ts(&o.c, PL_TSR, child->lts.ts, child->lts.n);
	} else {
		ike_pl_notify(&o.c, 0, NULL, 0, child_err, NULL, 0);
	}
	if (ike_out_respond(sa, &o)) {
		ike_sa_die(sa, "cannot build the IKE_AUTH response", false);
		return;
	}
	ike_eap_free(sa);
}

static void refuse(struct ike_sa *sa, uint32_t msgid, const char *why)
{
	char line[320];

	snprintf(line, sizeof(line), "AUTHENTICATION_FAILED: %s", why);
	sa->d->st.auth_failed++;
	ike_respond_notify(sa, IKE_AUTH, msgid, N_AUTHENTICATION_FAILED, NULL, 0);
	ike_init_failed(sa->d);
	ike_sa_fail(sa, line);
}

/* a client asks for EAP: our identity and AUTH, and an EAP-Identity request */
static void eap_begin(struct ike_sa *sa, const struct ike_conn_conf *c, const struct ike_msg *m,
		      const struct ike_pl *idi)
{
	struct ike_buf idb;
	struct ike_out o;

	sa->conf = c;
	ike_buf_init(&idb);
	local_id(sa, &idb);
	ike_out_begin(sa, &o, IKE_AUTH, true, m->hdr.msgid);
	ike_pl_begin(&o.c, PL_IDR);
	ike_put(&o.in, idb.p, idb.len);
	put_certs(&o, c);
	if (idb.err || put_auth(sa, c, false, idb.p, idb.len, &o) ||
	    ike_eap_server_start(sa, m, idi, &o)) {
		ike_buf_free(&idb);
		ike_buf_free(&o.in);
		ike_buf_free(&o.b);
		ike_sa_die(sa, "cannot start EAP", false);
		return;
	}
	ike_buf_free(&idb);
	if (ike_out_respond(sa, &o))
		ike_sa_die(sa, "cannot build the IKE_AUTH response", false);
}

/*
 * The answer to a client's EAP round: an EAP request (@rc 0), or a refusal
 * (@rc < 0: EAP-Failure and AUTHENTICATION_FAILED, one log line, the SA
 * fails and only answers retransmissions).  Return: true when answered.
 */
static bool eap_answer(struct ike_sa *sa, int rc, struct ike_out *o)
{
	char id[IKE_EAP_ID_MAX * 4], line[800];

	if (rc == 0) {
		if (ike_out_respond(sa, o))
			ike_sa_fail(sa, "cannot build the IKE_AUTH response");
		return true;
	}
	if (rc > 0)
		return false;
	ike_id_format(ID_KEY_ID, (const uint8_t *)sa->eap->user, strlen(sa->eap->user), id,
		      sizeof(id));
	ike_pl_notify(&o->c, 0, NULL, 0, N_AUTHENTICATION_FAILED, NULL, 0);
	ike_out_respond(sa, o);
	snprintf(line, sizeof(line), "AUTHENTICATION_FAILED: EAP user %s: %s",
		 *id ? id : "(none)", sa->eap->why);
	sa->d->st.auth_failed++;
	ike_init_failed(sa->d);
	ike_sa_fail(sa, line);
	return true;
}

/* the RADIUS server answered a client's EAP round (or did not: @r NULL) */
void ike_auth_radius(struct ike_sa *sa, const struct ike_radius_reply *r)
{
	struct ike_out o;

	if (sa->state != SA_HALF_OPEN)
		return;
	ike_out_begin(sa, &o, IKE_AUTH, true, sa->eap->rad.msgid);
	eap_answer(sa, ike_eap_radius_input(sa, r, &o), &o);
}

/* the next round of EAP with a client, and the end of it */
static void eap_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct peer_id keep = { .body = { ID_KEY_ID } };
	struct ike_msg first;
	struct ike_out o;
	int rc;

	/* its retransmission while the RADIUS server thinks: the answer comes */
	if (sa->eap->rad.pending && m->hdr.msgid == sa->eap->rad.msgid) {
		sa->d->st.rx_retransmits++;
		return;
	}
	ike_out_begin(sa, &o, IKE_AUTH, true, m->hdr.msgid);
	rc = ike_eap_server_input(sa, m, &o);
	if (eap_answer(sa, rc, &o))
		return;
	ike_buf_free(&o.in);
	ike_buf_free(&o.b);
	if (rc == 2)
		return;
	if (ike_eap_first(sa, &first)) {
		ike_msg_free(&first);
		ike_sa_die(sa, "the first IKE_AUTH request is gone", false);
		return;
	}
	/* the user is the identity from now on: leases, INITIAL_CONTACT, show */
	snprintf(sa->eap_user, sizeof(sa->eap_user), "%s", sa->eap->user);
	snprintf(sa->eap_group, sizeof(sa->eap_group), "%s", sa->conf->eap_group);
	memcpy(keep.body + 4, sa->eap->user, strlen(sa->eap->user));
	keep.pl = (struct ike_pl){ .type = PL_IDI, .data = keep.body,
				   .len = 4 + strlen(sa->eap->user) };
	finish_responder(sa, sa->conf, &first, m->hdr.msgid, &keep.pl);
	ike_msg_free(&first);
}

void ike_auth_request(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_pl *idi = ike_find(m, PL_IDI), *auth = ike_find(m, PL_AUTH);
	const struct ike_conn_conf *c;
	struct peer_id keep;
	char why[256];

	if (sa->eap) {
		eap_request(sa, m);
		return;
	}
	if (!idi || (auth && auth->len < 4)) {
		ike_respond_notify(sa, IKE_AUTH, m->hdr.msgid, N_INVALID_SYNTAX, NULL, 0);
		ike_sa_fail(sa, "IKE_AUTH without identity, or with a short AUTH");
		return;
	}
	/* no AUTH: the client logs in with EAP (RFC 7296 2.16) */
	c = conn_by_id(sa, idi, auth ? auth_kind(auth) : AUTHM_EAP);
	if (!c) {
		refuse(sa, m->hdr.msgid, "no conn for this identity and auth method");
		return;
	}
	if (!auth) {
		eap_begin(sa, c, m, idi);
		return;
	}
	if (check_auth(sa, c, m, idi, auth, true, &keep, why, sizeof(why))) {
		refuse(sa, m->hdr.msgid, why);
		return;
	}
	finish_responder(sa, c, m, m->hdr.msgid, &keep.pl);
}
