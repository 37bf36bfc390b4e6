// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: IKE fragmentation (RFC 7383) over UDP, both directions.
 *
 * Negotiated in IKE_SA_INIT (IKEV2_FRAGMENTATION_SUPPORTED both ways, UDP
 * only: over TCP a message is one frame of any size, RFC 9329).  An
 * encrypted message that would not fit the conn's fragment-size goes out as
 * Encrypted Fragment payloads, each sealed on its own, back to back in one
 * buffer (ike_link_send() sends each as its own datagram; retransmission
 * sends them all again).  Received fragments are checked one by one before
 * they are kept, so only the peer can fill the reassembly slots (one for
 * requests, one for responses), each bounded (IKE_MAX_FRAGS fragments,
 * IKE_MAX_MSG bytes in all).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike_sa.h"

/* what one datagram may carry of IKE, for a conn's fragment-size; 0: none */
static size_t budget(const struct ike_sa *sa)
{
	const struct ike_link *l = sa->link;
	size_t ip = l->peer.ss_family == AF_INET ? 20 : 40, over = ip + 8 + (l->marker ? 4 : 0);

	if (!sa->frag || l->type != TRANSPORT_UDP || sa->conf->fragment_size <= over)
		return 0;
	return sa->conf->fragment_size - over;
}

/**
 * ike_frag_seal() - seal a message as fragments when it would not fit
 * @sa: the SA
 * @o: the message: header in o->b, inner payloads in o->in (chain ended)
 *
 * Context: daemon thread.
 * Return: 1 when the message fits whole (nothing done), 0 with o->b holding
 * the fragments, or a negative errno; o->in is wiped and freed unless 1.
 */
int ike_frag_seal(struct ike_sa *sa, struct ike_out *o)
{
	const struct ike_keys *k = &sa->keys;
	size_t max = budget(sa), over = IKE_HDR_LEN + 8 + k->iv_len + k->icv_len + k->block;
	size_t chunk, n;
	struct ike_buf all;
	int err = 0;

	if (!max || o->b.len != IKE_HDR_LEN ||
	    IKE_HDR_LEN + 4 + k->iv_len + o->in.len + k->block + k->icv_len <= max)
		return 1;
	chunk = max > over + 64 ? max - over : 0;
	n = chunk ? (o->in.len + chunk - 1) / chunk : 0;
	if (!n || n > IKE_MAX_FRAGS) {
		/* too large to send at all: the plaintext goes as on any failure */
		ike_wipe(o->in.p, o->in.len);
		ike_buf_free(&o->in);
		return -EMSGSIZE;
	}
	ike_buf_init(&all);
	for (size_t i = 0; i < n && !err; i++) {
		size_t off = i * chunk, len = o->in.len - off < chunk ? o->in.len - off : chunk;
		struct ike_buf f;

		ike_buf_init(&f);
		ike_put(&f, o->b.p, IKE_HDR_LEN);
		if (!f.err)
			f.p[16] = PL_SKF;
		ike_put8(&f, i ? PL_NONE : (o->c.any ? o->c.first : PL_NONE));
		ike_put8(&f, 0);
		ike_put16(&f, 0);
		ike_put16(&f, (uint16_t)(i + 1));
		ike_put16(&f, (uint16_t)n);
		err = ike_skx_seal(&sa->suite, k, sa->initiator, &f, IKE_HDR_LEN, 8,
				   o->in.p + off, len);
		if (!err)
			ike_put(&all, f.p, f.len);
		ike_buf_free(&f);
	}
	ike_wipe(o->in.p, o->in.len);
	ike_buf_free(&o->in);
	if (err || all.err) {
		ike_buf_free(&all);
		return err ? err : -ENOMEM;
	}
	ike_buf_free(&o->b);
	o->b = all;
	sa->d->st.frag_sent += n;
	return 0;
}

void ike_frag_reset(struct ike_frags *f)
{
	for (unsigned int i = 0; i < IKE_MAX_FRAGS; i++) {
		if (f->part[i]) {
			ike_wipe(f->part[i], f->len[i]);
			free(f->part[i]);
		}
	}
	memset(f, 0, sizeof(*f));
}

/**
 * ike_frag_input() - one Encrypted Fragment of the message expected next
 * @sa: the SA
 * @m: the fragment, parsed (m->skf)
 * @from_init: it came from the original initiator
 * @plain: when the message is whole, its inner payloads (the caller owns them)
 * @plen: their length
 *
 * Context: daemon thread.
 * Return: 0 when @m completed the message (m->sk_first set to its first
 * inner payload), -EAGAIN when more are due, -EBADMSG for a fragment that
 * fails its integrity check (dropped, the others kept), -EPROTO when the SA
 * did not negotiate fragmentation, -ENOMEM.
 */
int ike_frag_input(struct ike_sa *sa, struct ike_msg *m, bool from_init, uint8_t **plain,
		   size_t *plen)
{
	bool response = m->hdr.flags & IKE_FLAG_R;
	struct ike_frags *f = &sa->rx_frags[response];
	unsigned int i = m->frag_num - 1u;
	size_t len, total = 0;
	uint8_t *p, *whole;
	int err;

	if (!sa->frag)
		return -EPROTO;
	if (m->frag_total > IKE_MAX_FRAGS)
		return -EBADMSG;
	err = ike_skx_open(&sa->suite, &sa->keys, from_init, m->raw, m->raw_len, m->sk_off, 8,
			   &p, &len);
	if (err)
		return err;
	sa->d->st.frag_received++;
	/*
	 * Another message, or the same one cut anew (a retransmission with a
	 * smaller size, RFC 7383 2.6.2): start over.
	 */
	if (f->got && (f->msgid != m->hdr.msgid || f->response != response ||
		       f->total != m->frag_total))
		ike_frag_reset(f);
	if (!f->got) {
		f->msgid = m->hdr.msgid;
		f->response = response;
		f->total = m->frag_total;
	}
	if (f->part[i]) {
		/* a duplicate */
		ike_wipe(p, len);
		free(p);
		return -EAGAIN;
	}
	for (unsigned int j = 0; j < f->total; j++)
		total += f->len[j];
	if (total + len > IKE_MAX_MSG) {
		ike_wipe(p, len);
		free(p);
		ike_frag_reset(f);
		return -EBADMSG;
	}
	if (!i)
		f->first = m->sk_first;
	f->part[i] = p;
	f->len[i] = len;
	f->got++;
	if (f->got < f->total)
		return -EAGAIN;
	whole = malloc(total + len + 1);
	if (!whole) {
		ike_frag_reset(f);
		return -ENOMEM;
	}
	*plen = 0;
	for (unsigned int j = 0; j < f->total; j++) {
		memcpy(whole + *plen, f->part[j], f->len[j]);
		*plen += f->len[j];
	}
	m->sk_first = f->first;
	*plain = whole;
	ike_frag_reset(f);
	return 0;
}
