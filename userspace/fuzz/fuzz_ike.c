// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the IKE helper's parser: everything a peer can make
 * it read before and after decryption.  The input is one message; its
 * payloads are also read as an SK payload's plaintext, and each SA, TS, CP
 * and Notify payload is taken apart the way the exchanges do.  CERT
 * payloads go through chain validation (against a CA made at start) and
 * AUTH payloads through signature checks with RSA, ECDSA and Ed25519 keys;
 * an EAP payload is fed to the gateway's and the client's EAP state machine
 * at each step; SIGNATURE_HASH_ALGORITHMS and Encrypted Fragment headers
 * are read as the exchanges read them; the input is also a RADIUS reply's
 * attributes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <openssl/hmac.h>

#include "../ike_cert.h"
#include "../ike_sa.h"

static struct ike_creds *creds;
static EVP_PKEY *keys[3];
static struct ike_conn_conf conf;

/* once: a self-signed CA for the chain checks, keys for the signatures, users */
static void setup(void)
{
	char dir[] = "/tmp/fuzz_ike.XXXXXX", path[64], err[256];
	X509 *ca = X509_new();
	FILE *f;

	keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[2] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!mkdtemp(dir) || !ca || !keys[0] || !keys[1] || !keys[2])
		abort();
	X509_set_version(ca, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(ca), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz CA", -1, -1, 0);
	X509_set_issuer_name(ca, X509_get_subject_name(ca));
	X509_gmtime_adj(X509_getm_notBefore(ca), 0);
	X509_gmtime_adj(X509_getm_notAfter(ca), 3600);
	X509_set_pubkey(ca, keys[1]);
	X509_sign(ca, keys[1], EVP_sha256());
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	f = fopen(path, "w");
	PEM_write_X509(f, ca);
	fclose(f);
	if (ike_creds_load(&creds, NULL, NULL, path, NULL, err, sizeof(err)))
		abort();
	unlink(path);
	snprintf(path, sizeof(path), "%s/users", dir);
	f = fopen(path, "w");
	fprintf(f, "alice password=\"fuzz\" groups=g\n");
	fclose(f);
	chmod(path, 0600);
	if (ike_users_load(path, &conf.users, err, sizeof(err)))
		abort();
	unlink(path);
	rmdir(dir);
	X509_free(ca);
	snprintf(conf.eap_group, sizeof(conf.eap_group), "g");
	snprintf(conf.eap_identity, sizeof(conf.eap_identity), "alice");
	ike_mschap_nt_hash("fuzz", conf.eap_nt_hash);
}

/* an EAP payload through both state machines, at every step */
static void eap(const struct ike_msg *m)
{
	struct ike_sa sa;
	struct ike_eap e;

	for (int role = 0; role < 2; role++) {
		for (int step = ESTEP_IDENTITY; step <= ESTEP_AUTH; step++) {
			const struct ike_pl *pl = ike_find(m, PL_EAP);
			struct ike_out o = { 0 };

			memset(&sa, 0, sizeof(sa));
			memset(&e, 0, sizeof(e));
			sa.conf = &conf;
			sa.eap = &e;
			e.step = step;
			e.ident = pl && pl->len > 1 ? pl->data[1] : 0;
			e.ms_id = pl && pl->len > 6 ? pl->data[6] : 0;
			e.have_msk = step >= ESTEP_SUCCESS;
			snprintf(e.user, sizeof(e.user), "alice");
			ike_buf_init(&o.b);
			ike_buf_init(&o.in);
			ike_chain_init(&o.c, &o.in, SIZE_MAX);
			if (role)
				(void)ike_eap_client_input(&sa, m, &o);
			else
				(void)ike_eap_server_input(&sa, m, &o);
			ike_buf_free(&o.in);
			ike_buf_free(&o.b);
		}
	}
}

/* CERT payloads as a chain naming the ID payload's identity; AUTH as signatures */
static void auth(const struct ike_msg *m)
{
	static const uint8_t octets[] = "signed octets";
	const struct ike_pl *id = ike_find(m, PL_IDI), *a = ike_find(m, PL_AUTH);
	struct ike_bytes certs[8];
	uint8_t subject[255];
	size_t n = 0, sublen;
	const char *bad;
	char why[256];
	EVP_PKEY *pub;

	if (!id)
		id = ike_find(m, PL_IDR);
	for (unsigned int i = 0; i < m->npl && n < 8; i++)
		if (m->pl[i].type == PL_CERT && m->pl[i].len > 1)
			certs[n++] = IKE_BYTES(m->pl[i].data + 1, m->pl[i].len - 1);
	if (n && id && id->len >= 4 &&
	    !ike_creds_verify_peer(creds, certs, n, id->data[0], id->data + 4, id->len - 4, &pub,
				   subject, &sublen, why, sizeof(why)))
		EVP_PKEY_free(pub);
	for (int k = 0; a && k < 3; k++)
		(void)ike_sig_verify(keys[k], a->data, a->len, IKE_BYTES(octets, sizeof(octets)),
				     &bad);
}

