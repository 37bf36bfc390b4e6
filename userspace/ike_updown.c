// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the updown script (updown = PATH), run as strongSwan's
 * updown and libreswan's leftupdown are: when a CHILD_SA comes up, when it
 * goes down, and when its IKE SA moves between UDP and TCP or to other
 * addresses, with what it is about in ESPTCP_* environment variables
 * (esptcp.conf(5)).  One script runs at a time, in the order of the events,
 * without holding up the event loop: each starts from the loop, after the
 * event batch that queued it (so an "up" finds the virtual address and its
 * routes in place), when the one before has exited.  A script runs in a
 * process group of its own; one that fails or hangs (the group killed
 * after UPDOWN_TIMEOUT_MS) is logged, and the tunnel stays as it is.  A
 * "down" is never dropped: the queue bound holds back ups and moves only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/wait.h>
#include "esptcp.h"
#include "ike_cert.h"
#include "ike_sa.h"
#include "rtnl.h"

#define UPDOWN_TIMEOUT_MS	30000
#define UPDOWN_DRAIN_MS		60000	/* at exit, for all the scripts left */
#define UPDOWN_QUEUE_MAX	1024	/* events beyond this are dropped, and logged */
#define UPDOWN_ENV_MAX		28

struct ike_updown_job {
	struct ike_updown_job *next;
	char what[96];			/* "up of conn NAME", for the log */
	char verb[8];			/* the script's argument */
	char *path;
	char *env[UPDOWN_ENV_MAX + 1];
};

static void job_free(struct ike_updown_job *j)
{
	for (unsigned int i = 0; i < UPDOWN_ENV_MAX && j->env[i]; i++)
		free(j->env[i]);
	free(j->path);
	free(j);
}

static void env_add(struct ike_updown_job *j, unsigned int *n, const char *name,
		    const char *value)
{
	char *s;

	if (*n >= UPDOWN_ENV_MAX || asprintf(&s, "%s=%s", name, value) < 0)
		return;
	j->env[(*n)++] = s;
}

/* a selector list as "a/n b/m": a shell splits it on spaces */
static void ts_list(const struct ike_ts_set *set, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < set->n && o < len; i++) {
		char a[INET6_ADDRSTRLEN] = "?";
		const struct ike_ts *t = &set->ts[i];

		inet_ntop(t->family, t->start, a, sizeof(a));
		o += (size_t)snprintf(buf + o, len - o, "%s%s/%u", i ? " " : "", a,
				      ike_ts_prefix(t));
	}
}

static void addr_list(int fam, const uint8_t (*a)[16], const uint8_t (*a4)[4], unsigned int n,
		      char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < n && i < IKE_MAX_CFG_DNS && o < len; i++) {
		char s[INET6_ADDRSTRLEN] = "?";

		inet_ntop(fam, fam == AF_INET ? (const void *)a4[i] : (const void *)a[i], s,
			  sizeof(s));
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", s);
	}
}

/* the interface toward the peer, as the kernel routes there now */
static void peer_dev(struct ike_sa *sa, char *buf)
{
	struct rtnl_route rt;

	buf[0] = 0;
	if (sa->d->rtnl && !rtnl_route_get(sa->d->rtnl, sa->link->peer.ss_family,
					   ike_ss_addr(&sa->link->peer), &rt))
		if_indextoname((unsigned int)rt.oif, buf);
}

