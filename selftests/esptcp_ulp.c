// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp socket API: attaching the ULP, and who may; what SA requests the
 * socket option and the netlink family refuse; dumps of a socket with many
 * bindings.  Runs as root in the test guest with esptcp loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/kcm.h>

#include "kselftest_harness.h"
#include "esptcp_genl.h"
#include "esptcp_tnet.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef AF_KCM
#define AF_KCM 41
#endif
#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

#define ULP "esptcp"
#define PARAM "/sys/module/esptcp/parameters/allow_netns_admin"

static int attach(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, ULP, strlen(ULP));
}

/* when set, the receive buffer of the connecting end, set before connect() */
static int pair_rcvbuf;

/* Make a connected pair on loopback; returns 0 or -errno. */
static int make_pair(int family, int *lfd, int *cfd, int *sfd)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6);

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;

	*lfd = socket(family, SOCK_STREAM, 0);
	if (*lfd < 0 || bind(*lfd, (void *)&ss, len) || listen(*lfd, 4) ||
	    getsockname(*lfd, (void *)&ss, &len))
		return -errno;
	*cfd = socket(family, SOCK_STREAM, 0);
	if (*cfd >= 0 && pair_rcvbuf)
		setsockopt(*cfd, SOL_SOCKET, SO_RCVBUF, &pair_rcvbuf, sizeof(pair_rcvbuf));
	if (*cfd < 0 || connect(*cfd, (void *)&ss, len))
		return -errno;
	*sfd = accept(*lfd, NULL, NULL);
	if (*sfd < 0)
		return -errno;
	return 0;
}

FIXTURE(pair) {
	int lfd, cfd, sfd;
};

FIXTURE_VARIANT(pair) {
	int family;
};

FIXTURE_VARIANT_ADD(pair, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(pair, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(pair)
{
	ASSERT_EQ(0, make_pair(variant->family, &self->lfd, &self->cfd, &self->sfd));
}

FIXTURE_TEARDOWN(pair)
{
	close(self->cfd);
	close(self->sfd);
	close(self->lfd);
}

TEST_F(pair, attach_established)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	ASSERT_EQ(0, attach(self->cfd));
	ASSERT_EQ(0, attach(self->sfd));
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_ULP, name, &len));
	ASSERT_STREQ(ULP, name);
}

TEST_F(pair, attach_twice)
{
	ASSERT_EQ(0, attach(self->cfd));
	ASSERT_EQ(-1, attach(self->cfd));
	ASSERT_EQ(EEXIST, errno);
}

TEST_F(pair, attach_listener)
{
	ASSERT_EQ(-1, attach(self->lfd));
	ASSERT_EQ(ENOTCONN, errno);
}

TEST_F(pair, attach_unconnected)
{
	int fd = socket(variant->family, SOCK_STREAM, 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, attach(fd));
	ASSERT_EQ(ENOTCONN, errno);
	close(fd);
}

/* the peer has closed: CLOSE_WAIT is not a stream to frame */
TEST_F(pair, attach_close_wait)
{
	char c;

	ASSERT_EQ(0, shutdown(self->sfd, SHUT_WR));
	ASSERT_EQ(0, read(self->cfd, &c, 1));
	ASSERT_EQ(-1, attach(self->cfd));
	ASSERT_EQ(ENOTCONN, errno);
}

/* close one attached end: the other end sees EOF, nothing leaks */
TEST_F(pair, close_after_attach)
{
	char c;

	ASSERT_EQ(0, attach(self->cfd));
	ASSERT_EQ(0, attach(self->sfd));
	ASSERT_EQ(0, close(self->cfd));
	self->cfd = -1;
	ASSERT_EQ(0, read(self->sfd, &c, 1));
}

static int drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[0].effective &= ~(1u << CAP_NET_ADMIN);
	data[0].permitted &= ~(1u << CAP_NET_ADMIN);
	return syscall(SYS_capset, &hdr, data);
}

/* Run @fn in a child; return its exit status (or 255 on abnormal exit). */
static int in_child(int (*fn)(int family), int family)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(family));
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 255;
	return WEXITSTATUS(status);
}

/* child: exit 0 when attach fails with EPERM after dropping CAP_NET_ADMIN */
static int unprivileged_child(int family)
{
	int l, c, s;

	if (make_pair(family, &l, &c, &s))
		return 10;
	if (drop_net_admin())
		return 11;
	if (attach(c) == 0)
		return 12;
	return errno == EPERM ? 0 : 13;
}

