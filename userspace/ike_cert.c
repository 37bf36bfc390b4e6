// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: X.509 credentials of a conn, all through OpenSSL.
 *
 * Ours: an end-entity certificate with its intermediates (one PEM file, the
 * end entity first) and its private key (a PEM file no one else may read).
 * The peer's: trust anchors (a PEM file, or a folder of them) and CRLs
 * (the same), against which OpenSSL validates the chain a peer sends in its
 * CERT payloads (RFC 7296 3.6), with time checks and, when CRLs are given,
 * revocation of the end entity.  The certificate must then name the
 * identity the peer claims (RFC 4945 3.1): subjectAltName for FQDN, e-mail
 * and address IDs (no wildcards, never the subject's CN), the subject for a
 * DN.  CERTREQ (3.7) carries the SHA-1 hashes of the anchors' public keys.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike_cert.h"

#define RSA_MIN_BITS	2048

struct ike_creds {
	X509 *cert;			/* ours, the end entity */
	STACK_OF(X509) *chain;		/* ours, its intermediates */
	EVP_PKEY *key;
	X509_STORE *store;		/* the peer's anchors and CRLs */
	size_t nca, ncrl;
	uint8_t *certreq;		/* SHA-1 of each anchor's SubjectPublicKeyInfo */
	size_t certreq_len;
};

static void ssl_err(char *err, size_t len, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, len, "%s %s: %s", what, path, e ? buf : "nothing usable in it");
	ERR_clear_error();
}

static int load_chain(struct ike_creds *cr, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f) {
		snprintf(err, len, "certificate %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	cr->chain = sk_X509_new_null();
	while (cr->chain && (x = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (!cr->cert)
			cr->cert = x;
		else if (!sk_X509_push(cr->chain, x))
			X509_free(x);
	}
	fclose(f);
	ERR_clear_error();	/* the end of the file reads as an error */
	if (!cr->cert) {
		snprintf(err, len, "certificate %s: no PEM certificate in it", path);
		return -EINVAL;
	}
	return 0;
}

static int load_key(struct ike_creds *cr, const char *path, char *err, size_t len)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st)) {
		snprintf(err, len, "key %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, len, "key %s: readable by group or others (chmod 600 it)", path);
		return -EINVAL;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, len, "key %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	cr->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!cr->key) {
		ssl_err(err, len, "key", path);
		return -EINVAL;
	}
	if (cr->cert && X509_check_private_key(cr->cert, cr->key) != 1) {
		ERR_clear_error();
		snprintf(err, len, "key %s is not the certificate's", path);
		return -EINVAL;
	}
	return 0;
}

/* every certificate and CRL of one PEM file into the store */
static int load_pem(struct ike_creds *cr, const char *path, bool crls, char *err, size_t len)
{
	STACK_OF(X509_INFO) *infos;
	BIO *bio = BIO_new_file(path, "r");
	size_t got = 0;

	if (!bio) {
		ssl_err(err, len, crls ? "CRL" : "CA", path);
		return -EINVAL;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!infos) {
		ssl_err(err, len, crls ? "CRL" : "CA", path);
		return -EINVAL;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (!crls && xi->x509 && X509_STORE_add_cert(cr->store, xi->x509) == 1) {
			cr->nca++;
			got++;
		}
		if (crls && xi->crl && X509_STORE_add_crl(cr->store, xi->crl) == 1) {
			cr->ncrl++;
			got++;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	if (!got) {
		snprintf(err, len, "%s %s: no PEM %s in it", crls ? "CRL" : "CA", path,
			 crls ? "CRL" : "certificate");
		return -EINVAL;
	}
	return 0;
}

/* a PEM file, or every regular file of a folder (sorted; dot files skipped) */
static int load_path(struct ike_creds *cr, const char *path, bool crls, char *err, size_t len)
{
	struct dirent **names;
	struct stat st;
	int n, ret = 0;

	if (stat(path, &st)) {
		snprintf(err, len, "%s %s: %s", crls ? "CRL" : "CA", path, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode))
		return load_pem(cr, path, crls, err, len);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(err, len, "%s %s: %s", crls ? "CRL" : "CA", path, strerror(errno));
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];

		if (!ret && names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name) <
		    sizeof(file) && !stat(file, &st) && S_ISREG(st.st_mode))
			ret = load_pem(cr, file, crls, err, len);
		free(names[i]);
	}
	free(names);
	return ret;
}

