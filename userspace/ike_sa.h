/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: the IKE helper's upper half: links, SAs, exchanges and the
 * daemon.  One thread; no locking.  Calls go one way, down this list:
 *
 *   ike_daemon.c    event loop, conns, status file, signals
 *   ike_task.c      input dispatch, message IDs, timers; the link callbacks
 *   ike_init.c  ike_auth.c  ike_create.c  ike_info.c  ike_mobility.c
 *                   the exchanges and the transport of an SA
 *   ike_out.c       building, sealing and sending an SA's messages
 *   ike_sa.c        the SA table and its shared transitions
 *   ike_child.c     a CHILD_SA in the kernel: states, policies, bindings
 *   ike_link.c      UDP sockets and TCP connections (knows no SA)
 *   ike_log.c       log lines
 *
 * and below them ike_select.h (choices) and ike.h (codec, crypto, keys,
 * configuration, xfrm).
 */
#ifndef ESPTCP_IKE_SA_H
#define ESPTCP_IKE_SA_H

#include "ike.h"
#include "ike_select.h"
#include "ike_pool.h"
#include "ike_reqid.h"
#include "ike_radius.h"
#include "ike_timer.h"
#include "ike_htab.h"

struct rtnl;

/* the loop's tick: an SA's timers without an exact time are polled this often */
#define IKE_POLL_MS	100

struct esptcp_nl;
struct ike_daemon;
struct ike_sa;

/* ---- ike_link.c ---- */

enum link_stage {
	LINK_CONNECTING,	/* initiator: TCP connect in progress */
	LINK_PREFIX,		/* responder: waiting for "IKETCP" */
	LINK_READY,
	LINK_DEAD,
};

/* what epoll hands back: the first int of each object */
enum ike_obj_kind { OBJ_LISTEN = 1, OBJ_UDP, OBJ_LINK, OBJ_SIGNAL, OBJ_XFRM, OBJ_RADIUS };

/* a TCP listener or a UDP socket of ours */
struct ike_sock {
	int kind;		/* first: OBJ_LISTEN or OBJ_UDP */
	struct ike_sock *next;
	int fd;
	struct sockaddr_storage local;
	bool natt;
};

/* how messages reach a peer: a TCP connection of ours, or a shared UDP socket */
struct ike_link {
	int kind;		/* first: OBJ_LINK */
	struct ike_link *next, **pprev;	/* in d->links */
	struct ike_hnode udp_node;	/* UDP: in d->udp_links by socket and peer */
	struct ike_hnode unauth_node;	/* TCP, until authenticated or closed */
	struct ike_hnode close_node;	/* in d->closing_links while closing is set */
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
	const struct ike_conn_conf *conn;	/* ours: the conn it connects for, */
	unsigned int port_idx;			/* to which of its TCP ports, */
	uint64_t opener_spi;			/* and the SA (our SPI) it is for: */
	bool opener_initiator;			/* the layer above's, opaque here */
};

/* how a link reports to the layer above; it never looks at SAs itself */
struct ike_link_ops {
	/* one IKE message, without any non-ESP marker */
	void (*recv)(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len);
	/* a TCP connection of ours is connected, "IKETCP" sent, the ULP attached */
	void (*ready)(struct ike_daemon *d, struct ike_link *l);
	/* a TCP connection closed or failed */
	void (*down)(struct ike_daemon *d, struct ike_link *l, const char *why);
};

void ike_link_get(struct ike_link *l);
void ike_link_authed(struct ike_link *l);
void ike_link_put(struct ike_daemon *d, struct ike_link *l);
int ike_link_send(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len);
unsigned int ike_link_datagrams(const uint8_t *msg, size_t len);
int ike_link_send_raw(struct ike_daemon *d, const struct ike_link *l, const uint8_t *p,
		      size_t len);
int ike_route_source(const struct sockaddr_storage *peer, struct sockaddr_storage *src);
bool ike_addr_present(const struct sockaddr_storage *a);
struct ike_link *ike_udp_link(struct ike_daemon *d, const struct sockaddr_storage *local,
			      const struct sockaddr_storage *peer, bool natt);
struct ike_link *ike_tcp_connect(struct ike_daemon *d, const struct ike_conn_conf *c);
void ike_link_close(struct ike_daemon *d, struct ike_link *l, const char *why);
void ike_link_event(struct ike_daemon *d, struct ike_link *l);
void ike_sock_event(struct ike_daemon *d, struct ike_sock *o);
int ike_open_listeners(struct ike_daemon *d);
void ike_links_close_due(struct ike_daemon *d);
void ike_links_free(struct ike_daemon *d);

/* ---- ike_child.c ---- */

/*
 * A client's virtual address (vip = yes): what the gateway's CFG_REPLY
 * gave, and what of it went into the kernel, to be taken out again.
 */
