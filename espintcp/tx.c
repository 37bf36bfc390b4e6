// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: transmit - ESP from xfrm and IKE from send() into the stream.
 *
 * Every framed message goes through one per-socket queue, so frames are
 * never interleaved and IKE keeps its place among the ESP packets.  The
 * output hook and the gap timer only append to the queue (BH lock) and
 * kick a work item; the queue is moved into TCP under the socket lock,
 * from that work item or from send(), many frames per tcp_sendmsg_locked()
 * call.  Nothing here sleeps or takes the socket lock in the xfrm path.
 *
 * ESP order: xfrm numbers an SA's packets under the state lock but
 * encrypts them outside it, so two CPUs can reach the hook out of order.
 * Each outbound binding hands packets to the queue in sequence order,
 * holding back up to ESPTCP_REORDER early ones until the gap fills, or for
 * ESPTCP_GAP_TIMEOUT at most (a packet numbered but then lost before the
 * hook never arrives).  The wait covers asynchronous crypto: AES-GCM runs
 * in cryptd when the FPU is not usable, and completes late and elsewhere.
 */
#include <linux/skbuff.h>
#include <linux/uio.h>
#include <net/tcp.h>

#include "esptcp.h"
#include "compat.h"

/* frames per tcp_sendmsg_locked() call */
#define ESPTCP_TX_BATCH		32

static void esptcp_tx_work(struct work_struct *work);

/**
 * esptcp_tx_init() - set up the send side of a socket
 * @ctx: the socket
 *
 * Context: process, attach.
 */
void esptcp_tx_init(struct esptcp_sock *ctx)
{
	skb_queue_head_init(&ctx->tx_queue);
	INIT_WORK(&ctx->tx_work, esptcp_tx_work);
	spin_lock_init(&ctx->mem_lock);
}

/* queued ESP of every socket (truesize), against esptcp_queue_mem_max */
static atomic_long_t esptcp_queued = ATOMIC_LONG_INIT(0);

/**
 * esptcp_queued_mem() - the memory all sockets have queued
 *
 * Context: any.
 * Return: the truesize of ESP queued or held back, in bytes.
 */
long esptcp_queued_mem(void)
{
	return atomic_long_read(&esptcp_queued);
}

/*
 * The carrier pays for the ESP that waits to go into it, as for its own
 * buffers: its protocol's memory (tcp_mem, /proc/net/sockstat) and its
 * memory cgroup.  Both are charged through the socket's forward
 * allocation, which only its owner may touch, and the output hook cannot
 * own it.  So the hook takes from a reserve of the socket's own
 * (@mem_fwd) or, past it, runs up a debt (@mem_debt), and the send work,
 * which owns the socket and is queued with every packet, settles: charges
 * the debt, and gives back what the reserve holds once packets left.  A
 * socket whose debt could not be charged (memory pressure, or tcp_mem's
 * hard limit) queues no ESP while that debt lasts (esptcp_carrier_settle()).
 * The charge runs behind by what arrived between two runs of the work,
 * which tx_queue_bytes bounds.
 */
static bool esptcp_carrier_charge(struct esptcp_sock *ctx, int size)
{
	bool ok;

	spin_lock_bh(&ctx->mem_lock);
	ok = !ctx->mem_refused;
	if (ok && ctx->mem_fwd >= size) {
		ctx->mem_fwd -= size;
	} else if (ok) {
		ctx->mem_debt += size - ctx->mem_fwd;
		ctx->mem_fwd = 0;
	}
	spin_unlock_bh(&ctx->mem_lock);
	return ok;
}

/* what was never charged is forgotten first */
static void esptcp_carrier_uncharge(struct esptcp_sock *ctx, int size)
{
	int d;

	spin_lock_bh(&ctx->mem_lock);
	d = min(ctx->mem_debt, size);
	ctx->mem_debt -= d;
	ctx->mem_fwd += size - d;
	/* nothing uncharged left: the next packet may try (and queue the work) */
	if (!ctx->mem_debt)
		ctx->mem_refused = false;
	spin_unlock_bh(&ctx->mem_lock);
}