static int make_certreq(struct ike_creds *cr)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(cr->store);
	int n = sk_X509_OBJECT_num(objs);

	cr->certreq = malloc((size_t)(n > 0 ? n : 1) * 20);
	if (!cr->certreq)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		unsigned char *spki = NULL;
		unsigned int mdlen = 0;
		int n = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki) : -1;

		/* RFC 7296 3.7: SHA-1 of the whole SubjectPublicKeyInfo */
		if (n > 0 && EVP_Digest(spki, (size_t)n, cr->certreq + cr->certreq_len, &mdlen,
					EVP_sha1(), NULL) == 1 && mdlen == 20)
			cr->certreq_len += 20;
		OPENSSL_free(spki);
	}
	return 0;
}

/* a key fit for IKE: RSA of 2048 bits or more, ECDSA on P-256/384/521, Ed25519 */
static const char *key_unfit(EVP_PKEY *pk)
{
	char curve[32];

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return EVP_PKEY_get_bits(pk) < RSA_MIN_BITS ? "an RSA key under 2048 bits" : NULL;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, curve, sizeof(curve), NULL) != 1 ||
		    (strcmp(curve, "prime256v1") && strcmp(curve, "secp384r1") &&
		     strcmp(curve, "secp521r1")))
			return "an EC key on a curve other than P-256, P-384 or P-521";
		return NULL;
	case EVP_PKEY_ED25519:
		return NULL;
	default:
		return "a key type we do not take";
	}
}

/**
 * ike_creds_load() - load a conn's certificate, key, trust anchors and CRLs
 * @out: the credentials, to free with ike_creds_free()
 * @cert: our certificate and its intermediates (PEM), or NULL
 * @key: our private key (PEM, mode 0600 or stricter), or NULL
 * @ca: trust anchors for the peer's certificate (a PEM file or folder), or NULL
 * @crl: CRLs (a PEM file or folder), or NULL: then no revocation check
 * @err: where a reason goes on failure, naming the file
 * @errlen: its size
 *
 * Context: configuration load; reads files.
 * Return: 0, -EINVAL (reason in @err) or -ENOMEM.
 */
int ike_creds_load(struct ike_creds **out, const char *cert, const char *key, const char *ca,
		   const char *crl, char *err, size_t errlen)
{
	struct ike_creds *cr = calloc(1, sizeof(*cr));
	int ret = 0;

	*out = NULL;
	if (!cr)
		return -ENOMEM;
	if (cert)
		ret = load_chain(cr, cert, err, errlen);
	if (!ret && key)
		ret = load_key(cr, key, err, errlen);
	if (!ret && (ca || crl)) {
		cr->store = X509_STORE_new();
		if (!cr->store)
			ret = -ENOMEM;
	}
	if (!ret && ca)
		ret = load_path(cr, ca, false, err, errlen);
	if (!ret && crl) {
		ret = load_path(cr, crl, true, err, errlen);
		if (!ret)
			X509_STORE_set_flags(cr->store, X509_V_FLAG_CRL_CHECK);
	}
	if (!ret && cr->key && key_unfit(cr->key)) {
		snprintf(err, errlen, "key %s: %s", key, key_unfit(cr->key));
		ret = -EINVAL;
	}
	if (!ret && cr->store)
		ret = make_certreq(cr);
	if (ret) {
		ike_creds_free(cr);
		return ret;
	}
	*out = cr;
	return 0;
}

void ike_creds_free(struct ike_creds *cr)
{
	if (!cr)
		return;
	X509_free(cr->cert);
	sk_X509_pop_free(cr->chain, X509_free);
	EVP_PKEY_free(cr->key);
	X509_STORE_free(cr->store);
	free(cr->certreq);
	free(cr);
}

bool ike_creds_has_key(const struct ike_creds *cr)
{
	return cr && cr->cert && cr->key;
}

bool ike_creds_has_ca(const struct ike_creds *cr)
{
	return cr && cr->nca;
}

EVP_PKEY *ike_creds_key(const struct ike_creds *cr)
{
	return cr->key;
}

/* our certificates, the end entity first: what CERT payloads carry */
size_t ike_creds_ncerts(const struct ike_creds *cr)
{
	return cr && cr->cert ? 1 + (size_t)sk_X509_num(cr->chain) : 0;
}

/* append certificate @i (0: the end entity) in DER to @b */
int ike_creds_cert(const struct ike_creds *cr, size_t i, struct ike_buf *b)
{
	X509 *x = i ? sk_X509_value(cr->chain, (int)i - 1) : cr->cert;
	unsigned char *der = NULL;
	int n = x ? i2d_X509(x, &der) : -1;

	if (n <= 0)
		return -EINVAL;
	ike_put(b, der, (size_t)n);
	OPENSSL_free(der);
	return b->err ? -ENOMEM : 0;
}

