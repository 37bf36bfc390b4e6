// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: choices the IKE helper makes, with no I/O: which proposal,
 * which traffic selectors, which conn an address or identity belongs to.
 * Pure functions of their arguments, tested directly by ike_unit.
 */
#include <fnmatch.h>
#include <string.h>

#include "ike_cert.h"
#include "ike_select.h"

static int cmp_addr(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, len);
}

/* the range must be a prefix and the ports all or one: what an xfrm selector holds */
bool ike_ts_ok(const struct ike_ts *t)
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

/* is t a valid selector inside outer? */
bool ike_ts_within(const struct ike_ts *t, const struct ike_ts *outer)
{
	size_t alen = outer->family == AF_INET ? 4 : 16;

	return t->family == outer->family &&
	       cmp_addr(t->start, outer->start, alen) >= 0 &&
	       cmp_addr(t->end, outer->end, alen) <= 0 &&
	       t->sport >= outer->sport && t->eport <= outer->eport &&
	       (!outer->proto || t->proto == outer->proto) && ike_ts_ok(t);
}

/* do two selectors share any address, port and protocol? */
bool ike_ts_overlap(const struct ike_ts *a, const struct ike_ts *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && (!a->proto || !b->proto || a->proto == b->proto) &&
	       cmp_addr(a->start, b->end, alen) <= 0 && cmp_addr(b->start, a->end, alen) <= 0 &&
	       a->sport <= b->eport && b->sport <= a->eport;
}

/* the intersection of one of the peer's selectors with one of ours, if it is one */
static bool ts_intersect(const struct ike_ts *t, const struct ike_ts *ours, struct ike_ts *r)
{
	size_t alen = ours->family == AF_INET ? 4 : 16;

	if (t->family != ours->family)
		return false;
	if (t->proto && ours->proto && t->proto != ours->proto)
		return false;
	*r = *ours;
	r->proto = ours->proto ? ours->proto : t->proto;
	memcpy(r->start, cmp_addr(t->start, ours->start, alen) > 0 ? t->start : ours->start, alen);
	memcpy(r->end, cmp_addr(t->end, ours->end, alen) < 0 ? t->end : ours->end, alen);
	r->sport = t->sport > ours->sport ? t->sport : ours->sport;
	r->eport = t->eport < ours->eport ? t->eport : ours->eport;
	return cmp_addr(r->start, r->end, alen) <= 0 && r->sport <= r->eport && ike_ts_ok(r);
}

/* the first of the peer's selectors that meets ours, narrowed to it */
bool ike_ts_narrow(const struct ike_ts *peer, unsigned int n, const struct ike_ts *ours,
		   struct ike_ts *out)
{
	struct ike_ts r;

	for (unsigned int i = 0; i < n; i++) {
		if (ts_intersect(&peer[i], ours, &r)) {
			*out = r;
			return true;
		}
	}
	return false;
}

static bool ts_in_set(const struct ike_ts *t, const struct ike_ts_set *set)
{
	for (unsigned int i = 0; i < set->n; i++)
		if (!memcmp(t, &set->ts[i], sizeof(*t)))
			return true;
	return false;
}

/* is t one of the set's selectors? */
bool ike_ts_set_has(const struct ike_ts_set *set, const struct ike_ts *t)
{
	return ts_in_set(t, set);
}

/**
 * ike_ts_set_narrow() - narrow the peer's selectors of one side to ours
 * @peer: the peer's selectors, in its order
 * @n: how many
 * @ours: the conn's (or the rekeyed child's) selectors of that side
 * @out: every distinct intersection of one of the peer's with one of ours
 *	that no other contains, in the peer's order, at most IKE_MAX_TS
 *
 * RFC 7296 2.9: the responder narrows to a subset of its policy; a peer
 * asking for 0.0.0.0/0 against a split list gets the list.
 *
 * Return: true if at least one intersection is left.
 */
bool ike_ts_set_narrow(const struct ike_ts *peer, unsigned int n, const struct ike_ts_set *ours,
		       struct ike_ts_set *out)
{
	struct ike_ts all[IKE_MAX_TS * IKE_MAX_TS], r;
	unsigned int m = 0;

	for (unsigned int i = 0; i < n && i < IKE_MAX_TS; i++)
		for (unsigned int j = 0; j < ours->n; j++)
			if (ts_intersect(&peer[i], &ours->ts[j], &r))
				all[m++] = r;
	/*
	 * Only the largest: an intersection inside another adds no traffic,
	 * only a redundant policy (a rekey's {X, Y} against {X, Y} would
	 * otherwise come back with X and Y's own intersection too)
	 */
	out->n = 0;
	for (unsigned int i = 0; i < m && out->n < IKE_MAX_TS; i++) {
		bool inside = ts_in_set(&all[i], out);

		for (unsigned int j = 0; j < m && !inside; j++)
			inside = j != i && memcmp(&all[i], &all[j], sizeof(all[i])) &&
				 ike_ts_within(&all[i], &all[j]);
		if (!inside)
			out->ts[out->n++] = all[i];
	}
	return out->n > 0;
}

/* is each of t[] a valid selector inside one of outer's? (a response to ours) */
bool ike_ts_set_within(const struct ike_ts *t, unsigned int n, const struct ike_ts_set *outer)
{
	if (!n)
		return false;
	for (unsigned int i = 0; i < n; i++) {
		bool in = false;

		for (unsigned int j = 0; j < outer->n && !in; j++)
			in = ike_ts_within(&t[i], &outer->ts[j]);
		if (!in)
			return false;
	}
	return true;
}

