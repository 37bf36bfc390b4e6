// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: everything a CHILD_SA does in the kernel: its xfrm states
 * and policies, and its binding to a TCP connection in the esptcp module.
 * Keys come from ike_keys.c; nothing here decides what to negotiate.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "esptcp.h"
#include "ike_sa.h"

/* a free reqid of the helper's range (ike_reqid.c), or 0 when all are in use */
/* the kernel holds this SA's children (not a load generator's install = no) */
static bool in_kernel(const struct ike_sa *sa)
{
	return !sa->conf || sa->conf->install;
}

uint32_t ike_reqid_new(struct ike_daemon *d)
{
	return ike_reqid_take(d->reqids);
}

void ike_reqid_free(struct ike_daemon *d, uint32_t reqid)
{
	ike_reqid_give(d->reqids, reqid);
}

/*
 * The child structs by reqid: a rekey's twin and a reqid's last holder
 * are found without a walk of every SA's children.  Reqids are ours.
 */
static uint64_t reqid_hash(uint32_t reqid)
{
	return ((uint64_t)reqid * 0x9e3779b97f4a7c15ull) >> 20;
}

/*
 * The first child with @reqid that @want accepts: through the reqid index,
 * or a walk of every SA's children while one found no room in it.
 */
static struct ike_child *reqid_find(struct ike_daemon *d, uint32_t reqid,
				    bool (*want)(struct ike_child *c, const void *arg),
				    const void *arg)
{
	struct ike_hnode *e;

	if (d->child_reqids_missed) {
		for (struct ike_sa *sa = d->sas; sa; sa = sa->next)
			for (struct ike_child *c = sa->children; c; c = c->next)
				if (c->reqid == reqid && want(c, arg))
					return c;
		return NULL;
	}
	ike_htab_for_each(e, &d->child_reqids, reqid_hash(reqid)) {
		struct ike_child *c = ike_hnode_owner(e, struct ike_child, rq_node);

		if (c->reqid == reqid && want(c, arg))
			return c;
	}
	return NULL;
}

struct held_arg {
	const struct ike_child *gone;
	bool installed;
};

static bool holds(struct ike_child *c, const void *arg)
{
	const struct held_arg *h = arg;

	return c != h->gone && (c->installed || !h->installed);
}

/* a child other than @gone with @gone's reqid, installed if @installed */
static bool reqid_held(struct ike_daemon *d, uint32_t reqid, const struct ike_child *gone,
		       bool installed)
{
	struct held_arg h = { .gone = gone, .installed = installed };

	return reqid_find(d, reqid, holds, &h);
}

static bool installed_spi_in(struct ike_child *c, const void *arg)
{
	return c->installed && c->spi_in == *(const uint32_t *)arg;
}

/**
 * ike_child_installed_find() - the installed child with our SPI @spi_in and @reqid
 * @d: the daemon
 * @spi_in: the inbound SPI, network order
 * @reqid: its reqid
 *
 * Found through the reqid index, not a walk of every SA's children.
 *
 * Context: the event loop.
 * Return: the child (its SA is c->sa), or NULL.
 */
struct ike_child *ike_child_installed_find(struct ike_daemon *d, uint32_t spi_in, uint32_t reqid)
{
	return reqid_find(d, reqid, installed_spi_in, &spi_in);
}

/* a reqid goes back when no child of any SA, nor a pending one, has it */
static void reqid_release(struct ike_daemon *d, uint32_t reqid, const struct ike_child *gone)
{
	if (reqid_held(d, reqid, gone, false))
		return;
	/* the exchanges in flight: an SA's own field, not indexed */
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next)
		if (sa->req.pending.reqid == reqid && &sa->req.pending != gone)
			return;
	ike_reqid_free(d, reqid);
}

/* ESP in UDP, on IKE's own ports: only through a NAT (or when asked); 4500 alone is not enough */
bool ike_child_esp_in_udp(const struct ike_sa *sa)
{
	const struct ike_link *l = sa->link;

	return l->type == TRANSPORT_UDP && l->marker &&
	       (sa->nat_here || sa->nat_there || sa->conf->encap_force);
}

