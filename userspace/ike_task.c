// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the exchange manager.  Every message an SA receives comes
 * through ike_input(): message IDs, retransmitted requests, decryption, a
 * move to the path it came on, then the exchange that handles it.  Timers
 * start the SA's own exchanges.  Links report to it through the callbacks at
 * the end of this file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "esptcp.h"
#include "ike_sa.h"

static void dispatch_request(struct ike_sa *sa, const struct ike_msg *m)
{
	switch (m->hdr.exchange) {
	case IKE_AUTH:
		if (sa->state == SA_HALF_OPEN && !sa->initiator) {
			ike_auth_request(sa, m);
			return;
		}
		break;
	case CREATE_CHILD_SA:
		if (sa->state == SA_ESTABLISHED) {
			ike_create_request(sa, m);
			return;
		}
		if (sa->state == SA_DELETING) {
			/* rekeyed or being deleted: try again on the new one (2.25.2) */
			ike_respond_notify(sa, m->hdr.exchange, m->hdr.msgid, N_TEMPORARY_FAILURE,
					   NULL, 0);
			return;
		}
		break;
	case INFORMATIONAL:
		if (sa->state == SA_ESTABLISHED || sa->state == SA_DELETING) {
			ike_info_request(sa, m);
			return;
		}
		break;
	}
	if (ike_log_bad(sa->d))
		ike_log(sa, "unexpected request (exchange %u) ignored", m->hdr.exchange);
	sa->d->st.rx_bad++;
}

static void dispatch_response(struct ike_sa *sa, const struct ike_msg *m)
{
	enum req_kind kind = sa->req.kind;

	if (m->hdr.exchange == IKE_AUTH && kind == REQ_AUTH)
		ike_auth_response(sa, m);
	else if (m->hdr.exchange == CREATE_CHILD_SA && kind == REQ_REKEY_CHILD)
		ike_rekey_child_response(sa, m);
	else if (m->hdr.exchange == CREATE_CHILD_SA && kind == REQ_REKEY_IKE)
		ike_rekey_ike_response(sa, m);
	else if (m->hdr.exchange == INFORMATIONAL)
		ike_info_response(sa, m);
	else
		sa->d->st.rx_bad++;
}

/**
 * ike_input() - one IKE message from a peer
 * @d: the daemon
 * @link: where it came from (TCP connection, or UDP socket and peer)
 * @msg: the message, without any non-ESP marker
 * @len: its length
 */
