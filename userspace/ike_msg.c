// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKEv2 wire format.  Parsing never trusts a length: every
 * field is checked against what is left of the buffer, and a message is
 * either parsed whole or refused with -EBADMSG (syntax) or -ENOTSUP (an
 * unknown critical payload, whose type is kept for the notification).
 * This file is also the fuzz target's whole attack surface.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike.h"
#include "ike_cert.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static bool known_payload(uint8_t t)
{
	return (t >= PL_SA && t <= PL_EAP) || t == PL_SKF;
}

/* walk a payload chain starting with type "next" over buf */
static int parse_chain(struct ike_msg *m, uint8_t next, const uint8_t *buf, size_t len,
		       bool outer)
{
	size_t off = 0;

	while (next != PL_NONE) {
		uint16_t plen;
		uint8_t type = next;
		bool crit;

		if (len - off < 4)
			return -EBADMSG;
		next = buf[off];
		crit = buf[off + 1] & 0x80;
		plen = get16(buf + off + 2);
		if (plen < 4 || plen > len - off)
			return -EBADMSG;
		if (type == PL_SK || type == PL_SKF) {
			/*
			 * The SK payload is last; its "next" names the first inner
			 * one.  An Encrypted Fragment is the only payload, with its
			 * number and the count (RFC 7383 2.5), 1 <= number <= count.
			 */
			if (!outer || off + plen != len)
				return -EBADMSG;
			if (type == PL_SKF) {
				if (off || plen < 8)
					return -EBADMSG;
				m->skf = true;
				m->frag_num = get16(buf + off + 4);
				m->frag_total = get16(buf + off + 6);
				if (!m->frag_num || m->frag_num > m->frag_total)
					return -EBADMSG;
			}
			m->sk_off = (size_t)(buf - m->raw) + off;
			m->sk_first = next;
			next = PL_NONE;
		}
		if (!known_payload(type)) {
			if (crit && !m->unknown_critical)
				m->unknown_critical = type;
			off += plen;
			continue;
		}
		if (m->npl == IKE_MAX_PAYLOADS)
			return -EBADMSG;
		m->pl[m->npl].type = type;
		m->pl[m->npl].critical = crit;
		m->pl[m->npl].data = buf + off + 4;
		m->pl[m->npl].len = plen - 4u;
		m->npl++;
		off += plen;
	}
	if (off != len)
		return -EBADMSG;
	return m->unknown_critical ? -ENOTSUP : 0;
}

/**
 * ike_parse() - parse a message's header and its outer payloads
 * @m: the result; m->raw points into @buf, which must outlive it
 * @buf: the message, without any non-ESP marker
 * @len: its length
 *
 * Return: 0, -EBADMSG for a syntax error, -EPROTO for a version that is not
 * 2.x, -ENOTSUP for an unknown critical payload (m is still usable).
 */
int ike_parse(struct ike_msg *m, const uint8_t *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->raw = buf;
	m->raw_len = len;
	if (len < IKE_HDR_LEN)
		return -EBADMSG;
	m->hdr.spi_i = get64(buf);
	m->hdr.spi_r = get64(buf + 8);
	m->hdr.next = buf[16];
	m->hdr.version = buf[17];
	m->hdr.exchange = buf[18];
	m->hdr.flags = buf[19];
	m->hdr.msgid = get32(buf + 20);
	m->hdr.length = get32(buf + 24);
	if (m->hdr.length != len)
		return -EBADMSG;
	if ((m->hdr.version & 0xf0) != IKE_VERSION)
		return -EPROTO;
	return parse_chain(m, m->hdr.next, buf + IKE_HDR_LEN, len - IKE_HDR_LEN, true);
}

/**
 * ike_parse_inner() - add the decrypted payloads of the SK payload
 * @m: a parsed message with an SK payload
 * @plain: the plaintext, owned by @m from now on
 * @len: its length
 *
 * Return: as ike_parse().
 */
int ike_parse_inner(struct ike_msg *m, const uint8_t *plain, size_t len)
{
	m->plain = (uint8_t *)plain;
	m->plain_len = len;
	return parse_chain(m, m->sk_first, plain, len, false);
}

