// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKE SA as an object: the table of SAs, creation, the
 * transitions every exchange shares (established, a change of transport,
 * death), and the schedule of initiators that start again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "ike_cert.h"
#include "ike_sa.h"

/*
 * The SAs by SPI, in two tables chained in buckets that double with them:
 * by our own SPI (a message finds its SA in O(1) among thousands; ours are
 * random, ike_new_spi(), so a peer cannot crowd a bucket), and a
 * responder's by its peer's (an IKE_SA_INIT that is a retransmission finds
 * its SA without a walk of all of them; the peer's SPI is its choice, so
 * the hash is SipHash under a key of ours, of the SPI and the address the
 * IKE_SA_INIT came from, which a bucket is checked against too).  An SA
 * keeps the hash it was filed under: it leaves the bucket it is in.
 */
static uint64_t tab_key(const struct ike_sa *sa, enum ike_sa_tab_kind t)
{
	if (t == IKE_TAB_OURS)
		return sa->initiator ? sa->spi_i : sa->spi_r;
	return sa->initiator ? 0 : sa->spi_i;
}

/* ours are random already: spread; a peer's SPI is its choice: keyed, with its address */
static uint64_t tab_hashval(const struct ike_daemon *d, enum ike_sa_tab_kind t, uint64_t spi,
			    const struct sockaddr_storage *peer)
{
	struct {
		uint64_t spi;
		uint8_t family;
		uint8_t addr[16];
	} __attribute__((packed)) k = { .spi = spi };

	if (t == IKE_TAB_OURS)
		return (spi * 0x9e3779b97f4a7c15ull) >> 32;
	k.family = (uint8_t)peer->ss_family;
	memcpy(k.addr, ike_ss_addr(peer), ike_ss_alen(peer));
	return ike_sip(d->sip, &k, sizeof(k));
}

static uint32_t tab_bucket(uint64_t h, uint32_t buckets)
{
	return (uint32_t)h & (buckets - 1);
}

static void tab_unhash(struct ike_sa *sa, enum ike_sa_tab_kind t)
{
	struct ike_sa_tab *tab = &sa->d->tab[t];
	struct ike_sa **p;

	if (!sa->tab_hashed[t])
		return;
	for (p = &tab->b[tab_bucket(sa->tab_h[t], tab->nb)]; *p; p = &(*p)->tab_next[t]) {
		if (*p == sa) {
			*p = sa->tab_next[t];
			break;
		}
	}
	sa->tab_hashed[t] = false;
	tab->n--;
}

static void tab_insert(enum ike_sa_tab_kind t, struct ike_sa **b, uint32_t nb, struct ike_sa *sa)
{
	uint32_t i = tab_bucket(sa->tab_h[t], nb);

	sa->tab_next[t] = b[i];
	b[i] = sa;
}

/* twice the buckets; with no memory for it, the chains grow instead */
static void tab_grow(struct ike_daemon *d, enum ike_sa_tab_kind t)
{
	struct ike_sa_tab *tab = &d->tab[t];
	uint32_t nb = tab->nb ? tab->nb * 2 : 64;
	struct ike_sa **b;

	if (nb < tab->nb)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (uint32_t i = 0; i < tab->nb; i++) {
		while (tab->b[i]) {
			struct ike_sa *sa = tab->b[i];

			tab->b[i] = sa->tab_next[t];
			tab_insert(t, b, nb, sa);
		}
	}
	free(tab->b);
	tab->b = b;
	/* the first table: the SAs set while there was none go in too */
	if (!tab->nb) {
		tab->nb = nb;
		for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
			if (sa->tab_hashed[t] || !tab_key(sa, t))
				continue;
			sa->tab_h[t] = tab_hashval(d, t, tab_key(sa, t), &sa->init_peer);
			tab_insert(t, b, nb, sa);
			sa->tab_hashed[t] = true;
			tab->n++;
		}
		return;
	}
	tab->nb = nb;
}

static void tab_hash(struct ike_sa *sa, enum ike_sa_tab_kind t)
{
	struct ike_sa_tab *tab = &sa->d->tab[t];

	if (!tab_key(sa, t))
		return;
	if (tab->n >= tab->nb)
		tab_grow(sa->d, t);
	/* no table at all (the finders walk the list), or the first took it in */
	if (!tab->nb || sa->tab_hashed[t])
		return;
	sa->tab_h[t] = tab_hashval(sa->d, t, tab_key(sa, t), &sa->init_peer);
	tab_insert(t, tab->b, tab->nb, sa);
	sa->tab_hashed[t] = true;
	tab->n++;
}

