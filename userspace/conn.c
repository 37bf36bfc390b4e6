// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the carrier connection - resolve, connect or accept, the
 * RFC 9329 "IKETCP" stream prefix, the per-socket IPsec bypass policy and the
 * ULP attach.  Everything here is plain socket API.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/xfrm.h>
#include <linux/ipsec.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>

#include "esptcp.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static const char iketcp_prefix[ESPTCP_PREFIX_LEN] = { 'I', 'K', 'E', 'T', 'C', 'P' };

int esptcp_resolve(const char *host, const char *port, int family,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int err;

	if (!host)
		hints.ai_flags |= AI_PASSIVE;
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		fprintf(stderr, "esptcp: %s port %s: %s\n", host ? host : "*", port,
			gai_strerror(err));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *esptcp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
	return buf;
}

/*
 * Exempt the carrier socket from IPsec policy in both directions, so that a
 * policy covering the two peers does not try to encrypt the TCP connection
 * that carries the ESP.
 */
int esptcp_set_bypass(int fd, int family)
{
	static int km_ready;
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int opt = family == AF_INET6 ? IPV6_XFRM_POLICY : IP_XFRM_POLICY;
	struct xfrm_userpolicy_info pol;
	int dir;

	/*
	 * Per-socket policies are compiled by the xfrm_user key manager; opening
	 * an XFRM netlink socket loads it on kernels where it is a module.
	 */
	if (!km_ready) {
		struct mnl_socket *nl = mnl_socket_open(NETLINK_XFRM);

		if (nl)
			mnl_socket_close(nl);
		km_ready = 1;
	}
	for (dir = XFRM_POLICY_IN; dir <= XFRM_POLICY_OUT; dir++) {
		memset(&pol, 0, sizeof(pol));
		pol.action = XFRM_POLICY_ALLOW;
		pol.dir = dir;
		pol.sel.family = family;
		pol.lft.soft_byte_limit = XFRM_INF;
		pol.lft.hard_byte_limit = XFRM_INF;
		pol.lft.soft_packet_limit = XFRM_INF;
		pol.lft.hard_packet_limit = XFRM_INF;
		if (setsockopt(fd, level, opt, &pol, sizeof(pol)) < 0) {
			perror("esptcp: IPsec bypass policy on the carrier socket");
			return -1;
		}
	}
	return 0;
}

int esptcp_attach(int fd)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, ESPTCP_ULP, sizeof(ESPTCP_ULP) - 1) < 0) {
		int e = errno;

		fprintf(stderr, "esptcp: attaching TCP ULP \"%s\": %s%s\n", ESPTCP_ULP,
			strerror(e), e == ENOENT ? " (is the esptcp module loaded?)" : "");
		errno = e;
		return -1;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read exactly @len bytes within @timeout_ms; -1 on EOF, error or timeout. */
static int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *p = buf;

	while (len) {
		ssize_t n;
		int r = poll(&pfd, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int esptcp_connect(const struct sockaddr_storage *peer, socklen_t plen)
{
	char a[64];
	int fd, one = 1;

	fd = socket(peer->ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		perror("esptcp: socket");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (esptcp_set_bypass(fd, peer->ss_family) < 0)
		goto err;
	if (connect(fd, (const struct sockaddr *)peer, plen) < 0) {
		fprintf(stderr, "esptcp: connect to %s: %s\n",
			esptcp_addr_str(peer, a, sizeof(a)), strerror(errno));
		goto err;
	}
	/* RFC 9329 section 3: the TCP originator sends the prefix, once */
	if (write_all(fd, iketcp_prefix, sizeof(iketcp_prefix)) < 0) {
		perror("esptcp: sending the IKETCP prefix");
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int esptcp_listen(const struct sockaddr_storage *local, socklen_t llen)
{
	int fd, one = 1;

	fd = socket(local->ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		perror("esptcp: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* accepted sockets inherit the listener's per-socket policies */
	if (esptcp_set_bypass(fd, local->ss_family) < 0)
		goto err;
	if (bind(fd, (const struct sockaddr *)local, llen) < 0 || listen(fd, 64) < 0) {
		perror("esptcp: bind/listen");
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int esptcp_accept(int lfd, struct sockaddr_storage *peer, int timeout_ms)
{
	char got[ESPTCP_PREFIX_LEN], a[64];
	socklen_t plen = sizeof(*peer);
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)peer, &plen, SOCK_CLOEXEC);
	if (fd < 0) {
		perror("esptcp: accept");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* the responder reads exactly the prefix, then hands over to the ULP */
	if (read_exact(fd, got, sizeof(got), timeout_ms) < 0 ||
	    memcmp(got, iketcp_prefix, sizeof(got))) {
		fprintf(stderr, "esptcp: %s did not send the IKETCP prefix; closing\n",
			esptcp_addr_str(peer, a, sizeof(a)));
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}
