// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: an IKE SA's transport: UDP with TCP fallback (RFC 9329),
 * moving established SAs between UDP and TCP, TCP reconnects by the TCP
 * originator, and the MOBIKE probe back to UDP (RFC 4555).  Its state is
 * struct ike_mob; it acts from the SA's timers and on authenticated input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "esptcp.h"
#include "ike_sa.h"

#define OVERLAP_MS		2000	/* back on UDP: inbound ESP still taken from TCP */
#define FLAP_WINDOW_MS		60000	/* back on UDP less than this, failing again: a flap */
#define FLAP_RESET_MS		600000	/* this long on UDP forgets the flaps */
#define HOLD_MAX_MS		600000	/* the longest hold-down on TCP */
#define CHECK_RTO_MIN_MS	150	/* a path check's shortest wait for its answer */
#define STANDBY_ANSWER_MS	3000	/* moved over the standby: its answer by then */
#define ESP_IDLE_LOOK_MS	250	/* an idle tunnel's counters: read this often */

/*
 * The peer's address (or its NAT's port) changed: every CHILD_SA's states
 * and policies follow, by XFRM_MSG_MIGRATE, before anything is sent or
 * bound there.  The NAT flags are the new path's already.
 */
static void migrate_children(struct ike_sa *sa, struct ike_link *from, bool nat_here,
			     bool nat_there)
{
	bool nh = sa->nat_here, nt = sa->nat_there;
	struct ike_link *to = sa->link;

	for (struct ike_child *c = sa->children; c; c = c->next) {
		struct xfrm_child o = { 0 }, n = { 0 };
		bool done = false;
		int err;

		/*
		 * One migrate per reqid: its policies are the twins' too.  The
		 * kernel moves the first state it finds of the reqid; during a
		 * rekey's overlap the other twin can stay on the old address
		 * until it is deleted.
		 */
		for (struct ike_child *p = sa->children; p != c; p = p->next)
			done |= p->installed && p->reqid == c->reqid;
		if (!c->installed || done)
			continue;
		sa->link = from;
		sa->nat_here = nat_here;
		sa->nat_there = nat_there;
		ike_child_xfrm(sa, c, &o);
		sa->link = to;
		sa->nat_here = nh;
		sa->nat_there = nt;
		ike_child_xfrm(sa, c, &n);
		err = xfrm_migrate_child(sa->d->xfrm, &o, &n);
		if (err)
			ike_log(sa, "moving CHILD_SA 0x%08x to the new address failed: %s",
				ntohl(c->spi_in), strerror(-err));
	}
}

/* does a move from one link to the other change the CHILD_SAs' outer header? */
static bool outer_changes(const struct ike_sa *sa, const struct ike_link *from,
			  const struct ike_link *to)
{
	if (!ike_ss_same_addr(&from->peer, &to->peer) ||
	    !ike_ss_same_addr(&from->local, &to->local))
		return true;
	/* ESP in UDP: the ports are in the states too */
	return from->type == TRANSPORT_UDP && to->type == TRANSPORT_UDP &&
	       (sa->nat_here || sa->nat_there) &&
	       ike_ss_port(&from->peer) != ike_ss_port(&to->peer);
}

static void switch_path(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m,
			bool moved, bool nat_here, bool nat_there);

/*
 * Back on UDP from @tcp: outbound ESP left it already; inbound ESP is still
 * taken from it for OVERLAP_MS, so that what the peer sent before it moved
 * arrives (the replay window, 128 packets, absorbs the reordering).  Then
 * it is the standby, or it closes (overlap_end()).
 */
/* the overlap's connection let go of, its bindings as they are */
static void overlap_release(struct ike_sa *sa)
{
	if (sa->mob.overlap) {
		ike_link_put(sa->d, sa->mob.overlap);
		sa->mob.overlap = NULL;
	}
}

static void back_on_udp(struct ike_sa *sa, struct ike_link *tcp)
{
	overlap_release(sa);
	ike_link_get(tcp);
	sa->mob.overlap = tcp;
	sa->mob.overlap_until = ike_now(sa) + OVERLAP_MS;
	sa->mob.udp_since = ike_now(sa);
	sa->mob.return_ok = 0;
	ike_standby_keep(sa, tcp);
}

static void overlap_end(struct ike_sa *sa)
{
	struct ike_link *l = sa->mob.overlap;

	sa->mob.overlap = NULL;
	if (sa->link->type == TRANSPORT_UDP)
		for (struct ike_child *c = sa->children; c; c = c->next)
			if (c->installed)
				ike_child_unbind(sa->d, sa, c, true);
	/* the last reference but the loop's closes it, unless it is the standby */
	ike_link_put(sa->d, l);
}

/*
 * An initiator moved to TCP: it tries UDP again after udp-probe, doubled
 * for each time it fell back within FLAP_WINDOW_MS of coming back (up to
 * HOLD_MAX_MS), so a path that works only now and then does not flap.
 */