TEST_F(pair, attach_unprivileged)
{
	ASSERT_EQ(0, in_child(unprivileged_child, variant->family));
}

static int write_file(const char *path, const char *s, bool append)
{
	int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC)), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

static int write_param(const char *v)
{
	return write_file(PARAM, v, false);
}


/* child: in a new user+net namespace, attach and exit with its errno */
static int userns_child(int family)
{
	int l, c, s;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return 20;
	/* lo starts down in a new netns; no exec here, it would drop caps */
	if (tnet_lo_up())
		return 21;
	if (make_pair(family, &l, &c, &s))
		return 22;
	return attach(c) == 0 ? 0 : errno;
}

TEST_F(pair, attach_userns_refused)
{
	ASSERT_EQ(0, write_param("0"));
	ASSERT_EQ(EPERM, in_child(userns_child, variant->family));
}

TEST_F(pair, attach_userns_allowed)
{
	int rc;

	ASSERT_EQ(0, write_param("1"));
	rc = in_child(userns_child, variant->family);
	ASSERT_EQ(0, write_param("0"));
	ASSERT_EQ(0, rc);
}

/* a socket filter that returns 0: KCM wants a program to attach with */
static int bpf_zero_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	return syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

/*
 * Attach TCP socket @fd to a new KCM socket (*kfd): 0 or the ioctl's
 * errno; -EAFNOSUPPORT when the kernel has no KCM.
 */
static int kcm_attach(int fd, int *kfd)
{
	struct kcm_attach at = { .fd = fd };
	int rc;

	*kfd = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	if (*kfd < 0)
		return -errno;
	at.bpf_fd = bpf_zero_prog();
	if (at.bpf_fd < 0)
		return -errno;
	rc = ioctl(*kfd, SIOCKCMATTACH, &at) ? errno : 0;
	close(at.bpf_fd);
	return rc;
}

/*
 * TCP's zero-copy receive maps the stream's pages and moves past them, out
 * from under the parser: its mapping and its getsockopt are refused.
 * Before, both went to TCP.
 */
TEST_F(pair, zerocopy_receive_refused)
{
	uint64_t zc[8] = { 0 };	/* struct tcp_zerocopy_receive, zeroed */
	socklen_t len = sizeof(zc);
	void *map;

	ASSERT_EQ(0, attach(self->sfd));
	map = mmap(NULL, 65536, PROT_READ, MAP_SHARED, self->sfd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	if (map != MAP_FAILED)
		munmap(map, 65536);
	else
		EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, getsockopt(self->sfd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, &len));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

/*
 * KCM does not look at the ULP: it takes the socket's callbacks when
 * sk_user_data is free.  esptcp claims it, so KCM is refused; before,
 * KCM stacked a second parser on the stream.
 */
TEST_F(pair, kcm_after_attach_refused)
{
	int kfd, rc;

	ASSERT_EQ(0, attach(self->sfd));
	rc = kcm_attach(self->sfd, &kfd);
	if (rc == -EAFNOSUPPORT)
		SKIP(return, "this kernel has no KCM (CONFIG_AF_KCM)");
	EXPECT_EQ(EALREADY, rc);
	close(kfd);
}

TEST_F(pair, attach_after_kcm_refused)
{
	int kfd, rc;

	rc = kcm_attach(self->sfd, &kfd);
	if (rc == -EAFNOSUPPORT)
		SKIP(return, "this kernel has no KCM (CONFIG_AF_KCM)");
	ASSERT_EQ(0, rc);
	ASSERT_EQ(-1, attach(self->sfd));
	EXPECT_EQ(EBUSY, errno);
	close(kfd);
}

/*
 * In a network namespace of the test's own (the harness forks each test):
 * @n ESP states to 127.0.0.1 with SPIs from 0x1000, an attached pair.
 */
static int netns_states(int n, int *l, int *c, int *s)
{
	FILE *p;
	int i;

	if (unshare(CLONE_NEWNET) || tnet_lo_up())
		return -1;
	p = popen("ip -batch -", "w");
	if (!p)
		return -1;
	for (i = 0; i < n; i++)
		fprintf(p, "xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x%x mode transport enc cipher_null \"\"\n",
			0x1000 + i);
	if (pclose(p))
		return -1;
	if (make_pair(AF_INET, l, c, s) || attach(*s))
		return -1;
	return 0;
}

static void sa_in(struct esptcp_sa *sa, unsigned int spi)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = AF_INET;
	sa->dir = ESPTCP_DIR_IN;
	sa->spi = htonl(spi);
	inet_pton(AF_INET, "127.0.0.1", sa->daddr);
}

