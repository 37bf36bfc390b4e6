/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * esptcp: ESP-in-TCP (RFC 9329) as a TCP ULP - the user API.
 *
 * Socket API.  Attach with setsockopt(fd, IPPROTO_TCP, TCP_ULP, "esptcp", 6)
 * on an established TCP socket (CAP_NET_ADMIN).  From then on:
 *  - send() of one message (4-byte zero non-ESP marker + IKE message) puts
 *    one RFC 9329 frame on the stream; the kernel adds the length field.
 *    Messages over ESPTCP_MAX_MSG bytes fail with EMSGSIZE; the only flag
 *    accepted is MSG_DONTWAIT.
 *  - recv() returns exactly one IKE message (marker included, length field
 *    not), datagram style: MSG_TRUNC when the buffer is short, 0 at EOF;
 *    poll() reports POLLIN while a message is queued.
 *  - ESP travels between xfrm and the stream for the SAs bound to the
 *    socket (below), never through send()/recv().
 *
 * SA binding.  An SA is an ordinary ESP state made with `ip xfrm state`
 * (plain ESP, or "encap espinudp"), named by what names it in xfrm: its
 * destination address, its SPI and its mark.  Binding an outbound SA to a
 * socket steers the ESP packets xfrm builds for it into the stream; binding
 * an inbound SA lets ESP frames with its SPI arriving on the socket into
 * xfrm (frames for SPIs not bound to that socket are dropped and counted).
 * Binding an SA that is bound elsewhere moves it; unbinding an outbound SA
 * sends its packets the way xfrm would without esptcp (UDP or plain ESP).
 * The xfrm state is never modified, so sequence numbers and the replay
 * window carry on across moves.
 *
 * Bind through setsockopt(fd, SOL_ESPTCP, ESPTCP_SO_BIND, &struct
 * esptcp_sa, sizeof) on the attached socket, or through the generic
 * netlink family "esptcp" from any process in the socket's netns.
 */
#ifndef _UAPI_LINUX_ESPTCP_H
#define _UAPI_LINUX_ESPTCP_H

#include <linux/types.h>

#define ESPTCP_ULP_NAME		"esptcp"
#define ESPTCP_MAX_MSG		65533	/* largest message; 65535 with the length */

/* socket options on an attached socket */
#define SOL_ESPTCP		0x4554	/* "ET" */

enum {
	ESPTCP_SO_BIND = 1,	/* set: struct esptcp_sa */
	ESPTCP_SO_UNBIND,	/* set: struct esptcp_sa */
	ESPTCP_SO_STATS,	/* get: __u64[ESPTCP_STAT_MAX], fewer if short */
};

enum esptcp_dir {
	ESPTCP_DIR_IN = 1,	/* ESP from the stream into xfrm */
	ESPTCP_DIR_OUT = 2,	/* ESP from xfrm into the stream */
};

/**
 * struct esptcp_sa - an ESP state, as xfrm names it
 * @family: AF_INET or AF_INET6, of the state's addresses
 * @dir: enum esptcp_dir
 * @pad: reserved, zero
 * @spi: the SPI, network byte order
 * @mark: the state's mark value (0 for none)
 * @daddr: the state's destination address (4 or 16 bytes used)
 */
struct esptcp_sa {
	__u16	family;
	__u8	dir;
	__u8	pad;
	__be32	spi;
	__u32	mark;
	__u8	daddr[16];
};

/*
 * Counters, per socket and per network namespace.  Every drop has its
 * reason; bytes count the ESP packet or IKE message without framing.
 */
