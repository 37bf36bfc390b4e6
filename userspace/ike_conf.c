// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKE helper's configuration file.  An INI-style file:
 * an optional [global] section and one [conn NAME] section per tunnel
 * (initiator) or per accepted client (responder); see esptcp.conf(5).
 * Every error names the file, line and key.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike.h"
#include "ike_cert.h"
#include "ike_pool.h"

struct alg_name {
	const char *name;
	uint8_t type;
	uint16_t id, keylen;
};

static const struct alg_name algs[] = {
	{ "aes128gcm16", TT_ENCR, ENCR_AES_GCM_16, 128 },
	{ "aes192gcm16", TT_ENCR, ENCR_AES_GCM_16, 192 },
	{ "aes256gcm16", TT_ENCR, ENCR_AES_GCM_16, 256 },
	{ "aes128gcm", TT_ENCR, ENCR_AES_GCM_16, 128 },
	{ "aes256gcm", TT_ENCR, ENCR_AES_GCM_16, 256 },
	{ "aes128", TT_ENCR, ENCR_AES_CBC, 128 },
	{ "aes192", TT_ENCR, ENCR_AES_CBC, 192 },
	{ "aes256", TT_ENCR, ENCR_AES_CBC, 256 },
	{ "chacha20poly1305", TT_ENCR, ENCR_CHACHA20_POLY1305, 0 },
	{ "sha256", TT_INTEG, AUTH_HMAC_SHA2_256_128, 0 },
	{ "sha384", TT_INTEG, AUTH_HMAC_SHA2_384_192, 0 },
	{ "sha512", TT_INTEG, AUTH_HMAC_SHA2_512_256, 0 },
	{ "prfsha256", TT_PRF, PRF_HMAC_SHA2_256, 0 },
	{ "prfsha384", TT_PRF, PRF_HMAC_SHA2_384, 0 },
	{ "prfsha512", TT_PRF, PRF_HMAC_SHA2_512, 0 },
	{ "modp2048", TT_DH, DH_MODP_2048, 0 },
	{ "modp3072", TT_DH, DH_MODP_3072, 0 },
	{ "modp4096", TT_DH, DH_MODP_4096, 0 },
	{ "ecp256", TT_DH, DH_ECP_256, 0 },
	{ "ecp384", TT_DH, DH_ECP_384, 0 },
	{ "curve25519", TT_DH, DH_CURVE25519, 0 },
	{ "x25519", TT_DH, DH_CURVE25519, 0 },
	{ "esn", TT_ESN, 1, 0 },
};

/**
 * ike_parse_suites() - "aes128gcm16-prfsha256-ecp256, aes256-sha256-modp2048"
 * @s: the list
 * @ike: IKE suites (a PRF and a group are required; sha256 implies
 *	prfsha256) or ESP suites (a group means PFS on rekey)
 * @out: room for IKE_MAX_SUITES
 * @n: set to the count
 *
 * Return: 0, or -EINVAL with a message on stderr.
 */
int ike_parse_suites(const char *s, bool ike, struct ike_suite *out, size_t *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int err = 0;

	*n = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		struct ike_suite su = { 0 };
		char *s2 = NULL, *a;
		struct ike_keys k;

		if (*n == IKE_MAX_SUITES) {
			fprintf(stderr, "esptcp: at most %d proposals\n", IKE_MAX_SUITES);
			err = -EINVAL;
			break;
		}
		for (a = strtok_r(tok, "-", &s2); a; a = strtok_r(NULL, "-", &s2)) {
			const struct alg_name *an = NULL;

			for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
				if (!strcmp(algs[i].name, a))
					an = &algs[i];
			if (!an) {
				fprintf(stderr, "esptcp: unknown algorithm '%s'\n", a);
				err = -EINVAL;
				goto out;
			}
			switch (an->type) {
			case TT_ENCR:
				su.encr = an->id;
				su.keylen = an->keylen;
				break;
			case TT_INTEG:
				su.integ = an->id;
				break;
			case TT_PRF:
				su.prf = an->id;
				break;
			case TT_DH:
				su.dh = an->id;
				break;
			case TT_ESN:
				su.esn = an->id;
				break;
			}
		}
		/* an integrity algorithm implies the PRF of the same hash (sha384: prfsha384) */
		if (ike && !su.prf)
			su.prf = su.integ == AUTH_HMAC_SHA2_256_128 ? PRF_HMAC_SHA2_256 :
				 su.integ == AUTH_HMAC_SHA2_384_192 ? PRF_HMAC_SHA2_384 :
				 su.integ == AUTH_HMAC_SHA2_512_256 ? PRF_HMAC_SHA2_512 : 0;
		if (!ike)
			su.prf = PRF_HMAC_SHA2_256;	/* only for the key-length check */
		if (ike_suite_keylens(&su, &k) || (ike && !su.dh) || (ike && su.esn)) {
			fprintf(stderr, "esptcp: incomplete or unsupported proposal in '%s'%s\n", s,
				ike ? " (IKE needs a cipher, a PRF or an integrity algorithm, and a group)" :
				" (ESP needs aes*gcm16 or chacha20poly1305, or aes* with sha256/384/512)");
			err = -EINVAL;
			break;
		}
		if (!ike)
			su.prf = 0;
		out[(*n)++] = su;
	}
	if (!err && !*n) {
		fprintf(stderr, "esptcp: empty proposal list\n");
		err = -EINVAL;
	}
