// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: EAP in IKE_AUTH (RFC 7296 2.16), both roles, with the
 * EAP-Identity and EAP-MSCHAPv2 methods.
 *
 * The gateway (responder) answers a first IKE_AUTH without AUTH with its
 * own AUTH (certificate) and an EAP-Identity request, then an MS-CHAPv2
 * challenge, checks the response against its users (and the conn's group),
 * sends MS-CHAPv2 Success with its authenticator response and EAP-Success;
 * the client's AUTH, and the gateway's last one, are MACs with the MSK.
 * Every round is its own IKE_AUTH request; the SA stays half-open (bounded
 * by the half-open table and its timeout) until the last one.  The client
 * side answers the same requests, and checks the gateway's authenticator
 * response before it uses the MSK.
 *
 * ike_auth.c drives this: it calls in, and finishes the SA when told the
 * MSK AUTH checked out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "ike_cert.h"
#include "ike_eap.h"
#include "ike_sa.h"

#define MSCHAPV2_NAME	"esptcp"

/**
 * ike_auth_mac() - an AUTH value made with a shared key (RFC 7296 2.15)
 * @sa: the SA
 * @key: the PSK, or an EAP method's MSK
 * @keylen: its length
 * @of_initiator: whose AUTH: the initiator's or the responder's
 * @id: that side's ID payload body
 * @idlen: its length
 * @out: ike_prf_len() bytes
 *
 * Context: daemon thread.
 * Return: 0 or a negative errno.
 */
int ike_auth_mac(struct ike_sa *sa, const uint8_t *key, size_t keylen, bool of_initiator,
		 const uint8_t *id, size_t idlen, uint8_t *out)
{
	struct ike_buf b;
	int err;

	ike_buf_init(&b);
	err = ike_auth_octets(sa, of_initiator, id, idlen, &b);
	if (!err)
		err = ike_shared_key_mac(sa->suite.prf, IKE_BYTES(key, keylen),
					 IKE_BYTES(b.p, b.len), out);
	if (b.p)
		ike_wipe(b.p, b.len);
	ike_buf_free(&b);
	return err;
}

/**
 * ike_auth_octets() - what one side's AUTH covers: RealMessage | Nonce |
 *		       prf(SK_p, ID') (RFC 7296 2.15), for a MAC or a signature
 * @sa: the SA
 * @of_initiator: the initiator's octets, or the responder's
 * @id: that side's ID payload body
 * @idlen: its length
 * @b: gets the octets
 *
 * Context: daemon thread.
 * Return: 0 or a negative errno.
 */
int ike_auth_octets(struct ike_sa *sa, bool of_initiator, const uint8_t *id, size_t idlen,
		    struct ike_buf *b)
{
	const struct ike_buf *real = of_initiator ? &sa->init_req : &sa->init_resp;

	return ike_signed_octets(sa->suite.prf,
				 IKE_BYTES(of_initiator ? sa->keys.sk_pi : sa->keys.sk_pr,
					   sa->keys.prf_len),
				 IKE_BYTES(real->p, real->len),
				 of_initiator ? IKE_BYTES(sa->nr, sa->nr_len) :
				 IKE_BYTES(sa->ni, sa->ni_len),
				 IKE_BYTES(id, idlen), b);
}

/* an AUTH payload of the shared-key method (a PSK's or an MSK's MAC) */
void ike_put_auth_mac(struct ike_out *o, const uint8_t *mac, size_t len)
{
	ike_pl_begin(&o->c, PL_AUTH);
	ike_put8(&o->in, AUTH_SHARED_KEY_MIC);
	ike_put8(&o->in, 0);
	ike_put16(&o->in, 0);
	ike_put(&o->in, mac, len);
}

void ike_eap_free(struct ike_sa *sa)
{
	if (!sa->eap)
		return;
	if (sa->eap->first.p)
		ike_wipe(sa->eap->first.p, sa->eap->first.len);
	ike_buf_free(&sa->eap->first);
	ike_buf_free(&sa->eap->rad.pkt);
	ike_wipe(sa->eap, sizeof(*sa->eap));
	free(sa->eap);
	sa->eap = NULL;
}

static int fail(struct ike_sa *sa, const char *why)
{
	snprintf(sa->eap->why, sizeof(sa->eap->why), "%s", why);
	return -EPERM;
}

/* an EAP payload: code, identifier, length, and for requests and responses a type */
static void put_eap(struct ike_out *o, uint8_t code, uint8_t ident, uint8_t type,
		    const uint8_t *data, size_t len)
{
	bool typed = code == EAP_REQUEST || code == EAP_RESPONSE;

	ike_pl_begin(&o->c, PL_EAP);
	ike_put8(&o->in, code);
	ike_put8(&o->in, ident);
	ike_put16(&o->in, (uint16_t)(4 + typed + len));
	if (typed)
		ike_put8(&o->in, type);
	if (len)
		ike_put(&o->in, data, len);
}

/* an MS-CHAPv2 packet in an EAP one: opcode, MS-CHAPv2-ID, MS-Length, data */
static void put_mschap(struct ike_out *o, uint8_t code, uint8_t ident, uint8_t op, uint8_t ms_id,
		       const uint8_t *data, size_t len)
{
	uint8_t b[4 + 256];

	b[0] = op;
	b[1] = ms_id;
	b[2] = (uint8_t)((4 + len) >> 8);
	b[3] = (uint8_t)(4 + len);
	if (len)
		memcpy(b + 4, data, len);
	/* a peer's Success acknowledgement is the opcode alone */
	put_eap(o, code, ident, EAP_TYPE_MSCHAPV2, b,
		code == EAP_RESPONSE && (op == MSCHAPV2_SUCCESS || op == MSCHAPV2_FAILURE) ? 1 :
		4 + len);
}

/* the EAP message of @m: its code, identifier and type checked against its length */
static const uint8_t *get_eap(const struct ike_msg *m, size_t *len)
{
	const struct ike_pl *pl = ike_find(m, PL_EAP);

	if (!pl || pl->len < 4 || (size_t)(pl->data[2] << 8 | pl->data[3]) != pl->len)
		return NULL;
	if ((pl->data[0] == EAP_REQUEST || pl->data[0] == EAP_RESPONSE) && pl->len < 5)
		return NULL;
	*len = pl->len;
	return pl->data;
}

static bool printable(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return false;
	return len > 0;
}

/**
 * ike_eap_server_start() - a client asked for EAP: keep its first IKE_AUTH,
 *			    put an EAP-Identity request into the answer
 * @sa: the SA, with sa->conf the client's conn
 * @m: the first IKE_AUTH request (decrypted)
 * @idi: its IDi payload
 * @o: the response being built (after IDr, CERT and AUTH)
 *
 * Context: daemon thread.
 * Return: 0 or -ENOMEM.
 */
int ike_eap_server_start(struct ike_sa *sa, const struct ike_msg *m, const struct ike_pl *idi,
			 struct ike_out *o)
{
	struct ike_eap *e = calloc(1, sizeof(*e));

	if (!e || idi->len > sizeof(e->first_id)) {
		free(e);
		return -ENOMEM;
	}
	sa->eap = e;
	e->first_hdr = m->hdr;
	e->first_next = m->sk_first;
	ike_put(&e->first, m->plain, m->plain_len);
	memcpy(e->first_id, idi->data, idi->len);
	e->first_id_len = idi->len;
	if (e->first.err || ike_random(&e->ident, 1) || ike_random(&e->ms_id, 1))
		return -ENOMEM;
	put_eap(o, EAP_REQUEST, e->ident, EAP_TYPE_IDENTITY, NULL, 0);
	e->step = ESTEP_IDENTITY;
	return 0;
}

/**
 * ike_eap_first() - the client's first IKE_AUTH request again, parsed
 * @sa: the SA
 * @m: filled in; free with ike_msg_free()
 *
 * Context: daemon thread.
 * Return: 0 or a negative errno.
 */
int ike_eap_first(struct ike_sa *sa, struct ike_msg *m)
{
	uint8_t *plain = malloc(sa->eap->first.len + 1);

	memset(m, 0, sizeof(*m));
	if (!plain)
		return -ENOMEM;
	memcpy(plain, sa->eap->first.p, sa->eap->first.len);
	m->hdr = sa->eap->first_hdr;
	m->sk_first = sa->eap->first_next;
	return ike_parse_inner(m, plain, sa->eap->first.len);
}

/* the client's MS-CHAPv2 Response: its user, password and the conn's group */
static int server_response(struct ike_sa *sa, const uint8_t *d, size_t len, struct ike_out *o)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_eap *e = sa->eap;
	uint8_t nt_hash[16], want[24], msg[64];
	bool known;
	int n;

	/* type, opcode, MS-CHAPv2-ID, MS-Length, value size 49, response, name */
	if (len < 5 + 4 + 1 + 49 || d[5] != MSCHAPV2_RESPONSE || d[6] != e->ms_id ||
	    d[9] != 49)
		return fail(sa, "a malformed MS-CHAPv2 response");
	memcpy(e->peer_chal, d + 10, 16);
	memcpy(e->nt_resp, d + 34, 24);
	known = ike_users_get(c->users, e->user, nt_hash);
	if (!known) {
		/* the same work as for a user we know: no timing tells them apart */
		memset(nt_hash, 0, sizeof(nt_hash));
	}
	if (ike_mschap_nt_response(nt_hash, e->auth_chal, e->peer_chal, e->user, want)) {
		ike_wipe(nt_hash, sizeof(nt_hash));
		return fail(sa, "MS-CHAPv2 needs OpenSSL's legacy provider (MD4, DES)");
	}
	if (!known || CRYPTO_memcmp(want, e->nt_resp, 24)) {
		ike_wipe(nt_hash, sizeof(nt_hash));
		ike_wipe(want, sizeof(want));
		return fail(sa, known ? "wrong password" : "unknown user");
	}
	ike_wipe(want, sizeof(want));
	if (*c->eap_group && !ike_users_in_group(c->users, e->user, c->eap_group)) {
		ike_wipe(nt_hash, sizeof(nt_hash));
		return fail(sa, "not in the conn's group");
	}
	if (ike_mschap_auth_response(nt_hash, e->nt_resp, e->peer_chal, e->auth_chal, e->user,
				     e->s_resp) ||
	    ike_mschap_msk(nt_hash, e->nt_resp, e->msk)) {
		ike_wipe(nt_hash, sizeof(nt_hash));
		return fail(sa, "cannot compute the MS-CHAPv2 keys");
	}
	ike_wipe(nt_hash, sizeof(nt_hash));
	e->have_msk = true;
	n = snprintf((char *)msg, sizeof(msg), "%s M=welcome", e->s_resp);
	e->ident++;
	put_mschap(o, EAP_REQUEST, e->ident, MSCHAPV2_SUCCESS, e->ms_id, msg, (size_t)n);
	e->step = ESTEP_SUCCESS;
	return 0;
}

