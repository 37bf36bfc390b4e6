// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the lease file (lease-file = PATH in [global]), so that a
 * gateway's clients get their addresses again after the helper restarts.
 * One line a lease that has an identity: "lease CONN ADDRESS TYPE HEX-ID
 * SINCE UNTIL" (wall-clock seconds; UNTIL is when its grace period ends,
 * or 0 while an SA holds it).  Written to a new PATH.tmp (mode 0600, not
 * through a link), synced and renamed, at most once a second while leases
 * change and at exit; read at start, where each lease comes back free and
 * kept for its identity: a held one for the conn's lease-grace from then,
 * a released one for what was left of its grace, an expired one not at
 * all.  A line that does not fit (a conn gone,
 * an address no longer in its pool, a malformed one) is skipped and
 * counted in the log line that says how many came back.  The pools
 * themselves are freed here too (ike_daemon_pools_free()).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "ike_sa.h"

#define LEASES_SAVE_MS	1000

/**
 * ike_leases_each() - every lease of every pool that has an identity
 * @d: the daemon
 * @fn: called with the conn, the lease and its address (as text)
 * @arg: passed on
 */
void ike_leases_each(const struct ike_daemon *d,
		     void (*fn)(const struct ike_conn_conf *c, const struct ike_lease *l,
				const char *addr, void *arg), void *arg)
{
	for (size_t c = 0; c < d->conf->nconns; c++) {
		const struct ike_pool *p = &d->pools[c];

		if (!d->conf->conns[c].pool_set)
			continue;
		for (uint32_t i = 0; i < p->size; i++) {
			char a[INET6_ADDRSTRLEN] = "?";
			uint8_t addr[16];

			if (!p->leases[i].id)
				continue;
			ike_pool_addr(p, i, addr);
			inet_ntop(p->family, addr, a, sizeof(a));
			fn(&d->conf->conns[c], &p->leases[i], a, arg);
		}
	}
}

/* the conns' address pools (after the SAs that lease from them) */
void ike_daemon_pools_free(struct ike_daemon *d)
{
	for (size_t i = 0; d->pools && i < d->conf->nconns; i++)
		ike_pool_free(&d->pools[i]);
	free(d->pools);
	d->pools = NULL;
}

/* mark the file stale: a lease was taken or given back */
void ike_leases_changed(struct ike_daemon *d)
{
	d->leases_dirty = true;
}

struct save_ctx {
	FILE *f;
	const struct ike_daemon *d;
	uint64_t wall;
};

static void save_one(const struct ike_conn_conf *c, const struct ike_lease *l, const char *a,
		     void *arg)
{
	const struct save_ctx *s = arg;
	uint64_t ago = s->d->now > l->since ? (s->d->now - l->since) / 1000 : 0, until = 0;

	if (!l->users) {
		/* a grace period that is over is not kept across a restart */
		if (l->free_at <= s->d->now)
			return;
		until = s->wall + (l->free_at - s->d->now + 999) / 1000;
	}
	fprintf(s->f, "lease %s %s %u ", c->name, a, l->id_type);
	for (size_t k = 0; k < l->idlen; k++)
		fprintf(s->f, "%02x", l->id[k]);
	fprintf(s->f, "%s %llu %llu\n", l->idlen ? "" : "-",
		(unsigned long long)(s->wall > ago ? s->wall - ago : 0), (unsigned long long)until);
}

static void save(struct ike_daemon *d)
{
	const char *path = d->conf->lease_file;
	uint64_t wall = (uint64_t)time(NULL);
	char tmp[sizeof(d->conf->lease_file) + 8];
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* a new file of ours: not one a link points at, not readable by others */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "esptcp: lease file %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	ike_leases_each(d, save_one, &(struct save_ctx){ .f = f, .d = d, .wall = wall });
	if (fflush(f) || ferror(f) || fsync(fd))
		err = errno ? errno : EIO;
	if (fclose(f) && !err)
		err = errno;
	if (err || rename(tmp, path)) {
		fprintf(stderr, "esptcp: lease file %s: %s\n", path, strerror(err ? err : errno));
		unlink(tmp);
		return;
	}
	d->leases_dirty = false;
}

/**
 * ike_leases_tick() - write the lease file when leases changed
 * @d: the daemon
 * @force: now, whatever the last write was (at exit)
 *
 * Context: the event loop.
 */
void ike_leases_tick(struct ike_daemon *d, bool force)
{
	if (!d->conf->lease_file[0] || !d->leases_dirty)
		return;
	if (!force && d->now < d->leases_saved_at + LEASES_SAVE_MS)
		return;
	d->leases_saved_at = d->now;
	save(d);
}

static int hex_id(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex);

	*len = 0;
	if (!strcmp(hex, "-"))
		return 0;
	if (n % 2 || n / 2 > 255)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		/* two hex digits, nothing sscanf would also take (a sign, 0x) */
		if (!isxdigit((unsigned char)hex[2 * i]) ||
		    !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		out[i] = (uint8_t)b;
	}
	*len = n / 2;
	return 0;
}

/**
 * ike_leases_load() - the leases of the lease file, back in their pools
 * @d: the daemon, its pools set up
 *
 * Return: 0 (also without a file), or -errno when it cannot be read.
 */
int ike_leases_load(struct ike_daemon *d)
{
	const char *path = d->conf->lease_file;
	unsigned int back = 0, skipped = 0;
	uint64_t wall = (uint64_t)time(NULL);
	char line[1024];
	FILE *f;

	if (!path[0])
		return 0;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		char conn[64], addr[64], hex[520];
		unsigned int type;
		unsigned long long since, until = 0;
		uint8_t a[16], id[255];
		size_t idlen, c;
		int ok = 0;

		/* (a line without UNTIL: a lease held at the time) */
		if (sscanf(line, "lease %63s %63s %u %519s %llu %llu", conn, addr, &type, hex,
			   &since, &until) >= 5 && type <= 255 && !hex_id(hex, id, &idlen) &&
		    (!until || until > wall)) {
			for (c = 0; c < d->conf->nconns; c++)
				if (d->conf->conns[c].pool_set && !strcmp(d->conf->conns[c].name, conn))
					break;
			if (c < d->conf->nconns &&
			    inet_pton(d->pools[c].family, addr, a) == 1) {
				uint64_t ago = wall > since ? (wall - since) * 1000 : 0;
				uint64_t grace = until ? (until - wall) * 1000 :
					(uint64_t)d->conf->conns[c].lease_grace_s * 1000;

				ok = !ike_pool_restore(&d->pools[c], a, (uint8_t)type, id, idlen,
						       d->now > ago ? d->now - ago : 0,
						       d->now + grace);
			}
		}
		if (ok)
			back++;
		else
			skipped++;
	}
	fclose(f);
	fprintf(stderr, "esptcp: lease file %s: %u leases kept for their identities%s",
		path, back, skipped ? "" : "\n");
	if (skipped)
		fprintf(stderr, ", %u lines skipped\n", skipped);
	return 0;
}