/* the decrypted payloads are secrets too (AUTH, keys' nonces): wiped, then freed */
void ike_msg_free(struct ike_msg *m)
{
	if (m->plain)
		explicit_bzero(m->plain, m->plain_len);
	free(m->plain);
	m->plain = NULL;
	m->plain_len = 0;
}

const struct ike_pl *ike_find(const struct ike_msg *m, uint8_t type)
{
	for (unsigned int i = 0; i < m->npl; i++)
		if (m->pl[i].type == type)
			return &m->pl[i];
	return NULL;
}

int ike_notify_type(const struct ike_pl *pl, uint16_t *type)
{
	if (pl->type != PL_NOTIFY || pl->len < 4 || pl->len < 4u + pl->data[1])
		return -EBADMSG;
	*type = get16(pl->data + 2);
	return 0;
}

const struct ike_pl *ike_find_notify(const struct ike_msg *m, uint16_t type)
{
	for (unsigned int i = 0; i < m->npl; i++) {
		uint16_t t;

		if (m->pl[i].type == PL_NOTIFY && !ike_notify_type(&m->pl[i], &t) && t == type)
			return &m->pl[i];
	}
	return NULL;
}

const uint8_t *ike_notify_data(const struct ike_pl *pl, size_t *len)
{
	size_t off = 4u + pl->data[1];

	*len = pl->len - off;
	return pl->data + off;
}

int ike_notify_spi(const struct ike_pl *pl, uint8_t *proto, uint32_t *spi)
{
	if (pl->len < 8 || pl->data[1] != 4)
		return -EBADMSG;
	*proto = pl->data[0];
	memcpy(spi, pl->data + 4, 4);
	return 0;
}

/**
 * ike_parse_sa() - the proposals of an SA payload
 * @pl: the payload
 * @props: room for IKE_MAX_PROPOSALS
 * @n: set to the number found
 *
 * Transforms of unknown types are skipped; attributes other than the key
 * length make the transform unusable (so it is skipped too).
 *
 * Return: 0 or -EBADMSG.
 */
int ike_parse_sa(const struct ike_pl *pl, struct ike_proposal *props, unsigned int *n)
{
	const uint8_t *p = pl->data;
	size_t left = pl->len;
	bool last = false;

	*n = 0;
	while (!last) {
		struct ike_proposal *pr;
		const uint8_t *t;
		size_t plen, tleft;
		unsigned int ntr;

		if (left < 8)
			return -EBADMSG;
		last = p[0] == 0;
		if (!last && p[0] != 2)
			return -EBADMSG;
		plen = get16(p + 2);
		if (plen < 8 || plen > left || *n == IKE_MAX_PROPOSALS)
			return -EBADMSG;
		pr = &props[(*n)++];
		memset(pr, 0, sizeof(*pr));
		pr->num = p[4];
		pr->proto = p[5];
		pr->spi_len = p[6];
		ntr = p[7];
		if (pr->spi_len > sizeof(pr->spi) || 8u + pr->spi_len > plen)
			return -EBADMSG;
		memcpy(pr->spi, p + 8, pr->spi_len);
		t = p + 8 + pr->spi_len;
		tleft = plen - 8 - pr->spi_len;
		for (unsigned int i = 0; i < ntr; i++) {
			size_t tlen, aoff;
			uint8_t type;
			uint16_t id, keylen = 0;
			bool usable = true;

			if (tleft < 8)
				return -EBADMSG;
			if (t[0] != 0 && t[0] != 3)
				return -EBADMSG;
			if ((t[0] == 0) != (i + 1 == ntr))
				return -EBADMSG;
			tlen = get16(t + 2);
			if (tlen < 8 || tlen > tleft)
				return -EBADMSG;
			type = t[4];
			id = get16(t + 6);
			for (aoff = 8; aoff < tlen;) {
				uint16_t at;

				if (tlen - aoff < 4)
					return -EBADMSG;
				at = get16(t + aoff);
				if (at & 0x8000) {
					if ((at & 0x7fff) == ATTR_KEY_LENGTH)
						keylen = get16(t + aoff + 2);
					else
						usable = false;
					aoff += 4;
				} else {
					size_t alen = get16(t + aoff + 2);

					if (alen > tlen - aoff - 4)
						return -EBADMSG;
					usable = false;
					aoff += 4 + alen;
				}
			}
			if (usable && type >= TT_ENCR && type <= TT_ESN &&
			    pr->nids[type] < 16) {
				pr->ids[type][pr->nids[type]] = id;
				pr->keylens[type][pr->nids[type]] = keylen;
				pr->nids[type]++;
			}
			t += tlen;
			tleft -= tlen;
		}
		if (tleft)
			return -EBADMSG;
		p += plen;
		left -= plen;
	}
	return left ? -EBADMSG : 0;
}

