// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: all of its netlink, to the generic netlink family "esptcp",
 * through libmnl.  One request at a time on a blocking socket; replies are
 * parsed into plain structs, attributes this version does not know are
 * skipped, and the kernel's extended-ack text is kept for the error line.
 * Functions return 0 or -errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>

#include "esptcp.h"

/* a dump fills skbs up to 32 KiB when the reader's buffer is that large */
#define NL_RECV_SIZE	32768

struct esptcp_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	uint16_t family;
	char ext_msg[256];
};

/* what every reply of one request is parsed with */
struct nl_req {
	struct esptcp_nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int ext_attr_cb(const struct nlattr *attr, void *data)
{
	struct esptcp_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->ext_msg, sizeof(nl->ext_msg), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t plen = mnl_nlmsg_get_payload_len(nlh);
	struct nl_req *req = data;
	size_t off;

	if (plen < sizeof(*err)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* the TLVs follow the echoed request, or just its header if capped */
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    err->msg.nlmsg_len >= sizeof(struct nlmsghdr))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < plen)
			mnl_attr_parse(nlh, off, ext_attr_cb, req->nl);
	}
	if (!err->error)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

/* a dump ends with NLMSG_DONE, whose payload is the dump's error code */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req *req = data;
	int err = 0;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err)) {
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			mnl_attr_parse(nlh, sizeof(err), ext_attr_cb, req->nl);
	}
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req *req = data;

	return req->cb(nlh, req->data);
}

/* Send @nlh and feed every reply to @cb until the ack, the dump's end or an error. */
/*
 * A dump that changed under it: read the rest of its messages (libmnl
 * stops at each one marked NLM_F_DUMP_INTR) so that the socket is clean
 * for the next request; -EINTR then, for the caller to dump again.
 */
static int nl_drain(struct esptcp_nl *nl, char *buf, ssize_t n, unsigned int seq)
{
	for (;;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE ||
						      nlh->nlmsg_type == NLMSG_ERROR))
				return -EINTR;
		do
			n = mnl_socket_recvfrom(nl->sock, buf, NL_RECV_SIZE);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
	}
}

static int nl_talk(struct esptcp_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = nl_error_cb,
		[NLMSG_DONE] = nl_done_cb,
	};
	struct nl_req req = { .nl = nl, .cb = cb, .data = data };
	static char buf[NL_RECV_SIZE];
	unsigned int seq;
	ssize_t n;
	int ret = MNL_CB_OK;

	nl->ext_msg[0] = '\0';
	seq = ++nl->seq;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		ret = mnl_cb_run2(buf, n, seq, nl->portid, cb ? nl_data_cb : NULL, &req,
				  ctl, MNL_ARRAY_SIZE(ctl));
		/* NLM_F_DUMP_INTR: the table changed under the dump */
		if (ret < 0 && errno == EINTR)
			return nl_drain(nl, buf, n, seq);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *nl_start(char *buf, uint16_t type, uint16_t flags, uint8_t cmd,
				 uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	struct esptcp_nl *nl = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
		nl->family = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
}

/*
 * Open a generic netlink socket and look up the family id of "esptcp".
 * Prints why on failure; "module not loaded" when the family is missing.
 */
struct esptcp_nl *esptcp_nl_open(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct esptcp_nl *nl;
	struct nlmsghdr *nlh;
	int one = 1, err;

	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		perror("esptcp");
		return NULL;
	}
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("esptcp: generic netlink socket");
		goto err;
	}
	/* error text from the kernel, without the echoed request; older kernels lack both */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = time(NULL);

	nlh = nl_start(buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, ESPTCP_GENL_NAME);
	err = nl_talk(nl, nlh, family_cb, nl);
	if (err == -ENOENT) {
		fprintf(stderr, "esptcp: esptcp module not loaded (no generic netlink family %s)\n",
			ESPTCP_GENL_NAME);
		goto err;
	}
	if (err) {
		fprintf(stderr, "esptcp: looking up generic netlink family %s: %s\n",
			ESPTCP_GENL_NAME, strerror(-err));
		goto err;
	}
	if (!nl->family) {
		fprintf(stderr, "esptcp: no id for generic netlink family %s in the reply\n",
			ESPTCP_GENL_NAME);
		goto err;
	}
	return nl;
err:
	esptcp_nl_close(nl);
	return NULL;
}