enum esptcp_stat {
	ESPTCP_STAT_RX_ESP_PKTS,	/* ESP frames handed to xfrm */
	ESPTCP_STAT_RX_ESP_BYTES,
	ESPTCP_STAT_TX_ESP_PKTS,	/* ESP packets written to the stream */
	ESPTCP_STAT_TX_ESP_BYTES,
	ESPTCP_STAT_RX_IKE_MSGS,	/* IKE messages queued to userspace */
	ESPTCP_STAT_RX_IKE_BYTES,
	ESPTCP_STAT_TX_IKE_MSGS,	/* IKE messages written to the stream */
	ESPTCP_STAT_TX_IKE_BYTES,
	ESPTCP_STAT_RX_KEEPALIVES,	/* 1-byte 0xFF keepalives, dropped */
	ESPTCP_STAT_RX_DROP_SHORT,	/* frames too short for IKE or ESP */
	ESPTCP_STAT_RX_DROP_NO_SA,	/* ESP for an SPI not bound to the socket */
	ESPTCP_STAT_RX_IKE_PAUSED,	/* parser paused: sk_rcvbuf of IKE unread */
	ESPTCP_STAT_RX_DROP_NOMEM,
	ESPTCP_STAT_RX_BAD_LENGTH,	/* length 0 or 1: the connection ends */
	ESPTCP_STAT_TX_DROP_QUEUE,	/* ESP dropped: queue or memory limits */
	ESPTCP_STAT_TX_DROP_CLOSED,	/* ESP dropped, connection gone */
	ESPTCP_STAT_TX_DROP_NOMEM,
	ESPTCP_STAT_TX_DROP_TOO_BIG,	/* ESP packet over ESPTCP_MAX_MSG */
	ESPTCP_STAT_TX_REORDERED,	/* packets held back to keep ESP order */
	ESPTCP_STAT_TX_SEQ_GAPS,	/* gaps in an SA's sequence given up on */
	ESPTCP_STAT_RX_ESP_PAUSED,	/* parser paused: ESP input backlog full */
	ESPTCP_STAT_MAX
};

/* generic netlink */
#define ESPTCP_GENL_NAME	"esptcp"
#define ESPTCP_GENL_VERSION	1

enum esptcp_cmd {
	ESPTCP_CMD_UNSPEC,
	ESPTCP_CMD_SA_BIND,	/* SOCK_FD or SOCK_INO, SA: bind (or move) */
	ESPTCP_CMD_SA_UNBIND,	/* SA (socket optional): unbind */
	/* dump: ESPTCP_A_SOCK per attached socket, several in a row for one with many bindings */
	ESPTCP_CMD_SOCK_GET,
	ESPTCP_CMD_STATS_GET,	/* do: the netns counters in ESPTCP_A_STATS */
	__ESPTCP_CMD_MAX,
};

#define ESPTCP_CMD_MAX (__ESPTCP_CMD_MAX - 1)

enum esptcp_attr {
	ESPTCP_A_UNSPEC,
	ESPTCP_A_SOCK_FD,	/* u32: a socket fd of the calling process */
	ESPTCP_A_SOCK_INO,	/* u64: the socket inode number (ss -e "ino:") */
	ESPTCP_A_SA,		/* nest of ESPTCP_SA_A_* */
	ESPTCP_A_SOCK,		/* nest of ESPTCP_SOCK_A_* (dump) */
	ESPTCP_A_STATS,		/* nest: attribute i + 1 is u64 counter i */
	ESPTCP_A_PAD,
	__ESPTCP_A_MAX,
};

#define ESPTCP_A_MAX (__ESPTCP_A_MAX - 1)

enum esptcp_sa_attr {
	ESPTCP_SA_A_UNSPEC,
	ESPTCP_SA_A_FAMILY,	/* u16 */
	ESPTCP_SA_A_DIR,	/* u8, enum esptcp_dir */
	ESPTCP_SA_A_SPI,	/* be32 */
	ESPTCP_SA_A_DADDR,	/* binary, 4 or 16 bytes */
	ESPTCP_SA_A_MARK,	/* u32, optional */
	/* u16, dump only (refused in requests): 0 or UDP_ENCAP_ESPINUDP */
	ESPTCP_SA_A_ENCAP,
	__ESPTCP_SA_A_MAX,
};

#define ESPTCP_SA_A_MAX (__ESPTCP_SA_A_MAX - 1)

enum esptcp_sock_attr {
	ESPTCP_SOCK_A_UNSPEC,
	ESPTCP_SOCK_A_INO,	/* u64: socket inode number */
	ESPTCP_SOCK_A_FAMILY,	/* u16 */
	ESPTCP_SOCK_A_LOCAL,	/* binary address, 4 or 16 bytes */
	ESPTCP_SOCK_A_REMOTE,
	ESPTCP_SOCK_A_LPORT,	/* u16, host order */
	ESPTCP_SOCK_A_RPORT,
	ESPTCP_SOCK_A_SA,	/* nest of ESPTCP_SA_A_*, one per binding */
	ESPTCP_SOCK_A_STATS,	/* nest, as ESPTCP_A_STATS */
	ESPTCP_SOCK_A_PAD,
	/* u32: memory (truesize) of the ESP queued or held back for TCP */
	ESPTCP_SOCK_A_QUEUED,
	__ESPTCP_SOCK_A_MAX,
};

#define ESPTCP_SOCK_A_MAX (__ESPTCP_SOCK_A_MAX - 1)

#endif /* _UAPI_LINUX_ESPTCP_H */
