// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: the "esptcp" generic netlink family - bind and unbind SAs, dump
 * the attached sockets with their bindings and counters, read the netns
 * counters.  Every command needs CAP_NET_ADMIN, in the initial user
 * namespace unless allow_netns_admin is set.
 *
 * Context: process (genl handlers), no socket lock held.
 */
#include <linux/file.h>
#include <linux/net.h>
#include <net/genetlink.h>
#include <net/inet_sock.h>
#include <net/tcp.h>
#include <net/ipv6.h>
#include <net/sock.h>

#include "esptcp.h"

static const struct nla_policy esptcp_sa_policy[ESPTCP_SA_A_MAX + 1] = {
	[ESPTCP_SA_A_FAMILY]	= { .type = NLA_U16 },
	[ESPTCP_SA_A_DIR]	= NLA_POLICY_RANGE(NLA_U8, ESPTCP_DIR_IN, ESPTCP_DIR_OUT),
	[ESPTCP_SA_A_SPI]	= { .type = NLA_BE32 },
	[ESPTCP_SA_A_DADDR]	= { .type = NLA_BINARY, .len = 16 },
	[ESPTCP_SA_A_MARK]	= { .type = NLA_U32 },
	[ESPTCP_SA_A_ENCAP]	= { .type = NLA_U16 },
};

static const struct nla_policy esptcp_policy[ESPTCP_A_MAX + 1] = {
	[ESPTCP_A_SOCK_FD]	= { .type = NLA_U32 },
	[ESPTCP_A_SOCK_INO]	= { .type = NLA_U64 },
	[ESPTCP_A_SA]		= NLA_POLICY_NESTED(esptcp_sa_policy),
};

static struct genl_family esptcp_genl_family;

static bool esptcp_nl_capable(const struct sk_buff *skb, const struct net *net)
{
	return netlink_ns_capable(skb, esptcp_allow_netns_admin ? net->user_ns : &init_user_ns,
				  CAP_NET_ADMIN);
}

static int esptcp_nl_parse_sa(struct genl_info *info, struct esptcp_sa *sa)
{
	struct nlattr *tb[ESPTCP_SA_A_MAX + 1];
	struct nlattr *a;
	int err;

	if (!info->attrs[ESPTCP_A_SA]) {
		GENL_SET_ERR_MSG(info, "missing SA");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, ESPTCP_SA_A_MAX, info->attrs[ESPTCP_A_SA],
			       esptcp_sa_policy, info->extack);
	if (err)
		return err;
	if (!tb[ESPTCP_SA_A_FAMILY] || !tb[ESPTCP_SA_A_DIR] || !tb[ESPTCP_SA_A_SPI] ||
	    !tb[ESPTCP_SA_A_DADDR]) {
		GENL_SET_ERR_MSG(info, "SA needs family, direction, SPI and destination");
		return -EINVAL;
	}
	/* the encapsulation is the xfrm state's: dumps report it, nobody sets it */
	if (tb[ESPTCP_SA_A_ENCAP]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESPTCP_SA_A_ENCAP],
				    "encapsulation comes from the xfrm state, it cannot be set");
		return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->family = nla_get_u16(tb[ESPTCP_SA_A_FAMILY]);
	sa->dir = nla_get_u8(tb[ESPTCP_SA_A_DIR]);
	sa->spi = nla_get_be32(tb[ESPTCP_SA_A_SPI]);
	if (tb[ESPTCP_SA_A_MARK])
		sa->mark = nla_get_u32(tb[ESPTCP_SA_A_MARK]);
	a = tb[ESPTCP_SA_A_DADDR];
	if (nla_len(a) != (sa->family == AF_INET ? 4 : 16)) {
		GENL_SET_ERR_MSG(info, "destination length does not match the family");
		return -EINVAL;
	}
	memcpy(sa->daddr, nla_data(a), nla_len(a));
	return 0;
}

/*
 * The socket a request names.  By fd: an attached esptcp socket of the
 * caller, kept alive (and so attached) by the file reference returned in
 * *sockp.  By inode number: resolved later under esptcp_net.lock.
 */
static int esptcp_nl_sock(struct genl_info *info, struct socket **sockp,
			  struct esptcp_sock **ctxp, u64 *ino)
{
	struct socket *sock;
	struct sock *sk;
	int err;

	*sockp = NULL;
	*ctxp = NULL;
	if (info->attrs[ESPTCP_A_SOCK_INO]) {
		*ino = nla_get_u64(info->attrs[ESPTCP_A_SOCK_INO]);
		return 0;
	}
	if (!info->attrs[ESPTCP_A_SOCK_FD]) {
		GENL_SET_ERR_MSG(info, "name the socket by fd or inode number");
		return -EINVAL;
	}
	sock = sockfd_lookup(nla_get_u32(info->attrs[ESPTCP_A_SOCK_FD]), &err);
	if (!sock)
		return err;
	sk = sock->sk;
	lock_sock(sk);
	/* raw sockets have sk_protocol TCP too: esptcp_is_attached() checks all */
	if (net_eq(sock_net(sk), genl_info_net(info)) && esptcp_is_attached(sk))
		*ctxp = esptcp_sk(sk);
	release_sock(sk);
	if (!*ctxp) {
		sockfd_put(sock);
		GENL_SET_ERR_MSG(info, "socket has no esptcp ULP");
		return -EINVAL;
	}
	*sockp = sock;
	return 0;
}

