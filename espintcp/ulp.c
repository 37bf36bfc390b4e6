// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: the TCP ULP - attach, per-family proto tables, close and release.
 *
 * Attach runs from setsockopt(TCP_ULP) with the socket locked.  It swaps the
 * socket's proto and proto_ops for copies whose entries route IKE messages,
 * poll and socket options through esptcp, and turns off the paths that
 * would write into the stream behind the framing (sendpage, splice).
 *
 * Close stops the datapath and restores the saved proto before handing the
 * socket back to TCP, so nothing in TCP's own teardown calls into this
 * module; the state itself is freed from the ULP release hook, which TCP
 * calls from its destructor, after an RCU grace period.
 *
 * The IPv6 tables are built from the first IPv6 socket that attaches, because
 * inet6_stream_ops is not exported; a mutex serialises that one-time copy.
 */
#include <linux/module.h>
#include <linux/capability.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <net/tcp.h>
#include <net/inet_common.h>

#include "esptcp.h"

enum {
	ESPTCP_V4,
	ESPTCP_V6,
	ESPTCP_NFAMILY,
};

static struct proto esptcp_prots[ESPTCP_NFAMILY];
/* built at run time from the originals, so they cannot be const */
static struct proto_ops esptcp_ops[ESPTCP_NFAMILY] __read_mostly;
/* the IPv6 originals the tables were copied from; NULL until first use */
static const struct proto *esptcp_v6_base_prot;
static const struct proto_ops *esptcp_v6_base_ops;
static DEFINE_MUTEX(esptcp_v6_lock);

/*
 * Context: process, from close(); the socket is not locked.  Stops every
 * producer first (bindings, the parser, the send queue), then gives the
 * socket back to TCP.
 */
static void esptcp_close(struct sock *sk, long timeout)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);
	struct proto *prot = ctx->saved_prot;

	esptcp_unbind_all(ctx);
	lock_sock(sk);
	esptcp_rx_stop(ctx);
	release_sock(sk);
	esptcp_tx_stop(ctx);
	esptcp_rx_done(ctx);
	/* it queues nothing more: out of the share */
	atomic_dec(&esptcp_nsocks);
	/*
	 * From here on the socket is plain TCP again; the ULP ops (and the
	 * module reference that TCP holds for them) stay until the TCP
	 * destructor runs esptcp_release().
	 */
	WRITE_ONCE(sk->sk_prot, prot);
	prot->close(sk, timeout);
}

#ifdef ESPTCP_HAVE_RECVMSG_ADDR_LEN
/* kernels whose struct proto still passes an address length to recvmsg */
static int esptcp_recvmsg_addr_len(struct sock *sk, struct msghdr *msg, size_t len,
				   int flags, int *addr_len)
{
	return esptcp_recvmsg(sk, msg, len, flags);
}
#endif

/* connect(AF_UNSPEC) would reuse the socket under a live parser */
static int esptcp_disconnect(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

static int esptcp_setsockopt(struct sock *sk, int level, int optname,
			     sockptr_t optval, unsigned int optlen)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);
	struct esptcp_sa sa;

	if (level != SOL_ESPTCP)
		return ctx->saved_prot->setsockopt(sk, level, optname, optval, optlen);
	if (!esptcp_capable(sock_net(sk)))
		return -EPERM;
	if (optlen < sizeof(sa))
		return -EINVAL;
	if (copy_from_sockptr(&sa, optval, sizeof(sa)))
		return -EFAULT;
	/* a longer option is a later version's: its tail must be zero here */
	if (optlen > sizeof(sa)) {
		int zero = check_zeroed_sockptr(optval, sizeof(sa), optlen - sizeof(sa));

		if (zero <= 0)
			return zero ?: -EINVAL;
	}
	switch (optname) {
	case ESPTCP_SO_BIND:
		return esptcp_sa_bind(ctx->en, ctx, 0, &sa);
	case ESPTCP_SO_UNBIND:
		return esptcp_sa_unbind(ctx->en, ctx, 0, false, &sa);
	}
	return -ENOPROTOOPT;
}

static int esptcp_getsockopt(struct sock *sk, int level, int optname,
			     char __user *optval, int __user *optlen)
{
	struct esptcp_sock *ctx = esptcp_sk(sk);
	u64 c[ESPTCP_STAT_MAX];
	int len;

	/* it would take stream bytes from under the parser */
	if (level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE)
		return -EOPNOTSUPP;
	if (level != SOL_ESPTCP)
		return ctx->saved_prot->getsockopt(sk, level, optname, optval, optlen);
	if (optname != ESPTCP_SO_STATS)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	len = min_t(int, len, sizeof(c));
	esptcp_sock_stats(ctx, c);
	if (copy_to_user(optval, c, len) || put_user(len, optlen))
		return -EFAULT;
	return 0;
}