struct ike_vip {
	bool got;			/* taken from a CFG_REPLY */
	int family;
	uint8_t addr[16];
	struct ike_ts_set ts;		/* it, as our only selector */
	struct ike_cfg cfg;		/* DNS servers, split subnets */
	int ifindex;
	bool addr_added, rule, peer_route;
	bool has_gw;			/* the next hop to the gateway */
	uint8_t gw[16], peer[16];
	int oif;
	struct ike_ts_set routes;	/* the routes in route-table: the CHILD_SAs' */
};

/* the rule "lookup TABLE" of the clients' routes, shared by their SAs */
struct ike_vip_rule {
	int family;
	uint32_t table;
	unsigned int users;
	bool added;			/* by us: removed with its last user */
};

struct ike_child {
	struct ike_child *next;
	struct ike_sa *sa;		/* whose it is (ike_child_add(), an IKE rekey) */
	/* installed: in d->ts_hosts by its peer's host, or on d->ts_wide */
	struct ike_hnode ts_node;
	bool ts_wide;			/* ts_node is on d->ts_wide, not in d->ts_hosts */
	struct ike_hnode rq_node;	/* in d->child_reqids by reqid (ike_child_add()) */
	uint32_t spi_in, spi_out;	/* network order */
	uint32_t reqid;
	struct ike_suite suite;
	struct ike_ts_set lts, rts;
	uint64_t rekey_at;
	bool installed;
	bool announced;			/* the updown script heard it come up */
	/* its states' bytes when last read (ike_children_counts_read()) */
	uint64_t bytes_in, bytes_out;
};

/* how a new CHILD_SA's policies go in */
enum ike_child_pol {
	POL_NONE,		/* a rekey: its twin's policies stay */
	POL_EXCL,		/* new selectors: -EEXIST if a policy has them */
	POL_REPLACE,		/* the same peer's older SA had them: take them over */
};

uint32_t ike_reqid_new(struct ike_daemon *d);
void ike_reqid_free(struct ike_daemon *d, uint32_t reqid);
int ike_child_keys(struct ike_sa *sa, bool we_started, const uint8_t *gir, size_t girlen,
		   const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
		   struct xfrm_child *x);
void ike_child_xfrm(struct ike_sa *sa, const struct ike_child *c, struct xfrm_child *x);
struct ike_child *ike_child_add(struct ike_sa *sa, const struct ike_child *tmpl);
void ike_child_free(struct ike_sa *sa, struct ike_child *c);
void ike_children_moved(struct ike_sa *to);
void ike_ts_index_free(struct ike_daemon *d);
int ike_child_spi(struct ike_sa *sa, uint32_t reqid, uint32_t *spi);
int ike_child_install(struct ike_sa *sa, struct ike_child *c, struct xfrm_child *x,
		      enum ike_child_pol policies);
uint16_t ike_child_ts_check(struct ike_sa *sa, const struct ike_ts_set *lts,
			    const struct ike_ts_set *rts,
			    enum ike_child_pol *pol);
void ike_child_remove(struct ike_sa *sa, struct ike_child *c, bool policies);
void ike_child_unlink(struct ike_sa *sa, struct ike_child *c);
void ike_children_remove(struct ike_sa *sa);
void ike_child_drop_pending(struct ike_sa *sa);
struct ike_child *ike_child_installed_find(struct ike_daemon *d, uint32_t spi_in, uint32_t reqid);
int ike_child_bind(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c);
int ike_child_unbind(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c, bool inbound);
bool ike_child_esp_in_udp(const struct ike_sa *sa);
int ike_child_counts(struct ike_sa *sa, const struct ike_child *c, struct xfrm_counts *in,
		     struct xfrm_counts *out);
int ike_children_counts_read(struct ike_daemon *d);

/* ---- ike_sa.c ---- */

enum sa_state {
	SA_INIT_SENT,		/* initiator: IKE_SA_INIT out */
	SA_AUTH_SENT,		/* initiator: IKE_AUTH out */
	SA_HALF_OPEN,		/* responder: IKE_SA_INIT answered */
	SA_ESTABLISHED,
	SA_DELETING,		/* DELETE sent, or replaced by a rekey */
	SA_FAILED,		/* refused in IKE_AUTH: answers retransmissions only */
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
	REQ_STANDBY,		/* INFORMATIONAL proving a standby TCP connection */
};

#define RETRANSMIT_BASE_MS	1000	/* UDP: first retransmission, doubling */
#define INIT_TRIES_MAX		3	/* IKE_SA_INIT after COOKIE or INVALID_KE */
#define IKE_RESP_MOVED_MAX	8	/* datagrams of an answer to a MOBIKE peer's new address */
#define FAILED_LINGER_MS	10000	/* a refused SA answers retransmissions this long */

