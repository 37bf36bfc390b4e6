// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: "esptcp ike CONFIG", the IKE helper's daemon.  One epoll set
 * holds the TCP listeners (responders), the UDP sockets on 500 and 4500,
 * every TCP connection (ike_link.c) and a signalfd.  This file owns the
 * loop, the start and restart of initiator conns, the status file that
 * `esptcp show` reads and the counters SIGUSR1 prints; what arrives goes to
 * ike_task.c through the link callbacks.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "esptcp.h"
#include "ike_cert.h"
#include "ike_sa.h"
#include "rtnl.h"

#define TICK_MS			IKE_POLL_MS

static char status_path[256];

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_start_tcp(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t instance)
{
	struct ike_link *l = ike_tcp_connect(d, c);
	struct ike_sa *sa;

	if (!l) {
		ike_conn_restart(d, c, instance, d->nl ? c->retry_s : 30, false);
		return;
	}
	sa = ike_sa_initiate(d, c, l);
	if (!sa) {
		ike_link_close(d, l, "out of memory");
		ike_conn_restart(d, c, instance, c->retry_s, false);
		return;
	}
	sa->instance = instance;
	sa->inst_slot = instance != 0;
	ike_link_opened_for(l, sa);
}

/**
 * ike_conn_start() - start an initiator conn's IKE SA
 * @d: the daemon
 * @c: the conn
 * @instance: a load generator's instance (1..instances), or 0
 * @tcp: over TCP whatever the conn's transport (a fallback)
 *
 * On failure the conn (or the instance) starts again after its retry time.
 */
void ike_conn_start(struct ike_daemon *d, const struct ike_conn_conf *c, uint32_t instance,
		    bool tcp)
{
	struct sockaddr_storage local = c->local, peer = c->remote;
	struct ike_link *l;
	struct ike_sa *sa;

	if (tcp || c->transport == TRANSPORT_TCP) {
		conn_start_tcp(d, c, instance);
		return;
	}
	if (c->local_any && ike_route_source(&c->remote, &local)) {
		fprintf(stderr, "esptcp[%s]: no route to the responder; trying again in %u s\n",
			c->name, c->retry_s);
		ike_conn_restart(d, c, instance, c->retry_s, false);
		return;
	}
	ike_ss_set_port(&local, c->udp_port);
	ike_ss_set_port(&peer, c->udp_port);
	l = ike_udp_link(d, &local, &peer, c->udp_port == 4500);
	if (!l) {
		ike_conn_restart(d, c, instance, c->retry_s, false);
		return;
	}
	sa = ike_sa_initiate(d, c, l);
	ike_link_put(d, l);
	if (!sa) {
		ike_conn_restart(d, c, instance, c->retry_s, false);
		return;
	}
	sa->instance = instance;
	sa->inst_slot = instance != 0;
	if (c->transport == TRANSPORT_FALLBACK)
		sa->mob.fallback_at = d->now + c->fallback_ms;
	ike_sa_start(sa);
}

static unsigned int child_count(const struct ike_sa *sa)
{
	unsigned int n = 0;

	for (const struct ike_child *c = sa->children; c; c = c->next)
		n++;
	return n;
}

/* a gateway's status file says how many bytes each lease moved, this fresh */
#define STATUS_LEASE_MS	10000
/*
 * The file has a line per SA: rewritten on every change, 10,000 road
 * warriors coming up would write it 10,000 times over.  It waits this long
 * per SA since the last write (1 ms per 8 SAs: 12 ms for 100, 1.25 s for
 * 10,000), which keeps its cost near 1% of the loop.
 */
#define STATUS_SAS_PER_MS	8

/* a monotonic time in ms, past or future, as wall-clock seconds, for the status file */
static unsigned long long wall_of(const struct ike_daemon *d, uint64_t ms)
{
	uint64_t now = (uint64_t)time(NULL), ago;

	if (ms > d->now)
		return (unsigned long long)(now + (ms - d->now + 999) / 1000);
	ago = (d->now - ms) / 1000;
	return (unsigned long long)(ago < now ? now - ago : 0);
}