static bool offered(const struct ike_proposal *p, unsigned int type, uint16_t id,
		    uint16_t keylen)
{
	for (unsigned int i = 0; i < p->nids[type]; i++)
		if (p->ids[type][i] == id && p->keylens[type][i] == keylen)
			return true;
	return false;
}

/**
 * ike_proposal_has() - does a proposal allow our suite?
 * @p: a parsed proposal
 * @s: one of ours
 *
 * Every transform type the suite uses must be offered with the suite's
 * value, and a type the proposal offers must not be one the suite lacks
 * (an AEAD proposal with an integrity transform is malformed anyway).
 *
 * Return: true if it matches.
 */
bool ike_proposal_has(const struct ike_proposal *p, const struct ike_suite *s)
{
	if (!offered(p, TT_ENCR, s->encr, s->keylen))
		return false;
	if (s->prf ? !offered(p, TT_PRF, s->prf, 0) : p->nids[TT_PRF] != 0)
		return false;
	if (s->integ ? !offered(p, TT_INTEG, s->integ, 0) :
	    (p->nids[TT_INTEG] && !offered(p, TT_INTEG, 0, 0)))
		return false;
	if (s->dh ? !offered(p, TT_DH, s->dh, 0) :
	    (p->nids[TT_DH] && !offered(p, TT_DH, 0, 0)))
		return false;
	/* no ESN transform at all means "no ESN" (RFC 7296 3.3.2 makes it mandatory for ESP) */
	if (s->esn ? !offered(p, TT_ESN, 1, 0) : p->nids[TT_ESN] && !offered(p, TT_ESN, 0, 0))
		return false;
	return true;
}

/* a subnet attribute (address and netmask, or address and prefix) as a selector */
static int cp_parse_subnet(const uint8_t *v, int family, struct ike_ts *t)
{
	unsigned int bits = 0;

	memset(t, 0, sizeof(*t));
	t->family = (uint8_t)family;
	t->eport = 65535;
	if (family == AF_INET) {
		uint32_t mask = get32(v + 4);

		/* a netmask is ones, then zeros */
		while (bits < 32 && (mask & (0x80000000u >> bits)))
			bits++;
		if (mask != (bits ? 0xffffffffu << (32 - bits) : 0))
			return -EBADMSG;
	} else {
		bits = v[16];
		if (bits > 128)
			return -EBADMSG;
	}
	ike_ts_set_prefix(t, v, bits);
	return 0;
}

/**
 * ike_parse_cp() - a Configuration payload
 * @pl: the payload
 * @cfg: set to its type, the attributes named and their values; attributes
 *	of other types are skipped, values beyond the room kept are dropped
 *
 * Every attribute's length must be one its type allows (RFC 7296 3.15.1):
 * empty in a request, or the value's size.
 *
 * Return: 0 or -EBADMSG.
 */
