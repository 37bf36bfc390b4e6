// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: "esptcp ike CONFIG", the IKE helper's event loop.  One epoll
 * set holds the TCP listeners (responders), the UDP sockets on 500 and 4500,
 * every TCP connection and a signalfd.  A connection is "IKETCP"-checked,
 * handed to the esptcp module with setsockopt(TCP_ULP), and from then on
 * every recv() is one IKE message.  CHILD_SAs are bound to their connection
 * over the esptcp generic netlink family.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/udp.h>

#include "esptcp.h"
#include "ike_sa.h"

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif

#define PREFIX_TIMEOUT_MS	10000
#define CONNECT_TIMEOUT_MS	5000
#define TICK_MS			100

enum obj_kind { OBJ_LISTEN = 1, OBJ_UDP, OBJ_LINK, OBJ_SIGNAL };

/* listeners, UDP sockets, the signalfd: what epoll hands back besides links */
struct obj {
	int kind;		/* first, like struct ike_link's */
	struct obj *next;
	int fd;
	struct sockaddr_storage local;
	bool natt;
};

static struct obj *objs;
static bool verbose;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	       sizeof(struct sockaddr_in6);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool ss_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port &&
	       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
}

void ike_log(struct ike_sa *sa, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "esptcp[%s] %016llx: ", sa->conf ? sa->conf->name : "?",
		(unsigned long long)(sa->initiator ? sa->spi_i : sa->spi_r));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* bad input is logged at most 10 times in 10 seconds; counters see all of it */
bool ike_log_bad(struct ike_daemon *d)
{
	if (d->now - d->log_window >= 10000) {
		d->log_window = d->now;
		d->log_count = 0;
	}
	return d->log_count++ < 10;
}

static int ep_add(struct ike_daemon *d, int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void ike_link_get(struct ike_link *l)
{
	l->refs++;
}

void ike_link_put(struct ike_daemon *d, struct ike_link *l)
{
	/* only the loop's reference left: no SA uses the connection any more */
	if (l->refs == 2 && l->type == TRANSPORT_TCP && l->authed && l->stage == LINK_READY &&
	    !l->closing)
		l->closing = "no IKE SA uses it any more";
	if (--l->refs > 0)
		return;
	for (struct ike_link **p = &d->links; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	if (l->type == TRANSPORT_TCP && l->fd >= 0)
		close(l->fd);
	free(l);
}

int ike_link_send(struct ike_daemon *d, struct ike_link *l, const uint8_t *msg, size_t len)
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
		mh.msg_namelen = ss_len(&l->peer);
	}
	n = sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (verbose)
			fprintf(stderr, "esptcp: send: %s\n", strerror(errno));
		return -errno;
	}
	d->st.tx_msgs++;
	return 0;
}

static int udp_socket(struct ike_daemon *d, const struct sockaddr_storage *local, bool natt)
{
	int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, encap = UDP_ENCAP_ESPINUDP;
	char buf[64];
	struct obj *o;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)local, ss_len(local)) < 0 ||
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
	o->next = objs;
	objs = o;
	return fd;
}

static struct obj *find_udp(const struct sockaddr_storage *local)
{
	for (struct obj *o = objs; o; o = o->next)
		if (o->kind == OBJ_UDP && ss_equal(&o->local, local))
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
	struct obj *o = find_udp(local);
	struct ike_link *l;

	if (!o && udp_socket(d, local, natt) >= 0)
		o = find_udp(local);
	if (!o)
		return NULL;
	for (l = d->links; l; l = l->next) {
		if (l->type == TRANSPORT_UDP && l->fd == o->fd && ss_equal(&l->peer, peer)) {
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
	l->next = d->links;
	d->links = l;
	return l;
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
	l->next = d->links;
	d->links = l;
	return l;
}

/* the connection is gone: tell every SA on it, then drop the loop's reference */
static void tcp_link_down(struct ike_daemon *d, struct ike_link *l, const char *why)
{
	ike_link_close(d, l, why);
}

void ike_link_close(struct ike_daemon *d, struct ike_link *l, const char *why)
{
	if (l->stage == LINK_DEAD)
		return;
	if (verbose || l->authed) {
		char buf[64];

		fprintf(stderr, "esptcp: TCP connection with %s closed: %s\n",
			esptcp_addr_str(&l->peer, buf, sizeof(buf)), why);
	}
	l->stage = LINK_DEAD;
	l->dead_since = d->now;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
	ike_link_get(l);
again:
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->moving == l) {
			ike_sa_move_failed(sa, why);
			goto again;
		}
		if (sa->link == l && !sa->down_seen) {
			sa->down_seen = true;
			ike_sa_link_down(sa);
			goto again;	/* the list may have changed */
		}
	}
	ike_link_put(d, l);
	ike_link_put(d, l);
}