void ike_input(struct ike_daemon *d, struct ike_link *link, const uint8_t *msg, size_t len)
{
	struct ike_msg m;
	struct ike_sa *sa;
	bool response, from_init;
	uint8_t *plain = NULL;
	size_t plen;
	int err;

	d->st.rx_msgs++;
	err = ike_parse(&m, msg, len);
	if (err == -EBADMSG || err == -EPROTO) {
		d->st.rx_bad++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: malformed IKE message (%zu bytes) dropped\n", len);
		return;
	}
	response = m.hdr.flags & IKE_FLAG_R;
	from_init = m.hdr.flags & IKE_FLAG_I;
	if (m.hdr.exchange == IKE_SA_INIT) {
		if (err == -ENOTSUP && !response && m.hdr.msgid == 0) {
			uint8_t t = m.unknown_critical;

			/* RFC 7296 2.5: refused, and said why */
			d->st.rx_bad++;
			ike_respond_init_notify(d, link, &m, N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
			return;
		}
		if (err || m.hdr.msgid != 0) {
			d->st.rx_bad++;
			return;
		}
		ike_capture(&m);
		if (!response) {
			if (from_init && !m.hdr.spi_r && m.hdr.spi_i)
				ike_init_request(d, link, &m);
			else
				d->st.rx_bad++;
			return;
		}
		sa = ike_sa_find(d, m.hdr.spi_i, true);
		if (!sa || sa->state != SA_INIT_SENT || from_init || sa->link != link) {
			d->st.rx_unknown_spi++;
			return;
		}
		sa->last_rx = d->now;
		ike_sa_touch(sa);
		ike_init_response(sa, &m);
		return;
	}
	sa = ike_sa_find(d, from_init ? m.hdr.spi_r : m.hdr.spi_i, !from_init);
	if (!sa || (from_init ? m.hdr.spi_i != sa->spi_i : m.hdr.spi_r != sa->spi_r) ||
	    !sa->have_keys) {
		d->st.rx_unknown_spi++;
		if (ike_log_bad(d))
			fprintf(stderr, "esptcp: IKE message for an unknown SA dropped\n");
		return;
	}
	sa->reply_via = NULL;
	ike_sa_touch(sa);
	if (response ? (sa->req.kind == REQ_NONE || m.hdr.msgid + 1 != sa->next_req) :
	    m.hdr.msgid != sa->peer_next) {
		if (!response && m.hdr.msgid + 1 == sa->peer_next && sa->have_last_resp) {
			/*
			 * A retransmission: answered again when it is the very
			 * request we answered (over UDP, or over a new TCP
			 * connection after a move), but never a reason to move:
			 * anyone who saw it could replay it.
			 */
			uint8_t h[32];

			d->st.rx_retransmits++;
			if (ike_sha256(m.raw, m.raw_len, h) || !ike_memeq(h, sa->last_req_hash, 32))
				return;
			if (link->type == TRANSPORT_TCP) {
				if (link != sa->link || sa->last_resp_elsewhere)
					ike_link_send(d, link, sa->last_resp.p, sa->last_resp.len);
			} else if (ike_ss_same_addr(&link->peer, &sa->link->peer)) {
				ike_link_send(d, link, sa->last_resp.p, sa->last_resp.len);
			} else if (sa->mobike) {
				/*
				 * A MOBIKE peer whose address went while the
				 * answer was on its way retransmits from its new
				 * one (RFC 4555), and the answer goes where the
				 * request came from (RFC 7296 2.11).  Anyone who
				 * saw the request could send a copy from a forged
				 * address (one fragment of it is enough): so a
				 * few datagrams per answer only, all fragments
				 * of a fragmented one counted.
				 */
				unsigned int n = ike_link_datagrams(sa->last_resp.p,
								    sa->last_resp.len);

				if (sa->resp_moved_sends + n > IKE_RESP_MOVED_MAX)
					return;
				sa->resp_moved_sends += n;
				d->st.rx_retransmits_moved++;
				ike_link_send(d, link, sa->last_resp.p, sa->last_resp.len);
			}
		}
		return;
	}
	if (!m.sk_off) {
		d->st.rx_bad++;
		return;
	}
	if (m.skf) {
		/* a fragment: kept until the message is whole (RFC 7383) */
		err = ike_frag_input(sa, &m, from_init, &plain, &plen);
		if (err == -EAGAIN) {
			sa->last_rx = d->now;
			return;
		}
	} else {
		err = ike_sk_open(&sa->suite, &sa->keys, from_init, m.raw, m.raw_len, m.sk_off,
				  &plain, &plen);
	}
	if (err) {
		if (err == -EBADMSG)
			d->st.rx_bad_icv++;
		else
			d->st.rx_bad++;
		if (ike_log_bad(d))
			ike_log(sa, "%s; dropped", err == -EBADMSG ?
				"message failed its integrity check" : err == -EPROTO ?
				"a fragment, but fragmentation was not negotiated" :
				"message could not be opened");
		return;
	}
	err = ike_parse_inner(&m, plain, plen);
	if (!err)
		ike_capture(&m);
	sa->last_rx = d->now;
	/* the UDP path's round trip, from cheap exchanges only (no key exchange) */
	if (!err && response && sa->req.kind != REQ_NONE && sa->req.tries == 1 &&
	    m.hdr.exchange == INFORMATIONAL &&
	    link->type == TRANSPORT_UDP && (link == sa->link || link == sa->mob.probe))
		ike_mob_rtt(sa, d->now - sa->req.sent);
	/*
	 * Authenticated, so the peer may move: UDP floats to 4500 or changes
	 * its NAT mapping at any time; TCP reconnects once established.
	 */
	if (response && link != sa->link && link == sa->mob.probe) {
		if (!err && sa->req.kind == REQ_PROBE)
			ike_mob_probe_answered(sa, link, &m);
		goto out;
	} else if (response && link != sa->link && link == sa->mob.standby) {
		if (!err && sa->req.kind == REQ_STANDBY)
			ike_standby_answered(sa, &m);
		goto out;
	} else if (link != sa->link && !err && !response && ike_standby_offer(sa, link, &m)) {
		/* a standby's proof: answered on it, and the SA stays where it is */
		sa->reply_via = link;
	} else if (link != sa->link && !err && ike_mob_may_move(sa, link, &m, response)) {
		ike_mob_switch(sa, link, &m);
	} else if (link != sa->link && !err && !response && sa->mobike &&
		   sa->state == SA_ESTABLISHED && m.hdr.exchange == INFORMATIONAL &&
		   link->type == TRANSPORT_UDP) {
		/*
		 * RFC 4555 3.5: a MOBIKE peer tests a new path with an
		 * INFORMATIONAL from there before it moves (from TCP, the
		 * checks before the way back to UDP); it is answered on that
		 * path, and the SA stays where it is.
		 */
		sa->reply_via = link;
	} else if (link != sa->link) {
		/*
		 * Whole, but on a path this SA may not take: a copy from
		 * another address before AUTH, or an old connection's straggler.
		 */
		d->st.rx_wrong_path++;
		if (sa->state < SA_ESTABLISHED && ike_log_bad(d)) {
			char a[INET6_ADDRSTRLEN + 8];

			ike_log(sa, "a message from %s before AUTH, not from where IKE_SA_INIT "
				"came from; dropped", esptcp_addr_str(&link->peer, a, sizeof(a)));
		}
		goto out;
	}
	if (err) {
		d->st.rx_bad++;
		if (!response) {
			uint8_t t = m.unknown_critical, h[32];
			int sent;

			if (err == -ENOTSUP)
				sent = ike_respond_notify(sa, m.hdr.exchange, m.hdr.msgid,
							  N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
			else
				sent = ike_respond_notify(sa, m.hdr.exchange, m.hdr.msgid,
							  N_INVALID_SYNTAX, NULL, 0);
			/* answered: its retransmission draws the same answer again */
			if (!sent && !ike_sha256(m.raw, m.raw_len, h))
				memcpy(sa->last_req_hash, h, sizeof(h));
		} else {
			sa->req.kind = REQ_NONE;
			sa->req.child = NULL;
			ike_child_drop_pending(sa);
		}
		goto out;
	}
	if (response) {
		dispatch_response(sa, &m);
	} else {
		ike_sha256(m.raw, m.raw_len, sa->last_req_hash);
		dispatch_request(sa, &m);
	}
out:
	ike_msg_free(&m);
}

static void retransmit(struct ike_sa *sa)
{
	sa->req.tries++;
	sa->req.next_tx = ike_now(sa) + ((uint64_t)RETRANSMIT_BASE_MS << (sa->req.tries - 1));
	ike_link_send(sa->d, sa->link, sa->req.msg.p, sa->req.msg.len);
}

/**
 * ike_sa_timers() - whatever is due: timeouts, retransmissions, rekeys, DPD
 * @sa: the SA; it may be freed
 */
void ike_sa_timers(struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	uint64_t t = ike_now(sa), dpd_to = (uint64_t)c->dpd_timeout_s * 1000;

	/* what could not end it where it happened (its callers went on with it) */
	if (sa->die_why) {
		ike_sa_die(sa, sa->die_why, true);
		return;
	}
	/* a client's EAP relayed to RADIUS: sent again, or given up (may end the SA) */
	if (sa->eap && sa->eap->rad.pending && t >= sa->eap->rad.next_tx) {
		ike_aaa_timer(sa);
		return;
	}
	switch (sa->state) {
	case SA_INIT_SENT:
	case SA_AUTH_SENT:
	case SA_HALF_OPEN:
		if (sa->state == SA_INIT_SENT && sa->mob.fallback_at && t >= sa->mob.fallback_at) {
			const struct ike_conn_conf *fc = sa->conf;
			struct ike_daemon *d = sa->d;
			uint32_t instance = sa->instance;

			ike_log(sa, "no answer over UDP in %u ms: trying TCP", fc->fallback_ms);
			d->st.fallback_connects++;
			sa->state = SA_DEAD;
			ike_sa_free(sa);
			ike_conn_restart(d, fc, instance, 0, true);
			return;
		}
		if (t >= sa->expire_at) {
			ike_sa_die(sa, sa->state == SA_HALF_OPEN ? "half-open SA timed out" :
			       "no answer from the responder", true);
			return;
		}
		break;
	case SA_DELETING:
		if (t >= sa->expire_at) {
			ike_children_remove(sa);
			sa->state = SA_DEAD;
			ike_sa_free(sa);
			return;
		}
		break;
	case SA_FAILED:
		if (t >= sa->expire_at) {
			sa->state = SA_DEAD;
			ike_sa_free(sa);
		}
		return;
	default:
		break;
	}
	if (sa->link->stage == LINK_DEAD && sa->state == SA_ESTABLISHED &&
	    t - sa->link->dead_since >= dpd_to) {
		ike_sa_die(sa, "the TCP connection did not come back", true);
		return;
	}
	/* a request resent after a move is answered at once, or never */
	if (sa->req.kind != REQ_NONE && sa->state == SA_ESTABLISHED &&
	    (t - sa->req.sent >= dpd_to || (sa->req.deadline && t >= sa->req.deadline))) {
		sa->d->st.dpd_dead++;
		ike_sa_die(sa, "the peer stopped answering", true);
		return;
	}
	if (ike_mob_timers(sa, t))
		return;
	if (sa->req.kind != REQ_NONE) {
		if (sa->link->type == TRANSPORT_UDP && t >= sa->req.next_tx && sa->req.tries < 8)
			retransmit(sa);
		return;
	}
	if (sa->state != SA_ESTABLISHED || sa->link->stage != LINK_READY)
		return;
	/* either side rekeys on its own lifetimes (collisions: ike_create.c) */
	for (struct ike_child *ch = sa->children; ch; ch = ch->next) {
		if (t >= ch->rekey_at) {
			ike_rekey_child_start(sa, ch, 0);
			return;
		}
	}
	if (t >= sa->rekey_at) {
		ike_rekey_ike_start(sa);
		return;
	}
	if (c->dpd_s && t - sa->last_rx >= (uint64_t)c->dpd_s * 1000)
		ike_info_dpd(sa);
}

/**
 * ike_sa_next_due() - when ike_sa_timers() can next have something to do
 * @sa: the SA, just visited
 *
 * Exact for the SA a gateway holds thousands of: a responder's, established
 * on a working link, no request of ours out, nothing pending; there it is
 * the first of its rekeys, its DPD and its NAT keepalive.  Exact too for
 * a load generator's initiators on TCP alone, whose path checks are
 * once-a-second looks (ike_mob_next_due()).  Anything else (a handshake, a
 * request out, an initiator that can move) is polled each tick, as it
 * always was, or sooner where it asked (ike_wake()); a change from outside
 * its timers touches it (ike_sa_touch()).
 *
 * Return: a time in ms, on the loop's clock.
 */
uint64_t ike_sa_next_due(const struct ike_sa *sa)
{
	const struct ike_conn_conf *c = sa->conf;
	const struct ike_link *l = sa->link;
	uint64_t t = ike_now(sa), due;

	if (sa->die_why)
		return t;	/* ended at once */
	if ((sa->eap && sa->eap->rad.pending) || sa->state != SA_ESTABLISHED ||
	    l->stage != LINK_READY || sa->req.kind != REQ_NONE || sa->mob.overlap)
		return t + IKE_POLL_MS;
	due = sa->rekey_at;
	if (c->initiator && !ike_mob_next_due(sa, &due))
		return t + IKE_POLL_MS;
	for (const struct ike_child *ch = sa->children; ch; ch = ch->next)
		if (ch->rekey_at < due)
			due = ch->rekey_at;
	if (c->dpd_s && sa->last_rx + (uint64_t)c->dpd_s * 1000 < due)
		due = sa->last_rx + (uint64_t)c->dpd_s * 1000;
	/* nat_keepalive() sets the first one at the first visit */
	if (c->keepalive_s && l->type == TRANSPORT_UDP && l->marker && sa->nat_here &&
	    (sa->mob.keepalive_at ? sa->mob.keepalive_at : t) < due)
		due = sa->mob.keepalive_at ? sa->mob.keepalive_at : t;
	/* due and not done (a DPD that could not be sealed): tried each tick */
	return due > t ? due : t + IKE_POLL_MS;
}

/* on exit: tell the peer, remove what we installed */
void ike_sa_shutdown(struct ike_sa *sa)
{
	if (sa->state == SA_ESTABLISHED && sa->link->stage == LINK_READY) {
		sa->req.kind = REQ_NONE;
		ike_info_delete(sa, PROTO_IKE, NULL, 0, REQ_DELETE_IKE);
	}
	ike_child_drop_pending(sa);
	ike_children_remove(sa);
	sa->state = SA_DEAD;
	ike_sa_free(sa);
}

/* ---- what links report ---- */

/* a connection of ours is up: true when @sa waited for it */
static bool ready_for(struct ike_sa *sa, struct ike_link *l)
{
	if (sa->mob.moving == l || sa->mob.standby == l || sa->link == l)
		ike_sa_touch(sa);
	if (sa->mob.moving == l) {
		ike_mob_connected(sa, l);
		return true;
	}
	if (sa->mob.standby == l) {
		ike_standby_ready(sa, l);
		return true;
	}
	if (sa->link == l && sa->state == SA_INIT_SENT && sa->req.kind == REQ_NONE) {
		ike_sa_start(sa);
		return true;
	}
	return false;
}

/*
 * The SA the connection was opened for first, found by its SPI in O(1): a
 * load generator opens thousands.  Any other SA only when that one does not
 * wait for it any more (an IKE rekey moved what it waited for, say).
 */
static void link_ready(struct ike_daemon *d, struct ike_link *l)
{
	struct ike_sa *sa = l->opener_spi ? ike_sa_find(d, l->opener_spi, l->opener_initiator) :
					    NULL;

	if (sa && ready_for(sa, l))
		return;
	for (sa = d->sas; sa; sa = sa->next)
		if (ready_for(sa, l))
			return;
	/* the SA it was opened for is gone: closed after this event batch */
	ike_link_close_soon(d, l, "no IKE SA waits for it");
}

static void link_down(struct ike_daemon *d, struct ike_link *l, const char *why)
{
again:
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->mob.moving == l || sa->mob.standby == l || sa->link == l)
			ike_sa_touch(sa);
		if (sa->mob.moving == l) {
			ike_mob_connect_failed(sa, why);
			goto again;
		}
		if (sa->mob.standby == l) {
			ike_standby_down(sa, why);
			goto again;
		}
		if (sa->link == l && !sa->mob.down_seen) {
			sa->mob.down_seen = true;
			ike_mob_link_down(sa);
			goto again;	/* the list may have changed */
		}
	}
}

const struct ike_link_ops ike_task_link_ops = {
	.recv = ike_input,
	.ready = link_ready,
	.down = link_down,
};