int ike_parse_cp(const struct ike_pl *pl, struct ike_cfg *cfg)
{
	const uint8_t *p = pl->data;
	size_t left = pl->len;

	memset(cfg, 0, sizeof(*cfg));
	if (left < 4)
		return -EBADMSG;
	cfg->type = p[0];
	if (cfg->type < CFG_REQUEST || cfg->type > CFG_ACK)
		return -EBADMSG;
	p += 4;
	left -= 4;
	while (left) {
		uint16_t type;
		size_t len;

		if (left < 4)
			return -EBADMSG;
		type = get16(p) & 0x7fff;
		len = get16(p + 2);
		if (len > left - 4)
			return -EBADMSG;
		p += 4;
		left -= 4;
		switch (type) {
		case CA_INTERNAL_IP4_ADDRESS:
			if (len && len != 4)
				return -EBADMSG;
			cfg->ask_ip4 = true;
			if (len && !cfg->has_ip4) {
				memcpy(cfg->ip4, p, 4);
				cfg->has_ip4 = true;
			}
			break;
		case CA_INTERNAL_IP6_ADDRESS:
			if (len && (len != 17 || p[16] > 128))
				return -EBADMSG;
			cfg->ask_ip6 = true;
			if (len && !cfg->has_ip6) {
				memcpy(cfg->ip6, p, 16);
				cfg->ip6_prefix = p[16];
				cfg->has_ip6 = true;
			}
			break;
		case CA_INTERNAL_IP4_NETMASK:
			if (len && len != 4)
				return -EBADMSG;
			break;
		case CA_INTERNAL_IP4_DNS:
			if (len && len != 4)
				return -EBADMSG;
			cfg->ask_dns4 = true;
			if (len && cfg->ndns4 < IKE_MAX_CFG_DNS)
				memcpy(cfg->dns4[cfg->ndns4++], p, 4);
			break;
		case CA_INTERNAL_IP6_DNS:
			if (len && len != 16)
				return -EBADMSG;
			cfg->ask_dns6 = true;
			if (len && cfg->ndns6 < IKE_MAX_CFG_DNS)
				memcpy(cfg->dns6[cfg->ndns6++], p, 16);
			break;
		case CA_INTERNAL_IP4_SUBNET:
		case CA_INTERNAL_IP6_SUBNET: {
			int fam = type == CA_INTERNAL_IP4_SUBNET ? AF_INET : AF_INET6;
			size_t want = fam == AF_INET ? 8 : 17;

			if (len && len != want)
				return -EBADMSG;
			if (len && cfg->subnets.n < IKE_MAX_TS) {
				if (cp_parse_subnet(p, fam, &cfg->subnets.ts[cfg->subnets.n]))
					return -EBADMSG;
				cfg->subnets.n++;
			}
			break;
		}
		default:
			break;
		}
		p += len;
		left -= len;
	}
	return 0;
}

/**
 * ike_parse_ts() - the selectors of a TSi or TSr payload
 * @pl: the payload
 * @ts: room for @max selectors
 * @n: set to the number kept (types other than address ranges are skipped)
 * @max: room
 *
 * Return: 0 or -EBADMSG.
 */
int ike_parse_ts(const struct ike_pl *pl, struct ike_ts *ts, unsigned int *n, unsigned int max)
{
	const uint8_t *p = pl->data;
	size_t left = pl->len;
	unsigned int count;

	*n = 0;
	if (left < 4)
		return -EBADMSG;
	count = p[0];
	p += 4;
	left -= 4;
	for (unsigned int i = 0; i < count; i++) {
		size_t slen, alen;
		uint8_t type;

		if (left < 8)
			return -EBADMSG;
		type = p[0];
		slen = get16(p + 2);
		if (slen < 8 || slen > left)
			return -EBADMSG;
		alen = type == TS_IPV4_ADDR_RANGE ? 4 : type == TS_IPV6_ADDR_RANGE ? 16 : 0;
		if (alen) {
			struct ike_ts *t;

			if (slen != 8 + 2 * alen)
				return -EBADMSG;
			if (*n < max) {
				t = &ts[(*n)++];
				memset(t, 0, sizeof(*t));
				t->family = alen == 4 ? AF_INET : AF_INET6;
				t->proto = p[1];
				t->sport = get16(p + 4);
				t->eport = get16(p + 6);
				memcpy(t->start, p + 8, alen);
				memcpy(t->end, p + 8 + alen, alen);
			}
		}
		p += slen;
		left -= slen;
	}
	return left ? -EBADMSG : 0;
}

/* ---- building ---- */

