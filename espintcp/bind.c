// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: binding SAs to sockets.
 *
 * A binding names an ESP state the way xfrm does (destination, SPI, mark)
 * plus a direction, and points at one attached socket.  Binding never takes
 * a reference on the xfrm state and never changes it: what the receive path
 * needs to rebuild the outer header is copied at bind time.  So a state can
 * be moved between sockets, or back to its own UDP/ESP path, with its
 * sequence numbers and replay window untouched.
 *
 * Each namespace has two tables, outbound and inbound bindings, keyed by
 * address and SPI; states that share those share a list in the table and
 * differ in their marks.  Writers (bind, unbind, close) hold
 * esptcp_net.lock.  The output hook looks outbound bindings up in their
 * table, and the receive path walks the socket's own list, both under RCU;
 * the inbound table serves bind and unbind only.
 */
#include <linux/slab.h>
#include <net/xfrm.h>

#include "esptcp.h"
#include "compat.h"

/*
 * Resizable, and hashed with a seed of each table's own, so that SPIs a
 * peer picks cannot crowd one bucket.
 */
static const struct rhashtable_params esptcp_sa_params = {
	.key_len		= sizeof(struct esptcp_key),
	.key_offset		= offsetof(struct esptcp_binding, key),
	.head_offset		= offsetof(struct esptcp_binding, hnode),
	.automatic_shrinking	= true,
};

/**
 * esptcp_bind_net_init() - set up a namespace's SA tables
 * @en: the namespace's state
 *
 * Context: process, pernet init.
 * Return: 0 or a negative errno.
 */
int esptcp_bind_net_init(struct esptcp_net *en)
{
	int err;

	err = rhltable_init(&en->sa_out, &esptcp_sa_params);
	if (err)
		return err;
	err = rhltable_init(&en->sa_in, &esptcp_sa_params);
	if (err)
		rhltable_destroy(&en->sa_out);
	return err;
}

/**
 * esptcp_bind_net_exit() - free a namespace's SA tables
 * @en: the namespace's state
 *
 * Context: process, pernet exit; no binding is left.
 */
void esptcp_bind_net_exit(struct esptcp_net *en)
{
	rhltable_destroy(&en->sa_out);
	rhltable_destroy(&en->sa_in);
}

static struct rhltable *esptcp_table(struct esptcp_net *en, u8 dir)
{
	return dir == ESPTCP_DIR_OUT ? &en->sa_out : &en->sa_in;
}

static void esptcp_key_set(struct esptcp_key *k, u16 family, const void *daddr,
			   __be32 spi)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->spi = spi;
	memcpy(&k->daddr, daddr, family == AF_INET ? 4 : 16);
}

/*
 * What the mark of a state's packets shows once xfrm has built them: xfrm
 * picks the state by the mark of the policy the packet matched, and when
 * the state's mask is no wider than the policy's (as IKE daemons and `ip
 * xfrm` install them) the packet's mark matches the state's; then the
 * state's output mark (XFRMA_SET_MARK) overwrites the bits of its mask.
 */
static void esptcp_out_mark(struct esptcp_binding *b, const struct xfrm_state *x)
{
	const struct xfrm_mark *s = &x->props.smark;
	u32 keep = x->mark.m & ~s->m;

	b->out.m = keep | s->m;
	b->out.v = (x->mark.v & keep) | (s->v & s->m);
}

/* Is a packet that leaves with @mark one of @b's state's? */
static bool esptcp_mark_match(const struct esptcp_binding *b, u32 mark)
{
	return !((mark ^ b->out.v) & b->out.m);
}

/* Could one packet be either's?  Then the hook cannot tell them apart. */
static bool esptcp_marks_overlap(const struct esptcp_binding *a,
				 const struct esptcp_binding *b)
{
	return !((a->out.v ^ b->out.v) & a->out.m & b->out.m);
}

/* Do @a and @b name the same xfrm state? */
static bool esptcp_same_state(const struct esptcp_binding *a,
			      const struct esptcp_binding *b)
{
	return a->mark.v == b->mark.v && a->mark.m == b->mark.m;
}

/**
 * esptcp_binding_out() - find the socket an outbound SA is bound to
 * @en: the netns state
 * @family: AF_INET or AF_INET6
 * @daddr: the outer destination address of the ESP packet
 * @spi: its SPI
 * @mark: its mark
 *
 * States that share address and SPI differ in their marks, and bind only
 * when no packet mark could be both's (esptcp_sa_bind()): the one whose
 * mark the packet's matches is the packet's.
 *
 * Context: RCU read side (the output hook).
 * Return: the binding, or NULL.
 */
