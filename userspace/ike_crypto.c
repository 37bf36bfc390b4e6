// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: every use of libcrypto by the IKE helper.  Key exchange
 * (MODP 2048, P-256, Curve25519), the PRF and prf+ of RFC 7296 section
 * 2.13, key derivation (2.14) and the SK payload (3.14, RFC 5282 for GCM).
 * Nothing here implements a primitive; it only arranges OpenSSL's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
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
	}
	return NULL;
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

size_t ike_ke_len(uint16_t group)
{
	switch (group) {
	case DH_MODP_2048:
		return 256;
	case DH_ECP_256:
		return 64;
	case DH_CURVE25519:
		return 32;
	}
	return 0;
}

struct ike_dh *ike_dh_new(uint16_t group)
{
	struct ike_dh *dh = calloc(1, sizeof(*dh));

	if (!dh)
		return NULL;
	dh->group = group;
	switch (group) {
	case DH_MODP_2048: {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);

		if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_group_name(ctx, "modp_2048") == 1)
			EVP_PKEY_generate(ctx, &dh->key);
		EVP_PKEY_CTX_free(ctx);
		break;
	}
	case DH_ECP_256:
		dh->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case DH_CURVE25519:
		dh->key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		break;
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
	if (dh->group == DH_ECP_256) {
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
 * @out: at least 256 bytes
 * @olen: set to the secret's length
 *
 * OpenSSL checks the peer's value (range for MODP, on the curve for P-256);
 * an all-zero X25519 result is refused (RFC 8031 section 2.3).
 *
 * Return: 0, or -EINVAL for an unusable peer value.
 */
int ike_dh_shared(struct ike_dh *dh, const uint8_t *peer, size_t plen,
		  uint8_t *out, size_t *olen)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t pt[65];
	size_t len = 256;
	int err = -EINVAL;

	if (plen != ike_ke_len(dh->group))
		return -EINVAL;
	if (dh->group == DH_CURVE25519) {
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, plen);
	} else {
		pk = EVP_PKEY_new();
		if (pk && EVP_PKEY_copy_parameters(pk, dh->key) != 1) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
		if (pk && dh->group == DH_ECP_256) {
			pt[0] = 4;
			memcpy(pt + 1, peer, plen);
			if (EVP_PKEY_set1_encoded_public_key(pk, pt, plen + 1) != 1)
				goto out;
		} else if (pk && EVP_PKEY_set1_encoded_public_key(pk, peer, plen) != 1) {
			goto out;
		}
	}
	if (!pk)
		goto out;
	ctx = EVP_PKEY_CTX_new(dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	if (dh->group == DH_MODP_2048 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1)
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

static bool is_aead(const struct ike_suite *s)
{
	return s->encr == ENCR_AES_GCM_16;
}

int ike_suite_keylens(const struct ike_suite *s, struct ike_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (s->keylen != 128 && s->keylen != 192 && s->keylen != 256)
		return -EINVAL;
	k->prf_len = ike_prf_len(s->prf);
	if (!k->prf_len)
		return -EINVAL;
	switch (s->encr) {
	case ENCR_AES_GCM_16:
		k->encr_len = s->keylen / 8 + 4;	/* key, then 4 bytes of salt */
		k->iv_len = 8;
		k->icv_len = 16;
		k->block = 1;
		if (s->integ)
			return -EINVAL;
		break;
	case ENCR_AES_CBC:
		k->encr_len = s->keylen / 8;
		k->iv_len = 16;
		k->block = 16;
		if (s->integ != AUTH_HMAC_SHA2_256_128)
			return -EINVAL;
		k->integ_len = 32;
		k->icv_len = 16;
		break;
	default:
		return -EINVAL;
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
 * One pass of AES-GCM or AES-CBC.  For GCM, aad/tag are used and the nonce
 * is salt | iv; for CBC padding is ours (IKE's), so OpenSSL's is off.
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
	if (gcm && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	if (gcm && aadlen && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (gcm && !enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		err = -EBADMSG;
		goto out;
	}
	if (gcm && enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
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
	const uint8_t *ek = initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = initiator ? k->sk_ai : k->sk_ar;
	size_t padlen = k->block > 1 ? k->block - 1 - plen % k->block : 0;
	size_t clen = plen + padlen + 1, iv_off, ct_off;
	uint8_t iv[16], *buf;
	int err;

	if (b->err || sk_off + 4 != b->len)
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
	ike_put(b, buf, k->icv_len);
	if (err || b->err || b->len - sk_off > 0xffff) {
		free(buf);
		return err ? err : -EMSGSIZE;
	}
	ike_set16(b, sk_off + 2, (uint16_t)(b->len - sk_off));
	ike_hdr_finish(b);
	if (is_aead(s)) {
		/* AAD: the header up to the end of the SK generic header */
		err = run_cipher(s, ek, k->encr_len, b->p + iv_off, true, b->p,
				 sk_off + 4, buf, clen, b->p + ct_off, b->p + ct_off + clen);
	} else {
		unsigned int mlen;
		uint8_t mac[64];

		err = run_cipher(s, ek, k->encr_len, b->p + iv_off, true, NULL, 0,
				 buf, clen, b->p + ct_off, NULL);
		if (!err && !HMAC(EVP_sha256(), ak, (int)k->integ_len, b->p,
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
	const uint8_t *ek = from_initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = from_initiator ? k->sk_ai : k->sk_ar;
	size_t body = msg_len - sk_off - 4, clen;
	const uint8_t *iv = msg + sk_off + 4, *ct;
	uint8_t *out;
	int err;

	if (sk_off + 4 > msg_len || body < k->iv_len + k->icv_len + 1)
		return -EBADMSG;
	clen = body - k->iv_len - k->icv_len;
	if (k->block > 1 && clen % k->block)
		return -EBADMSG;
	ct = iv + k->iv_len;
	if (!is_aead(s)) {
		unsigned int mlen;
		uint8_t mac[64];

		if (!HMAC(EVP_sha256(), ak, (int)k->integ_len, msg, msg_len - k->icv_len,
			  mac, &mlen))
			return -EIO;
		if (CRYPTO_memcmp(mac, msg + msg_len - k->icv_len, k->icv_len))
			return -EBADMSG;
	}
	out = malloc(clen + k->block);
	if (!out)
		return -ENOMEM;
	err = run_cipher(s, ek, k->encr_len, iv, false, msg, sk_off + 4, ct, clen, out,
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
	if (s->keylen != 128 && s->keylen != 192 && s->keylen != 256)
		return -EINVAL;
	switch (s->encr) {
	case ENCR_AES_GCM_16:
		*enc = s->keylen / 8 + 4;
		*integ = 0;
		return s->integ ? -EINVAL : 0;
	case ENCR_AES_CBC:
		*enc = s->keylen / 8;
		*integ = 32;
		return s->integ == AUTH_HMAC_SHA2_256_128 ? 0 : -EINVAL;
	}
	return -EINVAL;
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
	uint8_t spi[8];
	int ok;

	if (!ctx)
		return -ENOMEM;
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(spi_i >> (56 - 8 * i));
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
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

int ike_sha256(const void *p, size_t len, uint8_t out[32])
{
	unsigned int olen;

	return EVP_Digest(p, len, out, &olen, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}