/*
 * RADIUS: the client's EAP response goes to the server as it is (the
 * identity kept from the first), and the IKE_AUTH request waits for the
 * reply (ike_eap_radius_input()).
 */
static int relay(struct ike_sa *sa, uint32_t msgid, const uint8_t *d, size_t len)
{
	struct ike_eap *e = sa->eap;

	if (e->step == ESTEP_IDENTITY) {
		if (d[4] != EAP_TYPE_IDENTITY || len - 5 >= sizeof(e->user) ||
		    !printable(d + 5, len - 5))
			return fail(sa, "no usable EAP identity");
		memcpy(e->user, d + 5, len - 5);
		e->user[len - 5] = 0;
	} else if (e->step != ESTEP_RADIUS) {
		return fail(sa, "an EAP message out of turn");
	}
	if (len > sizeof(e->rad.eap))
		return fail(sa, "an EAP message too long to relay");
	memcpy(e->rad.eap, d, len);
	e->rad.eap_len = len;
	e->rad.msgid = msgid;
	e->step = ESTEP_RADIUS;
	if (ike_aaa_send(sa))
		return fail(sa, "cannot send to the RADIUS server");
	return 2;
}

/**
 * ike_eap_radius_input() - the RADIUS server's reply, for the client
 * @sa: the SA (sa->eap set, the reply's request no longer pending)
 * @r: the reply, checked (NULL: the server did not answer)
 * @o: a response begun (to the IKE_AUTH request that waited): gets the
 *     server's EAP message, and for a refusal EAP-Failure
 *
 * An Access-Challenge carries the next EAP request; an Access-Accept the
 * EAP-Success and the MS-MPPE keys, which make the MSK (and, with a group,
 * Class or Filter-Id must name it); anything else refuses the client.
 *
 * Context: daemon thread.
 * Return: 0 (answer @o), -EPERM (answer @o; the reason in sa->eap->why).
 */