static int subject_der(X509 *x, uint8_t *der, size_t max, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(x), &p);

	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(p);
		return -E2BIG;
	}
	memcpy(der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

/* our certificate's subject in DER: the identity by default */
int ike_creds_subject(const struct ike_creds *cr, uint8_t *der, size_t max, size_t *len)
{
	return subject_der(cr->cert, der, max, len);
}

/* the SHA-1 hashes of the anchors' public keys, for a CERTREQ */
const uint8_t *ike_creds_certreq(const struct ike_creds *cr, size_t *len)
{
	*len = cr ? cr->certreq_len : 0;
	return cr ? cr->certreq : NULL;
}

/* a dNSName or rfc822Name of the certificate, exactly (case aside) */
static bool san_is(X509 *x, int kind, const uint8_t *id, size_t len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; names && !found && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_IA5STRING *s = g->type == kind ? g->d.ia5 : NULL;

		found = s && (size_t)ASN1_STRING_length(s) == len &&
			!strncasecmp((const char *)ASN1_STRING_get0_data(s), (const char *)id, len);
	}
	GENERAL_NAMES_free(names);
	return found;
}

/*
 * Does certificate @x name identity @type/@id (RFC 4945 3.1)?  An FQDN or
 * e-mail address must be one of its subjectAltNames as it is (no wildcard,
 * no ".domain" suffix match, never the subject's CN); an address one of its
 * iPAddresses of that family; a DN its subject, compared as X.509 does.
 */
static bool cert_names(X509 *x, uint8_t type, const uint8_t *id, size_t len)
{
	if (!len)
		return false;
	switch (type) {
	case ID_IPV4_ADDR:
	case ID_IPV6_ADDR:
		return len == (type == ID_IPV4_ADDR ? 4u : 16u) &&
		       X509_check_ip(x, id, len, 0) == 1;
	case ID_FQDN:
		return !memchr(id, 0, len) && id[0] != '.' && san_is(x, GEN_DNS, id, len);
	case ID_RFC822_ADDR:
		return !memchr(id, 0, len) && memchr(id, '@', len) &&
		       san_is(x, GEN_EMAIL, id, len);
	case ID_DER_ASN1_DN: {
		unsigned char *p = NULL;
		int n = i2d_X509_NAME(X509_get_subject_name(x), &p);
		bool same = n > 2 && ike_dn_equal(p, (size_t)n, id, len);

		OPENSSL_free(p);
		return same;
	}
	default:
		return false;
	}
}

/* does our own certificate name the identity we would send? */
bool ike_creds_id_ok(const struct ike_creds *cr, uint8_t type, const uint8_t *id, size_t len)
{
	return cr && cr->cert && cert_names(cr->cert, type, id, len);
}

/*
 * RFC 4945 5.1.3: a key usage, when present, allows signatures; an extended
 * key usage, when present, names IKE, a TLS role or any.
 */
static const char *usage_unfit(X509 *x)
{
	uint32_t ku = X509_get_key_usage(x), xku = X509_get_extended_key_usage(x);
	EXTENDED_KEY_USAGE *eku;
	bool ok = false;

	if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return "its key usage does not allow signatures";
	if (xku == UINT32_MAX)
		return NULL;
	if (xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_ANYEKU))
		return NULL;
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		ok |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_ipsec_IKE;
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return ok ? NULL : "its extended key usage is not for IKE";
}

/**
 * ike_creds_verify_peer() - validate a peer's certificates and identity
 * @cr: the conn's credentials: anchors and CRLs
 * @certs: the peer's CERT payloads' certificates (DER), the end entity first
 * @n: how many
 * @id_type: the identity the peer claims (ID payload type)
 * @id: its data
 * @idlen: its length
 * @pub: on success, the end entity's public key (free with EVP_PKEY_free())
 * @subject: on success, the end entity's subject (DER, up to 255 bytes): the
 *	     identity to keep for a DN, whose ID matched it as X.509 compares
 * @sublen: its length
 * @why: on failure, the reason, for one log line
 * @whylen: its size
 *
 * Context: any; no I/O.
 * Return: 0, or -EPERM with @why set.
 */
int ike_creds_verify_peer(const struct ike_creds *cr, const struct ike_bytes *certs, size_t n,
			  uint8_t id_type, const uint8_t *id, size_t idlen, EVP_PKEY **pub,
			  uint8_t *subject, size_t *sublen, char *why, size_t whylen)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const char *bad = NULL;
	X509 *ee = NULL;
	int ret = -EPERM;

	*pub = NULL;
	if (!untrusted || !ctx || !cr || !cr->store) {
		bad = !cr || !cr->store ? "no trust anchors" : "out of memory";
		goto out;
	}
	if (!n) {
		bad = "no certificate sent";
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = certs[i].p;
		X509 *x = d2i_X509(NULL, &p, (long)certs[i].len);

		if (!x || p != certs[i].p + certs[i].len) {
			X509_free(x);
			bad = "a certificate that does not parse";
			goto out;
		}
		if (!i)
			ee = x;
		else if (!sk_X509_push(untrusted, x))
			X509_free(x);
	}
	if (X509_STORE_CTX_init(ctx, cr->store, ee, untrusted) != 1) {
		bad = "out of memory";
		goto out;
	}
	/* 112 bits: no RSA under 2048 bits, no MD5 or SHA-1 signatures, anywhere */
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), 2);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(why, whylen, "certificate: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out_quiet;
	}
	bad = usage_unfit(ee);
	if (!bad && !cert_names(ee, id_type, id, idlen))
		bad = "the identity is not the certificate's";
	if (!bad && subject_der(ee, subject, 255, sublen))
		bad = "a subject over 255 bytes";
	if (!bad) {
		*pub = X509_get_pubkey(ee);
		bad = !*pub ? "no public key" : key_unfit(*pub);
	}
	if (!bad)
		ret = 0;