static void job_env(struct ike_updown_job *j, struct ike_sa *sa, const struct ike_child *c,
		    const char *verb)
{
	const struct ike_conn_conf *conf = sa->conf;
	char buf[640], a[INET6_ADDRSTRLEN] = "", dev[IF_NAMESIZE];
	unsigned int n = 0;

	env_add(j, &n, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_add(j, &n, "ESPTCP_VERB", verb);
	env_add(j, &n, "ESPTCP_CONN", conf->name);
	env_add(j, &n, "ESPTCP_ROLE", conf->initiator ? "initiator" : "responder");
	ike_id_text(sa->peer_id[0], sa->peer_id + 4, sa->peer_id_len - 4, buf, sizeof(buf));
	env_add(j, &n, "ESPTCP_PEER_ID", buf);
	/* a client that logged in with EAP: its user name and the conn's group */
	env_add(j, &n, "ESPTCP_EAP_ID", sa->eap_user);
	env_add(j, &n, "ESPTCP_GROUP", sa->eap_group);
	inet_ntop(sa->link->peer.ss_family, ike_ss_addr(&sa->link->peer), a, sizeof(a));
	env_add(j, &n, "ESPTCP_PEER_ADDR", a);
	inet_ntop(sa->link->local.ss_family, ike_ss_addr(&sa->link->local), a, sizeof(a));
	env_add(j, &n, "ESPTCP_LOCAL_ADDR", a);
	env_add(j, &n, "ESPTCP_TRANSPORT", sa->link->type == TRANSPORT_TCP ? "tcp" : "udp");
	ts_list(&c->lts, buf, sizeof(buf));
	env_add(j, &n, "ESPTCP_LOCAL_TS", buf);
	ts_list(&c->rts, buf, sizeof(buf));
	env_add(j, &n, "ESPTCP_PEER_TS", buf);
	snprintf(buf, sizeof(buf), "0x%08x", ntohl(c->spi_in));
	env_add(j, &n, "ESPTCP_SPI_IN", buf);
	snprintf(buf, sizeof(buf), "0x%08x", ntohl(c->spi_out));
	env_add(j, &n, "ESPTCP_SPI_OUT", buf);
	snprintf(buf, sizeof(buf), "%u", c->reqid);
	env_add(j, &n, "ESPTCP_REQID", buf);
	peer_dev(sa, dev);
	env_add(j, &n, "ESPTCP_INTERFACE", dev);
	a[0] = buf[0] = 0;
	if (sa->cvip.got) {
		/* a client: the address the gateway gave us, and its DNS servers */
		const struct ike_cfg *r = &sa->cvip.cfg;

		inet_ntop(sa->cvip.family, sa->cvip.addr, a, sizeof(a));
		if (sa->cvip.family == AF_INET)
			addr_list(AF_INET, NULL, r->dns4, r->ndns4, buf, sizeof(buf));
		else
			addr_list(AF_INET6, r->dns6, NULL, r->ndns6, buf, sizeof(buf));
		env_add(j, &n, "ESPTCP_VIP_INTERFACE", conf->vip_dev);
	} else if (sa->has_vip) {
		/* a gateway: the address leased to the client, and the DNS servers it got */
		inet_ntop(conf->pool_family, sa->vip, a, sizeof(a));
		if (conf->pool_family == AF_INET)
			addr_list(AF_INET, NULL, conf->dns4, conf->ndns4, buf, sizeof(buf));
		else
			addr_list(AF_INET6, conf->dns6, NULL, conf->ndns6, buf, sizeof(buf));
	}
	env_add(j, &n, "ESPTCP_VIP", a);
	env_add(j, &n, "ESPTCP_DNS", buf);
}

static void start_next(struct ike_daemon *d)
{
	struct ike_updown_job *j = d->updown_queue;
	pid_t pid;

	if (d->updown_pid || !j)
		return;
	d->updown_queue = j->next;
	d->updown_queued--;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { j->path, j->verb, NULL };
		int fd = open("/dev/null", O_RDONLY);
		sigset_t none;

		/* the helper's signals are blocked for its signalfd, SIGPIPE ignored */
		setsid();
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		/* its output goes where the helper's log goes; no other fd of ours */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		close_range(3, ~0U, 0);
		execve(j->path, argv, j->env);
		fprintf(stderr, "esptcp: updown script %s: %s\n", j->path, strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "esptcp: updown script for the %s not run: %s\n", j->what,
			strerror(errno));
	} else {
		d->updown_pid = pid;
		d->updown_started = d->now;
		snprintf(d->updown_what, sizeof(d->updown_what), "%s", j->what);
	}
	job_free(j);
	if (pid < 0)
		start_next(d);
}

/**
 * ike_updown() - run the conn's updown script for a CHILD_SA's event
 * @sa: the SA
 * @c: the CHILD_SA
 * @verb: "up", "down" or "move"
 *
 * The environment is taken now; the script runs when the ones before it
 * have finished.
 *
 * Context: the event loop; forks.
 */
void ike_updown(struct ike_sa *sa, const struct ike_child *c, const char *verb)
{
	struct ike_daemon *d = sa->d;
	struct ike_updown_job *j, **end;

	if (!sa->conf->updown[0])
		return;
	if (d->updown_queued >= UPDOWN_QUEUE_MAX && strcmp(verb, "down")) {
		d->st.updown_dropped++;
		ike_log(sa, "updown script: %u events waiting, this %s is dropped",
			d->updown_queued, verb);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(sa->conf->updown))) {
		free(j);
		d->st.updown_dropped++;
		return;
	}
	snprintf(j->what, sizeof(j->what), "%s of conn %s", verb, sa->conf->name);
	snprintf(j->verb, sizeof(j->verb), "%s", verb);
	job_env(j, sa, c, verb);
	for (end = &d->updown_queue; *end; end = &(*end)->next)
		;
	*end = j;
	d->updown_queued++;
}

static void exited(struct ike_daemon *d, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		d->st.updown_failed++;
		fprintf(stderr, "esptcp: updown script for the %s failed (%s %d); the tunnel stays\n",
			d->updown_what, WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
}

/**
 * ike_updown_reap() - scripts that exited (SIGCHLD), one that ran too long, the next
 * @d: the daemon
 *
 * Never waits: a killed script that does not go at once (stuck in the
 * kernel) is reaped whenever it goes, and the next one starts meanwhile.
 *
 * Context: the event loop, on SIGCHLD and at every tick.
 */
void ike_updown_reap(struct ike_daemon *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == d->updown_pid) {
			d->updown_pid = 0;
			exited(d, status);
		}
	if (d->updown_pid && d->now - d->updown_started >= UPDOWN_TIMEOUT_MS) {
		kill(-d->updown_pid, SIGKILL);
		kill(d->updown_pid, SIGKILL);
		fprintf(stderr, "esptcp: updown script for the %s killed after %d s\n",
			d->updown_what, UPDOWN_TIMEOUT_MS / 1000);
		d->st.updown_failed++;
		d->updown_pid = 0;
	}
	start_next(d);
}

/* at shutdown: the scripts of the last downs run, each within its time, all within UPDOWN_DRAIN_MS */
void ike_updown_drain(struct ike_daemon *d, uint64_t (*now)(void))
{
	uint64_t end = now() + UPDOWN_DRAIN_MS;

	while (d->updown_pid || d->updown_queue) {
		d->now = now();
		if (d->now >= end) {
			if (d->updown_pid)
				kill(-d->updown_pid, SIGKILL);
			fprintf(stderr, "esptcp: updown scripts still running or waiting after %d s: "
				"%u not run\n", UPDOWN_DRAIN_MS / 1000, d->updown_queued);
			while (d->updown_queue) {
				struct ike_updown_job *j = d->updown_queue;

				d->updown_queue = j->next;
				job_free(j);
			}
			d->updown_queued = 0;
			break;
		}
		ike_updown_reap(d);
		if (d->updown_pid)
			usleep(20000);
	}
}
