// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: building and sending an SA's messages.  The SK payload is
 * sealed here; requests are remembered for retransmission (window size 1)
 * and responses for a retransmitted request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike_cert.h"
#include "ike_sa.h"

void ike_out_begin(struct ike_sa *sa, struct ike_out *o, uint8_t exchange, bool response,
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

int ike_out_seal(struct ike_sa *sa, struct ike_out *o)
{
	size_t sk_off = o->b.len;
	int err;

	ike_pl_end(&o->c);
	if (o->in.err || o->b.err) {
		ike_buf_free(&o->in);
		return -EMSGSIZE;
	}
	err = ike_frag_seal(sa, o);
	if (err <= 0)
		return err;
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

void ike_send_request(struct ike_sa *sa, enum req_kind kind, struct ike_buf *b)
{
	ike_send_request_via(sa, kind, b, sa->link);
}

/* a request of ours on another path than the SA's (a standby's proof) */
void ike_send_request_via(struct ike_sa *sa, enum req_kind kind, struct ike_buf *b,
			  struct ike_link *via)
{
	ike_buf_free(&sa->req.msg);
	sa->req.msg = *b;
	sa->req.kind = kind;
	sa->req.sent = ike_now(sa);
	sa->req.tries = 1;
	sa->req.next_tx = ike_now(sa) + RETRANSMIT_BASE_MS;
	sa->req.deadline = 0;
	sa->next_req++;
	ike_sa_touch(sa);
	ike_link_send(sa->d, via, b->p, b->len);
}

void ike_send_response(struct ike_sa *sa, struct ike_buf *b)
{
	struct ike_link *via = sa->reply_via ? sa->reply_via : sa->link;

	ike_buf_free(&sa->last_resp);
	sa->last_resp = *b;
	sa->have_last_resp = true;
	sa->last_resp_elsewhere = via != sa->link;
	sa->resp_moved_sends = 0;
	sa->peer_next++;
	sa->reply_via = NULL;
	ike_link_send(sa->d, via, b->p, b->len);
}

/* seal and send a response, or drop it when it cannot be sealed */
int ike_out_respond(struct ike_sa *sa, struct ike_out *o)
{
	int err = ike_out_seal(sa, o);

	if (err)
		ike_buf_free(&o->b);
	else
		ike_send_response(sa, &o->b);
	return err;
}

/* seal and send a request of ours, or drop it when it cannot be sealed */
int ike_out_request(struct ike_sa *sa, struct ike_out *o, enum req_kind kind)
{
	int err = ike_out_seal(sa, o);

	if (err)
		ike_buf_free(&o->b);
	else
		ike_send_request(sa, kind, &o->b);
	return err;
}

/* an encrypted response that carries only a notification */
int ike_respond_notify(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, uint16_t type,
		       const void *data, size_t len)
{
	struct ike_out o;

	ike_out_begin(sa, &o, exchange, true, msgid);
	ike_pl_notify(&o.c, 0, NULL, 0, type, data, len);
	return ike_out_respond(sa, &o);
}

/* an unprotected IKE_SA_INIT response with one notification (COOKIE, errors) */
void ike_respond_init_notify(struct ike_daemon *d, struct ike_link *link,
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

/* does a conn sign or check signatures (and so speak RFC 7427)? */
bool ike_conn_pubkey(const struct ike_conn_conf *c)
{
	return c->local_auth == AUTHM_PUBKEY || c->remote_auth == AUTHM_PUBKEY;
}

/* SIGNATURE_HASH_ALGORITHMS (RFC 7427 4): the hashes we sign and check with */
void ike_put_sighashes(struct ike_chain *c)
{
	static const uint8_t ids[] = { 0, SIGHASH_SHA2_256, 0, SIGHASH_SHA2_384,
				       0, SIGHASH_SHA2_512, 0, SIGHASH_IDENTITY };

	ike_pl_notify(c, 0, NULL, 0, N_SIGNATURE_HASH_ALGORITHMS, ids, sizeof(ids));
}

/*
 * CERTREQ (RFC 7296 3.7): the anchors a conn trusts, when it checks
 * certificates.  An unauthenticated IKE_SA_INIT draws @max of them at most
 * (an amplifier otherwise, with a folder of public roots); 0: all.
 */
void ike_put_certreq(struct ike_chain *c, const struct ike_conn_conf *conf, size_t max)
{
	size_t len;
	const uint8_t *h = ike_creds_certreq(conf->creds, &len);

	if (conf->remote_auth != AUTHM_PUBKEY || !len)
		return;
	if (max && len > 20 * max)
		len = 20 * max;
	ike_pl_begin(c, PL_CERTREQ);
	ike_put8(c->b, CERT_X509_SIGNATURE);
	ike_put(c->b, h, len);
}

void ike_put_nat_notifies(struct ike_sa *sa, struct ike_chain *c)
{
	struct sockaddr_storage local = sa->link->local;
	uint8_t h[20];

	/*
	 * encap = yes: the hash of no address of ours (port 0), so the peer
	 * sees a NAT in front of us and puts its ESP in UDP too, as RFC 7296
	 * 2.23 lets a host that wants ESP in UDP do (strongSwan's encap = yes)
	 */
	if (sa->conf->encap_force)
		ike_ss_set_port(&local, 0);
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &local, h))
		ike_pl_notify(c, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, &sa->link->peer, h))
		ike_pl_notify(c, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

/**
 * ike_nat_check() - what the peer's NAT_DETECTION notifications say
 * @sa: the SA; nat_here and nat_there are set
 * @m: a message with them (IKE_SA_INIT, or UPDATE_SA_ADDRESSES)
 * @l: the link it came on, whose addresses we compare with
 *
 * Return: true when the message carried NAT_DETECTION_SOURCE_IP at all.
 */
bool ike_nat_check(struct ike_sa *sa, const struct ike_msg *m, const struct ike_link *l)
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
			if (!ike_nat_hash(m->hdr.spi_i, m->hdr.spi_r, &l->peer, h) &&
			    !memcmp(h, data, 20))
				src_match = true;
		} else if (type == N_NAT_DETECTION_DESTINATION_IP && len == 20) {
			dst_match = !ike_nat_hash(m->hdr.spi_i, m->hdr.spi_r, &l->local, h) &&
				    !memcmp(h, data, 20);
		}
	}
	sa->nat_there = src_seen && !src_match;
	sa->nat_here = src_seen && !dst_match;
	return src_seen;
}

void ike_put_ke(struct ike_chain *c, struct ike_dh *dh, uint16_t group)
{
	uint8_t ke[512];

	if (ike_dh_public(dh, ke, sizeof(ke))) {
		c->b->err = true;
		return;
	}
	ike_pl_begin(c, PL_KE);
	ike_put16(c->b, group);
	ike_put16(c->b, 0);
	ike_put(c->b, ke, ike_ke_len(group));
}

const char *ike_first_error(const struct ike_msg *m, uint16_t *type)
{
	for (unsigned int i = 0; i < m->npl; i++)
		if (!ike_notify_type(&m->pl[i], type) && *type <= N_ERROR_MAX)
			return "error";
	return NULL;
}