void esptcp_nl_close(struct esptcp_nl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

/* The kernel's extended-ack message for the last request, or "". */
const char *esptcp_nl_ext_msg(const struct esptcp_nl *nl)
{
	return nl->ext_msg;
}

static void put_sock_ref(struct nlmsghdr *nlh, const struct esptcp_sock_ref *ref)
{
	if (!ref)
		return;
	if (ref->fd >= 0)
		mnl_attr_put_u32(nlh, ESPTCP_A_SOCK_FD, ref->fd);
	else if (ref->ino)
		mnl_attr_put_u64(nlh, ESPTCP_A_SOCK_INO, ref->ino);
}

static void put_sa(struct nlmsghdr *nlh, const struct esptcp_sa *sa)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, ESPTCP_A_SA);

	mnl_attr_put_u16(nlh, ESPTCP_SA_A_FAMILY, sa->family);
	mnl_attr_put_u8(nlh, ESPTCP_SA_A_DIR, sa->dir);
	mnl_attr_put(nlh, ESPTCP_SA_A_SPI, sizeof(sa->spi), &sa->spi);
	mnl_attr_put(nlh, ESPTCP_SA_A_DADDR, sa->family == AF_INET ? 4 : 16, sa->daddr);
	mnl_attr_put_u32(nlh, ESPTCP_SA_A_MARK, sa->mark);
	mnl_attr_nest_end(nlh, nest);
}

static int sa_cmd(struct esptcp_nl *nl, uint8_t cmd, const struct esptcp_sock_ref *ref,
		  const struct esptcp_sa *sa)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = nl_start(buf, nl->family, NLM_F_ACK, cmd, ESPTCP_GENL_VERSION);
	put_sock_ref(nlh, ref);
	put_sa(nlh, sa);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* Bind @sa to the socket @ref names (moving it if it is bound elsewhere). */
int esptcp_nl_sa_bind(struct esptcp_nl *nl, const struct esptcp_sock_ref *ref,
		      const struct esptcp_sa *sa)
{
	return sa_cmd(nl, ESPTCP_CMD_SA_BIND, ref, sa);
}

/* Unbind @sa; @ref may be NULL, or name the socket it must be bound to. */
int esptcp_nl_sa_unbind(struct esptcp_nl *nl, const struct esptcp_sock_ref *ref,
			const struct esptcp_sa *sa)
{
	return sa_cmd(nl, ESPTCP_CMD_SA_UNBIND, ref, sa);
}

/* A stats nest: attribute i + 1 is counter i; counters newer than us are skipped. */
static int parse_stats(const struct nlattr *nest, uint64_t stats[ESPTCP_STAT_MAX])
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		unsigned int t = mnl_attr_get_type(a);

		if (t < 1 || t > ESPTCP_STAT_MAX)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return -1;
		stats[t - 1] = mnl_attr_get_u64(a);
	}
	return 0;
}

/* copy a 4- or 16-byte address attribute, checked later against the family */
static int get_addr(const struct nlattr *a, uint8_t *out, size_t *len)
{
	*len = mnl_attr_get_payload_len(a);
	if (*len != 4 && *len != 16) {
		errno = EPROTO;
		return -1;
	}
	memcpy(out, mnl_attr_get_payload(a), *len);
	return 0;
}

static size_t family_addr_len(unsigned int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int parse_sa(const struct nlattr *nest, struct esptcp_binding *b)
{
	const struct nlattr *a;
	size_t alen = 0;

	memset(b, 0, sizeof(*b));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case ESPTCP_SA_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			b->sa.family = mnl_attr_get_u16(a);
			break;
		case ESPTCP_SA_A_DIR:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -1;
			b->sa.dir = mnl_attr_get_u8(a);
			break;
		case ESPTCP_SA_A_SPI:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -1;
			memcpy(&b->sa.spi, mnl_attr_get_payload(a), sizeof(b->sa.spi));
			break;
		case ESPTCP_SA_A_DADDR:
			if (get_addr(a, b->sa.daddr, &alen) < 0)
				return -1;
			break;
		case ESPTCP_SA_A_MARK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -1;
			b->sa.mark = mnl_attr_get_u32(a);
			break;
		case ESPTCP_SA_A_ENCAP:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			b->encap = mnl_attr_get_u16(a);
			break;
		}
	}
	if (!alen || alen != family_addr_len(b->sa.family)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int add_binding(struct esptcp_sock_info *s, const struct nlattr *nest)
{
	struct esptcp_binding *grown;

	grown = realloc(s->sas, (s->nsas + 1) * sizeof(*s->sas));
	if (!grown)
		return -1;
	s->sas = grown;
	if (parse_sa(nest, &s->sas[s->nsas]) < 0)
		return -1;
	s->nsas++;
	return 0;
}

static int parse_sock(const struct nlattr *nest, struct esptcp_sock_info *s)
{
	size_t llen = 0, rlen = 0, want;
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case ESPTCP_SOCK_A_INO:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -1;
			s->ino = mnl_attr_get_u64(a);
			break;
		case ESPTCP_SOCK_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			s->family = mnl_attr_get_u16(a);
			break;
		case ESPTCP_SOCK_A_LOCAL:
			if (get_addr(a, s->local, &llen) < 0)
				return -1;
			break;
		case ESPTCP_SOCK_A_REMOTE:
			if (get_addr(a, s->remote, &rlen) < 0)
				return -1;
			break;
		case ESPTCP_SOCK_A_LPORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			s->lport = mnl_attr_get_u16(a);
			break;
		case ESPTCP_SOCK_A_RPORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			s->rport = mnl_attr_get_u16(a);
			break;
		case ESPTCP_SOCK_A_SA:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 || add_binding(s, a) < 0)
				return -1;
			break;
		case ESPTCP_SOCK_A_STATS:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
			    parse_stats(a, s->stats) < 0)
				return -1;
			s->has_stats = 1;
			break;
		case ESPTCP_SOCK_A_QUEUED:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -1;
			s->queued = mnl_attr_get_u32(a);
			break;
		}
	}
	want = family_addr_len(s->family);
	if (!s->ino || !want || llen != want || rlen != want) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

