// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: RADIUS for EAP (RFC 2865, RFC 3579), pure: building an
 * Access-Request that carries an EAP message, checking a reply's Response
 * Authenticator and Message-Authenticator, and taking out its EAP message,
 * State, Class and Filter-Id and the MS-MPPE keys (RFC 2548), which make
 * the MSK.  MD5 and HMAC-MD5 come from OpenSSL.  No I/O.
 */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike.h"
#include "ike_radius.h"

#define RA_USER_NAME		1
#define RA_NAS_IP_ADDRESS	4
#define RA_SERVICE_TYPE		6
#define RA_FILTER_ID		11
#define RA_STATE		24
#define RA_CLASS		25
#define RA_VENDOR		26
#define RA_CALLED_STATION_ID	30
#define RA_CALLING_STATION_ID	31
#define RA_NAS_IDENTIFIER	32
#define RA_NAS_PORT_TYPE	61
#define RA_EAP_MESSAGE		79
#define RA_MESSAGE_AUTH		80
#define RA_FRAMED_MTU		12
#define VENDOR_MICROSOFT	311
#define MS_MPPE_SEND_KEY	16
#define MS_MPPE_RECV_KEY	17

static void put_attr(struct ike_buf *b, uint8_t type, const void *v, size_t len)
{
	ike_put8(b, type);
	ike_put8(b, (uint8_t)(2 + len));
	ike_put(b, v, len);
}

