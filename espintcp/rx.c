// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: receive - the stream cut into RFC 9329 messages.
 *
 * A strparser on the socket reads the 2-byte length and hands over whole
 * messages, from TCP's data_ready (softirq, socket spinlock held) or, for
 * data that came while the socket was owned, from a work item of the
 * socket's own that the owner's release queues on its CPU
 * (esptcp_release_cb()); not from strparser's work item, which runs on
 * kstrp, one ordered queue for every parser in the system (only a pass
 * that failed to allocate, and the timer of SO_RCVTIMEO, still run there).
 * IKE messages wait in a queue for recv().  ESP frames are accepted only
 * for inbound SAs bound to this socket; each is copied into a fresh skb the
 * module owns - never handing xfrm pages it does not own, since ESP
 * decrypts in place and the stream's pages may be page cache spliced in by
 * a local sender - behind an outer header rebuilt from the bound state, and
 * given to xfrm with the state's encapsulation type from a work item on the
 * next CPU.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "esptcp.h"
#include "compat.h"

static inline struct esptcp_sock *esptcp_strp_ctx(struct strparser *strp)
{
	return container_of(strp, struct esptcp_sock, strp);
}

/*
 * strparser leaves a message in TCP until all of it is there, so TCP must
 * be able to hold the largest frame RFC 9329 allows, whatever its segments
 * cost in truesize: TCP closes its window once the free part of the buffer
 * is under one segment (up to 64 KiB on loopback) or 1/16 of it, and a
 * buffer of two frames closed it with 63 KB of a 64 KB frame in: the rest
 * never came.  Eight frames hold one whole even at a truesize of six times
 * its bytes.  The memory stays TCP's, charged and bounded by the buffer;
 * it is used only while a message is incomplete (or the parser paused),
 * and autotuning grows the buffer past it for throughput.  strparser also
 * resets a stream whose message is larger than sk_rcvbuf, so a socket
 * whose buffer was set small (SO_RCVBUF, a low tcp_rmem) is raised too.
 */
#define ESPTCP_MIN_RCVBUF	(8 * (ESPTCP_MAX_MSG + ESPTCP_LEN_SIZE))

static void esptcp_rcvbuf_fit(struct sock *sk)
{
	if (unlikely(READ_ONCE(sk->sk_rcvbuf) < ESPTCP_MIN_RCVBUF))
		WRITE_ONCE(sk->sk_rcvbuf, ESPTCP_MIN_RCVBUF);
}

/*
 * The window TCP offers follows the larger buffer, as tcp_set_rcvlowat()
 * does for the same need: its clamp was set from the buffer at the
 * handshake, and autotuning raises it only once it wants more than
 * ESPTCP_MIN_RCVBUF.  Socket owned or its spinlock held in softirq.
 */
static void esptcp_window_fit(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 clamp;

	esptcp_rcvbuf_fit(sk);
	clamp = tcp_win_from_space(sk, ESPTCP_MIN_RCVBUF);
	if (unlikely(READ_ONCE(tp->window_clamp) < clamp))
		WRITE_ONCE(tp->window_clamp, clamp);
}

static int esptcp_parse(struct strparser *strp, struct sk_buff *skb)
{
	struct strp_msg *rxm = strp_msg(skb);
	u8 hdr[ESPTCP_LEN_SIZE];
	unsigned int len;

	if (skb->len < rxm->offset + ESPTCP_LEN_SIZE)
		return 0;
	if (skb_copy_bits(skb, rxm->offset, hdr, sizeof(hdr)))
		return -EINVAL;
	len = esptcp_frame_len(hdr);
	/* counted in esptcp_abort(): strparser may ask again after an error */
	if (len < ESPTCP_LEN_SIZE)
		return -EBADMSG;
	return len;
}

static void esptcp_abort_work(struct work_struct *work)
{
	struct esptcp_sock *ctx = container_of(work, struct esptcp_sock, abort_work);
	struct sock *sk = ctx->sk;

	/*
	 * RFC 9329: a stream that cannot be framed is closed; reset it.  The
	 * owner has the error in rx_err (esptcp_abort()), not in sk_err,
	 * which tcp_abort() writes: an error TCP had stays what it is.
	 */
	tcp_abort(sk, READ_ONCE(sk->sk_err));
	sock_put(sk);
}