/* the keys of a new CHILD_SA into x, ours and the peer's by direction */
int ike_child_keys(struct ike_sa *sa, bool we_started, const uint8_t *gir, size_t girlen,
		   const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
		   struct xfrm_child *x)
{
	int err;

	err = ike_esp_keylen(&x->suite, &x->enc_len, &x->integ_len);
	if (err)
		return -EINVAL;
	return ike_child_keymat(sa->suite.prf, IKE_BYTES(sa->keys.sk_d, sa->keys.prf_len),
				IKE_BYTES(gir, girlen), IKE_BYTES(ni, nilen), IKE_BYTES(nr, nrlen),
				x->enc_len + x->integ_len, we_started ? x->key_out : x->key_in,
				we_started ? x->key_in : x->key_out);
}

void ike_child_xfrm(struct ike_sa *sa, const struct ike_child *c, struct xfrm_child *x)
{
	struct ike_link *l = sa->link;

	x->family = l->local.ss_family;
	memcpy(x->local, ike_ss_addr(&l->local), x->family == AF_INET ? 4 : 16);
	memcpy(x->remote, ike_ss_addr(&l->peer), x->family == AF_INET ? 4 : 16);
	x->spi_in = c->spi_in;
	x->spi_out = c->spi_out;
	x->reqid = c->reqid;
	x->suite = c->suite;
	x->local_ts = c->lts;
	x->remote_ts = c->rts;
	x->tunnel = sa->conf->tunnel;
	x->hard_s = 0;
	if (ike_child_esp_in_udp(sa)) {
		x->encap_sport = ike_ss_port(&l->local);
		x->encap_dport = ike_ss_port(&l->peer);
	}
}

static int ts_index(const struct ike_ts_set *set, const struct ike_ts *t)
{
	for (unsigned int i = 0; i < set->n; i++)
		if (!memcmp(&set->ts[i], t, sizeof(*t)))
			return (int)i;
	return -1;
}

/* does c hold the pair (l, r)?  Its indexes in *k, *m */
static bool holds_pair(const struct ike_child *c, const struct ike_ts *l, const struct ike_ts *r,
		       int *k, int *m)
{
	*k = ts_index(&c->lts, l);
	*m = ts_index(&c->rts, r);
	return *k >= 0 && *m >= 0;
}

/* the one host a selector covers, any ports and protocol aside; or NULL */
static const uint8_t *ts_host(const struct ike_ts *ts)
{
	size_t alen = ts->family == AF_INET ? 4 : 16;

	return memcmp(ts->start, ts->end, alen) ? NULL : ts->start;
}

static uint64_t ts_hash(const struct ike_daemon *d, uint8_t family, const uint8_t *a)
{
	uint8_t k[17] = { family };

	memcpy(k + 1, a, family == AF_INET ? 4 : 16);
	return ike_sip(d->sip, k, sizeof(k));
}

/* an installed child goes in the index by its peer's side */
static void ts_index_add(struct ike_daemon *d, struct ike_child *c)
{
	if (c->ts_node.pprev)
		return;
	/* without memory for the table, the list holds it: slower, as correct */
	c->ts_wide = true;
	if (c->rts.n == 1 && ts_host(&c->rts.ts[0]) &&
	    !ike_htab_add(&d->ts_hosts, &c->ts_node,
			  ts_hash(d, c->rts.ts[0].family, c->rts.ts[0].start))) {
		c->ts_wide = false;
		return;
	}
	ike_hlist_add(&d->ts_wide, &c->ts_node);
}

static void ts_index_del(struct ike_daemon *d, struct ike_child *c)
{
	if (c->ts_wide)
		ike_hlist_del(&c->ts_node);
	else
		ike_htab_del(&d->ts_hosts, &c->ts_node);
}

void ike_ts_index_free(struct ike_daemon *d)
{
	ike_htab_free(&d->ts_hosts);
	d->ts_wide = NULL;
	ike_htab_free(&d->child_reqids);
}

