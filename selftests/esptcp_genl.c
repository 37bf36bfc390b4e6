// SPDX-License-Identifier: GPL-2.0
/* The esptcp generic netlink family for the test programs (esptcp_genl.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/genetlink.h>

#include "esptcp_genl.h"

static struct nlmsghdr *put_hdr(char *buf, uint16_t type, uint16_t flags,
				uint8_t cmd, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *gh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = ESPTCP_GENL_VERSION;
	return nlh;
}

/* send @nlh and run @cb on every answer until the ack or the dump's end */
static int talk(struct tgenl *g, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	unsigned int portid = mnl_socket_get_portid(g->nl);
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, cb, data);
	} while (rc > 0);
	if (rc < 0 && errno == EINTR) {
		/* NLM_F_DUMP_INTR: read the dump to its end, then say so */
		for (;;) {
			const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
			int len = n;

			for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len))
				if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR)
					return -EINTR;
			n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
			if (n <= 0)
				return -EIO;
		}
	}
	return rc < 0 ? -errno : 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

int tgenl_open(struct tgenl *g)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int rc;

	memset(g, 0, sizeof(*g));
	g->seq = time(NULL);
	g->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!g->nl)
		return -errno;
	if (mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		tgenl_close(g);
		return rc;
	}
	nlh = put_hdr(buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, ++g->seq);
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, ESPTCP_GENL_NAME);
	rc = talk(g, nlh, family_cb, &g->family);
	if (!rc && !g->family)
		rc = -ENOENT;
	if (rc)
		tgenl_close(g);
	return rc;
}

void tgenl_close(struct tgenl *g)
{
	if (g->nl)
		mnl_socket_close(g->nl);
	g->nl = NULL;
}

static int sa_request(struct tgenl *g, int cmd, uint64_t ino, const struct esptcp_sa *sa,
		      int encap)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = put_hdr(buf, g->family, NLM_F_ACK, cmd, ++g->seq);
	if (ino)
		mnl_attr_put_u64(nlh, ESPTCP_A_SOCK_INO, ino);
	nest = mnl_attr_nest_start(nlh, ESPTCP_A_SA);
	mnl_attr_put_u16(nlh, ESPTCP_SA_A_FAMILY, sa->family);
	mnl_attr_put_u8(nlh, ESPTCP_SA_A_DIR, sa->dir);
	mnl_attr_put(nlh, ESPTCP_SA_A_SPI, sizeof(sa->spi), &sa->spi);
	mnl_attr_put(nlh, ESPTCP_SA_A_DADDR, sa->family == AF_INET ? 4 : 16, sa->daddr);
	mnl_attr_put_u32(nlh, ESPTCP_SA_A_MARK, sa->mark);
	if (encap >= 0)
		mnl_attr_put_u16(nlh, ESPTCP_SA_A_ENCAP, encap);
	mnl_attr_nest_end(nlh, nest);
	return talk(g, nlh, NULL, NULL);
}

int tgenl_sa(struct tgenl *g, int cmd, uint64_t ino, const struct esptcp_sa *sa)
{
	return sa_request(g, cmd, ino, sa, -1);
}

int tgenl_sa_encap(struct tgenl *g, int cmd, uint64_t ino, const struct esptcp_sa *sa,
		   uint16_t encap)
{
	return sa_request(g, cmd, ino, sa, encap);
}

struct dump_count {
	uint64_t last, ino;	/* the socket of the previous message; the one asked for */
	int all;		/* count the bindings of every socket, not @ino's */
	int socks, parts, sas;
};

/* a socket whose bindings do not fit one message comes in several in a row */
static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_count *d = data;
	struct nlattr *a, *s;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		uint64_t ino = 0;
		int sas = 0;

		if (mnl_attr_get_type(a) != ESPTCP_A_SOCK)
			continue;
		mnl_attr_for_each_nested(s, a) {
			if (mnl_attr_get_type(s) == ESPTCP_SOCK_A_INO &&
			    mnl_attr_get_payload_len(s) == sizeof(uint64_t))
				ino = mnl_attr_get_u64(s);
			sas += mnl_attr_get_type(s) == ESPTCP_SOCK_A_SA;
		}
		if (ino != d->last || !d->socks)
			d->socks++;
		d->last = ino;
		if (ino == d->ino || d->all) {
			d->parts++;
			d->sas += sas;
		}
	}
	return MNL_CB_OK;
}

int tgenl_dump_sock(struct tgenl *g, uint64_t ino, int *parts)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_count d = { .ino = ino };
	struct nlmsghdr *nlh;
	int rc;

	/* a change under the dump (NLM_F_DUMP_INTR): dump again */
	for (int tries = 0; tries < 5; tries++) {
		memset(&d, 0, sizeof(d));
		d.ino = ino;
		nlh = put_hdr(buf, g->family, NLM_F_DUMP, ESPTCP_CMD_SOCK_GET, ++g->seq);
		rc = talk(g, nlh, count_cb, &d);
		if (rc != -EINTR)
			break;
	}
	if (parts)
		*parts = d.parts;
	return rc ?: (ino ? d.sas : d.socks);
}

int tgenl_dump_intr(struct tgenl *g, void (*between)(void *), void *arg)
{
	return tgenl_dump_between(g, between, arg, NULL);
}

int tgenl_dump_between(struct tgenl *g, void (*between)(void *), void *arg, int *sas)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct nlmsghdr *nlh = put_hdr(buf, g->family, NLM_F_DUMP, ESPTCP_CMD_SOCK_GET, ++g->seq);
	struct dump_count d = {};
	int intr = 0, first = 1;
	ssize_t n;

	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
		int len;

		n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (first && between)
			between(arg);
		first = 0;
		for (len = n; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			intr |= !!(m->nlmsg_flags & NLM_F_DUMP_INTR);
			if (m->nlmsg_type == NLMSG_DONE) {
				if (sas)
					*sas = d.sas;
				return intr;
			}
			if (m->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			/* every socket's bindings: count them all */
			d.ino = 0;
			d.all = 1;
			count_cb(m, &d);
		}
	}
}

int tgenl_dump(struct tgenl *g)
{
	return tgenl_dump_sock(g, 0, NULL);
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	uint64_t *c = data;
	struct nlattr *a, *s;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != ESPTCP_A_STATS)
			continue;
		mnl_attr_for_each_nested(s, a) {
			unsigned int i = mnl_attr_get_type(s);

			if (i >= 1 && i <= ESPTCP_STAT_MAX &&
			    mnl_attr_get_payload_len(s) == sizeof(uint64_t))
				c[i - 1] = mnl_attr_get_u64(s);
		}
	}
	return MNL_CB_OK;
}

int tgenl_stats(struct tgenl *g, uint64_t *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(c, 0, ESPTCP_STAT_MAX * sizeof(*c));
	nlh = put_hdr(buf, g->family, NLM_F_ACK, ESPTCP_CMD_STATS_GET, ++g->seq);
	return talk(g, nlh, stats_cb, c);
}
