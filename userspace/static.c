// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: static-key mode.  The SAs are configured by hand with
 * `ip xfrm`; this opens (or accepts) the carrier connection, does the
 * IKETCP prefix, attaches the ULP and keeps the connection up.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esptcp.h"

struct static_opts {
	const char *host;
	const char *port;
	int family;
	int once;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const struct option static_longopts[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "address", required_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse(int argc, char **argv, struct static_opts *o, int is_connect)
{
	int c;

	o->port = ESPTCP_DEFAULT_PORT;
	o->family = AF_UNSPEC;
	while ((c = getopt_long(argc, argv, "46p:a:h", static_longopts, NULL)) != -1) {
		switch (c) {
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'a':
			o->host = optarg;
			break;
		case 'h':
			printf("usage: esptcp %s [-4|-6] [-p PORT] %s\n", argv[0],
			       is_connect ? "HOST" : "[-a ADDRESS]");
			exit(0);
		default:
			return -1;
		}
	}
	if (is_connect) {
		if (optind != argc - 1) {
			fprintf(stderr, "esptcp connect: need exactly one HOST\n");
			return -1;
		}
		o->host = argv[optind];
	} else if (optind != argc) {
		fprintf(stderr, "esptcp listen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* Keep the attached connection up until a signal or the peer closes it. */
static int hold(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		int r = poll(&pfd, 1, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("esptcp: poll");
			return 1;
		}
		if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			int err = 0;
			socklen_t l = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
			fprintf(stderr, "esptcp: connection closed%s%s\n", err ? ": " : " by the peer",
				err ? strerror(err) : "");
			close(fd);
			return err ? 1 : 0;
		}
	}
	close(fd);
	return 0;
}

static void report(int fd, const char *what)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	char a[64], b[64];

	getsockname(fd, (struct sockaddr *)&l, &ll);
	getpeername(fd, (struct sockaddr *)&p, &pl);
	printf("esptcp: %s %s -> %s\n", what, esptcp_addr_str(&l, a, sizeof(a)),
	       esptcp_addr_str(&p, b, sizeof(b)));
	fflush(stdout);
}

int esptcp_connect_main(int argc, char **argv)
{
	struct static_opts o = { 0 };
	struct sockaddr_storage peer;
	socklen_t plen;
	int fd;

	if (parse(argc, argv, &o, 1) < 0)
		return 2;
	if (esptcp_resolve(o.host, o.port, o.family, &peer, &plen) < 0)
		return 1;
	fd = esptcp_connect(&peer, plen);
	if (fd < 0)
		return 1;
	if (esptcp_attach(fd) < 0) {
		close(fd);
		return 1;
	}
	report(fd, "attached");
	return hold(fd);
}

int esptcp_listen_main(int argc, char **argv)
{
	struct static_opts o = { 0 };
	struct sockaddr_storage local, peer;
	socklen_t llen;
	int lfd, fd;

	if (parse(argc, argv, &o, 0) < 0)
		return 2;
	if (!o.host)
		o.host = o.family == AF_INET ? "0.0.0.0" : "::";
	if (esptcp_resolve(o.host, o.port, o.family, &local, &llen) < 0)
		return 1;
	lfd = esptcp_listen(&local, llen);
	if (lfd < 0)
		return 1;
	printf("esptcp: listening on port %s\n", o.port);
	fflush(stdout);
	fd = esptcp_accept(lfd, &peer, 10000);
	close(lfd);
	if (fd < 0)
		return 1;
	if (esptcp_attach(fd) < 0) {
		close(fd);
		return 1;
	}
	report(fd, "attached");
	return hold(fd);
}
