/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp: internal declarations shared by the module's files.
 *
 * Objects and their lifetimes:
 *  - struct esptcp_net: per network namespace; the SA binding table, the
 *    list of attached sockets, the netns counters, the output hooks.
 *  - struct esptcp_sock: per attached TCP socket (icsk_ulp_data), from a
 *    successful attach until the ULP release hook; freed after an RCU grace
 *    period because the output hook and the receive path find it under RCU.
 *  - struct esptcp_binding: one SA bound to one socket; in the netns table
 *    and on its socket's list; immutable but for the ESP order state.
 *    Freed after an RCU grace period.
 *
 * Locks, outermost first: the socket lock (attach takes esptcp_net.lock
 * under it), esptcp_net.lock (mutex; bind/unbind and the socket index's
 * writers; dumps read the index and the bindings under RCU),
 * esptcp_binding.lock (ESP order, BH), esptcp_sock.tx_queue.lock (the send
 * queue, BH).  Nothing takes the socket lock under esptcp_net.lock.  On
 * receive: the socket spinlock (the parser runs under it or owns the
 * socket), then esptcp_sock.rx_esp.lock (BH).
 */
#ifndef _ESPTCP_H
#define _ESPTCP_H

#include <linux/types.h>
#include <linux/uio.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable.h>
#include <linux/sizes.h>
#include <linux/skbuff.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/sock.h>
#include <net/strparser.h>
#include <net/inet_connection_sock.h>
#include <net/xfrm.h>
#include <linux/netfilter.h>
#include <linux/esptcp.h>

#define ESPTCP_LEN_SIZE		2	/* RFC 9329 length field */
#define ESPTCP_MARKER_SIZE	4	/* non-ESP marker, or the ESP SPI */
#define ESPTCP_REORDER		128	/* ESP packets one SA may hold back */
#define ESPTCP_GAP_TIMEOUT	(HZ / 50 ?: 1)	/* wait for a missing one */
#define ESPTCP_TX_VECS		96	/* iovec entries per TCP send, when busy */
#define ESPTCP_TX_VECS_IDLE	8	/* and on the stack otherwise */
#define ESPTCP_RX_BACKLOG	256	/* ESP packets waiting for xfrm */
#define ESPTCP_RX_BACKLOG_BYTES	SZ_1M	/* and their memory (truesize) */
#define ESPTCP_MEM_FLOOR	SZ_16K	/* ESP a socket may queue under pressure */

extern bool esptcp_allow_netns_admin;
extern unsigned int esptcp_tx_queue_bytes;
extern unsigned long esptcp_queue_mem_max;
extern atomic_t esptcp_nsocks;
extern struct workqueue_struct *esptcp_wq;

/* what one framed message carries (esptcp_frame_classify()) */
enum esptcp_frame {
	ESPTCP_FRAME_BAD,	/* length 0 or 1: the stream is unusable */
	ESPTCP_FRAME_SHORT,	/* too short to be IKE or ESP: drop, count */
	ESPTCP_FRAME_KEEPALIVE,	/* 1-byte 0xFF NAT keepalive: drop silently */
	ESPTCP_FRAME_IKE,	/* non-ESP marker + IKE message */
	ESPTCP_FRAME_ESP,	/* ESP packet, SPI first */
};

/* the namespace's counters, per CPU */
struct esptcp_stats {
	u64 c[ESPTCP_STAT_MAX];
};

struct esptcp_net {
	possible_net_t net;
	struct mutex lock;	/* the SA tables' writers, the socket list */
	struct rhltable sa_out;	/* outbound bindings: the output hook's */
	struct rhltable sa_in;	/* inbound ones: bind and unbind only */
	struct xarray socks;	/* attached sockets, by inode number */
	atomic_t n_out;		/* outbound bindings: the hooks' fast exit */
	struct esptcp_stats __percpu *stats;
	struct nf_hook_ops hooks[2];
	bool hooks_on;		/* registered (first outbound binding); under lock */
	u32 gen;		/* esptcp_net_changed(); never 0 */
};

/*
 * What finds an SA in a table: as xfrm finds a state, but for the mark.
 * States that share it and differ in their marks share a list (rhltable).
 */
struct esptcp_key {
	xfrm_address_t daddr;
	__be32 spi;
	u16 family;
	u16 zero;
};

struct esptcp_sock;

struct esptcp_binding {
	struct rhlist_head hnode;
	struct list_head snode;
	struct esptcp_key key;
	u8 dir;
	/* the state's mark; what its packets' mark shows after xfrm (out) */
	struct xfrm_mark mark;
	struct xfrm_mark out;
	struct esptcp_sock *ctx;
	/* inbound: the outer header xfrm expects for this state */
	xfrm_address_t saddr;
	u16 encap_type;
	__be16 encap_sport;
	__be16 encap_dport;
	/* outbound: hand ESP to the stream in xfrm's sequence order */
	spinlock_t lock;
	bool synced;
	bool dead;
	u32 next_seq;
	unsigned int nheld;
	struct sk_buff **held;	/* ESPTCP_REORDER slots, on first use */
	struct timer_list gap_timer;
	struct rcu_head rcu;
};

