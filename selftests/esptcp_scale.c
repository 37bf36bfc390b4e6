// SPDX-License-Identifier: GPL-2.0
/*
 * The bench's "scale" rows (make bench, case scale; not a pass/fail test).
 * For each count N given, in a network namespace of its own:
 *
 *   bringup   N connected sockets on loopback attached and given an inbound
 *             and an outbound SA each (the module's side of N TCP-carried
 *             tunnels; the IKE side is not in it): seconds, and the kernel
 *             memory it took (Slab + Percpu in /proc/meminfo), per peer
 *   dump      `esptcp show -j` over the N sockets: seconds
 *   idle      one SA's packet rate into its stream (64-byte datagrams
 *             through the output hook, a reader draining the far end),
 *             with the N idle peers' outbound SAs bound and without them,
 *             in turns (3 of each): the rates and the ratio of their
 *             sums
 *
 * and for active=K, K tunnels in a namespace of their own:
 *
 *   active    the aggregate packet rate with K peers active against one:
 *             out, 64-byte datagrams from one sender to K SAs in turn
 *             (one xfrm policy each) into K streams; in, ESP frames written
 *             by one writer into the far ends of K connections in turn,
 *             parsed by the module and handed to xfrm; both, the two at
 *             once (every send owns a socket the writer's frames come
 *             to); 3 turns of each, the rates and the ratios of their sums
 *
 * Usage: esptcp_scale N... [active=K]   One JSON object per row on stdout.
 * ESPTCP_SCALE_PKTS sets the packets of each rate measurement (20,000):
 * selftests/scale.sh runs it with fewer on the debug kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/esptcp.h>

#include "esptcp_tnet.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static int rate_pkts = 20000;
#define TURNS 3

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* a connected pair on loopback, the listener closed: 0 or -1 */
static int make_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (void *)&a, len) || listen(l, 1) || getsockname(l, (void *)&a, &len))
		return -1;
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (*cfd < 0 || connect(*cfd, (void *)&a, len))
		return -1;
	*sfd = accept(l, NULL, NULL);
	close(l);
	return *sfd < 0 ? -1 : 0;
}


static int bind_sa(int s, int dir, uint32_t spi, const char *daddr)
{
	struct esptcp_sa sa = { .family = AF_INET, .dir = dir, .spi = htonl(spi) };

	inet_pton(AF_INET, daddr, sa.daddr);
	return setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa));
}

static uint64_t stat_of(int s, int which)
{
	uint64_t c[ESPTCP_STAT_MAX] = {};
	socklen_t len = sizeof(c);

	getsockopt(s, SOL_ESPTCP, ESPTCP_SO_STATS, c, &len);
	return c[which];
}

static uint64_t tx_esp(int s)
{
	return stat_of(s, ESPTCP_STAT_TX_ESP_PKTS);
}

static volatile bool reading;

static void *reader(void *arg)
{
	char buf[65536];
	int fd = *(int *)arg;

	while (reading)
		if (read(fd, buf, sizeof(buf)) <= 0 && errno != EAGAIN)
			break;
	return NULL;
}

/* the active SA's packets per second into its stream */
static double rate(int s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(0x0a090002) };
	uint64_t base = tx_esp(s), done = 0;
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64] = "";
	double t0, t;
	int sent = 0;

	t0 = now_s();
	for (int i = 0; i < rate_pkts; i++)
		sent += sendto(u, buf, sizeof(buf), 0, (void *)&a, sizeof(a)) > 0;
	/* until the stream has them all, or they stop coming */
	for (uint64_t last = UINT64_MAX; (done = tx_esp(s) - base) < (uint64_t)sent;) {
		if (done == last)
			break;
		last = done;
		usleep(50 * 1000);
	}
	t = now_s() - t0;
	close(u);
	return done / t;
}

/* bind (or unbind) the idle peers' outbound SAs: 0 or -1 */
static int out_sas(int (*fds)[2], int n, bool bind)
{
	for (int i = 0; i < n; i++) {
		struct esptcp_sa sa = { .family = AF_INET, .dir = ESPTCP_DIR_OUT,
					.spi = htonl(0x100000 + 2 * i + 1) };

		inet_pton(AF_INET, "10.9.0.2", sa.daddr);
		if (setsockopt(fds[i][1], SOL_ESPTCP, bind ? ESPTCP_SO_BIND : ESPTCP_SO_UNBIND,
			       &sa, sizeof(sa)))
			return -1;
	}
	return 0;
}

