// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: AUTH payloads made with a private key, and checked with a
 * certificate's public key, all through OpenSSL (EVP).
 *
 * With a peer that sent SIGNATURE_HASH_ALGORITHMS we sign with RFC 7427's
 * Digital Signature method: an AlgorithmIdentifier, then the signature
 * (PKCS#1 v1.5 with SHA-2 for RSA, DER ECDSA, Ed25519 over the octets
 * themselves).  With one that did not, the older methods: RSA (1, PKCS#1
 * v1.5 with SHA-1) and ECDSA with SHA-2 on its curve (9, 10, 11; r | s,
 * RFC 4754).  We check all of those, and RSASSA-PSS in method 14; SHA-1
 * only in method 1, where nothing else can be.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ike_cert.h"

/* the hash of an ECDSA key's curve, and its legacy method (0: none) */
static int ec_params(EVP_PKEY *k, const EVP_MD **md, uint8_t *method, unsigned int *hash)
{
	char curve[32];

	if (EVP_PKEY_get_group_name(k, curve, sizeof(curve), NULL) != 1 ||
	    (strcmp(curve, "prime256v1") && strcmp(curve, "secp384r1") &&
	     strcmp(curve, "secp521r1")))
		return -EINVAL;
	switch (EVP_PKEY_get_bits(k)) {
	case 256:
		*md = EVP_sha256();
		*method = AUTH_ECDSA_256;
		*hash = SIGHASH_SHA2_256;
		return 0;
	case 384:
		*md = EVP_sha384();
		*method = AUTH_ECDSA_384;
		*hash = SIGHASH_SHA2_384;
		return 0;
	case 521:
		*md = EVP_sha512();
		*method = AUTH_ECDSA_521;
		*hash = SIGHASH_SHA2_512;
		return 0;
	default:
		return -EINVAL;
	}
}

static const EVP_MD *hash_md(unsigned int hash)
{
	return hash == SIGHASH_SHA2_256 ? EVP_sha256() : hash == SIGHASH_SHA2_384 ?
	       EVP_sha384() : hash == SIGHASH_SHA2_512 ? EVP_sha512() : NULL;
}

/* one-shot EVP signature of @octets into a fresh buffer */
static int evp_sign(EVP_PKEY *key, const EVP_MD *md, struct ike_bytes octets, uint8_t **sig,
		    size_t *len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -EIO;

	*sig = NULL;
	if (ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, NULL, len, octets.p, octets.len) == 1) {
		*sig = malloc(*len);
		if (*sig && EVP_DigestSign(ctx, *sig, len, octets.p, octets.len) == 1)
			ret = 0;
	}
	if (ret) {
		free(*sig);
		*sig = NULL;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

/* DER ECDSA-Sig-Value <-> r | s of @n bytes each (RFC 4754 7) */
static int ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t n, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	int ret = -EINVAL;

	if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), out, (int)n) == (int)n &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), out + n, (int)n) == (int)n)
		ret = 0;
	ECDSA_SIG_free(s);
	return ret;
}

static int ecdsa_raw_to_der(const uint8_t *raw, size_t n, uint8_t **der, size_t *len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)n, NULL), *sv = BN_bin2bn(raw + n, (int)n, NULL);
	unsigned char *p = NULL;
	int l = -1;

	if (s && r && sv && ECDSA_SIG_set0(s, r, sv) == 1) {
		r = sv = NULL;
		l = i2d_ECDSA_SIG(s, &p);
	}
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(s);
	if (l <= 0)
		return -EINVAL;
	*der = p;
	*len = (size_t)l;
	return 0;
}

/* an AlgorithmIdentifier in DER: @nid, with NULL parameters or none */
static int algid(int nid, bool null_params, uint8_t *out, size_t max, size_t *len)
{
	X509_ALGOR *a = X509_ALGOR_new();
	unsigned char *p = NULL;
	int n = -1;

	if (a && X509_ALGOR_set0(a, OBJ_nid2obj(nid), null_params ? V_ASN1_NULL : V_ASN1_UNDEF,
				 NULL) == 1)
		n = i2d_X509_ALGOR(a, &p);
	X509_ALGOR_free(a);
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(p);
		return -EINVAL;
	}
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

/**
 * ike_sig_sign() - an AUTH payload's body made with our private key
 * @key: the key
 * @peer_hashes: the peer's SIGNATURE_HASH_ALGORITHMS (SIGHASH_BIT()s), 0 if none
 * @octets: what is signed (RFC 7296 2.15)
 * @body: gets the auth method, three reserved bytes and the data
 * @why: on failure, a reason for the log
 *
 * Context: any; no I/O.
 * Return: 0, -ENOTSUP (no method the peer takes for this key) or -EIO.
 */
