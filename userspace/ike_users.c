// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the users an EAP gateway knows, from a file only root may
 * read (mode 0600 or stricter, else refused): one user a line,
 *
 *	alice  password="clear text"  groups=testgrp,admins
 *	bob    nthash=8846F7EAEE8FB117AD06BDD830B7586C  groups=testgrp
 *
 * (nthash: MD4 of the UTF-16LE password, as Windows and RADIUS servers
 * store it; "#" starts a comment).  Only NT hashes are kept in memory.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ike.h"
#include "ike_eap.h"

struct ike_user {
	char name[IKE_EAP_ID_MAX];
	uint8_t nt_hash[16];
	char groups[256];	/* ",g1,g2," */
};

struct ike_users {
	struct ike_user *v;
	size_t n;
};

/* one line into @u; a word of the line is NAME, or KEY=VALUE */
static int parse_line(char *s, struct ike_user *u)
{
	bool secret = false;
	char *p = s, *name = s;

	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = 0;
	if (!*name || strlen(name) >= sizeof(u->name))
		return -EINVAL;
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->groups, sizeof(u->groups), ",");
	while (*p) {
		char *k = p, *v, *e;

		while (isspace((unsigned char)*k))
			k++;
		if (!*k)
			break;
		v = strchr(k, '=');
		if (!v)
			return -EINVAL;
		*v++ = 0;
		if (*v == '"') {
			e = strchr(++v, '"');
			if (!e)
				return -EINVAL;
		} else {
			for (e = v; *e && !isspace((unsigned char)*e); e++)
				;
		}
		p = *e ? e + 1 : e;
		*e = 0;
		if (!strcmp(k, "password")) {
			if (ike_mschap_nt_hash(v, u->nt_hash))
				return -EINVAL;
			secret = true;
		} else if (!strcmp(k, "nthash")) {
			size_t n;

			if (ike_unhex(v, u->nt_hash, sizeof(u->nt_hash), &n) || n != 16)
				return -EINVAL;
			secret = true;
		} else if (!strcmp(k, "groups")) {
			if (strlen(u->groups) + strlen(v) + 2 > sizeof(u->groups))
				return -EINVAL;
			strcat(u->groups, v);
			strcat(u->groups, ",");
		} else {
			return -EINVAL;
		}
		ike_wipe(v, strlen(v));
	}
	return secret ? 0 : -EINVAL;
}

/**
 * ike_users_load() - read a users file
 * @path: the file
 * @out: the users, to free with ike_users_free()
 * @err: a reason, naming the line, on failure
 * @errlen: its size
 *
 * Context: configuration load.
 * Return: 0, -EINVAL (reason in @err), -ENOMEM.
 */
int ike_users_load(const char *path, struct ike_users **out, char *err, size_t errlen)
{
	struct ike_users *u = calloc(1, sizeof(*u));
	unsigned int lineno = 0;
	char line[1024];
	struct stat st;
	FILE *f;
	int ret = 0;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st)) {
		snprintf(err, errlen, "users %s: %s", path, strerror(errno));
		ret = -EINVAL;
	} else if (st.st_mode & 077) {
		snprintf(err, errlen, "users %s: readable by group or others (chmod 600 it)", path);
		ret = -EINVAL;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		bool quoted = false;
		struct ike_user *v;
		char *s = line;

		lineno++;
		/* a comment: from a '#' outside quotes */
		for (char *c = line; *c; c++) {
			quoted ^= *c == '"';
			if (*c == '#' && !quoted) {
				*c = 0;
				break;
			}
		}
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			continue;
		v = realloc(u->v, (u->n + 1) * sizeof(*v));
		if (!v) {
			ret = -ENOMEM;
			break;
		}
		u->v = v;
		memset(&u->v[u->n], 0, sizeof(*v));
		if (parse_line(s, &u->v[u->n])) {
			snprintf(err, errlen, "users %s:%u: expected NAME password=\"...\" or "
				 "nthash=HEX32, and groups=G1,G2", path, lineno);
			ret = -EINVAL;
		}
		u->n++;
	}
	ike_wipe(line, sizeof(line));
	if (f)
		fclose(f);
	if (ret) {
		ike_users_free(u);
		return ret;
	}
	*out = u;
	return 0;
}

void ike_users_free(struct ike_users *u)
{
	if (!u)
		return;
	if (u->v)
		ike_wipe(u->v, u->n * sizeof(*u->v));
	free(u->v);
	free(u);
}

static const struct ike_user *find(const struct ike_users *u, const char *name)
{
	for (size_t i = 0; u && i < u->n; i++)
		if (!strcmp(u->v[i].name, name))
			return &u->v[i];
	return NULL;
}

/* the NT hash of user @name; false when there is no such user */
bool ike_users_get(const struct ike_users *u, const char *name, uint8_t nt_hash[16])
{
	const struct ike_user *v = find(u, name);

	if (v)
		memcpy(nt_hash, v->nt_hash, 16);
	return v;
}

bool ike_users_in_group(const struct ike_users *u, const char *name, const char *group)
{
	const struct ike_user *v = find(u, name);
	char want[260];

	snprintf(want, sizeof(want), ",%s,", group);
	return v && strstr(v->groups, want);
}
