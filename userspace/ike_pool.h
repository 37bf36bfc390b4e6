/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: a pool of virtual addresses a gateway leases to its clients
 * (ike_pool.c), keyed by the client's authenticated identity: the same
 * identity gets the same address again on reconnect, failover and rekey,
 * and a released address stays the identity's for a grace period.  No I/O
 * and no SA state; ike_unit tests it directly.
 */
#ifndef ESPTCP_IKE_POOL_H
#define ESPTCP_IKE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IKE_POOL_MAX	65536	/* addresses in one pool */

struct ike_lease {
	uint8_t *id;		/* the identity that holds or held it; NULL: never leased */
	size_t idlen;
	uint8_t id_type;
	unsigned int users;	/* IKE SAs using it now */
	uint64_t free_at;	/* ms: when its grace period ends (users == 0) */
	uint64_t since;		/* ms: when it was leased to its identity */
	uint32_t heap_at;	/* its place in the pool's free heap + 1; 0: not in it */
};

struct ike_sip;

struct ike_pool {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t start[16];	/* the first address */
	uint32_t size;
	struct ike_lease *leases;
	/* the leases by identity: chains of lease numbers + 1 (0 ends one) */
	uint32_t *by_id, *id_next;
	uint32_t id_buckets;	/* a power of two, at least size */
	struct ike_sip *sip;	/* the buckets' hash, under a key of the pool's */
	uint32_t fresh;		/* no lease before it was never leased */
	/* the leases no SA uses, by when their grace period ends: numbers */
	uint32_t *free_heap;
	uint32_t nfree;
};

int ike_pool_init(struct ike_pool *p, int family, const uint8_t *first, const uint8_t *last);
void ike_pool_free(struct ike_pool *p);
int ike_pool_acquire(struct ike_pool *p, uint8_t id_type, const void *id, size_t idlen,
		     uint64_t now, uint8_t *addr);
int ike_pool_release(struct ike_pool *p, const uint8_t *addr, uint64_t now, uint64_t grace_ms);
struct ike_lease *ike_pool_lease(const struct ike_pool *p, const uint8_t *addr);
int ike_pool_hold(struct ike_pool *p, const uint8_t *addr, uint8_t id_type, const void *id,
		  size_t idlen, uint64_t now);
int ike_pool_restore(struct ike_pool *p, const uint8_t *addr, uint8_t id_type, const void *id,
		     size_t idlen, uint64_t since, uint64_t free_at);
void ike_pool_addr(const struct ike_pool *p, uint32_t i, uint8_t *addr);

#endif