int ike_sig_sign(EVP_PKEY *key, unsigned int peer_hashes, struct ike_bytes octets,
		 struct ike_buf *body, const char **why)
{
	static const unsigned int rsa_pref[] = { SIGHASH_SHA2_256, SIGHASH_SHA2_384,
						 SIGHASH_SHA2_512 };
	static const int rsa_nid[] = { NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
				       NID_sha512WithRSAEncryption };
	static const int ec_nid[] = { NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
				      NID_ecdsa_with_SHA512 };
	int type = EVP_PKEY_get_base_id(key);
	uint8_t method = 0, aid[32];
	size_t aidlen = 0, siglen;
	const EVP_MD *md = NULL;
	unsigned int hash = 0;
	uint8_t *sig;
	int nid = 0;

	*why = "no signature method the peer takes for our key";
	/* a peer that takes only "Identity" gets the legacy method of an RSA or ECDSA key */
	if (type != EVP_PKEY_ED25519 && !(peer_hashes & SIGHASH_OURS & ~SIGHASH_BIT(SIGHASH_IDENTITY)))
		peer_hashes = 0;
	if (peer_hashes & SIGHASH_OURS) {
		method = AUTH_DIGITAL_SIGNATURE;
		if (type == EVP_PKEY_ED25519) {
			if (!(peer_hashes & SIGHASH_BIT(SIGHASH_IDENTITY)))
				return -ENOTSUP;
			nid = NID_ED25519;
		} else if (type == EVP_PKEY_EC) {
			uint8_t legacy;

			if (ec_params(key, &md, &legacy, &hash))
				return -ENOTSUP;
			/* the curve's own hash, else any SHA-2 the peer takes */
			for (unsigned int i = 0; !(peer_hashes & SIGHASH_BIT(hash)) && i < 3; i++)
				hash = rsa_pref[i];
			if (!(peer_hashes & SIGHASH_BIT(hash)))
				return -ENOTSUP;
			md = hash_md(hash);
			nid = ec_nid[hash - SIGHASH_SHA2_256];
		} else if (type == EVP_PKEY_RSA) {
			for (unsigned int i = 0; !nid && i < 3; i++)
				if (peer_hashes & SIGHASH_BIT(rsa_pref[i])) {
					md = hash_md(rsa_pref[i]);
					nid = rsa_nid[i];
				}
			if (!nid)
				return -ENOTSUP;
		} else {
			return -ENOTSUP;
		}
		if (algid(nid, type == EVP_PKEY_RSA, aid, sizeof(aid), &aidlen))
			return -EIO;
	} else if (type == EVP_PKEY_RSA) {
		method = AUTH_RSA_SIG;
		md = EVP_sha1();
	} else if (type == EVP_PKEY_EC) {
		if (ec_params(key, &md, &method, &hash))
			return -ENOTSUP;
	} else {
		*why = "the peer did not send SIGNATURE_HASH_ALGORITHMS, which Ed25519 needs";
		return -ENOTSUP;
	}
	*why = "signing failed";
	if (evp_sign(key, md, octets, &sig, &siglen))
		return -EIO;
	ike_put8(body, method);
	ike_put8(body, 0);
	ike_put16(body, 0);
	if (method == AUTH_DIGITAL_SIGNATURE) {
		ike_put8(body, (uint8_t)aidlen);
		ike_put(body, aid, aidlen);
	}
	if (method >= AUTH_ECDSA_256 && method <= AUTH_ECDSA_521) {
		size_t n = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
		uint8_t raw[2 * 66];

		if (ecdsa_der_to_raw(sig, siglen, n, raw)) {
			free(sig);
			return -EIO;
		}
		ike_put(body, raw, 2 * n);
	} else {
		ike_put(body, sig, siglen);
	}
	free(sig);
	return body->err ? -ENOMEM : 0;
}

/* RSASSA-PSS parameters (RFC 4055 3.1): hash, MGF1 hash, salt length */
struct pss {
	const EVP_MD *md, *mgf1;
	long salt;
};

static bool sha2(const EVP_MD *md)
{
	int t = EVP_MD_get_type(md);

	return t == NID_sha256 || t == NID_sha384 || t == NID_sha512;
}

static int pss_parse(const X509_ALGOR *alg, struct pss *out)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, ret = -EINVAL;
	const unsigned char *p;
	RSA_PSS_PARAMS *pss;

	*out = (struct pss){ .md = EVP_sha1(), .mgf1 = EVP_sha1(), .salt = 20 };
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return -EINVAL;
	p = ASN1_STRING_get0_data(pval);
	pss = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(pval));
	if (!pss)
		return -EINVAL;
	if (pss->hashAlgorithm)
		out->md = EVP_get_digestbyobj(pss->hashAlgorithm->algorithm);
	if (pss->maskGenAlgorithm) {
		X509_ALGOR *h = NULL;

		X509_ALGOR_get0(&obj, &ptype, &pval, pss->maskGenAlgorithm);
		if (OBJ_obj2nid(obj) != NID_mgf1 || ptype != V_ASN1_SEQUENCE)
			goto out;
		p = ASN1_STRING_get0_data(pval);
		h = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(pval));
		out->mgf1 = h ? EVP_get_digestbyobj(h->algorithm) : NULL;
		X509_ALGOR_free(h);
	}
	if (pss->saltLength)
		out->salt = ASN1_INTEGER_get(pss->saltLength);
	/* SHA-2 only, as for every other scheme of method 14; trailer 1 (RFC 4055) */
	if (out->md && out->mgf1 && sha2(out->md) && sha2(out->mgf1) && out->salt >= 0 &&
	    out->salt <= 1024 && (!pss->trailerField || ASN1_INTEGER_get(pss->trailerField) == 1))
		ret = 0;