/**
 * struct esptcp_sock - per-socket ULP state
 * @sk: the TCP socket
 * @en: the socket's netns state
 * @saved_prot: the proto the socket had before attach, restored on close
 * @saved_ops: the proto_ops the socket had before attach
 * @saved_data_ready: TCP's data_ready, called when an IKE message is queued
 * @saved_write_space: TCP's write_space, chained from ours
 * @strp: the stream parser that cuts the stream into messages
 * @ike_queue: IKE messages waiting for recv()
 * @ike_bytes: memory (truesize) in @ike_queue, bounded by ESPTCP_IKE_QUEUE_BYTES
 * @tx_queue: framed messages (ESP and IKE) waiting for TCP, in order
 * @queued: memory (truesize) of the ESP in @tx_queue and held back for
 *	sequence order, against tx_queue_bytes and queue_mem_max
 * @mem_lock: guards @mem_fwd, @mem_debt and @mem_refused
 * @mem_fwd: bytes charged to the carrier for queued ESP that left: a
 *	reserve for the next packets, given back by the send work
 * @mem_debt: bytes of queued ESP not charged to the carrier yet
 * @mem_refused: the carrier could not be charged: no ESP is queued while
 *	a debt is left
 * @tx_dead: no more sending (under @tx_queue's lock)
 * @tx_fin: shutdown(SHUT_WR) was called: nothing more is queued, and TCP's
 *	FIN goes once the queue is empty (under @tx_queue's lock)
 * @tx_fin_sent: and TCP has it now (socket lock)
 * @tx_off: bytes of the head of @tx_queue already in TCP (socket lock)
 * @tx_vec: the iovec of one TCP send, ESPTCP_TX_VECS long; allocated
 *	once the queue holds more than a few messages (socket lock)
 * @tx_work: moves @tx_queue into TCP under the socket lock
 * @abort_work: resets the connection after a fatal framing error
 * @rx_err: the framing error for recv(), reported once (then 0)
 * @rx_esp: ESP packets cut from the stream, waiting for xfrm input
 * @rx_work: hands @rx_esp to xfrm, on another CPU than the parser's
 * @rx_bytes: memory (truesize) in @rx_esp (under its lock)
 * @rx_dead: no more ESP input (under @rx_esp's lock)
 * @rx_owed: TCP has data for the parser that came while the socket was
 *	owned: the owner's release queues @parse_work (socket spinlock, or
 *	the owner)
 * @parse_work: parses for a socket that was owned, once it is not
 * @bindings: SAs bound to this socket (RCU; writers hold esptcp_net.lock)
 * @ino: the socket inode number, the socket's name in netlink
 * @family: AF_INET (a v4-mapped IPv6 socket too) or AF_INET6
 * @lport: local port, network order
 * @rport: remote port
 * @laddr: local address
 * @raddr: remote address
 * @stats: per-socket counters (atomic: a few bytes, not one set per CPU)
 * @closed: close has started (under esptcp_net.lock)
 * @rcu: frees the state after readers are done
 */
struct esptcp_sock {
	struct sock *sk;
	struct esptcp_net *en;
	struct proto *saved_prot;
	const struct proto_ops *saved_ops;
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	struct strparser strp;
	struct sk_buff_head ike_queue;
	atomic_t ike_bytes;
	struct sk_buff_head tx_queue;
	atomic_t queued;
	spinlock_t mem_lock;	/* guards mem_fwd, mem_debt, mem_refused */
	int mem_fwd;
	int mem_debt;
	bool mem_refused;
	bool tx_dead;
	bool tx_fin;
	bool tx_fin_sent;
	unsigned int tx_off;
	struct kvec *tx_vec;
	struct work_struct tx_work;
	struct work_struct abort_work;
	int rx_err;
	struct sk_buff_head rx_esp;
	struct work_struct rx_work;
	unsigned int rx_bytes;
	bool rx_dead;
	bool rx_owed;
	struct work_struct parse_work;
	struct list_head bindings;
	u64 ino;
	/* the connection, as dumps show it: fixed once attached */
	u16 family;
	__be16 lport;
	__be16 rport;
	xfrm_address_t laddr;
	xfrm_address_t raddr;
	atomic64_t stats[ESPTCP_STAT_MAX];
	bool closed;
	struct rcu_head rcu;
};

