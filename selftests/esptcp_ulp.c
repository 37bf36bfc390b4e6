// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp socket API: attaching the ULP, and who may.
 * Runs as root in the test guest with esptcp loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "kselftest_harness.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#define ULP "esptcp"
#define PARAM "/sys/module/esptcp/parameters/allow_netns_admin"

static int attach(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, ULP, strlen(ULP));
}

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

static int write_param(const char *v)
{
	int fd = open(PARAM, O_WRONLY);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, v, 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	rc = rc ?: ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return rc;
}

/* child: in a new user+net namespace, attach and exit with its errno */
static int userns_child(int family)
{
	int l, c, s;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return 20;
	/* lo starts down in a new netns; no exec here, it would drop caps */
	if (lo_up())
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

TEST_HARNESS_MAIN