/* The stream cannot be parsed any further: tell the owner, reset it. */
static void esptcp_abort(struct strparser *strp, int err)
{
	struct esptcp_sock *ctx = esptcp_strp_ctx(strp);
	struct sock *sk = ctx->sk;

	/* a message slower than SO_RCVTIMEO is not a broken stream */
	if (strp->stopped || err == -ETIMEDOUT)
		return;
	if (err == -EBADMSG)
		esptcp_count(ctx, ESPTCP_STAT_RX_BAD_LENGTH, 1);
	net_info_ratelimited("esptcp: unframeable stream on port %u (%d): resetting the connection\n",
			     ntohs(inet_sk(sk)->inet_sport), err);
	/*
	 * The error is the module's, for recv() to report once (sk_err
	 * would be set again by tcp_abort(), and taken by send()).  It is
	 * set before the FIN can make recv() report the end, and before the
	 * stop: a reader that sees the parser stopped (esptcp_rx_drained())
	 * sees the error too.
	 */
	WRITE_ONCE(ctx->rx_err, -err);
	smp_wmb();	/* pairs with smp_rmb() in esptcp_recvmsg() */
	WRITE_ONCE(strp->stopped, 1);
	sk_error_report(sk);
	sock_hold(sk);
	if (!queue_work(esptcp_wq, &ctx->abort_work))
		sock_put(sk);
}

/*
 * RFC 9329 has no urgent data, but a peer or a middlebox can set URG, and
 * tcp_read_sock() stops at the urgent byte for good, the parser with it.
 * The byte is the stream's like any other: forget the mark, as
 * SO_OOBINLINE would for a reader.  Socket spinlock held in softirq, or
 * owned: tcp_read_sock() cannot run meanwhile.
 */
static void esptcp_urg_inline(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (unlikely(READ_ONCE(tp->urg_data))) {
		WRITE_ONCE(tp->urg_data, 0);
		tcp_fast_path_check(sk);
	}
}

/*
 * IKE messages unread, in truesize, before the parser waits for recv():
 * two of the largest, whatever the (larger) receive buffer.
 */
#define ESPTCP_IKE_QUEUE_BYTES	(2 * (ESPTCP_MAX_MSG + ESPTCP_LEN_SIZE))

/*
 * The parser stops reading (and TCP's window closes) while either queue is
 * full: the ESP backlog, or ESPTCP_IKE_QUEUE_BYTES of IKE messages unread.
 * rx_esp.lock held.
 */
static bool esptcp_rx_full(const struct esptcp_sock *ctx)
{
	return skb_queue_len(&ctx->rx_esp) >= ESPTCP_RX_BACKLOG ||
	       ctx->rx_bytes >= ESPTCP_RX_BACKLOG_BYTES ||
	       atomic_read(&ctx->ike_bytes) >= ESPTCP_IKE_QUEUE_BYTES;
}

/* Pause the parser after this message if a queue is full; rx_esp.lock held. */
static void esptcp_rx_maybe_pause(struct esptcp_sock *ctx, enum esptcp_stat why)
{
	if (!ctx->strp.paused && esptcp_rx_full(ctx)) {
		strp_pause(&ctx->strp);
		esptcp_count(ctx, why, 1);
	}
}

/*
 * TCP holds data for the parser: parse it now, or, while the socket is
 * owned, once the owner has let go of it (esptcp_release_cb()).  Socket
 * spinlock held (softirq), or owned by the caller.
 */
static void esptcp_rx_ready(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;

	esptcp_urg_inline(sk);
	esptcp_window_fit(sk);
	if (sock_owned_by_user_nocheck(sk))
		WRITE_ONCE(ctx->rx_owed, true);
	else
		strp_data_ready(&ctx->strp);
}

/*
 * Parse what TCP holds, from process context without the socket lock: at
 * once if nobody owns the socket, else once its owner lets go.  The
 * socket spinlock orders this with the owner's esptcp_release_cb().
 */
static void esptcp_rx_kick(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;

	local_bh_disable();
	bh_lock_sock(sk);
	esptcp_rx_ready(ctx);
	bh_unlock_sock(sk);
	local_bh_enable();
}

/*
 * A pass for recv(), after whoever owns the socket: false when the socket
 * had to be owned to wait for that, and the pass is owed to the release.
 */
static bool esptcp_rx_pass(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;
	bool slow = lock_sock_fast(sk);

	esptcp_rx_ready(ctx);
	unlock_sock_fast(sk, slow);
	return !slow;
}