/*
 * Settle with the carrier: its forward allocation pays the debt (charging
 * whole pages to its protocol and cgroup as needed) and takes back the
 * reserve, which TCP's own reclaim returns.  SK_MEM_RECV: a refused
 * SK_MEM_SEND would shrink the send buffer.  With BH off, as TCP's receive
 * path charges: no reclaim or OOM kill in the carrier's cgroup for ESP;
 * such a charge may go past memory.max, so a carrier under memory pressure
 * (its protocol's or its cgroup's) is refused as well.  A refusal lasts
 * while a debt does: ESP that leaves pays it off (esptcp_carrier_uncharge())
 * and lifts it.  Socket owned.
 */
static void esptcp_carrier_settle(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;
	bool paid = true;
	int debt, fwd;

	spin_lock_bh(&ctx->mem_lock);
	debt = ctx->mem_debt;
	fwd = ctx->mem_fwd;
	ctx->mem_fwd = 0;
	spin_unlock_bh(&ctx->mem_lock);
	if (fwd) {
		esptcp_fwd_alloc_add(sk, fwd);
		sk_mem_reclaim(sk);
	}
	if (!debt)
		return;
	if (debt > sk->sk_forward_alloc) {
		local_bh_disable();
		paid = !sk_under_memory_pressure(sk) &&
		       __sk_mem_schedule(sk, debt, SK_MEM_RECV);
		local_bh_enable();
	}
	if (paid)
		esptcp_fwd_alloc_add(sk, -debt);
	spin_lock_bh(&ctx->mem_lock);
	if (paid) {
		/*
		 * Meanwhile the hook ran up more debt, and ESP that left paid
		 * some off: what is left over of the payment is the reserve's.
		 */
		ctx->mem_debt -= debt;
		if (ctx->mem_debt < 0) {
			ctx->mem_fwd -= ctx->mem_debt;
			ctx->mem_debt = 0;
		}
	}
	ctx->mem_refused = ctx->mem_debt > 0;
	spin_unlock_bh(&ctx->mem_lock);
}

/**
 * esptcp_mem_release() - give the carrier back the last of its charge
 * @ctx: the socket, whose ESP was all sent or dropped
 *
 * Context: the socket's destruction (TCP's destroy, which reclaims its
 * forward allocation right after).
 */
void esptcp_mem_release(struct esptcp_sock *ctx)
{
	int queued = atomic_read(&ctx->queued);

	/* all of what was taken, whatever went wrong */
	WARN_ON_ONCE(queued || ctx->mem_debt);
	esptcp_fwd_alloc_add(ctx->sk, ctx->mem_fwd + queued - ctx->mem_debt);
	ctx->mem_fwd = 0;
	ctx->mem_debt = 0;
}

/*
 * May @skb (ESP) be queued on @ctx?  Charged if so.  A socket queues up
 * to tx_queue_bytes, and all of them together up to queue_mem_max.  Past
 * half of that, a socket that has more than its share of the other half
 * (or ESPTCP_MEM_FLOOR) queues nothing more: stalled peers cannot take all
 * of it, and the others still find room.  The checks and the charge are
 * not one atomic step: concurrent producers may overshoot by a packet each.
 */
static bool esptcp_mem_charge(struct esptcp_sock *ctx, const struct sk_buff *skb)
{
	long max = min_t(unsigned long, READ_ONCE(esptcp_queue_mem_max), LONG_MAX);
	long all = atomic_long_read(&esptcp_queued) + skb->truesize;
	long mine = atomic_read(&ctx->queued) + skb->truesize;
	long share;

	/* int counters: a parameter set absurdly high still fits them */
	if (mine > min_t(unsigned int, READ_ONCE(esptcp_tx_queue_bytes), INT_MAX / 4) ||
	    all > max)
		return false;
	if (all > max / 2) {
		share = max / 2 / max(atomic_read(&esptcp_nsocks), 1);
		if (mine > max_t(long, share, ESPTCP_MEM_FLOOR))
			return false;
	}
	if (!esptcp_carrier_charge(ctx, skb->truesize))
		return false;
	atomic_add(skb->truesize, &ctx->queued);
	atomic_long_add(skb->truesize, &esptcp_queued);
	return true;
}