out:
	free(copy);
	return err;
}

static const char *alg_str(uint8_t type, uint16_t id, uint16_t keylen)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].type == type && algs[i].id == id &&
		    (type != TT_ENCR || algs[i].keylen == keylen))
			return algs[i].name;
	return "?";
}

const char *ike_suite_str(const struct ike_suite *s, bool ike, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", alg_str(TT_ENCR, s->encr, s->keylen));

	if (s->integ && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "-%s", alg_str(TT_INTEG, s->integ, 0));
	if (ike && s->prf && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "-%s", alg_str(TT_PRF, s->prf, 0));
	if (s->dh && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "-%s", alg_str(TT_DH, s->dh, 0));
	if (s->esn && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, "-esn");
	return buf;
}

static int parse_duration(const char *v, unsigned int *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	unsigned long mul = 1;

	if (end == v)
		return -EINVAL;
	if (*end == 'm')
		mul = 60;
	else if (*end == 'h')
		mul = 3600;
	if (*end == 's' || *end == 'm' || *end == 'h')
		end++;
	if (*end || n > 100000000UL / mul)
		return -EINVAL;
	*out = (unsigned int)(n * mul);
	return 0;
}

/* "yes" or "no" */
static int parse_yes_no(const char *v, bool *out)
{
	if (strcmp(v, "yes") && strcmp(v, "no"))
		return -EINVAL;
	*out = !strcmp(v, "yes");
	return 0;
}

/* milliseconds: "500ms", "2s", "1m" */
static int parse_ms(const char *v, unsigned int *out)
{
	size_t n = strlen(v);
	unsigned int s;
	char buf[32];

	if (n > 2 && !strcmp(v + n - 2, "ms") && n < sizeof(buf)) {
		char *end;
		unsigned long ms;

		memcpy(buf, v, n - 2);
		buf[n - 2] = 0;
		ms = strtoul(buf, &end, 10);
		if (end == buf || *end || ms > 100000000UL)
			return -EINVAL;
		*out = (unsigned int)ms;
		return 0;
	}
	if (parse_duration(v, &s) || s > 100000000U / 1000)
		return -EINVAL;
	*out = s * 1000;
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(v, &end, 0);
	return (errno || end == v || *end || *out > max) ? -EINVAL : 0;
}

static int parse_addr(const char *v, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, v, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, v, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* "203.0.113.0/24" or "2001:db8::/64", optionally "[proto]" or "[proto/port]" */
static int parse_ts(const char *v, struct ike_ts *ts)
{
	char addr[INET6_ADDRSTRLEN + 8], *slash, *br;
	unsigned long plen, proto = 0, port = 0;
	size_t alen;
	uint8_t a[16];

	memset(ts, 0, sizeof(*ts));
	if (strlen(v) >= sizeof(addr))
		return -EINVAL;
	strcpy(addr, v);
	br = strchr(addr, '[');
	if (br) {
		char *ps = strchr(br, '/'), *close = strchr(br, ']');

		if (!close || close[1])
			return -EINVAL;
		*close = 0;
		if (ps) {
			*ps = 0;
			if (parse_uint(ps + 1, 65535, &port))
				return -EINVAL;
		}
		if (parse_uint(br + 1, 255, &proto))
			return -EINVAL;
		*br = 0;
	}
	slash = strchr(addr, '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, addr, a) == 1) {
		ts->family = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		ts->family = AF_INET6;
		alen = 16;
	} else {
		return -EINVAL;
	}
	plen = alen * 8;
	if (slash && parse_uint(slash + 1, alen * 8, &plen))
		return -EINVAL;
	ike_ts_set_prefix(ts, a, (unsigned int)plen);
	ts->proto = (uint8_t)proto;
	ts->sport = port ? (uint16_t)port : 0;
	ts->eport = port ? (uint16_t)port : 65535;
	return 0;
}

/* a list of selectors, "10.1.0.0/16, 10.2.0.0/16": at most IKE_MAX_TS, no repeats */
/* port = 4500, 443: up to IKE_MAX_PORTS TCP ports, each once */
static int parse_ports(const char *v, struct ike_conn_conf *c)
{
	char *copy = strdup(v), *save = NULL, *tok;
	unsigned int n = 0;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok && !err; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned long u;

		if (n == IKE_MAX_PORTS || parse_uint(tok, 65535, &u) || !u)
			err = -EINVAL;
		for (unsigned int i = 0; i < n && !err; i++)
			if (c->tcp_ports[i] == u)
				err = -EINVAL;
		if (!err)
			c->tcp_ports[n++] = (uint16_t)u;
	}
	free(copy);
	if (err || !n)
		return -EINVAL;
	c->ntcp_ports = n;
	c->tcp_port = c->tcp_ports[0];
	return 0;
}

