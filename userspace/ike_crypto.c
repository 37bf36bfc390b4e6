// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: every use of libcrypto by the IKE helper.  Key exchange
 * (MODP 2048/3072/4096, P-256, P-384, Curve25519), the PRF and prf+ of RFC 7296 section
 * 2.13, key derivation (2.14) and the SK payload (3.14, RFC 5282 for GCM).
 * Nothing here implements a primitive; it only arranges OpenSSL's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ike.h"

struct ike_dh {
	uint16_t group;
	EVP_PKEY *key;
};

void ike_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

int ike_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

static const EVP_MD *prf_md(uint16_t prf)
{
	switch (prf) {
	case PRF_HMAC_SHA2_256:
		return EVP_sha256();
	case PRF_HMAC_SHA2_384:
		return EVP_sha384();
	case PRF_HMAC_SHA2_512:
		return EVP_sha512();
	}
	return NULL;
}

/* integrity: HMAC-SHA2 truncated to half its length (RFC 4868), as IKE and ESP use it */
static const struct integ_alg {
	uint16_t id;
	const char *xfrm;
	size_t key_len, icv_len;
	const EVP_MD *(*md)(void);
} integ_algs[] = {
	{ AUTH_HMAC_SHA2_256_128, "hmac(sha256)", 32, 16, EVP_sha256 },
	{ AUTH_HMAC_SHA2_384_192, "hmac(sha384)", 48, 24, EVP_sha384 },
	{ AUTH_HMAC_SHA2_512_256, "hmac(sha512)", 64, 32, EVP_sha512 },
};

static const struct integ_alg *integ_alg(uint16_t id)
{
	for (size_t i = 0; i < sizeof(integ_algs) / sizeof(integ_algs[0]); i++)
		if (integ_algs[i].id == id)
			return &integ_algs[i];
	return NULL;
}

static const EVP_MD *integ_md(uint16_t id)
{
	const struct integ_alg *ia = integ_alg(id);

	return ia ? ia->md() : NULL;
}

/* AEAD ciphers: a 4-byte salt after the key, an 8-byte IV, a 16-byte ICV (RFC 5282, 7634) */
static bool is_aead(const struct ike_suite *s)
{
	return s->encr == ENCR_AES_GCM_16 || s->encr == ENCR_CHACHA20_POLY1305;
}

/* the cipher's key bytes (without salt), or 0 for a suite we do not have */
static size_t cipher_key_len(const struct ike_suite *s)
{
	if (s->encr == ENCR_CHACHA20_POLY1305)
		return s->keylen ? 0 : 32;	/* RFC 7634: no key length attribute */
	if (s->encr != ENCR_AES_GCM_16 && s->encr != ENCR_AES_CBC)
		return 0;
	return s->keylen == 128 || s->keylen == 192 || s->keylen == 256 ? s->keylen / 8 : 0;
}

size_t ike_prf_len(uint16_t prf)
{
	const EVP_MD *md = prf_md(prf);

	return md ? (size_t)EVP_MD_get_size(md) : 0;
}

int ike_prf(uint16_t prf, const void *key, size_t klen, const void *data, size_t len,
	    uint8_t *out)
{
	const EVP_MD *md = prf_md(prf);
	unsigned int olen;

	if (!md || !HMAC(md, key, (int)klen, data, len, out, &olen))
		return -EINVAL;
	return 0;
}