/* @skb leaves the queue (sent or dropped); IKE was never charged here */
static void esptcp_mem_uncharge(struct esptcp_sock *ctx, const struct sk_buff *skb)
{
	if (ESPTCP_TX_CB(skb)->ike)
		return;
	atomic_sub(skb->truesize, &ctx->queued);
	atomic_long_sub(skb->truesize, &esptcp_queued);
	esptcp_carrier_uncharge(ctx, skb->truesize);
}

static void esptcp_tx_drop(struct esptcp_sock *ctx, struct sk_buff *skb,
			   enum esptcp_stat why)
{
	if (!ESPTCP_TX_CB(skb)->ike)
		esptcp_count(ctx, why, 1);
	kfree_skb(skb);
}

/**
 * esptcp_tx_enqueue() - append one framed message to the send queue
 * @ctx: the socket
 * @skb: the message body; ESPTCP_TX_CB(skb) holds its length field
 * @ike: an IKE message from send(), which the ESP memory limits do not cut
 *	(send() charged it to the socket)
 *
 * Consumes @skb.
 *
 * Context: any; takes the queue lock with BH off.
 * Return: true when queued, false when dropped (and counted).
 */
bool esptcp_tx_enqueue(struct esptcp_sock *ctx, struct sk_buff *skb, bool ike)
{
	enum esptcp_stat why = ESPTCP_STAT_TX_DROP_CLOSED;
	bool ok = false;

	ESPTCP_TX_CB(skb)->ike = ike;
	spin_lock_bh(&ctx->tx_queue.lock);
	if (!ctx->tx_dead && !ctx->tx_fin) {
		why = ESPTCP_STAT_TX_DROP_QUEUE;
		ok = ike || esptcp_mem_charge(ctx, skb);
	}
	if (ok) {
		__skb_queue_tail(&ctx->tx_queue, skb);
		/* under the lock: close sets tx_dead, then cancels the work */
		queue_work(esptcp_wq, &ctx->tx_work);
	}
	spin_unlock_bh(&ctx->tx_queue.lock);
	if (!ok)
		esptcp_tx_drop(ctx, skb, why);
	return ok;
}

/**
 * esptcp_tx_kick() - have the work item push the queue, if anything waits
 * @ctx: the socket
 *
 * Context: any (write_space runs in softirq).
 */
void esptcp_tx_kick(struct esptcp_sock *ctx)
{
	spin_lock_bh(&ctx->tx_queue.lock);
	if (!ctx->tx_dead && !skb_queue_empty(&ctx->tx_queue))
		queue_work(esptcp_wq, &ctx->tx_work);
	spin_unlock_bh(&ctx->tx_queue.lock);
}

/* Add bytes [*off, l) of @p to the iovec; returns the entries used (0 or 1). */
static unsigned int esptcp_vec(struct kvec *v, void *p, unsigned int l,
			       unsigned int *off, size_t *total)
{
	if (*off >= l) {
		*off -= l;
		return 0;
	}
	v->iov_base = p + *off;
	v->iov_len = l - *off;
	*total += l - *off;
	*off = 0;
	return 1;
}

/* Describe message @skb from byte @off on; returns the iovec entries used. */
static unsigned int esptcp_tx_vecs(struct sk_buff *skb, unsigned int off,
				   struct kvec *vec, size_t *total)
{
	struct skb_shared_info *si = skb_shinfo(skb);
	unsigned int n = 0, i;

	n += esptcp_vec(vec + n, &ESPTCP_TX_CB(skb)->len, ESPTCP_LEN_SIZE, &off, total);
	n += esptcp_vec(vec + n, skb->data, skb_headlen(skb), &off, total);
	/* no highmem frags: the output hook linearizes on such kernels */
	for (i = 0; i < si->nr_frags; i++)
		n += esptcp_vec(vec + n, skb_frag_address(&si->frags[i]),
				skb_frag_size(&si->frags[i]), &off, total);
	return n;
}