out:
	if (bad)
		snprintf(why, whylen, "certificate: %s", bad);
out_quiet:
	if (ret && *pub) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(ee);
	sk_X509_pop_free(untrusted, X509_free);
	return ret;
}

/**
 * ike_dn_parse() - a DN as text ("C=CH, O=Example, CN=gw") to DER
 * @text: attribute=value pairs, most significant first, comma-separated
 *	  (no escaped commas)
 * @der: where the DER Name goes
 * @max: its size
 * @len: its length
 *
 * Context: any.
 * Return: 0, or -EINVAL for an unknown attribute or bad syntax.
 */
int ike_dn_parse(const char *text, uint8_t *der, size_t max, size_t *len)
{
	X509_NAME *name = X509_NAME_new();
	char *copy = strdup(text), *save = NULL, *part;
	unsigned char *p = NULL;
	int n = -1;

	if (!name || !copy)
		goto out;
	for (part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(part, '='), *k = part, *v, *e;

		if (!eq)
			goto out;
		*eq = 0;
		v = eq + 1;
		while (*k == ' ')
			k++;
		for (e = eq; e > k && e[-1] == ' '; )
			*--e = 0;
		while (*v == ' ')
			v++;
		for (e = v + strlen(v); e > v && e[-1] == ' '; )
			*--e = 0;
		if (!*k || !*v)
			goto out;
		if (X509_NAME_add_entry_by_txt(name, k, MBSTRING_UTF8, (const unsigned char *)v,
					       -1, -1, 0) != 1) {
			/* "cn", "ou": short names in any case */
			for (e = k; *e; e++)
				*e = (char)toupper((unsigned char)*e);
			if (X509_NAME_add_entry_by_txt(name, k, MBSTRING_UTF8,
						       (const unsigned char *)v, -1, -1, 0) != 1)
				goto out;
		}
	}
	n = i2d_X509_NAME(name, &p);
out:
	ERR_clear_error();
	free(copy);
	X509_NAME_free(name);
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(p);
		return -EINVAL;
	}
	memcpy(der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

/* a DER DN as one line, "C=CH,O=Example,CN=gw", or -EINVAL (also when longer than @size) */
int ike_dn_text(const uint8_t *der, size_t len, char *buf, size_t size)
{
	const unsigned char *p = der;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
	BIO *bio = BIO_new(BIO_s_mem());
	int n = -1;

	if (size && name && bio && p == der + len &&
	    X509_NAME_print_ex(bio, name, 0, (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV &
					      ~ASN1_STRFLGS_ESC_MSB)) >= 0) {
		n = BIO_read(bio, buf, (int)size - 1);
		if (BIO_pending(bio))
			n = -1;		/* cut: a text that is not the DN's */
	}
	if (size)
		buf[n > 0 ? n : 0] = 0;
	BIO_free(bio);
	X509_NAME_free(name);
	ERR_clear_error();
	return n >= 0 ? 0 : -EINVAL;
}

/* the same DN, compared as X.509 does (canonical form) */
bool ike_dn_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	const unsigned char *pa = a, *pb = b;
	X509_NAME *na = d2i_X509_NAME(NULL, &pa, (long)alen);
	X509_NAME *nb = d2i_X509_NAME(NULL, &pb, (long)blen);
	bool same = na && nb && pa == a + alen && pb == b + blen && !X509_NAME_cmp(na, nb);

	X509_NAME_free(na);
	X509_NAME_free(nb);
	ERR_clear_error();
	return same;
}

/* ike_id_format(), with a DN as its text (escaped the same way) */
void ike_id_text(uint8_t type, const uint8_t *body, size_t len, char *buf, size_t size)
{
	char dn[256];

	if (type == ID_DER_ASN1_DN && !ike_dn_text(body, len, dn, sizeof(dn)) && *dn) {
		ike_id_format(ID_FQDN, (const uint8_t *)dn, strlen(dn), buf, size);
		return;
	}
	ike_id_format(type, body, len, buf, size);
}
