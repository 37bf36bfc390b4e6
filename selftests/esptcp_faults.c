// SPDX-License-Identifier: GPL-2.0
/*
 * Systematic allocation faults, as syzkaller injects them: each call of the
 * socket and netlink API is run again and again with its first, second,
 * third... allocation failed (/proc/thread-self/fail-nth) until it runs
 * without a fault.  Every failure must end in a clear errno, and the
 * socket must be either as it was or fully changed: attached or not, bound
 * or not, never half of it, and still working.  kmemleak (run_tests.sh)
 * and the debug kernel's checkers watch for what a check here cannot see.
 *
 * Needs CONFIG_FAULT_INJECTION (the debug kernel); the tests skip, saying
 * why, elsewhere.  Run by faults.sh in a namespace with 10.78.0.1 and
 * 10.78.0.2 on lo, an ESP state of SPI 0x400 from .2 to .1 (transport,
 * null cipher) and a policy sending UDP to port 31001 through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "esptcp_genl.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define SPI		0x400
#define UDP_PORT	31001
#define MAX_NTH		400	/* no call here allocates this often */

static int nth_fd = -1;

/* arm the @n-th allocation of this thread to fail; 0 disarms */
static void arm(int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%d", n);

	if (pwrite(nth_fd, b, len, 0) != len)
		perror("fail-nth");
}

/* was the armed fault injected (and so the count used up)? */
static bool injected(void)
{
	char b[16] = "";

	if (pread(nth_fd, b, sizeof(b) - 1, 0) <= 0)
		return false;
	return atoi(b) == 0;
}

static bool fault_injection(void)
{
	if (nth_fd < 0)
		nth_fd = open(FAIL_NTH, O_RDWR);
	return nth_fd >= 0;
}

#define NEED_FAULTS() do {						\
	if (!fault_injection())						\
		SKIP(return, "kernel without CONFIG_FAULT_INJECTION (%s): the debug kernel runs this", \
		     FAIL_NTH);						\
} while (0)

static void addr(struct sockaddr_in *s, int host, int port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	s->sin_addr.s_addr = htonl(0x0a4e0000 | host);	/* 10.78.0.host */
}

/* a connected pair from .2 (*cfd, the peer) to .1 (*sfd, the gateway) */
static int make_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), rc = 0;

	addr(&a, 1, 0);
	if (l < 0 || bind(l, (void *)&a, len) || listen(l, 1) || getsockname(l, (void *)&a, &len))
		return -1;
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in b;

		addr(&b, 2, 0);
		if (bind(*cfd, (void *)&b, sizeof(b)))
			rc = -1;
	}
	if (!rc && connect(*cfd, (void *)&a, len))
		rc = -1;
	*sfd = rc ? -1 : accept(l, NULL, NULL);
	close(l);
	return rc || *sfd < 0 ? -1 : 0;
}

static int attach(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, ESPTCP_ULP_NAME, strlen(ESPTCP_ULP_NAME));
}

static bool attached(int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	return !getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len) && !strcmp(name, ESPTCP_ULP_NAME);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static void sa_of(struct esptcp_sa *sa, int dir)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = AF_INET;
	sa->dir = dir;
	sa->spi = htonl(SPI);
	sa->daddr[0] = 10;
	sa->daddr[1] = 78;
	sa->daddr[3] = 1;
}

static int so_sa(int fd, int op, int dir)
{
	struct esptcp_sa sa;

	sa_of(&sa, dir);
	return setsockopt(fd, SOL_ESPTCP, op, &sa, sizeof(sa)) ? -errno : 0;
}

static uint64_t stat_of(int fd, int i)
{
	uint64_t s[ESPTCP_STAT_MAX] = { 0 };
	socklen_t len = sizeof(s);

	getsockopt(fd, SOL_ESPTCP, ESPTCP_SO_STATS, s, &len);
	return s[i];
}

/* an IKE message sent on @from arrives, whole, at @to (both attached) */
static bool ike_through(int from, int to, uint8_t tag)
{
	uint8_t out[40] = { 0 }, in[64];

	memset(out + 4, tag, sizeof(out) - 4);
	if (send(from, out, sizeof(out), 0) != sizeof(out) || !readable(to, 3000))
		return false;
	return recv(to, in, sizeof(in), 0) == sizeof(out) && !memcmp(in, out, sizeof(out));
}

/* plain TCP: bytes written on @from are read on @to */
static bool tcp_through(int from, int to)
{
	char c = 'x';

	return write(from, &c, 1) == 1 && readable(to, 3000) && read(to, &c, 1) == 1 && c == 'x';
}

static bool allowed(int err)
{
	return err == ENOMEM || err == ENOBUFS;
}

/*
 * The loop every test runs: set up, arm the n-th allocation, make the
 * call, disarm, check; until a call runs through without a fault.
 * @call returns 0 or -errno.
 */