/*
 * Connection gone: nothing queued can be sent any more.  IKE messages
 * send() had accepted count too: their loss would be silent otherwise.
 */
static void esptcp_tx_fail(struct esptcp_sock *ctx)
{
	struct sk_buff_head q;
	struct sk_buff *skb;

	__skb_queue_head_init(&q);
	spin_lock_bh(&ctx->tx_queue.lock);
	ctx->tx_dead = true;
	skb_queue_splice_init(&ctx->tx_queue, &q);
	spin_unlock_bh(&ctx->tx_queue.lock);
	ctx->tx_off = 0;
	while ((skb = __skb_dequeue(&q))) {
		esptcp_mem_uncharge(ctx, skb);
		esptcp_count(ctx, ESPTCP_STAT_TX_DROP_CLOSED, 1);
		kfree_skb(skb);
	}
}

/* @done bytes, counted from the head message's first unsent byte, left. */
static void esptcp_tx_complete(struct esptcp_sock *ctx, size_t done)
{
	u64 n[2] = {}, bytes[2] = {};
	struct sk_buff_head sent;
	struct sk_buff *skb;

	__skb_queue_head_init(&sent);
	done += ctx->tx_off;
	spin_lock_bh(&ctx->tx_queue.lock);
	while ((skb = skb_peek(&ctx->tx_queue))) {
		size_t mlen = ESPTCP_LEN_SIZE + skb->len;

		if (done < mlen)
			break;
		done -= mlen;
		__skb_unlink(skb, &ctx->tx_queue);
		esptcp_mem_uncharge(ctx, skb);
		__skb_queue_tail(&sent, skb);
	}
	spin_unlock_bh(&ctx->tx_queue.lock);
	ctx->tx_off = done;

	while ((skb = __skb_dequeue(&sent))) {
		bool ike = ESPTCP_TX_CB(skb)->ike;

		n[ike]++;
		bytes[ike] += skb->len;
		consume_skb(skb);
	}
	/* the counters once per call, not per message */
	if (n[0]) {
		esptcp_count(ctx, ESPTCP_STAT_TX_ESP_PKTS, n[0]);
		esptcp_count(ctx, ESPTCP_STAT_TX_ESP_BYTES, bytes[0]);
	}
	if (n[1]) {
		esptcp_count(ctx, ESPTCP_STAT_TX_IKE_MSGS, n[1]);
		esptcp_count(ctx, ESPTCP_STAT_TX_IKE_BYTES, bytes[1]);
	}
}

/*
 * The queue is empty, or can never be sent (the connection failed): hand
 * TCP the shutdown() that waited for it.  TCP sends its FIN if the state
 * still allows one.  Socket owned.
 */
static void esptcp_tx_fin(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;
	bool fin;

	/* the common case, every time the queue runs dry: no lock taken */
	if (!READ_ONCE(ctx->tx_fin) || ctx->tx_fin_sent)
		return;
	spin_lock_bh(&ctx->tx_queue.lock);
	fin = ctx->tx_fin && (ctx->tx_dead || skb_queue_empty(&ctx->tx_queue));
	spin_unlock_bh(&ctx->tx_queue.lock);
	if (!fin || ctx->tx_fin_sent)
		return;
	ctx->tx_fin_sent = true;
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | SEND_SHUTDOWN);
	ctx->saved_prot->shutdown(sk, SEND_SHUTDOWN);
	/* as inet_shutdown() does: poll() now says so (EPOLLOUT, EPOLLHUP) */
	sk->sk_state_change(sk);
}

/**
 * esptcp_shutdown() - shutdown(): TCP's FIN after what send() queued
 * @sk: the socket
 * @how: RCV_SHUTDOWN and/or SEND_SHUTDOWN
 *
 * inet_shutdown() has set @how in sk_shutdown already, and TCP refuses to
 * send once SEND_SHUTDOWN is set: messages queued behind a full stream
 * would be lost, and the FIN would overtake them.  So SEND_SHUTDOWN is
 * taken back until the queue is empty; from now on nothing more is
 * queued (send() fails with EPIPE, ESP is dropped and counted), and the
 * FIN goes when the last queued message is in TCP.
 *
 * Context: process, socket locked.
 */