int ike_bind_child(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c)
{
	struct esptcp_sock_ref ref = { .fd = sa->link->fd };
	struct esptcp_sa in = { 0 }, out = { 0 };
	const struct ike_link *l = sa->link;
	size_t alen = l->local.ss_family == AF_INET ? 4 : 16;
	const void *la, *ra;
	int err;

	if (!d->nl)
		return -ENOTSUP;
	la = l->local.ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)&l->local)->sin_addr :
	     (const void *)&((const struct sockaddr_in6 *)&l->local)->sin6_addr;
	ra = l->peer.ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)&l->peer)->sin_addr :
	     (const void *)&((const struct sockaddr_in6 *)&l->peer)->sin6_addr;
	in.family = out.family = l->local.ss_family;
	in.dir = ESPTCP_DIR_IN;
	out.dir = ESPTCP_DIR_OUT;
	in.spi = c->spi_in;
	out.spi = c->spi_out;
	memcpy(in.daddr, la, alen);
	memcpy(out.daddr, ra, alen);
	err = esptcp_nl_sa_bind(d->nl, &ref, &in);
	if (!err)
		err = esptcp_nl_sa_bind(d->nl, &ref, &out);
	if (err)
		ike_log(sa, "binding the CHILD_SA to the connection failed: %s%s%s",
			strerror(-err), esptcp_nl_ext_msg(d->nl) ? ": " : "",
			esptcp_nl_ext_msg(d->nl) ? esptcp_nl_ext_msg(d->nl) : "");
	return err;
}

/* back to UDP: the SAs' ESP goes the way xfrm sends it */
int ike_unbind_child(struct ike_daemon *d, struct ike_sa *sa, struct ike_child *c)
{
	struct esptcp_sa in = { 0 }, out = { 0 };
	const struct ike_link *l = sa->link;
	size_t alen = l->local.ss_family == AF_INET ? 4 : 16;
	int e1, e2;

	if (!d->nl)
		return 0;
	in.family = out.family = l->local.ss_family;
	in.dir = ESPTCP_DIR_IN;
	out.dir = ESPTCP_DIR_OUT;
	in.spi = c->spi_in;
	out.spi = c->spi_out;
	memcpy(in.daddr, l->local.ss_family == AF_INET ?
	       (const void *)&((const struct sockaddr_in *)&l->local)->sin_addr :
	       (const void *)&((const struct sockaddr_in6 *)&l->local)->sin6_addr, alen);
	memcpy(out.daddr, l->peer.ss_family == AF_INET ?
	       (const void *)&((const struct sockaddr_in *)&l->peer)->sin_addr :
	       (const void *)&((const struct sockaddr_in6 *)&l->peer)->sin6_addr, alen);
	e1 = esptcp_nl_sa_unbind(d->nl, NULL, &in);
	e2 = esptcp_nl_sa_unbind(d->nl, NULL, &out);
	/* an SA that was not bound (its connection closed first) is fine */
	if (e1 == -ENOENT)
		e1 = 0;
	if (e2 == -ENOENT)
		e2 = 0;
	return e1 ? e1 : e2;
}

void ike_conn_restart(struct ike_daemon *d, const struct ike_conn_conf *c, unsigned int delay_s)
{
	size_t i = (size_t)(c - d->conf->conns);

	if (i < d->conf->nconns) {
		d->restart_at[i] = d->now + (uint64_t)delay_s * 1000;
		fprintf(stderr, "esptcp[%s]: starting again in %u s\n", c->name, delay_s);
	}
}