struct esptcp_binding *esptcp_binding_out(struct esptcp_net *en, u16 family,
					  const void *daddr, __be32 spi, u32 mark)
{
	struct rhlist_head *list, *pos;
	struct esptcp_binding *b;
	struct esptcp_key k;

	esptcp_key_set(&k, family, daddr, spi);
	list = rhltable_lookup(&en->sa_out, &k, esptcp_sa_params);
	rhl_for_each_entry_rcu(b, pos, list, hnode)
		if (esptcp_mark_match(b, mark))
			return b;
	return NULL;
}

/**
 * esptcp_binding_in() - find an inbound SA bound to this socket
 * @ctx: the socket
 * @spi: the SPI of an ESP frame received on it
 *
 * Context: RCU read side (the receive path).
 * Return: the binding, or NULL when the SPI is not bound to this socket.
 */
struct esptcp_binding *esptcp_binding_in(struct esptcp_sock *ctx, __be32 spi)
{
	struct esptcp_binding *b;

	list_for_each_entry_rcu(b, &ctx->bindings, snode)
		if (b->key.spi == spi && b->dir == ESPTCP_DIR_IN)
			return b;
	return NULL;
}

/*
 * For bind: the binding of @b's state, if there is one, and in *@clash
 * another that a packet or a frame could be taken for: outbound, one whose
 * packets' marks overlap @b's; inbound, one with the same SPI on the same
 * socket, whatever its address (the receive path tells them apart by SPI
 * alone).
 */
static struct esptcp_binding *esptcp_binding_find(struct esptcp_net *en,
						  const struct esptcp_binding *b,
						  struct esptcp_binding **clash)
{
	struct esptcp_binding *o, *same = NULL;
	struct rhlist_head *list, *pos;

	lockdep_assert_held(&en->lock);
	*clash = NULL;
	/* the table's lookup wants RCU; en->lock keeps what it finds */
	rcu_read_lock();
	list = rhltable_lookup(esptcp_table(en, b->dir), &b->key, esptcp_sa_params);
	rhl_for_each_entry_rcu(o, pos, list, hnode) {
		if (esptcp_same_state(o, b))
			same = o;
		else if (b->dir == ESPTCP_DIR_OUT && esptcp_marks_overlap(o, b))
			*clash = o;
	}
	rcu_read_unlock();
	if (b->dir == ESPTCP_DIR_IN && !*clash) {
		list_for_each_entry(o, &b->ctx->bindings, snode)
			if (o->dir == ESPTCP_DIR_IN && o->key.spi == b->key.spi && o != same) {
				*clash = o;
				break;
			}
	}
	return same;
}

/*
 * For unbind: the binding a request names, on @ctx unless that is NULL:
 * the one with the request's mark as its state's, else the one that mark
 * finds as xfrm_state_lookup() would.
 */
static struct esptcp_binding *esptcp_binding_req(struct esptcp_net *en, u8 dir,
						 const struct esptcp_key *k,
						 const struct esptcp_sock *ctx, u32 mark)
{
	struct esptcp_binding *o, *found = NULL;
	struct rhlist_head *list, *pos;

	lockdep_assert_held(&en->lock);
	rcu_read_lock();
	list = rhltable_lookup(esptcp_table(en, dir), k, esptcp_sa_params);
	rhl_for_each_entry_rcu(o, pos, list, hnode) {
		if (ctx && o->ctx != ctx)
			continue;
		if (o->mark.v == mark) {
			found = o;
			break;
		}
		if (!found && (mark & o->mark.m) == o->mark.v)
			found = o;
	}
	rcu_read_unlock();
	return found;
}

/**
 * esptcp_sa_from_key() - describe a binding in user API terms
 * @b: the binding
 * @sa: filled in
 *
 * Context: any.
 */
void esptcp_sa_from_key(const struct esptcp_binding *b, struct esptcp_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = b->key.family;
	sa->dir = b->dir;
	sa->spi = b->key.spi;
	sa->mark = b->mark.v;
	memcpy(sa->daddr, &b->key.daddr, b->key.family == AF_INET ? 4 : 16);
}

