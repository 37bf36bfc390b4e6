// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the warm standby TCP connection (make before break).
 *
 * A client on udp-fallback-tcp whose gateway takes one keeps a TCP
 * connection open beside the UDP path: "IKETCP" sent, the ULP attached,
 * proved by one INFORMATIONAL carrying ESPTCP_TCP_STANDBY (a private-use
 * notify, RFC 7296 3.10.1) that the gateway answers on that connection
 * without moving the SA, then idle but for TCP keepalives.  When UDP dies,
 * the move is a bind and one message (ike_mobility.c), not a handshake and
 * an exchange.  A standby that breaks is opened again with back-off.
 *
 * The gateway keeps at most one per IKE SA (a new one replaces the old) and
 * standby-max in all; over that, or with tcp-standby = no, it answers the
 * proof without the notify and closes the connection.  Only the SA's own
 * authenticated peer can attach one: the proof is a fresh, encrypted
 * request of the SA.  After a move back to UDP, both sides keep the TCP
 * connection they used as the standby.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "esptcp.h"
#include "ike_sa.h"

#define STANDBY_PROOF_MS	2000	/* the proof's answer, on the connection */
#define STANDBY_BACKOFF_MAX_MS	60000

/* an initiator that keeps one: on udp-fallback-tcp, with a gateway that takes one */
bool ike_standby_wanted(const struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;

	return c && c->initiator && c->standby && c->transport == TRANSPORT_FALLBACK &&
	       sa->mob.standby_offered && sa->d->nl;
}

/*
 * TCP keepalives every keepalive interval, three unanswered ones ending
 * the connection: it stays known good (and a NAT or firewall keeps its
 * state) with no IKE traffic on it.
 */