int ike_eap_radius_input(struct ike_sa *sa, const struct ike_radius_reply *r, struct ike_out *o)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_eap *e = sa->eap;
	const uint8_t *d = r ? r->eap : NULL;
	size_t len = r ? r->eap_len : 0;
	int err = 0;

	if (!r) {
		err = fail(sa, "the RADIUS server did not answer");
	} else if (r->code == RADIUS_ACCESS_CHALLENGE) {
		if (len < 5 || d[0] != EAP_REQUEST || (size_t)(d[2] << 8 | d[3]) != len) {
			err = fail(sa, "an Access-Challenge without an EAP request");
		} else {
			memcpy(e->rad.state, r->state, r->state_len);
			e->rad.state_len = r->state_len;
			e->ident = d[1];
			e->rad.method = d[4];
			ike_pl_begin(&o->c, PL_EAP);
			ike_put(&o->in, d, len);
			return 0;
		}
	} else if (r->code == RADIUS_ACCESS_ACCEPT) {
		bool in_group = !*c->eap_group || !strcmp(r->filter_id, c->eap_group);

		for (unsigned int i = 0; i < r->nclasses; i++)
			in_group |= !strcmp(r->classes[i], c->eap_group);
		if (!r->recv_len || !r->send_len || r->recv_len + r->send_len > sizeof(e->msk))
			err = fail(sa, "an Access-Accept without MS-MPPE keys (no MSK)");
		else if (!in_group)
			err = fail(sa, "not in the conn's group (Class, Filter-Id)");
		else if (*r->user && (strlen(r->user) >= sizeof(e->user) ||
				      !printable((const uint8_t *)r->user, strlen(r->user))))
			err = fail(sa, "a User-Name in the Access-Accept we cannot keep");
		else if (!*r->user && e->rad.method != EAP_TYPE_MSCHAPV2)
			/*
			 * A tunnelled method (PEAP, TTLS, TLS) checks an inner
			 * identity: the outer one the client chose is no one's.
			 */
			err = fail(sa, "an Access-Accept without User-Name after a tunnelled method");
		if (!err) {
			/* the identity the server checked is the client's from now on */
			if (*r->user)	/* shorter than e->user: checked above */
				memcpy(e->user, r->user, strlen(r->user) + 1);
			/* MSK = MS-MPPE-Recv-Key | MS-MPPE-Send-Key, zero-padded */
			memset(e->msk, 0, sizeof(e->msk));
			memcpy(e->msk, r->recv_key, r->recv_len);
			memcpy(e->msk + r->recv_len, r->send_key, r->send_len);
			e->have_msk = true;
			put_eap(o, EAP_SUCCESS, e->ident, 0, NULL, 0);
			e->step = ESTEP_AUTH;
			return 0;
		}
	} else {
		err = fail(sa, r->code == RADIUS_ACCESS_REJECT ? "rejected by the RADIUS server" :
			   "an answer from the RADIUS server that is no answer");
	}
	put_eap(o, EAP_FAILURE, e->ident, 0, NULL, 0);
	return err;
}

