// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: links, the ways messages reach a peer: a shared UDP socket
 * (500, 4500) and a peer address, or a TCP connection of ours.  A connection
 * is "IKETCP"-checked, handed to the esptcp module with setsockopt(TCP_ULP),
 * and from then on every recv() is one message.  Links know nothing of SAs:
 * they report receive, ready and down through struct ike_link_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <linux/udp.h>

#include "esptcp.h"
#include "ike_sa.h"

#define PREFIX_TIMEOUT_MS	10000
#define ACCEPT_BURST		32	/* connections accepted a wakeup */
#define UDP_RCVBUF		(4 << 20)	/* an IKE socket's receive buffer */
#define CONNECT_TIMEOUT_MS	5000

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif

static int ep_add(struct ike_daemon *d, int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void ike_link_get(struct ike_link *l)
{
	l->refs++;
}

static void links_add(struct ike_daemon *d, struct ike_link *l)
{
	l->next = d->links;
	if (d->links)
		d->links->pprev = &l->next;
	d->links = l;
	l->pprev = &d->links;
}

static void links_del(struct ike_link *l)
{
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
}

/* an authenticated message arrived on @l: it leaves d->unauth_links */
void ike_link_authed(struct ike_link *l)
{
	l->authed = true;
	ike_hlist_del(&l->unauth_node);
}

/*
 * The UDP links by socket and peer, chained in buckets that double with
 * them: each datagram finds its link in O(1) among thousands of peers.
 * The peer's address and port are its choice: SipHash under a key of ours.
 */
static uint64_t udp_hash(const struct ike_daemon *d, int fd, const struct sockaddr_storage *peer)
{
	struct {
		int fd;
		uint16_t port;
		uint8_t family;
		uint8_t addr[16];
	} __attribute__((packed)) k = { .fd = fd, .port = ike_ss_port(peer),
					.family = (uint8_t)peer->ss_family };

	memcpy(k.addr, ike_ss_addr(peer), ike_ss_alen(peer));
	return ike_sip(d->sip, &k, sizeof(k));
}

void ike_link_put(struct ike_daemon *d, struct ike_link *l)
{
	/* only the loop's reference left: no SA uses the connection any more */
	if (l->refs == 2 && l->type == TRANSPORT_TCP && l->authed && l->stage == LINK_READY &&
	    !l->closing)
		ike_link_close_soon(d, l, "no IKE SA uses it any more");
	if (--l->refs > 0)
		return;
	links_del(l);
	ike_hlist_del(&l->unauth_node);
	ike_hlist_del(&l->close_node);
	ike_htab_del(&d->udp_links, &l->udp_node);
	if (l->type == TRANSPORT_TCP && l->fd >= 0)
		close(l->fd);
	free(l);
}

static int send_one(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len)
{
	static const uint8_t zero[4];
	struct iovec iov[2] = {
		{ .iov_base = (void *)zero, .iov_len = l->marker ? 4 : 0 },
		{ .iov_base = (void *)msg, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (l->stage != LINK_READY)
		return -ENOTCONN;
	if (l->type == TRANSPORT_UDP) {
		mh.msg_name = &l->peer;
		mh.msg_namelen = ike_ss_len(&l->peer);
	}
	n = sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (d->verbose)
			fprintf(stderr, "esptcp: send: %s\n", strerror(errno));
		return -errno;
	}
	d->st.tx_msgs++;
	return 0;
}

/* the length of the first datagram in @msg: its IKE header's, or all of it */
static size_t first_datagram(const uint8_t *msg, size_t len)
{
	size_t one;

	if (len <= IKE_HDR_LEN)
		return len;
	one = (size_t)msg[24] << 24 | (size_t)msg[25] << 16 | (size_t)msg[26] << 8 | msg[27];
	return one < IKE_HDR_LEN || one >= len ? len : one;
}

/*
 * One message, or several back to back: the fragments of one (RFC 7383),
 * each a datagram (a frame over TCP) of its own, as its header's length says.
 */
int ike_link_send(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len)
{
	int err;

	do {
		size_t one = first_datagram(msg, len);

		err = send_one(d, l, msg, one);
		msg += one;
		len -= one;
	} while (!err && len);
	return err;
}

/* how many datagrams ike_link_send() makes of @msg */
unsigned int ike_link_datagrams(const uint8_t *msg, size_t len)
{
	unsigned int n = 0;

	do {
		size_t one = first_datagram(msg, len);

		n++;
		msg += one;
		len -= one;
	} while (len);
	return n;
}

/* bytes as they are, without a non-ESP marker: a UDP NAT keepalive */
int ike_link_send_raw(struct ike_daemon *d, const struct ike_link *l, const uint8_t *p,
		      size_t len)
{
	(void)d;
	if (l->type != TRANSPORT_UDP || l->stage != LINK_READY)
		return -EINVAL;
	if (sendto(l->fd, p, len, MSG_DONTWAIT, (const struct sockaddr *)&l->peer,
		   ike_ss_len(&l->peer)) < 0)
		return -errno;
	return 0;
}

static int udp_socket(struct ike_daemon *d, const struct sockaddr_storage *local, bool natt)
{
	int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, encap = UDP_ENCAP_ESPINUDP, rcvbuf = UDP_RCVBUF;
	char buf[64];
	struct ike_sock *o;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * Room for a burst: thousands of clients coming back at once (the
	 * gateway restarted, a network came back) would overflow the default
	 * (about a hundred datagrams), and each one lost costs its client a
	 * retransmission a second or more later.  FORCE as root passes
	 * net.core.rmem_max; without the capability the plain option is capped
	 * by it.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (const struct sockaddr *)local, ike_ss_len(local)) < 0 ||
	    esptcp_set_bypass(fd, local->ss_family) ||
	    (natt && setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &encap, sizeof(encap)) < 0)) {
		fprintf(stderr, "esptcp: UDP %s: %s\n", esptcp_addr_str(local, buf, sizeof(buf)),
			strerror(errno));
		close(fd);
		return -1;
	}
	o = calloc(1, sizeof(*o));
	if (!o || ep_add(d, fd, o, EPOLLIN)) {
		free(o);
		close(fd);
		return -1;
	}
	o->kind = OBJ_UDP;
	o->fd = fd;
	o->local = *local;
	o->natt = natt;
	o->next = d->socks;
	d->socks = o;
	return fd;
}