/* prf+ (RFC 7296 2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
int ike_prf_plus(uint16_t prf, const void *key, size_t klen, const uint8_t *seed,
		 size_t slen, uint8_t *out, size_t olen)
{
	size_t hlen = ike_prf_len(prf), done = 0;
	uint8_t t[64] = { 0 }, *in;
	size_t tlen = 0;
	int err = 0;

	if (!hlen || olen > 255 * hlen)
		return -EINVAL;
	in = malloc(hlen + slen + 1);
	if (!in)
		return -ENOMEM;
	for (unsigned int n = 1; done < olen; n++) {
		size_t ilen = 0, take;

		memcpy(in, t, tlen);
		ilen += tlen;
		memcpy(in + ilen, seed, slen);
		ilen += slen;
		in[ilen++] = (uint8_t)n;
		err = ike_prf(prf, key, klen, in, ilen, t);
		if (err)
			break;
		tlen = hlen;
		take = olen - done < hlen ? olen - done : hlen;
		memcpy(out + done, t, take);
		done += take;
	}
	ike_wipe(t, sizeof(t));
	ike_wipe(in, hlen + slen + 1);
	free(in);
	return err;
}

/* the Diffie-Hellman groups: IKE's number, OpenSSL's key type and group, KE data length */
static const struct dh_group {
	uint16_t id;
	const char *type, *name;
	size_t ke_len;
} dh_groups[] = {
	{ DH_MODP_2048, "DH", "modp_2048", 256 },
	{ DH_MODP_3072, "DH", "modp_3072", 384 },
	{ DH_MODP_4096, "DH", "modp_4096", 512 },
	{ DH_ECP_256, "EC", "P-256", 64 },
	{ DH_ECP_384, "EC", "P-384", 96 },
	{ DH_CURVE25519, "X25519", NULL, 32 },
};

static const struct dh_group *dh_group(uint16_t id)
{
	for (size_t i = 0; i < sizeof(dh_groups) / sizeof(dh_groups[0]); i++)
		if (dh_groups[i].id == id)
			return &dh_groups[i];
	return NULL;
}

static bool is_ecp(const struct dh_group *g)
{
	return !strcmp(g->type, "EC");
}

size_t ike_ke_len(uint16_t group)
{
	const struct dh_group *g = dh_group(group);

	return g ? g->ke_len : 0;
}

/* a public key of the group from KE data (x | y for ECP, as RFC 5903 sends it) */
static EVP_PKEY *peer_key(const struct dh_group *g, const uint8_t *peer, size_t plen)
{
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pk = NULL;
	uint8_t pt[1 + 2 * 66];

	if (!g->name)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, plen);
	if (is_ecp(g)) {
		if (plen + 1 > sizeof(pt))
			return NULL;
		pt[0] = 4;
		memcpy(pt + 1, peer, plen);
		peer = pt;
		plen++;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)g->name, 0);
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, g->type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEY_PARAMETERS, params) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(pk, peer, plen) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/**
 * ike_dh_check() - is the peer's KE data usable, before we spend a key on it?
 * @group: the KE payload's group
 * @peer: its data
 * @plen: its length
 *
 * The length must be the group's; a MODP value must be in range and an
 * ECP point on the curve (OpenSSL's quick public key check, which costs
 * far less than a key generation).  A responder calls this before it
 * generates its own key.
 *
 * Return: 0, or -EINVAL.
 */
int ike_dh_check(uint16_t group, const uint8_t *peer, size_t plen)
{
	const struct dh_group *g = dh_group(group);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk;
	int ok;

	if (!g || plen != g->ke_len)
		return -EINVAL;
	pk = peer_key(g, peer, plen);
	if (!pk)
		return -EINVAL;
	ctx = g->name ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
	ok = !g->name || (ctx && EVP_PKEY_public_check_quick(ctx) == 1);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok ? 0 : -EINVAL;
}

/* a fresh key of the group; OpenSSL clears its private part when it is freed */
struct ike_dh *ike_dh_new(uint16_t group)
{
	const struct dh_group *g = dh_group(group);
	struct ike_dh *dh;

	if (!g)
		return NULL;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		return NULL;
	dh->group = group;
	if (!g->name) {
		dh->key = EVP_PKEY_Q_keygen(NULL, NULL, g->type);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, g->type, NULL);

		if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_group_name(ctx, g->name) == 1)
			EVP_PKEY_generate(ctx, &dh->key);
		EVP_PKEY_CTX_free(ctx);
	}
	if (!dh->key) {
		free(dh);
		return NULL;
	}
	return dh;
}

