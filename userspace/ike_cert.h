/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: X.509 credentials (ike_cert.c) and AUTH signatures
 * (ike_sig.c), both through OpenSSL.  Pure: no I/O beyond reading the
 * files a configuration names, no SA, no daemon.
 */
#ifndef ESPTCP_IKE_CERT_H
#define ESPTCP_IKE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

#include "ike.h"

#define ID_DER_ASN1_DN		9

/* AUTH methods (RFC 7296 3.8, RFC 4754, RFC 7427) */
#define AUTH_RSA_SIG		1
#define AUTH_ECDSA_256		9
#define AUTH_ECDSA_384		10
#define AUTH_ECDSA_521		11
#define AUTH_DIGITAL_SIGNATURE	14

/* SIGNATURE_HASH_ALGORITHMS (RFC 7427 4): hash ids, as bits of a mask */
#define SIGHASH_SHA1		1
#define SIGHASH_SHA2_256	2
#define SIGHASH_SHA2_384	3
#define SIGHASH_SHA2_512	4
#define SIGHASH_IDENTITY	5
#define SIGHASH_BIT(id)		(1u << (id))
/* what we sign and verify with; SHA-1 only in the legacy RSA method */
#define SIGHASH_OURS		(SIGHASH_BIT(SIGHASH_SHA2_256) | SIGHASH_BIT(SIGHASH_SHA2_384) | \
				 SIGHASH_BIT(SIGHASH_SHA2_512) | SIGHASH_BIT(SIGHASH_IDENTITY))

#define CERT_X509_SIGNATURE	4	/* CERT and CERTREQ encoding */

struct ike_creds;

int ike_creds_load(struct ike_creds **out, const char *cert, const char *key, const char *ca,
		   const char *crl, char *err, size_t errlen);
void ike_creds_free(struct ike_creds *cr);
bool ike_creds_has_key(const struct ike_creds *cr);
bool ike_creds_has_ca(const struct ike_creds *cr);
size_t ike_creds_ncerts(const struct ike_creds *cr);
int ike_creds_cert(const struct ike_creds *cr, size_t i, struct ike_buf *b);
int ike_creds_subject(const struct ike_creds *cr, uint8_t *der, size_t max, size_t *len);
bool ike_creds_id_ok(const struct ike_creds *cr, uint8_t type, const uint8_t *id, size_t len);
EVP_PKEY *ike_creds_key(const struct ike_creds *cr);
const uint8_t *ike_creds_certreq(const struct ike_creds *cr, size_t *len);
int ike_creds_verify_peer(const struct ike_creds *cr, const struct ike_bytes *certs, size_t n,
			  uint8_t id_type, const uint8_t *id, size_t idlen, EVP_PKEY **pub,
			  uint8_t *subject, size_t *sublen, char *why, size_t whylen);

int ike_dn_parse(const char *text, uint8_t *der, size_t max, size_t *len);
int ike_dn_text(const uint8_t *der, size_t len, char *buf, size_t size);
bool ike_dn_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
void ike_id_text(uint8_t type, const uint8_t *body, size_t len, char *buf, size_t size);

int ike_sig_sign(EVP_PKEY *key, unsigned int peer_hashes, struct ike_bytes octets,
		 struct ike_buf *body, const char **why);
int ike_sig_verify(EVP_PKEY *pub, const uint8_t *body, size_t len, struct ike_bytes octets,
		   const char **why);

#endif