static void esptcp_parse_work(struct work_struct *work)
{
	esptcp_rx_kick(container_of(work, struct esptcp_sock, parse_work));
}

/* Resume the parser once neither queue holds it back. */
static void esptcp_rx_resume(struct esptcp_sock *ctx)
{
	bool go = false;

	spin_lock_bh(&ctx->rx_esp.lock);
	/* under the lock, so a pause decided meanwhile is not undone */
	if (ctx->strp.paused && !ctx->rx_dead && !esptcp_rx_full(ctx)) {
		esptcp_rcvbuf_fit(ctx->sk);
		WRITE_ONCE(ctx->strp.paused, 0);
		go = true;
	}
	spin_unlock_bh(&ctx->rx_esp.lock);
	if (go)
		esptcp_rx_kick(ctx);
}

static void esptcp_rx_ike(struct esptcp_sock *ctx, struct sk_buff *skb,
			  unsigned int mlen)
{
	struct strp_msg *rxm = strp_msg(skb);
	struct sock *sk = ctx->sk;
	struct sk_buff *nskb;

	/*
	 * A right-sized private copy: the parser's clones would pin TCP's
	 * (GRO-sized) buffers, and their truesize says nothing of one message.
	 */
	nskb = alloc_skb(mlen, GFP_ATOMIC);
	if (!nskb || skb_copy_bits(skb, rxm->offset + ESPTCP_LEN_SIZE, skb_put(nskb, mlen), mlen)) {
		esptcp_count(ctx, ESPTCP_STAT_RX_DROP_NOMEM, 1);
		kfree_skb(nskb);
		kfree_skb(skb);
		return;
	}
	consume_skb(skb);
	esptcp_count(ctx, ESPTCP_STAT_RX_IKE_MSGS, 1);
	esptcp_count(ctx, ESPTCP_STAT_RX_IKE_BYTES, mlen);
	/*
	 * Never dropped: IKE over TCP is not retransmitted (RFC 9329).  As
	 * for any receive queue, a message always fits; once the queue holds
	 * ESPTCP_IKE_QUEUE_BYTES the parser waits for recv(), and the rest
	 * waits in TCP.
	 */
	spin_lock_bh(&ctx->rx_esp.lock);
	atomic_add(nskb->truesize, &ctx->ike_bytes);
	esptcp_rx_maybe_pause(ctx, ESPTCP_STAT_RX_IKE_PAUSED);
	spin_unlock_bh(&ctx->rx_esp.lock);
	/* not nested: both queue locks are of one lockdep class */
	skb_queue_tail(&ctx->ike_queue, nskb);
	ctx->saved_data_ready(sk);
}

/* Build the packet xfrm would have seen had this SA's ESP come by IP. */
static struct sk_buff *esptcp_rx_build(const struct esptcp_binding *b,
				       const struct sk_buff *skb,
				       unsigned int off, unsigned int len)
{
	bool v4 = b->key.family == AF_INET;
	unsigned int nhlen = v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	unsigned int uhlen = b->encap_type ? sizeof(struct udphdr) : 0;
	struct sk_buff *nskb;

	nskb = alloc_skb(nhlen + uhlen + len, GFP_ATOMIC);
	if (!nskb)
		return NULL;
	skb_reset_network_header(nskb);
	if (v4) {
		struct iphdr *iph = skb_put_zero(nskb, nhlen);

		iph->version = 4;
		iph->ihl = nhlen / 4;
		iph->ttl = 64;
		/* as xfrm4_udp_encap_rcv() leaves it: UDP kept, not counted */
		iph->tot_len = htons(nhlen + len);
		iph->protocol = uhlen ? IPPROTO_UDP : IPPROTO_ESP;
		iph->saddr = b->saddr.a4;
		iph->daddr = b->key.daddr.a4;
		ip_send_check(iph);
		nskb->protocol = htons(ETH_P_IP);
	} else {
		struct ipv6hdr *ip6h = skb_put_zero(nskb, nhlen);

		ip6h->version = 6;
		ip6h->hop_limit = 64;
		ip6h->payload_len = htons(len);
		ip6h->nexthdr = uhlen ? IPPROTO_UDP : IPPROTO_ESP;
		ip6h->saddr = b->saddr.in6;
		ip6h->daddr = b->key.daddr.in6;
		nskb->protocol = htons(ETH_P_IPV6);
	}
	if (uhlen) {
		/* esp_input_done2() checks the source port against the state */
		struct udphdr *uh = skb_put_zero(nskb, uhlen);

		uh->source = b->encap_sport;
		uh->dest = b->encap_dport;
		uh->len = htons(uhlen + len);
	}
	skb_set_transport_header(nskb, nhlen + uhlen);
	/* the copy: xfrm decrypts in place, and only in memory we own */
	if (skb_copy_bits(skb, off, skb_put(nskb, len), len)) {
		kfree_skb(nskb);
		return NULL;
	}
	__skb_pull(nskb, nhlen + uhlen);
	nskb->pkt_type = PACKET_HOST;
	nskb->mark = b->mark.v;
	return nskb;
}