static int esptcp_nl_bind(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct esptcp_sock *ctx;
	struct socket *sock;
	struct esptcp_sa sa;
	u64 ino = 0;
	int err;

	if (!esptcp_nl_capable(skb, net))
		return -EPERM;
	err = esptcp_nl_parse_sa(info, &sa);
	if (err)
		return err;
	err = esptcp_nl_sock(info, &sock, &ctx, &ino);
	if (err)
		return err;
	err = esptcp_sa_bind(esptcp_net(net), ctx, ino, &sa);
	if (err == -ENOENT)
		GENL_SET_ERR_MSG(info, "no such ESP state in xfrm");
	if (err == -ENOTCONN)
		GENL_SET_ERR_MSG(info, "no such esptcp socket, or it is closing");
	if (sock)
		sockfd_put(sock);
	return err;
}

static int esptcp_nl_unbind(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct esptcp_sock *ctx = NULL;
	struct socket *sock = NULL;
	struct esptcp_sa sa;
	u64 ino = 0;
	bool any;
	int err;

	if (!esptcp_nl_capable(skb, net))
		return -EPERM;
	err = esptcp_nl_parse_sa(info, &sa);
	if (err)
		return err;
	any = !info->attrs[ESPTCP_A_SOCK_FD] && !info->attrs[ESPTCP_A_SOCK_INO];
	if (!any) {
		err = esptcp_nl_sock(info, &sock, &ctx, &ino);
		if (err)
			return err;
	}
	err = esptcp_sa_unbind(esptcp_net(net), ctx, ino, any, &sa);
	if (err == -ENOENT)
		GENL_SET_ERR_MSG(info, "SA not bound (to that socket)");
	if (sock)
		sockfd_put(sock);
	return err;
}

/* @c: ESPTCP_STAT_MAX counters */
static int esptcp_nl_put_stats(struct sk_buff *msg, int type, const u64 *c)
{
	struct nlattr *nest;
	int i;

	nest = nla_nest_start(msg, type);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ESPTCP_STAT_MAX; i++)
		if (nla_put_u64_64bit(msg, i + 1, c[i], 0))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int esptcp_nl_put_sa(struct sk_buff *msg, const struct esptcp_binding *b)
{
	struct esptcp_sa sa;
	struct nlattr *nest;

	esptcp_sa_from_key(b, &sa);
	nest = nla_nest_start(msg, ESPTCP_SOCK_A_SA);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u16(msg, ESPTCP_SA_A_FAMILY, sa.family) ||
	    nla_put_u8(msg, ESPTCP_SA_A_DIR, sa.dir) ||
	    nla_put_be32(msg, ESPTCP_SA_A_SPI, sa.spi) ||
	    nla_put(msg, ESPTCP_SA_A_DADDR, sa.family == AF_INET ? 4 : 16, sa.daddr) ||
	    nla_put_u32(msg, ESPTCP_SA_A_MARK, sa.mark) ||
	    nla_put_u16(msg, ESPTCP_SA_A_ENCAP, b->encap_type)) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

/*
 * One socket into @msg: its addresses, then its bindings from the @skip-th
 * on; its counters with the first part.  A socket whose bindings do not fit
 * one message goes on in the next ones, each naming it again.
 * Return: 1 when the socket is complete, 0 when *@skip bindings are out and
 * more follow, -EMSGSIZE when not even one more binding fits.
 */
static int esptcp_nl_put_sock(struct sk_buff *msg, struct esptcp_sock *ctx, long *skip)
{
	/* the copies attach made: the socket itself may be gone under RCU */
	int alen = ctx->family == AF_INET ? 4 : 16;
	struct esptcp_binding *b;
	u64 c[ESPTCP_STAT_MAX];
	struct nlattr *nest;
	long i = 0, put = 0;

	nest = nla_nest_start(msg, ESPTCP_A_SOCK);
	if (!nest ||
	    nla_put_u64_64bit(msg, ESPTCP_SOCK_A_INO, ctx->ino, ESPTCP_SOCK_A_PAD) ||
	    nla_put_u16(msg, ESPTCP_SOCK_A_FAMILY, ctx->family) ||
	    nla_put_u16(msg, ESPTCP_SOCK_A_LPORT, ntohs(ctx->lport)) ||
	    nla_put_u16(msg, ESPTCP_SOCK_A_RPORT, ntohs(ctx->rport)) ||
	    nla_put(msg, ESPTCP_SOCK_A_LOCAL, alen, &ctx->laddr) ||
	    nla_put(msg, ESPTCP_SOCK_A_REMOTE, alen, &ctx->raddr))
		return -EMSGSIZE;
	if (!*skip) {
		esptcp_sock_stats(ctx, c);
		if (esptcp_nl_put_stats(msg, ESPTCP_SOCK_A_STATS, c) ||
		    nla_put_u32(msg, ESPTCP_SOCK_A_QUEUED, atomic_read(&ctx->queued)))
			return -EMSGSIZE;
	}
	list_for_each_entry_rcu(b, &ctx->bindings, snode) {
		if (i++ < *skip)
			continue;
		if (esptcp_nl_put_sa(msg, b)) {
			/* each part carries a binding at least: the next message */
			if (!put)
				return -EMSGSIZE;
			*skip += put;
			nla_nest_end(msg, nest);
			return 0;
		}
		put++;
	}
	nla_nest_end(msg, nest);
	return 1;
}