/* an SA's SPIs, and its places in the tables */
void ike_sa_set_spis(struct ike_sa *sa, uint64_t spi_i, uint64_t spi_r)
{
	tab_unhash(sa, IKE_TAB_OURS);
	tab_unhash(sa, IKE_TAB_PEER);
	sa->spi_i = spi_i;
	sa->spi_r = spi_r;
	tab_hash(sa, IKE_TAB_OURS);
	tab_hash(sa, IKE_TAB_PEER);
}

static bool is_ours(const struct ike_sa *sa, uint64_t ours, bool we_initiated)
{
	return sa->state != SA_DEAD && sa->initiator == we_initiated &&
	       (we_initiated ? sa->spi_i : sa->spi_r) == ours;
}

struct ike_sa *ike_sa_find(struct ike_daemon *d, uint64_t ours, bool we_initiated)
{
	const struct ike_sa_tab *tab = &d->tab[IKE_TAB_OURS];
	struct ike_sa *sa;

	if (tab->nb) {
		for (sa = tab->b[tab_bucket(tab_hashval(d, IKE_TAB_OURS, ours, NULL), tab->nb)]; sa;
		     sa = sa->tab_next[IKE_TAB_OURS])
			if (is_ours(sa, ours, we_initiated))
				return sa;
		return NULL;
	}
	/* no memory for the table's first buckets: none is hashed */
	for (sa = d->sas; sa; sa = sa->next)
		if (is_ours(sa, ours, we_initiated))
			return sa;
	return NULL;
}

static bool is_from(const struct ike_sa *sa, uint64_t spi_i, const struct sockaddr_storage *peer)
{
	return !sa->initiator && sa->spi_i == spi_i && ike_ss_same_addr(&sa->init_peer, peer);
}

/**
 * ike_sa_find_responder() - the SA we answered @peer's IKE_SA_INIT with
 * @d: the daemon
 * @spi_i: the peer's SPI
 * @peer: where the IKE_SA_INIT comes from
 *
 * Return: the responder's SA of that SPI that IKE_SA_INIT made from that
 * address (in any state), or NULL.
 */
struct ike_sa *ike_sa_find_responder(struct ike_daemon *d, uint64_t spi_i,
				     const struct sockaddr_storage *peer)
{
	const struct ike_sa_tab *tab = &d->tab[IKE_TAB_PEER];
	struct ike_sa *sa;

	if (tab->nb) {
		for (sa = tab->b[tab_bucket(tab_hashval(d, IKE_TAB_PEER, spi_i, peer), tab->nb)]; sa;
		     sa = sa->tab_next[IKE_TAB_PEER])
			if (is_from(sa, spi_i, peer))
				return sa;
		return NULL;
	}
	for (sa = d->sas; sa; sa = sa->next)
		if (is_from(sa, spi_i, peer))
			return sa;
	return NULL;
}

/*
 * A responder's SA from its IKE_SA_INIT until it is up or freed: the
 * per-source limits walk these (half-open-max and the refused ones of the
 * last seconds), not every SA.
 */
void ike_sa_unauth_add(struct ike_sa *sa)
{
	if (!sa->unauth_node.pprev)
		ike_hlist_add(&sa->d->unauth, &sa->unauth_node);
}

void ike_sa_table_free(struct ike_daemon *d)
{
	ike_htab_free(&d->peers);
	for (int t = 0; t < IKE_TAB_KINDS; t++) {
		free(d->tab[t].b);
		d->tab[t] = (struct ike_sa_tab){ 0 };
	}
}

/* a random non-zero IKE SPI, or 0 when the random generator fails */
uint64_t ike_new_spi(void)
{
	uint64_t spi = 0;

	for (int i = 0; i < 4 && !spi; i++)
		if (ike_random(&spi, sizeof(spi)))
			spi = 0;
	return spi;
}

struct ike_sa *ike_sa_new(struct ike_daemon *d, const struct ike_conn_conf *c,
			  struct ike_link *link, bool initiator)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->d = d;
	sa->conf = c;
	sa->initiator = initiator;
	sa->link = link;
	sa->init_peer = link->peer;
	ike_link_get(link);
	sa->created = d->now;
	sa->last_rx = d->now;
	sa->expire_at = d->now + (uint64_t)d->conf->half_open_timeout_s * 1000;
	sa->timer.idx = IKE_TIMER_OUT;
	if (ike_timer_add(&d->timers, &sa->timer, 0)) {
		ike_link_put(d, link);
		free(sa);
		return NULL;
	}
	sa->next = d->sas;
	if (d->sas)
		d->sas->pprev = &sa->next;
	d->sas = sa;
	sa->pprev = &d->sas;
	d->nsas++;
	return sa;
}