static int run(int n)
{
	struct rlimit rl = { 2 * n + 256, 2 * n + 256 };
	int (*fds)[2] = calloc(n, sizeof(*fds));
	int ac, as, i;
	double t0, t_up, t_dump, r0[TURNS], rn[TURNS];
	long kb0, kb1;
	pthread_t th;
	char cmd[256];
	FILE *p;

	if (!fds || setrlimit(RLIMIT_NOFILE, &rl) || unshare(CLONE_NEWNET) || tnet_lo_up())
		return 1;
	p = popen("ip -batch -", "w");
	if (!p)
		return 1;
	fprintf(p, "link add v0 type veth peer name v1\naddr add 10.9.0.1/24 dev v0\n"
		   "link set v0 up\nlink set v1 up\nneigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev v0\n"
		   "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x5000 reqid 1 mode transport enc cipher_null \"\"\n"
		   "xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport 9 dir out tmpl src 10.9.0.1 dst 10.9.0.2 proto esp reqid 1 mode transport\n");
	for (i = 0; i < n; i++)
		fprintf(p, "xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x%x mode transport enc cipher_null \"\"\n"
			   "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x%x mode transport enc cipher_null \"\"\n",
			0x100000 + 2 * i, 0x100000 + 2 * i + 1);
	if (pclose(p))
		return 1;

	/* the active tunnel: its far end read all along */
	if (make_pair(&ac, &as) || setsockopt(as, IPPROTO_TCP, TCP_ULP, "esptcp", 6) ||
	    bind_sa(as, ESPTCP_DIR_OUT, 0x5000, "10.9.0.2"))
		return 1;
	fcntl(ac, F_SETFL, O_NONBLOCK);
	reading = true;
	pthread_create(&th, NULL, reader, &ac);
	rate(as);	/* warm-up: a path's first use pays for its translation */

	for (i = 0; i < n; i++)
		if (make_pair(&fds[i][0], &fds[i][1]))
			return 1;
	system("sync; echo 2 > /proc/sys/vm/drop_caches");
	usleep(300 * 1000);
	kb0 = tnet_kernel_kb();
	t0 = now_s();
	for (i = 0; i < n; i++) {
		int s = fds[i][1];

		if (setsockopt(s, IPPROTO_TCP, TCP_ULP, "esptcp", 6) ||
		    bind_sa(s, ESPTCP_DIR_IN, 0x100000 + 2 * i, "127.0.0.1") ||
		    bind_sa(s, ESPTCP_DIR_OUT, 0x100000 + 2 * i + 1, "10.9.0.2"))
			return 1;
	}
	t_up = now_s() - t0;
	usleep(300 * 1000);
	kb1 = tnet_kernel_kb();

	snprintf(cmd, sizeof(cmd), "%s show -j >/dev/null", getenv("ESPTCP") ?: "esptcp");
	t0 = now_s();
	if (system(cmd))
		return 1;
	t_dump = now_s() - t0;

	/* in turns, so that the machine's drift falls on both alike */
	for (i = 0; i < TURNS; i++) {
		rn[i] = rate(as);
		if (out_sas(fds, n, false))
			return 1;
		r0[i] = rate(as);
		if (out_sas(fds, n, true))
			return 1;
	}
	reading = false;
	pthread_join(th, NULL);

	printf("{\"case\": \"scale\", \"test\": \"bringup\", \"peers\": %d, \"seconds\": %.3f, "
	       "\"per_second\": %.0f, \"kernel_kb\": %ld, \"bytes_per_peer\": %ld}\n",
	       n, t_up, n / t_up, kb1 - kb0, (kb1 - kb0) * 1024 / n);
	printf("{\"case\": \"scale\", \"test\": \"dump\", \"peers\": %d, \"seconds\": %.3f}\n",
	       n, t_dump);
	printf("{\"case\": \"scale\", \"test\": \"idle\", \"peers\": %d, \"pps_0\": [%.0f, %.0f, %.0f], "
	       "\"pps_n\": [%.0f, %.0f, %.0f], \"ratio\": %.3f}\n",
	       n, r0[0], r0[1], r0[2], rn[0], rn[1], rn[2],
	       (rn[0] + rn[1] + rn[2]) / (r0[0] + r0[1] + r0[2]));
	fflush(stdout);
	return 0;
}

/* --- active=K: the aggregate rate of K busy peers against one --- */

