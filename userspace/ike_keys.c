// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: IKEv2 key material, with no I/O and no state: SKEYSEED for
 * a new and a rekeyed IKE SA (RFC 7296 2.14, 2.18), KEYMAT for a CHILD_SA
 * (2.17) and AUTH for a pre-shared key (2.15).  The PRFs are ike_crypto.c's;
 * every intermediate secret is wiped before return.  ike_unit checks each
 * function against vectors computed independently.
 */
#include <errno.h>
#include <string.h>

#include "ike.h"

/* a || b || c into buf (room for len bytes); 0, or -EINVAL when it does not fit */
static int concat(uint8_t *buf, size_t room, size_t *len, struct ike_bytes a,
		  struct ike_bytes b, struct ike_bytes c)
{
	if (a.len > room || b.len > room - a.len || c.len > room - a.len - b.len)
		return -EINVAL;
	*len = 0;
	if (a.len)
		memcpy(buf, a.p, a.len);
	*len += a.len;
	if (b.len)
		memcpy(buf + *len, b.p, b.len);
	*len += b.len;
	if (c.len)
		memcpy(buf + *len, c.p, c.len);
	*len += c.len;
	return 0;
}

/**
 * ike_skeyseed() - SKEYSEED = prf(Ni | Nr, g^ir) for a new IKE SA
 * @prf: the negotiated PRF
 * @ni: the initiator's nonce
 * @nr: the responder's nonce
 * @gir: the Diffie-Hellman shared secret
 * @out: ike_prf_len(@prf) bytes
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_skeyseed(uint16_t prf, struct ike_bytes ni, struct ike_bytes nr, struct ike_bytes gir,
		 uint8_t *out)
{
	uint8_t key[512];
	size_t klen;
	int err;

	err = concat(key, sizeof(key), &klen, ni, nr, (struct ike_bytes){ 0 });
	if (!err)
		err = ike_prf(prf, key, klen, gir.p, gir.len, out);
	ike_wipe(key, sizeof(key));
	return err;
}

/**
 * ike_skeyseed_rekey() - SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
 * @prf: the old IKE SA's PRF, whose output length SKEYSEED has
 * @sk_d: the old IKE SA's SK_d
 * @gir: the new Diffie-Hellman shared secret
 * @ni: the nonce of the rekey's initiator
 * @nr: the nonce of its responder
 * @out: ike_prf_len(@prf) bytes
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_skeyseed_rekey(uint16_t prf, struct ike_bytes sk_d, struct ike_bytes gir,
		       struct ike_bytes ni, struct ike_bytes nr, uint8_t *out)
{
	uint8_t seed[512 + 2 * 256];	/* g^ir of MODP-4096, two nonces of 256 */
	size_t slen;
	int err;

	err = concat(seed, sizeof(seed), &slen, gir, ni, nr);
	if (!err)
		err = ike_prf(prf, sk_d.p, sk_d.len, seed, slen, out);
	ike_wipe(seed, sizeof(seed));
	return err;
}

/**
 * ike_child_keymat() - KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr) for a CHILD_SA
 * @prf: the IKE SA's PRF
 * @sk_d: its SK_d
 * @gir: the PFS shared secret, or empty
 * @ni: the nonce of the exchange's initiator
 * @nr: the nonce of its responder
 * @one: bytes of key material per direction (encryption then integrity)
 * @i2r: the initiator-to-responder keys, @one bytes
 * @r2i: the responder-to-initiator keys, @one bytes
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_child_keymat(uint16_t prf, struct ike_bytes sk_d, struct ike_bytes gir,
		     struct ike_bytes ni, struct ike_bytes nr, size_t one, uint8_t *i2r,
		     uint8_t *r2i)
{
	uint8_t seed[512 + 512], km[4 * IKE_MAX_KEY];
	size_t slen;
	int err;

	if (one > sizeof(km) / 2)
		return -EINVAL;
	err = concat(seed, sizeof(seed), &slen, gir, ni, nr);
	if (!err)
		err = ike_prf_plus(prf, sk_d.p, sk_d.len, seed, slen, km, 2 * one);
	if (!err) {
		memcpy(i2r, km, one);
		memcpy(r2i, km + one, one);
	}
	ike_wipe(seed, sizeof(seed));
	ike_wipe(km, sizeof(km));
	return err;
}

/**
 * ike_signed_octets() - what one side's AUTH covers (RFC 7296 2.15)
 * @prf: the IKE SA's PRF
 * @sk_p: that side's SK_pi or SK_pr
 * @real: that side's IKE_SA_INIT message, as sent
 * @nonce: the other side's nonce
 * @id: that side's ID payload body (type, reserved, data)
 * @out: gets RealMessage | Nonce | prf(SK_p, ID'); wipe before freeing
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_signed_octets(uint16_t prf, struct ike_bytes sk_p, struct ike_bytes real,
		      struct ike_bytes nonce, struct ike_bytes id, struct ike_buf *out)
{
	uint8_t maced[IKE_MAX_KEY];
	int err;

	err = ike_prf(prf, sk_p.p, sk_p.len, id.p, id.len, maced);
	if (err)
		return err;
	ike_put(out, real.p, real.len);
	ike_put(out, nonce.p, nonce.len);
	ike_put(out, maced, ike_prf_len(prf));
	ike_wipe(maced, sizeof(maced));
	return out->err ? -ENOMEM : 0;
}

/**
 * ike_psk_auth() - the AUTH value of one side for a pre-shared key
 * @prf: the IKE SA's PRF
 * @psk: the shared key
 * @sk_p: that side's SK_pi or SK_pr
 * @real: that side's IKE_SA_INIT message, as sent
 * @nonce: the other side's nonce
 * @id: that side's ID payload body (type, reserved, data)
 * @out: ike_prf_len(@prf) bytes
 *
 * AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))
 * (RFC 7296 2.15).
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_psk_auth(uint16_t prf, struct ike_bytes psk, struct ike_bytes sk_p,
		 struct ike_bytes real, struct ike_bytes nonce, struct ike_bytes id,
		 uint8_t *out)
{
	struct ike_buf b;
	int err;

	if (!ike_prf_len(prf))
		return -EINVAL;
	ike_buf_init(&b);
	err = ike_signed_octets(prf, sk_p, real, nonce, id, &b);
	if (!err)
		err = ike_shared_key_mac(prf, psk, IKE_BYTES(b.p, b.len), out);
	if (b.p)
		ike_wipe(b.p, b.len);
	ike_buf_free(&b);
	return err;
}

/**
 * ike_shared_key_mac() - prf(prf(KEY, "Key Pad for IKEv2"), OCTETS)
 * @prf: the IKE SA's PRF
 * @key: a PSK, or an EAP method's MSK
 * @octets: what AUTH covers (ike_signed_octets())
 * @out: ike_prf_len(@prf) bytes
 *
 * Context: any; no I/O.
 * Return: 0 or a negative errno.
 */
int ike_shared_key_mac(uint16_t prf, struct ike_bytes key, struct ike_bytes octets, uint8_t *out)
{
	static const char pad[] = "Key Pad for IKEv2";
	size_t plen = ike_prf_len(prf);
	uint8_t k[IKE_MAX_KEY];
	int err;

	if (!plen)
		return -EINVAL;
	err = ike_prf(prf, key.p, key.len, pad, sizeof(pad) - 1, k);
	if (!err)
		err = ike_prf(prf, k, plen, octets.p, octets.len, out);
	ike_wipe(k, sizeof(k));
	return err;
}