static void esptcp_rx_esp(struct esptcp_sock *ctx, struct sk_buff *skb,
			  unsigned int off, unsigned int len, __be32 spi)
{
	struct esptcp_binding *b;
	struct esptcp_rx_cb *cb;
	struct sk_buff *nskb;
	unsigned int cpu;
	bool ok;

	rcu_read_lock();
	b = esptcp_binding_in(ctx, spi);
	if (!b) {
		rcu_read_unlock();
		esptcp_count(ctx, ESPTCP_STAT_RX_DROP_NO_SA, 1);
		net_dbg_ratelimited("esptcp: ESP for SPI 0x%08x not bound to this socket\n",
				    ntohl(spi));
		kfree_skb(skb);
		return;
	}
	nskb = esptcp_rx_build(b, skb, off, len);
	if (nskb) {
		cb = ESPTCP_RX_CB(nskb);
		cb->iif = skb->skb_iif;
		cb->family = b->key.family;
		cb->encap = b->encap_type;
	}
	rcu_read_unlock();
	consume_skb(skb);
	if (!nskb) {
		esptcp_count(ctx, ESPTCP_STAT_RX_DROP_NOMEM, 1);
		return;
	}

	/*
	 * xfrm input runs in the work item, on the next CPU: the parser runs
	 * where TCP received, often the CPU that also encrypts and sends, so
	 * decryption and the inner stack then run beside it.  A full backlog
	 * (ESPTCP_RX_BACKLOG packets, or ESPTCP_RX_BACKLOG_BYTES) pauses the
	 * parser, which leaves the rest in TCP: nothing is lost.
	 */
	spin_lock_bh(&ctx->rx_esp.lock);
	ok = !ctx->rx_dead;
	if (ok) {
		__skb_queue_tail(&ctx->rx_esp, nskb);
		ctx->rx_bytes += nskb->truesize;
		esptcp_rx_maybe_pause(ctx, ESPTCP_STAT_RX_ESP_PAUSED);
		cpu = cpumask_next(smp_processor_id(), cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		queue_work_on(cpu, esptcp_wq, &ctx->rx_work);
	}
	spin_unlock_bh(&ctx->rx_esp.lock);
	if (!ok) {
		kfree_skb(nskb);
		return;
	}
	esptcp_count(ctx, ESPTCP_STAT_RX_ESP_PKTS, 1);
	esptcp_count(ctx, ESPTCP_STAT_RX_ESP_BYTES, len);
}

/* Hand the ESP backlog to xfrm, in the order it came off the stream. */
static void esptcp_rx_work(struct work_struct *work)
{
	struct esptcp_sock *ctx = container_of(work, struct esptcp_sock, rx_work);
	struct net *net = sock_net(ctx->sk);
	struct sk_buff_head q;
	struct sk_buff *skb;

	__skb_queue_head_init(&q);
	spin_lock_bh(&ctx->rx_esp.lock);
	skb_queue_splice_init(&ctx->rx_esp, &q);
	ctx->rx_bytes = 0;
	spin_unlock_bh(&ctx->rx_esp.lock);

	while ((skb = __skb_dequeue(&q))) {
		struct esptcp_rx_cb cb = *ESPTCP_RX_CB(skb);
		struct net_device *dev;

		memset(skb->cb, 0, sizeof(skb->cb));
		if (cb.family == AF_INET6)
			IP6CB(skb)->nhoff = offsetof(struct ipv6hdr, nexthdr);
		rcu_read_lock();
		/* the device TCP received it on; its netns' loopback if that is gone */
		dev = dev_get_by_index_rcu(net, cb.iif);
		skb->dev = dev ?: net->loopback_dev;
		skb->skb_iif = skb->dev->ifindex;
		local_bh_disable();
		if (cb.family == AF_INET)
			xfrm4_rcv_encap(skb, IPPROTO_ESP, 0, cb.encap);
		else
			xfrm6_rcv_encap(skb, IPPROTO_ESP, 0, cb.encap);
		local_bh_enable();
		rcu_read_unlock();
	}
	esptcp_rx_resume(ctx);
}

static void esptcp_rcv(struct strparser *strp, struct sk_buff *skb)
{
	struct esptcp_sock *ctx = esptcp_strp_ctx(strp);
	struct strp_msg *rxm = strp_msg(skb);
	unsigned int len = rxm->full_len;
	u8 body[ESPTCP_MARKER_SIZE + 1];
	unsigned int avail = min_t(unsigned int, len - ESPTCP_LEN_SIZE, sizeof(body));

	if (skb_copy_bits(skb, rxm->offset + ESPTCP_LEN_SIZE, body, avail)) {
		esptcp_count(ctx, ESPTCP_STAT_RX_DROP_SHORT, 1);
		kfree_skb(skb);
		return;
	}
	switch (esptcp_frame_classify(len, body, avail)) {
	case ESPTCP_FRAME_KEEPALIVE:
		esptcp_count(ctx, ESPTCP_STAT_RX_KEEPALIVES, 1);
		consume_skb(skb);
		return;
	case ESPTCP_FRAME_IKE:
		esptcp_rx_ike(ctx, skb, len - ESPTCP_LEN_SIZE);
		return;
	case ESPTCP_FRAME_ESP:
		esptcp_rx_esp(ctx, skb, rxm->offset + ESPTCP_LEN_SIZE,
			      len - ESPTCP_LEN_SIZE, get_unaligned((__be32 *)body));
		return;
	default:
		esptcp_count(ctx, ESPTCP_STAT_RX_DROP_SHORT, 1);
		kfree_skb(skb);
		return;
	}
}

/*
 * Socket spinlock held in softirq, or owned: from the backlog at release,
 * or from TCP's receive path under a send.  For an owned socket
 * strp_data_ready() would queue its pass on kstrp, the single ordered
 * queue of all the system's parsers, where two-way traffic (every send
 * owns the socket) would serialize every connection's receive.
 */
static void esptcp_data_ready(struct sock *sk)
{
	esptcp_rx_ready(esptcp_sk(sk));
}

/**
 * esptcp_release_cb() - TCP's release callback, and the parse owed
 * @sk: the socket
 *
 * Data that came while the socket was owned is parsed by the socket's
 * parse work, queued here on this CPU: where the owner ran and TCP
 * processed the backlog, and where the work, queued behind the owner on
 * the module's per-CPU queue, finds the socket free.  (strparser cannot
 * parse for the owner itself: it hands an owned socket's pass to kstrp.)
 * A paused parser is owed nothing: esptcp_rx_resume() parses.
 *
 * Context: release_sock() (or, from 6.7, a backlog flush in a send): the
 * socket's spinlock held, bottom halves off; owned by the caller, or just
 * no longer (tcp_release_cb() may end the ownership early).
 */
void esptcp_release_cb(struct sock *sk)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);

	if (ctx->saved_prot->release_cb)
		ctx->saved_prot->release_cb(sk);
	if (!READ_ONCE(ctx->rx_owed))
		return;
	WRITE_ONCE(ctx->rx_owed, false);
	if (!READ_ONCE(ctx->strp.stopped) && !READ_ONCE(ctx->strp.paused))
		queue_work_on(smp_processor_id(), esptcp_wq, &ctx->parse_work);
}