/* ---- initiators ---- */

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
	socklen_t len = sizeof(local);
	struct ike_link *l;
	int fd;

	if (!d->nl) {
		fprintf(stderr, "esptcp[%s]: TCP needs the esptcp module (modprobe esptcp)\n",
			c->name);
		return NULL;
	}
	fd = socket(c->remote.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	set_port(&local, 0);
	set_port(&peer, c->tcp_port);
	if (fd < 0 || esptcp_set_bypass(fd, c->remote.ss_family) ||
	    bind(fd, (struct sockaddr *)&local, ss_len(&local)) < 0 ||
	    (connect(fd, (struct sockaddr *)&peer, ss_len(&peer)) < 0 && errno != EINPROGRESS)) {
		fprintf(stderr, "esptcp[%s]: connect: %s\n", c->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	l = tcp_link_new(d, fd, LINK_CONNECTING);
	if (!l) {
		close(fd);
		return NULL;
	}
	getsockname(fd, (struct sockaddr *)&l->local, &len);
	l->peer = peer;
	l->deadline = d->now + CONNECT_TIMEOUT_MS;
	return l;
}

void ike_conn_start_tcp(struct ike_daemon *d, const struct ike_conn_conf *c)
{
	struct ike_link *l = ike_tcp_connect(d, c);
	struct ike_sa *sa;

	if (!l) {
		ike_conn_restart(d, c, d->nl ? c->retry_s : 30);
		return;
	}
	sa = ike_sa_initiate(d, c, l);
	if (!sa)
		tcp_link_down(d, l, "out of memory");
}

static void conn_start(struct ike_daemon *d, const struct ike_conn_conf *c)
{
	struct sockaddr_storage local = c->local, peer = c->remote;
	struct ike_link *l;
	struct ike_sa *sa;

	if (c->transport == TRANSPORT_TCP) {
		ike_conn_start_tcp(d, c);
		return;
	}
	set_port(&local, c->udp_port);
	set_port(&peer, c->udp_port);
	l = ike_udp_link(d, &local, &peer, c->udp_port == 4500);
	if (!l) {
		ike_conn_restart(d, c, c->retry_s);
		return;
	}
	sa = ike_sa_initiate(d, c, l);
	ike_link_put(d, l);
	if (!sa) {
		ike_conn_restart(d, c, c->retry_s);
		return;
	}
	if (c->transport == TRANSPORT_FALLBACK)
		sa->fallback_at = d->now + c->fallback_ms;
	ike_sa_start(sa);
}

static void tcp_connected(struct ike_daemon *d, struct ike_link *l)
{
	static const char prefix[] = "IKETCP";
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	socklen_t len = sizeof(int);
	int err = 0;

	getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		tcp_link_down(d, l, strerror(err));
		return;
	}
	if (send(l->fd, prefix, 6, MSG_NOSIGNAL) != 6 || esptcp_attach(l->fd)) {
		tcp_link_down(d, l, "cannot send IKETCP or attach esptcp");
		return;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, l->fd, &ev);
	l->stage = LINK_READY;
	l->deadline = 0;
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->moving == l) {
			ike_sa_moved(sa, l);
			break;
		}
		if (sa->link == l && sa->state == SA_INIT_SENT && sa->req == REQ_NONE) {
			ike_sa_start(sa);
			break;
		}
	}
}

/* ---- responders ---- */

static unsigned int unauthenticated_links(struct ike_daemon *d)
{
	unsigned int n = 0;

	for (struct ike_link *l = d->links; l; l = l->next)
		n += l->type == TRANSPORT_TCP && l->stage != LINK_DEAD && !l->authed;
	return n;
}

static void tcp_accept(struct ike_daemon *d, struct obj *o)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer), llen = sizeof(peer);
	struct ike_link *l;
	int fd;

	fd = accept4(o->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (unauthenticated_links(d) >= d->conf->half_open_max) {
		d->st.tcp_rejected++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: too many unauthenticated TCP connections; refusing one\n");
		close(fd);
		return;
	}
	l = tcp_link_new(d, fd, LINK_PREFIX);
	if (!l) {
		close(fd);
		return;
	}
	d->st.tcp_accepted++;
	l->peer = peer;
	getsockname(fd, (struct sockaddr *)&l->local, &llen);
	l->deadline = d->now + PREFIX_TIMEOUT_MS;
}