#define FAULT_LOOP(setup, call, check, teardown) do {			\
	int n, rc, faults_seen = 0;					\
	for (n = 1; n <= MAX_NTH; n++) {				\
		bool hit;						\
		{ setup; }						\
		arm(n);							\
		rc = (call);						\
		hit = injected();					\
		arm(0);							\
		if (hit && rc && !allowed(-rc))				\
			printf("# allocation %d failed, and the call: %s\n", \
			       n, strerror(-rc));				\
		{ EXPECT_TRUE(!rc || allowed(-rc) || !hit); }		\
		{ check; }						\
		teardown;						\
		if (!hit)						\
			break;						\
		faults_seen++;						\
	}								\
	TH_LOG("%d allocations failed in turn", faults_seen);	\
	{ EXPECT_LT(n, MAX_NTH); }					\
} while (0)

TEST(attach_ulp)
{
	int c, s;

	NEED_FAULTS();
	FAULT_LOOP(ASSERT_EQ(0, make_pair(&c, &s)),
		   attach(s) ? -errno : 0,
		   {
			   if (!rc) {
				   ASSERT_TRUE(attached(s));
				   ASSERT_EQ(0, attach(c));
				   ASSERT_TRUE(ike_through(c, s, n));
				   ASSERT_TRUE(ike_through(s, c, n));
			   } else {
				   /* not attached at all, and plain TCP still */
				   ASSERT_FALSE(attached(s));
				   ASSERT_TRUE(tcp_through(c, s));
				   ASSERT_TRUE(tcp_through(s, c));
			   }
		   },
		   { close(c); close(s); });
}

static void pair_attached(struct __test_metadata *_metadata, int *c, int *s)
{
	ASSERT_EQ(0, make_pair(c, s));
	ASSERT_EQ(0, attach(*c));
	ASSERT_EQ(0, attach(*s));
}

TEST(bind_setsockopt)
{
	int c, s, dir;

	NEED_FAULTS();
	for (dir = ESPTCP_DIR_IN; dir <= ESPTCP_DIR_OUT; dir++)
		FAULT_LOOP(pair_attached(_metadata, &c, &s),
			   so_sa(s, ESPTCP_SO_BIND, dir),
			   /* bound exactly when the call said so */
			   ASSERT_EQ(rc ? -ENOENT : 0, so_sa(s, ESPTCP_SO_UNBIND, dir)),
			   { close(c); close(s); });
}

TEST(unbind_setsockopt)
{
	int c, s, dir;

	NEED_FAULTS();
	for (dir = ESPTCP_DIR_IN; dir <= ESPTCP_DIR_OUT; dir++)
		FAULT_LOOP({ pair_attached(_metadata, &c, &s);
			     ASSERT_EQ(0, so_sa(s, ESPTCP_SO_BIND, dir)); },
			   so_sa(s, ESPTCP_SO_UNBIND, dir),
			   ASSERT_EQ(rc ? 0 : -ENOENT, so_sa(s, ESPTCP_SO_UNBIND, dir)),
			   { close(c); close(s); });
}

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * A netlink request is processed in the sender's thread, so its faults are
 * this thread's; the ack may be lost to one (ENOBUFS) after the bind took
 * effect, so then the check only asks the socket what it holds.
 */
TEST(bind_netlink)
{
	struct esptcp_sa sa;
	struct tgenl g;
	int c, s, un;
	uint64_t ino;

	NEED_FAULTS();
	sa_of(&sa, ESPTCP_DIR_IN);
	/* everything but the call itself before the fault is armed */
	FAULT_LOOP({ pair_attached(_metadata, &c, &s); ASSERT_EQ(0, tgenl_open(&g));
		     ino = ino_of(s); ASSERT_NE(0, ino); },
		   tgenl_sa(&g, ESPTCP_CMD_SA_BIND, ino, &sa),
		   {
			   un = so_sa(s, ESPTCP_SO_UNBIND, ESPTCP_DIR_IN);
			   if (!rc)
				   ASSERT_EQ(0, un);
			   if (rc == -ENOMEM)
				   ASSERT_EQ(-ENOENT, un);
		   },
		   { tgenl_close(&g); close(c); close(s); });
}

TEST(unbind_netlink)
{
	struct esptcp_sa sa;
	struct tgenl g;
	int c, s, un;

	NEED_FAULTS();
	sa_of(&sa, ESPTCP_DIR_OUT);
	FAULT_LOOP({ pair_attached(_metadata, &c, &s); ASSERT_EQ(0, tgenl_open(&g));
		     ASSERT_EQ(0, so_sa(s, ESPTCP_SO_BIND, ESPTCP_DIR_OUT)); },
		   tgenl_sa(&g, ESPTCP_CMD_SA_UNBIND, 0, &sa),
		   {
			   un = so_sa(s, ESPTCP_SO_UNBIND, ESPTCP_DIR_OUT);
			   if (!rc)
				   ASSERT_EQ(-ENOENT, un);
			   if (rc == -ENOMEM)
				   ASSERT_EQ(0, un);
		   },
		   { tgenl_close(&g); close(c); close(s); });
}