static int parse_ts_list(const char *v, struct ike_ts_set *set)
{
	char *copy = strdup(v), *save = NULL, *tok;
	int err = 0;

	set->n = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok && !err; tok = strtok_r(NULL, ", \t", &save)) {
		struct ike_ts t;

		if (set->n == IKE_MAX_TS) {
			fprintf(stderr, "esptcp: at most %d selectors a side\n", IKE_MAX_TS);
			err = -EINVAL;
		} else if (parse_ts(tok, &t)) {
			err = -EINVAL;
		} else {
			for (unsigned int i = 0; i < set->n && !err; i++)
				if (!memcmp(&set->ts[i], &t, sizeof(t)))
					err = -EINVAL;
			if (!err)
				set->ts[set->n++] = t;
		}
	}
	free(copy);
	return err ? err : set->n ? 0 : -EINVAL;
}

/*
 * pool = FIRST-LAST (the seed's 192.168.111.1-192.168.111.5) or a prefix;
 * an IPv4 prefix of /30 or larger leaves out its network and broadcast
 * addresses
 */
static int parse_pool(const char *v, struct ike_conn_conf *c)
{
	char first[INET6_ADDRSTRLEN + 4], *dash;
	struct ike_ts t;
	size_t alen;

	if (strlen(v) >= sizeof(first))
		return -EINVAL;
	strcpy(first, v);
	dash = strchr(first, '-');
	if (dash) {
		*dash = 0;
		if (inet_pton(AF_INET, first, c->pool_first) == 1 &&
		    inet_pton(AF_INET, dash + 1, c->pool_last) == 1)
			c->pool_family = AF_INET;
		else if (inet_pton(AF_INET6, first, c->pool_first) == 1 &&
			 inet_pton(AF_INET6, dash + 1, c->pool_last) == 1)
			c->pool_family = AF_INET6;
		else
			return -EINVAL;
	} else {
		if (strchr(v, '[') || parse_ts(v, &t))
			return -EINVAL;
		alen = t.family == AF_INET ? 4 : 16;
		memcpy(c->pool_first, t.start, alen);
		memcpy(c->pool_last, t.end, alen);
		c->pool_family = t.family;
		if (t.family == AF_INET && ike_ts_prefix(&t) <= 30) {
			c->pool_first[3]++;
			c->pool_last[3]--;
		}
	}
	c->pool_set = true;
	return 0;
}

/* dns = a list of servers of either family, up to IKE_MAX_CFG_DNS of each */
static int parse_dns(const char *v, struct ike_conn_conf *c)
{
	char *copy = strdup(v), *save = NULL, *tok;
	int err = 0;

	c->ndns4 = c->ndns6 = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok && !err; tok = strtok_r(NULL, ", \t", &save)) {
		if (c->ndns4 < IKE_MAX_CFG_DNS && inet_pton(AF_INET, tok, c->dns4[c->ndns4]) == 1)
			c->ndns4++;
		else if (c->ndns6 < IKE_MAX_CFG_DNS &&
			 inet_pton(AF_INET6, tok, c->dns6[c->ndns6]) == 1)
			c->ndns6++;
		else
			err = -EINVAL;
	}
	free(copy);
	return err;
}

/* the family of every selector of a set, or 0 when they differ */
static int ts_set_family(const struct ike_ts_set *set)
{
	for (unsigned int i = 1; i < set->n; i++)
		if (set->ts[i].family != set->ts[0].family)
			return 0;
	return set->n ? set->ts[0].family : 0;
}

/*
 * An address, a DN ("C=CH, O=Example, CN=gw": text with '=' in it), an
 * e-mail address (with '@'), else an FQDN (a leading '@' is dropped).  A
 * DN is kept as DER, or as its text when @glob (matched as text).
 */
static int parse_id(const char *v, bool glob, uint8_t *type, char *out, size_t *len)
{
	uint8_t a[16];

	if (*v != '@' && strchr(v, '=')) {
		*type = ID_DER_ASN1_DN;
		if (!glob)
			return ike_dn_parse(v, (uint8_t *)out, 255, len);
		/* as ike_dn_text() prints a DN: no spaces around ',' and '=' */
		*len = 0;
		for (const char *p = v; *p; p++) {
			if (*p == ' ' && (p[1] == ' ' || p[1] == ',' || p[1] == '=' ||
					  (*len && (out[*len - 1] == ',' || out[*len - 1] == '='))))
				continue;
			if (*len >= 254)
				return -EINVAL;
			out[(*len)++] = *p;
		}
		return *len ? 0 : -EINVAL;
	}
	if (inet_pton(AF_INET, v, a) == 1) {
		*type = ID_IPV4_ADDR;
		memcpy(out, a, 4);
		*len = 4;
	} else if (inet_pton(AF_INET6, v, a) == 1) {
		*type = ID_IPV6_ADDR;
		memcpy(out, a, 16);
		*len = 16;
	} else {
		if (*v == '@')
			v++;
		*len = strlen(v);
		if (!*len || *len >= 255)
			return -EINVAL;
		*type = strchr(v, '@') ? ID_RFC822_ADDR : ID_FQDN;
		memcpy(out, v, *len);
	}
	return 0;
}

static int parse_psk(const char *v, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(v);

	if (!strncmp(v, "0x", 2))
		return ike_unhex(v + 2, out, max, len);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (!n || n > max)
		return -EINVAL;
	memcpy(out, v, n);
	*len = n;
	return 0;
}

