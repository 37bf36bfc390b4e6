// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: steering outbound ESP into the stream.
 *
 * A netfilter hook at LOCAL_OUT, first in line, sees every packet xfrm has
 * just built: xfrm marks them (IPSKB_XFRM_TRANSFORMED) and sends each
 * through the outer family's local_out.  A transformed packet whose outer
 * header carries ESP, or ESP in UDP, for an outbound SA bound to a socket
 * is taken (NF_STOLEN) and handed to that socket with its outer IP/UDP
 * headers pulled.  Everything else passes untouched, so an unbound SA goes
 * out the way xfrm built it.
 *
 * Context: the hooks run in process or softirq context under RCU.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/netfilter/nf_conntrack.h>

#include "esptcp.h"
#include "compat.h"

/* @off: bytes from skb->data (the outer IP header) to the SPI. */
static unsigned int esptcp_take(struct esptcp_net *en, struct sk_buff *skb,
				u16 family, const void *daddr, unsigned int off)
{
	struct esptcp_binding *b;
	__be32 spi;
	u32 seq;

	if (!pskb_may_pull(skb, off + 8))
		return NF_ACCEPT;
	spi = get_unaligned((__be32 *)(skb->data + off));
	/* SPI 0 is the non-ESP marker: IKE on UDP 4500 */
	if (!spi)
		return NF_ACCEPT;
	/* pskb_may_pull() may have moved the header that @daddr points into */
	if (family == AF_INET)
		daddr = &ip_hdr(skb)->daddr;
	else
		daddr = &ipv6_hdr(skb)->daddr;
	b = esptcp_binding_out(en, family, daddr, spi, skb->mark);
	if (!b)
		return NF_ACCEPT;
	/* not encrypted yet: offload finishes it at the device (see bind) */
	if (unlikely(xfrm_offload(skb)))
		return NF_ACCEPT;

	seq = get_unaligned_be32(skb->data + off + 4);
	if (skb->len - off > ESPTCP_MAX_MSG) {
		esptcp_count(b->ctx, ESPTCP_STAT_TX_DROP_TOO_BIG, 1);
		kfree_skb(skb);
		return NF_STOLEN;
	}
	if ((IS_ENABLED(CONFIG_HIGHMEM) || skb_has_frag_list(skb)) && skb_linearize(skb)) {
		esptcp_count(b->ctx, ESPTCP_STAT_TX_DROP_NOMEM, 1);
		kfree_skb(skb);
		return NF_STOLEN;
	}
	/* the queue owns it now; the inner socket keeps its charge (TSQ) */
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	__skb_pull(skb, off);
	ESPTCP_TX_CB(skb)->len = htons(skb->len + ESPTCP_LEN_SIZE);
	/* ESP: charged to the queue's memory, held back or queued */
	ESPTCP_TX_CB(skb)->ike = 0;
	esptcp_steer(b, skb, seq);
	return NF_STOLEN;
}

static unsigned int esptcp_out4(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	struct esptcp_net *en = priv;
	const struct iphdr *iph;
	unsigned int off;

	if (!(IPCB(skb)->flags & IPSKB_XFRM_TRANSFORMED) || !atomic_read(&en->n_out))
		return NF_ACCEPT;
	iph = ip_hdr(skb);
	if (ip_is_fragment(iph))
		return NF_ACCEPT;
	off = skb_network_offset(skb) + iph->ihl * 4;
	if (iph->protocol == IPPROTO_UDP)
		off += sizeof(struct udphdr);
	else if (iph->protocol != IPPROTO_ESP)
		return NF_ACCEPT;
	return esptcp_take(en, skb, AF_INET, &iph->daddr, off);
}

static unsigned int esptcp_out6(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	struct esptcp_net *en = priv;
	const struct ipv6hdr *ip6h;
	struct ipv6_opt_hdr _hdr;
	const struct ipv6_opt_hdr *hp;
	unsigned int off;
	u8 nexthdr;

	if (!(IP6CB(skb)->flags & IP6SKB_XFRM_TRANSFORMED) || !atomic_read(&en->n_out))
		return NF_ACCEPT;
	ip6h = ipv6_hdr(skb);
	nexthdr = ip6h->nexthdr;
	off = skb_network_offset(skb) + sizeof(*ip6h);
	/*
	 * xfrm puts ESP (or UDP) right after the fixed header, or in
	 * transport mode after the extension headers the packet came with
	 * (hop-by-hop, routing, destination options): ESP starts past them.
	 * Like the IP header, they do not travel in the stream.  A fragment
	 * is not ESP whole, and ESP under AH is AH's: both go as they are,
	 * as on IPv4.
	 */
	while (nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING ||
	       nexthdr == NEXTHDR_DEST) {
		hp = skb_header_pointer(skb, off, sizeof(_hdr), &_hdr);
		if (!hp)
			return NF_ACCEPT;
		off += ipv6_optlen(hp);
		nexthdr = hp->nexthdr;
	}
	if (nexthdr == IPPROTO_UDP)
		off += sizeof(struct udphdr);
	else if (nexthdr != IPPROTO_ESP)
		return NF_ACCEPT;
	return esptcp_take(en, skb, AF_INET6, &ip6h->daddr, off);
}

static const struct nf_hook_ops esptcp_hook_tmpl[] = {
	{
		.hook		= esptcp_out4,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_FIRST,
	},
	{
		.hook		= esptcp_out6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_FIRST,
	},
};

/**
 * esptcp_steer_net_init() - prepare a namespace's output hooks
 * @net: the namespace
 *
 * They are registered with the namespace's first outbound binding
 * (esptcp_steer_hooks_on()): a namespace that binds none, every
 * container on the host, pays nothing per packet.
 *
 * Context: process, pernet init.
 */
void esptcp_steer_net_init(struct net *net)
{
	struct esptcp_net *en = esptcp_net(net);

	BUILD_BUG_ON(ARRAY_SIZE(esptcp_hook_tmpl) != ARRAY_SIZE(en->hooks));
	memcpy(en->hooks, esptcp_hook_tmpl, sizeof(en->hooks));
	en->hooks[0].priv = en;
	en->hooks[1].priv = en;
	en->hooks_on = false;
}

/**
 * esptcp_steer_hooks_on() - register the output hooks, once
 * @en: the namespace's state
 *
 * Called before the first outbound binding is visible; the hooks stay
 * until the namespace goes.
 *
 * Context: process, esptcp_net.lock held.
 * Return: 0 or a negative errno.
 */
int esptcp_steer_hooks_on(struct esptcp_net *en)
{
	int err;

	lockdep_assert_held(&en->lock);
	if (en->hooks_on)
		return 0;
	err = nf_register_net_hooks(read_pnet(&en->net), en->hooks, ARRAY_SIZE(en->hooks));
	if (!err)
		en->hooks_on = true;
	return err;
}

/**
 * esptcp_steer_net_exit() - unregister the output hooks of a namespace
 * @net: the namespace
 *
 * Context: process, pernet exit; no socket is left, nor any binding.
 */
void esptcp_steer_net_exit(struct net *net)
{
	struct esptcp_net *en = esptcp_net(net);

	if (en->hooks_on)
		nf_unregister_net_hooks(net, en->hooks, ARRAY_SIZE(en->hooks));
}