/* per-skb state while a framed message waits in tx_queue */
struct esptcp_tx_cb {
	__be16 len;		/* the RFC 9329 length field, sent first */
	u8 ike;
};

#define ESPTCP_TX_CB(skb) ((struct esptcp_tx_cb *)(skb)->cb)

/* per-skb state while an ESP packet waits in rx_esp */
struct esptcp_rx_cb {
	int iif;		/* the device TCP received it on */
	u16 family;
	u16 encap;		/* the state's encapsulation type, or 0 */
};

#define ESPTCP_RX_CB(skb) ((struct esptcp_rx_cb *)(skb)->cb)

static inline struct esptcp_sock *esptcp_sk(const struct sock *sk)
{
	return (__force struct esptcp_sock *)inet_csk(sk)->icsk_ulp_data;
}

/*
 * A change a dump shows (attach, close, bind, unbind) bumps the
 * generation, under esptcp_net.lock.  Each part of a dump reads it under
 * that lock too, so a change is wholly before or after the read: a change
 * that overlapped a part shows as a new generation at the next part, or at
 * the dump's end (NLM_F_DUMP_INTR).  0 would turn the check off (netlink
 * takes it for "no sequence").
 */
static inline void esptcp_net_changed(struct esptcp_net *en)
{
	lockdep_assert_held(&en->lock);
	en->gen = en->gen + 1 ?: 1;
}

static inline void esptcp_count(struct esptcp_sock *ctx, enum esptcp_stat s, u64 n)
{
	atomic64_add(n, &ctx->stats[s]);
	this_cpu_add(ctx->en->stats->c[s], n);
}

/* frame.c */
enum esptcp_frame esptcp_frame_classify(unsigned int len, const u8 *body,
					unsigned int avail);
unsigned int esptcp_frame_len(const u8 *hdr);
#ifdef ESPTCP_SELFTEST_BUILD
bool esptcp_frame_selftest(void);
#endif

/* net.c */
struct esptcp_net *esptcp_net(const struct net *net);
void esptcp_stats_sum(struct esptcp_stats __percpu *pcpu, u64 *out);
void esptcp_sock_stats(const struct esptcp_sock *ctx, u64 *out);
int esptcp_net_init(void);
void esptcp_net_exit(void);

/* bind.c */
int esptcp_bind_net_init(struct esptcp_net *en);
void esptcp_bind_net_exit(struct esptcp_net *en);
int esptcp_sa_bind(struct esptcp_net *en, struct esptcp_sock *ctx, u64 ino,
		   const struct esptcp_sa *req);
int esptcp_sa_unbind(struct esptcp_net *en, struct esptcp_sock *ctx, u64 ino,
		     bool any, const struct esptcp_sa *req);
void esptcp_unbind_all(struct esptcp_sock *ctx);
struct esptcp_binding *esptcp_binding_out(struct esptcp_net *en, u16 family,
					  const void *daddr, __be32 spi, u32 mark);
struct esptcp_binding *esptcp_binding_in(struct esptcp_sock *ctx, __be32 spi);
void esptcp_sa_from_key(const struct esptcp_binding *b, struct esptcp_sa *sa);

/* tx.c */
void esptcp_tx_init(struct esptcp_sock *ctx);
long esptcp_queued_mem(void);
void esptcp_mem_release(struct esptcp_sock *ctx);
bool esptcp_tx_enqueue(struct esptcp_sock *ctx, struct sk_buff *skb, bool ike);
void esptcp_tx_kick(struct esptcp_sock *ctx);
void esptcp_tx_flush(struct esptcp_sock *ctx);
void esptcp_tx_stop(struct esptcp_sock *ctx);
void esptcp_steer(struct esptcp_binding *b, struct sk_buff *skb, u32 seq);
void esptcp_binding_kill(struct esptcp_binding *b);
void esptcp_gap_timer(struct timer_list *t);
int esptcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);
void esptcp_shutdown(struct sock *sk, int how);

/* steer.c */
void esptcp_steer_net_init(struct net *net);
int esptcp_steer_hooks_on(struct esptcp_net *en);
void esptcp_steer_net_exit(struct net *net);

/* rx.c */
int esptcp_rx_start(struct esptcp_sock *ctx);
void esptcp_rx_stop(struct esptcp_sock *ctx);
void esptcp_release_cb(struct sock *sk);
void esptcp_rx_done(struct esptcp_sock *ctx);
int esptcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags);
__poll_t esptcp_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait);

/* netlink.c */
int esptcp_genl_init(void);
void esptcp_genl_exit(void);

/* ulp.c */
int esptcp_ulp_init(void);
void esptcp_ulp_exit(void);
bool esptcp_capable(const struct net *net);
bool esptcp_is_attached(const struct sock *sk);

#endif /* _ESPTCP_H */
