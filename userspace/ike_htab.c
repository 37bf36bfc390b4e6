// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: an intrusive hash table that doubles with its entries
 * (ike_htab.h).  Pure: no I/O.
 */
#include <errno.h>
#include <stdlib.h>

#include "ike_htab.h"

static void insert(struct ike_hnode **b, uint32_t nb, struct ike_hnode *e)
{
	ike_hlist_add(&b[e->hash & (nb - 1)], e);
}

/* twice the buckets, or -ENOMEM */
static int grow(struct ike_htab *t)
{
	uint32_t nb = t->nb ? t->nb * 2 : 64;
	struct ike_hnode **b;

	if (nb < t->nb)
		return -ENOMEM;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nb; i++) {
		while (t->b[i]) {
			struct ike_hnode *e = t->b[i];

			t->b[i] = e->next;
			insert(b, nb, e);
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

/**
 * ike_htab_add() - put an entry in the table
 * @t: the table
 * @e: the entry, in no table
 * @hash: its hash
 *
 * Return: 0, or -ENOMEM when the table has no buckets yet and none can be
 * had (a full table's chains grow instead).
 */
int ike_htab_add(struct ike_htab *t, struct ike_hnode *e, uint64_t hash)
{
	if (t->n >= t->nb && grow(t) && !t->nb)
		return -ENOMEM;
	e->hash = hash;
	insert(t->b, t->nb, e);
	t->n++;
	return 0;
}

/* take an entry out of its table; one in none is left alone */
void ike_htab_del(struct ike_htab *t, struct ike_hnode *e)
{
	if (ike_hlist_del(e))
		t->n--;
}

/* the first entry of @hash's bucket, or NULL */
struct ike_hnode *ike_htab_first(const struct ike_htab *t, uint64_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

void ike_htab_free(struct ike_htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}