void esptcp_shutdown(struct sock *sk, int how)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);

	if (!(how & SEND_SHUTDOWN)) {
		ctx->saved_prot->shutdown(sk, how);
		return;
	}
	/* a second call: the FIN is in TCP already, or still waits */
	if (ctx->tx_fin_sent)
		return;
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown & ~SEND_SHUTDOWN);
	spin_lock_bh(&ctx->tx_queue.lock);
	ctx->tx_fin = true;
	spin_unlock_bh(&ctx->tx_queue.lock);
	esptcp_tx_flush(ctx);
}

/*
 * The large iovec, for a socket that has more queued than the one on the
 * stack describes.  Kept until close: a socket busy once is busy again.
 * A worker's allocation is charged to no one's cgroup; one this small
 * fails only when the system is out of memory.  Socket owned.
 */
static bool esptcp_tx_vec_alloc(struct esptcp_sock *ctx)
{
	ctx->tx_vec = kmalloc_array(ESPTCP_TX_VECS, sizeof(*ctx->tx_vec),
				    GFP_KERNEL | __GFP_NOWARN);
	return ctx->tx_vec;
}

/*
 * A head message the small iovec cannot hold, without memory for the
 * large one, is dropped: never IKE (its messages are linear), and none of
 * it went out, as it never fitted.  Socket owned.
 */
static void esptcp_tx_drop_head(struct esptcp_sock *ctx)
{
	struct sk_buff *skb;

	WARN_ON_ONCE(ctx->tx_off);
	spin_lock_bh(&ctx->tx_queue.lock);
	skb = __skb_dequeue(&ctx->tx_queue);
	if (skb)
		esptcp_mem_uncharge(ctx, skb);
	spin_unlock_bh(&ctx->tx_queue.lock);
	if (skb)
		esptcp_tx_drop(ctx, skb, ESPTCP_STAT_TX_DROP_NOMEM);
}

/**
 * esptcp_tx_flush() - move queued messages into TCP until it is full
 * @ctx: the socket
 *
 * A message TCP took only part of stays at the head with @ctx->tx_off
 * set, and is finished before anything else goes out.  When TCP is full,
 * write_space kicks the work item again.  An iovec on the stack describes
 * a message or a few at a time; a socket with more queued, or a message
 * with more fragments, gets a large one of its own (esptcp_tx_vec_alloc()).
 *
 * Context: process, socket lock owned.
 */
void esptcp_tx_flush(struct esptcp_sock *ctx)
{
	struct kvec small[ESPTCP_TX_VECS_IDLE];
	struct sock *sk = ctx->sk;

	/* the large one holds any one message whole */
	BUILD_BUG_ON(MAX_SKB_FRAGS + 2 > ESPTCP_TX_VECS);
	for (;;) {
		unsigned int nv = 0, nmsg = 0, max = ESPTCP_TX_VECS_IDLE;
		struct kvec *vec = small;
		struct msghdr msg = {};
		struct sk_buff *skb;
		size_t total = 0;
		bool more;
		int ret;

		if (ctx->tx_vec) {
			vec = ctx->tx_vec;
			max = ESPTCP_TX_VECS;
		}
		/* producers only append, so the queue can be walked unlocked */
		spin_lock_bh(&ctx->tx_queue.lock);
		skb = skb_peek(&ctx->tx_queue);
		spin_unlock_bh(&ctx->tx_queue.lock);
		while (skb && nmsg < ESPTCP_TX_BATCH &&
		       nv + skb_shinfo(skb)->nr_frags + 2 <= max) {
			nv += esptcp_tx_vecs(skb, nmsg ? 0 : ctx->tx_off, vec + nv, &total);
			nmsg++;
			spin_lock_bh(&ctx->tx_queue.lock);
			skb = skb_peek_next(skb, &ctx->tx_queue);
			spin_unlock_bh(&ctx->tx_queue.lock);
		}
		if (skb && !nmsg) {
			/* a head message the small iovec cannot hold */
			if (ctx->tx_vec || !esptcp_tx_vec_alloc(ctx))
				esptcp_tx_drop_head(ctx);
			continue;
		}
		/* more queued than the small iovec holds: the large one, next */
		if (skb && nmsg < ESPTCP_TX_BATCH && !ctx->tx_vec)
			esptcp_tx_vec_alloc(ctx);
		if (!nmsg) {
			esptcp_tx_fin(ctx);
			return;
		}
		/*
		 * A failed connection: TCP would report (and so clear) its
		 * error to us, and the owner would never see it.
		 */
		if (READ_ONCE(sk->sk_err)) {
			esptcp_tx_fail(ctx);
			esptcp_tx_fin(ctx);
			return;
		}
		more = skb;

		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0);
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, vec, nv, total);
		ret = tcp_sendmsg_locked(sk, &msg, total);
		if (ret == -EAGAIN)
			return;
		if (ret < 0) {
			net_dbg_ratelimited("esptcp: send failed (%d), dropping the queue\n", ret);
			esptcp_tx_fail(ctx);
			esptcp_tx_fin(ctx);
			return;
		}
		esptcp_tx_complete(ctx, ret);
		if (ret < total)
			return;
	}
}