static void tcp_prefix(struct ike_daemon *d, struct ike_link *l)
{
	static const char prefix[] = "IKETCP";
	char buf[6];
	ssize_t n = recv(l->fd, buf, 6 - l->prefix_got, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		tcp_link_down(d, l, "closed before IKETCP");
		return;
	}
	if (n < 0)
		return;
	if (memcmp(buf, prefix + l->prefix_got, (size_t)n)) {
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: TCP connection without the IKETCP prefix closed\n");
		tcp_link_down(d, l, "no IKETCP prefix");
		return;
	}
	l->prefix_got += (size_t)n;
	if (l->prefix_got < 6)
		return;
	if (esptcp_attach(l->fd)) {
		tcp_link_down(d, l, "cannot attach esptcp");
		return;
	}
	l->stage = LINK_READY;
	l->deadline = d->now + (uint64_t)d->conf->half_open_timeout_s * 1000;
}

static void tcp_readable(struct ike_daemon *d, struct ike_link *l)
{
	static uint8_t buf[4 + IKE_MAX_MSG];

	for (int i = 0; i < 16 && l->stage == LINK_READY; i++) {
		ssize_t n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			tcp_link_down(d, l, n == 0 ? "end of stream" : strerror(errno));
			return;
		}
		if (n < 4 || buf[0] | buf[1] | buf[2] | buf[3]) {
			d->st.rx_bad++;
			continue;
		}
		ike_link_get(l);
		ike_input(d, l, buf + 4, (size_t)n - 4);
		ike_link_put(d, l);
	}
}

static void udp_readable(struct ike_daemon *d, struct obj *o)
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
		ike_input(d, l, msg, (size_t)n);
		ike_link_put(d, l);
	}
}

static int open_listeners(struct ike_daemon *d)
{
	for (size_t i = 0; i < d->conf->nconns; i++) {
		const struct ike_conn_conf *c = &d->conf->conns[i];
		struct sockaddr_storage a = c->local;
		char buf[64];
		bool have = false;

		if (c->initiator)
			continue;
		set_port(&a, c->udp_port);
		if (!find_udp(&a) && udp_socket(d, &a, c->udp_port == 4500) < 0)
			return -1;
		set_port(&a, 4500);
		if (!find_udp(&a) && udp_socket(d, &a, true) < 0)
			return -1;
		if (!d->nl)
			continue;
		set_port(&a, c->tcp_port);
		for (struct obj *o = objs; o; o = o->next)
			have |= o->kind == OBJ_LISTEN && ss_equal(&o->local, &a);
		if (!have) {
			struct obj *o = calloc(1, sizeof(*o));
			int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			int one = 1;

			if (!o || fd < 0) {
				free(o);
				return -1;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&a, ss_len(&a)) < 0 || listen(fd, 64) < 0 ||
			    ep_add(d, fd, o, EPOLLIN)) {
				fprintf(stderr, "esptcp: TCP %s: %s\n",
					esptcp_addr_str(&a, buf, sizeof(buf)), strerror(errno));
				close(fd);
				free(o);
				return -1;
			}
			o->kind = OBJ_LISTEN;
			o->fd = fd;
			o->local = a;
			o->next = objs;
			objs = o;
			fprintf(stderr, "esptcp: listening on TCP %s\n",
				esptcp_addr_str(&a, buf, sizeof(buf)));
		}
	}
	return 0;
}

static char status_path[256];

static unsigned int child_count(const struct ike_sa *sa)
{
	unsigned int n = 0;

	for (const struct ike_child *c = sa->children; c; c = c->next)
		n++;
	return n;
}

/*
 * The state of each IKE SA for `esptcp show`: one file per helper, named
 * by pid, tagged with the network namespace it serves.
 */
void ike_status_write(struct ike_daemon *d)
{
	char tmp[300], ns[64] = "?";
	ssize_t n;
	FILE *f;

	if (!status_path[0])
		return;
	n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
	ns[n > 0 ? n : 0] = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", status_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "netns %s pid %d\n", ns, (int)getpid());
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->state != SA_ESTABLISHED)
			continue;
		fprintf(f, "ike %s %016llx_i %016llx_r %s %s%s children %u since %llu: %s\n",
			sa->conf->name, (unsigned long long)sa->spi_i,
			(unsigned long long)sa->spi_r, sa->initiator ? "initiator" : "responder",
			sa->link->type == TRANSPORT_TCP ? "tcp" : "udp",
			sa->link->stage == LINK_DEAD ? " (connection lost)" : "",
			child_count(sa),
			(unsigned long long)sa->since, sa->why[0] ? sa->why : "-");
	}
	fclose(f);
	rename(tmp, status_path);
}