/* the reserved byte of struct esptcp_sa must be zero */
TEST(sa_pad_refused)
{
	struct { struct esptcp_sa sa; uint32_t tail; } big;
	struct esptcp_sa sa;
	int l, c, s;

	ASSERT_EQ(0, netns_states(1, &l, &c, &s));
	sa_in(&sa, 0x1000);
	sa.pad = 1;
	ASSERT_EQ(-1, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	ASSERT_EQ(EINVAL, errno);
	sa.pad = 0;
	ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	sa.pad = 1;
	ASSERT_EQ(-1, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_UNBIND, &sa, sizeof(sa)));
	ASSERT_EQ(EINVAL, errno);
	/* a longer option: its tail is reserved, zero */
	big.sa = sa;
	big.sa.pad = 0;
	big.tail = 1;
	ASSERT_EQ(-1, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_UNBIND, &big, sizeof(big)));
	ASSERT_EQ(EINVAL, errno);
	big.tail = 0;
	ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_UNBIND, &big, sizeof(big)));
}

/*
 * The receive path tells a socket's inbound SAs apart by SPI alone: two
 * with one SPI (for two destinations) cannot both be bound to one socket.
 * Before, the second bound, and its frames were taken for the first's.
 */
TEST(inbound_spi_once_per_socket)
{
	struct esptcp_sa sa;
	int l, c, s, l2, c2, s2;

	ASSERT_EQ(0, netns_states(1, &l, &c, &s));
	ASSERT_EQ(0, system("ip addr add 127.0.0.2/8 dev lo 2>/dev/null; ip xfrm state add src 127.0.0.1 dst 127.0.0.2 proto esp spi 0x1000 mode transport enc cipher_null \"\""));
	sa_in(&sa, 0x1000);
	ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	inet_pton(AF_INET, "127.0.0.2", sa.daddr);
	ASSERT_EQ(-1, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	EXPECT_EQ(EEXIST, errno);
	/* on another socket it may */
	ASSERT_EQ(0, make_pair(AF_INET, &l2, &c2, &s2));
	ASSERT_EQ(0, attach(s2));
	EXPECT_EQ(0, setsockopt(s2, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
}

/* the encapsulation is the xfrm state's: a request that sets it is refused */
TEST(nl_encap_refused)
{
	struct esptcp_sa sa;
	struct tgenl g;
	struct stat st;
	int l, c, s;

	ASSERT_EQ(0, netns_states(1, &l, &c, &s));
	ASSERT_EQ(0, fstat(s, &st));
	ASSERT_EQ(0, tgenl_open(&g));
	sa_in(&sa, 0x1000);
	EXPECT_EQ(-EINVAL, tgenl_sa_encap(&g, ESPTCP_CMD_SA_BIND, st.st_ino, &sa, 2));
	EXPECT_EQ(0, tgenl_dump_sock(&g, st.st_ino, NULL));
	EXPECT_EQ(0, tgenl_sa(&g, ESPTCP_CMD_SA_BIND, st.st_ino, &sa));
	EXPECT_EQ(1, tgenl_dump_sock(&g, st.st_ino, NULL));
	tgenl_close(&g);
}

#define TRACING "/sys/kernel/debug/tracing/"

/* how often the module's output hooks ran, by a kprobe on each */
static long hook_hits(void)
{
	char line[256];
	long hits = 0, h;
	FILE *f = fopen(TRACING "kprobe_profile", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "esptcp_hk") && sscanf(line, "%*s %ld", &h) == 1)
			hits += h;
	fclose(f);
	return hits;
}

/* a few datagrams on lo: through LOCAL_OUT, both families */
static void some_packets(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(9),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int u = socket(AF_INET, SOCK_DGRAM, 0), u6 = socket(AF_INET6, SOCK_DGRAM, 0);

	for (int i = 0; i < 5; i++) {
		sendto(u, "x", 1, 0, (void *)&a, sizeof(a));
		sendto(u6, "x", 1, 0, (void *)&a6, sizeof(a6));
	}
	close(u);
	close(u6);
}

/*
 * The output hooks come with a namespace's first outbound binding: a
 * namespace without one (every container) pays nothing per packet.
 * Before, every namespace had them from its creation.  Seen by kprobes on
 * the hooks (no other namespace binds meanwhile).
 */
TEST(hooks_with_first_outbound_binding)
{
	struct esptcp_sa sa;
	long before, after;
	int l, c, s;

	ASSERT_EQ(0, netns_states(1, &l, &c, &s));
	ASSERT_EQ(0, system("ip xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x2000 mode transport enc cipher_null \"\""));
	/* an attached socket with an inbound binding: no hooks */
	sa_in(&sa, 0x1000);
	ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));

	/*
	 * An event enabled with record-cmd on (the default) turns on the
	 * sched_switch and sched_wakeup tracepoints for the command names:
	 * their static keys are patched in code every CPU runs, and under TCG
	 * a CPU once ran a stale int3 in ttwu_do_activate() ("Oops: int3",
	 * Debian 13's 6.12).  Only the module's own code is patched so.
	 */
	write_file(TRACING "options/record-cmd", "0", false);
	/* left over from a run that died: away with them */
	write_file(TRACING "kprobe_events", "-:esptcp_hook_out/esptcp_hk4\n", true);
	write_file(TRACING "kprobe_events", "-:esptcp_hook_out/esptcp_hk6\n", true);
	if (write_file(TRACING "kprobe_events",
		       "p:esptcp_hook_out/esptcp_hk4 esptcp_out4\np:esptcp_hook_out/esptcp_hk6 esptcp_out6\n", true) ||
	    write_file(TRACING "events/esptcp_hook_out/enable", "1", false))
		SKIP(return, "no kprobes on the module's hooks here (tracing at " TRACING ")");
	before = hook_hits();
	some_packets();
	after = hook_hits();
	TH_LOG("hook runs without an outbound binding: %ld", after - before);
	EXPECT_EQ(before, after);
	sa_in(&sa, 0x2000);
	sa.dir = ESPTCP_DIR_OUT;
	EXPECT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	before = hook_hits();
	some_packets();
	after = hook_hits();
	TH_LOG("hook runs with one: %ld", after - before);
	EXPECT_LE(before + 10, after);
	write_file(TRACING "events/esptcp_hook_out/enable", "0", false);
	write_file(TRACING "kprobe_events", "-:esptcp_hook_out/esptcp_hk4\n", true);
	write_file(TRACING "kprobe_events", "-:esptcp_hook_out/esptcp_hk6\n", true);
	write_file(TRACING "options/record-cmd", "1", false);
}