static void hold_down(struct ike_sa *sa)
{
	uint64_t t = ike_now(sa), hold;

	if (!sa->conf || !sa->conf->initiator)
		return;
	if (sa->mob.udp_since && t - sa->mob.udp_since < FLAP_WINDOW_MS) {
		if (sa->mob.flaps < 6)
			sa->mob.flaps++;
		sa->d->st.flap_holddowns++;
	}
	hold = ((uint64_t)sa->conf->probe_s * 1000) << sa->mob.flaps;
	if (hold > HOLD_MAX_MS)
		hold = HOLD_MAX_MS;
	sa->mob.probe_at = t + hold;
	sa->mob.return_ok = 0;
	if (sa->mob.flaps)
		ike_log(sa, "fell back to TCP %u time%s soon after returning: UDP is tried "
			"again in %llu s", sa->mob.flaps, sa->mob.flaps == 1 ? "" : "s",
			(unsigned long long)(hold / 1000));
}

/**
 * ike_mob_switch() - an authenticated message came over another path: move there
 * @sa: the SA
 * @link: the path
 * @m: the message (its NAT_DETECTION notifications, when it is an
 *	UPDATE_SA_ADDRESSES), or NULL
 *
 * To TCP, the CHILD_SAs are bound to the new connection (a bind moves them
 * off the old one); from TCP to UDP they are unbound, so xfrm sends them
 * itself.  A new address or NAT port is migrated in the kernel first.
 */
void ike_mob_switch(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m)
{
	bool nat_here = sa->nat_here, nat_there = sa->nat_there;
	bool moved = sa->state == SA_ESTABLISHED && outer_changes(sa, sa->link, link);

	if (m && ike_find_notify(m, N_UPDATE_SA_ADDRESSES))
		ike_nat_check(sa, m, link);
	switch_path(sa, link, m, moved, nat_here, nat_there);
}

/*
 * The move itself; the NAT flags are the new path's already, @nat_here and
 * @nat_there the old one's, and @moved says whether the outer header changes.
 */
static void switch_path(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m,
			bool moved, bool nat_here, bool nat_there)
{
	struct ike_link *old = sa->link;
	bool was_tcp = old->type == TRANSPORT_TCP;

	ike_link_get(link);
	sa->link = link;
	if (sa->mob.standby == link) {
		/* onto the standby: it is the path now */
		struct ike_link *s = ike_standby_take(sa);

		if (s)
			ike_link_put(sa->d, s);
	}
	if (link->type == TRANSPORT_TCP) {
		ike_standby_drop(sa, "the SA moved to another TCP connection");
		overlap_release(sa);
	}
	if (moved) {
		char why[120], buf[64];

		migrate_children(sa, old, nat_here, nat_there);
		sa->d->st.moved_address++;
		/*
		 * Who made the new path: an initiator's new local address is
		 * its own move (a MOBIKE probe, or a TCP reconnect from it,
		 * whatever port it reaches the responder on); a responder
		 * only follows its peer
		 */
		if (sa->mob.addr_probe ||
		    (sa->conf->initiator && !ike_ss_same_addr(&old->local, &link->local)))
			snprintf(why, sizeof(why), "moved to our new address %s%s",
				 esptcp_addr_str(&link->local, buf, sizeof(buf)),
				 sa->mob.addr_probe ? " (MOBIKE)" : "");
		else
			snprintf(why, sizeof(why), "the peer moved to %s%s",
				 esptcp_addr_str(&link->peer, buf, sizeof(buf)),
				 link->type == TRANSPORT_UDP && m &&
				 ike_find_notify(m, N_UPDATE_SA_ADDRESSES) ?
				 " (MOBIKE)" : link->type == TRANSPORT_UDP ? " (NAT mapping)" : "");
		ike_sa_transition(sa, why);
	}
	sa->mob.down_seen = false;
	sa->mob.reconnects = 0;
	sa->mob.esp_stall_since = 0;
	sa->mob.esp_gap_ms = 0;
	sa->mob.esp_probe = false;
	ike_link_authed(link);
	for (struct ike_child *c = sa->children; c; c = c->next) {
		if (!c->installed)
			continue;
		if (link->type == TRANSPORT_TCP)
			ike_child_bind(sa->d, sa, c);
		else if (was_tcp)
			ike_child_unbind(sa->d, sa, c, false);
	}
	if (was_tcp && link->type == TRANSPORT_UDP && sa->state == SA_ESTABLISHED)
		back_on_udp(sa, old);
	else if (!was_tcp && link->type == TRANSPORT_TCP && sa->state == SA_ESTABLISHED)
		hold_down(sa);
	if (sa->state == SA_ESTABLISHED && (was_tcp || link->type == TRANSPORT_TCP)) {
		char why[96];

		if (link->type == TRANSPORT_TCP)
			sa->d->st.moved_to_tcp++;
		else
			sa->d->st.moved_to_udp++;
		snprintf(why, sizeof(why), "now on %s (%s)",
			 link->type == TRANSPORT_TCP ? "TCP" : "UDP",
			 link->type == TRANSPORT_TCP ? (was_tcp ? "the initiator reconnected" :
			 "UDP path lost") : "UDP works again");
		ike_sa_transition(sa, why);
	}
	/* ended at the next timer pass: the callers still use it */
	if (moved && ike_vip_moved(sa))
		ike_sa_set_dying(sa, "the virtual address's routes cannot follow the move");
	if (sa->state == SA_ESTABLISHED && (moved || was_tcp != (link->type == TRANSPORT_TCP)))
		for (struct ike_child *c = sa->children; c; c = c->next)
			if (c->announced)
				ike_updown(sa, c, "move");
	if (link->type == TRANSPORT_TCP && was_tcp && !sa->conf->initiator &&
	    sa->req.kind != REQ_NONE) {
		/*
		 * Our own request (DPD, a rekey) went out on the connection that
		 * broke: it goes again on the new one (RFC 9329 7.2), whose
		 * answer counts, and the peer has the whole timeout for it.
		 */
		sa->req.sent = ike_now(sa);
		ike_link_send(sa->d, link, sa->req.msg.p, sa->req.msg.len);
	}
	ike_link_put(sa->d, old);
}