/* the lease of a client's SA: address, identity, since, bytes through its CHILD_SAs */
static void status_lease(FILE *f, struct ike_sa *sa)
{
	struct ike_pool *p = &sa->d->pools[sa->conf - sa->d->conf->conns];
	const struct ike_lease *l = ike_pool_lease(p, sa->vip);
	unsigned long long bin = 0, bout = 0;
	char addr[INET6_ADDRSTRLEN] = "?", id[200];

	/* as last read: every STATUS_LEASE_MS, and for `esptcp show` */
	for (const struct ike_child *c = sa->children; c; c = c->next) {
		bin += c->bytes_in;
		bout += c->bytes_out;
	}
	inet_ntop(p->family, sa->vip, addr, sizeof(addr));
	ike_id_text(sa->peer_id[0], sa->peer_id + 4, sa->peer_id_len - 4, id, sizeof(id));
	fprintf(f, "lease %s to %s since %llu bytes in %llu out %llu\n", addr, id,
		l ? wall_of(sa->d, l->since) : 0, bin, bout);
}

struct grace_ctx {
	FILE *f;
	const struct ike_daemon *d;
};

static void grace_one(const struct ike_conn_conf *c, const struct ike_lease *l, const char *a,
		      void *arg)
{
	const struct grace_ctx *g = arg;
	char id[200];

	if (l->users || l->free_at <= g->d->now)
		return;
	ike_id_text(l->id_type, l->id, l->idlen, id, sizeof(id));
	fprintf(g->f, "lease %s to %s conn %s released, kept until %llu\n", a, id, c->name,
		wall_of(g->d, l->free_at));
}

/* leases no SA uses now, kept for their identity until their grace period ends */
static void status_grace(FILE *f, const struct ike_daemon *d)
{
	ike_leases_each(d, grace_one, &(struct grace_ctx){ .f = f, .d = d });
}

/*
 * The state of each IKE SA for `esptcp show`: one file per helper, named
 * by pid, tagged with the network namespace it serves.  A lease follows its
 * SA's line; those kept after their SA went come last.
 */
static void status_write(struct ike_daemon *d)
{
	char tmp[300], ns[64] = "?";
	ssize_t n;
	FILE *f;

	if (!status_path[0])
		return;
	if (d->counts_due) {
		int err = ike_children_counts_read(d);

		d->counts_due = false;
		if (err)
			fprintf(stderr, "esptcp: reading the CHILD_SAs' bytes: %s\n", strerror(-err));
	}
	n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
	ns[n > 0 ? n : 0] = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", status_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "netns %s pid %d\n", ns, (int)getpid());
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		char id[200], addr[64];

		if (sa->state != SA_ESTABLISHED)
			continue;
		ike_id_text(sa->peer_id[0], sa->peer_id + 4, sa->peer_id_len - 4, id, sizeof(id));
		esptcp_addr_str(&sa->link->peer, addr, sizeof(addr));
		fprintf(f, "ike %s %016llx_i %016llx_r %s peer %s at %s %s%s children %u since %llu: %s\n",
			sa->conf->name, (unsigned long long)sa->spi_i,
			(unsigned long long)sa->spi_r, sa->conf->initiator ? "initiator" : "responder",
			id, addr, sa->link->type == TRANSPORT_TCP ? "tcp" : "udp",
			sa->link->stage == LINK_DEAD ? " (connection lost)" : "",
			child_count(sa),
			(unsigned long long)sa->since, sa->why[0] ? sa->why : "-");
		if (sa->eap_user[0]) {
			/* checked printable when it came; the group is the conf's */
			fprintf(f, "eap %s group %s\n", sa->eap_user,
				sa->eap_group[0] ? sa->eap_group : "-");
		}
		if (sa->has_vip)
			status_lease(f, sa);
		if (sa->mob.standby) {
			char l[64], p[64];

			fprintf(f, "standby tcp %s to %s %s\n",
				esptcp_addr_str(&sa->mob.standby->local, l, sizeof(l)),
				esptcp_addr_str(&sa->mob.standby->peer, p, sizeof(p)),
				sa->mob.standby_ok ? "ready" : "opening");
		}
		if (sa->cvip.got) {
			char a[INET6_ADDRSTRLEN] = "?";

			inet_ntop(sa->cvip.family, sa->cvip.addr, a, sizeof(a));
			fprintf(f, "vip %s on %s\n", a, sa->conf->vip_dev);
		}
	}
	status_grace(f, d);
	fclose(f);
	rename(tmp, status_path);
}

static void mapping_event(const struct xfrm_mapping *m, void *data)
{
	ike_mob_mapping(data, m);
}