static void print_stats(const struct ike_daemon *d)
{
	const struct ike_stats *s = &d->st;

	fprintf(stderr,
		"esptcp: stats rx_msgs %llu tx_msgs %llu rx_bad %llu rx_bad_icv %llu rx_unknown_spi %llu rx_retransmits %llu auth_failed %llu half_open_dropped %llu cookies_sent %llu invalid_ke_sent %llu sa_established %llu child_installed %llu child_rekeyed %llu ike_rekeyed %llu dpd_dead %llu tcp_accepted %llu tcp_rejected %llu fallback_connects %llu moved_to_tcp %llu moved_to_udp %llu tcp_reconnects %llu ike_sa_init_sent %llu\n",
		(unsigned long long)s->rx_msgs, (unsigned long long)s->tx_msgs,
		(unsigned long long)s->rx_bad, (unsigned long long)s->rx_bad_icv,
		(unsigned long long)s->rx_unknown_spi, (unsigned long long)s->rx_retransmits,
		(unsigned long long)s->auth_failed, (unsigned long long)s->half_open_dropped,
		(unsigned long long)s->cookies_sent, (unsigned long long)s->invalid_ke_sent,
		(unsigned long long)s->sa_established, (unsigned long long)s->child_installed,
		(unsigned long long)s->child_rekeyed, (unsigned long long)s->ike_rekeyed,
		(unsigned long long)s->dpd_dead, (unsigned long long)s->tcp_accepted,
		(unsigned long long)s->tcp_rejected, (unsigned long long)s->fallback_connects,
		(unsigned long long)s->moved_to_tcp, (unsigned long long)s->moved_to_udp,
		(unsigned long long)s->tcp_reconnects, (unsigned long long)s->ike_sa_init_sent);
}

