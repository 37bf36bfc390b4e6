// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: entry point.  One *_main() per subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "esptcp.h"
#include "ike.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} subcommands[] = {
	{ "ike", esptcp_ike_main, "run the IKEv2 helper from a configuration file" },
	{ "connect", esptcp_connect_main, "open a carrier connection to a peer (TCP originator)" },
	{ "listen", esptcp_listen_main, "accept a carrier connection from a peer (TCP responder)" },
	{ "bind", esptcp_bind_main, "bind an SA to an attached socket (or move it there)" },
	{ "unbind", esptcp_unbind_main, "unbind an SA: its ESP goes the way xfrm sends it" },
	{ "show", esptcp_show_main, "list attached sockets, their SAs and counters" },
	{ "stats", esptcp_stats_main, "print the namespace's counters, one per line" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: esptcp COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].what);
	fprintf(f, "\n'esptcp COMMAND --help' describes each; see esptcp(8).\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "esptcp: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