static void esptcp_tx_work(struct work_struct *work)
{
	struct esptcp_sock *ctx = container_of(work, struct esptcp_sock, tx_work);
	struct sock *sk = ctx->sk;

	lock_sock(sk);
	esptcp_tx_flush(ctx);
	esptcp_carrier_settle(ctx);
	release_sock(sk);
}

/*
 * At close, what send() queued still goes, and ESP does not: the message
 * TCP took in part is finished (the peer would misread the stream
 * otherwise), the other ESP packets are dropped and counted, and the IKE
 * messages go into TCP even past its send buffer (they are charged to the
 * socket already, so that is at most twice the buffer).  A DELETE sent
 * just before close() thus goes out although the stream was full of ESP.
 * Best effort: TCP resets a connection closed with data unread, or that
 * receives more after close(), and drops what it had to send; a daemon
 * that must know shuts down its side and waits for the peer's end.
 * Producers stopped, socket owned.
 */
static void esptcp_tx_last(struct esptcp_sock *ctx)
{
	struct sock *sk = ctx->sk;
	struct sk_buff *skb, *tmp;
	struct sk_buff_head drop;
	bool head = ctx->tx_off;
	int keep = 0;
	s64 room;

	__skb_queue_head_init(&drop);
	spin_lock_bh(&ctx->tx_queue.lock);
	skb_queue_walk_safe(&ctx->tx_queue, skb, tmp) {
		if (head || ESPTCP_TX_CB(skb)->ike) {
			keep += ESPTCP_LEN_SIZE + skb->len;
			head = false;
			continue;
		}
		__skb_unlink(skb, &ctx->tx_queue);
		esptcp_mem_uncharge(ctx, skb);
		__skb_queue_tail(&drop, skb);
	}
	spin_unlock_bh(&ctx->tx_queue.lock);
	while ((skb = __skb_dequeue(&drop)))
		esptcp_tx_drop(ctx, skb, ESPTCP_STAT_TX_DROP_CLOSED);
	if (!keep || sk->sk_err ||
	    !((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		return;
	/* TCP's copy costs some truesize over the bytes: twice them */
	room = min_t(s64, (s64)sk->sk_wmem_queued + 2 * (s64)keep, INT_MAX);
	if (sk->sk_sndbuf < room)
		WRITE_ONCE(sk->sk_sndbuf, (int)room);
	esptcp_tx_flush(ctx);
}

/**
 * esptcp_tx_stop() - stop sending for good: hand TCP the IKE messages and
 * the message it has in part, free the rest
 * @ctx: the socket
 *
 * Context: process, close; the socket lock must not be held.
 */
void esptcp_tx_stop(struct esptcp_sock *ctx)
{
	spin_lock_bh(&ctx->tx_queue.lock);
	ctx->tx_dead = true;
	spin_unlock_bh(&ctx->tx_queue.lock);
	disable_work_sync(&ctx->tx_work);
	lock_sock(ctx->sk);
	esptcp_tx_last(ctx);
	esptcp_carrier_settle(ctx);
	release_sock(ctx->sk);
	esptcp_tx_fail(ctx);
}

/* ESP order: b->lock held. */
static void esptcp_emit(struct esptcp_binding *b, struct sk_buff *skb)
{
	esptcp_tx_enqueue(b->ctx, skb, false);
}

/* A held packet goes: its charge moves to the queue (which may refuse it). */
static void esptcp_emit_held(struct esptcp_binding *b, struct sk_buff *skb)
{
	esptcp_mem_uncharge(b->ctx, skb);
	esptcp_emit(b, skb);
}

/* Send whatever is held, in sequence order, skipping the gaps. */
static void esptcp_flush_held(struct esptcp_binding *b)
{
	u32 base = b->next_seq;
	unsigned int i;

	if (!b->nheld)
		return;
	esptcp_count(b->ctx, ESPTCP_STAT_TX_SEQ_GAPS, 1);
	for (i = 0; i < ESPTCP_REORDER && b->nheld; i++) {
		u32 seq = base + i;
		struct sk_buff **slot = &b->held[seq % ESPTCP_REORDER];

		if (*slot) {
			esptcp_emit_held(b, *slot);
			*slot = NULL;
			b->nheld--;
			b->next_seq = seq + 1;
		}
	}
}

/*
 * The hold slots come with the first packet that arrives early: most SAs
 * never see one (one CPU encrypts for them, synchronously).  Without
 * memory for them, the packet goes now, out of order.  b->lock held.
 */
static bool esptcp_held_alloc(struct esptcp_binding *b)
{
	if (likely(b->held))
		return true;
	b->held = kcalloc(ESPTCP_REORDER, sizeof(*b->held), GFP_ATOMIC | __GFP_NOWARN);
	return b->held;
}

/**
 * esptcp_steer() - hand an outbound ESP packet to its socket, in order
 * @b: the SA's binding
 * @skb: the ESP packet, outer headers already pulled; consumed
 * @seq: its ESP sequence number (low 32 bits)
 *
 * Context: the output hook (process or softirq), RCU read side.
 */
void esptcp_steer(struct esptcp_binding *b, struct sk_buff *skb, u32 seq)
{
	struct sk_buff **slot;
	s32 d;

	spin_lock_bh(&b->lock);
	if (unlikely(b->dead)) {
		esptcp_emit(b, skb);
		goto out;
	}
	if (unlikely(!b->synced)) {
		b->synced = true;
		b->next_seq = seq;
	}
	d = (s32)(seq - b->next_seq);
	if (likely(d == 0)) {
		esptcp_emit(b, skb);
		b->next_seq++;
		while (b->nheld) {
			slot = &b->held[b->next_seq % ESPTCP_REORDER];
			if (!*slot)
				break;
			esptcp_emit_held(b, *slot);
			*slot = NULL;
			b->nheld--;
			b->next_seq++;
		}
		if (!b->nheld)
			timer_delete(&b->gap_timer);
	} else if (d > 0 && d < ESPTCP_REORDER && esptcp_held_alloc(b) &&
		   !b->held[seq % ESPTCP_REORDER] && esptcp_mem_charge(b->ctx, skb)) {
		b->held[seq % ESPTCP_REORDER] = skb;
		b->nheld++;
		esptcp_count(b->ctx, ESPTCP_STAT_TX_REORDERED, 1);
		if (!timer_pending(&b->gap_timer))
			mod_timer(&b->gap_timer, jiffies + ESPTCP_GAP_TIMEOUT);
	} else if (d < ESPTCP_REORDER) {
		/*
		 * A straggler after its gap was given up on (or a number
		 * already held): it goes now, late.  What is held waits on a
		 * gap of its own and keeps waiting.
		 */
		esptcp_emit(b, skb);
	} else {
		/*
		 * Too far ahead to hold: the gap is given up on.  Skipping
		 * ahead with nothing held gives up a gap too.
		 */
		if (!b->nheld)
			esptcp_count(b->ctx, ESPTCP_STAT_TX_SEQ_GAPS, 1);
		esptcp_flush_held(b);
		esptcp_emit(b, skb);
		b->next_seq = seq + 1;
	}
out:
	spin_unlock_bh(&b->lock);
}

/**
 * esptcp_gap_timer() - give up waiting for a missing ESP sequence number
 * @t: the binding's gap timer
 *
 * Context: timer (softirq).
 */
void esptcp_gap_timer(struct timer_list *t)
{
	struct esptcp_binding *b = timer_container_of(b, t, gap_timer);

	spin_lock_bh(&b->lock);
	esptcp_flush_held(b);
	spin_unlock_bh(&b->lock);
}

/**
 * esptcp_binding_kill() - mark a binding dead and send what it held back
 * @b: the binding
 *
 * In one critical section: a packet the hook steers once it sees the
 * binding dead goes out after everything held, never before.
 *
 * Context: process.
 */
void esptcp_binding_kill(struct esptcp_binding *b)
{
	struct sk_buff **held;

	spin_lock_bh(&b->lock);
	b->dead = true;
	esptcp_flush_held(b);
	/* a dead binding holds nothing back again */
	held = b->held;
	b->held = NULL;
	spin_unlock_bh(&b->lock);
	kfree(held);
}

/**
 * esptcp_sendmsg() - send one IKE message as one frame
 * @sk: the socket
 * @msg: the message: non-ESP marker and IKE message
 * @size: its length
 *
 * Context: process, socket not locked.
 * Return: @size, or -EMSGSIZE over ESPTCP_MAX_MSG, -EINVAL without the
 * non-ESP marker (the peer would take it for ESP), -EOPNOTSUPP for flags
 * other than MSG_DONTWAIT and MSG_NOSIGNAL, the socket's pending error,
 * or -EPIPE after shutdown() or once the connection is closed (with
 * SIGPIPE unless MSG_NOSIGNAL, as TCP).
 */
int esptcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);
	struct sk_buff *skb;
	int err;

	/* MSG_CMSG_COMPAT is the kernel's note of a 32-bit caller */
	if (msg->msg_flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CMSG_COMPAT))
		return -EOPNOTSUPP;
	if (size > ESPTCP_MAX_MSG)
		return -EMSGSIZE;
	if (size <= ESPTCP_MARKER_SIZE)
		return -EINVAL;

	/* after shutdown(), before waiting for room that would never matter */
	if ((READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) || READ_ONCE(ctx->tx_fin))
		return sk_stream_error(sk, msg->msg_flags, -EPIPE);
	skb = sock_alloc_send_skb(sk, size, msg->msg_flags & MSG_DONTWAIT, &err);
	if (!skb)
		return sk_stream_error(sk, msg->msg_flags, err);
	if (memcpy_from_msg(skb_put(skb, size), msg, size)) {
		kfree_skb(skb);
		return -EFAULT;
	}
	if (get_unaligned_be32(skb->data)) {
		kfree_skb(skb);
		return -EINVAL;
	}
	ESPTCP_TX_CB(skb)->len = htons(size + ESPTCP_LEN_SIZE);

	lock_sock(sk);
	err = sock_error(sk);
	/* a FIN waiting for the queue counts as sent (esptcp_shutdown()) */
	if (!err && ((sk->sk_shutdown & SEND_SHUTDOWN) || READ_ONCE(ctx->tx_fin)))
		err = -EPIPE;
	if (err) {
		kfree_skb(skb);
	} else {
		if (!esptcp_tx_enqueue(ctx, skb, true))
			err = -EPIPE;
		esptcp_tx_flush(ctx);
	}
	release_sock(sk);
	/* as TCP: SIGPIPE unless MSG_NOSIGNAL, and a pending error first */
	return err ? sk_stream_error(sk, msg->msg_flags, err) : size;
}