/* the MOBIKE probe came back over UDP: UDP works, go back to it */
void ike_mob_probe_answered(struct ike_sa *sa, struct ike_link *link, const struct ike_msg *m)
{
	struct ike_link *tcp = sa->link;

	sa->req.kind = REQ_NONE;
	if (sa->mob.return_check) {
		/* one more answered check on the way back; the move waits for enough */
		sa->mob.return_check = false;
		sa->mob.return_ok++;
		sa->d->st.return_checks++;
		sa->mob.probe_at = ike_now(sa) + 1000;
		ike_link_put(sa->d, sa->mob.probe);
		sa->mob.probe = NULL;
		return;
	}
	ike_link_get(tcp);
	if (sa->mob.addr_probe) {
		/* our new address: the answer's NAT_DETECTION says what the path is */
		bool nat_here = sa->nat_here, nat_there = sa->nat_there;
		bool moved = outer_changes(sa, sa->link, link);
		uint16_t err;

		if (ike_first_error(m, &err)) {
			sa->mob.addr_probe = false;
			/* UNACCEPTABLE_ADDRESSES and the like (RFC 4555 3.5): stay */
			ike_log(sa, "the peer refused our new address (notify %u)", err);
			ike_link_put(sa->d, sa->mob.probe);
			sa->mob.probe = NULL;
			ike_link_put(sa->d, tcp);
			return;
		}
		if (!ike_nat_check(sa, m, link)) {
			sa->nat_here = nat_here;
			sa->nat_there = nat_there;
		} else if ((nat_here || nat_there) && !sa->nat_here && !sa->nat_there) {
			/* the states stay in UDP (see send_update()), and so do we */
			sa->nat_here = true;
		}
		switch_path(sa, link, NULL, moved, nat_here, nat_there);
		sa->mob.addr_probe = false;
	} else {
		ike_mob_switch(sa, link, NULL);
	}
	ike_link_put(sa->d, sa->mob.probe);
	sa->mob.probe = NULL;
	/* the TCP connection stays for the overlap, and then as the standby or not */
	ike_link_put(sa->d, tcp);
}

/* is this request one that may move the SA to the path it came on? */
bool ike_mob_may_move(const struct ike_sa *sa, const struct ike_link *link,
		      const struct ike_msg *m, bool response)
{
	if (link->type == sa->link->type && link->type == TRANSPORT_UDP) {
		/*
		 * Before AUTH only the float from 500 to 4500, from the address
		 * IKE_SA_INIT came from (its port may change behind a NAT).
		 */
		if (sa->state != SA_ESTABLISHED)
			return link->marker && !sa->link->marker &&
			       ike_ss_same_addr(&link->peer, &sa->init_peer);
		if (response || !link->marker)
			return false;
		/* a new address: MOBIKE's UPDATE_SA_ADDRESSES (RFC 4555), tunnel mode */
		if (sa->mobike && sa->conf->tunnel && ike_find_notify(m, N_UPDATE_SA_ADDRESSES))
			return true;
		/* the peer's NAT gave it a new port (RFC 7296 2.23) */
		return sa->nat_there && ike_ss_same_addr(&link->peer, &sa->link->peer);
	}
	if (link->type == sa->link->type)
		return sa->state == SA_ESTABLISHED && !response;
	if (sa->state != SA_ESTABLISHED || response)
		return false;
	/* UDP to TCP: any authenticated request (RFC 9329); back: MOBIKE only */
	return link->type == TRANSPORT_TCP ||
	       (sa->mobike && ike_find_notify(m, N_UPDATE_SA_ADDRESSES));
}

/**
 * ike_mob_mapping() - the kernel saw a CHILD_SA's ESP come from a new NAT port
 * @d: the daemon
 * @m: the XFRM_MSG_MAPPING, for one of the inbound states
 *
 * RFC 7296 2.23: a host that is not behind a NAT follows its peer's NAT to
 * the port of a validated packet; the kernel reports the mapping after the
 * packet's ICV check and the first replay check (the window is updated only
 * after it).  As for IKE
 * requests (ike_mob_may_move()), only the port of a peer behind a NAT may
 * change this way, over UDP; a new address is MOBIKE's to announce, and on
 * TCP the connection is the path.  The IKE SA moves too, so that its own
 * requests reach the peer.
 *
 * Context: the event loop, with the mapping socket readable.
 */
void ike_mob_mapping(struct ike_daemon *d, const struct xfrm_mapping *m)
{
	struct sockaddr_storage peer;
	struct ike_child *c = ike_child_installed_find(d, m->spi, m->reqid);
	struct ike_sa *sa = c ? c->sa : NULL;
	struct ike_link *link;

	if (!sa || sa->state != SA_ESTABLISHED || sa->link->type != TRANSPORT_UDP ||
	    !sa->link->marker || !sa->nat_there || sa->nat_here ||
	    sa->link->peer.ss_family != m->family)
		return;
	if (memcmp(ike_ss_addr(&sa->link->peer), m->new_addr, ike_ss_alen(&sa->link->peer)) ||
	    m->new_port == ike_ss_port(&sa->link->peer) || !m->new_port)
		return;
	peer = sa->link->peer;
	ike_ss_set_port(&peer, m->new_port);
	link = ike_udp_link(d, &sa->link->local, &peer, true);
	if (!link)
		return;
	d->st.nat_mappings++;
	ike_sa_touch(sa);
	ike_mob_switch(sa, link, NULL);
	ike_link_put(d, link);
}