void ike_buf_init(struct ike_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void ike_buf_free(struct ike_buf *b)
{
	free(b->p);
	ike_buf_init(b);
}

void ike_put(struct ike_buf *b, const void *p, size_t len)
{
	if (b->err)
		return;
	if (b->len + len > IKE_MAX_MSG) {
		b->err = true;
		return;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		uint8_t *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->p, cap);
		if (!n) {
			b->err = true;
			return;
		}
		b->p = n;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

void ike_put8(struct ike_buf *b, uint8_t v)
{
	ike_put(b, &v, 1);
}

void ike_put16(struct ike_buf *b, uint16_t v)
{
	uint8_t x[2] = { v >> 8, v & 0xff };

	ike_put(b, x, 2);
}

void ike_put32(struct ike_buf *b, uint32_t v)
{
	ike_put16(b, v >> 16);
	ike_put16(b, v & 0xffff);
}

void ike_put64(struct ike_buf *b, uint64_t v)
{
	ike_put32(b, v >> 32);
	ike_put32(b, v & 0xffffffff);
}

void ike_set16(struct ike_buf *b, size_t off, uint16_t v)
{
	if (b->err || off + 2 > b->len)
		return;
	b->p[off] = v >> 8;
	b->p[off + 1] = v & 0xff;
}

void ike_set32(struct ike_buf *b, size_t off, uint32_t v)
{
	ike_set16(b, off, v >> 16);
	ike_set16(b, off + 2, v & 0xffff);
}

void ike_hdr_put(struct ike_buf *b, const struct ike_hdr *h)
{
	ike_put64(b, h->spi_i);
	ike_put64(b, h->spi_r);
	ike_put8(b, PL_NONE);
	ike_put8(b, IKE_VERSION);
	ike_put8(b, h->exchange);
	ike_put8(b, h->flags);
	ike_put32(b, h->msgid);
	ike_put32(b, 0);
}

/* the length field, once the message is complete */
void ike_hdr_finish(struct ike_buf *b)
{
	ike_set32(b, 24, (uint32_t)b->len);
}

void ike_chain_init(struct ike_chain *c, struct ike_buf *b, size_t next_off)
{
	c->b = b;
	c->next_off = next_off;
	c->open = false;
	c->any = false;
	c->first = PL_NONE;
}

void ike_pl_begin(struct ike_chain *c, uint8_t type)
{
	if (c->open)
		ike_pl_end(c);
	if (!c->any) {
		c->any = true;
		c->first = type;
	}
	if (!c->b->err && c->next_off < c->b->len)
		c->b->p[c->next_off] = type;
	c->cur = c->b->len;
	c->next_off = c->b->len;
	ike_put8(c->b, PL_NONE);
	ike_put8(c->b, 0);
	ike_put16(c->b, 0);
	c->open = true;
}

void ike_pl_end(struct ike_chain *c)
{
	if (!c->open)
		return;
	if (c->b->len - c->cur > 0xffff)
		c->b->err = true;
	ike_set16(c->b, c->cur + 2, (uint16_t)(c->b->len - c->cur));
	c->open = false;
}

void ike_pl_notify(struct ike_chain *c, uint8_t proto, const uint8_t *spi, size_t spi_len,
		   uint16_t type, const void *data, size_t len)
{
	ike_pl_begin(c, PL_NOTIFY);
	ike_put8(c->b, proto);
	ike_put8(c->b, (uint8_t)spi_len);
	ike_put16(c->b, type);
	ike_put(c->b, spi, spi_len);
	ike_put(c->b, data, len);
	ike_pl_end(c);
}

static void put_transform(struct ike_buf *b, bool last, uint8_t type, uint16_t id,
			  uint16_t keylen)
{
	ike_put8(b, last ? 0 : 3);
	ike_put8(b, 0);
	ike_put16(b, keylen ? 12 : 8);
	ike_put8(b, type);
	ike_put8(b, 0);
	ike_put16(b, id);
	if (keylen) {
		ike_put16(b, 0x8000 | ATTR_KEY_LENGTH);
		ike_put16(b, keylen);
	}
}

/**
 * ike_pl_sa() - an SA payload with one proposal per suite
 * @c: the chain
 * @proto: PROTO_IKE or PROTO_ESP
 * @s: the suites
 * @ns: how many
 * @spi: the SPI every proposal carries (NULL when @spi_len is 0)
 * @spi_len: 0, 4 or 8
 * @nums: proposal numbers to use (a responder echoes the chosen one), or NULL
 */
void ike_pl_sa(struct ike_chain *c, uint8_t proto, const struct ike_suite *s, size_t ns,
	       const uint8_t *spi, size_t spi_len, const uint8_t *nums)
{
	struct ike_buf *b = c->b;

	ike_pl_begin(c, PL_SA);
	for (size_t i = 0; i < ns; i++) {
		struct { uint8_t type; uint16_t id, keylen; } tr[5];
		size_t start = b->len, n = 0;

		tr[n++] = (typeof(tr[0])){ TT_ENCR, s[i].encr, s[i].keylen };
		if (s[i].prf)
			tr[n++] = (typeof(tr[0])){ TT_PRF, s[i].prf, 0 };
		if (s[i].integ)
			tr[n++] = (typeof(tr[0])){ TT_INTEG, s[i].integ, 0 };
		if (s[i].dh)
			tr[n++] = (typeof(tr[0])){ TT_DH, s[i].dh, 0 };
		if (proto == PROTO_ESP)
			tr[n++] = (typeof(tr[0])){ TT_ESN, s[i].esn, 0 };
		ike_put8(b, i + 1 == ns ? 0 : 2);
		ike_put8(b, 0);
		ike_put16(b, 0);
		ike_put8(b, nums ? nums[i] : (uint8_t)(i + 1));
		ike_put8(b, proto);
		ike_put8(b, (uint8_t)spi_len);
		ike_put8(b, (uint8_t)n);
		ike_put(b, spi, spi_len);
		for (size_t j = 0; j < n; j++)
			put_transform(b, j + 1 == n, tr[j].type, tr[j].id, tr[j].keylen);
		ike_set16(b, start + 2, (uint16_t)(b->len - start));
	}
	ike_pl_end(c);
}

/* one attribute of a CP payload: type, length, value */
static void cp_attr(struct ike_chain *c, uint16_t type, const void *v, size_t len)
{
	ike_put16(c->b, type & 0x7fff);
	ike_put16(c->b, (uint16_t)len);
	if (len)
		ike_put(c->b, v, len);
}

/* a subnet attribute from a selector that is a prefix (what the sets hold) */
static void cp_subnet(struct ike_chain *c, const struct ike_ts *t)
{
	uint8_t v[17] = { 0 };
	unsigned int bits = ike_ts_prefix(t);

	if (t->family == AF_INET) {
		memcpy(v, t->start, 4);
		for (unsigned int i = 0; i < 4; i++)
			v[4 + i] = ike_prefix_mask(bits, i);
		cp_attr(c, CA_INTERNAL_IP4_SUBNET, v, 8);
	} else {
		memcpy(v, t->start, 16);
		v[16] = (uint8_t)bits;
		cp_attr(c, CA_INTERNAL_IP6_SUBNET, v, 17);
	}
}

/**
 * ike_pl_cp() - a Configuration payload
 * @c: the chain
 * @cfg: for CFG_REQUEST, the attributes asked for (empty, or a request's
 *	preferred address); for CFG_REPLY, the values
 */
void ike_pl_cp(struct ike_chain *c, const struct ike_cfg *cfg)
{
	bool req = cfg->type == CFG_REQUEST;
	uint8_t v6[17];

	ike_pl_begin(c, PL_CP);
	ike_put8(c->b, cfg->type);
	ike_put8(c->b, 0);
	ike_put16(c->b, 0);
	if (cfg->has_ip4)
		cp_attr(c, CA_INTERNAL_IP4_ADDRESS, cfg->ip4, 4);
	else if (req && cfg->ask_ip4)
		cp_attr(c, CA_INTERNAL_IP4_ADDRESS, NULL, 0);
	if (cfg->has_ip6) {
		memcpy(v6, cfg->ip6, 16);
		v6[16] = cfg->ip6_prefix;
		cp_attr(c, CA_INTERNAL_IP6_ADDRESS, v6, 17);
	} else if (req && cfg->ask_ip6) {
		cp_attr(c, CA_INTERNAL_IP6_ADDRESS, NULL, 0);
	}
	if (req && cfg->ask_dns4)
		cp_attr(c, CA_INTERNAL_IP4_DNS, NULL, 0);
	if (req && cfg->ask_dns6)
		cp_attr(c, CA_INTERNAL_IP6_DNS, NULL, 0);
	for (unsigned int i = 0; !req && i < cfg->ndns4 && i < IKE_MAX_CFG_DNS; i++)
		cp_attr(c, CA_INTERNAL_IP4_DNS, cfg->dns4[i], 4);
	for (unsigned int i = 0; !req && i < cfg->ndns6 && i < IKE_MAX_CFG_DNS; i++)
		cp_attr(c, CA_INTERNAL_IP6_DNS, cfg->dns6[i], 16);
	for (unsigned int i = 0; !req && i < cfg->subnets.n; i++)
		cp_subnet(c, &cfg->subnets.ts[i]);
	ike_pl_end(c);
}

void ike_pl_ts(struct ike_chain *c, uint8_t type, const struct ike_ts *ts, unsigned int n)
{
	ike_pl_begin(c, type);
	ike_put8(c->b, (uint8_t)n);
	ike_put8(c->b, 0);
	ike_put16(c->b, 0);
	for (unsigned int i = 0; i < n; i++) {
		size_t alen = ts[i].family == AF_INET ? 4 : 16;

		ike_put8(c->b, alen == 4 ? TS_IPV4_ADDR_RANGE : TS_IPV6_ADDR_RANGE);
		ike_put8(c->b, ts[i].proto);
		ike_put16(c->b, (uint16_t)(8 + 2 * alen));
		ike_put16(c->b, ts[i].sport);
		ike_put16(c->b, ts[i].eport);
		ike_put(c->b, ts[i].start, alen);
		ike_put(c->b, ts[i].end, alen);
	}
	ike_pl_end(c);
}

/**
 * ike_id_format() - an identity as a person reads it, safe in a log line
 * @type: the ID payload's type (ID_*)
 * @body: the identification data after the payload's 4-byte header
 * @len: its length
 * @buf: where the text goes, always NUL-terminated
 * @size: its size (at least 1)
 *
 * Addresses are printed as addresses; FQDN, RFC 822 and key IDs as text,
 * with every byte that is not printable ASCII (a newline, a quote, a
 * backslash) as \xNN, so a peer's choice of ID cannot forge a line of the
 * status file or the log.  Other types print as "(type-N,L-bytes)", without
 * spaces too.
 */
void ike_id_format(uint8_t type, const uint8_t *body, size_t len, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	if ((type == ID_IPV4_ADDR && len == 4) || (type == ID_IPV6_ADDR && len == 16)) {
		if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, body, buf, (socklen_t)size))
			buf[0] = 0;
		return;
	}
	if (type != ID_FQDN && type != ID_RFC822_ADDR && type != ID_KEY_ID) {
		snprintf(buf, size, "(type-%u,%zu-bytes)", type, len);
		return;
	}
	for (size_t i = 0; i < len && o + 5 <= size; i++) {
		uint8_t ch = body[i];

		if (ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	buf[o] = 0;
}

/* the peer's, as SIGHASH_BIT()s; 0 when it sent none */
unsigned int ike_get_sighashes(const struct ike_msg *m)
{
	const struct ike_pl *pl = ike_find_notify(m, N_SIGNATURE_HASH_ALGORITHMS);
	const uint8_t *d;
	unsigned int mask = 0;
	size_t len = 0;

	d = pl ? ike_notify_data(pl, &len) : NULL;
	for (size_t i = 0; d && i + 1 < len; i += 2) {
		uint16_t id = (uint16_t)(d[i] << 8 | d[i + 1]);

		if (id < 32)
			mask |= SIGHASH_BIT(id);
	}
	return mask;
}

/* hex digits (an even number, at most @max bytes' worth) to bytes */
int ike_unhex(const char *v, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(v);

	if (n % 2 || n / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int x;

		if (!isxdigit((unsigned char)v[2 * i]) || !isxdigit((unsigned char)v[2 * i + 1]) ||
		    sscanf(v + 2 * i, "%2x", &x) != 1)
			return -EINVAL;
		out[i] = (uint8_t)x;
	}
	*len = n / 2;
	return 0;
}