static struct ike_sock *find_udp(struct ike_daemon *d, const struct sockaddr_storage *local)
{
	for (struct ike_sock *o = d->socks; o; o = o->next)
		if (o->kind == OBJ_UDP && ike_ss_equal(&o->local, local))
			return o;
	return NULL;
}

/**
 * ike_udp_link() - the link to a UDP peer from one of our sockets
 * @d: the daemon
 * @local: our address and port (the socket is opened on first use)
 * @peer: theirs
 * @natt: the 4500 flavour, with non-ESP markers and ESP-in-UDP decapsulation
 *
 * Return: a referenced link, or NULL.
 */
struct ike_link *ike_udp_link(struct ike_daemon *d, const struct sockaddr_storage *local,
			      const struct sockaddr_storage *peer, bool natt)
{
	struct ike_sock *o = find_udp(d, local);
	struct ike_hnode *e;
	struct ike_link *l;
	uint64_t h;

	if (!o && udp_socket(d, local, natt) >= 0)
		o = find_udp(d, local);
	if (!o)
		return NULL;
	h = udp_hash(d, o->fd, peer);
	ike_htab_for_each(e, &d->udp_links, h) {
		l = ike_hnode_owner(e, struct ike_link, udp_node);
		if (l->fd == o->fd && ike_ss_equal(&l->peer, peer)) {
			l->refs++;
			return l;
		}
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->kind = OBJ_LINK;
	l->refs = 1;
	l->type = TRANSPORT_UDP;
	l->stage = LINK_READY;
	l->fd = o->fd;
	l->marker = natt;
	l->local = o->local;
	l->peer = *peer;
	if (ike_htab_add(&d->udp_links, &l->udp_node, h)) {
		free(l);
		return NULL;
	}
	links_add(d, l);
	return l;
}

/**
 * ike_route_source() - the address routing would send from to a peer
 * @peer: the peer (its port does not matter)
 * @src: set to our source address, port 0
 *
 * A connected UDP socket that sends nothing: the kernel's own choice.
 *
 * Return: 0, or a negative errno (no route, no address).
 */
int ike_route_source(const struct sockaddr_storage *peer, struct sockaddr_storage *src)
{
	struct sockaddr_storage p = *peer;
	socklen_t len = sizeof(*src);
	int fd = socket(peer->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	ike_ss_set_port(&p, 4500);
	/* IKE's own sockets bypass IPsec policy; so does this look-up */
	if (esptcp_set_bypass(fd, peer->ss_family) ||
	    connect(fd, (struct sockaddr *)&p, ike_ss_len(&p)) < 0 ||
	    getsockname(fd, (struct sockaddr *)src, &len) < 0)
		err = -errno;
	close(fd);
	if (!err)
		ike_ss_set_port(src, 0);
	return err;
}

/*
 * Is this address still one of ours?  Only a bind() refused with
 * EADDRNOTAVAIL says no: a failure of any other kind (no descriptors, a
 * security module) is no reason to leave a working path.
 */
bool ike_addr_present(const struct sockaddr_storage *a)
{
	struct sockaddr_storage x = *a;
	int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool gone;

	if (fd < 0)
		return true;
	ike_ss_set_port(&x, 0);
	gone = bind(fd, (struct sockaddr *)&x, ike_ss_len(&x)) < 0 && errno == EADDRNOTAVAIL;
	close(fd);
	return !gone;
}

static struct ike_link *tcp_link_new(struct ike_daemon *d, int fd, enum link_stage stage)
{
	struct ike_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->kind = OBJ_LINK;
	l->refs = 1;		/* the event loop's, dropped when the connection closes */
	l->type = TRANSPORT_TCP;
	l->stage = stage;
	l->fd = fd;
	l->marker = true;
	if (ep_add(d, fd, l, stage == LINK_CONNECTING ? EPOLLOUT : EPOLLIN)) {
		free(l);
		return NULL;
	}
	links_add(d, l);
	/* a TCP connection nothing has authenticated on yet */
	ike_hlist_add(&d->unauth_links, &l->unauth_node);
	return l;
}

/* a connection to port_idx of a conn's TCP ports failed: the next one is tried next */
static void next_port(struct ike_daemon *d, const struct ike_conn_conf *c, unsigned int idx)
{
	if (c->ntcp_ports < 2 || !d->tcp_port_at)
		return;
	d->tcp_port_at[c - d->conf->conns] = (idx + 1) % c->ntcp_ports;
	fprintf(stderr, "esptcp[%s]: TCP port %u failed, port %u next\n", c->name,
		c->tcp_ports[idx], c->tcp_ports[(idx + 1) % c->ntcp_ports]);
}

void ike_link_close(struct ike_daemon *d, struct ike_link *l, const char *why)
{
	if (l->stage == LINK_DEAD)
		return;
	/* not up, or up but nothing authenticated on it (a proxy that takes and drops it) */
	if ((l->stage == LINK_CONNECTING || !l->authed) && l->conn)
		next_port(d, l->conn, l->port_idx);
	if (d->verbose || l->authed) {
		char buf[64];

		fprintf(stderr, "esptcp: TCP connection with %s closed: %s\n",
			esptcp_addr_str(&l->peer, buf, sizeof(buf)), why);
	}
	l->stage = LINK_DEAD;
	ike_hlist_del(&l->unauth_node);
	l->dead_since = d->now;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
	/* ours while the users hear of it, then the loop's goes */
	ike_link_get(l);
	d->link_ops->down(d, l, why);
	ike_link_put(d, l);
	ike_link_put(d, l);
}

/**
 * ike_tcp_connect() - open a TCP connection to a conn's responder
 * @d: the daemon
 * @c: the conn
 *
 * The connection finishes in the event loop (tcp_connected): "IKETCP",
 * the ULP, then whoever waits for it is told.
 *
 * Return: the link, referenced by the loop, or NULL.
 */
struct ike_link *ike_tcp_connect(struct ike_daemon *d, const struct ike_conn_conf *c)
{
	struct sockaddr_storage local = c->local, peer = c->remote;
	unsigned int idx = d->tcp_port_at ? d->tcp_port_at[c - d->conf->conns] % c->ntcp_ports : 0;
	socklen_t len = sizeof(local);
	struct ike_link *l;
	int fd;

	if (!d->nl) {
		fprintf(stderr, "esptcp[%s]: TCP needs the esptcp module (modprobe esptcp)\n",
			c->name);
		return NULL;
	}
	fd = socket(c->remote.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ike_ss_set_port(&local, 0);
	ike_ss_set_port(&peer, c->tcp_ports[idx]);
	if (fd < 0 || esptcp_set_bypass(fd, c->remote.ss_family) ||
	    bind(fd, (struct sockaddr *)&local, ike_ss_len(&local)) < 0 ||
	    (connect(fd, (struct sockaddr *)&peer, ike_ss_len(&peer)) < 0 &&
	     errno != EINPROGRESS)) {
		fprintf(stderr, "esptcp[%s]: connect: %s\n", c->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		next_port(d, c, idx);
		return NULL;
	}
	l = tcp_link_new(d, fd, LINK_CONNECTING);
	if (!l) {
		close(fd);
		return NULL;
	}
	l->conn = c;
	l->port_idx = idx;
	getsockname(fd, (struct sockaddr *)&l->local, &len);
	l->peer = peer;
	ike_link_deadline(d, l, d->now + CONNECT_TIMEOUT_MS);
	return l;
}

/* a ready connection is closed unless an SA on it authenticates in time */
static void half_open_deadline(struct ike_daemon *d, struct ike_link *l)
{
	ike_link_deadline(d, l, d->now + (uint64_t)d->conf->half_open_timeout_s * 1000);
}

static void tcp_connected(struct ike_daemon *d, struct ike_link *l)
{
	static const char prefix[] = "IKETCP";
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	socklen_t len = sizeof(int);
	int err = 0;

	getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		ike_link_close(d, l, strerror(err));
		return;
	}
	if (send(l->fd, prefix, 6, MSG_NOSIGNAL) != 6 || esptcp_attach(l->fd)) {
		ike_link_close(d, l, "cannot send IKETCP or attach esptcp");
		return;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, l->fd, &ev);
	l->stage = LINK_READY;
	/*
	 * As an accepted one: a responder that takes connections and never
	 * answers would otherwise keep one open for good at every retry.
	 */
	half_open_deadline(d, l);
	d->link_ops->ready(d, l);
}

/* TCP connections not yet authenticated: all of them, and those from one address */
static unsigned int unauthenticated_links(struct ike_daemon *d,
					  const struct sockaddr_storage *from,
					  unsigned int *same)
{
	unsigned int n = 0;

	*same = 0;
	for (struct ike_hnode *e = d->unauth_links; e; e = e->next) {
		struct ike_link *l = ike_hnode_owner(e, struct ike_link, unauth_node);

		if (l->type != TRANSPORT_TCP || l->stage == LINK_DEAD || l->authed)
			continue;
		n++;
		*same += ike_ss_same_addr(&l->peer, from);
	}
	return n;
}

/* one connection from the listener's queue; false when it is empty */
static bool tcp_accept_one(struct ike_daemon *d, struct ike_sock *o)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer), llen = sizeof(peer);
	unsigned int same;
	struct ike_link *l;
	int fd;

	fd = accept4(o->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return false;
	if (unauthenticated_links(d, &peer, &same) >= d->conf->half_open_max ||
	    same >= d->conf->half_open_per_source) {
		char buf[64];

		d->st.tcp_rejected++;
		if (same >= d->conf->half_open_per_source)
			d->st.per_source_dropped++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: %s: too many unauthenticated TCP connections%s; refusing one\n",
				esptcp_addr_str(&peer, buf, sizeof(buf)),
				same >= d->conf->half_open_per_source ? " from this address" : "");
		close(fd);
		return true;
	}
	l = tcp_link_new(d, fd, LINK_PREFIX);
	if (!l) {
		close(fd);
		return true;
	}
	d->st.tcp_accepted++;
	l->peer = peer;
	getsockname(fd, (struct sockaddr *)&l->local, &llen);
	ike_link_deadline(d, l, d->now + PREFIX_TIMEOUT_MS);
	return true;
}

/*
 * Several a wakeup: a burst of clients (a gateway's restart, a load
 * generator) would otherwise wait one loop pass each, and the queue
 * overflow into SYN retransmissions of a second and more; a bound keeps
 * the loop's other work going.
 */
static void tcp_accept(struct ike_daemon *d, struct ike_sock *o)
{
	for (int i = 0; i < ACCEPT_BURST && tcp_accept_one(d, o); i++)
		;
}

static void tcp_prefix(struct ike_daemon *d, struct ike_link *l)
{
	static const char prefix[] = "IKETCP";
	char buf[6];
	ssize_t n = recv(l->fd, buf, 6 - l->prefix_got, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		ike_link_close(d, l, "closed before IKETCP");
		return;
	}
	if (n < 0)
		return;
	if (memcmp(buf, prefix + l->prefix_got, (size_t)n)) {
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: TCP connection without the IKETCP prefix closed\n");
		ike_link_close(d, l, "no IKETCP prefix");
		return;
	}
	l->prefix_got += (size_t)n;
	if (l->prefix_got < 6)
		return;
	if (esptcp_attach(l->fd)) {
		ike_link_close(d, l, "cannot attach esptcp");
		return;
	}
	l->stage = LINK_READY;
	half_open_deadline(d, l);
}

static void tcp_readable(struct ike_daemon *d, struct ike_link *l)
{
	static uint8_t buf[4 + IKE_MAX_MSG];

	for (int i = 0; i < 16 && l->stage == LINK_READY; i++) {
		ssize_t n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ike_link_close(d, l, n == 0 ? "end of stream" : strerror(errno));
			return;
		}
		if (n < 4 || buf[0] | buf[1] | buf[2] | buf[3]) {
			d->st.rx_bad++;
			continue;
		}
		ike_link_get(l);
		d->link_ops->recv(d, l, buf + 4, (size_t)n - 4);
		ike_link_put(d, l);
	}
}