#define STAT(n)	{ #n, offsetof(struct ike_stats, n) }

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
	STAT(rx_msgs), STAT(tx_msgs), STAT(rx_bad), STAT(rx_bad_icv), STAT(rx_unknown_spi),
	STAT(rx_retransmits), STAT(rx_retransmits_moved), STAT(rx_wrong_path), STAT(auth_failed), STAT(half_open_dropped),
	STAT(cookies_sent), STAT(invalid_ke_sent), STAT(sa_established), STAT(child_installed),
	STAT(child_rekeyed), STAT(ike_rekeyed), STAT(dpd_dead), STAT(tcp_accepted), STAT(tcp_rejected),
	STAT(fallback_connects), STAT(moved_to_tcp), STAT(moved_to_udp), STAT(tcp_reconnects),
	STAT(ike_sa_init_sent), STAT(ts_refused), STAT(rekey_collisions),
	STAT(per_source_dropped), STAT(dpd_sent), STAT(dpd_answered), STAT(info_answered),
	STAT(nat_keepalives), STAT(moved_address), STAT(nat_mappings), STAT(quiet_checks),
	STAT(vip_leased), STAT(vip_exhausted), STAT(updown_failed), STAT(updown_dropped),
	STAT(frag_sent), STAT(frag_received), STAT(radius_replies), STAT(radius_bad),
	STAT(radius_timeouts), STAT(moves_quiet), STAT(moves_esp), STAT(moves_unanswered),
	STAT(moves_standby), STAT(return_checks), STAT(return_failed), STAT(flap_holddowns),
	STAT(standby_up), STAT(standby_lost), STAT(standby_refused), STAT(standby_open),
	STAT(timer_visits),
};

/* SIGUSR1 and exit: one line, "esptcp: stats NAME VALUE ..." */
static void print_stats(const struct ike_daemon *d)
{
	struct mallinfo2 mi = mallinfo2();

	fputs("esptcp: stats", stderr);
	for (size_t i = 0; i < ARRAY_SIZE(stat_fields); i++)
		fprintf(stderr, " %s %llu", stat_fields[i].name,
			*(const unsigned long long *)((const char *)&d->st + stat_fields[i].off));
	/* the heap in use: what the SAs, links and leases cost, without RSS's slack */
	fprintf(stderr, " heap_bytes %zu\n", mi.uordblks + mi.hblkhd);
}

/* SIGUSR2: every established SA rekeys its CHILD_SAs at the next timer pass */
static void rekey_now(struct ike_daemon *d)
{
	fprintf(stderr, "esptcp: rekeying every CHILD_SA now\n");
	for (struct ike_sa *sa = d->sas; sa; sa = sa->next) {
		if (sa->state != SA_ESTABLISHED)
			continue;
		for (struct ike_child *c = sa->children; c; c = c->next)
			if (c->rekey_at != UINT64_MAX)
				c->rekey_at = d->now;
		ike_sa_touch(sa);
	}
}

static void visit_sa(struct ike_timer *t)
{
	ike_sa_timers(ike_timer_owner(t, struct ike_sa, timer));
}

static uint64_t sa_due(const struct ike_timer *t)
{
	return ike_sa_next_due(ike_timer_owner(t, const struct ike_sa, timer));
}