static int server_step(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o);

/**
 * ike_eap_server_input() - the client's next IKE_AUTH request
 * @sa: the SA (sa->eap set)
 * @m: the request
 * @o: a response begun: gets the next EAP request, or EAP-Failure
 *
 * Context: daemon thread.
 * Return: 0 (answer @o), 1 (the client's AUTH with the MSK checked out: the
 * caller finishes the SA, @o unused), 2 (relayed to the RADIUS server: the
 * answer waits for its reply, @o unused), -EPERM (refused: answer @o, which
 * carries EAP-Failure; the reason is in sa->eap->why).
 */
int ike_eap_server_input(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o)
{
	struct ike_eap *e = sa->eap;
	const struct ike_pl *auth = ike_find(m, PL_AUTH);
	uint8_t want[64];
	bool ok;
	int err;

	if (e->step == ESTEP_AUTH) {
		if (!auth || auth->len != 4 + sa->keys.prf_len || auth->data[0] != AUTH_SHARED_KEY_MIC)
			return fail(sa, "no AUTH with the EAP key after EAP-Success");
		ok = !ike_auth_mac(sa, e->msk, sizeof(e->msk), true, e->first_id, e->first_id_len,
				   want) && ike_memeq(want, auth->data + 4, sa->keys.prf_len);
		ike_wipe(want, sizeof(want));
		if (!ok)
			return fail(sa, "the AUTH made with the EAP key does not verify");
		e->step = ESTEP_DONE;
		return 1;
	}
	err = server_step(sa, m, o);
	/* every refusal during EAP ends in EAP-Failure */
	if (err < 0)
		put_eap(o, EAP_FAILURE, e->ident, 0, NULL, 0);
	return err;
}