static int md5(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
	       const void *d, size_t dlen, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
		 (!clen || EVP_DigestUpdate(ctx, c, clen) == 1) &&
		 (!dlen || EVP_DigestUpdate(ctx, d, dlen) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, NULL) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static int hmac_md5(struct ike_bytes secret, const uint8_t *p, size_t len, uint8_t out[16])
{
	unsigned int n = 0;

	return HMAC(EVP_md5(), secret.p, (int)secret.len, p, len, out, &n) && n == 16 ? 0 : -EIO;
}

/**
 * ike_radius_request() - an Access-Request carrying one EAP message
 * @b: gets the packet
 * @r: what it says: identifier, authenticator (random), user, EAP
 *     message, State, the client's address, the NAS's identifier
 * @secret: the shared secret, for the Message-Authenticator
 *
 * Context: any.
 * Return: 0, -EMSGSIZE or -EIO.
 */
int ike_radius_request(struct ike_buf *b, const struct ike_radius_req *r, struct ike_bytes secret)
{
	static const uint8_t service_framed[4] = { 0, 0, 0, 2 }, port_virtual[4] = { 0, 0, 0, 5 };
	static const uint8_t mtu[4] = { 0, 0, 0x05, 0x78 };	/* 1400: EAP fits an IKE message */
	size_t ma_off, n;
	uint8_t mac[16], zero[16] = { 0 };

	ike_put8(b, RADIUS_ACCESS_REQUEST);
	ike_put8(b, r->id);
	ike_put16(b, 0);
	ike_put(b, r->authenticator, 16);
	put_attr(b, RA_USER_NAME, r->user, strlen(r->user));
	put_attr(b, RA_SERVICE_TYPE, service_framed, 4);
	put_attr(b, RA_NAS_PORT_TYPE, port_virtual, 4);
	put_attr(b, RA_FRAMED_MTU, mtu, 4);
	put_attr(b, RA_NAS_IDENTIFIER, r->nas_id, strlen(r->nas_id));
	if (*r->calling)
		put_attr(b, RA_CALLING_STATION_ID, r->calling, strlen(r->calling));
	if (r->state_len)
		put_attr(b, RA_STATE, r->state, r->state_len);
	/* the EAP message, 253 bytes an attribute (RFC 3579 3.1) */
	for (size_t off = 0; off < r->eap_len; off += n) {
		n = r->eap_len - off < 253 ? r->eap_len - off : 253;
		put_attr(b, RA_EAP_MESSAGE, r->eap + off, n);
	}
	ma_off = b->len + 2;
	put_attr(b, RA_MESSAGE_AUTH, zero, 16);
	if (b->err || b->len > RADIUS_MAX)
		return -EMSGSIZE;
	ike_set16(b, 2, (uint16_t)b->len);
	if (hmac_md5(secret, b->p, b->len, mac))
		return -EIO;
	memcpy(b->p + ma_off, mac, 16);
	return 0;
}

/* RFC 2548 2.4.2: an MS-MPPE key, encrypted with the secret and the request's authenticator */
static int mppe_key(const uint8_t *v, size_t len, struct ike_bytes secret, const uint8_t req[16],
		    uint8_t *key, size_t *klen)
{
	uint8_t plain[256], b[16];
	const uint8_t *prev;

	/* salt (high bit set), then one or more blocks of 16 */
	if (len < 2 + 16 || (len - 2) % 16 || !(v[0] & 0x80) || len - 2 > sizeof(plain))
		return -EBADMSG;
	for (size_t i = 0; i < len - 2; i += 16) {
		prev = i ? v + 2 + i - 16 : NULL;
		if (md5(secret.p, secret.len, prev ? prev : req, 16, prev ? NULL : v,
			prev ? 0 : 2, NULL, 0, b)) {
			OPENSSL_cleanse(plain, sizeof(plain));
			return -EIO;
		}
		for (int j = 0; j < 16; j++)
			plain[i + j] = v[2 + i + j] ^ b[j];
	}
	/* the first byte is the key's length */
	if (!plain[0] || plain[0] > len - 3 || plain[0] > RADIUS_MPPE_MAX) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return -EBADMSG;
	}
	*klen = plain[0];
	memcpy(key, plain + 1, *klen);
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* the Microsoft vendor attributes of one Vendor-Specific attribute */
static int vendor(const uint8_t *v, size_t len, struct ike_bytes secret, const uint8_t req[16],
		  struct ike_radius_reply *out)
{
	uint32_t id;

	if (len < 4)
		return 0;
	id = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	if (id != VENDOR_MICROSOFT)
		return 0;
	for (size_t off = 4; off + 2 <= len;) {
		uint8_t type = v[off], alen = v[off + 1];

		if (alen < 2 || off + alen > len)
			return -EBADMSG;
		if (type == MS_MPPE_RECV_KEY &&
		    mppe_key(v + off + 2, alen - 2u, secret, req, out->recv_key, &out->recv_len))
			return -EBADMSG;
		if (type == MS_MPPE_SEND_KEY &&
		    mppe_key(v + off + 2, alen - 2u, secret, req, out->send_key, &out->send_len))
			return -EBADMSG;
		off += alen;
	}
	return 0;
}

/**
 * ike_radius_reply() - check a reply to our request and take it apart
 * @p: the packet
 * @len: its length
 * @req: our request's authenticator
 * @secret: the shared secret
 * @out: code, EAP message, State, Class, Filter-Id, MPPE keys
 *
 * The Response Authenticator must check out, and the Message-Authenticator
 * too, which every reply must have (RFC 3579 3.2 asks it of replies with
 * EAP; without, an MD5 collision could forge the rest).
 *
 * Context: any.
 * Return: 0, or -EBADMSG for a reply that is malformed or not from the
 * server (wrong authenticator).
 */
int ike_radius_reply(const uint8_t *p, size_t len, const uint8_t req[16], struct ike_bytes secret,
		     struct ike_radius_reply *out)
{
	uint8_t want[16], copy[RADIUS_MAX];
	size_t ma_off = 0;
	bool has_ma = false;

	memset(out, 0, sizeof(*out));
	if (len < 20 || len > RADIUS_MAX || (size_t)(p[2] << 8 | p[3]) > len ||
	    (p[2] << 8 | p[3]) < 20)
		return -EBADMSG;
	/* RFC 2865 3: octets past the Length field are padding */
	len = (size_t)(p[2] << 8 | p[3]);
	/* MD5(Code | ID | Length | RequestAuth | Attributes | Secret) */
	if (md5(p, 4, req, 16, p + 20, len - 20, secret.p, secret.len, want) ||
	    CRYPTO_memcmp(want, p + 4, 16))
		return -EBADMSG;
	out->code = p[0];
	out->id = p[1];
	for (size_t off = 20; off < len;) {
		uint8_t type, alen;

		if (len - off < 2)
			return -EBADMSG;
		type = p[off];
		alen = p[off + 1];
		if (alen < 2 || off + alen > len)
			return -EBADMSG;
		switch (type) {
		case RA_EAP_MESSAGE:
			if (out->eap_len + alen - 2u > sizeof(out->eap))
				return -EBADMSG;
			memcpy(out->eap + out->eap_len, p + off + 2, alen - 2u);
			out->eap_len += alen - 2u;
			break;
		case RA_STATE:
			memcpy(out->state, p + off + 2, alen - 2u);
			out->state_len = alen - 2u;
			break;
		case RA_CLASS:
		case RA_FILTER_ID:
		case RA_USER_NAME: {
			char *dst = type == RA_FILTER_ID ? out->filter_id :
				    type == RA_USER_NAME ? out->user :
				    out->nclasses < RADIUS_CLASSES ? out->classes[out->nclasses++] :
				    NULL;

			if (!dst)
				break;
			/* text, for a group or user name; anything else is not one */
			memcpy(dst, p + off + 2, alen - 2u);
			dst[alen - 2] = 0;
			if (memchr(p + off + 2, 0, alen - 2u))
				dst[0] = 0;
			break;
		}
		case RA_MESSAGE_AUTH:
			if (alen != 18)
				return -EBADMSG;
			has_ma = true;
			ma_off = off + 2;
			break;
		case RA_VENDOR:
			if (vendor(p + off + 2, alen - 2u, secret, req, out))
				return -EBADMSG;
			break;
		}
		off += alen;
	}
	/* RFC 3579 3.2, and required on every reply (Blast-RADIUS) */
	if (!has_ma)
		return -EBADMSG;
	if (has_ma) {
		/* HMAC-MD5 over the reply with our authenticator and the MA zeroed */
		memcpy(copy, p, len);
		memcpy(copy + 4, req, 16);
		memset(copy + ma_off, 0, 16);
		if (hmac_md5(secret, copy, len, want) || CRYPTO_memcmp(want, p + ma_off, 16))
			return -EBADMSG;
	}
	return 0;
}
