/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp: internal declarations shared by the module's files.
 *
 * One struct esptcp_sock hangs off every TCP socket that carries the ULP
 * (inet_csk(sk)->icsk_ulp_data).  It lives from a successful attach until
 * the ULP release hook, which runs from the TCP destructor after close.
 */
#ifndef _ESPTCP_H
#define _ESPTCP_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <net/sock.h>
#include <net/inet_connection_sock.h>

#define ESPTCP_ULP_NAME "esptcp"
#define ESPTCP_LEN_SIZE		2	/* RFC 9329 length field */
#define ESPTCP_MARKER_SIZE	4	/* non-ESP marker, or the ESP SPI */

/* what one framed message carries (esptcp_frame_classify()) */
enum esptcp_frame {
	ESPTCP_FRAME_BAD,	/* length 0 or 1: the stream is unusable */
	ESPTCP_FRAME_SHORT,	/* too short to be IKE or ESP: drop, count */
	ESPTCP_FRAME_KEEPALIVE,	/* 1-byte 0xFF NAT keepalive: drop silently */
	ESPTCP_FRAME_IKE,	/* non-ESP marker + IKE message */
	ESPTCP_FRAME_ESP,	/* ESP packet, SPI first */
};

extern bool esptcp_allow_netns_admin;

/**
 * struct esptcp_sock - per-socket ULP state
 * @sk: the TCP socket
 * @saved_prot: the proto the socket had before attach, restored on close
 * @saved_ops: the proto_ops the socket had before attach
 * @rcu: frees the state after readers of icsk_ulp_data are done
 */
struct esptcp_sock {
	struct sock *sk;
	struct proto *saved_prot;
	const struct proto_ops *saved_ops;
	struct rcu_head rcu;
};

static inline struct esptcp_sock *esptcp_sk(const struct sock *sk)
{
	return (__force struct esptcp_sock *)inet_csk(sk)->icsk_ulp_data;
}

enum esptcp_frame esptcp_frame_classify(unsigned int len, const u8 *body,
					unsigned int avail);
unsigned int esptcp_frame_len(const u8 *hdr);
#ifdef ESPTCP_SELFTEST_BUILD
bool esptcp_frame_selftest(void);
#endif

int esptcp_ulp_init(void);
void esptcp_ulp_exit(void);

#endif /* _ESPTCP_H */
