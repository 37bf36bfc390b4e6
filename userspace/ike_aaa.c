// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the RADIUS servers of EAP gateways (radius = in a conn).
 * One UDP socket per address family for all of them; each client's EAP
 * relay has at most one Access-Request out, found again by its identifier,
 * the server it went to and its authenticator (ike_radius.c checks the
 * reply).  A request is sent again after 2 s, then after 4 s more; when
 * the third try goes 8 s unanswered the client's login fails.  The
 * NAS-Identifier is the conn's name, so the server can tell conns apart.  The answer goes back to
 * ike_auth.c, which answers the client's IKE_AUTH request that waited.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>

#include "esptcp.h"
#include "ike_sa.h"

#define RADIUS_TRIES		3
#define RADIUS_RETRANSMIT_MS	2000

static struct ike_sock *radius_sock(struct ike_daemon *d, int family)
{
	struct ike_sock **slot = &d->radius[family == AF_INET6];
	struct epoll_event ev = { .events = EPOLLIN };
	struct ike_sock *o;
	int fd;

	if (*slot)
		return *slot;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	o = calloc(1, sizeof(*o));
	if (fd < 0 || !o || esptcp_set_bypass(fd, family)) {
		free(o);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	o->kind = OBJ_RADIUS;
	o->fd = fd;
	ev.data.ptr = o;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(o);
		return NULL;
	}
	*slot = o;
	return o;
}

static int transmit(struct ike_sa *sa)
{
	const struct sockaddr_storage *to = &sa->conf->radius;
	struct ike_sock *o = radius_sock(sa->d, to->ss_family);
	struct ike_rad *r = &sa->eap->rad;

	if (!o)
		return -EIO;
	r->tries++;
	r->next_tx = sa->d->now + ((uint64_t)RADIUS_RETRANSMIT_MS << (r->tries - 1));
	if (sendto(o->fd, r->pkt.p, r->pkt.len, 0, (const struct sockaddr *)to,
		   ike_ss_len(to)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/**
 * ike_aaa_send() - relay the client's EAP message to the conn's RADIUS server
 * @sa: the SA, with sa->eap->rad.eap the message and sa->eap->user the
 *	client's EAP identity
 *
 * Context: daemon thread.
 * Return: 0, or a negative errno (nothing went out).
 */
int ike_aaa_send(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_rad *r = &sa->eap->rad;
	struct ike_radius_req q = {
		.user = sa->eap->user, .nas_id = c->name, .state = r->state,
		.state_len = r->state_len, .eap = r->eap, .eap_len = r->eap_len,
	};
	int err;

	/* an identifier no other relay waits on */
	for (int i = 0; i < 256; i++) {
		bool used = false;

		q.id = sa->d->radius_id++;
		for (struct ike_sa *o = sa->d->sas; o && !used; o = o->next)
			used = o->eap && o->eap->rad.pending && o->eap->rad.id == q.id;
		if (!used)
			break;
		if (i == 255)
			return -EBUSY;
	}
	if (ike_random(q.authenticator, 16))
		return -EIO;
	inet_ntop(sa->init_peer.ss_family, ike_ss_addr(&sa->init_peer), q.calling,
		  sizeof(q.calling));
	ike_buf_free(&r->pkt);
	err = ike_radius_request(&r->pkt, &q, IKE_BYTES(c->radius_secret, c->radius_secret_len));
	if (err)
		return err;
	r->id = q.id;
	memcpy(r->auth, q.authenticator, 16);
	r->tries = 0;
	r->pending = true;
	err = transmit(sa);
	if (err)
		r->pending = false;
	return err;
}

/* a datagram on a RADIUS socket: the reply to one of the pending requests */
static void one_reply(struct ike_daemon *d, const uint8_t *p, size_t n,
		      const struct sockaddr_storage *from)
{
	static struct ike_radius_reply rep;

	if (n < 20)
		return;
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		struct ike_rad *r;

		if (!sa->eap || !sa->eap->rad.pending || sa->eap->rad.id != p[1] ||
		    !ike_ss_same_addr(&sa->conf->radius, from) ||
		    ike_ss_port(&sa->conf->radius) != ike_ss_port(from))
			continue;
		r = &sa->eap->rad;
		ike_sa_touch(sa);
		if (ike_radius_reply(p, n, r->auth, IKE_BYTES(sa->conf->radius_secret,
							    sa->conf->radius_secret_len), &rep)) {
			ike_wipe(&rep, sizeof(rep));
			d->st.radius_bad++;
			if (ike_log_bad(d))
				ike_log(sa, "a RADIUS reply that does not check out dropped");
			return;
		}
		r->pending = false;
		d->st.radius_replies++;
		ike_auth_radius(sa, &rep);
		ike_wipe(&rep, sizeof(rep));
		return;
	}
	d->st.radius_bad++;
}

void ike_aaa_event(struct ike_daemon *d)
{
	static uint8_t buf[RADIUS_MAX];

	for (int f = 0; f < 2; f++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n;

		if (!d->radius[f])
			continue;
		while ((n = recvfrom(d->radius[f]->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen)) >= 0) {
			one_reply(d, buf, (size_t)n, &from);
			flen = sizeof(from);
		}
	}
}

/* an SA's request: sent again, or given up on */
void ike_aaa_timer(struct ike_sa *sa)
{
	struct ike_rad *r = &sa->eap->rad;

	if (!r->pending || sa->d->now < r->next_tx)
		return;
	if (r->tries < RADIUS_TRIES && !transmit(sa))
		return;
	r->pending = false;
	sa->d->st.radius_timeouts++;
	ike_auth_radius(sa, NULL);
}

void ike_aaa_close(struct ike_daemon *d)
{
	for (int f = 0; f < 2; f++) {
		if (!d->radius[f])
			continue;
		close(d->radius[f]->fd);
		free(d->radius[f]);
		d->radius[f] = NULL;
	}
}