#define ACT_SPI_OUT	0x6000
#define ACT_SPI_IN	0x7000
#define ACT_DPORT	20000
#define ACT_BATCH	32	/* frames a write */
#define ACT_UDP		64	/* a UDP datagram of 56 bytes */
#define ACT_FRAME	(2 + 8 + ACT_UDP + 2 + 2)	/* length, ESP header, UDP, padding, trailer */

struct active {
	int k;
	int (*fds)[2];		/* [0] the far end, [1] attached */
	uint32_t *seq;
	int ep;
};

static volatile bool draining;

/* the far ends' reader: every stream drained, through one epoll set */
static void *drain(void *arg)
{
	struct active *a = arg;
	struct epoll_event ev[64];
	char buf[65536];

	while (draining) {
		int n = epoll_wait(a->ep, ev, 64, 100);

		for (int i = 0; i < n; i++)
			while (recv(ev[i].data.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
	}
	return NULL;
}

static uint64_t sum_stat(const struct active *a, int which)
{
	uint64_t t = 0;

	for (int i = 0; i < a->k; i++)
		t += stat_of(a->fds[i][1], which);
	return t;
}

/* until the counter reaches @want or stops moving; the count done */
static uint64_t settle(const struct active *a, int which, uint64_t base, uint64_t want)
{
	uint64_t done, last = UINT64_MAX;

	while ((done = sum_stat(a, which) - base) < want && done != last) {
		last = done;
		usleep(50 * 1000);
	}
	return done;
}

/* out: datagrams to the first @busy peers' SAs in turn; packets a second */
static double active_out(const struct active *a, int busy)
{
	struct sockaddr_in d = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a090002) };
	uint64_t base = sum_stat(a, ESPTCP_STAT_TX_ESP_PKTS), done;
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64] = "";
	int sent = 0;
	double t0;

	t0 = now_s();
	for (int i = 0; i < rate_pkts; i++) {
		d.sin_port = htons(ACT_DPORT + i % busy);
		sent += sendto(u, buf, sizeof(buf), 0, (void *)&d, sizeof(d)) > 0;
	}
	done = settle(a, ESPTCP_STAT_TX_ESP_PKTS, base, sent);
	close(u);
	return done / (now_s() - t0);
}

/* one RFC 8229 frame: ESP (null cipher, no ICV) around a UDP datagram */
static void esp_frame(uint8_t *f, uint32_t spi, uint32_t seq)
{
	uint8_t *e = f + 2, *u = e + 8;

	memset(f, 0, ACT_FRAME);
	f[0] = ACT_FRAME >> 8;
	f[1] = ACT_FRAME & 0xff;
	*(uint32_t *)e = htonl(spi);
	*(uint32_t *)(e + 4) = htonl(seq);
	u[2] = 9 >> 8;		/* to the discard port: nobody listens */
	u[3] = 9;
	u[4] = ACT_UDP >> 8;
	u[5] = ACT_UDP & 0xff;	/* checksum 0: none (IPv4) */
	u[ACT_UDP] = 1;		/* padding to 4 bytes, 1 2, its length, the next header */
	u[ACT_UDP + 1] = 2;
	u[ACT_UDP + 2] = 2;
	u[ACT_UDP + 3] = IPPROTO_UDP;
}

