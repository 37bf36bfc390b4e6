// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: MS-CHAPv2 (RFC 2759) and its keys (RFC 3079), the EAP
 * method road warriors log in with (draft-kamath-pppext-eap-mschapv2).
 * Pure: OpenSSL does every primitive, MD4 and DES from its legacy
 * provider, loaded here once into a library context of its own, so that
 * nothing else in the process (certificate checks) can reach them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "ike_eap.h"

static OSSL_LIB_CTX *lctx;

static int providers(void)
{
	static int state;	/* 0 unknown, 1 loaded, -1 failed */

	if (!state) {
		lctx = OSSL_LIB_CTX_new();
		state = lctx && OSSL_PROVIDER_load(lctx, "legacy") &&
			OSSL_PROVIDER_load(lctx, "default") ? 1 : -1;
	}
	return state > 0 ? 0 : -ENOTSUP;
}

static int digest(const char *name, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		  const uint8_t *c, size_t clen, uint8_t *out)
{
	EVP_MD *md = EVP_MD_fetch(lctx, name, NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = md && ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
		 EVP_DigestUpdate(ctx, a, alen) == 1 && (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) &&
		 (!clen || EVP_DigestUpdate(ctx, c, clen) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, NULL) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return ok ? 0 : -EIO;
}

/**
 * ike_mschap_nt_hash() - NtPasswordHash: MD4 of the password in UTF-16LE
 * @password: the password, ASCII or UTF-8 (each byte widened, as Windows
 *	      does for ASCII; other characters are not converted)
 * @out: 16 bytes
 *
 * Context: any.
 * Return: 0, or -ENOTSUP without OpenSSL's legacy provider (MD4).
 */
int ike_mschap_nt_hash(const char *password, uint8_t out[16])
{
	uint8_t wide[2 * 256];
	size_t n = strlen(password);
	int err;

	if (n > 256)
		return -EINVAL;
	err = providers();
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		wide[2 * i] = (uint8_t)password[i];
		wide[2 * i + 1] = 0;
	}
	err = digest("MD4", wide, 2 * n, NULL, 0, NULL, 0, out);
	OPENSSL_cleanse(wide, sizeof(wide));
	return err;
}

/* ChallengeHash: SHA-1 of peer challenge, authenticator challenge, user name */
static int challenge_hash(const uint8_t peer[16], const uint8_t auth[16], const char *user,
			  uint8_t out[8])
{
	const char *bs = strchr(user, '\\');
	uint8_t h[20];
	int err;

	/* the user name without a "DOMAIN\" */
	if (bs)
		user = bs + 1;
	err = digest("SHA1", peer, 16, auth, 16, (const uint8_t *)user, strlen(user), h);
	memcpy(out, h, 8);
	return err;
}

/* seven bytes of key to a DES key of eight, parity bits set */
static void des_key(const uint8_t in[7], uint8_t out[8])
{
	out[0] = in[0] >> 1;
	out[1] = (uint8_t)((in[0] & 0x01) << 6 | in[1] >> 2);
	out[2] = (uint8_t)((in[1] & 0x03) << 5 | in[2] >> 3);
	out[3] = (uint8_t)((in[2] & 0x07) << 4 | in[3] >> 4);
	out[4] = (uint8_t)((in[3] & 0x0f) << 3 | in[4] >> 5);
	out[5] = (uint8_t)((in[4] & 0x1f) << 2 | in[5] >> 6);
	out[6] = (uint8_t)((in[5] & 0x3f) << 1 | in[6] >> 7);
	out[7] = in[6] & 0x7f;
	for (int i = 0; i < 8; i++) {
		uint8_t b = (uint8_t)(out[i] << 1), p = b;

		p ^= p >> 4;
		p ^= p >> 2;
		p ^= p >> 1;
		out[i] = b | (~p & 1);
	}
}

/* ChallengeResponse: the 8-byte hash under three DES keys from the NT hash */
static int challenge_response(const uint8_t ch[8], const uint8_t nt_hash[16], uint8_t out[24])
{
	EVP_CIPHER *des = EVP_CIPHER_fetch(lctx, "DES-ECB", NULL);
	uint8_t z[21] = { 0 }, key[8];
	int err = des ? 0 : -ENOTSUP;

	memcpy(z, nt_hash, 16);
	for (int i = 0; !err && i < 3; i++) {
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		int len = 0;

		des_key(z + 7 * i, key);
		if (!ctx || EVP_EncryptInit_ex(ctx, des, NULL, key, NULL) != 1 ||
		    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
		    EVP_EncryptUpdate(ctx, out + 8 * i, &len, ch, 8) != 1 || len != 8)
			err = -EIO;
		EVP_CIPHER_CTX_free(ctx);
	}
	EVP_CIPHER_free(des);
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}