out:
	RSA_PSS_PARAMS_free(pss);
	return ret;
}

static int evp_verify(EVP_PKEY *pub, const EVP_MD *md, const struct pss *pss,
		      struct ike_bytes octets, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ret = -EBADMSG;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, &pctx, pss ? pss->md : md, NULL, pub) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)pss->salt) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, pss->mgf1) != 1))
		goto out;
	if (EVP_DigestVerify(ctx, sig, siglen, octets.p, octets.len) == 1)
		ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

/* method 14: the AlgorithmIdentifier names the scheme; it must fit the key */
static int verify_digital(EVP_PKEY *pub, const uint8_t *data, size_t len,
			  struct ike_bytes octets, const char **why)
{
	int type = EVP_PKEY_get_base_id(pub), nid, md_nid = NID_undef, pk_nid = NID_undef;
	const unsigned char *p = data + 1;
	const EVP_MD *md = NULL;
	struct pss pss;
	X509_ALGOR *alg;
	size_t alen;
	int ret;

	*why = "a malformed Digital Signature";
	if (len < 1 || (alen = data[0]) == 0 || 1 + alen >= len)
		return -EBADMSG;
	alg = d2i_X509_ALGOR(NULL, &p, (long)alen);
	if (!alg || p != data + 1 + alen) {
		X509_ALGOR_free(alg);
		ERR_clear_error();
		return -EBADMSG;
	}
	nid = OBJ_obj2nid(alg->algorithm);
	*why = "a signature scheme that does not fit the key, or one we do not take";
	ret = -EBADMSG;
	if (nid == NID_ED25519) {
		if (type == EVP_PKEY_ED25519)
			ret = 0;
	} else if (nid == NID_rsassaPss) {
		if ((type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS) && !pss_parse(alg, &pss))
			ret = 1;
	} else if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) &&
		   (md_nid == NID_sha256 || md_nid == NID_sha384 || md_nid == NID_sha512) &&
		   ((pk_nid == NID_rsaEncryption && type == EVP_PKEY_RSA) ||
		    (pk_nid == NID_X9_62_id_ecPublicKey && type == EVP_PKEY_EC))) {
		md = EVP_get_digestbynid(md_nid);
		ret = md ? 0 : -EBADMSG;
	}
	if (ret >= 0) {
		*why = "a signature that does not verify";
		ret = evp_verify(pub, md, ret ? &pss : NULL, octets, data + 1 + alen,
				 len - 1 - alen);
	}
	X509_ALGOR_free(alg);
	return ret;
}

/**
 * ike_sig_verify() - check a peer's AUTH payload with its public key
 * @pub: the key of the peer's (validated) certificate
 * @body: the AUTH payload's body: method, three reserved bytes, data
 * @len: its length
 * @octets: what the peer signed (RFC 7296 2.15)
 * @why: on failure, a reason for the log
 *
 * Context: any; no I/O.
 * Return: 0 when the signature is good, or a negative errno.
 */
int ike_sig_verify(EVP_PKEY *pub, const uint8_t *body, size_t len, struct ike_bytes octets,
		   const char **why)
{
	int type = EVP_PKEY_get_base_id(pub);
	const EVP_MD *md;
	uint8_t method;
	unsigned int hash;
	int ret;

	*why = "a malformed AUTH payload";
	if (len < 5)
		return -EBADMSG;
	switch (body[0]) {
	case AUTH_DIGITAL_SIGNATURE:
		return verify_digital(pub, body + 4, len - 4, octets, why);
	case AUTH_RSA_SIG:
		*why = type == EVP_PKEY_RSA ? "a signature that does not verify" :
		       "an RSA signature from a key that is not RSA";
		return type == EVP_PKEY_RSA ?
		       evp_verify(pub, EVP_sha1(), NULL, octets, body + 4, len - 4) : -EBADMSG;
	case AUTH_ECDSA_256:
	case AUTH_ECDSA_384:
	case AUTH_ECDSA_521: {
		size_t n = (size_t)(EVP_PKEY_get_bits(pub) + 7) / 8;
		uint8_t *der;
		size_t dlen;

		*why = "an ECDSA method that does not fit the key's curve";
		if (type != EVP_PKEY_EC || ec_params(pub, &md, &method, &hash) ||
		    method != body[0])
			return -EBADMSG;
		*why = "a malformed ECDSA signature";
		if (len - 4 != 2 * n || ecdsa_raw_to_der(body + 4, n, &der, &dlen))
			return -EBADMSG;
		*why = "a signature that does not verify";
		ret = evp_verify(pub, md, NULL, octets, der, dlen);
		OPENSSL_free(der);
		return ret;
	}
	default:
		*why = "an auth method we do not take for a certificate";
		return -EBADMSG;
	}
}