/* ESP packets @s has written to its stream, once that stops changing */
static long tx_esp(int s)
{
	uint64_t c[ESPTCP_STAT_MAX];
	socklen_t len = sizeof(c);
	long last = -1;

	for (int i = 0; i < 20; i++) {
		len = sizeof(c);
		if (getsockopt(s, SOL_ESPTCP, ESPTCP_SO_STATS, c, &len))
			return -1;
		if ((long)c[ESPTCP_STAT_TX_ESP_PKTS] == last)
			break;
		last = c[ESPTCP_STAT_TX_ESP_PKTS];
		usleep(100 * 1000);
	}
	return last;
}

/* @n datagrams to 10.9.0.2:9 with packet mark @mark */
static void marked_packets(unsigned int mark, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(0x0a090002) };
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	setsockopt(u, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	for (int i = 0; i < n; i++)
		sendto(u, "x", 1, 0, (void *)&a, sizeof(a));
	close(u);
}

/*
 * xfrm lets two states share address and SPI when their marks differ: each
 * binds on its own, and the output hook tells their packets apart by the
 * packet mark, as xfrm does.  Before, the first binding took the other
 * state's packets into its stream and the second could not be bound
 * (EEXIST).
 */
TEST(marked_states_share_spi)
{
	/* not on lo: xfrm leaves its traffic alone (disable_xfrm) */
	static const char *const cmds[] = {
		"link add v0 type veth peer name v1",
		"addr add 10.9.0.1/24 dev v0",
		"link set v0 up",
		"link set v1 up",
		"xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x3000 mode transport enc cipher_null \"\" mark 1",
		"xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x3000 mode transport enc cipher_null \"\" mark 2",
		"xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport 9 dir out mark 1 tmpl src 10.9.0.1 dst 10.9.0.2 proto esp mode transport",
		"xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport 9 dir out mark 2 tmpl src 10.9.0.1 dst 10.9.0.2 proto esp mode transport",
	};
	int l, c, s, l2, c2, s2;
	struct esptcp_sa sa;
	FILE *p;

	ASSERT_EQ(0, netns_states(0, &l, &c, &s));
	ASSERT_EQ(0, make_pair(AF_INET, &l2, &c2, &s2));
	ASSERT_EQ(0, attach(s2));
	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(p, "%s\n", cmds[i]);
	ASSERT_EQ(0, pclose(p));

	sa_in(&sa, 0x3000);
	inet_pton(AF_INET, "10.9.0.2", sa.daddr);
	sa.dir = ESPTCP_DIR_OUT;
	sa.mark = 1;
	ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	/* the other state's packets are not the binding's */
	marked_packets(2, 5);
	EXPECT_EQ(0, tx_esp(s));
	marked_packets(1, 5);
	EXPECT_EQ(5, tx_esp(s));

	sa.mark = 2;
	ASSERT_EQ(0, setsockopt(s2, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	marked_packets(2, 5);
	EXPECT_EQ(5, tx_esp(s2));
	EXPECT_EQ(5, tx_esp(s));
	marked_packets(1, 3);
	EXPECT_EQ(8, tx_esp(s));
	EXPECT_EQ(5, tx_esp(s2));

	/* a state whose packets' marks overlap a bound one's cannot be bound */
	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	fprintf(p, "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x3000 mode transport enc cipher_null \"\" mark 0 mask 0xf0\n");
	ASSERT_EQ(0, pclose(p));
	sa.mark = 0;
	ASSERT_EQ(-1, setsockopt(s2, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	EXPECT_EQ(EEXIST, errno);
	sa.mark = 2;

	/* unbinding one leaves the other */
	ASSERT_EQ(0, setsockopt(s2, SOL_ESPTCP, ESPTCP_SO_UNBIND, &sa, sizeof(sa)));
	ASSERT_EQ(-1, setsockopt(s2, SOL_ESPTCP, ESPTCP_SO_UNBIND, &sa, sizeof(sa)));
	EXPECT_EQ(ENOENT, errno);
	marked_packets(1, 2);
	EXPECT_EQ(10, tx_esp(s));
	sa.mark = 1;
	EXPECT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_UNBIND, &sa, sizeof(sa)));

	/*
	 * With output marks that set the states' own bits (strongSwan's
	 * mark_out=%unique, set_mark_out=%same), each still gets its own.
	 */
	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	fprintf(p, "xfrm policy flush\n");
	for (int m = 5; m <= 6; m++) {
		fprintf(p, "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x3100 mode transport enc cipher_null \"\" mark %d output-mark %d\n",
			m, m);
		fprintf(p, "xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport 9 dir out mark %d tmpl src 10.9.0.1 dst 10.9.0.2 proto esp mode transport\n",
			m);
	}
	ASSERT_EQ(0, pclose(p));
	sa_in(&sa, 0x3100);
	inet_pton(AF_INET, "10.9.0.2", sa.daddr);
	sa.dir = ESPTCP_DIR_OUT;
	for (int m = 5; m <= 6; m++) {
		sa.mark = m;
		ASSERT_EQ(0, setsockopt(m == 5 ? s : s2, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	}
	/* 4 packets of each mark: into its own state's stream, each */
	{
		long was[2] = { tx_esp(s), tx_esp(s2) };

		marked_packets(5, 4);
		marked_packets(6, 4);
		EXPECT_EQ(was[0] + 4, tx_esp(s));
		EXPECT_EQ(was[1] + 4, tx_esp(s2));
	}
}


/*
 * What esptcp itself costs per connected peer (its socket state, an
 * inbound and an outbound binding, the counters): under 4 KiB.  The kernel
 * memory of PEERS connected sockets with their states is read before and
 * after attaching and binding them all.  Before, the socket state alone
 * took a 4 KiB object, each binding 2 KiB, and the counters 168 bytes per
 * CPU.
 */
#define PEERS 1000

/* kmemleak (and with it, on the debug kernel, KASAN): allocators that add their own */
static bool debug_allocators(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK);
}

TEST(memory_per_peer)
{
	struct rlimit rl = { 4 * PEERS + 64, 4 * PEERS + 64 };
	static int fds[PEERS][3];
	long before, after, per_peer;
	struct esptcp_sa sa;
	FILE *p;
	int i;

	if (debug_allocators())
		SKIP(return, "kmemleak and KASAN add memory of their own to every allocation: a stock kernel measures this");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, tnet_lo_up());
	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	for (i = 0; i < 2 * PEERS; i++)
		fprintf(p, "xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x%x mode transport enc cipher_null \"\"\n",
			0x10000 + i);
	ASSERT_EQ(0, pclose(p));
	for (i = 0; i < PEERS; i++)
		ASSERT_EQ(0, make_pair(AF_INET, &fds[i][0], &fds[i][1], &fds[i][2]));
	/* what the kernel frees lazily settles first */
	system("sync; echo 2 > /proc/sys/vm/drop_caches");
	usleep(500 * 1000);
	before = tnet_kernel_kb();
	for (i = 0; i < PEERS; i++) {
		int s = fds[i][2];

		ASSERT_EQ(0, attach(s));
		sa_in(&sa, 0x10000 + 2 * i);
		ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
		sa_in(&sa, 0x10000 + 2 * i + 1);
		sa.dir = ESPTCP_DIR_OUT;
		ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	}
	usleep(500 * 1000);
	after = tnet_kernel_kb();
	per_peer = (after - before) * 1024 / PEERS;
	TH_LOG("%d peers attached and bound: %ld kB more slab and per-CPU memory, %ld bytes a peer (%ld CPUs)",
	       PEERS, after - before, per_peer, sysconf(_SC_NPROCESSORS_ONLN));
	EXPECT_GT(4096, per_peer);
	for (i = 0; i < PEERS; i++)
		for (int j = 0; j < 3; j++)
			close(fds[i][j]);
}

/*
 * `esptcp show -j`: how often @key occurs, and the sum of the numbers
 * that follow it.  Returns the tool's exit status, or -1.
 */
static int show_json(const char *key, int *seen, long *sum)
{
	const char *tool = getenv("ESPTCP"), *repo = getenv("REPO");
	char cmd[512];
	size_t i = 0, klen = strlen(key);
	FILE *p;

	if (tool)
		snprintf(cmd, sizeof(cmd), "%s show -j", tool);
	else if (repo)
		snprintf(cmd, sizeof(cmd), "%s/build/userspace/esptcp show -j", repo);
	else
		return -1;
	p = popen(cmd, "r");
	if (!p)
		return -1;
	*seen = 0;
	if (sum)
		*sum = 0;
	for (int ch; (ch = fgetc(p)) != EOF;) {
		long v;

		i = ch == key[i] ? i + 1 : ch == key[0];
		if (i < klen)
			continue;
		(*seen)++;
		i = 0;
		if (sum && fscanf(p, "%ld", &v) == 1)
			*sum += v;
	}
	return pclose(p);
}

#define MEM_MAX_PARAM "/sys/module/esptcp/parameters/queue_mem_max"
#define STALLED_MAX 100

static uint64_t stat_of(int s, int i)
{
	uint64_t c[ESPTCP_STAT_MAX] = {};
	socklen_t len = sizeof(c);

	getsockopt(s, SOL_ESPTCP, ESPTCP_SO_STATS, c, &len);
	return c[i];
}

/*
 * A memory cgroup of the test's own (cgroup2, mounted here if need be), the
 * test process in it: the sockets it makes are charged there.  0, or -1
 * when this kernel has no memory controller.
 */
#define CG_ROOT "/run/esptcp-cgroup"
#define CG CG_ROOT "/esptcp_ulp"

static int memcg_enter(void)
{
	char pid[32];

	mkdir(CG_ROOT, 0755);
	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return -1;
	write_file(CG_ROOT "/cgroup.subtree_control", "+memory", false);
	if (mkdir(CG, 0755) && errno != EEXIST)
		return -1;
	if (access(CG "/memory.stat", F_OK))
		return -1;
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(CG "/cgroup.procs", pid, false);
}

/* the socket memory charged to the test's cgroup, in bytes, or -1 */
static long memcg_sock(void)
{
	FILE *f = fopen(CG "/memory.stat", "r");
	char line[128];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "sock %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static void memcg_leave(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(CG_ROOT "/cgroup.procs", pid, false);
	rmdir(CG);
}

/*
 * @n datagrams of 1000 bytes to 10.9.0.2 port @port, from a socket of
 * their own: queued ESP stays charged to the socket that sent it, and a
 * stalled peer's would block the next sendto() on a shared one.
 */
static void datagrams(int port, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(0x0a090002) };
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	static char buf[1000];

	for (int i = 0; i < n; i++)
		sendto(u, buf, sizeof(buf), MSG_DONTWAIT, (void *)&a, sizeof(a));
	close(u);
}

/*
 * 100 peers (20 on the debug kernel) that stop reading (a zero window)
 * cannot queue more than queue_mem_max (8 MiB; 2 MiB) between them, and a peer that reads keeps its traffic
 * flowing meanwhile.  The queued memory is what `esptcp show` reports.
 * Before, each socket could queue 1 MiB of ESP bytes (not truesize), with
 * no limit over all of them and no report.
 */
TEST(stalled_peers_bounded)
{
	struct rlimit rl = { 4 * (STALLED_MAX + 1) + 64, 4 * (STALLED_MAX + 1) + 64 };
	static int fds[STALLED_MAX + 1][3];
	/* the debug kernel's allocators are slow: a fifth of it, in the harness's 30 s */
	const int stalled = debug_allocators() ? STALLED_MAX / 5 : STALLED_MAX;
	const long max = debug_allocators() ? 2 << 20 : 8 << 20;
	int small = 4096, i, seen = 0, got = 0;
	uint64_t drops = 0, sent;
	char old[64] = "", buf[4096];
	struct esptcp_sa sa;
	long queued, sock = -1;
	bool memcg;
	FILE *p;

	memcg = !memcg_enter();
	if (!memcg)
		TH_LOG("this kernel has no memory cgroup: the carrier's charge is not checked");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, tnet_lo_up());
	p = fopen(MEM_MAX_PARAM, "r");
	ASSERT_NE(NULL, p) TH_LOG("no %s: this module has no global limit", MEM_MAX_PARAM);
	ASSERT_NE(NULL, fgets(old, sizeof(old), p));
	fclose(p);
	snprintf(buf, sizeof(buf), "%ld", max);
	ASSERT_EQ(0, write_file(MEM_MAX_PARAM, buf, false));

	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	fprintf(p, "link add v0 type veth peer name v1\naddr add 10.9.0.1/24 dev v0\n"
		   "link set v0 up\nlink set v1 up\n");
	for (i = 0; i <= stalled; i++) {
		fprintf(p, "xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x%x reqid %d mode transport enc cipher_null \"\"\n",
			0x4000 + i, i + 1);
		fprintf(p, "xfrm policy add src 10.9.0.1 dst 10.9.0.2 proto udp dport %d dir out tmpl src 10.9.0.1 dst 10.9.0.2 proto esp reqid %d mode transport\n",
			10000 + i, i + 1);
	}
	ASSERT_EQ(0, pclose(p));
	for (i = 0; i <= stalled; i++) {
		int s;

		/* the stalled ones: small buffers, so TCP is full at once */
		pair_rcvbuf = i < stalled ? small : 0;
		ASSERT_EQ(0, make_pair(AF_INET, &fds[i][0], &fds[i][1], &fds[i][2]));
		s = fds[i][2];
		if (i < stalled)
			setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		ASSERT_EQ(0, attach(s));
		sa_in(&sa, 0x4000 + i);
		inet_pton(AF_INET, "10.9.0.2", sa.daddr);
		sa.dir = ESPTCP_DIR_OUT;
		ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	}
	/* 60 packets (about 130 KiB of truesize) for each stalled peer */
	for (i = 0; i < stalled; i++)
		datagrams(10000 + i, 60);
	/* the peer that reads: 200 packets, 10 at a time, read as they come */
	fcntl(fds[stalled][1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < 20; i++) {
		datagrams(10000 + stalled, 10);
		usleep(20 * 1000);
		for (ssize_t r; (r = read(fds[stalled][1], buf, sizeof(buf))) > 0;)
			got += r;
	}
	sent = tx_esp(fds[stalled][2]);
	for (i = 0; i < 50 && read(fds[stalled][1], buf, sizeof(buf)) != 0; i++) {
		for (ssize_t r; (r = read(fds[stalled][1], buf, sizeof(buf))) > 0;)
			got += r;
		usleep(20 * 1000);
	}
	for (i = 0; i < stalled; i++)
		drops += stat_of(fds[i][2], ESPTCP_STAT_TX_DROP_QUEUE);
	ASSERT_EQ(0, show_json("\"queued\":", &seen, &queued));
	if (memcg)
		sock = memcg_sock();
	TH_LOG("%d stalled peers: %ld bytes queued (limit %ld), %" PRIu64 " packets dropped; the reading peer: %" PRIu64 " of 200 sent, %d bytes read; socket memory in the cgroup: %ld bytes",
	       stalled, queued, max, drops, sent, got, sock);
	write_file(MEM_MAX_PARAM, old, false);
	/*
	 * The queued ESP is charged to the carriers' cgroup, beside TCP's own
	 * small buffers (4 KiB a stalled socket); before, it was not (the
	 * cgroup held the TCP buffers alone, under a fifth of it)
	 */
	if (memcg)
		EXPECT_LE(queued / 2, sock);
	EXPECT_EQ(stalled + 1, seen);
	EXPECT_GE(max, queued);
	/* the limit was reached: there was pressure to hold */
	EXPECT_LT(max / 2, queued);
	EXPECT_LT(0, drops);
	EXPECT_EQ(200, sent);
	for (i = 0; i <= stalled; i++)
		for (int j = 0; j < 3; j++)
			close(fds[i][j]);
	if (memcg)
		memcg_leave();
}

/*
 * A socket whose bindings do not fit one dump message goes on in the next
 * ones: every binding is dumped, by the family and by `esptcp show`.
 * Before, the dump ended there, silently, without the socket.
 */
#define MANY_SAS 1500
/* on the debug kernel, fewer: still several messages, within the harness's 30 s */
#define many_sas() (debug_allocators() ? MANY_SAS / 3 : MANY_SAS)

/* between two parts of a dump: one more binding (SPI 0x1000 + many_sas()) */
static void bind_one_more(void *arg)
{
	struct esptcp_sa sa;

	sa_in(&sa, 0x1000 + many_sas());
	setsockopt(*(int *)arg, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa));
}