/* the TCP connection closed under an established SA */
void ike_mob_link_down(struct ike_sa *sa)
{
	if (sa->state == SA_DELETING || sa->state == SA_FAILED) {
		/* replaced by a rekey (its successor handles the connection), or refused */
		sa->state = SA_DEAD;
		ike_sa_free(sa);
		return;
	}
	if (sa->state != SA_ESTABLISHED) {
		ike_sa_die(sa, "the TCP connection closed during setup", true);
		return;
	}
	if (sa->conf && sa->conf->initiator) {
		/* RFC 9329 section 6: the originator reconnects; same IKE SA */
		sa->mob.reconnect_at = ike_now(sa);
		ike_sa_transition(sa, "TCP connection lost; reconnecting");
		return;
	}
	ike_sa_transition(sa, "TCP connection lost; waiting for the initiator to reconnect");
}

/*
 * To TCP: over the warm standby when there is one (a bind and one message),
 * else over a new connection (ike_mob_connected() when it is up).
 */
static void move_to_tcp(struct ike_sa *sa, const char *why, uint64_t *reason)
{
	struct ike_link *l;
	char msg[140];

	if (sa->mob.moving)
		return;
	if (sa->link->type == TRANSPORT_UDP && sa->link->stage == LINK_READY) {
		l = ike_standby_take(sa);
		if (l) {
			snprintf(msg, sizeof(msg), "moving to TCP over the standby connection: %s",
				 why);
			ike_sa_transition(sa, msg);
			sa->d->st.moves_standby++;
			if (reason)
				(*reason)++;
			sa->mob.moving = l;
			sa->mob.standby_move_at = ike_now(sa);
			ike_mob_connected(sa, l);
			return;
		}
	}
	/* one not proved yet would be a second connection beside the new one */
	ike_standby_drop(sa, "a new TCP connection replaces it");
	l = ike_tcp_connect(sa->d, sa->conf);
	if (!l) {
		sa->mob.reconnect_at = ike_now(sa) +
				       (1000u << (sa->mob.reconnects < 5 ? sa->mob.reconnects : 5));
		sa->mob.reconnects++;
		return;
	}
	if (reason)
		(*reason)++;
	ike_link_get(l);
	sa->mob.moving = l;
	ike_link_opened_for(l, sa);
	if (sa->link->type == TRANSPORT_UDP) {
		snprintf(msg, sizeof(msg), "moving to TCP: %s", why);
		ike_sa_transition(sa, msg);
	}
}

/* an empty INFORMATIONAL: the peer moves on its authentication */
static void send_resync(struct ike_sa *sa)
{
	struct ike_out o;

	sa->mob.resync_needed = false;
	ike_out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	if (!ike_out_request(sa, &o, REQ_RESYNC))
		sa->req.deadline = ike_now(sa) + 10000;
}

/* the new TCP connection is up: bind the CHILD_SAs to it and say so to the peer */
void ike_mob_connected(struct ike_sa *sa, struct ike_link *l)
{
	struct ike_link *m = sa->mob.moving;

	sa->mob.moving = NULL;
	if (sa->link->type == TRANSPORT_TCP)
		sa->d->st.tcp_reconnects++;
	/* the SA's reference first: a proved connection with none left would close */
	ike_mob_switch(sa, l, NULL);
	ike_link_put(sa->d, m);
	if (sa->mob.probe) {
		ike_link_put(sa->d, sa->mob.probe);
		sa->mob.probe = NULL;
	}
	if (sa->req.kind != REQ_NONE) {
		/*
		 * The unanswered request goes again, on the new connection;
		 * the peer answers it there but moves only for a fresh
		 * request, which follows once this one is answered.
		 */
		if (!sa->req.deadline)
			sa->req.deadline = ike_now(sa) + 10000;
		sa->mob.resync_needed = true;
		if (sa->req.kind == REQ_PROBE)
			sa->req.kind = REQ_RESYNC;
		sa->mob.addr_probe = false;
		ike_link_send(sa->d, sa->link, sa->req.msg.p, sa->req.msg.len);
	} else {
		send_resync(sa);
	}
	ike_status_changed(sa->d);
}

void ike_mob_connect_failed(struct ike_sa *sa, const char *why)
{
	unsigned int backoff = 1000u << (sa->mob.reconnects < 5 ? sa->mob.reconnects : 5);

	ike_link_put(sa->d, sa->mob.moving);
	sa->mob.moving = NULL;
	sa->mob.reconnects++;
	sa->mob.reconnect_at = ike_now(sa) + backoff;
	ike_log(sa, "TCP connection failed (%s); trying again in %u ms", why, backoff);
}

/**
 * ike_mob_rtt() - a round trip over the SA's UDP path, for the path checks
 * @sa: the SA
 * @sample: ms from a request (sent once) to its answer
 *
 * Smoothed as RFC 6298 does for TCP's retransmission timer.
 */
