// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp_fuzz: a stream fuzzer for the module that knows RFC 9329 framing.
 *
 * Run as root in a network namespace of its own (fuzz_kernel.sh makes it):
 * the "gateway" address (10.77.0.1, fd77::1) and the "peer" address
 * (10.77.0.2, fd77::2) are on lo.  Many connections run at once; on each,
 * the gateway end is attached and has its own inbound SA bound, and the
 * peer end is a plain TCP socket that writes a generated stream in rounds:
 * valid IKE and ESP frames, mutated ones (length off by one, lengths
 * 0/1/2/5/65535, truncated frames, markers swapped, unknown SPIs, SPIs bound
 * to another connection or being moved), keepalives and random bytes,
 * written in random pieces and, for some frames, split at every offset.
 * The gateway end sends IKE messages back; a racing thread binds, unbinds
 * and moves SAs between the connections, dumps the sockets and shuts
 * connections down mid-stream; a tunnel pair carries ESP both ways all the
 * while.
 *
 * Every round is checked against a model of the parser run over the bytes
 * written: the IKE messages recv() returns (all of them, intact, in order),
 * the socket's counters (frames by class), every valid ESP frame of the
 * connection's own SA decrypted and delivered, every IKE message the
 * gateway sent received intact.  With -f (allocation faults on) the checks
 * allow counted drops and connections ended with an errno, never more.
 *
 * Usage: esptcp_fuzz [-6] [-f] [-v] [-c conns] [-b bytes] [-t seconds] [-s seed]
 *                    [-j report.json]
 * It stops after -b bytes (default 64 MiB) or -t seconds, whichever comes
 * first; -v writes valid frames only (no mutations).  A round that stalls
 * (see run_round()) fails, except under faults.
 * Exit status 0 when every check held.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "esptcp_genl.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define MAX_CONNS	64
#define SPI_OWN		0x00100000u	/* + connection: its own inbound SA */
#define SPI_RACE	0x00200000u	/* + k: moved between connections */
#define N_RACE		8
#define SPI_T1		0x00300001u	/* tunnel, peer to gateway */
#define SPI_T2		0x00300002u	/* tunnel, gateway to peer */
#define SPI_Z		0x00300003u	/* outbound, moved between connections */
#define PORT_TCP	4500
#define PORT_SINK	20000		/* + connection */
#define PORT_RACE	29999
#define PORT_T1		30001
#define PORT_T2		30002
#define PORT_Z		30003
#define MAGIC		0x45465a5au	/* "EFZZ" */
#define MAX_ROUND	(1 << 20)
#define MAX_FRAMES	4096
#define MAX_VALID	2048
#define MAX_CUTS	(MAX_FRAMES * 4)
#define BUF_SLACK	(128 << 10)	/* one frame past the round's budget */

enum fclass { C_IKE, C_ESP_OWN, C_ESP_OTHER, C_ESP_RACE, C_ESP_UNKNOWN,
	      C_KEEPALIVE, C_SHORT, C_BAD, C_MAX };
static const char *const class_name[C_MAX] = {
	"ike", "esp_own", "esp_other_socket", "esp_being_moved", "esp_unknown_spi",
	"keepalive", "short", "bad_length",
};
enum mut { M_NONE, M_LEN_PLUS, M_LEN_MINUS, M_LEN_ODD, M_TRUNC, M_SWAP,
	   M_RANDOM, M_SPLIT_SWEEP, M_MAX };
static const char *const mut_name[M_MAX] = {
	"valid", "length_plus_one", "length_minus_one", "length_0_1_2_5_65535",
	"truncated", "marker_swapped", "random_bytes", "split_at_every_offset",
};

