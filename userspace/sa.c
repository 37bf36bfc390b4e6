// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: SAs on the command line.  An SA is named the way xfrm names
 * it, "SPI[@DADDR]" plus a direction and a mark; this parses that and holds
 * the names under which directions, encapsulations and counters are printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/udp.h>

#include "esptcp.h"

static const char *const stat_names[] = {
	[ESPTCP_STAT_RX_ESP_PKTS]	= "rx_esp_pkts",
	[ESPTCP_STAT_RX_ESP_BYTES]	= "rx_esp_bytes",
	[ESPTCP_STAT_TX_ESP_PKTS]	= "tx_esp_pkts",
	[ESPTCP_STAT_TX_ESP_BYTES]	= "tx_esp_bytes",
	[ESPTCP_STAT_RX_IKE_MSGS]	= "rx_ike_msgs",
	[ESPTCP_STAT_RX_IKE_BYTES]	= "rx_ike_bytes",
	[ESPTCP_STAT_TX_IKE_MSGS]	= "tx_ike_msgs",
	[ESPTCP_STAT_TX_IKE_BYTES]	= "tx_ike_bytes",
	[ESPTCP_STAT_RX_KEEPALIVES]	= "rx_keepalives",
	[ESPTCP_STAT_RX_DROP_SHORT]	= "rx_drop_short",
	[ESPTCP_STAT_RX_DROP_NO_SA]	= "rx_drop_no_sa",
	[ESPTCP_STAT_RX_IKE_PAUSED]	= "rx_ike_paused",
	[ESPTCP_STAT_RX_DROP_NOMEM]	= "rx_drop_nomem",
	[ESPTCP_STAT_RX_BAD_LENGTH]	= "rx_bad_length",
	[ESPTCP_STAT_TX_DROP_QUEUE]	= "tx_drop_queue",
	[ESPTCP_STAT_TX_DROP_CLOSED]	= "tx_drop_closed",
	[ESPTCP_STAT_TX_DROP_NOMEM]	= "tx_drop_nomem",
	[ESPTCP_STAT_TX_DROP_TOO_BIG]	= "tx_drop_too_big",
	[ESPTCP_STAT_TX_REORDERED]	= "tx_reordered",
	[ESPTCP_STAT_TX_SEQ_GAPS]	= "tx_seq_gaps",
	[ESPTCP_STAT_RX_ESP_PAUSED]	= "rx_esp_paused",
};

_Static_assert(ARRAY_SIZE(stat_names) == ESPTCP_STAT_MAX,
	       "every counter in enum esptcp_stat needs a name");

const char *esptcp_stat_name(unsigned int i)
{
	if (i >= ESPTCP_STAT_MAX || !stat_names[i])
		return "unknown";
	return stat_names[i];
}

const char *esptcp_dir_name(unsigned int dir)
{
	switch (dir) {
	case ESPTCP_DIR_IN:
		return "in";
	case ESPTCP_DIR_OUT:
		return "out";
	}
	return "unknown";
}

const char *esptcp_encap_name(unsigned int encap, char *buf, size_t len)
{
	if (!encap)
		return "none";
	if (encap == UDP_ENCAP_ESPINUDP)
		return "espinudp";
	snprintf(buf, len, "%u", encap);
	return buf;
}

/*
 * A number in hex with 0x, or else in decimal.  strtoull() alone would read
 * a leading zero as octal and accept signs and blanks; none of that is wanted
 * for SPIs, marks and inode numbers.
 */
int esptcp_parse_num(const char *s, uint64_t max, uint64_t *v)
{
	const char *digits = "0123456789";
	unsigned long long x;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = "0123456789abcdefABCDEF";
		base = 16;
		s += 2;
	}
	if (!*s || s[strspn(s, digits)])
		return -1;
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || *end || x > max)
		return -1;
	*v = x;
	return 0;
}

/* Take @addr as the SA's destination; an IPv4-mapped IPv6 address is IPv4. */
void esptcp_sa_set_daddr(struct esptcp_sa *sa, int family, const void *addr)
{
	memset(sa->daddr, 0, sizeof(sa->daddr));
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
		family = AF_INET;
		addr = (const uint8_t *)addr + 12;
	}
	sa->family = family;
	memcpy(sa->daddr, addr, family == AF_INET ? 4 : 16);
}

static int parse_addr(const char *s, struct esptcp_sa *sa)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(s);
	uint8_t addr[16];

	/* allow [v6addr], as it is written next to a port elsewhere */
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		esptcp_sa_set_daddr(sa, AF_INET, addr);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		esptcp_sa_set_daddr(sa, AF_INET6, addr);
		return 0;
	}
	return -1;
}