static void conn_defaults(struct ike_conn_conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->transport = TRANSPORT_FALLBACK;
	c->tcp_port = 4500;
	c->tcp_ports[0] = 4500;
	c->ntcp_ports = 1;
	c->udp_port = 500;
	c->ike_rekey_s = 4 * 3600;
	c->child_rekey_s = 3600;
	c->dpd_s = 30;
	c->dpd_timeout_s = 90;
	c->fragment_size = 1280;
	c->retry_s = 2;
	c->instances = 1;
	c->install = true;
	c->tunnel = true;
	c->remote_any = true;
	c->fallback_ms = 2000;
	c->udp_timeout_ms = 1500;
	c->mobike = true;
	c->probe_s = 30;
	c->udp_quiet_ms = 150;
	c->return_checks = 3;
	c->standby = true;
	c->keepalive_s = 20;
	c->lease_grace_s = 600;
	snprintf(c->vip_dev, sizeof(c->vip_dev), "lo");
	c->route_table = 220;
	/*
	 * What gateways and clients offer today (FortiClient's defaults among
	 * them): AEAD first, then CBC with SHA2; the first one's group is the
	 * initiator's KE.
	 */
	ike_parse_suites(IKE_DEFAULT_IKE, true, c->ike, &c->nike);
	ike_parse_suites(IKE_DEFAULT_ESP, false, c->esp, &c->nesp);
}