static int family = AF_INET, nconns = 16, faults, valid_only;
static uint64_t want_bytes = 64ull << 20;
static unsigned int seconds = 0, seed;
static const char *json;
static union { struct in_addr a4; struct in6_addr a6; } gw_addr, peer_addr;
static atomic_bool stop;
static atomic_ullong fed, rounds, aborted, mut_count[M_MAX], cls_count[C_MAX];
static atomic_ullong ike_to_peer, z_frames, esp_delivered, failures;
static atomic_ullong t_sent[2], t_recv[2], race_ops, race_dumps, race_shut, sink_all, sink_other;
static atomic_ullong fault_stalls, stalls;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&log_lock);
	fputs("# FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&log_lock);
	atomic_fetch_add(&failures, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift, one state per thread */
static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s >> 11;
}

static uint32_t rnd_upto(uint64_t *s, uint32_t n)
{
	return n ? rnd(s) % n : 0;
}

static socklen_t sockaddr_of(struct sockaddr_storage *ss, bool gw, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (void *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		s->sin_addr = gw ? gw_addr.a4 : peer_addr.a4;
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (void *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	s6->sin6_addr = gw ? gw_addr.a6 : peer_addr.a6;
	return sizeof(*s6);
}

static void sa_of(struct esptcp_sa *sa, uint32_t spi, int dir, bool to_gw)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = family;
	sa->dir = dir;
	sa->spi = htonl(spi);
	if (family == AF_INET)
		memcpy(sa->daddr, to_gw ? &gw_addr.a4 : &peer_addr.a4, 4);
	else
		memcpy(sa->daddr, to_gw ? &gw_addr.a6 : &peer_addr.a6, 16);
}

static int so_sa(int fd, int op, uint32_t spi, int dir, bool to_gw)
{
	struct esptcp_sa sa;

	sa_of(&sa, spi, dir, to_gw);
	return setsockopt(fd, SOL_ESPTCP, op, &sa, sizeof(sa)) ? -errno : 0;
}

static int udp_socket(bool gw, uint16_t port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, gw, port);
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (void *)&ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A connected pair through listener @lfd on @port: *pfd the peer end, *gfd
 * the gateway end (not attached).  Each user has a listener of its own.
 */
static int tcp_pair(int lfd, uint16_t port, int *pfd, int *gfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, true, port);
	int one = 1;

	*pfd = socket(family, SOCK_STREAM, 0);
	if (*pfd < 0)
		return -errno;
	sockaddr_of(&ss, false, 0);
	if (bind(*pfd, (void *)&ss, len))
		goto err;
	sockaddr_of(&ss, true, port);
	if (connect(*pfd, (void *)&ss, len))
		goto err;
	*gfd = accept(lfd, NULL, NULL);
	if (*gfd < 0)
		goto err;
	setsockopt(*pfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
err:
	one = -errno;
	close(*pfd);
	return one;
}

static int listener(uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, true, port);
	int fd = socket(family, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, len) || listen(fd, 8)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int attach(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, ESPTCP_ULP_NAME,
			  strlen(ESPTCP_ULP_NAME)) ? -errno : 0;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

/*
 * The checksum of UDP datagram @u of @ulen bytes from the peer to the
 * gateway, over the pseudo-header: 0 when the checksum field it holds is
 * right (then the kernel accepts it), the field's value when it holds 0.
 */
static uint16_t udp_csum(const uint8_t *u, size_t ulen)
{
	uint8_t ph[40] = { 0 };
	size_t al = family == AF_INET ? 4 : 16;

	memcpy(ph, family == AF_INET ? (void *)&peer_addr.a4 : (void *)&peer_addr.a6, al);
	memcpy(ph + al, family == AF_INET ? (void *)&gw_addr.a4 : (void *)&gw_addr.a6, al);
	ph[2 * al + 1] = IPPROTO_UDP;
	ph[2 * al + 2] = ulen >> 8;
	ph[2 * al + 3] = ulen & 0xff;
	return csum_fold(csum_add(csum_add(0, ph, 2 * al + 4), u, ulen));
}

/*
 * One valid ESP packet of SA @spi (transport mode, null cipher, no ICV)
 * carrying a UDP datagram from the peer to the gateway's port @dport with
 * the tag (magic, connection, round, serial) and @fill bytes; written at
 * @p, returns its length.
 */
static size_t esp_packet(uint8_t *p, uint32_t spi, uint32_t seq, uint16_t dport,
			 uint16_t conn, uint32_t round, uint32_t serial,
			 size_t fill, uint64_t *rs)
{
	size_t ulen = 8 + 14 + fill, pad, i, n;
	uint8_t *u = p + 8;
	uint32_t s;

	pad = (4 - (ulen + 2) % 4) % 4;
	*(uint32_t *)p = htonl(spi);
	*(uint32_t *)(p + 4) = htonl(seq);
	u[0] = PORT_TCP >> 8;	/* source port: any */
	u[1] = PORT_TCP & 0xff;
	u[2] = dport >> 8;
	u[3] = dport & 0xff;
	u[4] = ulen >> 8;
	u[5] = ulen & 0xff;
	u[6] = u[7] = 0;
	*(uint32_t *)(u + 8) = htonl(MAGIC);
	*(uint16_t *)(u + 12) = htons(conn);
	*(uint32_t *)(u + 14) = htonl(round);
	*(uint32_t *)(u + 18) = htonl(serial);
	for (i = 0; i < fill; i++)
		u[22 + i] = rnd(rs);
	s = udp_csum(u, ulen) ?: 0xffff;
	u[6] = s >> 8;
	u[7] = s & 0xff;
	n = 8 + ulen;
	for (i = 1; i <= pad; i++)
		p[n++] = i;
	p[n++] = pad;
	p[n++] = IPPROTO_UDP;
	return n;
}

/* --- one connection --- */

struct conn {
	int id;
	pthread_t thr;
	int lfd;
	atomic_ullong ino;		/* the gateway end, for the racer; 0 between rounds */
	atomic_int gfd;			/* the gateway end, for the racer's shutdown */
	bool abortable;			/* the racer may shut this round down */
	bool shut;			/* and it did (both under @lock) */
	uint64_t rs;
	uint32_t round;
	/* the sink: which serials of this round were delivered */
	int sink;
	pthread_mutex_t lock;		/* abortable, shut, gfd for the racer */
	uint8_t got[MAX_VALID / 8];
	uint8_t intact[MAX_VALID / 8];	/* own ESP frames left as generated */
	uint64_t sink_total;		/* datagrams of its own SA, all rounds */
	uint64_t sent_valid;		/* valid ones the parser saw, all rounds */
	/* this round */
	uint8_t *buf;			/* the stream */
	size_t len;
	uint32_t valid;			/* valid own ESP frames: serials 0..valid-1 */
	uint64_t model[C_MAX];		/* what the parser must see */
	size_t nike;
	uint32_t ike_off[MAX_FRAMES], ike_len[MAX_FRAMES];
	uint32_t cut[MAX_CUTS];		/* write boundaries */
	uint32_t ncut;
};

static struct conn conns[MAX_CONNS];

/* the class the parser gives a frame: as esptcp_frame_classify() */
static enum fclass classify(struct conn *c, const uint8_t *b, size_t len)
{
	uint32_t spi;

	if (len < 2)
		return C_BAD;
	if (len == 3 && b[0] == 0xff)
		return C_KEEPALIVE;
	if (len <= 2 + 4)
		return C_SHORT;
	spi = ntohl(*(uint32_t *)b);
	if (!spi)
		return C_IKE;
	if (spi == SPI_OWN + (uint32_t)c->id)
		return C_ESP_OWN;
	if (spi >= SPI_OWN && spi < SPI_OWN + (uint32_t)nconns)
		return C_ESP_OTHER;
	if (spi >= SPI_RACE && spi < SPI_RACE + N_RACE)
		return C_ESP_RACE;
	return C_ESP_UNKNOWN;
}

/*
 * Run the parser's model over the stream: count frames by class, note the
 * IKE messages recv() must return.  Stops at a bad length (the connection
 * is reset there) or at a frame cut off by the end.
 */
static void model(struct conn *c)
{
	size_t pos = 0, flen;

	memset(c->model, 0, sizeof(c->model));
	c->nike = 0;
	while (pos + 2 <= c->len) {
		flen = (c->buf[pos] << 8) | c->buf[pos + 1];
		if (flen < 2) {
			c->model[C_BAD]++;
			break;
		}
		if (pos + flen > c->len)
			break;
		enum fclass k = classify(c, c->buf + pos + 2, flen);

		c->model[k]++;
		if (k == C_IKE && c->nike < MAX_FRAMES) {
			c->ike_off[c->nike] = pos + 2;
			c->ike_len[c->nike++] = flen - 2;
		}
		pos += flen;
	}
}

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/*
 * Generate one round's stream: up to @budget bytes of frames, each valid
 * or mutated, and where the writes cut it.
 */
static void generate(struct conn *c, size_t budget)
{
	uint64_t *rs = &c->rs;
	uint32_t serial = 0, nframes = 0;
	size_t pos = 0;

	c->ncut = 0;
	memset(c->intact, 0, sizeof(c->intact));
	/* a frame is at most 65537 bytes, a split sweep 40 KiB: both fit the slack */
	while (pos < budget && nframes < MAX_FRAMES - 1) {
		uint8_t *f = c->buf + pos;
		size_t blen, big = rnd_upto(rs, 16) == 0;
		uint32_t r = rnd_upto(rs, 100), spi, own = MAX_VALID;
		enum mut m = M_NONE;

		/* a valid frame first */
		if (r < 30) {			/* IKE */
			blen = 4 + 24 + rnd_upto(rs, big ? 65000 : 1500);
			memset(f + 2, 0, 4);
			for (size_t i = 4; i < blen; i++)
				f[2 + i] = rnd(rs);
		} else if (r < 70 && serial < MAX_VALID) {	/* own ESP */
			blen = esp_packet(f + 2, SPI_OWN + c->id, serial + 1,
					  PORT_SINK + c->id, c->id, c->round, serial,
					  rnd_upto(rs, big ? 64000 : 1400), rs);
			own = serial++;
		} else if (r < 73 || (valid_only && r >= 70)) {	/* keepalive */
			blen = 1;
			f[2] = 0xff;
		} else {			/* another SA's ESP */
			uint32_t k = rnd_upto(rs, 3);

			spi = k == 0 ? SPI_OWN + rnd_upto(rs, nconns) :
			      k == 1 ? SPI_RACE + rnd_upto(rs, N_RACE) : rnd(rs) | 1;
			blen = esp_packet(f + 2, spi, rnd(rs) | 1,
					  k == 1 ? PORT_RACE : PORT_SINK + c->id,
					  c->id, c->round, MAX_VALID + 1,
					  rnd_upto(rs, 1400), rs);
		}
		put16(f, blen + 2);
		/* then, sometimes, spoil it */
		r = valid_only ? 1000 : rnd_upto(rs, 1000);
		if (r < 10)
			m = M_LEN_PLUS;
		else if (r < 20)
			m = M_LEN_MINUS;
		else if (r < 22)
			m = M_LEN_ODD;
		else if (r < 32)
			m = M_TRUNC;
		else if (r < 62)
			m = M_SWAP;
		else if (r < 70)
			m = M_RANDOM;
		else if (r < 75 && blen < 200)
			m = M_SPLIT_SWEEP;
		switch (m) {
		case M_LEN_PLUS:
			put16(f, blen + 3);
			break;
		case M_LEN_MINUS:
			put16(f, blen + 1);
			break;
		case M_LEN_ODD: {
			static const unsigned int odd[] = { 0, 1, 2, 5, 65535 };
			unsigned int v = odd[rnd_upto(rs, 5)];

			/* 0 and 1 end the connection: rarely */
			if (v < 2 && rnd_upto(rs, 4))
				v = 2;
			put16(f, v);
			/* an empty frame stays empty; 5 keeps three bytes */
			if (v == 2)
				blen = 0;
			else if (v == 5)
				blen = 3;
			break;
		}
		case M_TRUNC:
			blen = rnd_upto(rs, blen);
			break;
		case M_SWAP:
			if (*(uint32_t *)(f + 2))
				memset(f + 2, 0, 4);	/* ESP becomes IKE */
			else if (blen >= 4)
				*(uint32_t *)(f + 2) = htonl(SPI_OWN + c->id);
			break;
		case M_RANDOM:
			blen = rnd_upto(rs, 64);
			for (size_t i = 0; i < blen + 2; i++)
				f[i] = rnd(rs);
			break;
		default:
			break;
		}
		if (m == M_SPLIT_SWEEP) {
			/* copies of the frame, the k-th written in two at offset k */
			size_t flen = blen + 2, k;

			for (k = 1; k < flen && c->ncut < MAX_CUTS - 2; k++) {
				memcpy(f + flen, f, flen);
				pos += flen;
				f += flen;
				c->cut[c->ncut++] = pos + k;
			}
		}
		if (own < MAX_VALID && (m == M_NONE || m == M_SPLIT_SWEEP))
			c->intact[own / 8] |= 1 << (own % 8);
		atomic_fetch_add(&mut_count[m], 1);
		pos += blen + 2;
		nframes++;
		/* a random cut now and then; the rest is cut below */
		if (c->ncut < MAX_CUTS - 2 && rnd_upto(rs, 3) == 0)
			c->cut[c->ncut++] = pos - rnd_upto(rs, blen + 2);
	}
	c->len = pos;
	c->valid = serial;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* has the sink seen valid packet @serial of this round? */
static bool delivered(struct conn *c, uint32_t serial)
{
	return c->got[serial / 8] & (1 << (serial % 8));
}

/*
 * Which valid own ESP frames the parser sees intact: those whose frame
 * in the model is exactly one generated.  Marks them in @want.
 *
 * A frame cut short (M_TRUNC) keeps its length field, so the parser reads
 * the next frame's bytes as its tail, and its framing of the rest of the
 * round is off.  Such a frame can still look whole: the tag at its head,
 * its length right, pad and next header right by chance (2 bytes of the
 * next frame).  The kernel drops it for its UDP checksum.  So a frame
 * counts only when the generator left it as it was and its checksum holds.
 */
static uint32_t model_valid(struct conn *c, uint8_t *want)
{
	size_t pos = 0, flen;
	uint32_t n = 0;

	memset(want, 0, MAX_VALID / 8);
	while (pos + 2 <= c->len) {
		flen = (c->buf[pos] << 8) | c->buf[pos + 1];
		if (flen < 2 || pos + flen > c->len)
			break;
		const uint8_t *b = c->buf + pos + 2;

		if (classify(c, b, flen) == C_ESP_OWN && flen >= 2 + 8 + 22 + 2) {
			const uint8_t *u = b + 8;
			size_t ulen = (u[4] << 8) | u[5];
			uint32_t serial = ntohl(*(uint32_t *)(u + 18));
			size_t pad = (4 - (ulen + 2) % 4) % 4;

			if (ntohl(*(uint32_t *)(u + 8)) == MAGIC &&
			    ntohs(*(uint16_t *)(u + 12)) == c->id &&
			    ntohl(*(uint32_t *)(u + 14)) == c->round &&
			    serial < c->valid && (c->intact[serial / 8] & (1 << (serial % 8))) &&
			    8 + ulen + pad + 2 == flen - 2 &&
			    b[flen - 2 - 1] == IPPROTO_UDP && b[flen - 2 - 2] == pad &&
			    !udp_csum(u, ulen)) {
				if (!(want[serial / 8] & (1 << (serial % 8))))
					n++;
				want[serial / 8] |= 1 << (serial % 8);
			}
		}
		pos += flen;
	}
	return n;
}

/* where the model's frame of own serial @serial is: its offset, or -1 */
static long frame_of(struct conn *c, uint32_t serial, size_t *flenp)
{
	size_t pos = 0, flen;

	while (pos + 2 <= c->len) {
		flen = (c->buf[pos] << 8) | c->buf[pos + 1];
		if (flen < 2 || pos + flen > c->len)
			break;
		if (classify(c, c->buf + pos + 2, flen) == C_ESP_OWN &&
		    flen >= 2 + 8 + 22 + 2 &&
		    ntohl(*(uint32_t *)(c->buf + pos + 2 + 8 + 18)) == serial) {
			*flenp = flen;
			return pos;
		}
		pos += flen;
	}
	return -1;
}

/* the IKE message the gateway sends as its @k-th of the round */
static size_t gw_msg(struct conn *c, uint32_t k, uint8_t *p)
{
	size_t n = 28 + (k * 37 + c->round) % 400, i;

	memset(p, 0, 4);
	*(uint32_t *)(p + 4) = htonl(c->id);
	*(uint32_t *)(p + 8) = htonl(c->round);
	*(uint32_t *)(p + 12) = htonl(k);
	for (i = 16; i < n; i++)
		p[i] = (uint8_t)(i * 7 + k);
	return n;
}

/* the peer reads what the gateway sends: IKE to check, ESP of SA Z only */
struct peer_rx {
	uint8_t buf[1 << 17];
	size_t have;
	uint32_t ike;
	bool bad;
};

static void peer_parse(struct conn *c, struct peer_rx *p)
{
	uint8_t want[512];
	size_t pos = 0, flen;

	while (!p->bad && pos + 2 <= p->have) {
		flen = (p->buf[pos] << 8) | p->buf[pos + 1];
		if (flen < 2 + 5) {
			fail("conn %d round %u: the gateway framed a message of length %zu",
			     c->id, c->round, flen);
			p->bad = true;
			break;
		}
		if (pos + flen > p->have)
			break;
		const uint8_t *b = p->buf + pos + 2;
		uint32_t spi = ntohl(*(uint32_t *)b);

		if (!spi) {
			size_t n = gw_msg(c, p->ike, want);

			if (n != flen - 2 || memcmp(want, b, n)) {
				fail("conn %d round %u: the gateway's IKE message %u arrived damaged",
				     c->id, c->round, p->ike);
				p->bad = true;
			}
			p->ike++;
		} else if (spi == SPI_Z) {
			atomic_fetch_add(&z_frames, 1);
		} else {
			fail("conn %d round %u: ESP of SPI 0x%08x reached a peer", c->id,
			     c->round, spi);
			p->bad = true;
		}
		pos += flen;
	}
	memmove(p->buf, p->buf + pos, p->have - pos);
	p->have -= pos;
}

static void get_stats(int fd, uint64_t *s)
{
	socklen_t len = ESPTCP_STAT_MAX * sizeof(uint64_t);

	memset(s, 0, len);
	getsockopt(fd, SOL_ESPTCP, ESPTCP_SO_STATS, s, &len);
}

/* the counters that follow the model, in a settled state */
static bool stats_match(struct conn *c, const uint64_t *s, bool ended, bool strict,
			char *why, size_t wlen)
{
	uint64_t esp = c->model[C_ESP_OWN] + c->model[C_ESP_OTHER] +
		       c->model[C_ESP_RACE] + c->model[C_ESP_UNKNOWN];
	uint64_t seen = s[ESPTCP_STAT_RX_IKE_MSGS] + s[ESPTCP_STAT_RX_ESP_PKTS] +
			s[ESPTCP_STAT_RX_DROP_NO_SA] + s[ESPTCP_STAT_RX_KEEPALIVES] +
			s[ESPTCP_STAT_RX_DROP_SHORT] + s[ESPTCP_STAT_RX_DROP_NOMEM];
	uint64_t total = c->model[C_IKE] + esp + c->model[C_KEEPALIVE] + c->model[C_SHORT];

	if (!strict) {
		/* a connection ended early sees a prefix; faults drop, counted */
		if (seen > total) {
			snprintf(why, wlen, "%llu frames counted, the stream had %llu",
				 (unsigned long long)seen, (unsigned long long)total);
			return false;
		}
		if (ended && seen != total && !s[ESPTCP_STAT_RX_DROP_NOMEM] && !faults) {
			snprintf(why, wlen, "%llu frames counted of %llu",
				 (unsigned long long)seen, (unsigned long long)total);
			return false;
		}
		return true;
	}
	snprintf(why, wlen,
		 "ike %llu/%llu esp %llu+no_sa %llu/%llu (own %llu, moved %llu) keepalive %llu/%llu short %llu/%llu bad %llu/%llu",
		 (unsigned long long)s[ESPTCP_STAT_RX_IKE_MSGS], (unsigned long long)c->model[C_IKE],
		 (unsigned long long)s[ESPTCP_STAT_RX_ESP_PKTS],
		 (unsigned long long)s[ESPTCP_STAT_RX_DROP_NO_SA], (unsigned long long)esp,
		 (unsigned long long)c->model[C_ESP_OWN], (unsigned long long)c->model[C_ESP_RACE],
		 (unsigned long long)s[ESPTCP_STAT_RX_KEEPALIVES], (unsigned long long)c->model[C_KEEPALIVE],
		 (unsigned long long)s[ESPTCP_STAT_RX_DROP_SHORT], (unsigned long long)c->model[C_SHORT],
		 (unsigned long long)s[ESPTCP_STAT_RX_BAD_LENGTH], (unsigned long long)c->model[C_BAD]);
	return s[ESPTCP_STAT_RX_IKE_MSGS] == c->model[C_IKE] &&
	       s[ESPTCP_STAT_RX_ESP_PKTS] + s[ESPTCP_STAT_RX_DROP_NO_SA] == esp &&
	       s[ESPTCP_STAT_RX_ESP_PKTS] >= c->model[C_ESP_OWN] &&
	       s[ESPTCP_STAT_RX_ESP_PKTS] <= c->model[C_ESP_OWN] + c->model[C_ESP_RACE] &&
	       s[ESPTCP_STAT_RX_KEEPALIVES] == c->model[C_KEEPALIVE] &&
	       s[ESPTCP_STAT_RX_DROP_SHORT] == c->model[C_SHORT] &&
	       s[ESPTCP_STAT_RX_BAD_LENGTH] == c->model[C_BAD] &&
	       !s[ESPTCP_STAT_RX_DROP_NOMEM];
}

/*
 * Read what the connection's sink holds: the valid ESP frames, decrypted
 * and delivered; waits up to @ms for the first.  Returns how many new
 * serials of this round came.
 */
static unsigned int drain_sink(struct conn *c, int ms)
{
	struct pollfd p = { .fd = c->sink, .events = POLLIN };
	static __thread uint8_t buf[65536];
	unsigned int fresh = 0;
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	while ((n = recv(c->sink, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		uint32_t round = ntohl(*(uint32_t *)(buf + 6));
		uint32_t serial = ntohl(*(uint32_t *)(buf + 10));

		atomic_fetch_add(&sink_all, 1);
		c->sink_total++;
		if (n < 14 || ntohl(*(uint32_t *)buf) != MAGIC ||
		    ntohs(*(uint16_t *)(buf + 4)) != c->id || serial >= MAX_VALID ||
		    round != c->round) {
			atomic_fetch_add(&sink_other, 1);
			continue;
		}
		if (!(c->got[serial / 8] & (1 << (serial % 8))))
			fresh++;
		c->got[serial / 8] |= 1 << (serial % 8);
	}
	return fresh;
}

/* One round on connection @c; false when it could not even start. */
static bool run_round(struct conn *c)
{
	static const size_t sizes[] = { 16 << 10, 64 << 10, 256 << 10, MAX_ROUND };
	uint8_t *in = malloc(65536), want_valid[MAX_VALID / 8], msg[512];
	struct peer_rx *prx = calloc(1, sizeof(*prx));
	size_t off = 0, ncut, ci = 0, ike_seen = 0;
	uint32_t gw_sent = 0, nvalid;
	bool gw_eof = false, gw_err = false, peer_eof = false, wr_done = false;
	bool aborted_round, ike_ok = true, strict, stalled = false;
	int pfd, gfd, rc, err = 0, send_err = 0;
	uint64_t s[ESPTCP_STAT_MAX];
	double deadline;

	c->round++;
	generate(c, sizes[rnd_upto(&c->rs, 4)]);
	model(c);
	nvalid = model_valid(c, want_valid);
	ncut = c->ncut;
	qsort(c->cut, ncut, sizeof(c->cut[0]), cmp_u32);
	memset(c->got, 0, sizeof(c->got));

	rc = tcp_pair(c->lfd, PORT_TCP + 1 + c->id, &pfd, &gfd);
	if (rc) {
		/* TCP's own allocations may fail too when faults are on */
		if (!faults)
			fail("conn %d: connect: %s", c->id, strerror(-rc));
		usleep(10000);
		goto out_free;
	}
	rc = attach(gfd);
	if (!rc)
		rc = so_sa(gfd, ESPTCP_SO_BIND, SPI_OWN + c->id, ESPTCP_DIR_IN, true);
	if (rc) {
		/* only allocation faults may refuse these */
		if (!faults || (rc != -ENOMEM && rc != -ENOBUFS))
			fail("conn %d: attach or bind: %s", c->id, strerror(-rc));
		close(pfd);
		close(gfd);
		goto out_free;
	}
	{
		struct stat st;

		fstat(gfd, &st);
		atomic_store(&c->gfd, gfd);
		atomic_store(&c->ino, st.st_ino);
	}
	/* one round in four may be shut down by the racer */
	pthread_mutex_lock(&c->lock);
	c->abortable = rnd_upto(&c->rs, 4) == 0;
	c->shut = false;
	pthread_mutex_unlock(&c->lock);
	fcntl(pfd, F_SETFL, O_NONBLOCK);
	fcntl(gfd, F_SETFL, O_NONBLOCK);
	deadline = now() + (faults ? 20 : 30);

	while (!(gw_eof || gw_err) || !peer_eof) {
		struct pollfd pf[2] = {
			{ .fd = pfd, .events = POLLIN | (wr_done ? 0 : POLLOUT) },
			/* once it ended, not at all: it would report POLLHUP for ever */
			{ .fd = (gw_eof || gw_err) ? -1 : gfd, .events = POLLIN },
		};
		/*
		 * One reading of the clock: with two, the second could pass the
		 * deadline the first did not, and call a stall under faults a
		 * failure (it did once, on the debug kernel).
		 */
		double t = now();

		if (t > deadline && faults) {
			/*
			 * Under faults TCP itself can stall: 6.1's
			 * tcp_send_fin() gives up when its (atomic) skb
			 * allocation fails, and the FIN is never sent.
			 */
			atomic_fetch_add(&fault_stalls, 1);
			break;
		}
		if (t > deadline) {
			char cmd[160];
			uint64_t st[ESPTCP_STAT_MAX];

			/*
			 * The parser waiting for the rest of a message that
			 * TCP's window has no room for (it happened once in
			 * 300 MB of IPv4 while the receive buffer held two
			 * frames), or anything else that stops a round.
			 */
			atomic_fetch_add(&stalls, 1);
			stalled = true;
			printf("# conn %d round %u: stalled (wrote %zu of %zu, gw eof %d err %d, peer eof %d)\n",
			       c->id, c->round, off, c->len, gw_eof, gw_err, peer_eof);
			fail("conn %d round %u: stalled", c->id, c->round);
			get_stats(gfd, st);
			printf("# conn %d: counters", c->id);
			for (int k = 0; k < ESPTCP_STAT_MAX; k++)
				printf(" %llu", (unsigned long long)st[k]);
			printf("\n");
			fflush(stdout);
			snprintf(cmd, sizeof(cmd),
				 "ss -tnieom state all '( sport = :%u or dport = :%u )' | sed 's/^/# /'",
				 PORT_TCP + 1 + c->id, PORT_TCP + 1 + c->id);
			if (system(cmd) != 0)
				printf("# (ss failed)\n");
			break;
		}
		if (poll(pf, 2, 1000) < 0)
			break;
		/* the peer writes the stream, piece by piece */
		if (!wr_done && (pf[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			size_t end = c->len;

			while (ci < ncut && c->cut[ci] <= off)
				ci++;
			if (ci < ncut)
				end = c->cut[ci];
			if (end - off > 65536)
				end = off + 65536;
			ssize_t n = send(pfd, c->buf + off, end - off, MSG_NOSIGNAL);

			if (n > 0) {
				off += n;
				atomic_fetch_add(&fed, n);
				/* the split sweeps: let each piece go on its own */
				if (ci < ncut && c->cut[ci] == off)
					usleep(50);
			} else if (n < 0 && errno != EAGAIN) {
				wr_done = true;	/* reset: fine after a bad length */
			}
			if (off == c->len) {
				shutdown(pfd, SHUT_WR);
				wr_done = true;
			}
		}
		/* the gateway: IKE messages in, a few out */
		if (pf[1].revents) {
			for (;;) {
				ssize_t n = recv(gfd, in, 65536, 0);

				if (n == 0) {
					gw_eof = true;
					/* our turn to finish */
					shutdown(gfd, SHUT_WR);
					break;
				}
				if (n < 0) {
					if (errno == EAGAIN)
						break;
					err = errno;
					gw_err = true;
					break;
				}
				if (ike_seen < c->nike && (size_t)n == c->ike_len[ike_seen] &&
				    !memcmp(in, c->buf + c->ike_off[ike_seen], n)) {
					ike_seen++;
				} else if (faults) {
					/* a dropped message (counted) may be skipped */
					size_t k = ike_seen + 1;

					while (k < c->nike && !((size_t)n == c->ike_len[k] &&
						!memcmp(in, c->buf + c->ike_off[k], n)))
						k++;
					if (k < c->nike)
						ike_seen = k + 1;
					else
						ike_ok = false;
				} else {
					ike_ok = false;
				}
			}
			if (!gw_eof && !gw_err && rnd_upto(&c->rs, 4) == 0) {
				size_t n = gw_msg(c, gw_sent, msg);
				ssize_t r = send(gfd, msg, n, MSG_DONTWAIT | MSG_NOSIGNAL);

				if (r == (ssize_t)n) {
					gw_sent++;
				} else if (r < 0 && errno != EAGAIN && errno != EPIPE && !send_err) {
					/*
					 * The socket's error goes to the first call;
					 * the messages before it are still to read.
					 */
					send_err = errno;
				}
			}
		}
		/* the peer reads the gateway's frames */
		if (pf[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			for (;;) {
				ssize_t n = recv(pfd, prx->buf + prx->have,
						 sizeof(prx->buf) - prx->have, 0);

				if (n == 0 || (n < 0 && errno != EAGAIN)) {
					peer_eof = true;
					break;
				}
				if (n < 0)
					break;
				prx->have += n;
				peer_parse(c, prx);
				if (prx->have == sizeof(prx->buf) || prx->bad) {
					fail("conn %d round %u: the peer cannot frame the gateway's stream",
					     c->id, c->round);
					peer_eof = true;
					break;
				}
			}
		}
		if (gw_err && wr_done)
			peer_eof = true;
		drain_sink(c, 0);
	}
	if (send_err && !gw_err) {
		gw_err = true;
		err = send_err;
	}
	atomic_store(&c->ino, 0);
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->gfd, -1);
	aborted_round = c->shut;
	c->abortable = false;
	pthread_mutex_unlock(&c->lock);
	/* a round the racer shut down, or one ended by a fault, is not strict */
	if (aborted_round || (faults && gw_err))
		atomic_fetch_add(&aborted, 1);
	strict = !faults && !aborted_round && !stalled && !(gw_err && c->model[C_BAD] == 0);
	if (gw_err && !aborted_round && err != EBADMSG &&
	    !(faults && (err == ENOMEM || err == ECONNRESET || err == EPIPE)))
		fail("conn %d round %u: recv: %s", c->id, c->round, strerror(err));
	if (!aborted_round && !gw_err && c->model[C_BAD])
		fail("conn %d round %u: a bad length did not end the connection", c->id, c->round);
	if (!ike_ok)
		fail("conn %d round %u: recv() returned an IKE message the stream did not hold",
		     c->id, c->round);
	if (strict && ike_seen != c->nike)
		fail("conn %d round %u: %zu of %zu IKE messages received (connection %s, %s by send(); bad lengths %llu)",
		     c->id, c->round, ike_seen, c->nike, gw_err ? strerror(err) : "ended",
		     send_err ? "error seen" : "none", (unsigned long long)c->model[C_BAD]);
	if (strict && !gw_err && prx->ike != gw_sent)
		fail("conn %d round %u: the peer received %u of the gateway's %u IKE messages",
		     c->id, c->round, prx->ike, gw_sent);
	atomic_fetch_add(&ike_to_peer, prx->ike);

	/* the counters settle once xfrm took the backlog */
	{
		char why[512];
		bool ok = false;

		for (int i = 0; i < 200 && !ok; i++) {
			get_stats(gfd, s);
			ok = stats_match(c, s, !gw_err && !aborted_round && !stalled, strict, why,
					 sizeof(why));
			if (!ok)
				usleep(10000);
		}
		if (!ok)
			fail("conn %d round %u: counters do not match the stream: %s", c->id,
			     c->round, why);
	}
	/* every valid ESP frame of its own SA was decrypted and delivered */
	if (strict) {
		uint32_t missing = 0, first = 0;

		/* as long as they keep coming (TCG is slow), and 5 s more */
		for (int idle = 0; idle < 25;) {
			idle = drain_sink(c, 200) ? 0 : idle + 1;
			missing = 0;
			for (uint32_t k = 0; k < c->valid; k++)
				if ((want_valid[k / 8] & (1 << (k % 8))) &&
				    !delivered(c, k) && !missing++)
					first = k;
			if (!missing)
				break;
		}
		c->sent_valid += nvalid;
		if (missing) {
			char cmd[256], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

			/* what xfrm made of the SA's packets, against what came through */
			inet_ntop(family, &peer_addr, a, sizeof(a));
			inet_ntop(family, &gw_addr, b, sizeof(b));
			snprintf(cmd, sizeof(cmd),
				 "ip -s xfrm state get src %s dst %s proto esp spi 0x%08x | grep -E 'packets|errors|replay' | sed 's/^/# conn %d: /'",
				 a, b, SPI_OWN + c->id, c->id);
			size_t flen = 0;
			long at = frame_of(c, first, &flen);

			printf("# conn %d: valid frames parsed %llu (all rounds), datagrams at its sink %llu\n",
			       c->id, (unsigned long long)c->sent_valid,
			       (unsigned long long)c->sink_total);
			printf("# conn %d: serial %u is the frame at %ld of %zu bytes, of a stream of %zu\n",
			       c->id, first, at, flen, c->len);
			fflush(stdout);
			if (system(cmd) != 0)
				printf("# (ip xfrm state get failed)\n");
		}
		if (missing)
			fail("conn %d round %u: %u of %u valid ESP frames not delivered (first serial %u of %u; connection %s, bad lengths %llu)",
			     c->id, c->round, missing, nvalid, first, c->valid,
			     gw_err ? strerror(err) : "ended", (unsigned long long)c->model[C_BAD]);
		atomic_fetch_add(&esp_delivered, nvalid - missing);
	}
	for (int k = 0; k < C_MAX; k++)
		atomic_fetch_add(&cls_count[k], c->model[k]);
	close(pfd);
	close(gfd);
	atomic_fetch_add(&rounds, 1);
out_free:
	free(in);
	free(prx);
	return true;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;

	while (!atomic_load(&stop))
		run_round(c);
	return NULL;
}

/* --- the tunnel pair: ESP both ways through the module all the while --- */

static void *tunnel_main(void *arg)
{
	int lfd = listener(PORT_TCP), pfd, gfd, tx[2], rx[2], dir;
	struct sockaddr_storage ss;
	uint64_t rs = seed ^ 0x7475;
	char buf[1500];

	(void)arg;
	if (lfd < 0 || tcp_pair(lfd, PORT_TCP, &pfd, &gfd) || attach(pfd) || attach(gfd) ||
	    so_sa(pfd, ESPTCP_SO_BIND, SPI_T1, ESPTCP_DIR_OUT, true) ||
	    so_sa(gfd, ESPTCP_SO_BIND, SPI_T1, ESPTCP_DIR_IN, true) ||
	    so_sa(gfd, ESPTCP_SO_BIND, SPI_T2, ESPTCP_DIR_OUT, false) ||
	    so_sa(pfd, ESPTCP_SO_BIND, SPI_T2, ESPTCP_DIR_IN, false)) {
		fail("tunnel: attach or bind: %s", strerror(errno));
		return NULL;
	}
	tx[0] = udp_socket(false, 0, 0);
	tx[1] = udp_socket(true, 0, 0);
	rx[0] = udp_socket(true, PORT_T1, 1 << 22);
	rx[1] = udp_socket(false, PORT_T2, 1 << 22);
	while (!atomic_load(&stop)) {
		/* a burst each way, then everything must have arrived */
		unsigned int burst = 1 + rnd_upto(&rs, 32), got[2] = { 0, 0 };

		for (dir = 0; dir < 2; dir++) {
			socklen_t len = sockaddr_of(&ss, dir == 0, dir == 0 ? PORT_T1 : PORT_T2);

			for (unsigned int i = 0; i < burst; i++) {
				size_t n = 20 + rnd_upto(&rs, sizeof(buf) - 100);

				if (sendto(tx[dir], buf, n, 0, (void *)&ss, len) == (ssize_t)n)
					atomic_fetch_add(&t_sent[dir], 1);
			}
		}
		double until = now() + 5;

		while ((got[0] < burst || got[1] < burst) && now() < until) {
			struct pollfd pf[2] = { { .fd = rx[0], .events = POLLIN },
						{ .fd = rx[1], .events = POLLIN } };

			if (poll(pf, 2, 100) <= 0)
				continue;
			for (dir = 0; dir < 2; dir++)
				while (recv(rx[dir], buf, sizeof(buf), MSG_DONTWAIT) > 0) {
					got[dir]++;
					atomic_fetch_add(&t_recv[dir], 1);
				}
		}
		if (!faults && (got[0] < burst || got[1] < burst))
			fail("tunnel: %u and %u of %u datagrams came through", got[0], got[1], burst);
		usleep(1000 * rnd_upto(&rs, 5));
	}
	close(pfd);
	close(gfd);
	close(lfd);
	return NULL;
}

/* --- the racer: binds, unbinds and moves SAs, dumps, shuts rounds down --- */

static void *racer_main(void *arg)
{
	uint64_t rs = seed ^ 0x72616365, c[ESPTCP_STAT_MAX];
	int z = udp_socket(true, 0, 0);
	struct sockaddr_storage ss;
	socklen_t zlen = sockaddr_of(&ss, false, PORT_Z);
	struct esptcp_sa sa;
	struct tgenl g;
	int rc;

	(void)arg;
	if (tgenl_open(&g)) {
		fail("racer: the esptcp netlink family: %s", strerror(errno));
		return NULL;
	}
	while (!atomic_load(&stop)) {
		struct conn *t = &conns[rnd_upto(&rs, nconns)];
		uint64_t ino = atomic_load(&t->ino);
		uint32_t r = rnd_upto(&rs, 100);

		/* SA Z's traffic: steered to whichever connection holds it */
		sendto(z, "zzzzzzzzzzzzzzzz", 16, 0, (void *)&ss, zlen);
		if (!ino && r < 72) {
			rc = 0;		/* between rounds: nothing to bind to */
		} else if (r < 30) {
			sa_of(&sa, SPI_RACE + rnd_upto(&rs, N_RACE), ESPTCP_DIR_IN, true);
			rc = tgenl_sa(&g, ESPTCP_CMD_SA_BIND, ino, &sa);
		} else if (r < 45) {
			sa_of(&sa, SPI_RACE + rnd_upto(&rs, N_RACE), ESPTCP_DIR_IN, true);
			rc = tgenl_sa(&g, ESPTCP_CMD_SA_UNBIND, 0, &sa);
		} else if (r < 65) {
			sa_of(&sa, SPI_Z, ESPTCP_DIR_OUT, false);
			rc = tgenl_sa(&g, ESPTCP_CMD_SA_BIND, ino, &sa);
		} else if (r < 72) {
			sa_of(&sa, SPI_Z, ESPTCP_DIR_OUT, false);
			rc = tgenl_sa(&g, ESPTCP_CMD_SA_UNBIND, 0, &sa);
		} else if (r < 82) {
			rc = tgenl_dump(&g);
			atomic_fetch_add(&race_dumps, 1);
			rc = rc < 0 ? rc : 0;
		} else if (r < 86) {
			rc = tgenl_stats(&g, c);
		} else {
			/* shut a round down while its input is parsed */
			int fd;

			rc = 0;
			pthread_mutex_lock(&t->lock);
			fd = atomic_load(&t->gfd);
			if (fd >= 0 && t->abortable && !t->shut) {
				t->shut = true;
				atomic_fetch_add(&race_shut, 1);
				shutdown(fd, SHUT_RDWR);
			}
			pthread_mutex_unlock(&t->lock);
		}
		/* a socket gone meanwhile, an SA not bound: both expected */
		if (rc && rc != -ENOENT && rc != -ESRCH && rc != -ENOTCONN &&
		    !(faults && (rc == -ENOMEM || rc == -ENOBUFS)))
			fail("racer: netlink: %s", strerror(-rc));
		atomic_fetch_add(&race_ops, 1);
		usleep(200 + rnd_upto(&rs, 2000));
	}
	tgenl_close(&g);
	close(z);
	return NULL;
}

/*
 * With -f and FUZZ_FAULTS="SLAB PAGE" (percentages), turn failslab and
 * fail_page_alloc on for the run: only once every page this process needs
 * is locked in, so that its own code and libraries, on a 9p root, are
 * never read under a fault.
 */
static void set_faults(bool on)
{
	static const char *const f[] = { "/sys/kernel/debug/failslab/probability",
					 "/sys/kernel/debug/fail_page_alloc/probability" };
	const char *env = getenv("FUZZ_FAULTS");
	unsigned int p[2] = { 0, 0 };

	if (!faults || !env)
		return;
	if (on && (sscanf(env, "%u %u", &p[0], &p[1]) < 1 ||
		   mlockall(MCL_CURRENT | MCL_FUTURE)))
		return;
	for (int i = 0; i < 2; i++) {
		FILE *fp = fopen(f[i], "w");

		if (fp) {
			fprintf(fp, "%u\n", p[i]);
			fclose(fp);
		}
	}
	printf("# allocation faults %s\n", on ? env : "off");
	fflush(stdout);
}

static void report(double took)
{
	uint64_t c[ESPTCP_STAT_MAX] = { 0 };
	struct tgenl g;
	FILE *f;

	if (!tgenl_open(&g)) {
		tgenl_stats(&g, c);
		tgenl_close(&g);
	}
	printf("# fed %llu bytes in %.0f s (%.1f MiB/s), %llu rounds (%llu shut down mid-stream) on %d connections (IPv%d)\n",
	       (unsigned long long)fed, took, fed / took / 1048576, (unsigned long long)rounds,
	       (unsigned long long)aborted, nconns, family == AF_INET ? 4 : 6);
	printf("# frames the parser saw, by class:");
	for (int k = 0; k < C_MAX; k++)
		printf(" %s %llu", class_name[k], (unsigned long long)cls_count[k]);
	printf("\n# frames generated:");
	for (int k = 0; k < M_MAX; k++)
		printf(" %s %llu", mut_name[k], (unsigned long long)mut_count[k]);
	printf("\n# sinks received %llu datagrams, %llu not of their round's tag\n",
	       (unsigned long long)sink_all, (unsigned long long)sink_other);
	printf("# valid own ESP delivered %llu; gateway IKE to peers %llu; SA Z frames at peers %llu\n",
	       (unsigned long long)esp_delivered, (unsigned long long)ike_to_peer,
	       (unsigned long long)z_frames);
	printf("# tunnel datagrams peer->gw %llu/%llu, gw->peer %llu/%llu; racer ops %llu (%llu dumps, %llu shutdowns)\n",
	       (unsigned long long)t_recv[0], (unsigned long long)t_sent[0],
	       (unsigned long long)t_recv[1], (unsigned long long)t_sent[1],
	       (unsigned long long)race_ops, (unsigned long long)race_dumps,
	       (unsigned long long)race_shut);
	if (faults)
		printf("# rounds TCP left stalled under the faults: %llu\n",
		       (unsigned long long)fault_stalls);
	printf("# rounds stalled (the parser waiting with TCP's window shut): %llu\n",
	       (unsigned long long)stalls);
	printf("# module counters:");
	for (int k = 0; k < ESPTCP_STAT_MAX; k++)
		printf(" %llu", (unsigned long long)c[k]);
	printf("\n# failures %llu\n", (unsigned long long)failures);
	if (!json || !(f = fopen(json, "w")))
		return;
	fprintf(f, "{\"bytes\": %llu, \"seconds\": %.1f, \"rounds\": %llu, \"shut_down\": %llu, "
		"\"connections\": %d, \"family\": %d, \"faults\": %d, \"failures\": %llu, \"stalled_rounds\": %llu, \"frames\": {",
		(unsigned long long)fed, took, (unsigned long long)rounds,
		(unsigned long long)aborted, nconns, family == AF_INET ? 4 : 6, faults,
		(unsigned long long)failures, (unsigned long long)stalls);
	for (int k = 0; k < C_MAX; k++)
		fprintf(f, "%s\"%s\": %llu", k ? ", " : "", class_name[k],
			(unsigned long long)cls_count[k]);
	fprintf(f, "}, \"generated\": {");
	for (int k = 0; k < M_MAX; k++)
		fprintf(f, "%s\"%s\": %llu", k ? ", " : "", mut_name[k],
			(unsigned long long)mut_count[k]);
	fprintf(f, "}, \"esp_delivered\": %llu, \"tunnel_sent\": %llu, \"tunnel_received\": %llu, "
		"\"module_counters\": [",
		(unsigned long long)esp_delivered, (unsigned long long)(t_sent[0] + t_sent[1]),
		(unsigned long long)(t_recv[0] + t_recv[1]));
	for (int k = 0; k < ESPTCP_STAT_MAX; k++)
		fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)c[k]);
	fprintf(f, "]}\n");
	fclose(f);
}

int main(int argc, char **argv)
{
	pthread_t tun, racer;
	double t0;
	int opt;

	seed = time(NULL);
	while ((opt = getopt(argc, argv, "6fvc:b:t:s:j:")) != -1) {
		switch (opt) {
		case 'v': valid_only = 1; break;
		case '6': family = AF_INET6; break;
		case 'f': faults = 1; break;
		case 'c': nconns = atoi(optarg); break;
		case 'b': want_bytes = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atoi(optarg); break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'j': json = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-6] [-f] [-v] [-c conns] [-b bytes] [-t seconds] [-s seed] [-j json]\n",
				argv[0]);
			return 2;
		}
	}
	if (nconns < 1 || nconns > MAX_CONNS)
		nconns = 16;
	inet_pton(AF_INET, "10.77.0.1", &gw_addr.a4);
	inet_pton(AF_INET, "10.77.0.2", &peer_addr.a4);
	if (family == AF_INET6) {
		inet_pton(AF_INET6, "fd77::1", &gw_addr.a6);
		inet_pton(AF_INET6, "fd77::2", &peer_addr.a6);
	}
	signal(SIGPIPE, SIG_IGN);
	printf("# esptcp_fuzz: seed %u, %d connections, IPv%d, %s\n", seed, nconns,
	       family == AF_INET ? 4 : 6, faults ? "allocation faults on" : "strict checks");
	fflush(stdout);

	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		c->id = i;
		c->lfd = listener(PORT_TCP + 1 + i);
		c->rs = ((uint64_t)seed << 20) ^ (i + 1) * 0x9e3779b97f4a7c15ull;
		c->gfd = -1;
		c->buf = malloc(MAX_ROUND + BUF_SLACK);
		c->sink = udp_socket(true, PORT_SINK + i, 1 << 24);
		pthread_mutex_init(&c->lock, NULL);
		if (!c->buf || c->sink < 0 || c->lfd < 0) {
			perror("listener or sink");
			return 1;
		}
	}
	t0 = now();
	pthread_create(&tun, NULL, tunnel_main, NULL);
	pthread_create(&racer, NULL, racer_main, NULL);
	for (int i = 0; i < nconns; i++)
		pthread_create(&conns[i].thr, NULL, conn_main, &conns[i]);
	set_faults(true);
	while (!atomic_load(&stop)) {
		sleep(1);
		if ((seconds && now() - t0 >= seconds) || (want_bytes && fed >= want_bytes))
			atomic_store(&stop, true);
		if (failures > 20)
			atomic_store(&stop, true);
	}
	set_faults(false);
	for (int i = 0; i < nconns; i++)
		pthread_join(conns[i].thr, NULL);
	pthread_join(racer, NULL);
	pthread_join(tun, NULL);
	report(now() - t0);
	return failures ? 1 : 0;
}