/* one EAP round of the gateway's (ike_eap_server_input()) */
static int server_step(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o)
{
	struct ike_eap *e = sa->eap;
	const uint8_t *d;
	size_t len = 0;
	int err = 0;

	d = get_eap(m, &len);
	if (!d || d[0] != EAP_RESPONSE || d[1] != e->ident)
		err = fail(sa, "expected an EAP response to our request");
	else if (sa->conf->radius_set)
		return relay(sa, m->hdr.msgid, d, len);
	else if (d[4] == EAP_TYPE_NAK)
		err = fail(sa, "the client does not do EAP-MSCHAPv2");
	else if (e->step == ESTEP_IDENTITY) {
		uint8_t chal[1 + 16 + sizeof(MSCHAPV2_NAME) - 1];

		if (d[4] != EAP_TYPE_IDENTITY || len - 5 >= sizeof(e->user) ||
		    !printable(d + 5, len - 5))
			return fail(sa, "no usable EAP identity");
		memcpy(e->user, d + 5, len - 5);
		e->user[len - 5] = 0;
		if (ike_random(e->auth_chal, 16))
			return fail(sa, "no randomness");
		chal[0] = 16;
		memcpy(chal + 1, e->auth_chal, 16);
		memcpy(chal + 17, MSCHAPV2_NAME, sizeof(MSCHAPV2_NAME) - 1);
		e->ident++;
		put_mschap(o, EAP_REQUEST, e->ident, MSCHAPV2_CHALLENGE, e->ms_id, chal,
			   sizeof(chal));
		e->step = ESTEP_CHALLENGE;
	} else if (e->step == ESTEP_CHALLENGE) {
		err = d[4] == EAP_TYPE_MSCHAPV2 ? server_response(sa, d, len, o) :
		      fail(sa, "expected an MS-CHAPv2 response");
	} else if (e->step == ESTEP_SUCCESS) {
		if (d[4] != EAP_TYPE_MSCHAPV2 || len < 6 || d[5] != MSCHAPV2_SUCCESS)
			return fail(sa, "the client did not acknowledge MS-CHAPv2 Success");
		put_eap(o, EAP_SUCCESS, e->ident, 0, NULL, 0);
		e->step = ESTEP_AUTH;
	} else {
		err = fail(sa, "an EAP message out of turn");
	}
	return err;
}

/**
 * ike_eap_client_start() - we log in with EAP: remember our IDi
 * @sa: the SA
 * @idi: our ID payload body
 * @len: its length
 *
 * Context: daemon thread.
 * Return: 0 or -ENOMEM.
 */
int ike_eap_client_start(struct ike_sa *sa, const uint8_t *idi, size_t len)
{
	ike_eap_free(sa);
	sa->eap = calloc(1, sizeof(*sa->eap));
	if (!sa->eap || len > sizeof(sa->eap->first_id))
		return -ENOMEM;
	memcpy(sa->eap->first_id, idi, len);
	sa->eap->first_id_len = len;
	sa->eap->step = ESTEP_IDENTITY;
	return 0;
}

/* the gateway's MS-CHAPv2 challenge: our response, and what its Success must say */
static int client_challenge(struct ike_sa *sa, const uint8_t *d, size_t len, struct ike_out *o)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_eap *e = sa->eap;
	uint8_t r[1 + 49 + IKE_EAP_ID_MAX];
	size_t ulen = strlen(c->eap_identity);

	/* one challenge: a second one would make an MSK whose proof we never saw */
	if (e->step != ESTEP_IDENTITY || e->have_msk)
		return fail(sa, "an MS-CHAPv2 challenge out of turn");
	if (len < 5 + 4 + 1 + 16 || d[9] != 16)
		return fail(sa, "a malformed MS-CHAPv2 challenge");
	e->ms_id = d[6];
	memcpy(e->auth_chal, d + 10, 16);
	if (ike_random(e->peer_chal, 16) ||
	    ike_mschap_nt_response(c->eap_nt_hash, e->auth_chal, e->peer_chal, c->eap_identity,
				   e->nt_resp) ||
	    ike_mschap_auth_response(c->eap_nt_hash, e->nt_resp, e->peer_chal, e->auth_chal,
				     c->eap_identity, e->s_resp) ||
	    ike_mschap_msk(c->eap_nt_hash, e->nt_resp, e->msk))
		return fail(sa, "cannot compute the MS-CHAPv2 response");
	r[0] = 49;
	memcpy(r + 1, e->peer_chal, 16);
	memset(r + 17, 0, 8);
	memcpy(r + 25, e->nt_resp, 24);
	r[49] = 0;
	memcpy(r + 50, c->eap_identity, ulen);
	put_mschap(o, EAP_RESPONSE, d[1], MSCHAPV2_RESPONSE, e->ms_id, r, 50 + ulen);
	e->step = ESTEP_CHALLENGE;
	return 0;
}

