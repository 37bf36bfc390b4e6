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
 * Usage: esptcp_scale N...   One JSON object per row on stdout.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/esptcp.h>

#include "esptcp_tnet.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define RATE_PKTS 20000
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

static uint64_t tx_esp(int s)
{
	uint64_t c[ESPTCP_STAT_MAX] = {};
	socklen_t len = sizeof(c);

	getsockopt(s, SOL_ESPTCP, ESPTCP_SO_STATS, c, &len);
	return c[ESPTCP_STAT_TX_ESP_PKTS];
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
	for (int i = 0; i < RATE_PKTS; i++)
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

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			_exit(run(atoi(argv[i])));
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "esptcp_scale: %s peers failed\n", argv[i]);
			rc = 1;
		}
	}
	return rc;
}