/* a child struct goes: out of the indexes first */
void ike_child_free(struct ike_sa *sa, struct ike_child *c)
{
	ts_index_del(sa->d, c);
	if (c->rq_node.pprev)
		ike_htab_del(&sa->d->child_reqids, &c->rq_node);
	else
		sa->d->child_reqids_missed--;
	free(c);
}

/* an IKE rekey gave @to its predecessor's children: they are its now */
void ike_children_moved(struct ike_sa *to)
{
	for (struct ike_child *c = to->children; c; c = c->next)
		c->sa = to;
}

/*
 * One installed child against the new selectors: 0 when it does not
 * overlap them or is the same peer's (then *pol says to replace), else the
 * SA that holds them.
 */
static struct ike_sa *ts_conflict(struct ike_sa *sa, const struct ike_child *c,
				  const struct ike_ts_set *lts, const struct ike_ts_set *rts,
				  enum ike_child_pol *pol)
{
	struct ike_sa *h = c->sa;

	if (h == sa || h->state == SA_DEAD || !c->installed ||
	    !ike_ts_set_overlap(&c->lts, lts) || !ike_ts_set_overlap(&c->rts, rts))
		return NULL;
	if (!ike_sa_same_peer(h, sa))
		return h;
	*pol = POL_REPLACE;
	return NULL;
}

/* every installed child, for a peer selector wider than one host */
static struct ike_sa *ts_walk_all(struct ike_sa *sa, const struct ike_ts_set *lts,
				  const struct ike_ts_set *rts, enum ike_child_pol *pol)
{
	for (struct ike_sa *h = sa->d->sas; h; h = h->next) {
		for (struct ike_child *c = h->children; c; c = c->next) {
			struct ike_sa *o = ts_conflict(sa, c, lts, rts, pol);

			if (o)
				return o;
		}
	}
	return NULL;
}

static struct ike_sa *ts_walk_wide(struct ike_sa *sa, const struct ike_ts_set *lts,
				   const struct ike_ts_set *rts, enum ike_child_pol *pol)
{
	for (struct ike_hnode *e = sa->d->ts_wide; e; e = e->next) {
		struct ike_sa *o = ts_conflict(sa, ike_hnode_owner(e, struct ike_child, ts_node),
					       lts, rts, pol);

		if (o)
			return o;
	}
	return NULL;
}

/* the children indexed by the host of @ts */
static struct ike_sa *ts_walk_host(struct ike_sa *sa, const struct ike_ts *ts,
				   const struct ike_ts_set *lts, const struct ike_ts_set *rts,
				   enum ike_child_pol *pol)
{
	struct ike_hnode *e;

	ike_htab_for_each(e, &sa->d->ts_hosts, ts_hash(sa->d, ts->family, ts->start)) {
		struct ike_sa *o = ts_conflict(sa, ike_hnode_owner(e, struct ike_child, ts_node),
					       lts, rts, pol);

		if (o)
			return o;
	}
	return NULL;
}

/**
 * ike_child_ts_check() - may this SA's new CHILD_SA have these selectors?
 * @sa: the SA
 * @lts: our side's selectors
 * @rts: the peer's
 * @pol: set to how its policies are to be installed
 *
 * Selectors belong to one peer: another peer's CHILD_SA that overlaps
 * them makes the answer TS_UNACCEPTABLE.  The same peer (a new IKE SA of
 * the same conn and identity, such as a client that came back without
 * INITIAL_CONTACT) takes them over.  When the peer's selectors are hosts
 * (a virtual address), only the children indexed by those hosts and those
 * with wider selectors can overlap them; otherwise every child is seen.
 *
 * Return: 0, or the notify type to refuse with.
 */
uint16_t ike_child_ts_check(struct ike_sa *sa, const struct ike_ts_set *lts,
			    const struct ike_ts_set *rts,
			    enum ike_child_pol *pol)
{
	struct ike_daemon *d = sa->d;
	bool hosts = rts->n > 0;
	struct ike_sa *o = NULL;