struct sock_dump {
	struct esptcp_sock_info *socks;
	size_t n;
};

/* the inode number a socket's nest names, 0 if none */
static uint64_t sock_ino(const struct nlattr *nest)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) == ESPTCP_SOCK_A_INO &&
		    mnl_attr_validate(a, MNL_TYPE_U64) == 0)
			return mnl_attr_get_u64(a);
	return 0;
}

/*
 * A socket whose bindings do not fit one message comes in several, one
 * after the other, each naming it: their bindings add up.
 */
static int sock_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sock_dump *d = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		struct esptcp_sock_info *grown;
		uint64_t ino;

		if (mnl_attr_get_type(a) != ESPTCP_A_SOCK)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		ino = sock_ino(a);
		if (ino && d->n && d->socks[d->n - 1].ino == ino) {
			if (parse_sock(a, &d->socks[d->n - 1]) < 0)
				return MNL_CB_ERROR;
			continue;
		}
		grown = realloc(d->socks, (d->n + 1) * sizeof(*d->socks));
		if (!grown)
			return MNL_CB_ERROR;
		d->socks = grown;
		memset(&d->socks[d->n], 0, sizeof(d->socks[d->n]));
		/* count it even when parsing fails, so its bindings are freed */
		if (parse_sock(a, &d->socks[d->n++]) < 0)
			return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* Every socket with the ULP in this netns; free with esptcp_sock_info_free(). */
int esptcp_nl_sock_dump(struct esptcp_nl *nl, struct esptcp_sock_info **socks, size_t *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sock_dump d = { NULL, 0 };
	struct nlmsghdr *nlh;
	int err, tries = 0;

	/* a bind, unbind, attach or close during the dump: dump again */
	do {
		esptcp_sock_info_free(d.socks, d.n);
		d.socks = NULL;
		d.n = 0;
		nlh = nl_start(buf, nl->family, NLM_F_DUMP, ESPTCP_CMD_SOCK_GET,
			       ESPTCP_GENL_VERSION);
		err = nl_talk(nl, nlh, sock_dump_cb, &d);
	} while (err == -EINTR && ++tries < 5);
	if (err) {
		esptcp_sock_info_free(d.socks, d.n);
		return err;
	}
	*socks = d.socks;
	*n = d.n;
	return 0;
}

void esptcp_sock_info_free(struct esptcp_sock_info *socks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(socks[i].sas);
	free(socks);
}

struct stats_get {
	uint64_t *stats;
	int found;
};

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats_get *g = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != ESPTCP_A_STATS)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 || parse_stats(a, g->stats) < 0)
			return MNL_CB_ERROR;
		g->found = 1;
	}
	return MNL_CB_OK;
}

/* The netns counters; ones the kernel does not report read 0. */
int esptcp_nl_stats_get(struct esptcp_nl *nl, uint64_t stats[ESPTCP_STAT_MAX])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct stats_get g = { .stats = stats };
	struct nlmsghdr *nlh;
	int err;

	memset(stats, 0, ESPTCP_STAT_MAX * sizeof(stats[0]));
	nlh = nl_start(buf, nl->family, NLM_F_ACK, ESPTCP_CMD_STATS_GET, ESPTCP_GENL_VERSION);
	err = nl_talk(nl, nlh, stats_cb, &g);
	if (!err && !g.found)
		err = -EPROTO;
	return err;
}