static void esptcp_write_space(struct sock *sk)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);

	esptcp_tx_kick(ctx);
	ctx->saved_write_space(sk);
}

static const struct strp_callbacks esptcp_strp_cb = {
	.parse_msg	= esptcp_parse,
	.rcv_msg	= esptcp_rcv,
	.abort_parser	= esptcp_abort,
};

/**
 * esptcp_rx_start() - start parsing the stream and take over the callbacks
 * @ctx: the socket
 *
 * Anything the peer sent before the attach is parsed once the attach
 * releases the socket.
 *
 * Context: process, attach, socket locked.
 * Return: 0 or a negative errno.
 */
int esptcp_rx_start(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;
	int err;

	skb_queue_head_init(&ctx->ike_queue);
	skb_queue_head_init(&ctx->rx_esp);
	INIT_WORK(&ctx->abort_work, esptcp_abort_work);
	INIT_WORK(&ctx->rx_work, esptcp_rx_work);
	INIT_WORK(&ctx->parse_work, esptcp_parse_work);
	err = strp_init(&ctx->strp, sk, &esptcp_strp_cb);
	if (err)
		return err;

	write_lock_bh(&sk->sk_callback_lock);
	ctx->saved_data_ready = sk->sk_data_ready;
	ctx->saved_write_space = sk->sk_write_space;
	sk->sk_data_ready = esptcp_data_ready;
	sk->sk_write_space = esptcp_write_space;
	write_unlock_bh(&sk->sk_callback_lock);

	sock_set_flag(sk, SOCK_URGINLINE);
	/* what came before the attach: parsed once the attach lets go */
	esptcp_rx_ready(ctx);
	return 0;
}