	*pol = POL_EXCL;
	for (unsigned int i = 0; i < rts->n && hosts; i++)
		hosts = ts_host(&rts->ts[i]) != NULL;
	if (!hosts) {
		o = ts_walk_all(sa, lts, rts, pol);
	} else {
		/* every installed child is indexed: by its host, or on the list */
		o = ts_walk_wide(sa, lts, rts, pol);
		for (unsigned int i = 0; i < rts->n && !o; i++)
			o = ts_walk_host(sa, &rts->ts[i], lts, rts, pol);
	}
	if (!o)
		return 0;
	*pol = POL_EXCL;
	if (ike_log_bad(d))
		ike_log(sa, "CHILD_SA refused: its selectors overlap another peer's SA %016llx",
			(unsigned long long)(o->initiator ? o->spi_i : o->spi_r));
	d->st.ts_refused++;
	return N_TS_UNACCEPTABLE;
}

/* who else holds a pair of selectors, when a child goes (policies_release()) */
struct pair_holder {
	const struct ike_child *gone;
	const struct ike_ts *l, *r;
	struct ike_child *h;	/* its twin, or the newest SA's holder */
	int hk, hm;		/* the pair's indexes in h */
	bool twin;		/* h has gone's reqid: it is its rekey */
};

static bool pair_held(struct pair_holder *w, struct ike_child *c)
{
	int k, m;

	if (c == w->gone || !c->installed || !holds_pair(c, w->l, w->r, &k, &m))
		return false;
	w->twin = c->reqid == w->gone->reqid;
	/* else the newest SA's, which the walk of d->sas (newest first) found first */
	if (!w->h || w->twin || c->sa->created > w->h->sa->created) {
		w->h = c;
		w->hk = k;
		w->hm = m;
	}
	return w->twin;
}

/*
 * The installed children that can hold @w's pair: a child holds the peer
 * selector r only if r is among its own, so it is indexed by r's host when
 * r is one host and that is its only peer selector, else on the wide list.
 */
static void pair_holders(struct ike_daemon *d, struct pair_holder *w)
{
	struct ike_hnode *e;

	/* every installed child is indexed (ts_index_add()) */
	for (e = d->ts_wide; e; e = e->next)
		if (pair_held(w, ike_hnode_owner(e, struct ike_child, ts_node)))
			return;
	if (!ts_host(w->r))
		return;
	ike_htab_for_each(e, &d->ts_hosts, ts_hash(d, w->r->family, w->r->start))
		if (pair_held(w, ike_hnode_owner(e, struct ike_child, ts_node)))
			return;
}

/*
 * Policies are keyed by selectors, one triple for each pair of a local and
 * a remote selector.  When a child goes, each of its pairs that another
 * installed child holds too stays: as it is for its rekeyed twin (same
 * reqid), pointed back at itself for the SA of the same peer that took it
 * over; every other pair is deleted.  Pair by pair, so a child whose
 * selectors only partly match another's never takes the other's away.
 */
static void policies_release(struct ike_sa *sa, struct ike_child *gone, struct xfrm_child *x)
{
	for (unsigned int i = 0; i < gone->lts.n; i++) {
		for (unsigned int j = 0; j < gone->rts.n; j++) {
			struct pair_holder w = { .gone = gone, .l = &gone->lts.ts[i],
						 .r = &gone->rts.ts[j] };

			pair_holders(sa->d, &w);
			if (w.twin)
				continue;
			if (w.h) {
				struct xfrm_child ox = { 0 };

				ike_child_xfrm(w.h->sa, w.h, &ox);
				if (xfrm_pair_add(sa->d->xfrm, &ox, (unsigned int)w.hk,
						  (unsigned int)w.hm, true))
					ike_log(w.h->sa, "taking back the policies of its CHILD_SA failed");
				else
					ike_log(w.h->sa, "its CHILD_SA carries the selectors again");
				ike_wipe(&ox, sizeof(ox));
				continue;
			}
			xfrm_pair_del(sa->d->xfrm, x, i, j);
		}
	}
}