static void esptcp_build_tables(struct proto *prot, const struct proto *base_prot,
				struct proto_ops *ops, const struct proto_ops *base_ops)
{
	*prot = *base_prot;
	prot->close = esptcp_close;
	prot->disconnect = esptcp_disconnect;
	prot->sendmsg = esptcp_sendmsg;
	prot->shutdown = esptcp_shutdown;
#ifdef ESPTCP_HAVE_RECVMSG_ADDR_LEN
	prot->recvmsg = esptcp_recvmsg_addr_len;
#else
	prot->recvmsg = esptcp_recvmsg;
#endif
	prot->setsockopt = esptcp_setsockopt;
	prot->getsockopt = esptcp_getsockopt;
	prot->release_cb = esptcp_release_cb;

	*ops = *base_ops;
	ops->poll = esptcp_poll;
	/*
	 * everything written goes through esptcp_sendmsg(), read through
	 * recvmsg: no splice, no zero-copy receive (its mapping and its
	 * getsockopt would take bytes from under the parser)
	 */
	ops->splice_read = NULL;
	ops->mmap = sock_no_mmap;
	ops->sendmsg_locked = NULL;
#ifdef ESPTCP_HAVE_SENDPAGE
	prot->sendpage = NULL;
	ops->sendpage = sock_no_sendpage;
	ops->sendpage_locked = NULL;
#endif
}

/* Return the table index for @sk, building the IPv6 tables on first use. */
static int esptcp_family_tables(struct sock *sk)
{
	const struct proto *prot = READ_ONCE(sk->sk_prot);
	const struct proto_ops *ops = sk->sk_socket->ops;

	if (prot == &tcp_prot && ops == &inet_stream_ops)
		return ESPTCP_V4;
	if (sk->sk_family != AF_INET6)
		return -EOPNOTSUPP;

	/* pairs with smp_store_release() below: tables are complete */
	if (smp_load_acquire(&esptcp_v6_base_prot))
		goto check;

	mutex_lock(&esptcp_v6_lock);
	if (!esptcp_v6_base_prot) {
		esptcp_build_tables(&esptcp_prots[ESPTCP_V6], prot,
				    &esptcp_ops[ESPTCP_V6], ops);
		esptcp_v6_base_ops = ops;
		/* publish the tables only once they are complete */
		smp_store_release(&esptcp_v6_base_prot, prot);
	}
	mutex_unlock(&esptcp_v6_lock);
check:
	/* e.g. an IPv6 socket turned IPv4 by IPV6_ADDRFORM */
	if (prot != esptcp_v6_base_prot || ops != esptcp_v6_base_ops)
		return -EOPNOTSUPP;
	return ESPTCP_V6;
}

/**
 * esptcp_capable() - may the caller attach or bind in this namespace
 * @net: the socket's namespace
 *
 * Context: process.
 * Return: true with CAP_NET_ADMIN in the initial user namespace, or in
 * @net's when allow_netns_admin is set.
 */
bool esptcp_capable(const struct net *net)
{
	if (esptcp_allow_netns_admin)
		return ns_capable(net->user_ns, CAP_NET_ADMIN);
	return capable(CAP_NET_ADMIN);
}

/*
 * What dumps show of the connection, copied now: it cannot change once
 * attached (disconnect is refused), and a dump reads it under RCU, when
 * the socket itself may already be freed and reused.
 */
static void esptcp_name(struct esptcp_sock *ctx, const struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);

	ctx->lport = inet->inet_sport;
	ctx->rport = inet->inet_dport;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 && !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		ctx->family = AF_INET6;
		ctx->laddr.in6 = sk->sk_v6_rcv_saddr;
		ctx->raddr.in6 = sk->sk_v6_daddr;
		return;
	}
#endif
	/* a v4-mapped IPv6 socket has its IPv4 addresses here too */
	ctx->family = AF_INET;
	ctx->laddr.a4 = inet->inet_saddr;
	ctx->raddr.a4 = inet->inet_daddr;
}

/*
 * Context: process, from setsockopt(TCP_ULP), socket lock held.
 */