static void run_timers(struct ike_daemon *d)
{
	struct ike_link *l, *ln;
	struct ike_sa *sa;

	for (size_t i = 0; i < d->conf->nconns; i++) {
		if (d->restart_at[i] && d->now >= d->restart_at[i]) {
			d->restart_at[i] = 0;
			conn_start(d, &d->conf->conns[i]);
		}
	}
	for (l = d->links; l; l = ln) {
		ln = l->next;
		if (l->type == TRANSPORT_TCP && l->stage != LINK_DEAD && l->closing) {
			tcp_link_down(d, l, l->closing);
			ln = d->links;
			continue;
		}
		if (l->type != TRANSPORT_TCP || l->stage == LINK_DEAD || l->authed ||
		    !l->deadline || d->now < l->deadline)
			continue;
		tcp_link_down(d, l, l->stage == LINK_CONNECTING ? "connect timed out" :
			      "no authenticated IKE in time");
		ln = d->links;	/* restart: the list may have changed */
	}
	/* an SA's timers may free it and others: mark the visited, rescan */
	d->tick++;
	for (;;) {
		for (sa = d->sas; sa && sa->tick == d->tick; sa = sa->next)
			;
		if (!sa)
			break;
		sa->tick = d->tick;
		ike_sa_timers(sa);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: esptcp ike [-v] [--check] CONFIG\n");
}

int esptcp_ike_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ike_daemon d = { 0 };
	struct ike_conf conf;
	struct obj sigobj = { .kind = OBJ_SIGNAL };
	bool need_tcp = false, check = false;
	sigset_t mask;
	int c, n;

	while ((c = getopt_long(argc, argv, "vnh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = true;
			break;
		case 'n':
			check = true;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 1;
		}
	}
	if (optind + 1 != argc) {
		usage();
		return 1;
	}
	if (ike_conf_load(argv[optind], &conf))
		return 1;
	if (check) {
		for (size_t i = 0; i < conf.nconns; i++) {
			const struct ike_conn_conf *k = &conf.conns[i];
			char s1[96], s2[96];

			printf("conn %s: %s over %s, ike %s, esp %s\n", k->name,
			       k->initiator ? "initiator" : "responder",
			       k->initiator ? (k->transport == TRANSPORT_TCP ? "TCP" :
					       k->transport == TRANSPORT_UDP ? "UDP" :
					       "UDP, falling back to TCP") :
			       "TCP and UDP", ike_suite_str(&k->ike[0], true, s1, sizeof(s1)),
			       ike_suite_str(&k->esp[0], false, s2, sizeof(s2)));
		}
		ike_conf_free(&conf);
		return 0;
	}
	d.conf = &conf;
	d.now = mono_ms();
	d.next_reqid = conf.reqid_base + 1;
	d.restart_at = calloc(conf.nconns, sizeof(*d.restart_at));
	d.xfrm = xfrm_open();
	if (!d.restart_at || !d.xfrm) {
		fprintf(stderr, "esptcp: cannot open XFRM netlink: %s\n", strerror(errno));
		free(d.restart_at);
		xfrm_close(d.xfrm);
		ike_conf_free(&conf);
		return 1;
	}
	n = xfrm_flush_owned(d.xfrm, conf.reqid_base, 0xffff0000);
	if (n < 0) {
		fprintf(stderr, "esptcp: reading XFRM state: %s\n", strerror(-n));
		return 1;
	}
	if (n)
		fprintf(stderr, "esptcp: removed %d states and policies left by an earlier run\n", n);
	for (size_t i = 0; i < conf.nconns; i++)
		need_tcp |= !conf.conns[i].initiator || conf.conns[i].transport != TRANSPORT_UDP;
	if (need_tcp) {
		d.nl = esptcp_nl_open();
		if (!d.nl)
			fprintf(stderr, "esptcp: the esptcp module is not loaded: no TCP\n");
	}
	ike_random(d.cookie_secret, sizeof(d.cookie_secret));
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigobj.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d.epfd < 0 || sigobj.fd < 0 || ep_add(&d, sigobj.fd, &sigobj, EPOLLIN) ||
	    open_listeners(&d)) {
		fprintf(stderr, "esptcp: cannot set up sockets\n");
		return 1;
	}
	for (size_t i = 0; i < conf.nconns; i++)
		if (conf.conns[i].initiator)
			d.restart_at[i] = d.now;
	if (mkdir(conf.status_dir, 0755) == 0 || errno == EEXIST)
		snprintf(status_path, sizeof(status_path), "%s/ike-%d.status", conf.status_dir,
			 (int)getpid());
	ike_status_write(&d);
	fprintf(stderr, "esptcp: IKE helper running, %zu conn%s\n", conf.nconns,
		conf.nconns == 1 ? "" : "s");
	while (!d.stopping) {
		struct epoll_event ev[16];
		int k = epoll_wait(d.epfd, ev, 16, TICK_MS);

		d.now = mono_ms();
		for (int i = 0; i < k; i++) {
			int kind = *(int *)ev[i].data.ptr;

			if (kind == OBJ_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sigobj.fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1)
					print_stats(&d);
				else
					d.stopping = true;
			} else if (kind == OBJ_LISTEN) {
				tcp_accept(&d, ev[i].data.ptr);
			} else if (kind == OBJ_UDP) {
				udp_readable(&d, ev[i].data.ptr);
			} else {
				struct ike_link *l = ev[i].data.ptr;

				if (l->stage == LINK_CONNECTING)
					tcp_connected(&d, l);
				else if (l->stage == LINK_PREFIX)
					tcp_prefix(&d, l);
				else if (l->stage == LINK_READY)
					tcp_readable(&d, l);
			}
		}
		run_timers(&d);
	}
	fprintf(stderr, "esptcp: shutting down\n");
	while (d.sas)
		ike_sa_shutdown(d.sas);
	print_stats(&d);
	if (status_path[0])
		unlink(status_path);
	n = xfrm_flush_owned(d.xfrm, conf.reqid_base, 0xffff0000);
	if (n > 0)
		fprintf(stderr, "esptcp: removed %d leftover states and policies\n", n);
	while (d.links) {
		struct ike_link *l = d.links;

		d.links = l->next;
		if (l->type == TRANSPORT_TCP && l->fd >= 0)
			close(l->fd);
		free(l);
	}
	while (objs) {
		struct obj *o = objs;

		objs = o->next;
		close(o->fd);
		free(o);
	}
	if (d.nl)
		esptcp_nl_close(d.nl);
	xfrm_close(d.xfrm);
	free(d.restart_at);
	ike_conf_free(&conf);
	return 0;
}