/* our one outstanding request (window size 1) and what its exchange keeps */
struct ike_req {
	enum req_kind kind;
	struct ike_buf msg;
	uint64_t sent, next_tx;
	uint64_t deadline;		/* a request resent after a move: answer by then */
	unsigned int tries;
	struct ike_child *child;	/* the child a rekey/delete is about */
	struct ike_child pending;	/* the child being negotiated */
	struct ike_dh *dh;		/* PFS or IKE rekey exchange */
	uint8_t nonce[256];
	size_t nonce_len;
	uint64_t new_spi;		/* IKE rekey: our new SPI */
	bool ke_retried;		/* CHILD_SA rekey: sent again after INVALID_KE */
	/* the peer rekeyed what this request rekeys (RFC 7296 2.8.1, 2.8.2) */
	struct ike_child *coll_old;	/* the child both rekeyed */
	struct ike_child *coll_new;	/* the child our answer made */
	struct ike_sa *coll_ike;	/* the IKE SA our answer made */
	uint8_t coll_low[256];		/* the lower nonce of the peer's exchange */
	size_t coll_low_len;
};

/* the transport of an established SA: fallback, moves, reconnects, probes */
struct ike_mob {
	uint64_t fallback_at;		/* IKE_SA_INIT over UDP: TCP from then on */
	struct ike_link *moving;	/* a TCP connection being opened for us */
	unsigned int reconnects;
	uint64_t reconnect_at;
	uint64_t esp_check_at, esp_stall_since;
	uint64_t esp_in, esp_out;	/* packets on the children's states, summed */
	uint64_t esp_calm_at;		/* the last look that saw ESP in, or none out */
	uint64_t esp_out_at;		/* the last look that saw ESP go out */
	bool esp_idle;			/* none out for a second: looked at less often */
	bool esp_probe;			/* the request out is a liveness check for them */
	unsigned int esp_gap_ms;	/* quiet this long again before the next check */
	struct ike_link *probe;		/* UDP path being probed (MOBIKE) */
	uint64_t probe_at;
	bool created_nat;		/* NAT seen when the children were made */
	bool resync_needed;		/* after a move: a fresh request must follow */
	bool down_seen;			/* told that its TCP connection closed */
	uint64_t keepalive_at;		/* the next NAT keepalive (UDP behind NAT) */
	uint64_t addr_check_at;		/* the next look at our own address (MOBIKE) */
	uint64_t route_check_at;	/* the next look at a virtual address's next hop */
	bool addr_probe;		/* the probe announces a new address of ours */
	bool return_check;		/* the probe only checks UDP, on the way back */
	/* the UDP path's round trip, from answered requests (RFC 6298's way) */
	unsigned int srtt_ms, rttvar_ms;
	bool rtt_probed;		/* the first check once up, for a clean sample */
	/* the way back to UDP: hysteresis and a hold-down that grows with flaps */
	unsigned int return_ok;		/* checks over UDP answered in a row */
	unsigned int flaps;		/* quick falls back to TCP, for the hold-down */
	uint64_t udp_since;		/* when the SA last came back to UDP */
	/* after the move back: inbound ESP still taken from the TCP connection */
	struct ike_link *overlap;
	uint64_t overlap_until;
	/* the warm standby TCP connection (ike_standby.c) */
	struct ike_link *standby;
	bool standby_ok;		/* proved by an authenticated exchange on it */
	bool standby_offered;		/* the peer keeps (client) or takes (gateway) one */
	bool esptcp_peer;		/* it answers path checks while on TCP */
	bool standby_ack;		/* responder: the answer being built accepts it */
	unsigned int standby_fails;
	uint64_t standby_at;		/* initiator: the next connection attempt */
	uint64_t standby_move_at;	/* moved over it then, no answer there yet */
};

struct ike_out;

/* EAP in IKE_AUTH (ike_eap.c): where the exchange is, and its keys */
enum eap_step { ESTEP_IDENTITY = 1, ESTEP_CHALLENGE, ESTEP_SUCCESS, ESTEP_RADIUS, ESTEP_AUTH,
		ESTEP_DONE };