/**
 * esptcp_rx_stop() - give the callbacks back and stop parsing
 * @ctx: the socket
 *
 * Context: process, close, socket locked.
 */
void esptcp_rx_stop(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;

	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_data_ready = ctx->saved_data_ready;
	sk->sk_write_space = ctx->saved_write_space;
	rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
	strp_stop(&ctx->strp);
	spin_lock_bh(&ctx->rx_esp.lock);
	ctx->rx_dead = true;
	spin_unlock_bh(&ctx->rx_esp.lock);
}

/**
 * esptcp_rx_done() - wait for the parser and the reset work, free the queue
 * @ctx: the socket
 *
 * Context: process, close, socket not locked.
 */
void esptcp_rx_done(struct esptcp_sock *ctx)
{
	/* first: the work may unpause the parser, which parses or queues */
	disable_work_sync(&ctx->rx_work);
	disable_work_sync(&ctx->parse_work);
	skb_queue_purge(&ctx->rx_esp);
	strp_done(&ctx->strp);
	if (disable_work_sync(&ctx->abort_work))
		sock_put(ctx->sk);
	skb_queue_purge(&ctx->ike_queue);
	atomic_set(&ctx->ike_bytes, 0);
}

/* The next IKE message, taken off the queue (or referenced, to peek). */
static struct sk_buff *esptcp_ike_dequeue(struct esptcp_sock *ctx, int flags)
{
	struct sk_buff *skb;

	spin_lock_bh(&ctx->ike_queue.lock);
	skb = skb_peek(&ctx->ike_queue);
	if (skb) {
		if (flags & MSG_PEEK)
			skb_get(skb);
		else
			__skb_unlink(skb, &ctx->ike_queue);
	}
	spin_unlock_bh(&ctx->ike_queue.lock);
	return skb;
}

/* Something for recv() to report: a message, an error or the end. */
static bool esptcp_rx_woken(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;

	return !skb_queue_empty_lockless(&ctx->ike_queue) || READ_ONCE(ctx->rx_err) ||
	       READ_ONCE(sk->sk_err) || (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN);
}