static void udp_readable(struct ike_daemon *d, struct ike_sock *o)
{
	static uint8_t buf[IKE_MAX_MSG];

	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(o->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&peer, &plen);
		const uint8_t *msg = buf;
		struct ike_link *l;

		if (n < 0)
			return;
		if (o->natt) {
			if (n == 1 && buf[0] == 0xff)
				continue;	/* NAT keepalive */
			if (n < 4 || buf[0] | buf[1] | buf[2] | buf[3]) {
				d->st.rx_bad++;
				continue;
			}
			msg += 4;
			n -= 4;
		}
		l = ike_udp_link(d, &o->local, &peer, o->natt);
		if (!l)
			continue;
		d->link_ops->recv(d, l, msg, (size_t)n);
		ike_link_put(d, l);
	}
}

static int listen_tcp(struct ike_daemon *d, struct sockaddr_storage *a, uint16_t port);

int ike_open_listeners(struct ike_daemon *d)
{
	for (size_t i = 0; i < d->conf->nconns; i++) {
		const struct ike_conn_conf *c = &d->conf->conns[i];
		struct sockaddr_storage a = c->local;

		if (c->initiator)
			continue;
		ike_ss_set_port(&a, c->udp_port);
		if (!find_udp(d, &a) && udp_socket(d, &a, c->udp_port == 4500) < 0)
			return -1;
		ike_ss_set_port(&a, 4500);
		if (!find_udp(d, &a) && udp_socket(d, &a, true) < 0)
			return -1;
		if (!d->nl)
			continue;
		for (unsigned int p = 0; p < c->ntcp_ports; p++)
			if (listen_tcp(d, &a, c->tcp_ports[p]))
				return -1;
	}
	return 0;
}

