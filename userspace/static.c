// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: static-key mode.  The SAs are configured by hand with
 * `ip xfrm`; this opens (or accepts) the carrier connection, does the
 * IKETCP prefix, attaches the ULP, binds the SAs named by --in/--out to the
 * socket and keeps the connection up.  There is no IKE in this mode: IKE
 * messages that arrive are logged and dropped.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "esptcp.h"

struct static_opts {
	const char *host;
	const char *port;
	int family;
	int once;
	struct esptcp_sa_list sas;
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
	{ "in", required_argument, NULL, ESPTCP_OPT_IN },
	{ "out", required_argument, NULL, ESPTCP_OPT_OUT },
	{ "mark", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char connect_usage[] =
	"usage: esptcp connect [-4|-6] [-p PORT] [--out SPI[@DADDR]]... [--in SPI[@DADDR]]...\n"
	"                      [--mark N] HOST\n";
static const char listen_usage[] =
	"usage: esptcp listen [-4|-6] [-p PORT] [-a ADDRESS] [--out SPI[@DADDR]]...\n"
	"                     [--in SPI[@DADDR]]... [--mark N]\n";
static const char static_help[] =
	"  -4, -6               IPv4 or IPv6 only\n"
	"  -p, --port PORT      TCP port (default " ESPTCP_DEFAULT_PORT ")\n"
	"  -a, --address ADDR   listen: local address to listen on (default any)\n"
	"  --out SPI[@DADDR]    bind the outbound SA; DADDR defaults to the peer's address\n"
	"  --in SPI[@DADDR]     bind the inbound SA; DADDR defaults to the local address\n"
	"  -m, --mark N         mark of the xfrm states named by --in and --out\n"
	"SPI and N are 0x<hex> or decimal.  --in and --out may be repeated.\n";

static void usage(FILE *f, int is_connect)
{
	fputs(is_connect ? connect_usage : listen_usage, f);
	if (f == stdout)
		fputs(static_help, f);
}

static int parse(int argc, char **argv, struct static_opts *o, int is_connect)
{
	uint64_t mark = 0;
	int c;

	o->port = ESPTCP_DEFAULT_PORT;
	o->family = AF_UNSPEC;
	while ((c = getopt_long(argc, argv, "46p:a:m:h", static_longopts, NULL)) != -1) {
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
			if (is_connect) {
				fputs("esptcp connect: -a is for listen\n", stderr);
				return -1;
			}
			o->host = optarg;
			break;
		case ESPTCP_OPT_IN:
		case ESPTCP_OPT_OUT:
		case 'm':
			if (esptcp_sa_opt(c, optarg, &o->sas, &mark) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout, is_connect);
			exit(0);
		default:
			usage(stderr, is_connect);
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
	esptcp_sa_list_set_mark(&o->sas, mark);
	return 0;
}

static int report_close(int fd)
{
	socklen_t l = sizeof(int);
	int err = 0;

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (!err) {
		fprintf(stderr, "esptcp: connection closed by the peer\n");
		return 0;
	}
	fprintf(stderr, "esptcp: connection closed: %s\n", strerror(err));
	return 1;
}

/*
 * Keep the attached connection up until a signal or the peer closes it.
 * Without IKE here, messages the peer sends are read (one per recv(), so
 * poll() does not keep reporting them) and dropped.  The signals are only
 * unblocked inside ppoll(), so one that arrives between checks is not lost.
 */
static int hold(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
	struct sigaction sa = { .sa_handler = on_signal };
	static char msg[ESPTCP_MAX_MSG + 3];
	sigset_t block, orig;
	int ret = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		int r = ppoll(&pfd, 1, NULL, &orig);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("esptcp: poll");
			ret = 1;
			break;
		}
		if (!pfd.revents)
			continue;
		n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);
		if (n > 0) {
			fprintf(stderr,
				"esptcp: dropped an IKE message of %zd bytes (static mode)\n", n);
			continue;
		}
		if (n == 0) {
			ret = report_close(fd);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			fprintf(stderr, "esptcp: connection closed: %s\n", strerror(errno));
			ret = 1;
			break;
		}
		/* nothing to read: only a hangup or an error ends the wait */
		if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
			ret = report_close(fd);
			break;
		}
	}
	close(fd);
	return ret;
}

/* "attached LOCAL -> PEER ino N": N names the socket to bind/unbind (ss -e shows it too) */
static void report(int fd, const char *what)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	struct stat st = { 0 };
	char a[64], b[64];

	getsockname(fd, (struct sockaddr *)&l, &ll);
	getpeername(fd, (struct sockaddr *)&p, &pl);
	fstat(fd, &st);
	printf("esptcp: %s %s -> %s ino %llu\n", what, esptcp_addr_str(&l, a, sizeof(a)),
	       esptcp_addr_str(&p, b, sizeof(b)), (unsigned long long)st.st_ino);
	fflush(stdout);
}

static const void *sockaddr_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((const struct sockaddr_in *)ss)->sin_addr;
	return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

/*
 * Bind the SAs of --in/--out to the attached socket.  An SA without DADDR
 * takes the address xfrm names it by: the peer's for outbound ESP, ours for
 * inbound.  Each binding is reported on a line of its own; the first failure
 * ends the run.
 */
static int bind_sas(int fd, struct esptcp_sa_list *sas)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	char s[128];
	size_t i;

	if (getsockname(fd, (struct sockaddr *)&l, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&p, &pl) < 0) {
		perror("esptcp: socket addresses");
		return -1;
	}
	for (i = 0; i < sas->n; i++) {
		struct esptcp_sa *sa = &sas->sa[i];

		if (!sa->family) {
			const struct sockaddr_storage *ss = sa->dir == ESPTCP_DIR_IN ? &l : &p;

			esptcp_sa_set_daddr(sa, ss->ss_family, sockaddr_addr(ss));
		}
		if (setsockopt(fd, SOL_ESPTCP, ESPTCP_SO_BIND, sa, sizeof(*sa)) < 0) {
			esptcp_sa_error("binding", sa, errno, NULL);
			return -1;
		}
		printf("esptcp: bound %s\n", esptcp_sa_str(sa, s, sizeof(s)));
		fflush(stdout);
	}
	printf("esptcp: ready, %zu SA%s bound\n", sas->n, sas->n == 1 ? "" : "s");
	fflush(stdout);
	return 0;
}

/* The attached connection: bind its SAs and hold it. */
static int run(int fd, struct static_opts *o)
{
	int ret;

	report(fd, "attached");
	if (bind_sas(fd, &o->sas) < 0) {
		close(fd);
		ret = 1;
	} else {
		ret = hold(fd);
	}
	esptcp_sa_list_free(&o->sas);
	return ret;
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
	return run(fd, &o);
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
	return run(fd, &o);
}