/*
 * Sockets in inode number order, under RCU: a dump holds up a bind only
 * while it reads the generation.
 * cb->args[0]: the inode number to go on from; [1]: the bindings of that
 * socket already sent, [2]: its inode number (a socket gone meanwhile
 * starts the next one over); [3]: set once the last possible one is out.
 * A bind, unbind, attach or close between two parts marks the next message
 * NLM_F_DUMP_INTR: the reader may have missed or doubled one.
 */
static int esptcp_nl_dump_socks(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct esptcp_net *en = esptcp_net(net);
	struct esptcp_sock *ctx;
	unsigned long ino;
	int err = 0;
	void *hdr;

	if (!esptcp_nl_capable(cb->skb, net))
		return -EPERM;
	/* a change in progress ends first (esptcp_net_changed()) */
	mutex_lock(&en->lock);
	cb->seq = en->gen;
	mutex_unlock(&en->lock);
	if (cb->args[3])
		return 0;
	rcu_read_lock();
	xa_for_each_start(&en->socks, ino, ctx, cb->args[0]) {
		/* args[] are unsigned long wide, as inode numbers are */
		if (cb->args[1] && (unsigned long)cb->args[2] != ino)
			cb->args[1] = 0;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &esptcp_genl_family, NLM_F_MULTI, ESPTCP_CMD_SOCK_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		genl_dump_check_consistent(cb, hdr);
		err = esptcp_nl_put_sock(skb, ctx, &cb->args[1]);
		if (err < 0) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		if (!err) {
			/* the rest of its bindings in the next message */
			cb->args[0] = ino;
			cb->args[2] = ino;
			break;
		}
		cb->args[1] = 0;
		/* the last possible inode number: nothing can follow it */
		if (ino == ULONG_MAX) {
			cb->args[3] = 1;
			break;
		}
		cb->args[0] = ino + 1;
	}
	rcu_read_unlock();
	/* what does not fit an empty message is an error, not the dump's end */
	if (err < 0 && !skb->len)
		return err;
	return skb->len;
}

static int esptcp_nl_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	u64 c[ESPTCP_STAT_MAX];
	struct sk_buff *msg;
	void *hdr;

	if (!esptcp_nl_capable(skb, net))
		return -EPERM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &esptcp_genl_family, 0, ESPTCP_CMD_STATS_GET);
	esptcp_stats_sum(esptcp_net(net)->stats, c);
	if (!hdr || esptcp_nl_put_stats(msg, ESPTCP_A_STATS, c)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const struct genl_small_ops esptcp_genl_ops[] = {
	{
		.cmd	= ESPTCP_CMD_SA_BIND,
		.doit	= esptcp_nl_bind,
	},
	{
		.cmd	= ESPTCP_CMD_SA_UNBIND,
		.doit	= esptcp_nl_unbind,
	},
	{
		.cmd	= ESPTCP_CMD_SOCK_GET,
		.dumpit	= esptcp_nl_dump_socks,
	},
	{
		.cmd	= ESPTCP_CMD_STATS_GET,
		.doit	= esptcp_nl_stats,
	},
};

static struct genl_family esptcp_genl_family __ro_after_init = {
	.name		= ESPTCP_GENL_NAME,
	.version	= ESPTCP_GENL_VERSION,
	.maxattr	= ESPTCP_A_MAX,
	.policy		= esptcp_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= esptcp_genl_ops,
	.n_small_ops	= ARRAY_SIZE(esptcp_genl_ops),
	.resv_start_op	= ESPTCP_CMD_MAX + 1,
};

/**
 * esptcp_genl_init() - register the generic netlink family
 *
 * Context: process, module init.
 * Return: 0 or a negative errno.
 */
int esptcp_genl_init(void)
{
	return genl_register_family(&esptcp_genl_family);
}

/**
 * esptcp_genl_exit() - unregister the generic netlink family
 *
 * Context: process, module exit.
 */
void esptcp_genl_exit(void)
{
	genl_unregister_family(&esptcp_genl_family);
}