TEST(dump_many_bindings)
{
	const int many = many_sas();
	struct esptcp_sa sa;
	struct tgenl g;
	struct stat st;
	int l, c, s, i, parts = 0, seen = 0;

	ASSERT_EQ(0, netns_states(many + 1, &l, &c, &s));
	ASSERT_EQ(0, fstat(s, &st));
	for (i = 0; i < many; i++) {
		sa_in(&sa, 0x1000 + i);
		ASSERT_EQ(0, setsockopt(s, SOL_ESPTCP, ESPTCP_SO_BIND, &sa, sizeof(sa)));
	}
	ASSERT_EQ(0, tgenl_open(&g));
	EXPECT_EQ(many, tgenl_dump_sock(&g, st.st_ino, &parts));
	TH_LOG("%d bindings came in %d messages", many, parts);
	EXPECT_LT(1, parts);
	/* both ends of the pair are sockets; only one is attached */
	EXPECT_EQ(1, tgenl_dump(&g));
	/* a change between two parts is flagged, a quiet dump is not */
	EXPECT_EQ(0, tgenl_dump_intr(&g, NULL, NULL));
	EXPECT_EQ(1, tgenl_dump_intr(&g, bind_one_more, &s));
	EXPECT_EQ(many + 1, tgenl_dump_sock(&g, st.st_ino, NULL));
	tgenl_close(&g);

	/* the tool puts the parts together: one socket, all its SAs */
	EXPECT_EQ(0, show_json("\"spi\":", &seen, NULL));
	EXPECT_EQ(many + 1, seen);
}