static int conn_key(struct ike_conn_conf *c, const char *k, const char *v)
{
	unsigned long u;

	if (!strcmp(k, "role")) {
		if (strcmp(v, "initiator") && strcmp(v, "responder"))
			return -EINVAL;
		c->initiator = !strcmp(v, "initiator");
	} else if (!strcmp(k, "transport")) {
		if (!strcmp(v, "tcp"))
			c->transport = TRANSPORT_TCP;
		else if (!strcmp(v, "udp"))
			c->transport = TRANSPORT_UDP;
		else if (!strcmp(v, "udp-fallback-tcp"))
			c->transport = TRANSPORT_FALLBACK;
		else
			return -EINVAL;
	} else if (!strcmp(k, "local")) {
		if (!strcmp(v, "any") || !strcmp(v, "%any")) {
			/* the family is the remote's; the address routing's */
			c->local_any = true;
			memset(&c->local, 0, sizeof(c->local));
			return 0;
		}
		c->local_any = false;
		return parse_addr(v, &c->local);
	} else if (!strcmp(k, "remote")) {
		if (!strcmp(v, "any") || !strcmp(v, "%any")) {
			c->remote_any = true;
			return 0;
		}
		c->remote_any = false;
		return parse_addr(v, &c->remote);
	} else if (!strcmp(k, "port")) {
		return parse_ports(v, c);
	} else if (!strcmp(k, "udp-port")) {
		if (parse_uint(v, 65535, &u) || !u)
			return -EINVAL;
		c->udp_port = (uint16_t)u;
	} else if (!strcmp(k, "local-id")) {
		return parse_id(v, false, &c->local_id_type, c->local_id, &c->local_id_len);
	} else if (!strcmp(k, "remote-id")) {
		c->remote_id_any = !strcmp(v, "%any");
		if (c->remote_id_any) {
			c->remote_id_len = 0;
			return 0;
		}
		c->remote_id_glob = strchr(v, '*') || strchr(v, '?') || strchr(v, '[');
		return parse_id(v, c->remote_id_glob, &c->remote_id_type, c->remote_id,
				&c->remote_id_len);
	} else if (!strcmp(k, "psk")) {
		return parse_psk(v, c->psk, sizeof(c->psk), &c->psk_len);
	} else if (!strcmp(k, "auth") || !strcmp(k, "local-auth") || !strcmp(k, "remote-auth")) {
		uint8_t m;

		if (!strcmp(v, "psk"))
			m = AUTHM_PSK;
		else if (!strcmp(v, "pubkey"))
			m = AUTHM_PUBKEY;
		else if (!strcmp(v, "eap") || !strcmp(v, "eap-mschapv2"))
			m = AUTHM_EAP;
		else
			return -EINVAL;
		if (strcmp(k, "remote-auth"))
			c->local_auth = m;
		if (strcmp(k, "local-auth"))
			c->remote_auth = m;
	} else if (!strcmp(k, "cert") || !strcmp(k, "key") || !strcmp(k, "ca") ||
		   !strcmp(k, "crl")) {
		char *dst = !strcmp(k, "cert") ? c->cert : !strcmp(k, "key") ? c->key :
			    !strcmp(k, "ca") ? c->ca : c->crl;

		if (v[0] != '/' || strlen(v) >= sizeof(c->cert))
			return -EINVAL;
		snprintf(dst, sizeof(c->cert), "%s", v);
	} else if (!strcmp(k, "pool")) {
		return parse_pool(v, c);
	} else if (!strcmp(k, "dns")) {
		return parse_dns(v, c);
	} else if (!strcmp(k, "vip")) {
		return parse_yes_no(v, &c->vip);
	} else if (!strcmp(k, "vip-interface")) {
		if (!*v || strlen(v) >= sizeof(c->vip_dev) || strchr(v, '/'))
			return -EINVAL;
		snprintf(c->vip_dev, sizeof(c->vip_dev), "%s", v);
	} else if (!strcmp(k, "route-table")) {
		/* 0 unspec, 253 default, 254 main, 255 local: not ours to fill */
		if (parse_uint(v, 0xffffffffUL, &u) || !u || (u >= 253 && u <= 255))
			return -EINVAL;
		c->route_table = (uint32_t)u;
	} else if (!strcmp(k, "updown")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->updown))
			return -EINVAL;
		snprintf(c->updown, sizeof(c->updown), "%s", v);
	} else if (!strcmp(k, "users")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->users_path))
			return -EINVAL;
		snprintf(c->users_path, sizeof(c->users_path), "%s", v);
	} else if (!strcmp(k, "radius")) {
		/* ADDRESS, or ADDRESS@PORT (a port after an IPv6 address reads badly) */
		char a[INET6_ADDRSTRLEN + 8], *at;
		unsigned long port = 1812;

		if (strlen(v) >= sizeof(a))
			return -EINVAL;
		snprintf(a, sizeof(a), "%s", v);
		at = strchr(a, '@');
		if (at) {
			*at = 0;
			if (parse_uint(at + 1, 65535, &port) || !port)
				return -EINVAL;
		}
		if (parse_addr(a, &c->radius))
			return -EINVAL;
		ike_ss_set_port(&c->radius, (uint16_t)port);
		c->radius_set = true;
	} else if (!strcmp(k, "radius-secret")) {
		return parse_psk(v, c->radius_secret, sizeof(c->radius_secret),
				 &c->radius_secret_len);
	} else if (!strcmp(k, "group")) {
		if (!*v || strlen(v) >= sizeof(c->eap_group) || strchr(v, ','))
			return -EINVAL;
		snprintf(c->eap_group, sizeof(c->eap_group), "%s", v);
	} else if (!strcmp(k, "eap-identity")) {
		if (!*v || strlen(v) >= sizeof(c->eap_identity))
			return -EINVAL;
		for (const char *p = v; *p; p++)
			if (*p <= ' ' || *p >= 0x7f)
				return -EINVAL;
		snprintf(c->eap_identity, sizeof(c->eap_identity), "%s", v);
	} else if (!strcmp(k, "eap-password")) {
		uint8_t pw[257];
		size_t n;
		int err = parse_psk(v, pw, sizeof(pw) - 1, &n);

		pw[err ? 0 : n] = 0;
		if (!err && (!n || memchr(pw, 0, n) || ike_mschap_nt_hash((char *)pw, c->eap_nt_hash)))
			err = -EINVAL;
		ike_wipe(pw, sizeof(pw));
		c->eap_secret = !err;
		return err;
	} else if (!strcmp(k, "fragment-size")) {
		/* 0 turns fragmentation off; else at least IPv6's minimum MTU's worth */
		if (parse_uint(v, 65535, &u) || (u && u < 576))
			return -EINVAL;
		c->fragment_size = (unsigned int)u;
	} else if (!strcmp(k, "lease-grace")) {
		return parse_duration(v, &c->lease_grace_s);
	} else if (!strcmp(k, "local-ts")) {
		return parse_ts_list(v, &c->local_ts);
	} else if (!strcmp(k, "remote-ts")) {
		return parse_ts_list(v, &c->remote_ts);
	} else if (!strcmp(k, "ike")) {
		return ike_parse_suites(v, true, c->ike, &c->nike);
	} else if (!strcmp(k, "esp")) {
		return ike_parse_suites(v, false, c->esp, &c->nesp);
	} else if (!strcmp(k, "ike-rekey")) {
		return parse_duration(v, &c->ike_rekey_s);
	} else if (!strcmp(k, "child-rekey")) {
		return parse_duration(v, &c->child_rekey_s);
	} else if (!strcmp(k, "dpd")) {
		return parse_duration(v, &c->dpd_s);
	} else if (!strcmp(k, "dpd-timeout")) {
		return parse_duration(v, &c->dpd_timeout_s);
	} else if (!strcmp(k, "retry")) {
		return parse_duration(v, &c->retry_s);
	} else if (!strcmp(k, "instances")) {
		if (parse_uint(v, IKE_MAX_INSTANCES, &u) || !u)
			return -EINVAL;
		c->instances = u;
	} else if (!strcmp(k, "start-rate")) {
		if (parse_uint(v, 1000000, &u))
			return -EINVAL;
		c->start_rate = u;
	} else if (!strcmp(k, "install")) {
		return parse_yes_no(v, &c->install);
	} else if (!strcmp(k, "fallback-timeout")) {
		return parse_ms(v, &c->fallback_ms);
	} else if (!strcmp(k, "udp-timeout")) {
		return parse_ms(v, &c->udp_timeout_ms);
	} else if (!strcmp(k, "mobike")) {
		return parse_yes_no(v, &c->mobike);
	} else if (!strcmp(k, "udp-probe")) {
		return parse_duration(v, &c->probe_s);
	} else if (!strcmp(k, "keepalive")) {
		return parse_duration(v, &c->keepalive_s);
	} else if (!strcmp(k, "udp-quiet")) {
		if (parse_ms(v, &c->udp_quiet_ms) || c->udp_quiet_ms < 20)
			return -EINVAL;
	} else if (!strcmp(k, "udp-return-checks")) {
		unsigned long u;

		if (parse_uint(v, 10, &u) || !u)
			return -EINVAL;
		c->return_checks = (unsigned int)u;
	} else if (!strcmp(k, "tcp-standby")) {
		return parse_yes_no(v, &c->standby);
	} else if (!strcmp(k, "encap")) {
		if (strcmp(v, "yes") && strcmp(v, "auto"))
			return -EINVAL;
		c->encap_force = !strcmp(v, "yes");
	} else if (!strcmp(k, "mode")) {
		if (strcmp(v, "tunnel") && strcmp(v, "transport"))
			return -EINVAL;
		c->tunnel = !strcmp(v, "tunnel");
	} else {
		return -ENOENT;
	}
	return 0;
}

