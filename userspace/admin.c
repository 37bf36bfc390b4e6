// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: administration from a shell, over generic netlink - bind and
 * unbind SAs on any attached socket of the netns (to move an SA between
 * connections, or back to UDP), show the sockets, print the counters.
 * Exit codes: 0 done, 1 failed, 2 bad usage.
 */
#include <dirent.h>
#include <unistd.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "esptcp.h"

static const struct option sa_longopts[] = {
	{ "sock", required_argument, NULL, 's' },
	{ "in", required_argument, NULL, ESPTCP_OPT_IN },
	{ "out", required_argument, NULL, ESPTCP_OPT_OUT },
	{ "mark", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct sa_opts {
	uint64_t ino;
	struct esptcp_sa_list sas;
};

static const char bind_usage[] =
	"usage: esptcp bind --sock INO (--in|--out) SPI[@DADDR] ... [--mark N]\n"
	"  DADDR defaults to the socket's local address for --in and its peer's for --out\n";
static const char unbind_usage[] =
	"usage: esptcp unbind [--sock INO] (--in|--out) SPI[@DADDR] ... [--mark N]\n"
	"  DADDR may only be left out with --sock\n";

static int parse_sa_opts(int argc, char **argv, struct sa_opts *o, const char *usage)
{
	uint64_t mark = 0;
	int c;

	while ((c = getopt_long(argc, argv, "s:m:h", sa_longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (esptcp_parse_num(optarg, UINT64_MAX, &o->ino) < 0 || !o->ino) {
				fprintf(stderr, "esptcp: --sock %s: not an inode number\n", optarg);
				return -1;
			}
			break;
		case ESPTCP_OPT_IN:
		case ESPTCP_OPT_OUT:
		case 'm':
			if (esptcp_sa_opt(c, optarg, &o->sas, &mark) < 0)
				return -1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "esptcp %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return -1;
	}
	if (!o->sas.n) {
		fprintf(stderr, "esptcp %s: need an SA: --in or --out SPI[@DADDR]\n", argv[0]);
		return -1;
	}
	esptcp_sa_list_set_mark(&o->sas, mark);
	return 0;
}

/*
 * Find the socket @ino among the attached sockets, and give the SAs that
 * have no DADDR the socket's local (in) or peer (out) address.
 */
static int complete_from_sock(struct esptcp_nl *nl, uint64_t ino, struct esptcp_sa_list *sas)
{
	struct esptcp_sock_info *socks, *s = NULL;
	size_t n, i;
	int err;

	err = esptcp_nl_sock_dump(nl, &socks, &n);
	if (err) {
		fprintf(stderr, "esptcp: listing sockets: %s\n", strerror(-err));
		return -1;
	}
	for (i = 0; i < n && !s; i++)
		if (socks[i].ino == ino)
			s = &socks[i];
	if (!s) {
		fprintf(stderr, "esptcp: no socket with inode %" PRIu64 " has the esptcp ULP\n",
			ino);
		esptcp_sock_info_free(socks, n);
		return -1;
	}
	for (i = 0; i < sas->n; i++) {
		struct esptcp_sa *sa = &sas->sa[i];

		if (!sa->family)
			esptcp_sa_set_daddr(sa, s->family,
					    sa->dir == ESPTCP_DIR_IN ? s->local : s->remote);
	}
	esptcp_sock_info_free(socks, n);
	return 0;
}

int esptcp_bind_main(int argc, char **argv)
{
	struct sa_opts o = { 0 };
	struct esptcp_sock_ref ref = { .fd = -1 };
	struct esptcp_nl *nl;
	int ret = 1, err;
	size_t i;
	char s[128];

	if (parse_sa_opts(argc, argv, &o, bind_usage) < 0) {
		esptcp_sa_list_free(&o.sas);
		return 2;
	}
	if (!o.ino) {
		fprintf(stderr, "esptcp bind: --sock INO is required (see 'esptcp show')\n");
		esptcp_sa_list_free(&o.sas);
		return 2;
	}
	ref.ino = o.ino;
	nl = esptcp_nl_open();
	if (!nl)
		goto out;
	/* always look the socket up: a missing socket then is not taken for a missing SA */
	if (complete_from_sock(nl, o.ino, &o.sas) < 0)
		goto out;
	for (i = 0; i < o.sas.n; i++) {
		err = esptcp_nl_sa_bind(nl, &ref, &o.sas.sa[i]);
		if (err) {
			esptcp_sa_error("binding", &o.sas.sa[i], -err, esptcp_nl_ext_msg(nl));
			goto out;
		}
		printf("esptcp: bound %s to socket ino %" PRIu64 "\n",
		       esptcp_sa_str(&o.sas.sa[i], s, sizeof(s)), o.ino);
		fflush(stdout);
	}
	ret = 0;
out:
	esptcp_nl_close(nl);
	esptcp_sa_list_free(&o.sas);
	return ret;
}

int esptcp_unbind_main(int argc, char **argv)
{
	struct sa_opts o = { 0 };
	struct esptcp_sock_ref ref = { .fd = -1 };
	struct esptcp_nl *nl = NULL;
	int ret = 1, err;
	size_t i;
	char s[128];

	if (parse_sa_opts(argc, argv, &o, unbind_usage) < 0) {
		esptcp_sa_list_free(&o.sas);
		return 2;
	}
	for (i = 0; i < o.sas.n && !o.ino; i++) {
		if (!o.sas.sa[i].family) {
			fputs("esptcp unbind: without --sock, give SPI@DADDR\n", stderr);
			esptcp_sa_list_free(&o.sas);
			return 2;
		}
	}
	ref.ino = o.ino;
	nl = esptcp_nl_open();
	if (!nl)
		goto out;
	if (o.ino && complete_from_sock(nl, o.ino, &o.sas) < 0)
		goto out;
	for (i = 0; i < o.sas.n; i++) {
		err = esptcp_nl_sa_unbind(nl, o.ino ? &ref : NULL, &o.sas.sa[i]);
		if (err) {
			esptcp_sa_error("unbinding", &o.sas.sa[i], -err, esptcp_nl_ext_msg(nl));
			goto out;
		}
		printf("esptcp: unbound %s\n", esptcp_sa_str(&o.sas.sa[i], s, sizeof(s)));
		fflush(stdout);
	}
	ret = 0;
out:
	esptcp_nl_close(nl);
	esptcp_sa_list_free(&o.sas);
	return ret;
}

static const char *endpoint_str(int family, const void *addr, uint16_t port, char *buf,
				size_t len)
{
	char a[INET6_ADDRSTRLEN];

	esptcp_inaddr_str(family, addr, a, sizeof(a));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

static void print_stats_text(const uint64_t *stats, const char *indent)
{
	int any = 0;
	unsigned int i;

	for (i = 0; i < ESPTCP_STAT_MAX; i++) {
		if (!stats[i])
			continue;
		printf("%s%s %" PRIu64 "\n", indent, esptcp_stat_name(i), stats[i]);
		any = 1;
	}
	if (!any)
		printf("%s(all counters zero)\n", indent);
}

static void show_text(const struct esptcp_sock_info *socks, size_t n, const uint64_t *stats)
{
	char a[64], b[64], s[128], e[16];
	uint64_t queued = 0;
	size_t i, j;

	if (!n)
		printf("no sockets with the esptcp ULP\n");
	for (i = 0; i < n; i++) {
		const struct esptcp_sock_info *k = &socks[i];

		printf("socket ino %" PRIu64 " %s -> %s\n", k->ino,
		       endpoint_str(k->family, k->local, k->lport, a, sizeof(a)),
		       endpoint_str(k->family, k->remote, k->rport, b, sizeof(b)));
		for (j = 0; j < k->nsas; j++)
			printf("  sa %s encap %s\n", esptcp_sa_str(&k->sas[j].sa, s, sizeof(s)),
			       esptcp_encap_name(k->sas[j].encap, e, sizeof(e)));
		printf("  queued %" PRIu32 " bytes\n", k->queued);
		queued += k->queued;
		if (k->has_stats)
			print_stats_text(k->stats, "  ");
	}
	printf("netns\n");
	printf("  queued %" PRIu64 " bytes in %zu sockets\n", queued, n);
	print_stats_text(stats, "  ");
}

/* every name and address printed here is ours or inet_ntop's: nothing to escape */
static void print_stats_json(const uint64_t *stats)
{
	unsigned int i;

	putchar('{');
	for (i = 0; i < ESPTCP_STAT_MAX; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", esptcp_stat_name(i), stats[i]);
	putchar('}');
}

static void show_json(const struct esptcp_sock_info *socks, size_t n, const uint64_t *stats)
{
	char a[INET6_ADDRSTRLEN], e[16];
	size_t i, j;

	printf("{\"sockets\":[");
	for (i = 0; i < n; i++) {
		const struct esptcp_sock_info *k = &socks[i];

		printf("%s{\"ino\":%" PRIu64 ",\"family\":\"%s\"", i ? "," : "", k->ino,
		       k->family == AF_INET6 ? "inet6" : "inet");
		printf(",\"local\":\"%s\",\"lport\":%u",
		       esptcp_inaddr_str(k->family, k->local, a, sizeof(a)), k->lport);
		printf(",\"remote\":\"%s\",\"rport\":%u,\"sas\":[",
		       esptcp_inaddr_str(k->family, k->remote, a, sizeof(a)), k->rport);
		for (j = 0; j < k->nsas; j++) {
			const struct esptcp_binding *bd = &k->sas[j];

			printf("%s{\"dir\":\"%s\",\"spi\":%u", j ? "," : "",
			       esptcp_dir_name(bd->sa.dir), ntohl(bd->sa.spi));
			printf(",\"daddr\":\"%s\",\"mark\":%u,\"encap\":\"%s\"}",
			       esptcp_inaddr_str(bd->sa.family, bd->sa.daddr, a, sizeof(a)),
			       bd->sa.mark, esptcp_encap_name(bd->encap, e, sizeof(e)));
		}
		printf("],\"queued\":%" PRIu32 ",\"stats\":", k->queued);
		if (k->has_stats)
			print_stats_json(k->stats);
		else
			printf("{}");
		putchar('}');
	}
	printf("],\"stats\":");
	print_stats_json(stats);
	printf("}\n");
}

static const struct option show_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* an age as a person reads it: 42s, 3m12s, 2h05m, 3d04h */
static void fmt_age(unsigned long long s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

/*
 * A line of a helper's status file, with its times (wall-clock seconds) as
 * ages: "since T" becomes how long ago, "until T" how long from now ("for").
 */
static void print_status_line(char *line, time_t now)
{
	char *save = NULL, *tok, age[32];
	const char *prev = "";

	printf(" ");
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		char *end;
		unsigned long long t = strtoull(tok, &end, 10);
		bool since = !strcmp(prev, "since"), until = !strcmp(prev, "until");

		if ((since || until) && *tok && (!*end || *end == ':')) {
			unsigned long long n = (unsigned long long)now;

			fmt_age(since ? (n > t ? n - t : 0) : (t > n ? t - n : 0), age, sizeof(age));
			printf(" %s%s%s", until ? "for " : "", age, end);
		} else if (strcmp(tok, "until")) {
			printf(until ? " until %s" : " %s", tok);
		}
		prev = tok;
	}
	printf("\n");
}

/*
 * The IKE helpers of this network namespace: each writes its IKE SAs, their
 * transport and the last transition to ESPTCP_STATUS_DIR/ike-PID.status.
 */
static void show_ike(void)
{
	char ns[64] = "", first[128], line[1024], path[512];
	struct dirent *e;
	ssize_t len;
	DIR *dir;

	len = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
	ns[len > 0 ? len : 0] = 0;
	dir = opendir(ESPTCP_STATUS_DIR);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char want[96];
		FILE *f;

		if (strncmp(e->d_name, "ike-", 4) || !strstr(e->d_name, ".status") ||
		    strstr(e->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ESPTCP_STATUS_DIR, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		snprintf(want, sizeof(want), "netns %s ", ns);
		if (fgets(first, sizeof(first), f) && !strncmp(first, want, strlen(want))) {
			printf("ike helper %s", first + strlen(want));
			while (fgets(line, sizeof(line), f))
				print_status_line(line, time(NULL));
		}
		fclose(f);
	}
	closedir(dir);
}

int esptcp_show_main(int argc, char **argv)
{
	static const char usage[] = "usage: esptcp show [-j|--json]\n";
	uint64_t stats[ESPTCP_STAT_MAX];
	struct esptcp_sock_info *socks = NULL;
	struct esptcp_nl *nl;
	int json = 0, err, c;
	size_t n = 0;

	while ((c = getopt_long(argc, argv, "jh", show_longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "esptcp show: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	nl = esptcp_nl_open();
	if (!nl)
		return 1;
	err = esptcp_nl_sock_dump(nl, &socks, &n);
	if (err) {
		fprintf(stderr, "esptcp: listing sockets: %s\n", strerror(-err));
		goto out;
	}
	err = esptcp_nl_stats_get(nl, stats);
	if (err) {
		fprintf(stderr, "esptcp: reading the netns counters: %s\n", strerror(-err));
		goto out;
	}
	if (json)
		show_json(socks, n, stats);
	else
		show_text(socks, n, stats);
	if (!json)
		show_ike();
out:
	esptcp_sock_info_free(socks, n);
	esptcp_nl_close(nl);
	return err ? 1 : 0;
}

int esptcp_stats_main(int argc, char **argv)
{
	uint64_t stats[ESPTCP_STAT_MAX];
	struct esptcp_nl *nl;
	unsigned int i;
	int err;

	if (argc > 1) {
		int help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");

		fputs("usage: esptcp stats\n", help ? stdout : stderr);
		return help ? 0 : 2;
	}
	nl = esptcp_nl_open();
	if (!nl)
		return 1;
	err = esptcp_nl_stats_get(nl, stats);
	esptcp_nl_close(nl);
	if (err) {
		fprintf(stderr, "esptcp: reading the netns counters: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < ESPTCP_STAT_MAX; i++)
		printf("%s %" PRIu64 "\n", esptcp_stat_name(i), stats[i]);
	return 0;
}
