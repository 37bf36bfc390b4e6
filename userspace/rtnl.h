/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: routing netlink for a client's virtual address (rtnl.c):
 * addresses, routes of a table, the rule to the table, the route to a peer.
 */
#ifndef ESPTCP_RTNL_H
#define ESPTCP_RTNL_H

#include <stdbool.h>
#include <stdint.h>

struct rtnl;

/* the protocol of what we add (rt_protos: unassigned), to know it again */
#define RTNL_PROTO_ESPTCP	229

struct rtnl_route {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t dst[16];
	unsigned int plen;
	bool has_gw, has_src;
	uint8_t gw[16], src[16];
	int oif;		/* 0: none given */
	uint32_t table;
	unsigned int type;	/* rtnl_route_get(): RTN_* */
};

struct rtnl *rtnl_open(void);
void rtnl_close(struct rtnl *r);
int rtnl_addr(struct rtnl *r, bool add, int family, const uint8_t *addr, unsigned int plen,
	      int ifindex);
int rtnl_route(struct rtnl *r, bool add, const struct rtnl_route *rt);
int rtnl_rule(struct rtnl *r, bool add, int family, uint32_t table, uint32_t prio);
int rtnl_route_get(struct rtnl *r, int family, const uint8_t *dst, struct rtnl_route *rt);
int rtnl_flush_ours(struct rtnl *r);

#endif