/* a TCP listener on ADDR:PORT, unless one is there already */
static int listen_tcp(struct ike_daemon *d, struct sockaddr_storage *a, uint16_t port)
{
	struct ike_sock *o;
	char buf[64];
	int fd, one = 1;

	ike_ss_set_port(a, port);
	for (o = d->socks; o; o = o->next)
		if (o->kind == OBJ_LISTEN && ike_ss_equal(&o->local, a))
			return 0;
	o = calloc(1, sizeof(*o));
	fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!o || fd < 0) {
		free(o);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)a, ike_ss_len(a)) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    ep_add(d, fd, o, EPOLLIN)) {
		fprintf(stderr, "esptcp: TCP %s: %s\n", esptcp_addr_str(a, buf, sizeof(buf)),
			strerror(errno));
		close(fd);
		free(o);
		return -1;
	}
	o->kind = OBJ_LISTEN;
	o->fd = fd;
	o->local = *a;
	o->next = d->socks;
	d->socks = o;
	fprintf(stderr, "esptcp: listening on TCP %s\n", esptcp_addr_str(a, buf, sizeof(buf)));
	return 0;
}

/* epoll says a link's socket is ready */
void ike_link_event(struct ike_daemon *d, struct ike_link *l)
{
	if (l->stage == LINK_CONNECTING)
		tcp_connected(d, l);
	else if (l->stage == LINK_PREFIX)
		tcp_prefix(d, l);
	else if (l->stage == LINK_READY)
		tcp_readable(d, l);
}