void ike_sa_free(struct ike_sa *sa)
{
	struct ike_daemon *d = sa->d;

	/* whatever path ends an opening instance's attempt, its slot is free */
	if (sa->inst_slot) {
		sa->inst_slot = false;
		ike_instance_settled(d, sa->conf, sa->instance);
	}
	ike_child_drop_pending(sa);
	ike_frag_reset(&sa->rx_frags[0]);
	ike_frag_reset(&sa->rx_frags[1]);
	ike_eap_free(sa);
	ike_vip_remove(sa);
	/* its line goes from `esptcp show`, and a released lease shows up */
	if (sa->since || sa->has_vip)
		ike_status_changed(d);
	/* the lease stays the identity's for its grace period */
	if (sa->has_vip && sa->conf && d->pools) {
		ike_pool_release(&d->pools[sa->conf - d->conf->conns], sa->vip, d->now,
				 (uint64_t)sa->conf->lease_grace_s * 1000);
		ike_leases_changed(d);
	}
	ike_timer_del(&d->timers, &sa->timer);
	tab_unhash(sa, IKE_TAB_OURS);
	tab_unhash(sa, IKE_TAB_PEER);
	ike_htab_del(&d->peers, &sa->peer_node);
	ike_hlist_del(&sa->unauth_node);
	*sa->pprev = sa->next;
	if (sa->next)
		sa->next->pprev = sa->pprev;
	d->nsas--;
	if (sa->half_counted && d->half_open)
		d->half_open--;
	/* only an SA another one's collision named can be named still */
	for (struct ike_sa *o = sa->coll_named ? d->sas : NULL; o; o = o->next)
		if (o->req.coll_ike == sa)
			o->req.coll_ike = NULL;
	while (sa->children) {
		struct ike_child *c = sa->children;

		sa->children = c->next;
		ike_child_free(sa, c);
	}
	ike_dh_free(sa->dh);
	ike_dh_free(sa->req.dh);
	ike_buf_free(&sa->init_req);
	ike_buf_free(&sa->init_resp);
	ike_buf_free(&sa->last_resp);
	ike_buf_free(&sa->req.msg);
	ike_mob_free(sa);
	if (sa->mob.moving)
		ike_link_put(d, sa->mob.moving);
	if (sa->mob.probe)
		ike_link_put(d, sa->mob.probe);
	if (sa->link)
		ike_link_put(d, sa->link);
	ike_wipe(sa, sizeof(*sa));
	free(sa);
}

/* remove every child and the SA; an initiator starts over after a pause */
void ike_sa_die(struct ike_sa *sa, const char *why, bool restart)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_daemon *d = sa->d;
	bool initiator = c && c->initiator;
	uint32_t instance = sa->instance;

	ike_log(sa, "IKE SA down: %s", why);
	ike_child_drop_pending(sa);
	ike_children_remove(sa);
	sa->state = SA_DEAD;
	ike_sa_free(sa);
	if (restart && initiator && !d->stopping)
		ike_conn_restart(d, c, instance, c->retry_s, false);
}

/* the identity the peer proved (its ID payload's body) */
void ike_sa_set_peer_id(struct ike_sa *sa, const struct ike_pl *id)
{
	sa->peer_id_len = id->len <= sizeof(sa->peer_id) ? id->len : 0;
	memcpy(sa->peer_id, id->data, sa->peer_id_len);
}

/*
 * Two SAs with the same peer: the same conn and authenticated identity,
 * and for an IP-address identity also the same address at IKE_SA_INIT.
 */
bool ike_sa_same_peer(const struct ike_sa *a, const struct ike_sa *b)
{
	if (a->conf != b->conf || !a->peer_id_len || a->peer_id_len != b->peer_id_len ||
	    memcmp(a->peer_id, b->peer_id, a->peer_id_len))
		return false;
	if (a->peer_id[0] == ID_IPV4_ADDR || a->peer_id[0] == ID_IPV6_ADDR)
		return ike_ss_same_addr(&a->init_peer, &b->init_peer);
	return true;
}

/*
 * A responder's SAs by conn and authenticated identity (ike_sa_same_peer()).
 * The conn by its name, which a reload keeps (it moves the SAs to the new
 * conn of that name): by its address, the SAs up before a reload would sit
 * in buckets nothing looks in any more.  An address identity with its
 * address, as ike_sa_same_peer() compares them: NATed clients that all
 * name one private address do not share a bucket.
 */