void ike_dh_free(struct ike_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);
	free(dh);
}

/* our KE payload data: g^x padded to the modulus, x | y for ECP, u for X25519 */
int ike_dh_public(struct ike_dh *dh, uint8_t *out, size_t len)
{
	size_t want = ike_ke_len(dh->group);
	unsigned char *enc = NULL;
	size_t elen;
	int err = 0;

	if (len < want)
		return -EINVAL;
	elen = EVP_PKEY_get1_encoded_public_key(dh->key, &enc);
	if (!elen)
		return -EIO;
	if (is_ecp(dh_group(dh->group))) {
		if (elen != want + 1 || enc[0] != 4)
			err = -EIO;
		else
			memcpy(out, enc + 1, want);
	} else if (elen <= want) {
		memset(out, 0, want - elen);
		memcpy(out + want - elen, enc, elen);
	} else {
		err = -EIO;
	}
	OPENSSL_free(enc);
	return err;
}

/**
 * ike_dh_shared() - g^ir from the peer's KE data
 * @dh: our key
 * @peer: the peer's KE data, exactly ike_ke_len() bytes
 * @plen: its length
 * @out: at least 512 bytes
 * @olen: set to the secret's length
 *
 * OpenSSL checks the peer's value (range for MODP, on the curve for ECP);
 * an all-zero X25519 result is refused (RFC 8031 section 2.3).
 *
 * Return: 0, or -EINVAL for an unusable peer value.
 */