/* an EAP exchange relayed to a RADIUS server: the request out (ike_aaa.c) */
struct ike_rad {
	bool pending;			/* an Access-Request waits for its reply */
	uint8_t id, auth[16];
	struct ike_buf pkt;		/* as sent, for retransmission */
	unsigned int tries;
	uint64_t next_tx;
	uint32_t msgid;			/* the IKE_AUTH request it answers */
	uint8_t state[253];		/* the server's State, sent back */
	size_t state_len;
	uint8_t eap[RADIUS_EAP_MAX];	/* the client's EAP message to relay */
	size_t eap_len;
	uint8_t method;			/* the EAP type the server last asked for */
};
struct ike_eap {
	enum eap_step step;
	uint8_t ident, ms_id;		/* EAP Identifier and MS-CHAPv2-ID of the round */
	uint8_t auth_chal[16], peer_chal[16], nt_resp[24];
	char user[IKE_EAP_ID_MAX];	/* gateway: the client's EAP identity */
	char s_resp[43];		/* the authenticator response, "S=..." */
	uint8_t msk[IKE_EAP_MSK_LEN];
	bool have_msk;
	/* gateway: the first IKE_AUTH request, for its SA, TS, CP and notifies */
	struct ike_hdr first_hdr;
	uint8_t first_next;
	struct ike_buf first;
	uint8_t first_id[4 + 255];	/* the initiator's ID body, as AUTH covers it */
	size_t first_id_len;
	uint8_t peer_idr[4 + 255];	/* client: the gateway's IDr body, likewise */
	size_t peer_idr_len;
	char why[160];			/* why it failed, for the log */
	struct ike_rad rad;
};

int ike_auth_mac(struct ike_sa *sa, const uint8_t *key, size_t keylen, bool of_initiator,
		 const uint8_t *id, size_t idlen, uint8_t *out);
int ike_auth_octets(struct ike_sa *sa, bool of_initiator, const uint8_t *id, size_t idlen,
		    struct ike_buf *b);
void ike_put_auth_mac(struct ike_out *o, const uint8_t *mac, size_t len);
void ike_eap_free(struct ike_sa *sa);
int ike_eap_server_start(struct ike_sa *sa, const struct ike_msg *m, const struct ike_pl *idi,
			 struct ike_out *o);
int ike_eap_server_input(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o);
int ike_eap_first(struct ike_sa *sa, struct ike_msg *m);
int ike_eap_client_start(struct ike_sa *sa, const uint8_t *idi, size_t len);
int ike_eap_client_input(struct ike_sa *sa, const struct ike_msg *m, struct ike_out *o);
int ike_eap_radius_input(struct ike_sa *sa, const struct ike_radius_reply *r, struct ike_out *o);

/* ike_aaa.c: the RADIUS server of EAP conns */
int ike_aaa_send(struct ike_sa *sa);
void ike_aaa_event(struct ike_daemon *d);
void ike_aaa_timer(struct ike_sa *sa);
void ike_aaa_close(struct ike_daemon *d);
/* ike_auth.c: a RADIUS reply (NULL: none came) for a client's EAP */
void ike_auth_radius(struct ike_sa *sa, const struct ike_radius_reply *r);

/* a message arriving in Encrypted Fragments (ike_frag.c) */
#define IKE_MAX_FRAGS	32
struct ike_frags {
	uint32_t msgid;
	bool response;
	uint16_t total, got;
	uint8_t first;			/* the first fragment's first inner payload */
	uint8_t *part[IKE_MAX_FRAGS];	/* decrypted, by fragment number - 1 */
	size_t len[IKE_MAX_FRAGS];
};

/* the tables of SAs by SPI (ike_sa.c) */
enum ike_sa_tab_kind {
	IKE_TAB_OURS,		/* by our SPI */
	IKE_TAB_PEER,		/* a responder's, by its peer's */
	IKE_TAB_KINDS,
};

struct ike_sa_tab {
	struct ike_sa **b;	/* nb buckets, a power of two */
	uint32_t nb, n;		/* and how many SAs are in */
};

struct ike_sa {
	struct ike_sa *next, **pprev;	/* in d->sas */
	struct ike_daemon *d;
	const struct ike_conn_conf *conf;
	uint32_t instance;		/* a load generator's: 1..instances; else 0 */
	bool initiator;
	enum sa_state state;
	uint64_t spi_i, spi_r;		/* set with ike_sa_set_spis() */
	struct ike_sa *tab_next[IKE_TAB_KINDS];	/* in d->tab[], when hashed */
	bool tab_hashed[IKE_TAB_KINDS];
	uint64_t tab_h[IKE_TAB_KINDS];	/* the hash it is filed under there */
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
	struct ike_link *reply_via;		/* a MOBIKE path test's: answer there */
	struct sockaddr_storage init_peer;	/* where IKE_SA_INIT came from or went to */
	bool nat_here, nat_there;
	unsigned int peer_sighashes;	/* its SIGNATURE_HASH_ALGORITHMS, as SIGHASH_BIT()s */
	bool frag;			/* both sent IKEV2_FRAGMENTATION_SUPPORTED (UDP) */
	struct ike_eap *eap;		/* while EAP runs in IKE_AUTH */
	char eap_user[IKE_EAP_ID_MAX];	/* gateway: who logged in with EAP, and in */
	char eap_group[64];		/* which group (for show, leases, updown) */
	struct ike_frags rx_frags[2];	/* requests, responses: each its own */
	uint8_t peer_id[4 + 255];	/* the ID payload the peer authenticated with */
	size_t peer_id_len;
	/* the virtual address leased to the peer from its conn's pool */
	bool has_vip;
	uint8_t vip[16];
	struct ike_ts_set vip_ts;	/* it, as the peer's only selector */
	/* a client's: the address the gateway gave us (ike_vip.c) */
	struct ike_vip cvip;
	const char *die_why;		/* set: ike_sa_timers() takes it down */