/* recv()'s wait ignores wakeups for room to send, as datagram sockets do */
static int esptcp_recv_wake(struct wait_queue_entry *wait, unsigned int mode, int sync,
			    void *key)
{
	if (key && !(key_to_poll(key) & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
		return 0;
	return autoremove_wake_function(wait, mode, sync, key);
}

/* Sleep until esptcp_rx_woken(), a signal or the end of *@timeo. */
static void esptcp_recv_wait(struct esptcp_sock *ctx, long *timeo)
{
	struct sock *sk = ctx->sk;
	DEFINE_WAIT_FUNC(wait, esptcp_recv_wake);

	prepare_to_wait_exclusive(sk_sleep(sk), &wait, TASK_INTERRUPTIBLE);
	if (!esptcp_rx_woken(ctx))
		*timeo = schedule_timeout(*timeo);
	finish_wait(sk_sleep(sk), &wait);
}

/*
 * After the FIN: has the parser taken from TCP all it ever can?  Not while
 * bytes wait in TCP that it has not looked at (its pass is queued, or it
 * is paused for the ESP backlog); an incomplete message it waits for can
 * no longer come.  *@inq: what TCP still holds.
 */
static bool esptcp_rx_drained(struct esptcp_sock *ctx, int *inq)
{
	*inq = tcp_inq(ctx->sk);
	if (READ_ONCE(ctx->strp.stopped))
		return true;
	return *inq <= 0 || READ_ONCE(ctx->strp.need_bytes) > *inq;
}

/**
 * esptcp_recvmsg() - receive one IKE message
 * @sk: the socket
 * @msg: where it goes
 * @len: room in @msg
 * @flags: MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC
 *
 * Context: process, socket not locked.
 * Return: the bytes copied (the message length with MSG_TRUNC), 0 at EOF,
 * or a negative errno; MSG_TRUNC is set in @msg when @len was short.
 */
int esptcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);
	int err, inq = 0, last_inq = -1;
	unsigned int mlen, copy;
	struct sk_buff *skb;
	long timeo;

	if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC |
		      MSG_CMSG_COMPAT))
		return -EOPNOTSUPP;
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	/*
	 * Messages the stream held before it failed come before the error,
	 * and before the end: only an empty queue reports sk_err or EOF.
	 * (The generic datagram receive reports sk_err first, also to a
	 * reader that slept while one pass of the parser queued a message
	 * and met the error.)  So the error and the end are read first and
	 * the queue after: a message queued meanwhile is still seen (the
	 * parser queues it before TCP's copied_seq moves, and
	 * esptcp_abort() sets the error before the stop).
	 */
	for (;;) {
		bool shut, drained = false;

		err = READ_ONCE(ctx->rx_err) || READ_ONCE(sk->sk_err);
		shut = READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN;
		if (shut)
			drained = esptcp_rx_drained(ctx, &inq);
		/*
		 * Pairs with esptcp_abort()'s smp_wmb(), and with the full
		 * barrier of the wakeup after a message is queued, which
		 * comes before TCP's copied_seq moves.
		 */
		smp_rmb();
		skb = esptcp_ike_dequeue(ctx, flags);
		if (skb)
			break;
		if (err) {
			err = xchg(&ctx->rx_err, 0);
			if (err)
				return -err;
			err = sock_error(sk);
			if (err)
				return err;
			continue;	/* another caller took it */
		}
		if (shut) {
			/*
			 * Messages TCP received before the FIN may not be
			 * parsed yet (a reader that fell behind paused the
			 * parser): run the passes that parse them, as long
			 * as each takes something from TCP.
			 */
			if (drained || inq == last_inq)
				return 0;
			/* a local SHUT_RD with the peer still sending: no end */
			if (signal_pending(current))
				return sock_intr_errno(timeo);
			flush_work(&ctx->rx_work);
			esptcp_rx_resume(ctx);
			/* only a pass that ran counts: an owed one may not have yet */
			if (esptcp_rx_pass(ctx))
				last_inq = inq;
			continue;
		}
		if (!timeo)
			return -EAGAIN;
		if (signal_pending(current))
			return sock_intr_errno(timeo);
		esptcp_recv_wait(ctx, &timeo);
	}
	/* queued IKE skbs hold exactly one message (esptcp_rx_ike()) */
	mlen = skb->len;
	copy = min_t(size_t, len, mlen);
	err = skb_copy_datagram_msg(skb, 0, msg, copy);
	if (copy < mlen)
		msg->msg_flags |= MSG_TRUNC;
	if (!(flags & MSG_PEEK)) {
		atomic_sub(skb->truesize, &ctx->ike_bytes);
		if (READ_ONCE(ctx->strp.paused))
			esptcp_rx_resume(ctx);
	}
	consume_skb(skb);
	if (err)
		return err;
	return flags & MSG_TRUNC ? mlen : copy;
}

/**
 * esptcp_poll() - TCP's poll, readable when an IKE message is queued
 * @file: the socket's file
 * @sock: the socket
 * @wait: the poll table
 *
 * Context: process.
 * Return: the event mask.
 */
__poll_t esptcp_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait)
{
	struct sock *sk = sock->sk;
	struct esptcp_sock *ctx = esptcp_sk(sk);
	__poll_t mask = ctx->saved_ops->poll(file, sock, wait);

	mask &= ~(EPOLLIN | EPOLLRDNORM);
	if (!skb_queue_empty_lockless(&ctx->ike_queue) ||
	    (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(ctx->rx_err))
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLERR;
	return mask;
}