/* does any selector of a overlap any of b's? */
bool ike_ts_set_overlap(const struct ike_ts_set *a, const struct ike_ts_set *b)
{
	for (unsigned int i = 0; i < a->n; i++)
		for (unsigned int j = 0; j < b->n; j++)
			if (ike_ts_overlap(&a->ts[i], &b->ts[j]))
				return true;
	return false;
}

/* the same selectors, in any order */
bool ike_ts_set_equal(const struct ike_ts_set *a, const struct ike_ts_set *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned int i = 0; i < a->n; i++)
		if (!ts_in_set(&a->ts[i], b))
			return false;
	return true;
}

/*
 * Pick our first ESP suite the peer's proposal list allows; num gets the
 * proposal's number.  What a Diffie-Hellman transform means depends on the
 * exchange (ke): IKE_AUTH has no KE, so the peer's groups are ignored (RFC
 * 7296 1.2); a CREATE_CHILD_SA without KE cannot take a suite of ours that
 * names a group (no PFS downgrade); one with a KE takes its group, also for
 * a suite of ours without one (the peer asked for PFS; we can give it).
 */
bool ike_choose_esp(const struct ike_conn_conf *c, const struct ike_proposal *props,
		    unsigned int n, enum ike_child_ke ke, uint16_t ke_group,
		    struct ike_suite *out, uint8_t *num, uint32_t *peer_spi)
{
	for (unsigned int i = 0; i < n; i++) {
		if (props[i].proto != PROTO_ESP || props[i].spi_len != 4)
			continue;
		for (size_t j = 0; j < c->nesp; j++) {
			struct ike_proposal p = props[i];
			struct ike_suite s = c->esp[j];

			if (ke == CHILD_KE_IGNORE) {
				s.dh = 0;
				p.nids[TT_DH] = 0;
			} else if (ke == CHILD_KE_NONE) {
				if (s.dh)
					continue;
			} else if (s.dh != ke_group) {
				if (s.dh || !ike_ke_len(ke_group))
					continue;
				s.dh = ke_group;
			}
			if (!ike_proposal_has(&p, &s))
				continue;
			*out = s;
			*num = props[i].num;
			memcpy(peer_spi, props[i].spi, 4);
			return true;
		}
	}
	return false;
}

/* a group of ours that a child proposal of the peer's would take (INVALID_KE_PAYLOAD) */
uint16_t ike_child_ke_wanted(const struct ike_conn_conf *c, const struct ike_proposal *props,
			     unsigned int n)
{
	struct ike_suite s;
	uint32_t spi;
	uint8_t num;

	for (size_t j = 0; j < c->nesp; j++)
		if (c->esp[j].dh &&
		    ike_choose_esp(c, props, n, CHILD_KE_GROUP, c->esp[j].dh, &s, &num, &spi))
			return c->esp[j].dh;
	return 0;
}

/* may a responder conn serve a peer at this address, reached at our local one? */
bool ike_conn_accepts(const struct ike_conn_conf *c, const struct sockaddr_storage *local,
		      const struct sockaddr_storage *peer)
{
	if (c->initiator || c->local.ss_family != local->ss_family)
		return false;
	if (!ike_ss_same_addr(&c->local, local))
		return false;
	return c->remote_any || ike_ss_same_addr(&c->remote, peer);
}

/* does an ID payload name the peer this conn expects? */
bool ike_id_matches(const struct ike_conn_conf *c, const struct ike_pl *id,
		    const struct sockaddr_storage *peer)
{
	/* an ID body over 255 bytes is none we keep (ike_sa_set_peer_id) */
	if (!id || id->len < 4 || id->len > 4 + 255)
		return false;
	if (c->remote_id_any)
		return true;
	if (c->remote_id_glob) {
		char text[256], pat[256];
		size_t n = id->len - 4;

		/* a pattern names text IDs of its own type; an ID with a NUL is none */
		if (id->data[0] != c->remote_id_type)
			return false;
		if (id->data[0] == ID_DER_ASN1_DN) {
			/* a DN pattern matches the DN's text ("C=CH,O=Example,CN=*") */
			/* escaped characters would let '*' reach across an RDN */
			if (ike_dn_text(id->data + 4, n, text, sizeof(text)) || !*text ||
			    strchr(text, '\\'))
				return false;
		} else {
			if (n >= sizeof(text) || memchr(id->data + 4, 0, n))
				return false;
			memcpy(text, id->data + 4, n);
			text[n] = 0;
		}
		memcpy(pat, c->remote_id, c->remote_id_len);
		pat[c->remote_id_len] = 0;
		return !fnmatch(pat, text, FNM_CASEFOLD | FNM_PERIOD);
	}
	if (!c->remote_id_len) {
		/* no remote-id: the peer must name itself by its address */
		size_t alen = peer->ss_family == AF_INET ? 4 : 16;

		return id->data[0] == (alen == 4 ? ID_IPV4_ADDR : ID_IPV6_ADDR) &&
		       id->len - 4 == alen && !memcmp(id->data + 4, ike_ss_addr(peer), alen);
	}
	if (id->data[0] == ID_DER_ASN1_DN)
		return c->remote_id_type == ID_DER_ASN1_DN &&
		       ike_dn_equal(id->data + 4, id->len - 4, (const uint8_t *)c->remote_id,
				    c->remote_id_len);
	return id->data[0] == c->remote_id_type && id->len - 4 == c->remote_id_len &&
	       !memcmp(id->data + 4, c->remote_id, c->remote_id_len);
}