	uint32_t next_req;		/* our next request's message ID */
	uint32_t peer_next;		/* the peer's next request's message ID */
	struct ike_buf last_resp;	/* for a retransmitted request */
	bool have_last_resp;
	bool last_resp_elsewhere;	/* it went on another path than the SA's */
	uint8_t resp_moved_sends;	/* its datagrams to a MOBIKE peer's new address */
	uint8_t last_req_hash[32];	/* the request last_resp answers */
	struct ike_req req;

	struct ike_child *children;
	bool mobike;			/* negotiated in IKE_AUTH */
	struct ike_mob mob;

	bool half_counted;		/* counted in d->half_open */
	bool inst_slot;			/* its instance's attempt: holds a slot of the window */
	bool coll_named;		/* another SA's req.coll_ike has named it */
	struct ike_hnode peer_node;	/* established responder's: in d->peers */
	/* in d->unauth: a responder's, from IKE_SA_INIT until up or freed */
	struct ike_hnode unauth_node;
	uint64_t since;			/* wall clock of the last transition */
	char why[96];			/* and its reason */
	struct ike_timer timer;		/* in d->timers from new to free */
	uint64_t created, last_rx, dpd_at, rekey_at, expire_at;
};

/* ---- ike_leases.c ---- */
void ike_leases_each(const struct ike_daemon *d,
		     void (*fn)(const struct ike_conn_conf *c, const struct ike_lease *l,
				const char *addr, void *arg), void *arg);
void ike_daemon_pools_free(struct ike_daemon *d);
void ike_leases_changed(struct ike_daemon *d);
void ike_leases_tick(struct ike_daemon *d, bool force);
int ike_leases_load(struct ike_daemon *d);

/* ---- ike_reload.c ---- */
int ike_reload(struct ike_daemon *d, const char *path);

/* ---- ike_updown.c ---- */
struct ike_updown_job;
void ike_updown(struct ike_sa *sa, const struct ike_child *c, const char *verb);
void ike_updown_reap(struct ike_daemon *d);
void ike_updown_drain(struct ike_daemon *d, uint64_t (*now)(void));

/* ---- ike_vip.c ---- */
void ike_vip_request(struct ike_sa *sa, struct ike_chain *c);
int ike_vip_take(struct ike_sa *sa, const struct ike_msg *m);
int ike_vip_install(struct ike_sa *sa, const struct ike_ts_set *rts);
void ike_vip_child_gone(struct ike_sa *sa, const struct ike_child *c);
void ike_vip_child_up(struct ike_sa *sa, const struct ike_child *c);
int ike_vip_moved(struct ike_sa *sa);
bool ike_vip_may_follow(const struct ike_sa *sa);
int ike_vip_follow(struct ike_sa *sa);
void ike_vip_remove(struct ike_sa *sa);

static inline uint64_t ike_now(const struct ike_sa *sa);

struct ike_sa *ike_sa_find(struct ike_daemon *d, uint64_t ours, bool we_initiated);
struct ike_sa *ike_sa_find_responder(struct ike_daemon *d, uint64_t spi_i,
				     const struct sockaddr_storage *peer);
void ike_sa_unauth_add(struct ike_sa *sa);
uint64_t ike_sa_peer_hash(const struct ike_sa *sa);
void ike_sa_peer_index(struct ike_sa *sa);
void ike_sa_set_spis(struct ike_sa *sa, uint64_t spi_i, uint64_t spi_r);
void ike_sa_table_free(struct ike_daemon *d);
uint64_t ike_new_spi(void);
struct ike_sa *ike_sa_new(struct ike_daemon *d, const struct ike_conn_conf *c,
			  struct ike_link *link, bool initiator);
void ike_sa_free(struct ike_sa *sa);
void ike_sa_die(struct ike_sa *sa, const char *why, bool restart);
void ike_sa_fail(struct ike_sa *sa, const char *why);
void ike_sa_transition(struct ike_sa *sa, const char *why);
void ike_sa_set_peer_id(struct ike_sa *sa, const struct ike_pl *id);
bool ike_sa_same_peer(const struct ike_sa *a, const struct ike_sa *b);
void ike_sa_established(struct ike_sa *sa);
void ike_conn_restart(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t instance,
		      unsigned int delay_s, bool tcp);

/* ---- ike_daemon.c ---- */

void ike_conn_start(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t instance,
		    bool tcp);

/* ---- ike_instances.c ---- */