static void run_timers(struct ike_daemon *d)
{
	ike_links_close_due(d);
	/* the SAs that are due, each once; their timers may free them and others */
	d->wake_at = UINT64_MAX;
	ike_timers_run(&d->timers, d->now, visit_sa, sa_due);
	d->st.timer_visits = d->timers.visits;
	ike_wake_at(d, ike_timers_next(&d->timers));
	/* after the SAs: a fallback to TCP starts in the pass that decided it */
	for (size_t i = 0; i < d->conf->nconns; i++) {
		if (d->restart_at[i] && d->now >= d->restart_at[i]) {
			d->restart_at[i] = 0;
			ike_conn_start(d, &d->conf->conns[i], 0, d->restart_tcp[i]);
		}
	}
	ike_instances_run(d);
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
	struct ike_sock sigobj = { .kind = OBJ_SIGNAL }, mapobj = { .kind = OBJ_XFRM };
	struct epoll_event sev = { .events = EPOLLIN };
	bool need_tcp = false, need_rtnl = false, any_vip = false, check = false;
	struct rlimit rl;
	sigset_t mask;
	int c, n;

	while ((c = getopt_long(argc, argv, "vnh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			d.verbose = true;
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
	d.reqids = calloc(1, sizeof(*d.reqids));
	d.link_ops = &ike_task_link_ops;
	d.restart_at = calloc(conf.nconns, sizeof(*d.restart_at));
	d.restart_tcp = calloc(conf.nconns, sizeof(*d.restart_tcp));
	d.tcp_port_at = calloc(conf.nconns, sizeof(*d.tcp_port_at));
	d.pools = calloc(conf.nconns, sizeof(*d.pools));
	for (size_t i = 0; d.pools && i < conf.nconns; i++) {
		const struct ike_conn_conf *c = &conf.conns[i];

		d.pools_any |= c->pool_set;
		/* the configuration check made sure the range is one */
		if (c->pool_set && ike_pool_init(&d.pools[i], c->pool_family, c->pool_first,
						 c->pool_last)) {
			ike_daemon_pools_free(&d);
			break;
		}
	}
	d.xfrm = xfrm_open();
	if (!d.restart_at || !d.restart_tcp || !d.tcp_port_at || !d.reqids || !d.pools ||
	    !d.xfrm) {
		fprintf(stderr, "esptcp: cannot open XFRM netlink: %s\n", strerror(errno));
		ike_daemon_pools_free(&d);
		free(d.restart_at);
		free(d.restart_tcp);
		free(d.tcp_port_at);
		free(d.reqids);
		xfrm_close(d.xfrm);
		ike_conf_free(&conf);
		return 1;
	}
	d.reqids->base = conf.reqid_base;
	n = ike_leases_load(&d);
	if (n < 0)
		fprintf(stderr, "esptcp: lease file %s: %s (starting without it)\n",
			conf.lease_file, strerror(-n));
	n = xfrm_flush_owned(d.xfrm, conf.reqid_base, 0xffff0000);
	if (n < 0) {
		fprintf(stderr, "esptcp: reading XFRM state: %s\n", strerror(-n));
		return 1;
	}
	if (n)
		fprintf(stderr, "esptcp: removed %d states and policies left by an earlier run\n", n);
	for (size_t i = 0; i < conf.nconns; i++) {
		need_tcp |= !conf.conns[i].initiator || conf.conns[i].transport != TRANSPORT_UDP;
		/* updown says which interface leads to the peer */
		need_rtnl |= conf.conns[i].vip || conf.conns[i].updown[0];
		any_vip |= conf.conns[i].vip;
	}
	if (need_rtnl) {
		d.rtnl = rtnl_open();
		if (!d.rtnl)
			fprintf(stderr, "esptcp: no routing netlink (%s): a virtual address cannot"
				" be installed\n", strerror(errno));
		/*
		 * a killed helper's virtual addresses, routes and rule: one
		 * helper with vip = yes a namespace (esptcp.conf(5)); one with
		 * updown only touches none of them
		 */
		n = d.rtnl && any_vip ? rtnl_flush_ours(d.rtnl) : 0;
		if (n > 0)
			fprintf(stderr, "esptcp: removed %d addresses, routes and rules left by an"
				" earlier run\n", n);
		else if (n < 0)
			fprintf(stderr, "esptcp: reading routes and addresses: %s\n", strerror(-n));
	}
	if (need_tcp) {
		d.nl = esptcp_nl_open();
		if (!d.nl)
			fprintf(stderr, "esptcp: the esptcp module is not loaded: no TCP\n");
	}
	/* the buckets of the tables whose keys peers choose (ike_sa.c, ike_link.c, ike_child.c) */
	d.sip = ike_sip_new();
	if (!d.sip) {
		fprintf(stderr, "esptcp: neither SipHash nor HMAC-SHA-256 from OpenSSL for the tables\n");
		return 1;
	}
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.xfrm_map = xfrm_open_mappings();
	if (d.xfrm_map) {
		struct epoll_event mev = { .events = EPOLLIN, .data.ptr = &mapobj };

		mapobj.fd = xfrm_fd(d.xfrm_map);
		if (d.epfd >= 0 && epoll_ctl(d.epfd, EPOLL_CTL_ADD, mapobj.fd, &mev)) {
			xfrm_close(d.xfrm_map);
			d.xfrm_map = NULL;
		}
	}
	if (!d.xfrm_map)
		fprintf(stderr, "esptcp: no NAT mapping events from XFRM (%s): a client's new"
			" NAT port is followed on its next IKE request only\n", strerror(errno));
	/* a gateway's TCP connections (and standbys) are descriptors: all it may have */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigobj.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	sev.data.ptr = &sigobj;
	if (d.epfd < 0 || sigobj.fd < 0 || epoll_ctl(d.epfd, EPOLL_CTL_ADD, sigobj.fd, &sev) ||
	    ike_open_listeners(&d)) {
		fprintf(stderr, "esptcp: cannot set up sockets\n");
		return 1;
	}
	for (size_t i = 0; i < conf.nconns; i++)
		if (conf.conns[i].initiator && conf.conns[i].instances == 1)
			d.restart_at[i] = d.now;
	if (ike_instances_init(&d)) {
		fprintf(stderr, "esptcp: out of memory for the instances\n");
		return 1;
	}
	if (mkdir(conf.status_dir, 0755) == 0 || errno == EEXIST)
		snprintf(status_path, sizeof(status_path), "%s/ike-%d.status", conf.status_dir,
			 (int)getpid());
	status_write(&d);
	fprintf(stderr, "esptcp: IKE helper running, %zu conn%s\n", conf.nconns,
		conf.nconns == 1 ? "" : "s");
	while (!d.stopping) {
		struct epoll_event ev[16];
		uint64_t wait = d.wake_at > d.now ? d.wake_at - d.now : 1;
		int k = epoll_wait(d.epfd, ev, 16, wait < TICK_MS ? (int)wait : TICK_MS);

		d.now = mono_ms();
		for (int i = 0; i < k; i++) {
			int kind = *(int *)ev[i].data.ptr;

			if (kind == OBJ_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sigobj.fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1) {
					/* and the status file gets fresh lease bytes */
					print_stats(&d);
					d.counts_due = d.pools_any;
					d.status_dirty = true;
				} else if (si.ssi_signo == SIGUSR2) {
					rekey_now(&d);
				} else if (si.ssi_signo == SIGHUP) {
					ike_reload(&d, argv[optind]);
				} else if (si.ssi_signo != SIGCHLD) {
					d.stopping = true;
				}
			} else if (kind == OBJ_XFRM) {
				n = xfrm_read_mappings(d.xfrm_map, mapping_event, &d);
				if (n < 0 && n != -ENOBUFS)
					fprintf(stderr, "esptcp: reading NAT mapping events: %s\n",
						strerror(-n));
			} else if (kind == OBJ_LINK) {
				ike_link_event(&d, ev[i].data.ptr);
			} else if (kind == OBJ_RADIUS) {
				ike_aaa_event(&d);
			} else {
				ike_sock_event(&d, ev[i].data.ptr);
			}
		}
		run_timers(&d);
		ike_updown_reap(&d);
		ike_leases_tick(&d, false);
		if (d.pools_any && d.now >= d.status_at) {
			d.status_at = d.now + STATUS_LEASE_MS;
			d.counts_due = true;
			d.status_dirty = true;
		}
		if (d.status_dirty) {
			uint64_t at = d.status_written + d.nsas / STATUS_SAS_PER_MS;

			if (d.now >= at) {
				d.status_dirty = false;
				d.status_written = d.now;
				status_write(&d);
			} else {
				ike_wake_at(&d, at);
			}
		}
	}
	fprintf(stderr, "esptcp: shutting down\n");
	while (d.sas)
		ike_sa_shutdown(d.sas);
	ike_updown_drain(&d, mono_ms);
	ike_aaa_close(&d);
	ike_leases_tick(&d, true);
	print_stats(&d);
	if (status_path[0])
		unlink(status_path);
	n = xfrm_flush_owned(d.xfrm, conf.reqid_base, 0xffff0000);
	if (n > 0)
		fprintf(stderr, "esptcp: removed %d leftover states and policies\n", n);
	ike_links_free(&d);
	ike_instances_free(&d);
	ike_timers_free(&d.timers);
	ike_sa_table_free(&d);
	ike_ts_index_free(&d);
	ike_sip_free(d.sip);
	if (d.nl)
		esptcp_nl_close(d.nl);
	xfrm_close(d.xfrm);
	xfrm_close(d.xfrm_map);
	rtnl_close(d.rtnl);
	ike_daemon_pools_free(&d);
	free(d.restart_at);
	free(d.restart_tcp);
	free(d.tcp_port_at);
	free(d.reqids);
	ike_conf_free(&conf);
	return 0;
}