/**
 * ike_eap_client_input() - the gateway's answer while we log in with EAP
 * @sa: the SA (sa->eap set; the gateway's own AUTH checked already)
 * @m: the response
 * @o: a request begun: gets our EAP response, or our AUTH after EAP-Success
 *
 * Context: daemon thread.
 * Return: 0 (send @o), 1 (the gateway's AUTH with the MSK checked out: the
 * caller finishes the SA from @m), -EPERM (the reason in sa->eap->why).
 */
int ike_eap_client_input(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o)
{
	const struct ike_conn_conf *c = sa->conf;
	const struct ike_pl *auth = ike_find(m, PL_AUTH);
	struct ike_eap *e = sa->eap;
	uint8_t mac[64];
	const uint8_t *d;
	size_t len = 0;

	if (e->step == ESTEP_AUTH) {
		if (!auth || auth->len != 4 + sa->keys.prf_len || auth->data[0] != AUTH_SHARED_KEY_MIC)
			return fail(sa, "the gateway sent no AUTH with the EAP key");
		bool ok = !ike_auth_mac(sa, e->msk, sizeof(e->msk), false, e->peer_idr,
					e->peer_idr_len, mac) &&
			  ike_memeq(mac, auth->data + 4, sa->keys.prf_len);

		ike_wipe(mac, sizeof(mac));
		if (!ok)
			return fail(sa, "the gateway's AUTH with the EAP key does not verify");
		e->step = ESTEP_DONE;
		return 1;
	}
	d = get_eap(m, &len);
	if (!d)
		return fail(sa, "no EAP message from the gateway");
	if (d[0] == EAP_FAILURE)
		return fail(sa, "the gateway sent EAP-Failure");
	if (d[0] == EAP_SUCCESS) {
		if (!e->have_msk)
			return fail(sa, "EAP-Success before MS-CHAPv2 succeeded");
		if (ike_auth_mac(sa, e->msk, sizeof(e->msk), true, e->first_id, e->first_id_len,
				 mac))
			return fail(sa, "cannot compute AUTH");
		ike_put_auth_mac(o, mac, sa->keys.prf_len);
		ike_wipe(mac, sizeof(mac));
		e->step = ESTEP_AUTH;
		return 0;
	}
	if (d[0] != EAP_REQUEST)
		return fail(sa, "an EAP message that is no request");
	if (d[4] == EAP_TYPE_IDENTITY) {
		put_eap(o, EAP_RESPONSE, d[1], EAP_TYPE_IDENTITY, (const uint8_t *)c->eap_identity,
			strlen(c->eap_identity));
		return 0;
	}
	if (d[4] != EAP_TYPE_MSCHAPV2) {
		uint8_t want = EAP_TYPE_MSCHAPV2;

		/* RFC 3748 5.3.1: a Nak names the method we would take */
		put_eap(o, EAP_RESPONSE, d[1], EAP_TYPE_NAK, &want, 1);
		return 0;
	}
	if (len < 6)
		return fail(sa, "a malformed MS-CHAPv2 request");
	switch (d[5]) {
	case MSCHAPV2_CHALLENGE:
		return client_challenge(sa, d, len, o);
	case MSCHAPV2_SUCCESS:
		/* "S=<40 hex digits>" first: the gateway knows our password too */
		if (e->step != ESTEP_CHALLENGE || len < 9 + 42 ||
		    CRYPTO_memcmp(d + 9, e->s_resp, 42))
			return fail(sa, "the gateway's MS-CHAPv2 authenticator response is wrong");
		e->have_msk = true;
		put_mschap(o, EAP_RESPONSE, d[1], MSCHAPV2_SUCCESS, e->ms_id, NULL, 0);
		e->step = ESTEP_SUCCESS;
		return 0;
	case MSCHAPV2_FAILURE:
		return fail(sa, "the gateway refused our EAP password (MS-CHAPv2 Failure)");
	default:
		return fail(sa, "an MS-CHAPv2 request we do not know");
	}
}
