/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The esptcp generic netlink family, as the test programs use it: one
 * request at a time on a socket of their own, through libmnl.
 */
#ifndef ESPTCP_TEST_GENL_H
#define ESPTCP_TEST_GENL_H

#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/esptcp.h>

struct tgenl {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t seq;
};

/* open a socket and resolve the family; 0 or -errno */
int tgenl_open(struct tgenl *g);
void tgenl_close(struct tgenl *g);
/*
 * Bind (ESPTCP_CMD_SA_BIND) or unbind (ESPTCP_CMD_SA_UNBIND) @sa; @ino 0
 * names no socket.  Returns 0 or the kernel's -errno.
 */
int tgenl_sa(struct tgenl *g, int cmd, uint64_t ino, const struct esptcp_sa *sa);
/* the same with an ESPTCP_SA_A_ENCAP attribute of @encap (dumps only have it) */
int tgenl_sa_encap(struct tgenl *g, int cmd, uint64_t ino, const struct esptcp_sa *sa,
		   uint16_t encap);
/* dump every attached socket; returns how many, or -errno */
int tgenl_dump(struct tgenl *g);
/*
 * Dump, and count the bindings of the socket of inode @ino, and in how
 * many messages they came (*parts); returns the bindings, or -errno.
 */
int tgenl_dump_sock(struct tgenl *g, uint64_t ino, int *parts);
/*
 * Dump, running @between after the first part came; 1 when a message said
 * NLM_F_DUMP_INTR (the table changed under the dump), 0 when none, -errno.
 */
int tgenl_dump_intr(struct tgenl *g, void (*between)(void *), void *arg);
/* the same, and the bindings of every socket the dump showed into *@sas */
int tgenl_dump_between(struct tgenl *g, void (*between)(void *), void *arg, int *sas);
/* the netns counters into @c (ESPTCP_STAT_MAX); 0 or -errno */
int tgenl_stats(struct tgenl *g, uint64_t *c);

#endif