int ike_instances_init(struct ike_daemon *d);
void ike_instance_restart(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t num,
			  unsigned int delay_s, bool tcp);
void ike_instances_run(struct ike_daemon *d);
void ike_instance_settled(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t num);
void ike_instances_free(struct ike_daemon *d);

/* ---- ike_negotiate.c ---- */

int ike_child_from_response(struct ike_sa *sa, const struct ike_msg *m, struct ike_child *p,
			    enum ike_child_ke ke);
uint16_t ike_child_respond(struct ike_sa *sa, const struct ike_msg *m, enum ike_child_ke ke,
			   uint16_t ke_group, const uint8_t *gir, size_t glen, const uint8_t *ni,
			   size_t nilen, const uint8_t *nr, size_t nrlen,
			   const struct ike_child *old, struct ike_child **out, uint8_t *num,
			   uint16_t *want_group);

/* ---- ike_out.c ---- */

struct ike_out {
	struct ike_buf b, in;
	struct ike_chain c;
};

void ike_out_begin(struct ike_sa *sa, struct ike_out *o, uint8_t exchange, bool response,
		   uint32_t msgid);
int ike_out_seal(struct ike_sa *sa, struct ike_out *o);
int ike_out_respond(struct ike_sa *sa, struct ike_out *o);
int ike_out_request(struct ike_sa *sa, struct ike_out *o, enum req_kind kind);
void ike_send_request(struct ike_sa *sa, enum req_kind kind, struct ike_buf *b);
void ike_send_request_via(struct ike_sa *sa, enum req_kind kind, struct ike_buf *b,
			  struct ike_link *via);
void ike_send_response(struct ike_sa *sa, struct ike_buf *b);
int ike_respond_notify(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, uint16_t type,
		       const void *data, size_t len);
void ike_respond_init_notify(struct ike_daemon *d, struct ike_link *link,
			     const struct ike_msg *m, uint16_t type, const void *data,
			     size_t len);
void ike_put_nat_notifies(struct ike_sa *sa, struct ike_chain *c);
bool ike_conn_pubkey(const struct ike_conn_conf *c);
int ike_frag_seal(struct ike_sa *sa, struct ike_out *o);
int ike_frag_input(struct ike_sa *sa, struct ike_msg *m, bool from_init, uint8_t **plain,
		   size_t *plen);
void ike_frag_reset(struct ike_frags *f);
void ike_put_sighashes(struct ike_chain *c);
void ike_put_certreq(struct ike_chain *c, const struct ike_conn_conf *conf, size_t max);
bool ike_nat_check(struct ike_sa *sa, const struct ike_msg *m, const struct ike_link *l);
void ike_put_ke(struct ike_chain *c, struct ike_dh *dh, uint16_t group);
const char *ike_first_error(const struct ike_msg *m, uint16_t *type);

/* ---- the exchanges ---- */

/* ike_init.c */
struct ike_sa *ike_sa_initiate(struct ike_daemon *d, const struct ike_conn_conf *c,
			       struct ike_link *link);
void ike_sa_start(struct ike_sa *sa);
void ike_init_request(struct ike_daemon *d, struct ike_link *link, const struct ike_msg *m);
void ike_init_response(struct ike_sa *sa, const struct ike_msg *m);
void ike_init_failed(struct ike_daemon *d);

/* ike_auth.c */
void ike_id_body(uint8_t type, const char *id, size_t len, struct ike_buf *b);
int ike_auth_start(struct ike_sa *sa);
void ike_auth_request(struct ike_sa *sa, const struct ike_msg *m);
void ike_auth_response(struct ike_sa *sa, const struct ike_msg *m);

/* ike_info.c */
void ike_info_delete(struct ike_sa *sa, uint8_t proto, const uint32_t *spis, unsigned int n,
		     enum req_kind kind);
void ike_info_dpd(struct ike_sa *sa);
void ike_mob_dpd_answered(struct ike_sa *sa);
void ike_info_request(struct ike_sa *sa, const struct ike_msg *m);
void ike_info_response(struct ike_sa *sa, const struct ike_msg *m);

/* ike_create.c */
uint64_t ike_rekey_time(const struct ike_sa *sa, unsigned int lifetime_s);
void ike_rekey_child_start(struct ike_sa *sa, struct ike_child *old, uint16_t group);
void ike_rekey_ike_start(struct ike_sa *sa);
void ike_create_request(struct ike_sa *sa, const struct ike_msg *m);
void ike_rekey_child_response(struct ike_sa *sa, const struct ike_msg *m);
void ike_rekey_ike_response(struct ike_sa *sa, const struct ike_msg *m);

/* ike_mobility.c */
void ike_mob_switch(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m);
void ike_mob_mapping(struct ike_daemon *d, const struct xfrm_mapping *m);
bool ike_mob_may_move(const struct ike_sa *sa, const struct ike_link *link,
		      const struct ike_msg *m, bool response);