int ike_dh_shared(struct ike_dh *dh, const uint8_t *peer, size_t plen,
		  uint8_t *out, size_t *olen)
{
	const struct dh_group *g = dh_group(dh->group);
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 512;
	int err = -EINVAL;

	if (!g || plen != g->ke_len)
		return -EINVAL;
	pk = peer_key(g, peer, plen);
	if (!pk)
		goto out;
	ctx = EVP_PKEY_CTX_new(dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	if (!strcmp(g->type, "DH") && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1)
		goto out;
	if (EVP_PKEY_derive_set_peer(ctx, pk) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1)
		goto out;
	if (dh->group == DH_CURVE25519) {
		uint8_t acc = 0;

		for (size_t i = 0; i < len; i++)
			acc |= out[i];
		if (!acc)
			goto out;
	}
	*olen = len;
	err = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return err;
}

int ike_suite_keylens(const struct ike_suite *s, struct ike_keys *k)
{
	size_t key = cipher_key_len(s);

	memset(k, 0, sizeof(*k));
	k->prf_len = ike_prf_len(s->prf);
	if (!k->prf_len || !key)
		return -EINVAL;
	if (is_aead(s)) {
		k->encr_len = key + 4;		/* key, then 4 bytes of salt */
		k->iv_len = 8;
		k->icv_len = 16;
		k->block = 1;
		if (s->integ)
			return -EINVAL;
	} else {
		const struct integ_alg *ia = integ_alg(s->integ);

		if (!ia)
			return -EINVAL;
		k->encr_len = key;
		k->iv_len = 16;
		k->block = 16;
		k->integ_len = ia->key_len;
		k->icv_len = ia->icv_len;
	}
	return 0;
}

/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
int ike_derive_ike_keys(const struct ike_suite *s, const uint8_t *skeyseed, size_t sklen,
			const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
			uint64_t spi_i, uint64_t spi_r, struct ike_keys *k)
{
	uint8_t seed[2 * 256 + 16], out[7 * IKE_MAX_KEY], *p = out;
	size_t slen = 0, total;
	int err;

	err = ike_suite_keylens(s, k);
	if (err || nilen > 256 || nrlen > 256)
		return -EINVAL;
	memcpy(seed, ni, nilen);
	slen += nilen;
	memcpy(seed + slen, nr, nrlen);
	slen += nrlen;
	for (int i = 7; i >= 0; i--)
		seed[slen++] = (uint8_t)(spi_i >> (8 * i));
	for (int i = 7; i >= 0; i--)
		seed[slen++] = (uint8_t)(spi_r >> (8 * i));
	total = 3 * k->prf_len + 2 * k->integ_len + 2 * k->encr_len;
	err = ike_prf_plus(s->prf, skeyseed, sklen, seed, slen, out, total);
	if (!err) {
		memcpy(k->sk_d, p, k->prf_len);
		p += k->prf_len;
		memcpy(k->sk_ai, p, k->integ_len);
		p += k->integ_len;
		memcpy(k->sk_ar, p, k->integ_len);
		p += k->integ_len;
		memcpy(k->sk_ei, p, k->encr_len);
		p += k->encr_len;
		memcpy(k->sk_er, p, k->encr_len);
		p += k->encr_len;
		memcpy(k->sk_pi, p, k->prf_len);
		p += k->prf_len;
		memcpy(k->sk_pr, p, k->prf_len);
	}
	ike_wipe(out, sizeof(out));
	return err;
}

static const EVP_CIPHER *cipher(const struct ike_suite *s)
{
	bool gcm = is_aead(s);

	if (s->encr == ENCR_CHACHA20_POLY1305)
		return EVP_chacha20_poly1305();
	switch (s->keylen) {
	case 128:
		return gcm ? EVP_aes_128_gcm() : EVP_aes_128_cbc();
	case 192:
		return gcm ? EVP_aes_192_gcm() : EVP_aes_192_cbc();
	case 256:
		return gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
	}
	return NULL;
}

/*
 * One pass of an AEAD (AES-GCM, ChaCha20-Poly1305) or of AES-CBC.  For an
 * AEAD, aad/tag are used and the nonce is salt | iv; for CBC padding is
 * ours (IKE's), so OpenSSL's is off.
 */
static int run_cipher(const struct ike_suite *s, const uint8_t *key, size_t klen,
		      const uint8_t *iv, bool enc, const uint8_t *aad, size_t aadlen,
		      const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool gcm = is_aead(s);
	uint8_t nonce[16];
	int n, err = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (gcm) {
		memcpy(nonce, key + klen - 4, 4);
		memcpy(nonce + 4, iv, 8);
	} else {
		memcpy(nonce, iv, 16);
	}
	if (EVP_CipherInit_ex(ctx, cipher(s), NULL, NULL, NULL, enc) != 1)
		goto out;
	if (gcm && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	if (gcm && aadlen && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (gcm && !enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		err = -EBADMSG;
		goto out;
	}
	if (gcm && enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		goto out;
	err = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

/**
 * ike_sk_seal() - finish a message with its SK payload
 * @s: the IKE SA's suite
 * @k: its keys
 * @initiator: true if we are the original initiator (which keys to use)
 * @b: the message so far: header and any unencrypted payloads, with the SK
 *	payload's 4-byte generic header already at @sk_off (its "next" set)
 * @sk_off: where that header is
 * @plain: the inner payloads
 * @plen: their length
 *
 * Writes IV, ciphertext (payloads, padding, pad length) and ICV, and fixes
 * the SK payload's length and the message length first, since both are
 * authenticated.
 *
 * Return: 0 or a negative errno.
 */
int ike_sk_seal(const struct ike_suite *s, const struct ike_keys *k, bool initiator,
		struct ike_buf *b, size_t sk_off, const uint8_t *plain, size_t plen)
{
	return ike_skx_seal(s, k, initiator, b, sk_off, 4, plain, plen);
}

/*
 * ike_skx_seal() - ike_sk_seal() for an SK payload (@hlen 4) or an
 * Encrypted Fragment payload (RFC 7383 2.5, @hlen 8: its generic header and
 * the fragment number and count, all in the AAD or under the ICV).
 */
int ike_skx_seal(const struct ike_suite *s, const struct ike_keys *k, bool initiator,
		 struct ike_buf *b, size_t sk_off, size_t hlen, const uint8_t *plain, size_t plen)
{
	const uint8_t *ek = initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = initiator ? k->sk_ai : k->sk_ar;
	size_t padlen = k->block > 1 ? k->block - 1 - plen % k->block : 0;
	size_t clen = plen + padlen + 1, iv_off, ct_off;
	static const uint8_t zero_icv[64];
	uint8_t iv[16], *buf;
	int err;

	if (b->err || sk_off + hlen != b->len)
		return -EINVAL;
	buf = calloc(1, clen + k->block);
	if (!buf)
		return -ENOMEM;
	if (plen)
		memcpy(buf, plain, plen);
	buf[clen - 1] = (uint8_t)padlen;
	err = ike_random(iv, k->iv_len);
	iv_off = b->len;
	ike_put(b, iv, k->iv_len);
	ct_off = b->len;
	ike_put(b, buf, clen);		/* room, overwritten below */
	/* the ICV's room: from a zero block, buf may be shorter than an ICV */
	if (k->icv_len > sizeof(zero_icv))
		b->err = true;
	else
		ike_put(b, zero_icv, k->icv_len);
	if (err || b->err || b->len - sk_off > 0xffff) {
		free(buf);
		return err ? err : -EMSGSIZE;
	}
	ike_set16(b, sk_off + 2, (uint16_t)(b->len - sk_off));
	ike_hdr_finish(b);
	if (is_aead(s)) {
		/* AAD: the header up to the end of the SK (SKF) payload's header */
		err = run_cipher(s, ek, k->encr_len, b->p + iv_off, true, b->p,
				 sk_off + hlen, buf, clen, b->p + ct_off, b->p + ct_off + clen);
	} else {
		unsigned int mlen;
		uint8_t mac[64];

		err = run_cipher(s, ek, k->encr_len, b->p + iv_off, true, NULL, 0,
				 buf, clen, b->p + ct_off, NULL);
		if (!err && !HMAC(integ_md(s->integ), ak, (int)k->integ_len, b->p,
				  b->len - k->icv_len, mac, &mlen))
			err = -EIO;
		if (!err)
			memcpy(b->p + b->len - k->icv_len, mac, k->icv_len);
	}
	ike_wipe(buf, clen);
	free(buf);
	return err;
}

/**
 * ike_sk_open() - check and decrypt the SK payload of a received message
 * @s: the IKE SA's suite
 * @k: its keys
 * @from_initiator: the message was sent by the original initiator
 * @msg: the whole message
 * @msg_len: its length
 * @sk_off: offset of the SK payload's generic header
 * @plain: set to a new buffer with the inner payloads (padding removed)
 * @plen: set to their length
 *
 * Return: 0, -EBADMSG for a message that fails integrity or is malformed.
 */
int ike_sk_open(const struct ike_suite *s, const struct ike_keys *k, bool from_initiator,
		const uint8_t *msg, size_t msg_len, size_t sk_off, uint8_t **plain,
		size_t *plen)
{
	return ike_skx_open(s, k, from_initiator, msg, msg_len, sk_off, 4, plain, plen);
}

/* ike_sk_open() for an SK (@hlen 4) or Encrypted Fragment payload (@hlen 8) */
int ike_skx_open(const struct ike_suite *s, const struct ike_keys *k, bool from_initiator,
		 const uint8_t *msg, size_t msg_len, size_t sk_off, size_t hlen, uint8_t **plain,
		 size_t *plen)
{
	const uint8_t *ek = from_initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = from_initiator ? k->sk_ai : k->sk_ar;
	size_t body = msg_len - sk_off - hlen, clen;
	const uint8_t *iv = msg + sk_off + hlen, *ct;
	uint8_t *out;
	int err;

	if (sk_off + hlen > msg_len || body < k->iv_len + k->icv_len + 1)
		return -EBADMSG;
	clen = body - k->iv_len - k->icv_len;
	if (k->block > 1 && clen % k->block)
		return -EBADMSG;
	ct = iv + k->iv_len;
	if (!is_aead(s)) {
		unsigned int mlen;
		uint8_t mac[64];

		if (!HMAC(integ_md(s->integ), ak, (int)k->integ_len, msg, msg_len - k->icv_len,
			  mac, &mlen))
			return -EIO;
		if (CRYPTO_memcmp(mac, msg + msg_len - k->icv_len, k->icv_len))
			return -EBADMSG;
	}
	out = malloc(clen + k->block);
	if (!out)
		return -ENOMEM;
	err = run_cipher(s, ek, k->encr_len, iv, false, msg, sk_off + hlen, ct, clen, out,
			 (uint8_t *)(ct + clen));
	if (!err && (size_t)out[clen - 1] + 1 > clen)
		err = -EBADMSG;
	if (err) {
		free(out);
		return err == -EIO ? -EIO : -EBADMSG;
	}
	*plen = clen - out[clen - 1] - 1;
	*plain = out;
	return 0;
}

int ike_esp_keylen(const struct ike_suite *s, size_t *enc, size_t *integ)
{
	size_t key = cipher_key_len(s);
	const struct integ_alg *ia = integ_alg(s->integ);

	if (!key)
		return -EINVAL;
	if (is_aead(s)) {
		*enc = key + 4;
		*integ = 0;
		return s->integ ? -EINVAL : 0;
	}
	if (!ia)
		return -EINVAL;
	*enc = key;
	*integ = ia->key_len;
	return 0;
}

/**
 * ike_esp_xfrm_algs() - the kernel's names of an ESP suite's algorithms
 * @s: the suite
 * @encr: set to the cipher's or AEAD's name
 * @integ: set to the integrity algorithm's name, or NULL for an AEAD
 * @bits: set to the ICV length in bits (AEAD) or the truncation (integrity)
 *
 * Return: 0, or -EINVAL for a suite we do not have.
 */
int ike_esp_xfrm_algs(const struct ike_suite *s, const char **encr, const char **integ,
		      unsigned int *bits)
{
	const struct integ_alg *ia = integ_alg(s->integ);

	if (!cipher_key_len(s))
		return -EINVAL;
	*integ = NULL;
	*bits = 128;
	if (s->encr == ENCR_AES_GCM_16) {
		*encr = "rfc4106(gcm(aes))";
	} else if (s->encr == ENCR_CHACHA20_POLY1305) {
		*encr = "rfc7539esp(chacha20,poly1305)";
	} else {
		if (!ia)
			return -EINVAL;
		*encr = "cbc(aes)";
		*integ = ia->xfrm;
		*bits = (unsigned int)ia->icv_len * 8;
	}
	return 0;
}

static size_t addr_bytes(const struct sockaddr_storage *ss, const uint8_t **addr,
			 uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		*addr = (const uint8_t *)&sin->sin_addr;
		*port = sin->sin_port;
		return 4;
	}
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	*addr = (const uint8_t *)&sin6->sin6_addr;
	*port = sin6->sin6_port;
	return 16;
}

/* NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | port), RFC 7296 2.23 */
int ike_nat_hash(uint64_t spi_i, uint64_t spi_r, const struct sockaddr_storage *ss,
		 uint8_t out[20])
{
	uint8_t buf[16 + 16 + 2];
	const uint8_t *addr;
	uint16_t port;
	size_t alen = addr_bytes(ss, &addr, &port), n = 0;
	unsigned int olen;

	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(spi_i >> (8 * i));
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(spi_r >> (8 * i));
	memcpy(buf + n, addr, alen);
	n += alen;
	memcpy(buf + n, &port, 2);
	n += 2;
	return EVP_Digest(buf, n, out, &olen, EVP_sha1(), NULL) == 1 ? 0 : -EIO;
}

/* a stateless cookie (RFC 7296 2.6): SHA-256(Ni | IPi | SPIi | secret) */
int ike_cookie_hash(const uint8_t *secret, const uint8_t *ni, size_t nilen,
		    const struct sockaddr_storage *ss, uint64_t spi_i, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const uint8_t *addr;
	uint16_t port;
	size_t alen = addr_bytes(ss, &addr, &port);
	/* lengths first: no Ni | IPv4 can read as a shorter Ni | IPv6 */
	uint8_t frame[4] = { (uint8_t)(nilen >> 8), (uint8_t)nilen, (uint8_t)ss->ss_family,
			     (uint8_t)alen };
	uint8_t spi[8];
	int ok;

	if (!ctx)
		return -ENOMEM;
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(spi_i >> (56 - 8 * i));
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, frame, sizeof(frame)) == 1 &&
	     EVP_DigestUpdate(ctx, ni, nilen) == 1 &&
	     EVP_DigestUpdate(ctx, addr, alen) == 1 &&
	     EVP_DigestUpdate(ctx, spi, 8) == 1 &&
	     EVP_DigestUpdate(ctx, secret, 32) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* constant-time comparison for MACs and AUTH values */
bool ike_memeq(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/*
 * SipHash-2-4 under a random key of the helper's own (OpenSSL's SIPHASH
 * MAC), for the buckets of tables whose keys a peer chooses (its SPI, its
 * address and port, the selectors it proposes): without the key it cannot
 * aim them at one bucket.  Where SIPHASH is not offered (a FIPS-only
 * provider), HMAC-SHA-256 under the same kind of key, slower but as keyed.
 */
struct ike_sip {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	uint8_t key[16];
};

static EVP_MAC_CTX *sip_ctx(struct ike_sip *s, const char *mac, const OSSL_PARAM *params)
{
	/* a MAC the providers do not offer leaves no error for later reports */
	ERR_set_mark();
	s->mac = EVP_MAC_fetch(NULL, mac, NULL);
	ERR_pop_to_mark();
	s->ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
	if (s->ctx && EVP_MAC_CTX_set_params(s->ctx, params) == 1)
		return s->ctx;
	EVP_MAC_CTX_free(s->ctx);
	EVP_MAC_free(s->mac);
	s->ctx = NULL;
	s->mac = NULL;
	return NULL;
}

/* a keyed hash by @mac, "SIPHASH" or "HMAC" (SHA-256); NULL if it cannot be had */
struct ike_sip *ike_sip_new_mac(const char *mac)
{
	struct ike_sip *s = calloc(1, sizeof(*s));
	char sha256[] = "SHA256";
	size_t size = 8;
	OSSL_PARAM sip[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};
	OSSL_PARAM hmac[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
		OSSL_PARAM_construct_end(),
	};

	if (!s)
		return NULL;
	if (!sip_ctx(s, mac, strcmp(mac, "HMAC") ? sip : hmac) ||
	    ike_random(s->key, sizeof(s->key))) {
		ike_sip_free(s);
		return NULL;
	}
	return s;
}

struct ike_sip *ike_sip_new(void)
{
	return ike_sip_new_mac("SIPHASH") ?: ike_sip_new_mac("HMAC");
}

/* the keyed hash of @p; 0 only if OpenSSL fails, a bucket like any other */
uint64_t ike_sip(struct ike_sip *s, const void *p, size_t len)
{
	uint8_t out[EVP_MAX_MD_SIZE];
	uint64_t h = 0;
	size_t olen = 0;

	if (EVP_MAC_init(s->ctx, s->key, sizeof(s->key), NULL) != 1 ||
	    EVP_MAC_update(s->ctx, p, len) != 1 ||
	    EVP_MAC_final(s->ctx, out, &olen, sizeof(out)) != 1 || olen < sizeof(h))
		return 0;
	memcpy(&h, out, sizeof(h));
	return h;
}

void ike_sip_free(struct ike_sip *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->ctx);
	EVP_MAC_free(s->mac);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s);
}

int ike_sha256(const void *p, size_t len, uint8_t out[32])
{
	unsigned int olen;

	return EVP_Digest(p, len, out, &olen, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}