static int esptcp_key_from_sa(const struct esptcp_sa *sa, struct esptcp_key *k)
{
	if (sa->family != AF_INET && sa->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (sa->dir != ESPTCP_DIR_IN && sa->dir != ESPTCP_DIR_OUT)
		return -EINVAL;
	/* reserved: zero, so that it can mean something later */
	if (sa->pad)
		return -EINVAL;
	if (!sa->spi)
		return -EINVAL;
	esptcp_key_set(k, sa->family, sa->daddr, sa->spi);
	return 0;
}

/*
 * Stop the ESP order machinery; held packets go out on the old socket,
 * before anything the hook sends once it sees the binding dead.
 */
static void esptcp_binding_retire(struct esptcp_binding *b)
{
	esptcp_binding_kill(b);
	/* dead bindings never arm it again */
	timer_delete_sync(&b->gap_timer);
}

static void esptcp_binding_unlink(struct esptcp_net *en, struct esptcp_binding *b)
{
	lockdep_assert_held(&en->lock);
	/* cannot fail: the binding is in the table */
	rhltable_remove(esptcp_table(en, b->dir), &b->hnode, esptcp_sa_params);
	list_del_rcu(&b->snode);
	esptcp_net_changed(en);
	if (b->dir == ESPTCP_DIR_OUT)
		atomic_dec(&en->n_out);
	esptcp_binding_retire(b);
	kfree_rcu(b, rcu);
}

static struct esptcp_sock *esptcp_ctx_find(struct esptcp_net *en,
					   struct esptcp_sock *ctx, u64 ino)
{
	lockdep_assert_held(&en->lock);
	if (ctx)
		return ctx->closed ? NULL : ctx;
	/* an inode number is an unsigned long: a wider one names nothing */
	if (ino > ULONG_MAX)
		return NULL;
	return xa_load(&en->socks, ino);
}

/*
 * Does a binding still rebuild the outer header its state has now, and
 * know its packets' mark?  An XFRM_MSG_UPDSA or a migrate may have given
 * the state a new source, new NAT-T ports or a new output mark since the
 * binding copied them.
 */
static bool esptcp_binding_header_eq(const struct esptcp_binding *a,
				     const struct esptcp_binding *b)
{
	return !memcmp(&a->saddr, &b->saddr, sizeof(a->saddr)) &&
	       a->out.v == b->out.v && a->out.m == b->out.m &&
	       a->encap_type == b->encap_type &&
	       a->encap_sport == b->encap_sport &&
	       a->encap_dport == b->encap_dport;
}

/**
 * esptcp_sa_bind() - bind an SA to a socket, moving it if bound elsewhere
 * @en: the netns state
 * @ctx: the socket, kept alive by the caller; or NULL to find it by @ino
 * @ino: the socket inode number, when @ctx is NULL
 * @req: the SA, as the user names it
 *
 * The binding is the state's that xfrm_state_lookup() finds with the
 * request's mark, and carries that state's mark: states that share
 * address and SPI and differ in their marks bind each on its own, and the
 * output hook tells their packets apart by the packet mark.  Two whose
 * packets one mark could match cannot both be bound (outbound), nor two
 * with one SPI on one socket (inbound): -EEXIST.
 *
 * Binding again to the same socket refreshes the outer header the receive
 * path rebuilds from the state (its source address and NAT-T ports), so a
 * binding follows its state after the state was updated or migrated; the
 * refreshed binding replaces the old one as a move to the same socket does.
 *
 * Context: process; takes esptcp_net.lock; must not hold the socket lock.
 * Return: 0; -ENOENT when xfrm has no such ESP state; -EOPNOTSUPP for an
 * encapsulation other than none or ESP-in-UDP, or an outbound state that
 * may use (software) ESP offload; -ENOTCONN once the socket
 * is closing; -EEXIST (above); -ENOMEM.
 */
int esptcp_sa_bind(struct esptcp_net *en, struct esptcp_sock *ctx, u64 ino,
		   const struct esptcp_sa *req)
{
	struct esptcp_binding *b, *old, *clash;
	struct net *net = read_pnet(&en->net);
	struct xfrm_state *x;
	struct rhltable *t;
	int err;

	/* charged to the binder's memory cgroup */
	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return -ENOMEM;
	err = esptcp_key_from_sa(req, &b->key);
	if (err)
		goto free;
	b->dir = req->dir;
	t = esptcp_table(en, b->dir);

	x = xfrm_state_lookup(net, req->mark, &b->key.daddr, req->spi,
			      IPPROTO_ESP, req->family);
	if (!x) {
		err = -ENOENT;
		goto free;
	}
	/*
	 * With esp4/6_offload loaded, xfrm may leave the encryption of a
	 * state without encapsulation to the device, after the output hook:
	 * such a state's packets must never be taken.
	 */
	if (req->dir == ESPTCP_DIR_OUT && x->type_offload && !x->encap) {
		xfrm_state_put(x);
		err = -EOPNOTSUPP;
		goto free;
	}
	spin_lock_bh(&x->lock);
	b->saddr = x->props.saddr;
	b->mark = x->mark;
	esptcp_out_mark(b, x);
	if (x->encap) {
		b->encap_type = x->encap->encap_type;
		b->encap_sport = x->encap->encap_sport;
		b->encap_dport = x->encap->encap_dport;
	}
	spin_unlock_bh(&x->lock);
	xfrm_state_put(x);
	if (b->encap_type && b->encap_type != UDP_ENCAP_ESPINUDP) {
		err = -EOPNOTSUPP;
		goto free;
	}

	spin_lock_init(&b->lock);
	timer_setup(&b->gap_timer, esptcp_gap_timer, 0);

	mutex_lock(&en->lock);
	ctx = esptcp_ctx_find(en, ctx, ino);
	if (!ctx) {
		err = -ENOTCONN;
		goto unlock;
	}
	b->ctx = ctx;
	old = esptcp_binding_find(en, b, &clash);
	if (clash) {
		err = -EEXIST;
		goto unlock;
	}
	if (old && old->ctx == ctx && esptcp_binding_header_eq(old, b)) {
		/* already here, with the state's header: nothing to do */
		err = 0;
		goto unlock;
	}
	/* the hooks go in before the first outbound binding is seen */
	if (b->dir == ESPTCP_DIR_OUT) {
		err = esptcp_steer_hooks_on(en);
		if (err)
			goto unlock;
	}
	err = rhltable_insert(t, &b->hnode, esptcp_sa_params);
	if (err)
		goto unlock;
	if (old) {
		bool synced;
		u32 next;

		/*
		 * A move.  The hook finds the new binding or the old one
		 * until the old one is out of the table, and then only the
		 * new one.  Packets the old binding held go out on the old
		 * socket; the new one carries on from where the old one's
		 * sequence got to, unless the output hook got there first.
		 */
		rhltable_remove(t, &old->hnode, esptcp_sa_params);
		/* a refresh on the same socket: the receive path always finds one */
		if (old->ctx == ctx) {
			list_replace_rcu(&old->snode, &b->snode);
		} else {
			list_del_rcu(&old->snode);
			list_add_tail_rcu(&b->snode, &ctx->bindings);
		}
		esptcp_binding_retire(old);
		spin_lock_bh(&old->lock);
		synced = old->synced;
		next = old->next_seq;
		spin_unlock_bh(&old->lock);
		spin_lock_bh(&b->lock);
		if (!b->synced) {
			b->synced = synced;
			b->next_seq = next;
		}
		spin_unlock_bh(&b->lock);
		kfree_rcu(old, rcu);
	} else {
		if (b->dir == ESPTCP_DIR_OUT)
			atomic_inc(&en->n_out);
		list_add_tail_rcu(&b->snode, &ctx->bindings);
	}
	esptcp_net_changed(en);
	mutex_unlock(&en->lock);
	return 0;

unlock:
	mutex_unlock(&en->lock);
free:
	kfree(b);
	return err;
}

/**
 * esptcp_sa_unbind() - unbind an SA
 * @en: the netns state
 * @ctx: the socket it must be bound to; NULL to name it by @ino
 * @ino: the socket inode number, when @ctx is NULL and @any is false
 * @any: unbind from whichever socket has the SA
 * @req: the SA
 *
 * An unbound outbound SA sends its packets the way xfrm would without
 * esptcp; ESP frames for an unbound inbound SA are dropped on every socket.
 *
 * Context: process; takes esptcp_net.lock.
 * Return: 0, or -ENOENT when the SA is not bound (to @ctx).
 */
int esptcp_sa_unbind(struct esptcp_net *en, struct esptcp_sock *ctx, u64 ino,
		     bool any, const struct esptcp_sa *req)
{
	struct esptcp_binding *b;
	struct esptcp_key k;
	int err;

	err = esptcp_key_from_sa(req, &k);
	if (err)
		return err;
	mutex_lock(&en->lock);
	if (!any) {
		ctx = esptcp_ctx_find(en, ctx, ino);
		b = ctx ? esptcp_binding_req(en, req->dir, &k, ctx, req->mark) : NULL;
	} else {
		b = esptcp_binding_req(en, req->dir, &k, NULL, req->mark);
	}
	if (!b)
		err = -ENOENT;
	else
		esptcp_binding_unlink(en, b);
	mutex_unlock(&en->lock);
	return err;
}

/**
 * esptcp_unbind_all() - unbind every SA of a closing socket
 * @ctx: the socket
 *
 * Marks the socket closed, so no new binding can appear on it.
 *
 * Context: process, from close; takes esptcp_net.lock.
 */
void esptcp_unbind_all(struct esptcp_sock *ctx)
{
	struct esptcp_net *en = ctx->en;
	struct esptcp_binding *b, *tmp;

	mutex_lock(&en->lock);
	ctx->closed = true;
	list_for_each_entry_safe(b, tmp, &ctx->bindings, snode)
		esptcp_binding_unlink(en, b);
	xa_erase(&en->socks, ctx->ino);
	esptcp_net_changed(en);
	mutex_unlock(&en->lock);
}