uint64_t ike_sa_peer_hash(const struct ike_sa *sa)
{
	uint8_t k[sizeof(sa->conf->name) + sizeof(sa->peer_id) + 17];
	size_t n = strnlen(sa->conf->name, sizeof(sa->conf->name));

	memcpy(k, sa->conf->name, n);
	k[n++] = 0;
	memcpy(k + n, sa->peer_id, sa->peer_id_len);
	n += sa->peer_id_len;
	if (sa->peer_id_len && (sa->peer_id[0] == ID_IPV4_ADDR || sa->peer_id[0] == ID_IPV6_ADDR)) {
		k[n++] = (uint8_t)sa->init_peer.ss_family;
		memcpy(k + n, ike_ss_addr(&sa->init_peer), ike_ss_alen(&sa->init_peer));
		n += ike_ss_alen(&sa->init_peer);
	}
	return ike_sip(sa->d->sip, k, n);
}

/* an established responder's SA, found by its peer's INITIAL_CONTACT */
void ike_sa_peer_index(struct ike_sa *sa)
{
	if (!sa->conf || sa->conf->initiator || !sa->peer_id_len || sa->peer_node.pprev)
		return;
	/* without memory for the table, INITIAL_CONTACT misses it: DPD ends it */
	ike_htab_add(&sa->d->peers, &sa->peer_node, ike_sa_peer_hash(sa));
}

/*
 * A responder refused the peer in IKE_AUTH: nothing stays installed and
 * the half-open slot is free, but the SA answers a retransmission of the
 * request with the same refusal for a while, then goes.
 */
void ike_sa_fail(struct ike_sa *sa, const char *why)
{
	struct ike_daemon *d = sa->d;

	ike_log(sa, "IKE SA down: %s", why);
	ike_child_drop_pending(sa);
	ike_children_remove(sa);
	if (sa->half_counted && d->half_open)
		d->half_open--;
	sa->half_counted = false;
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	sa->state = SA_FAILED;
	sa->expire_at = d->now + FAILED_LINGER_MS;
	ike_sa_touch(sa);
}

/* a change of transport, logged once with its reason and shown by esptcp show */
void ike_sa_transition(struct ike_sa *sa, const char *why)
{
	snprintf(sa->why, sizeof(sa->why), "%s", why);
	sa->since = (uint64_t)time(NULL);
	ike_sa_touch(sa);
	ike_log(sa, "%s", why);
	ike_status_changed(sa->d);
}

void ike_sa_established(struct ike_sa *sa)
{
	char s[96], id[300];

	if (sa->half_counted && sa->d->half_open)
		sa->d->half_open--;
	sa->half_counted = false;
	ike_hlist_del(&sa->unauth_node);
	if (sa->inst_slot) {
		sa->inst_slot = false;
		ike_instance_settled(sa->d, sa->conf, sa->instance);
	}
	sa->state = SA_ESTABLISHED;
	ike_sa_peer_index(sa);
	ike_sa_touch(sa);
	ike_link_authed(sa->link);
	sa->rekey_at = ike_rekey_time(sa, sa->conf->ike_rekey_s);
	sa->d->st.sa_established++;
	ike_id_text(sa->peer_id[0], sa->peer_id + 4, sa->peer_id_len > 4 ? sa->peer_id_len - 4 : 0,
		    id, sizeof(id));
	ike_log(sa, "IKE SA established (%s, %s%s), peer %s by %s%s%s%s",
		ike_suite_str(&sa->suite, true, s, sizeof(s)),
		sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP",
		sa->nat_here || sa->nat_there ? ", behind NAT" : "",
		id, sa->conf->remote_auth == AUTHM_PUBKEY ? "certificate" :
		sa->conf->remote_auth == AUTHM_EAP ? "EAP-MSCHAPv2" : "PSK",
		sa->eap_group[0] ? " (group " : "", sa->eap_group, sa->eap_group[0] ? ")" : "");
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	sa->mob.created_nat = sa->nat_here || sa->nat_there;
	snprintf(sa->why, sizeof(sa->why), "established over %s",
		 sa->link->type == TRANSPORT_TCP ? "TCP" : "UDP");
	sa->since = (uint64_t)time(NULL);
	ike_status_changed(sa->d);
}

/*
 * An initiator conn starts again in delay_s (over TCP at once when asked);
 * a load generator's @instance on its own.
 */
void ike_conn_restart(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t instance,
		      unsigned int delay_s, bool tcp)
{
	size_t i = (size_t)(c - d->conf->conns);

	if (i >= d->conf->nconns)
		return;
	if (instance) {
		ike_instance_restart(d, c, instance, delay_s, tcp);
		return;
	}
	d->restart_at[i] = d->now + (uint64_t)delay_s * 1000;
	d->restart_tcp[i] = tcp;
	if (delay_s)
		fprintf(stderr, "esptcp[%s]: starting again in %u s\n", c->name, delay_s);
}