/**
 * ike_mschap_nt_response() - GenerateNTResponse (RFC 2759 8.1)
 * @nt_hash: the user's NtPasswordHash
 * @auth_chal: the authenticator's (server's) challenge
 * @peer_chal: the peer's challenge
 * @user: the user name as sent
 * @out: 24 bytes
 *
 * Context: any.
 * Return: 0 or a negative errno.
 */
int ike_mschap_nt_response(const uint8_t nt_hash[16], const uint8_t auth_chal[16],
			   const uint8_t peer_chal[16], const char *user, uint8_t out[24])
{
	uint8_t ch[8];
	int err = providers();

	if (!err)
		err = challenge_hash(peer_chal, auth_chal, user, ch);
	if (!err)
		err = challenge_response(ch, nt_hash, out);
	return err;
}

static const char magic1[] = "Magic server to client signing constant";
static const char magic2[] = "Pad to make it do more than one iteration";

/**
 * ike_mschap_auth_response() - GenerateAuthenticatorResponse (RFC 2759 8.7)
 * @nt_hash: the user's NtPasswordHash
 * @nt_resp: the peer's NT-Response
 * @peer_chal: the peer's challenge
 * @auth_chal: the authenticator's challenge
 * @user: the user name as sent
 * @out: "S=" and 40 upper-case hex digits, NUL-terminated (43 bytes)
 *
 * Context: any.
 * Return: 0 or a negative errno.
 */
int ike_mschap_auth_response(const uint8_t nt_hash[16], const uint8_t nt_resp[24],
			     const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			     const char *user, char out[43])
{
	uint8_t hh[16], d[20], ch[8];
	int err = providers();

	if (!err)
		err = digest("MD4", nt_hash, 16, NULL, 0, NULL, 0, hh);
	if (!err)
		err = digest("SHA1", hh, 16, nt_resp, 24, (const uint8_t *)magic1,
			     sizeof(magic1) - 1, d);
	if (!err)
		err = challenge_hash(peer_chal, auth_chal, user, ch);
	if (!err)
		err = digest("SHA1", d, 20, ch, 8, (const uint8_t *)magic2, sizeof(magic2) - 1, d);
	if (!err) {
		memcpy(out, "S=", 2);
		for (int i = 0; i < 20; i++)
			snprintf(out + 2 + 2 * i, 3, "%02X", d[i]);
	}
	OPENSSL_cleanse(hh, sizeof(hh));
	return err;
}

/**
 * ike_mschap_msk() - the EAP-MSCHAPv2 MSK (RFC 3079 3.4, for IKEv2's AUTH)
 * @nt_hash: the user's NtPasswordHash
 * @nt_resp: the peer's NT-Response
 * @msk: 64 bytes: the master receive and send keys of 16 bytes (as the
 *	 authenticator names them), then 32 zero bytes
 *
 * Context: any.
 * Return: 0 or a negative errno.
 */
int ike_mschap_msk(const uint8_t nt_hash[16], const uint8_t nt_resp[24], uint8_t msk[64])
{
	static const char mk[] = "This is the MPPE Master Key";
	static const char recv_magic[] = "On the client side, this is the send key; "
					 "on the server side, it is the receive key.";
	static const char send_magic[] = "On the client side, this is the receive key; "
					 "on the server side, it is the send key.";
	uint8_t hh[16], master[20], pad1[40] = { 0 }, pad2[40], in[16 + 40 + 84 + 40], k[20];
	int err = providers();

	memset(pad2, 0xf2, sizeof(pad2));
	memset(msk, 0, 64);
	if (!err)
		err = digest("MD4", nt_hash, 16, NULL, 0, NULL, 0, hh);
	if (!err)
		err = digest("SHA1", hh, 16, nt_resp, 24, (const uint8_t *)mk, sizeof(mk) - 1,
			     master);
	for (int i = 0; !err && i < 2; i++) {
		const char *magic = i ? send_magic : recv_magic;
		size_t ml = strlen(magic);

		memcpy(in, master, 16);
		memcpy(in + 16, pad1, 40);
		memcpy(in + 56, magic, ml);
		memcpy(in + 56 + ml, pad2, 40);
		err = digest("SHA1", in, 96 + ml, NULL, 0, NULL, 0, k);
		memcpy(msk + 16 * i, k, 16);
	}
	OPENSSL_cleanse(hh, sizeof(hh));
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(k, sizeof(k));
	return err;
}