/*
 * Parse "SPI[@DADDR]" for direction @dir and append it to @l.  Without
 * DADDR the SA's family stays AF_UNSPEC for the caller to fill in.
 */
int esptcp_sa_list_add(struct esptcp_sa_list *l, const char *arg, int dir)
{
	const char *opt = dir == ESPTCP_DIR_IN ? "--in" : "--out";
	const char *at = strchr(arg, '@');
	struct esptcp_sa sa = { .dir = dir };
	struct esptcp_sa *grown;
	char spi[24];
	size_t len = at ? (size_t)(at - arg) : strlen(arg);
	uint64_t v;

	if (len >= sizeof(spi))
		goto bad_spi;
	memcpy(spi, arg, len);
	spi[len] = '\0';
	/* SPI 0 is reserved (RFC 4303 section 2.1) and never names a state */
	if (esptcp_parse_num(spi, UINT32_MAX, &v) < 0 || !v)
		goto bad_spi;
	sa.spi = htonl(v);
	if (at && parse_addr(at + 1, &sa) < 0) {
		fprintf(stderr, "esptcp: %s %s: '%s' is not an IPv4 or IPv6 address\n",
			opt, arg, at + 1);
		return -1;
	}
	grown = realloc(l->sa, (l->n + 1) * sizeof(*l->sa));
	if (!grown) {
		perror("esptcp");
		return -1;
	}
	l->sa = grown;
	l->sa[l->n++] = sa;
	return 0;

bad_spi:
	fprintf(stderr, "esptcp: %s %s: SPI must be 0x<hex> or decimal, 1 to 0xffffffff\n",
		opt, arg);
	return -1;
}

void esptcp_sa_list_free(struct esptcp_sa_list *l)
{
	free(l->sa);
	l->sa = NULL;
	l->n = 0;
}

const char *esptcp_inaddr_str(int family, const void *addr, char *buf, size_t len)
{
	if ((family != AF_INET && family != AF_INET6) ||
	    !inet_ntop(family, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* "out spi 0x00000100 dst 192.0.2.1 mark 0x5", in the words of ip-xfrm(8) */
const char *esptcp_sa_str(const struct esptcp_sa *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	n = snprintf(buf, len, "%s spi 0x%08x dst %s", esptcp_dir_name(sa->dir), ntohl(sa->spi),
		     sa->family ? esptcp_inaddr_str(sa->family, sa->daddr, a, sizeof(a)) : "?");
	if (sa->mark && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " mark 0x%x", sa->mark);
	return buf;
}

/* Why a bind or unbind failed, for errors that say little by themselves. */
static const char *sa_error_hint(int binding, int err)
{
	switch (err) {
	case ENOENT:
		return binding ? "no such xfrm state: see 'ip xfrm state'" : "SA not bound there";
	case EEXIST:
		return "a state with that SPI and destination but another mark is bound";
	case EOPNOTSUPP:
		return "encapsulation other than none or espinudp, or (outbound) a state that "
		       "may use ESP offload: unload esp4_offload/esp6_offload and add it again";
	case ENOTCONN:
		return "the socket is closing, or there is no such socket";
	case EPERM:
		return "needs CAP_NET_ADMIN";
	}
	return NULL;
}

/* One error line for a failed bind or unbind, with the kernel's @detail if any. */
void esptcp_sa_error(const char *what, const struct esptcp_sa *sa, int err,
		     const char *detail)
{
	char s[128];

	if (!detail || !*detail)
		detail = sa_error_hint(!strcmp(what, "binding"), err);
	fprintf(stderr, "esptcp: %s %s: %s", what, esptcp_sa_str(sa, s, sizeof(s)),
		strerror(err));
	if (detail)
		fprintf(stderr, " (%s)", detail);
	fputc('\n', stderr);
}

/*
 * --in SPI[@DADDR], --out SPI[@DADDR] and --mark N, for every command that
 * names SAs.  Returns 0, or -1 after saying what is wrong.
 */
int esptcp_sa_opt(int c, const char *arg, struct esptcp_sa_list *l, uint64_t *mark)
{
	if (c == 'm') {
		if (esptcp_parse_num(arg, UINT32_MAX, mark) < 0) {
			fprintf(stderr, "esptcp: --mark %s: not a 32-bit number\n", arg);
			return -1;
		}
		return 0;
	}
	return esptcp_sa_list_add(l, arg, c == ESPTCP_OPT_IN ? ESPTCP_DIR_IN : ESPTCP_DIR_OUT);
}

/* One --mark names every SA of the command. */
void esptcp_sa_list_set_mark(struct esptcp_sa_list *l, uint64_t mark)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		l->sa[i].mark = mark;
}