void ike_mob_rtt(struct ike_sa *sa, uint64_t sample)
{
	unsigned int r = sample < 60000 ? (unsigned int)sample : 60000;

	if (!sa->mob.srtt_ms && !sa->mob.rttvar_ms) {
		sa->mob.srtt_ms = r ? r : 1;
		sa->mob.rttvar_ms = r / 2;
		return;
	}
	sa->mob.rttvar_ms = (3 * sa->mob.rttvar_ms +
			     (sa->mob.srtt_ms > r ? sa->mob.srtt_ms - r : r - sa->mob.srtt_ms)) / 4;
	sa->mob.srtt_ms = (7 * sa->mob.srtt_ms + r) / 8;
	if (!sa->mob.srtt_ms)
		sa->mob.srtt_ms = 1;
}

/*
 * How long a path check waits for its answer: the round trip and four
 * times its variation, at least CHECK_RTO_MIN_MS, at most udp-timeout; a
 * copy goes at half of it, in case one datagram was lost.
 */
static unsigned int check_rto(const struct ike_sa *sa)
{
	unsigned int rto = sa->mob.srtt_ms + 4 * sa->mob.rttvar_ms;
	unsigned int max = sa->conf->udp_timeout_ms;

	if (!sa->mob.srtt_ms)
		rto = max / 2;
	if (rto < CHECK_RTO_MIN_MS)
		rto = CHECK_RTO_MIN_MS;
	return rto < max ? rto : max;
}

/*
 * Is inbound ESP arriving?  The packet counters of every CHILD_SA, summed,
 * every third of udp-quiet (at least every 10 ms, at most 250 ms) while ESP
 * goes out, every ESP_IDLE_LOOK_MS once none did for a second.  ESP
 * going out with none coming in for udp-quiet sends a path check at once:
 * an empty INFORMATIONAL over UDP, answered within check_rto() or the SA
 * moves to TCP (ike_mob_timers()).  A one-way flow gets no replies, so an
 * answered check lets the flow be, and while it stays one-way the next
 * check waits twice as long, up to 10 s.  Plain ESP (protocol 50) is
 * another path than IKE's UDP, which a firewall may pass while it drops
 * ESP: there an answered check proves nothing of ESP, and ESP quiet for
 * all of udp-timeout moves the SA anyway.
 */
static void esp_watch(struct ike_sa *sa, uint64_t t)
{
	const struct ike_conn_conf *c = sa->conf;
	unsigned int quiet = c->udp_quiet_ms, step = quiet / 3, wait;
	struct xfrm_counts cin, cout;
	uint64_t in = 0, out = 0;
	bool any = false, was_idle;

	if (t < sa->mob.esp_check_at) {
		ike_wake(sa, sa->mob.esp_check_at);
		return;
	}
	step = step < 10 ? 10 : step > 250 ? 250 : step;
	sa->mob.esp_check_at = t + step;
	for (const struct ike_child *ch = sa->children; ch; ch = ch->next) {
		if (!ch->installed || ike_child_counts(sa, ch, &cin, &cout))
			continue;
		in += cin.packets;
		out += cout.packets;
		any = true;
	}
	if (!any)
		return;
	/* nothing out for a second and no stall: an idle tunnel is looked at less often */
	if (out != sa->mob.esp_out)
		sa->mob.esp_out_at = t;
	was_idle = sa->mob.esp_idle;
	sa->mob.esp_idle = t - sa->mob.esp_out_at >= 1000 && !sa->mob.esp_stall_since;
	if (sa->mob.esp_idle)
		sa->mob.esp_check_at = t + ESP_IDLE_LOOK_MS;
	ike_wake(sa, sa->mob.esp_check_at);
	if (in != sa->mob.esp_in || out == sa->mob.esp_out) {
		/* something came in, or nothing went out: no evidence of a dead path */
		if (in != sa->mob.esp_in) {
			sa->mob.esp_stall_since = 0;
			sa->mob.esp_gap_ms = 0;
		}
		sa->mob.esp_calm_at = t;
	} else if (!sa->mob.esp_stall_since) {
		/*
		 * Quiet since the last look that saw ESP come in, or none go
		 * out; after an idle spell, from now (that look was long ago)
		 */
		sa->mob.esp_stall_since = sa->mob.esp_calm_at && !was_idle ? sa->mob.esp_calm_at : t;
	}
	sa->mob.esp_in = in;
	sa->mob.esp_out = out;
	if (!sa->mob.esp_stall_since)
		return;
	if (!ike_child_esp_in_udp(sa) && c->udp_timeout_ms &&
	    t - sa->mob.esp_stall_since >= c->udp_timeout_ms) {
		char why[96];

		snprintf(why, sizeof(why), "no inbound ESP for %u ms while sending",
			 c->udp_timeout_ms);
		move_to_tcp(sa, why, &sa->d->st.moves_esp);
		return;
	}
	wait = quiet > sa->mob.esp_gap_ms ? quiet : sa->mob.esp_gap_ms;
	if (t - sa->mob.esp_stall_since >= wait && sa->req.kind == REQ_NONE) {
		sa->d->st.quiet_checks++;
		sa->mob.esp_probe = true;
		ike_info_dpd(sa);
		ike_wake(sa, t + check_rto(sa) / 2);
	}
}