static void payloads(const struct ike_msg *m)
{
	struct ike_proposal props[IKE_MAX_PROPOSALS];
	struct ike_suite s = { .encr = ENCR_AES_GCM_16, .keylen = 128,
			       .prf = PRF_HMAC_SHA2_256, .dh = DH_ECP_256 };
	struct ike_ts ts[8];
	struct ike_cfg cfg;
	unsigned int n;

	for (unsigned int i = 0; i < m->npl; i++) {
		const struct ike_pl *pl = &m->pl[i];
		uint16_t type;
		uint8_t proto;
		uint32_t spi;
		size_t len;

		switch (pl->type) {
		case PL_SA:
			if (!ike_parse_sa(pl, props, &n))
				for (unsigned int j = 0; j < n; j++)
					(void)ike_proposal_has(&props[j], &s);
			break;
		case PL_TSI:
		case PL_TSR:
			(void)ike_parse_ts(pl, ts, &n, 8);
			break;
		case PL_CP:
			(void)ike_parse_cp(pl, &cfg);
			break;
		case PL_IDI:
		case PL_IDR:
			/* as the log, the status file and updown print a peer's ID */
			if (pl->len >= 4) {
				char id[200], small[7];

				ike_id_text(pl->data[0], pl->data + 4, pl->len - 4, id, sizeof(id));
				ike_id_text(pl->data[0], pl->data + 4, pl->len - 4, small,
					    sizeof(small));
				if (strlen(id) >= sizeof(id) || strlen(small) >= sizeof(small))
					__builtin_trap();
			}
			break;
		case PL_NOTIFY:
			if (!ike_notify_type(pl, &type)) {
				const uint8_t *d = ike_notify_data(pl, &len);

				if (len)
					(void)d[len - 1];
				(void)ike_notify_spi(pl, &proto, &spi);
			}
			break;
		}
	}
}

/*
 * The input's bytes as a RADIUS reply's attributes, under a header whose
 * authenticators the harness computes (a fuzzer cannot forge MD5), so the
 * attribute walk, EAP reassembly, State, Class and the MPPE keys are
 * reached; a Message-Authenticator in the input is filled in too.
 */
static void radius(const uint8_t *data, size_t size)
{
	static const char secret[] = "fuzz secret";
	static const uint8_t req[16] = { 1, 2, 3 };
	static uint8_t p[RADIUS_MAX + 64];
	static struct ike_radius_reply r;
	size_t len = 20 + size, ma = 0;
	unsigned int n;
	EVP_MD_CTX *c;

	if (size < 1 || len > RADIUS_MAX)
		return;
	p[0] = data[0] % 2 ? RADIUS_ACCESS_ACCEPT : RADIUS_ACCESS_CHALLENGE;
	p[1] = 7;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	memcpy(p + 4, req, 16);
	memcpy(p + 20, data, size);
	for (size_t off = 20; off + 2 <= len && p[off + 1] >= 2; off += p[off + 1])
		if (p[off] == 80 && p[off + 1] == 18 && off + 18 <= len)
			ma = off + 2;
	if (ma) {
		memset(p + ma, 0, 16);
		HMAC(EVP_md5(), secret, sizeof(secret) - 1, p, len, p + ma, &n);
	}
	c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	EVP_DigestUpdate(c, p, len);
	EVP_DigestUpdate(c, secret, sizeof(secret) - 1);
	EVP_DigestFinal_ex(c, p + 4, NULL);
	EVP_MD_CTX_free(c);
	(void)ike_radius_reply(p, len, req, IKE_BYTES(secret, sizeof(secret) - 1), &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ike_msg m;
	uint8_t *plain;
	int err;

	if (!creds)
		setup();
	radius(data, size);
	err = ike_parse(&m, data, size);
	if (err == 0 || err == -ENOTSUP) {
		payloads(&m);
		(void)ike_get_sighashes(&m);
		auth(&m);
		eap(&m);
		if (m.sk_off && size > IKE_HDR_LEN) {
			/* the bytes after the header, as if they were the plaintext */
			plain = malloc(size - IKE_HDR_LEN);
			if (plain) {
				memcpy(plain, data + IKE_HDR_LEN, size - IKE_HDR_LEN);
				m.npl = 0;
				(void)ike_parse_inner(&m, plain, size - IKE_HDR_LEN);
				payloads(&m);
				auth(&m);
				eap(&m);
			}
		}
		ike_msg_free(&m);
	}
	return 0;
}