/* in: frames written into the first @busy far ends in turn; frames a second */
static double active_in(struct active *a, int busy)
{
	static uint8_t buf[ACT_BATCH * ACT_FRAME];
	uint64_t base = sum_stat(a, ESPTCP_STAT_RX_ESP_PKTS), done;
	uint64_t sent = 0;
	double t0;

	t0 = now_s();
	for (int i = 0; sent < rate_pkts; i++) {
		int p = i % busy;

		for (int j = 0; j < ACT_BATCH; j++)
			esp_frame(buf + j * ACT_FRAME, ACT_SPI_IN + p, ++a->seq[p]);
		if (write(a->fds[p][0], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
		sent += ACT_BATCH;
	}
	done = settle(a, ESPTCP_STAT_RX_ESP_PKTS, base, sent);
	return done / (now_s() - t0);
}

struct both {
	struct active *a;
	int busy;
	double pps;
};

static void *both_out(void *arg)
{
	struct both *b = arg;

	b->pps = active_out(b->a, b->busy);
	return NULL;
}

/* both: out and in at once; the sum of their packets a second */
static double active_both(struct active *a, int busy)
{
	struct both b = { .a = a, .busy = busy };
	pthread_t th;
	double in;

	if (pthread_create(&th, NULL, both_out, &b))
		return 0;
	in = active_in(a, busy);
	pthread_join(th, NULL);
	return b.pps + in;
}

static double sum3(const double *v)
{
	return v[0] + v[1] + v[2];
}

static int active_run(int k)
{
	struct active a = { .k = k };
	double o1[TURNS], ok[TURNS], i1[TURNS], ik[TURNS], b1[TURNS], bk[TURNS];
	pthread_t th;
	FILE *p;
	int i;

	a.fds = calloc(k, sizeof(*a.fds));
	a.seq = calloc(k, sizeof(*a.seq));
	a.ep = epoll_create1(0);
	if (!a.fds || !a.seq || a.ep < 0 || unshare(CLONE_NEWNET) || tnet_lo_up())
		return 1;
	p = popen("ip -batch -", "w");
	if (!p)
		return 1;
	fprintf(p, "link add v0 type veth peer name v1\naddr add 10.9.0.1/24 dev v0\n"
		   "link set v0 up\nlink set v1 up\nneigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev v0\n");
	for (i = 0; i < k; i++)
		fprintf(p, "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x%x reqid %d mode transport enc cipher_null \"\"\n"
			   "xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport %d dir out tmpl src 10.9.0.1 dst 10.9.0.2 proto esp reqid %d mode transport\n"
			   "xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x%x mode transport enc cipher_null \"\"\n",
			ACT_SPI_OUT + i, 100 + i, ACT_DPORT + i, 100 + i, ACT_SPI_IN + i);
	if (pclose(p))
		return 1;
	for (i = 0; i < k; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int s;

		if (make_pair(&a.fds[i][0], &a.fds[i][1]))
			return 1;
		s = a.fds[i][1];
		if (setsockopt(s, IPPROTO_TCP, TCP_ULP, "esptcp", 6) ||
		    bind_sa(s, ESPTCP_DIR_IN, ACT_SPI_IN + i, "127.0.0.1") ||
		    bind_sa(s, ESPTCP_DIR_OUT, ACT_SPI_OUT + i, "10.9.0.2"))
			return 1;
		ev.data.fd = a.fds[i][0];
		fcntl(ev.data.fd, F_SETFL, O_NONBLOCK);
		if (epoll_ctl(a.ep, EPOLL_CTL_ADD, ev.data.fd, &ev))
			return 1;
	}
	/* the writer's ends block: a full stream makes it wait, not drop */
	for (i = 0; i < k; i++)
		fcntl(a.fds[i][0], F_SETFL, 0);
	draining = true;
	pthread_create(&th, NULL, drain, &a);
	/* warm-up: a path's first use pays for its translation */
	active_out(&a, k);
	active_in(&a, k);
	for (i = 0; i < TURNS; i++) {
		o1[i] = active_out(&a, 1);
		ok[i] = active_out(&a, k);
		i1[i] = active_in(&a, 1);
		ik[i] = active_in(&a, k);
		b1[i] = active_both(&a, 1);
		bk[i] = active_both(&a, k);
	}
	draining = false;
	pthread_join(th, NULL);
	printf("{\"case\": \"scale\", \"test\": \"active\", \"peers\": %d, "
	       "\"out_pps_1\": [%.0f, %.0f, %.0f], \"out_pps_k\": [%.0f, %.0f, %.0f], \"out_ratio\": %.3f, "
	       "\"in_pps_1\": [%.0f, %.0f, %.0f], \"in_pps_k\": [%.0f, %.0f, %.0f], \"in_ratio\": %.3f, "
	       "\"both_pps_1\": [%.0f, %.0f, %.0f], \"both_pps_k\": [%.0f, %.0f, %.0f], \"both_ratio\": %.3f}\n",
	       k, o1[0], o1[1], o1[2], ok[0], ok[1], ok[2], sum3(ok) / sum3(o1),
	       i1[0], i1[1], i1[2], ik[0], ik[1], ik[2], sum3(ik) / sum3(i1),
	       b1[0], b1[1], b1[2], bk[0], bk[1], bk[2], sum3(bk) / sum3(b1));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *pkts = getenv("ESPTCP_SCALE_PKTS");
	int rc = 0;

	if (pkts && atoi(pkts) > 0)
		rate_pkts = atoi(pkts);

	for (int i = 1; i < argc; i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			_exit(strncmp(argv[i], "active=", 7) ? run(atoi(argv[i])) :
			      active_run(atoi(argv[i] + 7)));
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "esptcp_scale: %s peers failed\n", argv[i]);
			rc = 1;
		}
	}
	return rc;
}