/* a rekey's successor (or predecessor) still in place: the tunnel is not going down */
static bool has_twin(const struct ike_sa *sa, const struct ike_child *c)
{
	return reqid_held(sa->d, c->reqid, c, true);
}

void ike_child_remove(struct ike_sa *sa, struct ike_child *c, bool policies)
{
	struct xfrm_child x = { 0 };
	char b1[16], b2[16];

	if (!in_kernel(sa)) {
		if (c->installed)
			ike_log(sa, "CHILD_SA removed, in 0x%08x out 0x%08x (not in the kernel)",
				ntohl(c->spi_in), ntohl(c->spi_out));
		reqid_release(sa->d, c->reqid, c);
		return;
	}
	ike_child_xfrm(sa, c, &x);
	if (c->installed && policies)
		ike_vip_child_gone(sa, c);
	if (c->installed) {
		xfrm_del_state(sa->d->xfrm, x.family, x.local, c->spi_in);
		xfrm_del_state(sa->d->xfrm, x.family, x.remote, c->spi_out);
		if (policies)
			policies_release(sa, c, &x);
		snprintf(b1, sizeof(b1), "%08x", ntohl(c->spi_in));
		snprintf(b2, sizeof(b2), "%08x", ntohl(c->spi_out));
		ike_log(sa, "CHILD_SA removed, in 0x%s out 0x%s", b1, b2);
		/* the old SA of a rekey, or the redundant one of a collision: no "down" */
		if (policies && c->announced && !has_twin(sa, c))
			ike_updown(sa, c, "down");
	}
	reqid_release(sa->d, c->reqid, c);
	ike_wipe(&x, sizeof(x));
}