void ike_mob_probe_answered(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m);
void ike_mob_link_down(struct ike_sa *sa);
void ike_mob_connected(struct ike_sa *sa, struct ike_link *l);
void ike_mob_connect_failed(struct ike_sa *sa, const char *why);
bool ike_mob_timers(struct ike_sa *sa, uint64_t t);
bool ike_mob_next_due(const struct ike_sa *sa, uint64_t *due);
void ike_mob_rtt(struct ike_sa *sa, uint64_t sample);
void ike_mob_free(struct ike_sa *sa);
void ike_mob_inherit(struct ike_sa *sa, struct ike_sa *old);

/* ike_standby.c */
void ike_standby_tick(struct ike_sa *sa, uint64_t t);
void ike_standby_ready(struct ike_sa *sa, struct ike_link *l);
void ike_standby_down(struct ike_sa *sa, const char *why);
void ike_standby_answered(struct ike_sa *sa, const struct ike_msg *m);
void ike_standby_unanswered(struct ike_sa *sa);
bool ike_standby_offer(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m);
void ike_standby_keep(struct ike_sa *sa, struct ike_link *l);
struct ike_link *ike_standby_take(struct ike_sa *sa);
void ike_standby_drop(struct ike_sa *sa, const char *why);
bool ike_standby_wanted(const struct ike_sa *sa);

/* ---- ike_task.c ---- */

extern const struct ike_link_ops ike_task_link_ops;
void ike_input(struct ike_daemon *d, struct ike_link *link, const uint8_t *msg, size_t len);

/* ike_capture.c */
void ike_capture(const struct ike_msg *m);
void ike_sa_timers(struct ike_sa *sa);
uint64_t ike_sa_next_due(const struct ike_sa *sa);
void ike_sa_shutdown(struct ike_sa *sa);

/* ---- ike_log.c ---- */

