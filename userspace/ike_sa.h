/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: the IKE helper's state, shared by the exchanges (ike_sa.c)
 * and the event loop (ike_daemon.c).  One thread; no locking.
 */
#ifndef ESPTCP_IKE_SA_H
#define ESPTCP_IKE_SA_H

#include "ike.h"

struct esptcp_nl;

enum link_stage {
	LINK_CONNECTING,	/* initiator: TCP connect in progress */
	LINK_PREFIX,		/* responder: waiting for "IKETCP" */
	LINK_READY,
	LINK_DEAD,
};

/* how messages reach a peer: a TCP connection of ours, or a shared UDP socket */
struct ike_link {
	int kind;		/* first: the event loop's tag */
	struct ike_link *next;
	int refs;
	enum ike_transport type;
	enum link_stage stage;
	int fd;
	bool marker;		/* a non-ESP marker precedes IKE (TCP, UDP 4500) */
	struct sockaddr_storage local, peer;
	size_t prefix_got;
	uint64_t deadline;	/* ms: PREFIX/CONNECTING, or unauthenticated */
	uint64_t dead_since;	/* ms: when a TCP connection closed */
	bool authed;		/* an authenticated message arrived on it */
	const char *closing;	/* close it after this event batch, for this reason */
	struct ike_sa *waiting;	/* initiator: SA to start once connected */
};

struct ike_child {
	struct ike_child *next;
	uint32_t spi_in, spi_out;	/* network order */
	uint32_t reqid;
	struct ike_suite suite;
	struct ike_ts lts, rts;
	uint64_t rekey_at;
	bool installed;
};

enum sa_state {
	SA_INIT_SENT,		/* initiator: IKE_SA_INIT out */
	SA_AUTH_SENT,		/* initiator: IKE_AUTH out */
	SA_HALF_OPEN,		/* responder: IKE_SA_INIT answered */
	SA_ESTABLISHED,
	SA_DELETING,		/* DELETE sent, or replaced by a rekey */
	SA_DEAD,
};

enum req_kind {
	REQ_NONE,
	REQ_INIT,
	REQ_AUTH,
	REQ_DPD,
	REQ_REKEY_CHILD,
	REQ_REKEY_IKE,
	REQ_DELETE_CHILD,
	REQ_DELETE_IKE,
	REQ_PROBE,		/* UPDATE_SA_ADDRESSES over UDP (MOBIKE) */
	REQ_RESYNC,		/* INFORMATIONAL on a new TCP connection */
};

struct ike_daemon;

struct ike_sa {
	struct ike_sa *next;
	struct ike_daemon *d;
	const struct ike_conn_conf *conf;
	bool initiator;
	enum sa_state state;
	uint64_t spi_i, spi_r;
	struct ike_suite suite;
	struct ike_keys keys;
	bool have_keys;
	struct ike_dh *dh;
	uint16_t group;
	uint8_t ni[256], nr[256];
	size_t ni_len, nr_len;
	struct ike_buf init_req, init_resp;	/* kept for AUTH */
	uint8_t cookie[64];
	size_t cookie_len;
	unsigned int init_tries;
	struct ike_link *link;
	bool nat_here, nat_there;

	uint32_t next_req;		/* our next request's message ID */
	uint32_t peer_next;		/* the peer's next request's message ID */
	struct ike_buf last_resp;	/* for a retransmitted request */
	bool have_last_resp;

	/* our one outstanding request (window size 1) */
	enum req_kind req;
	struct ike_buf req_msg;
	uint64_t req_sent, req_next_tx;
	unsigned int req_tries;
	struct ike_child *req_child;		/* the child a rekey/delete is about */
	struct ike_child pending;		/* the child being negotiated */
	struct ike_dh *req_dh;			/* PFS or IKE rekey exchange */
	uint8_t req_nonce[256];
	size_t req_nonce_len;
	uint64_t req_new_spi;			/* IKE rekey: our new SPI */

	struct ike_child *children;
	bool mobike;			/* negotiated in IKE_AUTH */