static int global_key(struct ike_conf *conf, const char *k, const char *v)
{
	unsigned long u;

	if (!strcmp(k, "half-open-max")) {
		if (parse_uint(v, 1000000, &u) || !u)
			return -EINVAL;
		conf->half_open_max = (unsigned int)u;
	} else if (!strcmp(k, "half-open-per-source")) {
		if (parse_uint(v, 1000000, &u) || !u)
			return -EINVAL;
		conf->half_open_per_source = (unsigned int)u;
	} else if (!strcmp(k, "cookie-threshold")) {
		if (parse_uint(v, 1000000, &u))
			return -EINVAL;
		conf->cookie_threshold = (unsigned int)u;
	} else if (!strcmp(k, "half-open-timeout")) {
		return parse_duration(v, &conf->half_open_timeout_s);
	} else if (!strcmp(k, "standby-max")) {
		if (parse_uint(v, 1000000, &u))
			return -EINVAL;
		conf->standby_max = (unsigned int)u;
	} else if (!strcmp(k, "reqid-base")) {
		if (parse_uint(v, 0xffffffffUL, &u) || (u & 0xffff))
			return -EINVAL;
		conf->reqid_base = (uint32_t)u;
	} else if (!strcmp(k, "lease-file")) {
		if (v[0] != '/' || strlen(v) >= sizeof(conf->lease_file))
			return -EINVAL;
		snprintf(conf->lease_file, sizeof(conf->lease_file), "%s", v);
	} else if (!strcmp(k, "ulp")) {
		if (strcmp(v, "esptcp") && strcmp(v, "espintcp"))
			return -EINVAL;
		snprintf(conf->ulp, sizeof(conf->ulp), "%s", v);
	} else {
		return -ENOENT;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/*
 * A conn's certificate, key, anchors and CRLs; with our certificate, the
 * identity we send is its subject unless local-id names another that the
 * certificate carries (a peer would refuse one it does not).
 */
static int load_creds(const char *path, struct ike_conn_conf *c)
{
	char err[512];

	if (!*c->cert && !*c->key && !*c->ca && !*c->crl)
		return 0;
	if (ike_creds_load(&c->creds, *c->cert ? c->cert : NULL, *c->key ? c->key : NULL,
			   *c->ca ? c->ca : NULL, *c->crl ? c->crl : NULL, err, sizeof(err))) {
		fprintf(stderr, "esptcp: %s: [conn %s]: %s\n", path, c->name, err);
		return -EINVAL;
	}
	if (c->remote_auth == AUTHM_PUBKEY && !ike_creds_has_ca(c->creds)) {
		fprintf(stderr, "esptcp: %s: [conn %s]: no CA certificate in %s\n", path,
			c->name, c->ca);
		return -EINVAL;
	}
	if (c->local_auth != AUTHM_PUBKEY)
		return 0;
	if (!c->local_id_len) {
		size_t len;

		if (ike_creds_subject(c->creds, (uint8_t *)c->local_id, sizeof(c->local_id) - 1,
				      &len)) {
			fprintf(stderr, "esptcp: %s: [conn %s]: the certificate's subject is "
				"too long for an identity\n", path, c->name);
			return -EINVAL;
		}
		c->local_id_type = ID_DER_ASN1_DN;
		c->local_id_len = len;
	} else if (!ike_creds_id_ok(c->creds, c->local_id_type, (const uint8_t *)c->local_id,
				    c->local_id_len)) {
		fprintf(stderr, "esptcp: %s: [conn %s]: local-id is not in the certificate "
			"(subjectAltName, or its subject for a DN)\n", path, c->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * EAP: a gateway's users file; a client's EAP identity, by default its
 * local-id when that is a name.  EAP is the client's side only: the
 * gateway proves itself with its key (RFC 7296 2.16).
 */
static int load_eap(const char *path, struct ike_conn_conf *c)
{
	char err[512];

	/*
	 * RFC 7296 2.16: with EAP the gateway proves itself with its key; with a
	 * PSK every client could pose as the gateway and collect the others'
	 * MS-CHAPv2 responses, to crack offline.
	 */
	if ((c->remote_auth == AUTHM_EAP && (c->initiator || c->local_auth != AUTHM_PUBKEY)) ||
	    (c->local_auth == AUTHM_EAP && (!c->initiator || c->remote_auth != AUTHM_PUBKEY))) {
		fprintf(stderr, "esptcp: %s: [conn %s]: EAP is how a client (initiator) logs in "
			"to a gateway (responder) that proves itself with its certificate "
			"(local-auth = pubkey there, remote-auth = pubkey here)\n", path, c->name);
		return -EINVAL;
	}
	if (c->remote_auth == AUTHM_EAP && !c->radius_set &&
	    ike_users_load(c->users_path, &c->users, err, sizeof(err))) {
		fprintf(stderr, "esptcp: %s: [conn %s]: %s\n", path, c->name, err);
		return -EINVAL;
	}
	if (c->local_auth == AUTHM_EAP && !*c->eap_identity) {
		if ((c->local_id_type != ID_FQDN && c->local_id_type != ID_RFC822_ADDR) ||
		    !c->local_id_len || c->local_id_len >= sizeof(c->eap_identity)) {
			fprintf(stderr, "esptcp: %s: [conn %s]: missing eap-identity\n", path,
				c->name);
			return -EINVAL;
		}
		memcpy(c->eap_identity, c->local_id, c->local_id_len);
		c->eap_identity[c->local_id_len] = 0;
	}
	return 0;
}

static int check_conn(const char *path, struct ike_conn_conf *c)
{
	const char *miss = NULL;

	if (c->local_any && !c->initiator) {
		fprintf(stderr, "esptcp: %s: [conn %s]: local = %%any is for initiators; a responder"
			" listens on its address\n", path, c->name);
		return -EINVAL;
	}
	if (c->local_any && !c->tunnel) {
		fprintf(stderr, "esptcp: %s: [conn %s]: local = %%any needs tunnel mode (transport"
			" mode's selectors are the outer addresses)\n", path, c->name);
		return -EINVAL;
	}
	if (c->local_any)
		c->local.ss_family = c->remote.ss_family;
	if (!c->ike_rekey_s || !c->child_rekey_s) {
		/* 0 would be due at once, again and again: a rekey storm */
		fprintf(stderr, "esptcp: %s: [conn %s]: ike-rekey and child-rekey are at least"
			" 1 s\n", path, c->name);
		return -EINVAL;
	}
	if ((c->instances > 1 || !c->install) && !c->initiator) {
		fprintf(stderr, "esptcp: %s: [conn %s]: instances and install = no are for an"
			" initiator (a load generator)\n", path, c->name);
		return -EINVAL;
	}
	if (c->instances > 1 && (c->local_any || c->updown[0] ||
				 (c->vip && c->install) || c->transport == TRANSPORT_FALLBACK)) {
		fprintf(stderr, "esptcp: %s: [conn %s]: instances > 1 needs a fixed local, transport"
			" udp or tcp, and no updown; vip = yes with install = no\n", path, c->name);
		return -EINVAL;
	}
	if (c->vip && (!c->initiator || !c->tunnel || c->local_ts.n)) {
		fprintf(stderr, "esptcp: %s: [conn %s]: vip = yes is for an initiator in tunnel mode,"
			" without local-ts (its selector is the address it gets)\n", path, c->name);
		return -EINVAL;
	}
	if (c->vip && c->local.ss_family) {
		/* we ask for any address of the family; the gateway narrows it to ours */
		int fam = c->remote_ts.n ? ts_set_family(&c->remote_ts) : c->local.ss_family;
		struct ike_ts any = { .family = (uint8_t)fam, .eport = 65535 };

		if (fam && fam != c->local.ss_family) {
			fprintf(stderr, "esptcp: %s: [conn %s]: vip = yes needs remote-ts of the outer"
				" family\n", path, c->name);
			return -EINVAL;
		}
		if (fam) {
			ike_ts_set_prefix(&any, any.start, 0);
			c->local_ts.ts[0] = any;
			c->local_ts.n = 1;
			if (!c->remote_ts.n)
				c->remote_ts = c->local_ts;
		}
	}
	if (!c->local.ss_family)
		miss = "local";
	else if (c->initiator && c->remote_any)
		miss = "remote (an initiator needs an address)";
	else if (!c->psk_len && (c->local_auth == AUTHM_PSK || c->remote_auth == AUTHM_PSK))
		miss = "psk";
	else if (c->local_auth == AUTHM_PUBKEY && (!*c->cert || !*c->key))
		miss = "cert and key (auth = pubkey)";
	else if (c->remote_auth == AUTHM_PUBKEY && !*c->ca)
		miss = "ca (the peer's trust anchors, remote-auth = pubkey)";
	else if (c->remote_auth == AUTHM_EAP && !*c->users_path && !c->radius_set)
		miss = "users or radius (remote-auth = eap)";
	else if (c->radius_set && !c->radius_secret_len)
		miss = "radius-secret";
	else if (c->local_auth == AUTHM_EAP && !c->eap_secret)
		miss = "eap-password (local-auth = eap)";
	else if (!c->local_ts.n || (!c->remote_ts.n && !c->pool_set))
		miss = "local-ts and remote-ts (or pool)";
	if (miss) {
		fprintf(stderr, "esptcp: %s: [conn %s]: missing %s\n", path, c->name, miss);
		return -EINVAL;
	}
	if (load_creds(path, c) || load_eap(path, c))
		return -EINVAL;
	if (c->psk_len && c->psk_len < IKE_PSK_MIN)
		/* a captured exchange lets anyone guess a PSK offline, at leisure */
		fprintf(stderr, "esptcp: %s: [conn %s]: warning: the psk has %zu characters; "
			"use %d or more random ones\n", path, c->name, c->psk_len, IKE_PSK_MIN);
	if (!c->remote_any && c->remote.ss_family != c->local.ss_family) {
		fprintf(stderr, "esptcp: %s: [conn %s]: local and remote differ in family\n",
			path, c->name);
		return -EINVAL;
	}
	if (c->pool_set) {
		struct ike_pool p;

		if (ike_pool_init(&p, c->pool_family, c->pool_first, c->pool_last)) {
			fprintf(stderr, "esptcp: %s: [conn %s]: the pool must be a range of 1 to %d "
				"addresses\n", path, c->name, IKE_POOL_MAX);
			return -EINVAL;
		}
		ike_pool_free(&p);
	}
	if (c->pool_set && (c->initiator || !c->tunnel ||
			    c->pool_family != ts_set_family(&c->local_ts))) {
		fprintf(stderr, "esptcp: %s: [conn %s]: a pool is for a responder in tunnel mode, "
			"of local-ts's family\n", path, c->name);
		return -EINVAL;
	}
	if (!ts_set_family(&c->local_ts) ||
	    (c->remote_ts.n && ts_set_family(&c->local_ts) != ts_set_family(&c->remote_ts))) {
		fprintf(stderr, "esptcp: %s: [conn %s]: local-ts and remote-ts differ in family\n",
			path, c->name);
		return -EINVAL;
	}
	if (!c->tunnel && ts_set_family(&c->local_ts) != c->local.ss_family) {
		fprintf(stderr, "esptcp: %s: [conn %s]: transport mode needs selectors of the outer family\n",
			path, c->name);
		return -EINVAL;
	}
	return 0;
}

/**
 * ike_conf_load() - read a configuration file
 * @path: the file
 * @conf: filled in; free with ike_conf_free()
 *
 * Return: 0, or -EINVAL after printing what is wrong and where.
 */
int ike_conf_load(const char *path, struct ike_conf *conf)
{
	FILE *f = fopen(path, "r");
	struct ike_conn_conf *cur = NULL;
	bool in_global = false;
	const char *syntax = NULL;
	char line[1024];
	unsigned int lineno = 0;
	int err = 0;

	memset(conf, 0, sizeof(*conf));
	conf->half_open_max = 256;
	conf->standby_max = 10000;
	conf->half_open_per_source = 16;
	conf->cookie_threshold = 32;
	conf->half_open_timeout_s = 30;
	conf->reqid_base = 0x45540000;
	/* where esptcp show looks (ESPTCP_STATUS_DIR) */
	snprintf(conf->status_dir, sizeof(conf->status_dir), "/run/esptcp");
	snprintf(conf->ulp, sizeof(conf->ulp), "esptcp");
	if (!f) {
		fprintf(stderr, "esptcp: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *k, *v;

		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']'), *name;

			if (!close || close[1]) {
				syntax = "a section header is [global] or [conn NAME]";
				err = -EINVAL;
				break;
			}
			*close = 0;
			name = trim(s + 1);
			in_global = !strcmp(name, "global");
			cur = NULL;
			if (in_global)
				continue;
			if (strncmp(name, "conn", 4) || !isspace((unsigned char)name[4])) {
				syntax = "a section header is [global] or [conn NAME]";
				err = -EINVAL;
				break;
			}
			name = trim(name + 4);
			for (size_t i = 0; i < conf->nconns; i++)
				if (!strcmp(conf->conns[i].name, name))
					err = -EEXIST;
			if (err || !*name || strlen(name) >= sizeof(cur->name)) {
				syntax = err ? "a conn of this name exists already" :
					 "a conn needs a name of at most 63 characters";
				err = -EINVAL;
				break;
			}
			cur = realloc(conf->conns, (conf->nconns + 1) * sizeof(*cur));
			if (!cur) {
				err = -ENOMEM;
				break;
			}
			conf->conns = cur;
			cur = &conf->conns[conf->nconns++];
			conn_defaults(cur, name);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq || (!cur && !in_global)) {
			syntax = eq ? "a setting before any section" : "expected KEY = VALUE";
			err = -EINVAL;
			break;
		}
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		err = cur ? conn_key(cur, k, v) : global_key(conf, k, v);
		if (err == -ENOENT) {
			fprintf(stderr, "esptcp: %s:%u: unknown key '%s'\n", path, lineno, k);
			err = -EINVAL;
		} else if (err) {
			fprintf(stderr, "esptcp: %s:%u: bad value for '%s'\n", path, lineno, k);
		}
	}
	if (syntax)
		fprintf(stderr, "esptcp: %s:%u: %s\n", path, lineno, syntax);
	fclose(f);
	for (size_t i = 0; !err && i < conf->nconns; i++)
		err = check_conn(path, &conf->conns[i]);
	if (!err && !conf->nconns) {
		fprintf(stderr, "esptcp: %s: no [conn NAME] section\n", path);
		err = -EINVAL;
	}
	if (err)
		ike_conf_free(conf);
	return err ? -EINVAL : 0;
}

void ike_conf_free(struct ike_conf *conf)
{
	for (size_t i = 0; i < conf->nconns; i++) {
		ike_wipe(conf->conns[i].psk, sizeof(conf->conns[i].psk));
		ike_creds_free(conf->conns[i].creds);
		ike_users_free(conf->conns[i].users);
		ike_wipe(conf->conns[i].eap_nt_hash, sizeof(conf->conns[i].eap_nt_hash));
		ike_wipe(conf->conns[i].radius_secret, sizeof(conf->conns[i].radius_secret));
	}
	free(conf->conns);
	conf->conns = NULL;
	conf->nconns = 0;
}