void ike_log(struct ike_sa *sa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ike_log_bad(struct ike_daemon *d);
const char *ike_ts_set_str(const struct ike_ts_set *set, char *buf, size_t len);

/* ---- ike_daemon.c: the daemon's state, which every layer reads ---- */

/* every field is a counter printed by its name (ike_daemon.c) */
struct ike_stats {
	uint64_t rx_msgs, tx_msgs, rx_bad, rx_bad_icv, rx_unknown_spi, rx_retransmits, rx_wrong_path,
		 rx_retransmits_moved;
	uint64_t auth_failed, half_open_dropped, cookies_sent, invalid_ke_sent;
	uint64_t sa_established, child_installed, child_rekeyed, ike_rekeyed;
	uint64_t dpd_dead, tcp_accepted, tcp_rejected, ts_refused;
	uint64_t fallback_connects, moved_to_tcp, moved_to_udp, tcp_reconnects, ike_sa_init_sent;
	uint64_t rekey_collisions, per_source_dropped, dpd_sent, dpd_answered, info_answered;
	uint64_t nat_keepalives, moved_address, nat_mappings, quiet_checks;
	uint64_t vip_leased, vip_exhausted;
	uint64_t updown_failed, updown_dropped;
	uint64_t frag_sent, frag_received;
	uint64_t radius_replies, radius_bad, radius_timeouts;
	uint64_t moves_quiet, moves_esp, moves_unanswered, moves_standby;
	uint64_t timer_visits;		/* SAs whose timers a pass ran */
	uint64_t return_checks, return_failed, flap_holddowns;
	uint64_t standby_up, standby_lost, standby_refused, standby_open;
};

struct ike_daemon {
	struct ike_conf *conf;
	struct xfrm_nl *xfrm;
	struct xfrm_nl *xfrm_map;	/* NAT mapping events, or NULL */
	struct esptcp_nl *nl;		/* NULL when only UDP is configured */
	int epfd;
	const struct ike_link_ops *link_ops;
	struct ike_link *links;
	struct ike_htab udp_links;	/* the UDP links by socket and peer */
	struct ike_htab peers;		/* established responder SAs by conn and identity */
	struct ike_hnode *unauth_links;	/* TCP links not yet authenticated */
	struct ike_hnode *closing_links;	/* links marked to close after the batch */
	/*
	 * The installed CHILD_SAs by their peer's side (ike_child_ts_check()):
	 * those whose peer selector is one host by that host, the others on a
	 * list; a dial-up gateway's are nearly all one virtual address each
	 */
	struct ike_htab ts_hosts;
	/* every child struct by its reqid; those that found no room are counted */
	struct ike_htab child_reqids;
	unsigned int child_reqids_missed;
	struct ike_hnode *ts_wide;
	struct ike_sock *socks;
	struct ike_sock *radius[2];	/* our RADIUS sockets, IPv4 and IPv6 (ike_aaa.c) */
	uint8_t radius_id;		/* the next Access-Request's identifier */
	struct ike_sa *sas;
	/* the SAs by our SPI (ike_sa_find()), a responder's by its peer's */
	struct ike_sa_tab tab[IKE_TAB_KINDS];
	/* a responder's SAs not yet up, refused ones lingering among them */
	struct ike_hnode *unauth;
	struct ike_sip *sip;		/* the keyed hash of those tables' buckets */
	uint8_t cookie_secret[32], cookie_prev[32];
	uint64_t cookie_at;		/* when cookie_secret was made */
	unsigned int init_fails;	/* recent failed IKE_SA_INITs (toward COOKIE mode) */
	uint64_t init_fail_at;
	struct ike_reqids *reqids;	/* the reqids of our range in use */
	unsigned int half_open;
	struct ike_stats st;
	uint64_t now;			/* ms, monotonic */
	struct ike_timers timers;	/* every SA's, by when it is due (ike_timer.c) */
	uint64_t wake_at;		/* the loop wants a pass by then (ike_wake()) */
	uint64_t links_check_at;	/* no link to close before then (ike_link.c) */
	uint64_t log_window, log_count;	/* rate limit for bad input */
	bool verbose;
	bool stopping;
	bool status_dirty;		/* the status file is rewritten after this batch, */
	uint64_t status_written;	/* or later with many SAs (ike_daemon.c) */
	unsigned int nsas;		/* in d->sas */
	bool leases_dirty;		/* the lease file is behind (ike_leases.c) */
	uint64_t leases_saved_at;
	bool pools_any;			/* a conn leases addresses: */
	uint64_t status_at;		/* then every STATUS_LEASE_MS too, for bytes */
	bool counts_due;		/* the children's bytes are read at the next write */
	struct ike_pool *pools;		/* conn index -> its address pool (pool_set) */
	struct rtnl *rtnl;		/* a client's virtual addresses and routes */
	/* updown scripts: one running, the others waiting their turn */
	struct ike_updown_job *updown_queue;
	unsigned int updown_queued;
	int updown_pid;
	uint64_t updown_started;
	char updown_what[96];
	struct ike_vip_rule vip_rules[4];
	/* initiators waiting to (re)start: conn index -> when, and over TCP at once */
	uint64_t *restart_at;
	bool *restart_tcp;
	/* a load generator's instances, a start timer each (ike_instances.c) */
	struct ike_instance **inst;	/* per conn; NULL for a conn of one */
	struct ike_timers starts;
	unsigned int inst_opening;	/* instances started, not up yet */
	unsigned int *tcp_port_at;	/* conn index -> the TCP port to try next */
};

static inline uint64_t ike_now(const struct ike_sa *sa)
{
	return sa->d->now;
}

/* the loop wants a pass by @at */
static inline void ike_wake_at(struct ike_daemon *d, uint64_t at)
{
	if (at < d->wake_at)
		d->wake_at = at;
}

/* an SA's timers want to run at @at, sooner than they would */
static inline void ike_wake(struct ike_sa *sa, uint64_t at)
{
	ike_wake_at(sa->d, at);
	ike_timer_lower(&sa->d->timers, &sa->timer, at);
}

/*
 * The SA's state changed outside its timers (a message, a link event,
 * another SA's doing): its timers run at the next pass, and it is due
 * again when ike_sa_next_due() says.
 */
static inline void ike_sa_touch(struct ike_sa *sa)
{
	ike_timer_touch(&sa->d->timers, &sa->timer);
}

/* ended at the next timer pass: its callers still use it */
static inline void ike_sa_set_dying(struct ike_sa *sa, const char *why)
{
	sa->die_why = why;
	ike_sa_touch(sa);
}

/*
 * Close @l after this event batch, for @why; ike_links_close_due() looks
 * at the links only when one is to close or a deadline has come.
 */
static inline void ike_link_close_soon(struct ike_daemon *d, struct ike_link *l, const char *why)
{
	l->closing = why;
	if (!l->close_node.pprev)
		ike_hlist_add(&d->closing_links, &l->close_node);
	d->links_check_at = 0;
}

/* @l is opened for @sa: link_ready() finds it first */
static inline void ike_link_opened_for(struct ike_link *l, const struct ike_sa *sa)
{
	l->opener_spi = sa->initiator ? sa->spi_i : sa->spi_r;
	l->opener_initiator = sa->initiator;
}

/* a link's deadline: ike_links_close_due() looks by then */
static inline void ike_link_deadline(struct ike_daemon *d, struct ike_link *l, uint64_t at)
{
	l->deadline = at;
	if (at < d->links_check_at)
		d->links_check_at = at;
}

/* something `esptcp show` prints changed */
static inline void ike_status_changed(struct ike_daemon *d)
{
	d->status_dirty = true;
}

#endif
