// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the virtual address pool of a gateway (RFC 7296 3.15),
 * leases keyed by identity.  Pure: time comes in as an argument.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ike.h"
#include "ike_pool.h"

static size_t alen(const struct ike_pool *p)
{
	return p->family == AF_INET ? 4 : 16;
}

/* the low 32 bits of an address, and the address with them replaced */
static uint32_t low32(const uint8_t *a, size_t len)
{
	const uint8_t *l = a + len - 4;

	return (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
}

static void set_low32(uint8_t *a, size_t len, uint32_t v)
{
	uint8_t *l = a + len - 4;

	l[0] = (uint8_t)(v >> 24);
	l[1] = (uint8_t)(v >> 16);
	l[2] = (uint8_t)(v >> 8);
	l[3] = (uint8_t)v;
}

/**
 * ike_pool_init() - a pool of the addresses first..last
 * @p: the pool
 * @family: AF_INET or AF_INET6
 * @first: the first address
 * @last: the last; it must differ from @first in the low 32 bits only,
 *	and the pool holds at most IKE_POOL_MAX addresses
 *
 * Return: 0, -EINVAL for a range that is empty or too large, or -ENOMEM.
 */
int ike_pool_init(struct ike_pool *p, int family, const uint8_t *first, const uint8_t *last)
{
	size_t len = family == AF_INET ? 4 : 16;
	uint32_t lo, hi;

	memset(p, 0, sizeof(*p));
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (memcmp(first, last, len - 4))
		return -EINVAL;
	lo = low32(first, len);
	hi = low32(last, len);
	if (hi < lo || hi - lo >= IKE_POOL_MAX)
		return -EINVAL;
	p->size = hi - lo + 1;
	for (p->id_buckets = 1; p->id_buckets < p->size; p->id_buckets *= 2)
		;
	p->leases = calloc(p->size, sizeof(*p->leases));
	p->by_id = calloc(p->id_buckets, sizeof(*p->by_id));
	p->id_next = calloc(p->size, sizeof(*p->id_next));
	p->free_heap = calloc(p->size, sizeof(*p->free_heap));
	/* identities are the peers' choice: their buckets under a key of ours */
	p->sip = ike_sip_new();
	if (!p->leases || !p->by_id || !p->id_next || !p->free_heap || !p->sip) {
		ike_pool_free(p);
		return -ENOMEM;
	}
	p->family = family;
	memcpy(p->start, first, len);
	return 0;
}

void ike_pool_free(struct ike_pool *p)
{
	for (uint32_t i = 0; p->leases && i < p->size; i++)
		free(p->leases[i].id);
	free(p->leases);
	free(p->by_id);
	free(p->id_next);
	free(p->free_heap);
	ike_sip_free(p->sip);
	memset(p, 0, sizeof(*p));
}

/* address number i of the pool */
void ike_pool_addr(const struct ike_pool *p, uint32_t i, uint8_t *addr)
{
	memcpy(addr, p->start, alen(p));
	set_low32(addr, alen(p), low32(p->start, alen(p)) + i);
}

static bool held_by(const struct ike_lease *l, uint8_t id_type, const void *id, size_t idlen)
{
	return l->id && l->id_type == id_type && l->idlen == idlen && !memcmp(l->id, id, idlen);
}

static uint32_t id_bucket(const struct ike_pool *p, uint8_t id_type, const void *id, size_t idlen)
{
	uint64_t h = ike_sip(p->sip, id, idlen) ^ id_type;

	return (uint32_t)(h ^ h >> 32) & (p->id_buckets - 1);
}

/* the lease @l takes an identity (@copy, the pool's own): indexed by it */
static void set_id(struct ike_pool *p, struct ike_lease *l, uint8_t id_type, uint8_t *copy,
		   size_t idlen)
{
	uint32_t n = (uint32_t)(l - p->leases), b;

	if (l->id) {
		/* the identity it held before leaves its chain */
		b = id_bucket(p, l->id_type, l->id, l->idlen);
		for (uint32_t *x = &p->by_id[b]; *x; x = &p->id_next[*x - 1]) {
			if (*x - 1 == n) {
				*x = p->id_next[n];
				break;
			}
		}
		free(l->id);
	}
	l->id = copy;
	l->idlen = idlen;
	l->id_type = id_type;
	b = id_bucket(p, id_type, copy, idlen);
	p->id_next[n] = p->by_id[b];
	p->by_id[b] = n + 1;
}

/*
 * The free heap: the leases no SA uses, the one whose grace period ends
 * first on top (the lower address of two that end together), so that an
 * exhausted pool finds the one to reuse without a scan of every lease.
 */
static bool free_before(const struct ike_pool *p, uint32_t a, uint32_t b)
{
	const struct ike_lease *x = &p->leases[a], *y = &p->leases[b];

	return x->free_at < y->free_at || (x->free_at == y->free_at && a < b);
}

static void free_place(struct ike_pool *p, uint32_t at, uint32_t n)
{
	p->free_heap[at] = n;
	p->leases[n].heap_at = at + 1;
}

/* the lease at place @at goes up or down to where it belongs */
static void free_fix(struct ike_pool *p, uint32_t at)
{
	uint32_t n = p->free_heap[at];

	while (at && free_before(p, n, p->free_heap[(at - 1) / 2])) {
		free_place(p, at, p->free_heap[(at - 1) / 2]);
		at = (at - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * at + 1;

		if (c >= p->nfree)
			break;
		if (c + 1 < p->nfree && free_before(p, p->free_heap[c + 1], p->free_heap[c]))
			c++;
		if (!free_before(p, p->free_heap[c], n))
			break;
		free_place(p, at, p->free_heap[c]);
		at = c;
	}
	free_place(p, at, n);
}

/* no SA uses @l now: it waits for its grace period's end */
static void free_add(struct ike_pool *p, struct ike_lease *l)
{
	if (l->heap_at)
		return;
	free_place(p, p->nfree++, (uint32_t)(l - p->leases));
	free_fix(p, p->nfree - 1);
}

/* an SA uses @l again */
static void free_del(struct ike_pool *p, struct ike_lease *l)
{
	uint32_t at = l->heap_at;

	if (!at)
		return;
	l->heap_at = 0;
	if (at - 1 == --p->nfree)
		return;
	free_place(p, at - 1, p->free_heap[p->nfree]);
	free_fix(p, at - 1);
}

/* the lease an identity holds or held, or NULL */
static struct ike_lease *lease_of(const struct ike_pool *p, uint8_t id_type, const void *id,
				  size_t idlen)
{
	for (uint32_t x = p->by_id[id_bucket(p, id_type, id, idlen)]; x; x = p->id_next[x - 1])
		if (held_by(&p->leases[x - 1], id_type, id, idlen))
			return &p->leases[x - 1];
	return NULL;
}

/**
 * ike_pool_acquire() - an address for an identity
 * @p: the pool
 * @id_type: the identity's type (ID_*)
 * @id: its value
 * @idlen: its length
 * @now: the time, in ms
 * @addr: set to the address
 *
 * The identity's own lease first, in use by another of its SAs or in its
 * grace period (a reconnect, a failover, a second SA of the same client
 * get the same address); then an address never leased; then the one
 * whose grace period ended first.
 *
 * Return: 0, -ENOSPC when every address is in use or in another
 * identity's grace period, or -ENOMEM.
 */
int ike_pool_acquire(struct ike_pool *p, uint8_t id_type, const void *id, size_t idlen,
		     uint64_t now, uint8_t *addr)
{
	struct ike_lease *best = NULL, *l;
	uint8_t *copy;

	l = lease_of(p, id_type, id, idlen);
	if (l) {
		free_del(p, l);
		l->users++;
		ike_pool_addr(p, (uint32_t)(l - p->leases), addr);
		return 0;
	}
	/* an identity never goes from a lease but for another's: fresh only grows */
	while (p->fresh < p->size && p->leases[p->fresh].id)
		p->fresh++;
	if (p->fresh < p->size)
		best = &p->leases[p->fresh];
	/* none left that was never leased: the grace period that ended first */
	if (!best && p->nfree && p->leases[p->free_heap[0]].free_at <= now)
		best = &p->leases[p->free_heap[0]];
	if (!best)
		return -ENOSPC;
	copy = malloc(idlen ? idlen : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, id, idlen);
	free_del(p, best);
	set_id(p, best, id_type, copy, idlen);
	best->users = 1;
	best->free_at = 0;
	best->since = now;
	ike_pool_addr(p, (uint32_t)(best - p->leases), addr);
	return 0;
}

/**
 * ike_pool_restore() - a lease from before a restart, free and kept for its identity
 * @p: the pool
 * @addr: the address
 * @id_type: the identity's ID type
 * @id: its ID data
 * @idlen: its length
 * @since: when it was leased (ms, on this run's clock)
 * @free_at: when its grace period ends (ms)
 *
 * Return: 0, -ENOENT for an address not in the pool, -EEXIST when its lease
 * has an identity already, or -ENOMEM.
 */
int ike_pool_restore(struct ike_pool *p, const uint8_t *addr, uint8_t id_type, const void *id,
		     size_t idlen, uint64_t since, uint64_t free_at)
{
	struct ike_lease *l = ike_pool_lease(p, addr);
	uint8_t *copy;

	if (!l)
		return -ENOENT;
	if (l->id)
		return -EEXIST;
	copy = malloc(idlen ? idlen : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, id, idlen);
	*l = (struct ike_lease){ .free_at = free_at, .since = since };
	set_id(p, l, id_type, copy, idlen);
	free_add(p, l);
	return 0;
}

/**
 * ike_pool_hold() - one more user of a given address, for an identity
 * @p: the pool
 * @addr: the address
 * @id_type: the identity's ID type
 * @id: its ID data
 * @idlen: its length
 * @now: the time, in ms
 *
 * A reloaded pool takes back the addresses its conn's live SAs have.
 *
 * Return: 0, -ENOENT for an address not in the pool, -EBUSY when another
 * identity holds it, or -ENOMEM.
 */
int ike_pool_hold(struct ike_pool *p, const uint8_t *addr, uint8_t id_type, const void *id,
		  size_t idlen, uint64_t now)
{
	struct ike_lease *l = ike_pool_lease(p, addr);

	if (!l)
		return -ENOENT;
	if (l->id && !held_by(l, id_type, id, idlen))
		return -EBUSY;
	if (!l->id) {
		int err = ike_pool_restore(p, addr, id_type, id, idlen, now, 0);

		if (err)
			return err;
	}
	free_del(p, l);
	l->users++;
	l->free_at = 0;
	return 0;
}

/**
 * ike_pool_lease() - the lease of an address of the pool
 * @p: the pool
 * @addr: the address
 *
 * Return: its lease (held or not), or NULL when the address is not the pool's.
 */
struct ike_lease *ike_pool_lease(const struct ike_pool *p, const uint8_t *addr)
{
	size_t len = alen(p);
	uint32_t i;

	if (!p->leases || memcmp(addr, p->start, len - 4) ||
	    low32(addr, len) < low32(p->start, len))
		return NULL;
	i = low32(addr, len) - low32(p->start, len);
	return i < p->size ? &p->leases[i] : NULL;
}

/**
 * ike_pool_release() - an SA gives its address back
 * @p: the pool
 * @addr: the address
 * @now: the time, in ms
 * @grace_ms: how long the address stays its identity's once no SA uses it
 *
 * Return: 0, or -ENOENT when the address is not leased from this pool.
 */
int ike_pool_release(struct ike_pool *p, const uint8_t *addr, uint64_t now, uint64_t grace_ms)
{
	struct ike_lease *l = ike_pool_lease(p, addr);

	if (!l || !l->id || !l->users)
		return -ENOENT;
	if (--l->users == 0) {
		l->free_at = now + grace_ms;
		free_add(p, l);
	}
	return 0;
}