void ike_child_unlink(struct ike_sa *sa, struct ike_child *c)
{
	for (struct ike_child **p = &sa->children; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (sa->req.child == c)
		sa->req.child = NULL;
	if (sa->req.coll_old == c || sa->req.coll_new == c)
		sa->req.coll_old = sa->req.coll_new = NULL;
	ike_child_free(sa, c);
}

/*
 * Our inbound SPI for a child: reserved in the kernel, or (install = no)
 * random, above the range RFC 4303 reserves.  Network order.
 */
int ike_child_spi(struct ike_sa *sa, uint32_t reqid, uint32_t *spi)
{
	uint32_t r = 0;

	if (in_kernel(sa))
		return xfrm_alloc_spi(sa->d->xfrm, sa->link->local.ss_family,
				      ike_ss_addr(&sa->link->peer), ike_ss_addr(&sa->link->local),
				      reqid, spi);
	while (r < 256)
		if (ike_random((uint8_t *)&r, sizeof(r)))
			return -EIO;
	*spi = htonl(r);
	return 0;
}

/* a child is up: its rekey is due, and the pending one it was is done */
static int child_up(struct ike_sa *sa, struct ike_child *c)
{
	c->rekey_at = ike_rekey_time(sa, sa->conf->child_rekey_s);
	c->announced = true;
	if (sa->req.pending.spi_in == c->spi_in) {
		sa->req.pending.spi_in = 0;
		sa->req.pending.reqid = 0;
	}
	ike_status_changed(sa->d);
	return 0;
}

/* install = no: the child is negotiated and kept, the kernel never sees it */
static int install_nothing(struct ike_sa *sa, struct ike_child *c)
{
	c->installed = true;
	ts_index_add(sa->d, c);
	ike_log(sa, "CHILD_SA negotiated, in 0x%08x out 0x%08x (install = no: not in the kernel)",
		ntohl(c->spi_in), ntohl(c->spi_out));
	sa->d->st.child_installed++;
	return child_up(sa, c);
}

/*
 * Install the states, bind them to the TCP connection in the module, and
 * only then the policies: traffic never meets a state esptcp does not carry.
 */
int ike_child_install(struct ike_sa *sa, struct ike_child *c, struct xfrm_child *x,
		      enum ike_child_pol policies)
{
	int err;

	if (!in_kernel(sa))
		return install_nothing(sa, c);
	ike_child_xfrm(sa, c, x);
	err = xfrm_add_states(sa->d->xfrm, x);
	if (err) {
		ike_log(sa, "installing CHILD_SA states failed: %s", strerror(-err));
		xfrm_del_state(sa->d->xfrm, x->family, x->local, c->spi_in);
		return err;
	}
	c->installed = true;
	ts_index_add(sa->d, c);
	if (sa->link->type == TRANSPORT_TCP) {
		err = ike_child_bind(sa->d, sa, c);
		if (err) {
			ike_child_remove(sa, c, false);
			c->installed = false;
			return err;
		}
	}
	if (policies != POL_NONE) {
		err = xfrm_add_policies(sa->d->xfrm, x, policies == POL_REPLACE);
		if (err) {
			ike_log(sa, "installing policies failed: %s%s", strerror(-err),
				err == -EEXIST ? " (another policy has these selectors)" : "");
			/* replacing: what it pointed at c goes back to its holders */
			ike_child_remove(sa, c, policies == POL_REPLACE);
			c->installed = false;
			return err;
		}
	}
	ike_log(sa, "CHILD_SA installed, in 0x%08x out 0x%08x reqid %u%s", ntohl(c->spi_in),
		ntohl(c->spi_out), c->reqid,
		sa->link->type == TRANSPORT_TCP ? " (bound to the TCP connection)" :
		x->encap_sport ? " (ESP in UDP)" : "");
	if (c->lts.n > 1 || c->rts.n > 1) {
		char l[512], r[512];

		ike_log(sa, "CHILD_SA selectors %s === %s", ike_ts_set_str(&c->lts, l, sizeof(l)),
			ike_ts_set_str(&c->rts, r, sizeof(r)));
	}
	sa->d->st.child_installed++;
	/* a rekey's successor is its predecessor's tunnel: no second "up" */
	if (policies != POL_NONE) {
		ike_vip_child_up(sa, c);
		ike_updown(sa, c, "up");
	}
	return child_up(sa, c);
}

/* a child that never came: remove its larval state, give back its reqid */
void ike_child_drop_pending(struct ike_sa *sa)
{
	struct ike_child *p = &sa->req.pending;
	bool installed = false;

	for (struct ike_child *c = sa->children; c; c = c->next)
		installed |= p->spi_in && c->spi_in == p->spi_in;
	if (!installed && p->spi_in && sa->link && in_kernel(sa))
		xfrm_del_state(sa->d->xfrm, sa->link->local.ss_family,
			       ike_ss_addr(&sa->link->local), p->spi_in);
	if (p->reqid)
		reqid_release(sa->d, p->reqid, p);
	p->spi_in = 0;
	p->reqid = 0;
}

/* remove every child; policies go with the last child of their reqid */
void ike_children_remove(struct ike_sa *sa)
{
	while (sa->children) {
		struct ike_child *c = sa->children;

		sa->children = c->next;
		ike_child_remove(sa, c, true);
		ike_child_free(sa, c);
	}
	sa->req.child = NULL;
	sa->req.coll_old = sa->req.coll_new = NULL;
}

struct ike_child *ike_child_add(struct ike_sa *sa, const struct ike_child *tmpl)
{
	struct ike_child *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *tmpl;
	c->sa = sa;
	c->ts_node = (struct ike_hnode){ 0 };
	c->ts_wide = false;
	c->rq_node = (struct ike_hnode){ 0 };
	if (ike_htab_add(&sa->d->child_reqids, &c->rq_node, reqid_hash(c->reqid)))
		sa->d->child_reqids_missed++;
	c->next = sa->children;
	sa->children = c;
	return c;
}

/* the module's names of a child's two states: inbound at our address, outbound at theirs */
static void child_sas(const struct ike_sa *sa, const struct ike_child *c, struct esptcp_sa *in,
		      struct esptcp_sa *out)
{
	const struct ike_link *l = sa->link;

	memset(in, 0, sizeof(*in));
	memset(out, 0, sizeof(*out));
	in->family = out->family = l->local.ss_family;
	in->dir = ESPTCP_DIR_IN;
	out->dir = ESPTCP_DIR_OUT;
	in->spi = c->spi_in;
	out->spi = c->spi_out;
	memcpy(in->daddr, ike_ss_addr(&l->local), ike_ss_alen(&l->local));
	memcpy(out->daddr, ike_ss_addr(&l->peer), ike_ss_alen(&l->peer));
}

/* over TCP: the module carries the child's ESP on the SA's connection */
int ike_child_bind(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c)
{
	struct esptcp_sock_ref ref = { .fd = sa->link->fd };
	struct esptcp_sa in, out;
	int err;

	if (!in_kernel(sa))
		return 0;
	if (!d->nl)
		return -ENOTSUP;
	child_sas(sa, c, &in, &out);
	err = esptcp_nl_sa_bind(d->nl, &ref, &in);
	if (!err)
		err = esptcp_nl_sa_bind(d->nl, &ref, &out);
	if (err)
		ike_log(sa, "binding the CHILD_SA to the connection failed: %s%s%s",
			strerror(-err), esptcp_nl_ext_msg(d->nl) ? ": " : "",
			esptcp_nl_ext_msg(d->nl) ? esptcp_nl_ext_msg(d->nl) : "");
	return err;
}

/*
 * Back to UDP: the SA's ESP goes the way xfrm sends it.  One direction at a
 * time: outbound at once, inbound after the overlap (ike_mobility.c), so
 * that what was in flight on the connection still arrives.
 */
int ike_child_unbind(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c, bool inbound)
{
	struct esptcp_sa in, out;
	int err;

	if (!d->nl || !in_kernel(sa))
		return 0;
	child_sas(sa, c, &in, &out);
	err = esptcp_nl_sa_unbind(d->nl, NULL, inbound ? &in : &out);
	/* an SA that was not bound (its connection closed first) is fine */
	return err == -ENOENT ? 0 : err;
}

/* packets through a child's inbound and outbound states so far */
int ike_child_counts(struct ike_sa *sa, const struct ike_child *c, struct xfrm_counts *in,
		     struct xfrm_counts *out)
{
	struct xfrm_child x = { 0 };
	int err;

	if (!in_kernel(sa))
		return -ENOENT;
	ike_child_xfrm(sa, c, &x);
	err = xfrm_state_counts(sa->d->xfrm, x.family, x.local, c->spi_in, in);
	if (!err)
		err = xfrm_state_counts(sa->d->xfrm, x.family, x.remote, c->spi_out, out);
	return err;
}

/* @st is @c's inbound or outbound state: its bytes are @c's; every child of the reqid is seen */
static bool count_one(struct ike_child *c, const void *arg)
{
	const struct xfrm_state_seen *st = arg;
	const struct ike_link *l = c->sa ? c->sa->link : NULL;
	size_t alen = st->family == AF_INET ? 4 : 16;

	if (!c->installed || !l || !in_kernel(c->sa) || l->local.ss_family != st->family)
		return false;
	if (st->spi == c->spi_in && !memcmp(ike_ss_addr(&l->local), st->daddr, alen))
		c->bytes_in = st->c.bytes;
	else if (st->spi == c->spi_out && !memcmp(ike_ss_addr(&l->peer), st->daddr, alen))
		c->bytes_out = st->c.bytes;
	return false;
}

/* a state of the dump: the bytes of the child whose inbound or outbound it is */
static void counts_seen(const struct xfrm_state_seen *st, void *data)
{
	reqid_find(data, st->reqid, count_one, st);
}

/**
 * ike_children_counts_read() - every installed child's bytes, in one dump of the kernel's states
 * @d: the daemon
 *
 * A gateway's status file gives each lease the bytes of its CHILD_SAs;
 * a round trip per state would cost thousands of them per write.  A child
 * keeps the figures of the last read (bytes_in, bytes_out).
 *
 * Context: the event loop.
 * Return: 0, or a negative errno from the dump.
 */
int ike_children_counts_read(struct ike_daemon *d)
{
	return xfrm_states_counts(d->xfrm, d->conf->reqid_base, 0xffff0000, counts_seen, d);
}
