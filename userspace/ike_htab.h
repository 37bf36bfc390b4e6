/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: an intrusive hash table (ike_htab.c).  The user embeds a
 * struct ike_hnode in its object, computes the hash (SipHash under the
 * helper's key for whatever a peer chooses), and walks a bucket comparing
 * its own keys.  The buckets double with the entries; without memory for
 * more, the chains grow instead.  Pure: no I/O.
 */
#ifndef ESPTCP_IKE_HTAB_H
#define ESPTCP_IKE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct ike_hnode {
	struct ike_hnode *next, **pprev;
	uint64_t hash;
};

struct ike_htab {
	struct ike_hnode **b;	/* nb buckets, a power of two */
	uint32_t nb, n;
};

/* a list of hnodes (a bucket, or a list of its own): in at the head, out in O(1) */
static inline void ike_hlist_add(struct ike_hnode **head, struct ike_hnode *e)
{
	e->next = *head;
	if (*head)
		(*head)->pprev = &e->next;
	*head = e;
	e->pprev = head;
}

/* out of its list; false when it was in none */
static inline int ike_hlist_del(struct ike_hnode *e)
{
	if (!e->pprev)
		return 0;
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
	return 1;
}

int ike_htab_add(struct ike_htab *t, struct ike_hnode *e, uint64_t hash);
void ike_htab_del(struct ike_htab *t, struct ike_hnode *e);
struct ike_hnode *ike_htab_first(const struct ike_htab *t, uint64_t hash);
void ike_htab_free(struct ike_htab *t);

/* the entries of @hash's bucket (others too: compare the keys) */
#define ike_htab_for_each(pos, t, hash) \
	for ((pos) = ike_htab_first((t), (hash)); (pos); (pos) = (pos)->next)

#define ike_hnode_owner(e, type, member) \
	((type *)((char *)(e) - offsetof(type, member)))

#endif