	/* transport changes (udp-fallback-tcp, TCP reconnects, MOBIKE) */
	uint64_t fallback_at;		/* IKE_SA_INIT over UDP: TCP from then on */
	struct ike_link *moving;	/* a TCP connection being opened for us */
	unsigned int reconnects;
	uint64_t reconnect_at;
	uint64_t esp_check_at, esp_stall_since;
	uint64_t esp_in, esp_out;	/* packets on the first child's states */
	struct ike_link *probe;		/* UDP path being probed (MOBIKE) */
	uint64_t probe_at;
	bool created_nat;		/* NAT seen when the children were made */
	bool half_counted;		/* counted in d->half_open */
	bool resync_needed;		/* after a move: a fresh request must follow */
	uint64_t req_deadline;		/* a request resent after a move: answer by then */
	uint8_t last_req_hash[32];	/* the request last_resp answers */
	uint64_t since;			/* wall clock of the last transition */
	char why[96];			/* and its reason */
	uint64_t tick;			/* the event loop's timer pass */
	bool down_seen;			/* told that its TCP connection closed */
	uint64_t created, last_rx, dpd_at, rekey_at, expire_at;
};

struct ike_stats {
	uint64_t rx_msgs, tx_msgs, rx_bad, rx_bad_icv, rx_unknown_spi, rx_retransmits;
	uint64_t auth_failed, half_open_dropped, cookies_sent, invalid_ke_sent;
	uint64_t sa_established, child_installed, child_rekeyed, ike_rekeyed;
	uint64_t dpd_dead, tcp_accepted, tcp_rejected;
	uint64_t fallback_connects, moved_to_tcp, moved_to_udp, tcp_reconnects, ike_sa_init_sent;
};

struct ike_daemon {
	struct ike_conf *conf;
	struct xfrm_nl *xfrm;
	struct esptcp_nl *nl;		/* NULL when only UDP is configured */
	int epfd;
	struct ike_link *links;
	struct ike_sa *sas;
	uint8_t cookie_secret[32];
	uint32_t next_reqid;
	unsigned int half_open;
	struct ike_stats st;
	uint64_t now;			/* ms, monotonic */
	uint64_t tick;
	uint64_t log_window, log_count;	/* rate limit for bad input */
	bool stopping;
	/* initiators waiting to (re)start: conn index -> when */
	uint64_t *restart_at;
	int *udp_fds;			/* per conn: 500 and 4500 sockets */
};

/* ike_sa.c */
void ike_input(struct ike_daemon *d, struct ike_link *link, const uint8_t *msg, size_t len);
struct ike_sa *ike_sa_initiate(struct ike_daemon *d, const struct ike_conn_conf *c,
			       struct ike_link *link);
void ike_sa_start(struct ike_sa *sa);
void ike_sa_timers(struct ike_sa *sa);
void ike_sa_shutdown(struct ike_sa *sa);
void ike_sa_free(struct ike_sa *sa);
void ike_sa_link_down(struct ike_sa *sa);
void ike_sa_moved(struct ike_sa *sa, struct ike_link *l);
void ike_sa_move_failed(struct ike_sa *sa, const char *why);

/* ike_daemon.c */
int ike_link_send(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len);
struct ike_link *ike_udp_link(struct ike_daemon *d, const struct sockaddr_storage *local,
			      const struct sockaddr_storage *peer, bool natt);
void ike_link_put(struct ike_daemon *d, struct ike_link *l);
void ike_link_get(struct ike_link *l);
int ike_bind_child(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c);
void ike_conn_restart(struct ike_daemon *d, const struct ike_conn_conf *c, unsigned int delay_s);
struct ike_link *ike_tcp_connect(struct ike_daemon *d, const struct ike_conn_conf *c);
void ike_conn_start_tcp(struct ike_daemon *d, const struct ike_conn_conf *c);
void ike_link_close(struct ike_daemon *d, struct ike_link *l, const char *why);
int ike_unbind_child(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c);
void ike_status_write(struct ike_daemon *d);
void ike_log(struct ike_sa *sa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ike_log_bad(struct ike_daemon *d);
void ike_msg_trace(const char *dir, const struct ike_sa *sa, const uint8_t *m, size_t len);

#endif