static void set_keepalive(struct ike_link *l, const struct ike_conn_conf *c)
{
	int on = c->keepalive_s ? 1 : 0, idle = (int)c->keepalive_s, cnt = 3;

	if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) || !on)
		return;
	setsockopt(l->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(l->fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	setsockopt(l->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void standby_set(struct ike_sa *sa, struct ike_link *l, bool ok)
{
	ike_link_get(l);
	sa->mob.standby = l;
	sa->mob.standby_ok = ok;
	sa->d->st.standby_open++;
	if (ok)
		set_keepalive(l, sa->conf);
	ike_status_changed(sa->d);
}

/**
 * ike_standby_take() - the proved standby connection, for a move to TCP
 * @sa: the SA
 *
 * Return: the connection, whose reference passes to the caller, or NULL
 * when there is none ready.
 */
struct ike_link *ike_standby_take(struct ike_sa *sa)
{
	struct ike_link *l = sa->mob.standby;

	if (!l || !sa->mob.standby_ok || l->stage != LINK_READY)
		return NULL;
	sa->mob.standby = NULL;
	sa->mob.standby_ok = false;
	sa->d->st.standby_open--;
	ike_status_changed(sa->d);
	return l;
}

/* close it, for this reason (logged when it was ever proved) */
void ike_standby_drop(struct ike_sa *sa, const char *why)
{
	struct ike_link *l = sa->mob.standby;

	if (!l)
		return;
	if (sa->mob.standby_ok)
		ike_log(sa, "standby TCP connection closed: %s", why);
	sa->mob.standby = NULL;
	sa->mob.standby_ok = false;
	sa->d->st.standby_open--;
	/*
	 * Closed here when only the loop holds it besides us (an overlap or
	 * the SA's path keeps it open, and closes it when done); on purpose,
	 * so no reason to try the conn's next TCP port.
	 */
	if (l->stage != LINK_DEAD && !l->closing && l != sa->link && l->refs <= 2) {
		l->conn = NULL;
		ike_link_close_soon(sa->d, l, why);
	}
	ike_link_put(sa->d, l);
	ike_status_changed(sa->d);
}

static void backoff(struct ike_sa *sa)
{
	unsigned int k = sa->mob.standby_fails < 6 ? sa->mob.standby_fails : 6;
	uint64_t ms = 1000ull << k;
	uint32_t r = 0;

	sa->mob.standby_fails++;
	if (ms > STANDBY_BACKOFF_MAX_MS)
		ms = STANDBY_BACKOFF_MAX_MS;
	/* up to half again, so that a gateway's clients do not come back at once */
	ike_random(&r, sizeof(r));
	sa->mob.standby_at = ike_now(sa) + ms + r % (ms / 2 + 1);
}

/*
 * The proof went unanswered, or its connection broke first: the request
 * (its message ID is spent) goes on over the SA's own path as a liveness
 * check, where the peer answers it, or retransmits its answer.
 */
static void proof_to_udp(struct ike_sa *sa)
{
	uint64_t t = ike_now(sa);

	if (sa->req.kind != REQ_STANDBY)
		return;
	sa->req.kind = REQ_DPD;
	sa->req.sent = t;
	sa->req.tries = 2;	/* no round-trip sample from it */
	sa->req.next_tx = t + RETRANSMIT_BASE_MS;
	ike_link_send(sa->d, sa->link, sa->req.msg.p, sa->req.msg.len);
}

static void prove(struct ike_sa *sa)
{
	struct ike_out o;

	ike_out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	ike_pl_notify(&o.c, 0, NULL, 0, N_ESPTCP_TCP_STANDBY, NULL, 0);
	if (ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		return;
	}
	ike_send_request_via(sa, REQ_STANDBY, &o.b, sa->mob.standby);
}

/**
 * ike_standby_tick() - an initiator's standby: open, prove, time out, reopen
 * @sa: an established SA
 * @t: now
 *
 * Only while the SA is on UDP; on TCP there is nothing to stand by for.
 */
void ike_standby_tick(struct ike_sa *sa, uint64_t t)
{
	struct ike_link *l = sa->mob.standby;

	if (sa->req.kind == REQ_STANDBY && t - sa->req.sent >= STANDBY_PROOF_MS) {
		ike_log(sa, "standby TCP connection: no answer on it in %u ms",
			STANDBY_PROOF_MS);
		ike_standby_drop(sa, "its proof was not answered");
		proof_to_udp(sa);
		backoff(sa);
		return;
	}
	if (sa->link->type != TRANSPORT_UDP || sa->mob.moving)
		return;
	if (!ike_standby_wanted(sa)) {
		if (l)
			ike_standby_drop(sa, "no longer wanted");
		return;
	}
	if (!l) {
		if (t < sa->mob.standby_at)
			return;
		l = ike_tcp_connect(sa->d, sa->conf);
		if (!l) {
			backoff(sa);
			return;
		}
		standby_set(sa, l, false);
		ike_link_opened_for(l, sa);
		return;
	}
	if (!sa->mob.standby_ok && l->stage == LINK_READY && sa->req.kind == REQ_NONE)
		prove(sa);
}

/* our standby connection is up ("IKETCP" and the ULP): prove it now if we may */
void ike_standby_ready(struct ike_sa *sa, struct ike_link *l)
{
	if (sa->link->type != TRANSPORT_UDP || sa->mob.moving) {
		ike_standby_drop(sa, "the SA left UDP meanwhile");
		return;
	}
	set_keepalive(l, sa->conf);
	if (sa->req.kind == REQ_NONE)
		prove(sa);
}

/* the answer to the proof came on the standby connection */
void ike_standby_answered(struct ike_sa *sa, const struct ike_msg *m)
{
	char a[64];

	sa->req.kind = REQ_NONE;
	if (!ike_find_notify(m, N_ESPTCP_TCP_STANDBY)) {
		sa->d->st.standby_refused++;
		ike_log(sa, "the gateway refused a standby TCP connection");
		ike_standby_drop(sa, "refused by the gateway");
		/* it may be full: ask again, but not soon */
		sa->mob.standby_fails = sa->mob.standby_fails < 4 ? 4 : sa->mob.standby_fails;
		backoff(sa);
		return;
	}
	sa->mob.standby_ok = true;
	sa->mob.standby_fails = 0;
	ike_link_authed(sa->mob.standby);
	sa->d->st.standby_up++;
	ike_log(sa, "standby TCP connection ready (from %s)",
		esptcp_addr_str(&sa->mob.standby->local, a, sizeof(a)));
	ike_status_changed(sa->d);
}

/* its connection closed (either role) */
void ike_standby_down(struct ike_sa *sa, const char *why)
{
	bool ok = sa->mob.standby_ok;

	if (ok)
		sa->d->st.standby_lost++;
	sa->mob.standby_ok = false;	/* dropped without a second line */
	if (ok || sa->conf->initiator)
		ike_log(sa, "standby TCP connection lost: %s", why);
	ike_standby_drop(sa, why);
	if (sa->conf->initiator) {
		proof_to_udp(sa);
		backoff(sa);
	}
}

/**
 * ike_standby_offer() - a gateway's side: is this request a standby's proof?
 * @sa: the SA it is for (authenticated, a fresh message ID)
 * @link: the TCP connection it came on, not the SA's path
 * @m: the request
 *
 * A proof is answered on its connection and never moves the SA.  Accepted,
 * the connection becomes the SA's standby (replacing an older one) and the
 * answer carries the notify back (ike_info_request()); refused, the answer
 * goes without it and the connection is closed after it.
 *
 * Return: true when it is a proof (accepted or not).
 */
bool ike_standby_offer(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m)
{
	struct ike_daemon *d = sa->d;
	char a[64];

	if (m->hdr.exchange != INFORMATIONAL || link->type != TRANSPORT_TCP ||
	    sa->state != SA_ESTABLISHED || !sa->conf || sa->conf->initiator ||
	    !ike_find_notify(m, N_ESPTCP_TCP_STANDBY))
		return false;
	if (sa->mob.standby == link) {
		sa->mob.standby_ack = true;
		return true;
	}
	if (!sa->conf->standby || !d->nl ||
	    d->st.standby_open - (sa->mob.standby ? 1 : 0) >= d->conf->standby_max) {
		d->st.standby_refused++;
		if (ike_log_bad(d))
			ike_log(sa, "standby TCP connection from %s refused: %s",
				esptcp_addr_str(&link->peer, a, sizeof(a)), sa->conf->standby ?
				"standby-max reached" : "tcp-standby = no");
		if (!link->closing)
			ike_link_close_soon(sa->d, link, "standby connection refused");
		return true;
	}
	ike_standby_drop(sa, "replaced by a new standby connection");
	standby_set(sa, link, true);
	ike_link_authed(link);
	sa->mob.standby_ack = true;
	d->st.standby_up++;
	ike_log(sa, "standby TCP connection from %s kept",
		esptcp_addr_str(&link->peer, a, sizeof(a)));
	return true;
}

/**
 * ike_standby_keep() - after a move back to UDP, keep the connection left
 * @sa: the SA, on UDP now
 * @l: the TCP connection it used
 *
 * It has carried the SA's messages: no proof needed.  A gateway keeps it
 * within its limits; an initiator keeps it when it keeps a standby at all.
 */
void ike_standby_keep(struct ike_sa *sa, struct ike_link *l)
{
	const struct ike_conn_conf *c = sa->conf;
	struct ike_daemon *d = sa->d;

	if (sa->mob.standby || l->type != TRANSPORT_TCP || l->stage != LINK_READY ||
	    l->closing || !c)
		return;
	/* a gateway: only for a client that said it keeps one */
	if (c->initiator ? !ike_standby_wanted(sa) :
	    !sa->mob.standby_offered || !c->standby ||
	    d->st.standby_open >= d->conf->standby_max)
		return;
	standby_set(sa, l, true);
	ike_log(sa, "the TCP connection stays as the standby");
}