/* a dump lists every socket, or fails saying so: never a silent part */
TEST(dump_netlink)
{
	int c[3], s[3], i, got, all;
	struct tgenl g;

	NEED_FAULTS();
	for (i = 0; i < 3; i++)
		pair_attached(_metadata, &c[i], &s[i]);
	FAULT_LOOP({ ASSERT_EQ(0, tgenl_open(&g));
		     all = tgenl_dump(&g);
		     ASSERT_LE(6, all); },
		   (got = tgenl_dump(&g)) < 0 ? got : 0,
		   {
			   if (!rc)
				   ASSERT_EQ(all, got);
		   },
		   tgenl_close(&g));
	for (i = 0; i < 3; i++) {
		close(c[i]);
		close(s[i]);
	}
}

TEST(stats_netlink)
{
	uint64_t st[ESPTCP_STAT_MAX];
	struct tgenl g;

	NEED_FAULTS();
	FAULT_LOOP(ASSERT_EQ(0, tgenl_open(&g)), tgenl_stats(&g, st), , tgenl_close(&g));
}

/* an IKE message is sent whole or not at all */
TEST(send_ike)
{
	uint8_t out[300] = { 0 }, in[400];
	int c, s;

	NEED_FAULTS();
	memset(out + 4, 0x5a, sizeof(out) - 4);
	FAULT_LOOP(pair_attached(_metadata, &c, &s),
		   send(s, out, sizeof(out), 0) == sizeof(out) ? 0 : -errno,
		   {
			   if (!rc) {
				   ASSERT_TRUE(readable(c, 3000));
				   ASSERT_EQ(sizeof(out), recv(c, in, sizeof(in), 0));
				   ASSERT_EQ(0, memcmp(in, out, sizeof(out)));
			   }
			   /* and the stream is still framed right */
			   ASSERT_TRUE(ike_through(s, c, 7));
		   },
		   { close(c); close(s); });
}

/*
 * ESP steered into the stream with an allocation failing on the way: the
 * packet arrives, or the send fails, or a counter says where it went; and
 * the next one arrives.
 */
TEST(send_esp)
{
	struct sockaddr_in to, from;
	int c, s, u, sink, i;
	uint64_t drops0;
	char buf[200];

	NEED_FAULTS();
	addr(&to, 1, UDP_PORT);
	addr(&from, 2, 0);
	sink = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(0, bind(sink, (void *)&to, sizeof(to)));
	u = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(0, bind(u, (void *)&from, sizeof(from)));
	memset(buf, 0x33, sizeof(buf));
	FAULT_LOOP({ pair_attached(_metadata, &c, &s);
		     ASSERT_EQ(0, so_sa(c, ESPTCP_SO_BIND, ESPTCP_DIR_OUT));
		     ASSERT_EQ(0, so_sa(s, ESPTCP_SO_BIND, ESPTCP_DIR_IN));
		     drops0 = stat_of(c, ESPTCP_STAT_TX_DROP_NOMEM); },
		   sendto(u, buf, sizeof(buf), 0, (void *)&to, sizeof(to)) == sizeof(buf) ? 0 : -errno,
		   {
			   bool came = readable(sink, 1000);

			   if (came)
				   ASSERT_EQ(sizeof(buf), recv(sink, buf, sizeof(buf), 0));
			   if (!rc && !came)
				   TH_LOG("allocation %d: the packet was lost; module drops %llu -> %llu",
					  n, (unsigned long long)drops0,
					  (unsigned long long)stat_of(c, ESPTCP_STAT_TX_DROP_NOMEM));
			   /* the next one goes through, framed right */
			   ASSERT_EQ(sizeof(buf), sendto(u, buf, sizeof(buf), 0, (void *)&to, sizeof(to)));
			   ASSERT_TRUE(readable(sink, 3000));
			   ASSERT_EQ(sizeof(buf), recv(sink, buf, sizeof(buf), 0));
			   /* the sender counts after TCP took it: wait for that */
			   for (i = 0; i < 100 && stat_of(c, ESPTCP_STAT_TX_ESP_PKTS) !=
					       stat_of(s, ESPTCP_STAT_RX_ESP_PKTS); i++)
				   usleep(10000);
			   ASSERT_EQ(stat_of(c, ESPTCP_STAT_TX_ESP_PKTS),
				     stat_of(s, ESPTCP_STAT_RX_ESP_PKTS));
			   for (i = 0; i < 2; i++)
				   ASSERT_TRUE(ike_through(i ? s : c, i ? c : s, n));
		   },
		   { close(c); close(s); });
	close(u);
	close(sink);
}

TEST_HARNESS_MAIN