static void close_between(void *arg)
{
	close(*(int *)arg);
}

/*
 * A dump goes on from the socket it stopped at (inode number order): a
 * socket closed between two parts takes nothing else with it.  Three
 * sockets, by inode number: 10 bindings, 1500 (more than a message), 10;
 * the first closes after the first part.  Before, the dump counted the
 * sockets done, and the one cut in two lost the rest of its bindings.
 */
TEST(dump_goes_on_after_close)
{
	/* 500 on the debug kernel: still several parts, within its 30 s */
	int fd[3][3], order[3] = { 0, 1, 2 }, n[3] = { 10, many_sas(), 10 };
	unsigned long ino[3];
	struct esptcp_sa sa;
	struct tgenl g;
	struct stat st;
	int i, j, spi = 0x1000, sas = 0;
	FILE *p;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, tnet_lo_up());
	p = popen("ip -batch -", "w");
	ASSERT_NE(NULL, p);
	for (i = 0; i < n[0] + n[1] + n[2]; i++)
		fprintf(p, "xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x%x mode transport enc cipher_null \"\"\n",
			0x1000 + i);
	ASSERT_EQ(0, pclose(p));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, make_pair(AF_INET, &fd[i][0], &fd[i][1], &fd[i][2]));
		ASSERT_EQ(0, fstat(fd[i][2], &st));
		ino[i] = st.st_ino;
	}
	/* the dump's order is the inode numbers': attach in it too */
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (ino[order[j]] < ino[order[i]]) {
				int t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, attach(fd[order[i]][2]));
		for (j = 0; j < n[i]; j++) {
			sa_in(&sa, spi++);
			ASSERT_EQ(0, setsockopt(fd[order[i]][2], SOL_ESPTCP, ESPTCP_SO_BIND,
						&sa, sizeof(sa)));
		}
	}
	ASSERT_EQ(0, tgenl_open(&g));
	EXPECT_LE(0, tgenl_dump_between(&g, close_between, &fd[order[0]][2], &sas));
	TH_LOG("bindings dumped with the first socket closed after the first part: %d", sas);
	EXPECT_EQ(n[0] + n[1] + n[2], sas);
	tgenl_close(&g);
}

TEST_HARNESS_MAIN