static int esptcp_init(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct esptcp_sock *ctx;
	int fam, err;

	if (!esptcp_capable(sock_net(sk)))
		return -EPERM;
	/* listeners and half-open sockets have no stream to frame */
	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	if (!sk->sk_socket)
		return -EINVAL;
	/* KCM, sockmap and friends own sk_user_data: no stacking on them */
	if (READ_ONCE(sk->sk_user_data))
		return -EBUSY;

	fam = esptcp_family_tables(sk);
	if (fam < 0)
		return fam;

	/* charged to the attacher's memory cgroup, as the socket is */
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	/*
	 * Claim sk_user_data before the socket shows the ULP, under the lock
	 * KCM and sockmap check it under: neither can stack a parser of its
	 * own on the stream (KCM does not look at the ULP).  rx_stop() gives
	 * it back.
	 */
	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_user_data) {
		write_unlock_bh(&sk->sk_callback_lock);
		kfree(ctx);
		return -EBUSY;
	}
	rcu_assign_sk_user_data(sk, ctx);
	write_unlock_bh(&sk->sk_callback_lock);

	ctx->sk = sk;
	ctx->en = esptcp_net(sock_net(sk));
	ctx->ino = sock_i_ino(sk);
	esptcp_name(ctx, sk);
	ctx->saved_prot = sk->sk_prot;
	ctx->saved_ops = sk->sk_socket->ops;
	INIT_LIST_HEAD(&ctx->bindings);
	esptcp_tx_init(ctx);
	/*
	 * Its place in the index, taken now: nothing can fail once it runs.
	 * Inode numbers wrap: one an attached socket still has is refused.
	 */
	err = xa_insert(&ctx->en->socks, ctx->ino, NULL, GFP_KERNEL_ACCOUNT);
	if (err == -EBUSY)
		err = -ENOTUNIQ;
	if (err)
		goto undo_claim;

	rcu_assign_pointer(icsk->icsk_ulp_data, ctx);
	WRITE_ONCE(sk->sk_prot, &esptcp_prots[fam]);
	WRITE_ONCE(sk->sk_socket->ops, &esptcp_ops[fam]);
	err = esptcp_rx_start(ctx);
	if (err) {
		WRITE_ONCE(sk->sk_socket->ops, ctx->saved_ops);
		WRITE_ONCE(sk->sk_prot, ctx->saved_prot);
		rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
		xa_release(&ctx->en->socks, ctx->ino);
		goto undo_claim;
	}
	mutex_lock(&ctx->en->lock);
	/* into the place taken: no allocation, cannot fail */
	WARN_ON_ONCE(xa_is_err(xa_store(&ctx->en->socks, ctx->ino, ctx, GFP_KERNEL_ACCOUNT)));
	esptcp_net_changed(ctx->en);
	mutex_unlock(&ctx->en->lock);
	atomic_inc(&esptcp_nsocks);
	return 0;

undo_claim:
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
	kfree(ctx);
	return err;
}

/* attached and not closed, in every namespace: the share of queue_mem_max */
atomic_t esptcp_nsocks = ATOMIC_INIT(0);

static void esptcp_free_rcu(struct rcu_head *head)
{
	struct esptcp_sock *ctx = container_of(head, struct esptcp_sock, rcu);

	/* close dropped or sent every ESP packet it had charged */
	WARN_ON_ONCE(atomic_read(&ctx->queued));
	kfree(ctx->tx_vec);
	kfree(ctx);
}

/*
 * Context: TCP destructor (tcp_cleanup_ulp), any context; the socket is
 * being destroyed and no new users can find it.
 */
static void esptcp_release(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct esptcp_sock *ctx = esptcp_sk(sk);

	if (!ctx)
		return;
	esptcp_mem_release(ctx);
	rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
	/* the output hook and the receive path may still hold it under RCU */
	call_rcu(&ctx->rcu, esptcp_free_rcu);
}

static struct tcp_ulp_ops esptcp_ulp_ops __read_mostly = {
	.name		= ESPTCP_ULP_NAME,
	.owner		= THIS_MODULE,
	.init		= esptcp_init,
	.release	= esptcp_release,
};

/**
 * esptcp_is_attached() - does this socket carry the esptcp ULP
 * @sk: any socket
 *
 * Context: process, socket locked (the ULP cannot change under it).
 * Return: true for a TCP socket with esptcp attached.
 */
bool esptcp_is_attached(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP &&
	       inet_csk(sk)->icsk_ulp_ops == &esptcp_ulp_ops && esptcp_sk(sk);
}

/**
 * esptcp_ulp_init() - build the IPv4 tables and register the ULP
 *
 * Context: process, module init.
 * Return: 0, or -EEXIST when another ULP already has the name.
 */
int esptcp_ulp_init(void)
{
	int err;

	esptcp_build_tables(&esptcp_prots[ESPTCP_V4], &tcp_prot,
			    &esptcp_ops[ESPTCP_V4], &inet_stream_ops);
	err = tcp_register_ulp(&esptcp_ulp_ops);
	if (err)
		pr_err("esptcp: cannot register TCP ULP \"%s\": %d (name taken?)\n",
		       ESPTCP_ULP_NAME, err);
	return err;
}

/**
 * esptcp_ulp_exit() - unregister the ULP
 *
 * Every attached socket holds a module reference until its destructor has
 * run esptcp_release(), so no socket can still point at the tables here.
 *
 * Context: process, module exit.
 */
void esptcp_ulp_exit(void)
{
	tcp_unregister_ulp(&esptcp_ulp_ops);
}

MODULE_ALIAS_TCP_ULP(ESPTCP_ULP_NAME);