/* epoll says a listener or a UDP socket is ready */
void ike_sock_event(struct ike_daemon *d, struct ike_sock *o)
{
	if (o->kind == OBJ_LISTEN)
		tcp_accept(d, o);
	else
		udp_readable(d, o);
}

/*
 * Connections to close after the event batch, or past their deadline.  Only
 * when one was marked (ike_link_close_soon()) or the first deadline has
 * come (ike_link_deadline()), not at every pass; and then only the marked
 * ones and the unauthenticated ones, the only links with a deadline: a
 * gateway's thousands of authenticated connections are not walked.
 */
void ike_links_close_due(struct ike_daemon *d)
{
	uint64_t next = UINT64_MAX;
	struct ike_hnode *e;

	if (d->now < d->links_check_at)
		return;
	d->links_check_at = UINT64_MAX;	/* what closing sets again is kept */
again:
	/* closing one may mark or free others: from the head each time */
	while ((e = d->closing_links)) {
		struct ike_link *l = ike_hnode_owner(e, struct ike_link, close_node);

		ike_hlist_del(e);
		if (l->type == TRANSPORT_TCP && l->stage != LINK_DEAD && l->closing)
			ike_link_close(d, l, l->closing);
	}
	for (e = d->unauth_links; e; e = e->next) {
		struct ike_link *l = ike_hnode_owner(e, struct ike_link, unauth_node);

		if (l->type != TRANSPORT_TCP || l->stage == LINK_DEAD || l->authed ||
		    !l->deadline)
			continue;
		if (d->now < l->deadline) {
			if (l->deadline < next)
				next = l->deadline;
			continue;
		}
		ike_link_close(d, l, l->stage == LINK_CONNECTING ? "connect timed out" :
			       "no authenticated IKE in time");
		/* the lists may have changed: both again, from the head */
		next = UINT64_MAX;
		d->links_check_at = UINT64_MAX;
		goto again;
	}
	if (next < d->links_check_at)
		d->links_check_at = next;
}

/* at exit: every socket and link, whoever still refers to them */
void ike_links_free(struct ike_daemon *d)
{
	while (d->links) {
		struct ike_link *l = d->links;

		d->links = l->next;
		if (l->type == TRANSPORT_TCP && l->fd >= 0)
			close(l->fd);
		free(l);
	}
	ike_htab_free(&d->udp_links);
	d->unauth_links = NULL;
	d->closing_links = NULL;
	while (d->socks) {
		struct ike_sock *o = d->socks;

		d->socks = o->next;
		close(o->fd);
		free(o);
	}
}