/* a liveness check was answered: if it was esp_watch()'s, the path works */
void ike_mob_dpd_answered(struct ike_sa *sa)
{
	if (!sa->mob.esp_probe)
		return;
	sa->mob.esp_probe = false;
	/* started again, from now, by the next look that sees ESP go out and none come in */
	sa->mob.esp_stall_since = 0;
	sa->mob.esp_calm_at = ike_now(sa);
	sa->mob.esp_gap_ms = sa->mob.esp_gap_ms ? sa->mob.esp_gap_ms * 2 : sa->conf->udp_timeout_ms;
	if (sa->mob.esp_gap_ms > 10000)
		sa->mob.esp_gap_ms = 10000;
}

/*
 * UPDATE_SA_ADDRESSES's notifications, for a request from @local to @peer.
 * Migrate cannot take UDP encapsulation away: states in ESP-in-UDP stay so,
 * and a source hash of no address of ours tells the peer to keep its side
 * encapsulated too (as strongSwan's encap = yes does).
 */
static void put_update(struct ike_sa *sa, struct ike_out *o, const struct sockaddr_storage *local,
		       const struct sockaddr_storage *peer, bool addr_change)
{
	uint8_t h[20];

	ike_pl_notify(&o->c, 0, NULL, 0, N_UPDATE_SA_ADDRESSES, NULL, 0);
	if ((addr_change && (sa->nat_here || sa->nat_there)) || sa->conf->encap_force) {
		struct sockaddr_storage none = *local;

		ike_ss_set_port(&none, 0);
		if (!ike_nat_hash(sa->spi_i, sa->spi_r, &none, h))
			ike_pl_notify(&o->c, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	} else if (!ike_nat_hash(sa->spi_i, sa->spi_r, local, h)) {
		ike_pl_notify(&o->c, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	}
	if (!ike_nat_hash(sa->spi_i, sa->spi_r, peer, h))
		ike_pl_notify(&o->c, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

/*
 * UPDATE_SA_ADDRESSES over UDP 4500 from @local to @peer (RFC 4555): on TCP,
 * whether UDP works again; on UDP, our new address.  The SA moves when the
 * answer comes back on that path (ike_mob_probe_answered()).  With @check,
 * an empty INFORMATIONAL instead, which the peer answers on that path
 * without moving: one of the checks UDP must pass before the move back.
 */
static void send_update(struct ike_sa *sa, struct sockaddr_storage local,
			struct sockaddr_storage peer, bool addr_change, bool check)
{
	struct ike_out o;

	ike_ss_set_port(&local, 4500);
	/* the port the peer floated to, or 4500 */
	if (!addr_change || !sa->link->marker)
		ike_ss_set_port(&peer, 4500);
	sa->mob.addr_probe = false;
	if (sa->mob.probe)
		ike_link_put(sa->d, sa->mob.probe);
	sa->mob.probe = ike_udp_link(sa->d, &local, &peer, true);
	if (!sa->mob.probe)
		return;
	ike_out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	if (!check)
		put_update(sa, &o, &local, &peer, addr_change);
	if (ike_out_seal(sa, &o)) {
		ike_buf_free(&o.b);
		ike_link_put(sa->d, sa->mob.probe);
		sa->mob.probe = NULL;
		return;
	}
	sa->mob.addr_probe = addr_change;
	sa->mob.return_check = check;
	ike_send_request_via(sa, REQ_PROBE, &o.b, sa->mob.probe);
	sa->req.next_tx = ike_now(sa) + (addr_change ? 1000 : 500);
}

/*
 * On TCP with MOBIKE: does UDP 4500 work again?  It must answer
 * udp-return-checks requests a second apart before the SA moves back: the
 * last is UPDATE_SA_ADDRESSES, the others empty INFORMATIONALs.
 */
static void send_probe(struct ike_sa *sa)
{
	struct sockaddr_storage local = sa->conf->local;

	if (sa->conf->local_any && ike_route_source(&sa->conf->remote, &local))
		return;
	send_update(sa, local, sa->conf->remote, false, sa->mob.esptcp_peer &&
		    sa->mob.return_ok + 1 < sa->conf->return_checks);
}

/*
 * RFC 4555 as the initiator, once a second on UDP: routing now sends from
 * another address of ours (the old one went, or, with local = %any, routing
 * prefers another): UPDATE_SA_ADDRESSES from there, and the SA moves on its
 * answer.  A request in flight finishes first (window size 1).
 */
static bool addr_check(struct ike_sa *sa, uint64_t t)
{
	struct sockaddr_storage src;

	if (t < sa->mob.addr_check_at || sa->link->stage != LINK_READY || sa->mob.moving)
		return false;
	sa->mob.addr_check_at = t + 1000;
	if (sa->link->type == TRANSPORT_TCP) {
		/*
		 * A connection from an address we no longer have can only
		 * time out: with local = %any, reconnect (RFC 9329 section 6,
		 * from wherever routing says); the responder follows the
		 * reconnect to the new address.
		 */
		if (sa->conf->local_any && !sa->link->closing &&
		    !ike_addr_present(&sa->link->local)) {
			ike_link_close_soon(sa->d, sa->link, "our address is gone");
			return true;
		}
		return false;
	}
	if (!sa->mobike || !sa->conf->tunnel || sa->req.kind != REQ_NONE)
		return false;
	if (ike_route_source(&sa->link->peer, &src) || ike_ss_same_addr(&src, &sa->link->local))
		return false;
	if (!sa->conf->local_any && ike_addr_present(&sa->link->local))
		return false;
	send_update(sa, src, sa->link->peer, true, false);
	return sa->mob.probe != NULL;
}

/*
 * Behind a NAT on UDP 4500, a one-byte 0xff every keepalive interval keeps
 * the mapping open (RFC 3948 section 2.3) whatever else is sent; never over
 * TCP (RFC 9329 section 6), and not when the NAT is only the peer's.
 */
static void nat_keepalive(struct ike_sa *sa, uint64_t t)
{
	static const uint8_t ka = 0xff;
	const struct ike_link *l = sa->link;

	if (!sa->conf->keepalive_s || l->type != TRANSPORT_UDP || !l->marker || !sa->nat_here)
		return;
	if (!sa->mob.keepalive_at)
		sa->mob.keepalive_at = t + (uint64_t)sa->conf->keepalive_s * 1000;
	if (t < sa->mob.keepalive_at)
		return;
	sa->mob.keepalive_at = t + (uint64_t)sa->conf->keepalive_s * 1000;
	if (!ike_link_send_raw(sa->d, l, &ka, 1))
		sa->d->st.nat_keepalives++;
}

/* the overlap after a move back, on either side; an SA going away ends it */
static void overlap_tick(struct ike_sa *sa, uint64_t t)
{
	if (!sa->mob.overlap)
		return;
	if (t >= sa->mob.overlap_until)
		overlap_end(sa);
	else
		ike_wake(sa, sa->mob.overlap_until);
}

/*
 * A path check (esp_watch()) out over UDP: a copy at half its time, and the
 * move when neither is answered in time.  True while it is out.
 */
static bool check_tick(struct ike_sa *sa, uint64_t t)
{
	unsigned int rto = check_rto(sa);
	char why[96];

	if (sa->req.kind != REQ_DPD || !sa->mob.esp_probe)
		return false;
	if (t - sa->req.sent >= rto) {
		snprintf(why, sizeof(why), "no inbound ESP, and no answer to a path check in %u ms",
			 rto);
		move_to_tcp(sa, why, &sa->d->st.moves_quiet);
		return true;
	}
	if (sa->req.tries == 1 && t - sa->req.sent >= rto / 2) {
		/* a lost datagram is no dead path: one copy (no RTT sample then) */
		sa->req.tries++;
		ike_link_send(sa->d, sa->link, sa->req.msg.p, sa->req.msg.len);
	}
	ike_wake(sa, sa->req.sent + (sa->req.tries == 1 ? rto / 2 : rto));
	return true;
}

/* the initiator's transport duties; true when it did something */
bool ike_mob_timers(struct ike_sa *sa, uint64_t t)
{
	const struct ike_conn_conf *c = sa->conf;

	overlap_tick(sa, t);
	if (sa->state == SA_ESTABLISHED)
		nat_keepalive(sa, t);
	if (!c->initiator || sa->state != SA_ESTABLISHED)
		return false;
	if (sa->link->stage == LINK_DEAD) {
		if (!sa->mob.moving && t >= sa->mob.reconnect_at)
			move_to_tcp(sa, "TCP connection lost", NULL);
		return true;
	}
	if (sa->mob.standby_move_at && (sa->link->type != TRANSPORT_TCP ||
					 sa->req.kind == REQ_NONE)) {
		sa->mob.standby_move_at = 0;	/* answered there: it worked */
	} else if (sa->mob.standby_move_at && t - sa->mob.standby_move_at >= STANDBY_ANSWER_MS) {
		/*
		 * The standby died with the UDP path (keepalives are slow to
		 * tell): a new connection, as if it had broken, and the request
		 * goes again there with a deadline of its own.
		 */
		sa->mob.standby_move_at = 0;
		sa->req.deadline = 0;
		if (!sa->link->closing)
			ike_link_close_soon(sa->d, sa->link, "no answer over the standby connection");
		return true;
	}
	ike_standby_tick(sa, t);
	if (sa->req.kind == REQ_STANDBY)
		return true;	/* its answer comes on the standby connection */
	if (sa->req.kind == REQ_PROBE && sa->mob.addr_probe) {
		/*
		 * Only the new path is tried, again after 1, 2, 4 ... 16 s; with
		 * no answer the SA dies at dpd-timeout like a dead peer's.
		 */
		if (t >= sa->req.next_tx) {
			unsigned int k = sa->req.tries < 4 ? sa->req.tries : 4;

			sa->req.tries++;
			sa->req.next_tx = t + (1000u << k);
			ike_link_send(sa->d, sa->mob.probe, sa->req.msg.p, sa->req.msg.len);
		}
		return true;
	}
	if (sa->req.kind == REQ_PROBE) {
		if (t - sa->req.sent >= c->udp_timeout_ms) {
			/* no answer over UDP: the same request goes over TCP */
			ike_link_put(sa->d, sa->mob.probe);
			sa->mob.probe = NULL;
			sa->req.kind = REQ_RESYNC;
			sa->req.sent = t;
			sa->d->st.return_failed++;
			sa->mob.return_ok = 0;
			sa->mob.return_check = false;
			sa->mob.probe_at = t + (uint64_t)c->probe_s * 1000;
			ike_link_send(sa->d, sa->link, sa->req.msg.p, sa->req.msg.len);
		} else if (t >= sa->req.next_tx) {
			sa->req.next_tx = t + 500;
			sa->req.tries++;	/* an answer to a copy is no RTT sample */
			ike_link_send(sa->d, sa->mob.probe, sa->req.msg.p, sa->req.msg.len);
		}
		return true;
	}
	if (sa->mob.resync_needed && sa->req.kind == REQ_NONE) {
		send_resync(sa);
		return true;
	}
	if (sa->cvip.got && t >= sa->mob.route_check_at && !sa->mob.moving) {
		sa->mob.route_check_at = t + 1000;
		if (ike_vip_follow(sa))
			ike_sa_set_dying(sa, "the virtual address's routes cannot follow the new next hop");
	}
	if (addr_check(sa, t))
		return true;
	if (c->transport != TRANSPORT_FALLBACK)
		return false;
	if (sa->mob.esp_probe && sa->req.kind != REQ_DPD)
		sa->mob.esp_probe = false;	/* the check ended unanswered in some other way */
	if (sa->link->type == TRANSPORT_UDP) {
		if (sa->mob.moving)
			return true;
		if (t < sa->mob.reconnect_at)
			return false;
		if (sa->mob.flaps && t - sa->mob.udp_since >= FLAP_RESET_MS)
			sa->mob.flaps = 0;
		if (check_tick(sa, t))
			return true;
		if (!sa->mob.rtt_probed && sa->req.kind == REQ_NONE && c->udp_timeout_ms) {
			/*
			 * One empty INFORMATIONAL once up: the path's round trip
			 * without IKE_SA_INIT's key exchange in it, for check_rto()
			 */
			sa->mob.rtt_probed = true;
			ike_info_dpd(sa);
			return true;
		}
		if (sa->req.kind != REQ_NONE && t - sa->req.sent >= c->udp_timeout_ms) {
			char why[64];

			snprintf(why, sizeof(why), "no answer over UDP for %u ms", c->udp_timeout_ms);
			move_to_tcp(sa, why, &sa->d->st.moves_unanswered);
			return sa->mob.moving != NULL;
		}
		if (c->udp_timeout_ms)
			esp_watch(sa, t);
		return sa->mob.moving != NULL;
	}
	if (sa->mobike && c->probe_s && !sa->mob.created_nat && sa->req.kind == REQ_NONE) {
		if (!sa->mob.probe_at)
			sa->mob.probe_at = t + (uint64_t)c->probe_s * 1000;
		if (t >= sa->mob.probe_at) {
			sa->mob.probe_at = t + (uint64_t)c->probe_s * 1000;
			send_probe(sa);
			return true;
		}
	}
	return false;
}

/**
 * ike_mob_next_due() - when an initiator's transport duties next fall due
 * @sa: an established initiator's SA on a ready link, no request of ours out
 * @due: the earliest time found so far, lowered to this file's own
 *
 * Exact only where nothing moves: a TCP connection its conn never leaves
 * (not transport = fallback), no move, standby, probe, resync or overlap.
 * There ike_mob_timers() does no more than look at our address (local =
 * %any) and at a virtual address's next hop, each once a second; a load
 * generator's thousands of initiators are such SAs.
 *
 * Context: ike_sa_next_due(), after a visit.
 * Return: false when the SA is to be polled each tick instead.
 */
bool ike_mob_next_due(const struct ike_sa *sa, uint64_t *due)
{
	const struct ike_mob *m = &sa->mob;

	if (sa->link->type != TRANSPORT_TCP || sa->conf->transport == TRANSPORT_FALLBACK ||
	    m->moving || m->standby || m->standby_move_at || m->probe || m->resync_needed ||
	    m->overlap)
		return false;
	if (sa->conf->local_any && m->addr_check_at < *due)
		*due = m->addr_check_at;
	if (ike_vip_may_follow(sa) && m->route_check_at < *due)
		*due = m->route_check_at;
	return true;
}

/* an SA going away: what this file holds for it */
void ike_mob_free(struct ike_sa *sa)
{
	ike_standby_drop(sa, "its IKE SA is gone");
	overlap_release(sa);
}

/* an IKE SA rekeyed (or lost a collision): the SA that takes its children takes this too */
void ike_mob_inherit(struct ike_sa *sa, struct ike_sa *old)
{
	if (!sa->mob.standby && old->mob.standby) {
		sa->mob.standby = old->mob.standby;
		sa->mob.standby_ok = old->mob.standby_ok;
		old->mob.standby = NULL;
		old->mob.standby_ok = false;
	}
	if (!sa->mob.overlap && old->mob.overlap) {
		sa->mob.overlap = old->mob.overlap;
		sa->mob.overlap_until = old->mob.overlap_until;
		old->mob.overlap = NULL;
	}
	sa->mob.standby_offered |= old->mob.standby_offered;
	sa->mob.esptcp_peer |= old->mob.esptcp_peer;
	if (!sa->mob.srtt_ms) {
		sa->mob.srtt_ms = old->mob.srtt_ms;
		sa->mob.rttvar_ms = old->mob.rttvar_ms;
		sa->mob.rtt_probed = old->mob.rtt_probed;
	}
	if (!sa->mob.udp_since) {
		sa->mob.flaps = old->mob.flaps;
		sa->mob.udp_since = old->mob.udp_since;
		sa->mob.probe_at = old->mob.probe_at;
	}
}
