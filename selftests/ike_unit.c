// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the IKE helper's pure parts, on kselftest_harness.h:
 * known-answer tests for the PRF (RFC 4231) and for the key material of
 * ike_keys.c (vectors computed independently with Python's hmac), key
 * agreement in each group, SK payload round trips that must fail when a
 * byte changes, parser refusals, and tables for the choices of
 * ike_select.c and the selector lists of ike_conf.c, and the SAs' timer
 * heap.  Built from the userspace sources.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "kselftest_harness.h"
#include "../userspace/ike_select.h"
#include "../userspace/ike_pool.h"
#include "../userspace/ike_reqid.h"
#include "../userspace/ike_cert.h"
#include "../userspace/ike_eap.h"
#include "../userspace/ike_radius.h"
#include "../userspace/ike_timer.h"
#include "../userspace/ike_htab.h"
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void unhex(const char *s, uint8_t *out, size_t *len)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
	*len = n;
}

/* RFC 4231 test case 2: HMAC-SHA-256 and -384 with key "Jefe" */
TEST(prf_known_answer)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t out[48], want[48];
	size_t wlen;

	ASSERT_EQ(0, ike_prf(PRF_HMAC_SHA2_256, "Jefe", 4, data, strlen(data), out));
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, &wlen);
	EXPECT_EQ(0, memcmp(out, want, wlen));
	ASSERT_EQ(0, ike_prf(PRF_HMAC_SHA2_384, "Jefe", 4, data, strlen(data), out));
	unhex("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	      "8e2240ca5e69e2c78b3239ecfab21649", want, &wlen);
	EXPECT_EQ(0, memcmp(out, want, wlen));
}

/* prf+ is T1 | T2 | ... with Tn = prf(K, Tn-1 | S | n) */
TEST(prf_plus)
{
	uint8_t out[80], t1[32], t2[32], in[64];

	ASSERT_EQ(0, ike_prf_plus(PRF_HMAC_SHA2_256, "key", 3, (const uint8_t *)"seed", 4,
				  out, sizeof(out)));
	memcpy(in, "seed\x01", 5);
	ASSERT_EQ(0, ike_prf(PRF_HMAC_SHA2_256, "key", 3, in, 5, t1));
	memcpy(in, t1, 32);
	memcpy(in + 32, "seed\x02", 5);
	ASSERT_EQ(0, ike_prf(PRF_HMAC_SHA2_256, "key", 3, in, 37, t2));
	EXPECT_EQ(0, memcmp(out, t1, 32));
	EXPECT_EQ(0, memcmp(out + 32, t2, 32));
}

TEST(dh_groups_agree)
{
	const uint16_t groups[] = { DH_MODP_2048, DH_MODP_3072, DH_MODP_4096, DH_ECP_256,
				    DH_ECP_384, DH_CURVE25519 };

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct ike_dh *a = ike_dh_new(groups[i]), *b = ike_dh_new(groups[i]);
		uint8_t pa[512], pb[512], sa[512], sb[512], zero[512] = { 0 };
		size_t kl = ike_ke_len(groups[i]), la, lb;

		ASSERT_NE(NULL, a);
		ASSERT_NE(NULL, b);
		ASSERT_EQ(0, ike_dh_public(a, pa, sizeof(pa)));
		ASSERT_EQ(0, ike_dh_public(b, pb, sizeof(pb)));
		ASSERT_EQ(0, ike_dh_shared(a, pb, kl, sa, &la));
		ASSERT_EQ(0, ike_dh_shared(b, pa, kl, sb, &lb));
		EXPECT_EQ(la, lb);
		EXPECT_EQ(0, memcmp(sa, sb, la));
		/* a peer value that is not one: wrong length, all zero */
		EXPECT_NE(0, ike_dh_shared(a, pb, kl - 1, sa, &la));
		EXPECT_NE(0, ike_dh_shared(a, zero, kl, sa, &la));
		/* checked before a key is spent on it (X25519's zero shows only in g^ir) */
		EXPECT_EQ(0, ike_dh_check(groups[i], pb, kl));
		EXPECT_NE(0, ike_dh_check(groups[i], pb, kl - 1));
		if (groups[i] != DH_CURVE25519)
			EXPECT_NE(0, ike_dh_check(groups[i], zero, kl));
		if (groups[i] == DH_ECP_256 || groups[i] == DH_ECP_384) {
			pb[kl - 1] ^= 1;	/* off the curve */
			EXPECT_NE(0, ike_dh_check(groups[i], pb, kl));
		} else if (groups[i] != DH_CURVE25519) {
			memset(pb, 0, kl);
			pb[kl - 1] = 1;		/* y = 1 */
			EXPECT_NE(0, ike_dh_check(groups[i], pb, kl));
		}
		ike_dh_free(a);
		ike_dh_free(b);
	}
}

/* seal and open an SK payload of @ilen inner bytes (0 or a Nonce's 40) */
static void seal_open_n(struct __test_metadata *_metadata, const char *suite, size_t ilen)
{
	struct ike_suite s;
	struct ike_keys k;
	struct ike_hdr h = { .spi_i = 1, .spi_r = 2, .exchange = INFORMATIONAL,
			     .flags = IKE_FLAG_I };
	uint8_t seed[64] = { 7 }, inner[40], *plain;
	struct ike_msg m;
	struct ike_buf b;
	size_t n, plen;

	memset(inner, 0x5a, sizeof(inner));
	ASSERT_EQ(0, ike_parse_suites(suite, true, &s, &n));
	ASSERT_EQ(0, ike_derive_ike_keys(&s, seed, ike_prf_len(s.prf), seed, 32, seed + 32, 32, 1, 2, &k));
	ike_buf_init(&b);
	ike_hdr_put(&b, &h);
	b.p[16] = PL_SK;
	ike_put8(&b, ilen ? PL_NONCE : PL_NONE);
	ike_put8(&b, 0);
	ike_put16(&b, 0);
	/* inner: one Nonce payload, or nothing (an empty INFORMATIONAL) */
	inner[0] = 0;
	inner[1] = 0;
	inner[2] = 0;
	inner[3] = sizeof(inner);
	ASSERT_EQ(0, ike_sk_seal(&s, &k, true, &b, IKE_HDR_LEN, inner, ilen));
	ASSERT_EQ(0, ike_parse(&m, b.p, b.len));
	ASSERT_EQ(IKE_HDR_LEN, m.sk_off);
	ASSERT_EQ(0, ike_sk_open(&s, &k, true, b.p, b.len, m.sk_off, &plain, &plen));
	ASSERT_EQ(ilen, plen);
	EXPECT_EQ(0, memcmp(plain, inner, plen));
	ASSERT_EQ(0, ike_parse_inner(&m, plain, plen));
	if (ilen)
		EXPECT_NE(NULL, ike_find(&m, PL_NONCE));
	ike_msg_free(&m);
	/* the responder's keys do not open it */
	EXPECT_NE(0, ike_sk_open(&s, &k, false, b.p, b.len, IKE_HDR_LEN, &plain, &plen));
	/* nor does any changed byte, header included */
	for (size_t i = 0; i < b.len; i += 7) {
		b.p[i] ^= 0x01;
		EXPECT_NE(0, ike_sk_open(&s, &k, true, b.p, b.len, IKE_HDR_LEN, &plain, &plen));
		b.p[i] ^= 0x01;
	}
	ike_buf_free(&b);
}

static void seal_open(struct __test_metadata *_metadata, const char *suite)
{
	seal_open_n(_metadata, suite, 40);
	/* shorter than the ICV: its room used to be copied from past the plaintext */
	seal_open_n(_metadata, suite, 0);
}

TEST(sk_aes_gcm)
{
	seal_open(_metadata, "aes256gcm16-prfsha384-curve25519");
}

TEST(sk_chacha20_poly1305)
{
	seal_open(_metadata, "chacha20poly1305-prfsha256-curve25519");
}

TEST(sk_aes_cbc_sha384_sha512)
{
	seal_open(_metadata, "aes256-sha384-ecp384");
	seal_open(_metadata, "aes128-sha512-prfsha512-modp3072");
}

TEST(sk_aes_cbc_hmac)
{
	seal_open(_metadata, "aes128-sha256-ecp256");
}

TEST(parser_refuses)
{
	uint8_t msg[64] = { 0 };
	struct ike_msg m;

	msg[17] = IKE_VERSION;
	msg[18] = IKE_SA_INIT;
	msg[27] = 28;
	EXPECT_EQ(0, ike_parse(&m, msg, 28));
	EXPECT_EQ(-EBADMSG, ike_parse(&m, msg, 27));		/* short */
	EXPECT_EQ(-EBADMSG, ike_parse(&m, msg, 29));		/* length lies */
	msg[17] = 0x10;
	EXPECT_EQ(-EPROTO, ike_parse(&m, msg, 28));		/* IKEv1 */
	msg[17] = IKE_VERSION;
	msg[16] = 99;						/* unknown, critical */
	msg[27] = 32;
	msg[29] = 0x80;
	msg[31] = 4;
	EXPECT_EQ(-ENOTSUP, ike_parse(&m, msg, 32));
	EXPECT_EQ(99, m.unknown_critical);
	msg[29] = 0;						/* not critical: skipped */
	EXPECT_EQ(0, ike_parse(&m, msg, 32));
	msg[16] = PL_NONCE;
	msg[31] = 5;						/* payload overruns */
	EXPECT_EQ(-EBADMSG, ike_parse(&m, msg, 32));
}

TEST(suites_parse)
{
	struct ike_suite s[IKE_MAX_SUITES];
	size_t n;
	char buf[96];

	ASSERT_EQ(0, ike_parse_suites("aes128gcm16-prfsha256-ecp256, aes256-sha256-modp2048",
				      true, s, &n));
	ASSERT_EQ(2, n);
	EXPECT_EQ(PRF_HMAC_SHA2_256, s[1].prf);		/* implied by sha256 */
	EXPECT_STREQ("aes256-sha256-prfsha256-modp2048", ike_suite_str(&s[1], true, buf, sizeof(buf)));
	EXPECT_NE(0, ike_parse_suites("aes128gcm16-prfsha256", true, s, &n));	/* no group */
	EXPECT_NE(0, ike_parse_suites("aes128", false, s, &n));		/* no integrity */
	EXPECT_NE(0, ike_parse_suites("des-md5-modp768", true, s, &n));
	/* sha384 implies prfsha384; chacha20poly1305 has no key length (RFC 7634) */
	ASSERT_EQ(0, ike_parse_suites("aes256-sha384-ecp384, chacha20poly1305-prfsha256-x25519",
				      true, s, &n));
	EXPECT_EQ(PRF_HMAC_SHA2_384, s[0].prf);
	EXPECT_EQ(AUTH_HMAC_SHA2_384_192, s[0].integ);
	EXPECT_EQ(ENCR_CHACHA20_POLY1305, s[1].encr);
	EXPECT_EQ(0, s[1].keylen);
	ASSERT_EQ(0, ike_parse_suites("aes128gcm16-esn, aes256-sha512", false, s, &n));
	EXPECT_EQ(1, s[0].esn);
	EXPECT_STREQ("aes128gcm16-esn", ike_suite_str(&s[0], false, buf, sizeof(buf)));
	EXPECT_NE(0, ike_parse_suites("aes128gcm16-prfsha256-ecp256-esn", true, s, &n));
	/* the defaults parse */
	ASSERT_EQ(0, ike_parse_suites(IKE_DEFAULT_IKE, true, s, &n));
	ASSERT_EQ(0, ike_parse_suites(IKE_DEFAULT_ESP, false, s, &n));
}

/* the inputs of the ike_keys.c vectors: Ni = 00..1f, Nr = 20..3f, g^ir = a5 x 32 */
static void key_inputs(uint8_t ni[32], uint8_t nr[32], uint8_t gir[32])
{
	for (int i = 0; i < 32; i++) {
		ni[i] = (uint8_t)i;
		nr[i] = (uint8_t)(32 + i);
		gir[i] = 0xa5;
	}
}

static bool hex_is(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t want[128];
	size_t n;

	unhex(hex, want, &n);
	return n == len && !memcmp(p, want, len);
}

TEST(skeyseed_known_answer)
{
	uint8_t ni[32], nr[32], gir[32], skd[32], out[32];

	key_inputs(ni, nr, gir);
	memset(skd, 0x11, sizeof(skd));
	ASSERT_EQ(0, ike_skeyseed(PRF_HMAC_SHA2_256, IKE_BYTES(ni, 32), IKE_BYTES(nr, 32),
				  IKE_BYTES(gir, 32), out));
	EXPECT_TRUE(hex_is(out, 32, "35cfb53ee0f3fce50bc2669330b13553db8cf6eff7da80d3f7f463bd647e41f9"));
	/* rekey (RFC 7296 2.18): prf(SK_d, g^ir | Ni | Nr) */
	ASSERT_EQ(0, ike_skeyseed_rekey(PRF_HMAC_SHA2_256, IKE_BYTES(skd, 32), IKE_BYTES(gir, 32),
					IKE_BYTES(ni, 32), IKE_BYTES(nr, 32), out));
	EXPECT_TRUE(hex_is(out, 32, "26df0d9b2fbb595cff0df22ce12694ee870805614ecfa46ce715fedd2ac302c0"));
	/* nonces that do not fit are refused, not truncated */
	EXPECT_NE(0, ike_skeyseed(PRF_HMAC_SHA2_256, IKE_BYTES(ni, 300), IKE_BYTES(nr, 300),
				  IKE_BYTES(gir, 32), out));
}

TEST(child_keymat_known_answer)
{
	uint8_t ni[32], nr[32], gir[32], skd[32], i2r[64], r2i[64];

	key_inputs(ni, nr, gir);
	memset(skd, 0x11, sizeof(skd));
	/* AES-GCM-128: 16 + 4 bytes a direction, no PFS */
	ASSERT_EQ(0, ike_child_keymat(PRF_HMAC_SHA2_256, IKE_BYTES(skd, 32), IKE_BYTES(NULL, 0),
				      IKE_BYTES(ni, 32), IKE_BYTES(nr, 32), 20, i2r, r2i));
	EXPECT_TRUE(hex_is(i2r, 20, "420af29c7619939cc8e35e41f81630ef4754f888"));
	EXPECT_TRUE(hex_is(r2i, 20, "3a7541ffabea42bebfb7a221b2e8a89a7bd41f60"));
	/* with PFS g^ir first; 36 bytes a direction */
	ASSERT_EQ(0, ike_child_keymat(PRF_HMAC_SHA2_256, IKE_BYTES(skd, 32), IKE_BYTES(gir, 32),
				      IKE_BYTES(ni, 32), IKE_BYTES(nr, 32), 36, i2r, r2i));
	EXPECT_TRUE(hex_is(i2r, 36, "048831767988b5588ef46ac7424e8016ec6eb79252475745b89d924e6505b2e6acccb228"));
	EXPECT_TRUE(hex_is(r2i, 36, "366715dff49fdee5dbc099e5836f42ff9bee7ca281d4b06b56a3c239ff3334f591af2cdb"));
}

TEST(psk_auth_known_answer)
{
	static const char psk[] = "a-long-enough-shared-secret-1", real[] = "IKE_SA_INIT message bytes";
	static const uint8_t id[] = { ID_IPV4_ADDR, 0, 0, 0, 192, 0, 2, 1 };
	uint8_t ni[32], nr[32], gir[32], skp[32], out[32];

	key_inputs(ni, nr, gir);
	memset(skp, 0x22, sizeof(skp));
	ASSERT_EQ(0, ike_psk_auth(PRF_HMAC_SHA2_256, IKE_BYTES(psk, strlen(psk)), IKE_BYTES(skp, 32),
				  IKE_BYTES(real, strlen(real)), IKE_BYTES(nr, 32),
				  IKE_BYTES(id, sizeof(id)), out));
	EXPECT_TRUE(hex_is(out, 32, "3569cee4bde18adcb53a413bced4d2d40027dc7663bff4d429c7f46aaea3f8d4"));
	/* one bit of the identity changes the value */
	uint8_t id2[sizeof(id)];

	memcpy(id2, id, sizeof(id));
	id2[7] ^= 1;
	ASSERT_EQ(0, ike_psk_auth(PRF_HMAC_SHA2_256, IKE_BYTES(psk, strlen(psk)), IKE_BYTES(skp, 32),
				  IKE_BYTES(real, strlen(real)), IKE_BYTES(nr, 32),
				  IKE_BYTES(id2, sizeof(id2)), out));
	EXPECT_FALSE(hex_is(out, 32, "3569cee4bde18adcb53a413bced4d2d40027dc7663bff4d429c7f46aaea3f8d4"));
}

/* an IPv4 selector from dotted quads, all protocols unless given */
static struct ike_ts ts4(const char *start, const char *end, uint16_t sport, uint16_t eport)
{
	struct ike_ts t = { .family = AF_INET, .sport = sport, .eport = eport };

	inet_pton(AF_INET, start, t.start);
	inet_pton(AF_INET, end, t.end);
	return t;
}

TEST(ts_choices)
{
	struct ike_ts net = ts4("10.1.0.0", "10.1.255.255", 0, 65535), out;
	struct ike_ts host = ts4("10.1.2.3", "10.1.2.3", 0, 65535);
	struct ike_ts any = ts4("0.0.0.0", "255.255.255.255", 0, 65535);
	struct ike_ts other = ts4("10.2.0.0", "10.2.255.255", 0, 65535);
	struct ike_ts range = ts4("10.1.0.1", "10.1.0.6", 0, 65535);
	struct ike_ts web = ts4("10.1.0.0", "10.1.255.255", 443, 443);
	struct ike_ts ports = ts4("10.1.0.0", "10.1.255.255", 1000, 2000);

	/* what an xfrm selector can hold: a prefix, all ports or one */
	EXPECT_TRUE(ike_ts_ok(&net));
	EXPECT_TRUE(ike_ts_ok(&host));
	EXPECT_TRUE(ike_ts_ok(&web));
	EXPECT_FALSE(ike_ts_ok(&range));
	EXPECT_FALSE(ike_ts_ok(&ports));

	EXPECT_TRUE(ike_ts_within(&host, &net));
	EXPECT_FALSE(ike_ts_within(&net, &host));
	EXPECT_FALSE(ike_ts_within(&other, &net));
	EXPECT_TRUE(ike_ts_within(&web, &net));

	EXPECT_TRUE(ike_ts_overlap(&net, &host));
	EXPECT_TRUE(ike_ts_overlap(&any, &other));
	EXPECT_FALSE(ike_ts_overlap(&net, &other));
	EXPECT_TRUE(ike_ts_overlap(&web, &ports) == false);
	EXPECT_TRUE(ike_ts_overlap(&web, &net));

	/* a peer asking for everything gets ours; a host inside gets the host */
	ASSERT_TRUE(ike_ts_narrow(&any, 1, &net, &out));
	EXPECT_EQ(0, memcmp(&out, &net, sizeof(out)));
	ASSERT_TRUE(ike_ts_narrow(&host, 1, &net, &out));
	EXPECT_EQ(0, memcmp(out.start, host.start, 4));
	EXPECT_FALSE(ike_ts_narrow(&other, 1, &net, &out));
	/* the first of several that fits is taken */
	struct ike_ts two[2] = { other, host };

	ASSERT_TRUE(ike_ts_narrow(two, 2, &net, &out));
	EXPECT_EQ(0, memcmp(out.start, host.start, 4));
}

TEST(ts_sets)
{
	struct ike_ts_set split = { .n = 2, .ts = {
		ts4("10.1.0.0", "10.1.255.255", 0, 65535),
		ts4("10.2.0.0", "10.2.255.255", 0, 65535) } };
	struct ike_ts any = ts4("0.0.0.0", "255.255.255.255", 0, 65535);
	struct ike_ts host2 = ts4("10.2.0.9", "10.2.0.9", 0, 65535);
	struct ike_ts wide = ts4("10.0.0.0", "10.255.255.255", 0, 65535);
	struct ike_ts other = ts4("192.168.0.0", "192.168.255.255", 0, 65535);
	struct ike_ts_set out, one = { .n = 1, .ts = { host2 } };

	/* a client asking for everything gets the split list, both entries */
	ASSERT_TRUE(ike_ts_set_narrow(&any, 1, &split, &out));
	ASSERT_EQ(2u, out.n);
	EXPECT_TRUE(ike_ts_set_equal(&out, &split));
	/* 10/8 and 0/0 both narrow to the same two: no duplicates */
	struct ike_ts both[2] = { wide, any };

	ASSERT_TRUE(ike_ts_set_narrow(both, 2, &split, &out));
	EXPECT_EQ(2u, out.n);
	/* a host in the second entry gets that host alone */
	ASSERT_TRUE(ike_ts_set_narrow(&host2, 1, &split, &out));
	ASSERT_EQ(1u, out.n);
	EXPECT_TRUE(ike_ts_set_equal(&out, &one));
	/* nothing of ours: refused */
	EXPECT_FALSE(ike_ts_set_narrow(&other, 1, &split, &out));
	EXPECT_EQ(0u, out.n);

	/* a response must stay inside what we asked for, every entry of it */
	EXPECT_TRUE(ike_ts_set_within(split.ts, 2, &split));
	EXPECT_TRUE(ike_ts_set_within(&host2, 1, &split));
	EXPECT_FALSE(ike_ts_set_within(&wide, 1, &split));
	struct ike_ts mixed[2] = { host2, other };

	EXPECT_FALSE(ike_ts_set_within(mixed, 2, &split));
	EXPECT_FALSE(ike_ts_set_within(mixed, 0, &split));

	/* ownership: one shared entry is an overlap */
	struct ike_ts_set theirs = { .n = 2, .ts = { other, host2 } };
	struct ike_ts_set apart = { .n = 1, .ts = { other } };

	EXPECT_TRUE(ike_ts_set_overlap(&split, &theirs));
	EXPECT_FALSE(ike_ts_set_overlap(&split, &apart));

	/* equal in any order, not when one is a subset */
	struct ike_ts_set swapped = { .n = 2, .ts = { split.ts[1], split.ts[0] } };

	EXPECT_TRUE(ike_ts_set_equal(&split, &swapped));
	EXPECT_FALSE(ike_ts_set_equal(&split, &one));

	/* overlapping entries: a rekey sending back what it got gets it again,
	 * not also the entries' own intersection (10.1/16, TCP) */
	struct ike_ts x = ts4("10.0.0.0", "10.255.255.255", 0, 65535);
	struct ike_ts y = ts4("10.1.0.0", "10.1.255.255", 0, 65535);
	struct ike_ts_set lap, first_time, again;

	x.proto = 6;
	lap = (struct ike_ts_set){ .n = 2, .ts = { x, y } };
	ASSERT_TRUE(ike_ts_set_narrow(&any, 1, &lap, &first_time));
	EXPECT_TRUE(ike_ts_set_equal(&first_time, &lap));
	ASSERT_TRUE(ike_ts_set_narrow(first_time.ts, first_time.n, &first_time, &again));
	EXPECT_TRUE(ike_ts_set_equal(&again, &first_time));

	/* at most IKE_MAX_TS come out, however many the peer sends */
	struct ike_ts many[IKE_MAX_TS + 2];
	struct ike_ts_set all = { .n = 1, .ts = { ts4("10.0.0.0", "10.255.255.255", 0, 65535) } };

	for (unsigned int i = 0; i < IKE_MAX_TS + 2; i++) {
		char a[16];

		snprintf(a, sizeof(a), "10.0.%u.1", i);
		many[i] = ts4(a, a, 0, 65535);
	}
	ASSERT_TRUE(ike_ts_set_narrow(many, IKE_MAX_TS + 2, &all, &out));
	EXPECT_EQ((unsigned int)IKE_MAX_TS, out.n);
}

/* a CP payload built by ike_pl_cp(), parsed back by ike_parse_cp() */
static int cp_round_trip(const struct ike_cfg *in, struct ike_cfg *out)
{
	struct ike_chain c;
	struct ike_buf b;
	struct ike_pl pl;
	int rc;

	ike_buf_init(&b);
	ike_put8(&b, 0);	/* the "next payload" byte the chain patches */
	ike_chain_init(&c, &b, 0);
	ike_pl_cp(&c, in);
	ike_pl_end(&c);
	pl = (struct ike_pl){ .type = PL_CP, .data = b.p + 5, .len = b.len - 5 };
	rc = b.err ? -1 : ike_parse_cp(&pl, out);
	ike_buf_free(&b);
	return rc;
}

static int cp_parse_bytes(const uint8_t *body, size_t len, struct ike_cfg *out)
{
	struct ike_pl pl = { .type = PL_CP, .data = body, .len = len };

	return ike_parse_cp(&pl, out);
}

TEST(cp_payload)
{
	struct ike_cfg reply = { .type = CFG_REPLY, .has_ip4 = true, .ip4 = { 192, 168, 111, 1 },
				 .ndns4 = 2, .dns4 = { { 10, 1, 0, 53 }, { 10, 2, 0, 53 } },
				 .subnets = { .n = 2, .ts = {
					ts4("10.1.0.0", "10.1.255.255", 0, 65535),
					ts4("10.2.0.0", "10.2.255.255", 0, 65535) } } };
	struct ike_cfg req = { .type = CFG_REQUEST, .ask_ip4 = true, .ask_dns4 = true,
			       .ask_ip6 = true };
	struct ike_cfg got;

	/* a gateway's reply: address, two DNS servers, the split list */
	ASSERT_EQ(0, cp_round_trip(&reply, &got));
	EXPECT_EQ(CFG_REPLY, got.type);
	EXPECT_TRUE(got.has_ip4);
	EXPECT_EQ(0, memcmp(got.ip4, reply.ip4, 4));
	ASSERT_EQ(2u, got.ndns4);
	EXPECT_EQ(0, memcmp(got.dns4[1], reply.dns4[1], 4));
	EXPECT_TRUE(ike_ts_set_equal(&got.subnets, &reply.subnets));
	EXPECT_FALSE(got.has_ip6);

	/* a client's request: empty attributes name what it wants */
	ASSERT_EQ(0, cp_round_trip(&req, &got));
	EXPECT_EQ(CFG_REQUEST, got.type);
	EXPECT_TRUE(got.ask_ip4);
	EXPECT_TRUE(got.ask_ip6);
	EXPECT_TRUE(got.ask_dns4);
	EXPECT_FALSE(got.ask_dns6);
	EXPECT_FALSE(got.has_ip4);
	EXPECT_EQ(0u, got.ndns4);

	/* what a peer may not send */
	const uint8_t short_addr[] = { 1, 0, 0, 0, 0, 1, 0, 3, 10, 0, 0 };
	const uint8_t bad_mask[] = { 2, 0, 0, 0, 0, 13, 0, 8, 10, 0, 0, 0, 255, 0, 255, 0 };
	const uint8_t overrun[] = { 2, 0, 0, 0, 0, 1, 0, 8, 10, 0, 0, 1 };
	const uint8_t bad_type[] = { 9, 0, 0, 0 };
	const uint8_t bad_prefix[] = { 2, 0, 0, 0, 0, 8, 0, 17, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0,
				       0, 0, 0, 0, 0, 0, 0, 1, 129 };

	EXPECT_EQ(-EBADMSG, cp_parse_bytes(short_addr, sizeof(short_addr), &got));
	EXPECT_EQ(-EBADMSG, cp_parse_bytes(bad_mask, sizeof(bad_mask), &got));
	EXPECT_EQ(-EBADMSG, cp_parse_bytes(overrun, sizeof(overrun), &got));
	EXPECT_EQ(-EBADMSG, cp_parse_bytes(bad_type, sizeof(bad_type), &got));
	EXPECT_EQ(-EBADMSG, cp_parse_bytes(bad_prefix, sizeof(bad_prefix), &got));
	/* an attribute of a type we do not know is skipped */
	const uint8_t unknown[] = { 2, 0, 0, 0, 0x40, 0x00, 0, 2, 7, 7, 0, 1, 0, 4, 10, 0, 0, 9 };

	ASSERT_EQ(0, cp_parse_bytes(unknown, sizeof(unknown), &got));
	EXPECT_TRUE(got.has_ip4);
	EXPECT_EQ(9, got.ip4[3]);
}

/*
 * An exhausted pool reuses the lease whose grace period ended first, the
 * lower address of two that ended together: the free heap against a scan
 * of every lease, over random acquires, releases, holds and restores.
 */
static int pool_expected(const struct ike_pool *p, const char *id, uint64_t now)
{
	int best = -1;

	for (uint32_t i = 0; i < p->size; i++) {
		const struct ike_lease *l = &p->leases[i];

		if (l->id && l->idlen == strlen(id) && !memcmp(l->id, id, l->idlen))
			return (int)i;
	}
	for (uint32_t i = 0; i < p->size; i++)
		if (!p->leases[i].id)
			return (int)i;
	for (uint32_t i = 0; i < p->size; i++) {
		const struct ike_lease *l = &p->leases[i];

		if (!l->users && l->free_at <= now &&
		    (best < 0 || l->free_at < p->leases[best].free_at))
			best = (int)i;
	}
	return best;
}

TEST(address_pool_reuse_order)
{
	const uint8_t first[4] = { 10, 9, 0, 0 }, last[4] = { 10, 9, 0, 47 };
	uint8_t a[16];
	uint64_t now = 1000;
	unsigned int seed = 15;
	struct ike_pool p;
	char id[16];

	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	for (int op = 0; op < 20000; op++) {
		unsigned int r = (unsigned int)rand_r(&seed);
		uint32_t i = r / 7 % p.size;
		int want;

		now += r % 50;
		ike_pool_addr(&p, i, a);
		switch (r % 4) {
		case 0:	/* a release with a grace of its own: heap order differs from release order */
			if (p.leases[i].users)
				ASSERT_EQ(0, ike_pool_release(&p, a, now, r / 3 % 3000));
			break;
		case 1:	/* a reloaded conn's hold of a lease that has an identity */
			if (p.leases[i].id && !p.leases[i].users && r % 3 == 0)
				ASSERT_EQ(0, ike_pool_hold(&p, a, ID_FQDN, p.leases[i].id,
							   p.leases[i].idlen, now));
			break;
		default:
			snprintf(id, sizeof(id), "c%u", r / 11 % 200);
			want = pool_expected(&p, id, now);
			if (want < 0) {
				ASSERT_EQ(-ENOSPC, ike_pool_acquire(&p, ID_FQDN, id, strlen(id), now, a));
				break;
			}
			ASSERT_EQ(0, ike_pool_acquire(&p, ID_FQDN, id, strlen(id), now, a));
			ASSERT_EQ((uint32_t)want, (uint32_t)a[3]);
		}
	}
	ike_pool_free(&p);

	/* restored leases in any order come back by their grace's end */
	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	for (uint32_t i = 0; i < p.size; i++) {
		ike_pool_addr(&p, i, a);
		snprintf(id, sizeof(id), "r%u", i);
		ASSERT_EQ(0, ike_pool_restore(&p, a, ID_FQDN, id, strlen(id), 0,
					      1000 + (i * 37) % 13));
	}
	for (uint32_t k = 0; k < p.size; k++) {
		int want;

		snprintf(id, sizeof(id), "n%u", k);
		want = pool_expected(&p, id, 2000);
		ASSERT_EQ(0, ike_pool_acquire(&p, ID_FQDN, id, strlen(id), 2000, a));
		ASSERT_EQ((uint32_t)want, (uint32_t)a[3]);
	}
	EXPECT_EQ(-ENOSPC, ike_pool_acquire(&p, ID_FQDN, "late", 4, 2000, a));
	ike_pool_free(&p);
}

TEST(address_pool)
{
	/* the seed's pool: 192.168.111.1 to .5 */
	const uint8_t first[4] = { 192, 168, 111, 1 }, last[4] = { 192, 168, 111, 5 };
	uint8_t a[16], b[16], c[16];
	struct ike_pool p;
	char id[16];

	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	ASSERT_EQ(5u, p.size);
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "alice", 5, 1000, a));
	EXPECT_EQ(0, memcmp(a, first, 4));
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "bob", 3, 1000, b));
	EXPECT_EQ(2, b[3]);
	/* a second SA of alice's (a failover, a rekey) shares her address */
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "alice", 5, 1100, c));
	EXPECT_EQ(0, memcmp(a, c, 4));
	EXPECT_EQ(0, ike_pool_release(&p, c, 1200, 60000));
	EXPECT_EQ(1u, p.leases[0].users);
	/* released, she gets it back within the grace period, and after it
	 * while nobody else needed it */
	EXPECT_EQ(0, ike_pool_release(&p, a, 2000, 60000));
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "alice", 5, 30000, c));
	EXPECT_EQ(0, memcmp(a, c, 4));
	EXPECT_EQ(0, ike_pool_release(&p, c, 31000, 60000));
	/* the same name of another identity type is another client */
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_FQDN, "alice", 5, 32000, c));
	EXPECT_EQ(3, c[3]);
	/* fill it: .4 and .5; alice's .1 is in its grace period: exhausted */
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "carol", 5, 33000, c));
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "dave", 4, 33000, c));
	EXPECT_EQ(5, c[3]);
	EXPECT_EQ(-ENOSPC, ike_pool_acquire(&p, ID_RFC822_ADDR, "erin", 4, 40000, c));
	/* once alice's grace has passed, .1 goes to the next newcomer */
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "erin", 4, 91001, c));
	EXPECT_EQ(1, c[3]);
	/* releasing what is not leased, or not from this pool */
	const uint8_t outside[4] = { 192, 168, 112, 1 };

	EXPECT_EQ(-ENOENT, ike_pool_release(&p, outside, 92000, 0));
	EXPECT_EQ(NULL, ike_pool_lease(&p, outside));
	ASSERT_NE(NULL, ike_pool_lease(&p, c));
	EXPECT_EQ(1u, ike_pool_lease(&p, c)->users);
	EXPECT_EQ(91001u, ike_pool_lease(&p, c)->since);
	EXPECT_EQ(0, ike_pool_release(&p, c, 92000, 0));
	EXPECT_EQ(-ENOENT, ike_pool_release(&p, c, 92000, 0));
	ike_pool_free(&p);

	/* leases from a lease file: free, kept for their identity until free_at */
	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	memcpy(c, first, 4);
	c[3] = 3;
	EXPECT_EQ(0, ike_pool_restore(&p, c, ID_RFC822_ADDR, "carol", 5, 100, 60000));
	EXPECT_EQ(-EEXIST, ike_pool_restore(&p, c, ID_RFC822_ADDR, "dave", 4, 100, 60000));
	EXPECT_EQ(-ENOENT, ike_pool_restore(&p, outside, ID_RFC822_ADDR, "dave", 4, 100, 60000));
	/* carol gets .3 again; until 60 s nobody else does */
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "carol", 5, 1000, a));
	EXPECT_EQ(3, a[3]);
	EXPECT_EQ(100u, ike_pool_lease(&p, a)->since);
	EXPECT_EQ(0, ike_pool_release(&p, a, 2000, 58000));
	for (unsigned int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "u%u", i);
		ASSERT_EQ(0, ike_pool_acquire(&p, ID_FQDN, id, strlen(id), 3000, b));
		EXPECT_NE(3, b[3]);
	}
	EXPECT_EQ(-ENOSPC, ike_pool_acquire(&p, ID_FQDN, "u9", 2, 3000, b));
	ike_pool_free(&p);

	/* a reloaded pool takes back the addresses of live SAs */
	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	EXPECT_EQ(0, ike_pool_hold(&p, c, ID_RFC822_ADDR, "carol", 5, 500));
	EXPECT_EQ(0, ike_pool_hold(&p, c, ID_RFC822_ADDR, "carol", 5, 600));
	EXPECT_EQ(2u, ike_pool_lease(&p, c)->users);
	EXPECT_EQ(-EBUSY, ike_pool_hold(&p, c, ID_RFC822_ADDR, "dave", 4, 600));
	EXPECT_EQ(-ENOENT, ike_pool_hold(&p, outside, ID_RFC822_ADDR, "dave", 4, 600));
	ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, "dave", 4, 700, b));
	EXPECT_NE(c[3], b[3]);
	ike_pool_free(&p);

	/* an IPv6 range; one that is empty, too large or spans the high bits */
	uint8_t f6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, l6[16];

	memcpy(l6, f6, 16);
	l6[14] = 0x01;
	ASSERT_EQ(0, ike_pool_init(&p, AF_INET6, f6, l6));
	EXPECT_EQ(257u, p.size);
	for (unsigned int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "user%u", i);
		ASSERT_EQ(0, ike_pool_acquire(&p, ID_FQDN, id, strlen(id), 0, a));
	}
	EXPECT_EQ(3, a[15]);
	ike_pool_free(&p);
	EXPECT_EQ(-EINVAL, ike_pool_init(&p, AF_INET, last, first));
	const uint8_t big[4] = { 192, 169, 111, 1 };

	EXPECT_EQ(-EINVAL, ike_pool_init(&p, AF_INET, first, big));
	l6[3] = 0xb9;
	EXPECT_EQ(-EINVAL, ike_pool_init(&p, AF_INET6, f6, l6));
}

/*
 * Reqids stay in the helper's range however often peers come and go: a
 * peer that reconnects 200,000 times (each SA's reqid freed as it goes,
 * one held by a long-lived SA throughout) never gets one outside it, a
 * freed one is taken again, and a full range says so instead of wrapping.
 */
TEST(reqids_reused)
{
	struct ike_reqids *r = calloc(1, sizeof(*r));
	uint32_t base = 0x45540000, held, id, first;

	ASSERT_NE(NULL, r);
	r->base = base;
	held = ike_reqid_take(r);
	ASSERT_EQ(base + 1, held);
	for (unsigned int i = 0; i < 200000; i++) {
		id = ike_reqid_take(r);
		ASSERT_GT(id, base);
		ASSERT_LE(id, base + 0xffff);
		ASSERT_NE(held, id);
		ike_reqid_give(r, id);
	}
	/* the whole range: 65535 in use (held among them), then no more */
	first = ike_reqid_take(r);
	for (unsigned int i = 2; i < 0xffff; i++)
		ASSERT_NE(0u, ike_reqid_take(r));
	EXPECT_EQ(0u, ike_reqid_take(r));
	/* one back: that very one comes out next */
	ike_reqid_give(r, first);
	EXPECT_EQ(first, ike_reqid_take(r));
	EXPECT_EQ(0u, ike_reqid_take(r));
	/* reqids of other ranges (another helper's, the base) change nothing */
	ike_reqid_give(r, base);
	ike_reqid_give(r, base + 0x10000);
	ike_reqid_give(r, 7);
	EXPECT_EQ(0u, ike_reqid_take(r));
	free(r);
}

/* identities as `esptcp show` and the log print them: a peer cannot forge a line */
TEST(id_format)
{
	const uint8_t v4[4] = { 192, 0, 2, 7 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char buf[64];

	ike_id_format(ID_IPV4_ADDR, v4, 4, buf, sizeof(buf));
	EXPECT_STREQ("192.0.2.7", buf);
	ike_id_format(ID_IPV6_ADDR, v6, 16, buf, sizeof(buf));
	EXPECT_STREQ("2001:db8::1", buf);
	ike_id_format(ID_RFC822_ADDR, (const uint8_t *)"alice@example.org", 17, buf, sizeof(buf));
	EXPECT_STREQ("alice@example.org", buf);
	ike_id_format(ID_FQDN, (const uint8_t *)"a b\nlease 1\\\"", 13, buf, sizeof(buf));
	EXPECT_STREQ("a\\x20b\\x0alease\\x201\\x5c\\x22", buf);
	/* truncated whole, never mid-escape */
	ike_id_format(ID_FQDN, (const uint8_t *)"\n\n\n", 3, buf, 8);
	EXPECT_STREQ("\\x0a", buf);
	ike_id_format(ID_IPV4_ADDR, v4, 3, buf, sizeof(buf));
	EXPECT_STREQ("(type-1,3-bytes)", buf);
	ike_id_format(9, v4, 4, buf, sizeof(buf));
	EXPECT_STREQ("(type-9,4-bytes)", buf);
}

/* load a one-conn responder configuration with these further lines */
static int load_conf(const char *lines, struct ike_conf *conf)
{
	char path[] = "/tmp/ike_unit_conf.XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;

	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -1;
	}
	fprintf(f, "[conn c]\nrole = responder\nlocal = 198.51.100.2\n"
		"psk = \"a long enough secret for the unit test\"\n%s", lines);
	fclose(f);
	memset(conf, 0, sizeof(*conf));
	rc = ike_conf_load(path, conf);
	unlink(path);
	return rc;
}

/* ... whose selector lines are lts and rts */
static int load_ts_conf(const char *lts, const char *rts, struct ike_conf *conf)
{
	char lines[512];

	snprintf(lines, sizeof(lines), "local-ts = %s\nremote-ts = %s\n", lts, rts);
	return load_conf(lines, conf);
}

/*
 * The pool's index by identity through 3,000 identities over 1,000
 * addresses: every lease goes to other identities twice (grace 0), and
 * each identity of the last round still finds its own, those before it none.
 */
TEST(pool_index)
{
	const uint8_t first[4] = { 10, 0, 0, 0 }, last[4] = { 10, 0, 3, 231 };
	static uint8_t mine[1000][16];
	struct ike_pool p;
	uint8_t a[16];
	char id[16];
	int n;

	ASSERT_EQ(0, ike_pool_init(&p, AF_INET, first, last));
	ASSERT_EQ(1000u, p.size);
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 1000; i++) {
			n = snprintf(id, sizeof(id), "u%d", r * 1000 + i);
			ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, id, (size_t)n,
						      1000 + (uint64_t)r, mine[i]));
			if (r < 2)
				ASSERT_EQ(0, ike_pool_release(&p, mine[i], 1000 + (uint64_t)r, 0));
		}
	}
	for (int i = 0; i < 1000; i++) {
		n = snprintf(id, sizeof(id), "u%d", 2000 + i);
		ASSERT_EQ(0, ike_pool_acquire(&p, ID_RFC822_ADDR, id, (size_t)n, 5000, a));
		ASSERT_EQ(0, memcmp(a, mine[i], 4));
		EXPECT_EQ(2u, ike_pool_lease(&p, a)->users);
	}
	for (int i = 0; i < 2000; i += 97) {
		n = snprintf(id, sizeof(id), "u%d", i);
		EXPECT_EQ(-ENOSPC, ike_pool_acquire(&p, ID_RFC822_ADDR, id, (size_t)n, 5000, a));
	}
	ike_pool_free(&p);
}

TEST(pool_in_conf)
{
	struct ike_conf conf;
	const struct ike_conn_conf *c;

	/* the seed's range, DNS, no remote-ts: the pool is the clients' */
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16, 10.2.0.0/16\n"
			       "pool = 192.168.111.1-192.168.111.5\n"
			       "dns = 10.1.0.53, 2001:db8::53\nlease-grace = 1m\n", &conf));
	c = &conf.conns[0];
	EXPECT_TRUE(c->pool_set);
	EXPECT_EQ(AF_INET, c->pool_family);
	EXPECT_EQ(1, c->pool_first[3]);
	EXPECT_EQ(5, c->pool_last[3]);
	EXPECT_EQ(1u, c->ndns4);
	EXPECT_EQ(1u, c->ndns6);
	EXPECT_EQ(60u, c->lease_grace_s);
	ike_conf_free(&conf);
	/* a prefix leaves out its network and broadcast addresses */
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\n", &conf));
	EXPECT_EQ(1, conf.conns[0].pool_first[3]);
	EXPECT_EQ(254, conf.conns[0].pool_last[3]);
	ike_conf_free(&conf);
	/* too large, reversed, another family than local-ts, an initiator's */
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.0.0.0/8\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.9-10.3.0.1\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\npool = 2001:db8::/120\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\n"
			       "role = initiator\nremote = 192.0.2.1\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\ndns = nowhere\n",
			       &conf));
	/* no pool and no remote-ts: nothing to narrow the client to */
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\n", &conf));
}

/* port = 4500, 443: a responder's listeners, an initiator's ports in turn */
TEST(tcp_ports_conf)
{
	struct ike_conf conf;

	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n", &conf));
	EXPECT_EQ(1u, conf.conns[0].ntcp_ports);
	EXPECT_EQ(4500, conf.conns[0].tcp_ports[0]);
	ike_conf_free(&conf);
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "port = 5500, 443\n", &conf));
	EXPECT_EQ(2u, conf.conns[0].ntcp_ports);
	EXPECT_EQ(5500, conf.conns[0].tcp_port);
	EXPECT_EQ(443, conf.conns[0].tcp_ports[1]);
	ike_conf_free(&conf);
	/* a port twice, 0, too many, not a number */
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "port = 443, 443\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "port = 0\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "port = 1, 2, 3, 4, 5\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "port = https\n", &conf));
}

/* failover: the path checks, the way back, the standby and its limit */
TEST(failover_conf)
{
	static const char ts[] = "local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n";
	struct ike_conf conf;
	char lines[512];

	ASSERT_EQ(0, load_conf(ts, &conf));
	EXPECT_EQ(150u, conf.conns[0].udp_quiet_ms);
	EXPECT_EQ(1500u, conf.conns[0].udp_timeout_ms);
	EXPECT_EQ(3u, conf.conns[0].return_checks);
	EXPECT_TRUE(conf.conns[0].standby);
	EXPECT_EQ(10000u, conf.standby_max);
	ike_conf_free(&conf);
	snprintf(lines, sizeof(lines), "%sudp-quiet = 80ms\nudp-return-checks = 1\n"
		 "tcp-standby = no\n[global]\nstandby-max = 0\n", ts);
	ASSERT_EQ(0, load_conf(lines, &conf));
	EXPECT_EQ(80u, conf.conns[0].udp_quiet_ms);
	EXPECT_EQ(1u, conf.conns[0].return_checks);
	EXPECT_FALSE(conf.conns[0].standby);
	EXPECT_EQ(0u, conf.standby_max);
	ike_conf_free(&conf);
	/* too short to tell from jitter, no check at all, too many, not yes or no */
	snprintf(lines, sizeof(lines), "%sudp-quiet = 10ms\n", ts);
	EXPECT_NE(0, load_conf(lines, &conf));
	snprintf(lines, sizeof(lines), "%sudp-return-checks = 0\n", ts);
	EXPECT_NE(0, load_conf(lines, &conf));
	snprintf(lines, sizeof(lines), "%sudp-return-checks = 11\n", ts);
	EXPECT_NE(0, load_conf(lines, &conf));
	snprintf(lines, sizeof(lines), "%stcp-standby = maybe\n", ts);
	EXPECT_NE(0, load_conf(lines, &conf));
	snprintf(lines, sizeof(lines), "%s[global]\nstandby-max = -1\n", ts);
	EXPECT_NE(0, load_conf(lines, &conf));
}

/* a client's virtual address and updown: the keys and what they imply */
TEST(vip_client_conf)
{
	struct ike_conf conf;
	const struct ike_conn_conf *c;

	/* our selector is any address; remote-ts defaults to everything too */
	ASSERT_EQ(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "updown = /etc/esptcp/updown.sh\n", &conf));
	c = &conf.conns[0];
	EXPECT_TRUE(c->vip);
	EXPECT_STREQ("lo", c->vip_dev);
	EXPECT_EQ(220u, c->route_table);
	EXPECT_STREQ("/etc/esptcp/updown.sh", c->updown);
	ASSERT_EQ(1u, c->local_ts.n);
	EXPECT_EQ(AF_INET, c->local_ts.ts[0].family);
	EXPECT_EQ(0, ike_ts_prefix(&c->local_ts.ts[0]));
	EXPECT_EQ(255, c->local_ts.ts[0].end[3]);
	ASSERT_EQ(1u, c->remote_ts.n);
	EXPECT_EQ(0, ike_ts_prefix(&c->remote_ts.ts[0]));
	ike_conf_free(&conf);
	/* a split list asked for, another interface and table; IPv6 from remote-ts */
	ASSERT_EQ(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "remote-ts = 10.1.0.0/16, 10.2.0.0/16\nvip-interface = dummy0\n"
			       "route-table = 1000\n", &conf));
	c = &conf.conns[0];
	EXPECT_EQ(2u, c->remote_ts.n);
	EXPECT_STREQ("dummy0", c->vip_dev);
	EXPECT_EQ(1000u, c->route_table);
	ike_conf_free(&conf);
	ASSERT_EQ(0, load_conf("role = initiator\nremote = 2001:db8::1\nvip = yes\n"
			       "local = 2001:db8::2\nremote-ts = 2001:db8:1::/48\n", &conf));
	EXPECT_EQ(AF_INET6, conf.conns[0].local_ts.ts[0].family);
	ike_conf_free(&conf);
	/* an IPv6 address over IPv4: not with vip = yes */
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "remote-ts = 2001:db8:1::/48\n", &conf));
	/* a responder's, with a selector of our own, transport mode; bad values */
	EXPECT_NE(0, load_conf("vip = yes\nremote-ts = 10.1.0.0/16\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "local-ts = 10.9.0.1/32\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "mode = transport\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "route-table = 254\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "vip-interface = a/b\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "updown = updown.sh\n", &conf));
}

/* a load generator's conn: instances, start-rate, install = no */
/* a rekey time of 0 is refused: it would rekey again at once, without end */
TEST(rekey_zero_conf)
{
	struct ike_conf conf;

	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "child-rekey = 0\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "ike-rekey = 0s\n", &conf));
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "child-rekey = 1\nike-rekey = 2m\n", &conf));
	EXPECT_EQ(1u, conf.conns[0].child_rekey_s);
	EXPECT_EQ(120u, conf.conns[0].ike_rekey_s);
	ike_conf_free(&conf);
}

TEST(instances_conf)
{
	struct ike_conf conf;
	const struct ike_conn_conf *c;

	ASSERT_EQ(0, load_conf("role = initiator\nremote = 192.0.2.1\ntransport = tcp\n"
			       "local-id = @c%u.example\nvip = yes\ninstances = 1000\n"
			       "start-rate = 200\ninstall = no\n", &conf));
	c = &conf.conns[0];
	EXPECT_EQ(1000u, c->instances);
	EXPECT_EQ(200u, c->start_rate);
	EXPECT_FALSE(c->install);
	ike_conf_free(&conf);
	/* the defaults: one, at once, installed */
	ASSERT_EQ(0, load_conf("role = initiator\nremote = 192.0.2.1\n"
			       "local-ts = 10.1.0.1/32\nremote-ts = 10.2.0.0/16\n", &conf));
	c = &conf.conns[0];
	EXPECT_EQ(1u, c->instances);
	EXPECT_EQ(0u, c->start_rate);
	EXPECT_TRUE(c->install);
	ike_conf_free(&conf);
	/* a responder's; the fallback transport; with updown; a vip installed; bad counts */
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "instances = 10\n", &conf));
	EXPECT_NE(0, load_conf("local-ts = 10.1.0.0/16\nremote-ts = 10.2.0.0/16\n"
			       "install = no\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "instances = 10\ninstall = no\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "transport = udp\ninstances = 10\ninstall = no\n"
			       "updown = /bin/true\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "transport = udp\ninstances = 10\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "transport = udp\ninstances = 0\n", &conf));
	EXPECT_NE(0, load_conf("role = initiator\nremote = 192.0.2.1\nvip = yes\n"
			       "transport = udp\ninstances = 60001\n", &conf));
}

TEST(ts_lists_in_conf)
{
	struct ike_conf conf;

	/* a split list: each entry kept, in order */
	ASSERT_EQ(0, load_ts_conf("10.1.0.0/16, 10.2.0.0/16", "192.168.111.0/29", &conf));
	ASSERT_EQ(1u, (unsigned int)conf.nconns);
	EXPECT_EQ(2u, conf.conns[0].local_ts.n);
	EXPECT_EQ(1u, conf.conns[0].remote_ts.n);
	EXPECT_EQ(2, conf.conns[0].local_ts.ts[1].start[1]);
	ike_conf_free(&conf);
	/* a repeated entry, an empty list, mixed families, too many: refused */
	EXPECT_NE(0, load_ts_conf("10.1.0.0/16, 10.1.0.0/16", "10.9.0.0/16", &conf));
	EXPECT_NE(0, load_ts_conf(",", "10.9.0.0/16", &conf));
	EXPECT_NE(0, load_ts_conf("10.1.0.0/16, 2001:db8::/32", "10.9.0.0/16", &conf));
	EXPECT_NE(0, load_ts_conf("10.1.0.0/16", "2001:db8::/32", &conf));
	EXPECT_NE(0, load_ts_conf("10.1.0.0/24, 10.1.1.0/24, 10.1.2.0/24, 10.1.3.0/24, "
				  "10.1.4.0/24, 10.1.5.0/24, 10.1.6.0/24, 10.1.7.0/24, "
				  "10.1.8.0/24", "10.9.0.0/16", &conf));
}

static void conf_with(struct __test_metadata *_metadata, struct ike_conn_conf *c,
		      const char *esp)
{
	memset(c, 0, sizeof(*c));
	ASSERT_EQ(0, ike_parse_suites(esp, false, c->esp, &c->nesp));
}

TEST(esp_choice)
{
	struct ike_conn_conf c;
	struct ike_proposal p[2] = { { .num = 1, .proto = PROTO_ESP, .spi_len = 4 },
				     { .num = 2, .proto = PROTO_ESP, .spi_len = 4 } };
	struct ike_suite s;
	uint32_t spi;
	uint8_t num;

	conf_with(_metadata, &c, "aes256gcm16, aes128-sha256-modp2048");
	/* the peer offers CBC/SHA2-256 with and without a group */
	p[0].ids[TT_ENCR][0] = ENCR_AES_CBC;
	p[0].keylens[TT_ENCR][0] = 128;
	p[0].nids[TT_ENCR] = 1;
	p[0].ids[TT_INTEG][0] = AUTH_HMAC_SHA2_256_128;
	p[0].nids[TT_INTEG] = 1;
	p[0].ids[TT_DH][0] = DH_MODP_2048;
	p[0].nids[TT_DH] = 1;
	memcpy(p[0].spi, "\x01\x02\x03\x04", 4);
	/* in IKE_AUTH (no KE) the peer's groups are ignored (RFC 7296 1.2) */
	ASSERT_TRUE(ike_choose_esp(&c, p, 1, CHILD_KE_IGNORE, 0, &s, &num, &spi));
	EXPECT_EQ(ENCR_AES_CBC, s.encr);
	EXPECT_EQ(0, s.dh);
	EXPECT_EQ(1, num);
	/* with a KE of the proposal's group: PFS */
	ASSERT_TRUE(ike_choose_esp(&c, p, 1, CHILD_KE_GROUP, DH_MODP_2048, &s, &num, &spi));
	EXPECT_EQ(DH_MODP_2048, s.dh);
	/* a KE of another group does not match, and INVALID_KE_PAYLOAD names ours */
	EXPECT_FALSE(ike_choose_esp(&c, p, 1, CHILD_KE_GROUP, DH_ECP_256, &s, &num, &spi));
	EXPECT_EQ(DH_MODP_2048, ike_child_ke_wanted(&c, p, 1));
	/* our suite names a group: a rekey without KE would be a PFS downgrade */
	EXPECT_FALSE(ike_choose_esp(&c, p, 1, CHILD_KE_NONE, 0, &s, &num, &spi));

	/* libreswan's default: GCM with PFS in the IKE group; ours has no group */
	p[0].ids[TT_ENCR][0] = ENCR_AES_GCM_16;
	p[0].keylens[TT_ENCR][0] = 256;
	p[0].nids[TT_INTEG] = 0;
	p[0].ids[TT_DH][0] = DH_ECP_256;
	ASSERT_TRUE(ike_choose_esp(&c, p, 1, CHILD_KE_GROUP, DH_ECP_256, &s, &num, &spi));
	EXPECT_EQ(ENCR_AES_GCM_16, s.encr);
	EXPECT_EQ(DH_ECP_256, s.dh);
	/* a group this build does not have is not taken */
	p[0].ids[TT_DH][0] = 99;
	EXPECT_FALSE(ike_choose_esp(&c, p, 1, CHILD_KE_GROUP, 99, &s, &num, &spi));
	/* without KE and with only groups offered: nothing */
	p[0].ids[TT_DH][0] = DH_ECP_256;
	EXPECT_FALSE(ike_choose_esp(&c, p, 1, CHILD_KE_NONE, 0, &s, &num, &spi));
	/* the peer offers NONE beside the group: no PFS is fine then */
	p[0].ids[TT_DH][1] = 0;
	p[0].nids[TT_DH] = 2;
	ASSERT_TRUE(ike_choose_esp(&c, p, 1, CHILD_KE_NONE, 0, &s, &num, &spi));
	EXPECT_EQ(0, s.dh);

	/* an AH proposal, or one with a short SPI, is never chosen */
	p[1] = p[0];
	p[1].num = 2;
	p[0].proto = PROTO_AH;
	ASSERT_TRUE(ike_choose_esp(&c, p, 2, CHILD_KE_IGNORE, 0, &s, &num, &spi));
	EXPECT_EQ(2, num);
	p[1].spi_len = 8;
	EXPECT_FALSE(ike_choose_esp(&c, p, 2, CHILD_KE_IGNORE, 0, &s, &num, &spi));
}

static struct sockaddr_storage ss4(const char *a)
{
	struct sockaddr_storage ss = { .ss_family = AF_INET };

	inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr);
	return ss;
}

TEST(conn_and_identity)
{
	struct ike_conn_conf c = { .local = ss4("192.0.2.2"), .remote = ss4("192.0.2.1") };
	struct sockaddr_storage me = ss4("192.0.2.2"), peer = ss4("192.0.2.1");
	struct sockaddr_storage stranger = ss4("192.0.2.9");
	uint8_t ipid[8] = { ID_IPV4_ADDR, 0, 0, 0, 192, 0, 2, 1 };
	uint8_t fqdn[4 + 11] = { ID_FQDN, 0, 0, 0, 'c', 'l', 'i', 'e', 'n', 't', '.', 't', 'e', 's', 't' };
	struct ike_pl id = { .type = PL_IDI, .data = ipid, .len = sizeof(ipid) };

	EXPECT_TRUE(ike_conn_accepts(&c, &me, &peer));
	EXPECT_FALSE(ike_conn_accepts(&c, &me, &stranger));
	c.remote_any = true;
	EXPECT_TRUE(ike_conn_accepts(&c, &me, &stranger));
	EXPECT_FALSE(ike_conn_accepts(&c, &peer, &stranger));	/* not our address */
	c.initiator = true;
	EXPECT_FALSE(ike_conn_accepts(&c, &me, &peer));
	c.initiator = false;

	/* without remote-id the peer names itself by its address */
	EXPECT_TRUE(ike_id_matches(&c, &id, &peer));
	EXPECT_FALSE(ike_id_matches(&c, &id, &stranger));
	c.remote_id_type = ID_FQDN;
	memcpy(c.remote_id, "client.test", 11);
	c.remote_id_len = 11;
	EXPECT_FALSE(ike_id_matches(&c, &id, &peer));
	id.data = fqdn;
	id.len = sizeof(fqdn);
	EXPECT_TRUE(ike_id_matches(&c, &id, &stranger));
	fqdn[14] = 'x';
	EXPECT_FALSE(ike_id_matches(&c, &id, &peer));
}

/* one conn for many clients: remote-id = %any, or a pattern */
TEST(identity_patterns)
{
	struct ike_conf conf;
	const struct ike_conn_conf *c;
	struct sockaddr_storage peer = ss4("192.0.2.1");
	uint8_t mail[4 + 17] = { ID_RFC822_ADDR, 0, 0, 0 }, host[4 + 14] = { ID_FQDN, 0, 0, 0 };
	uint8_t ipid[8] = { ID_IPV4_ADDR, 0, 0, 0, 192, 0, 2, 1 };
	struct ike_pl m = { .type = PL_IDI, .data = mail, .len = sizeof(mail) };
	struct ike_pl h = { .type = PL_IDI, .data = host, .len = sizeof(host) };
	struct ike_pl ip = { .type = PL_IDI, .data = ipid, .len = sizeof(ipid) };

	memcpy(mail + 4, "alice@example.org", 17);
	memcpy(host + 4, "a.example.org.", 14);
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\n"
			       "remote-id = *@example.org\n", &conf));
	c = &conf.conns[0];
	EXPECT_TRUE(c->remote_id_glob);
	EXPECT_TRUE(ike_id_matches(c, &m, &peer));
	mail[4 + 16] = 'x';			/* alice@example.orx */
	EXPECT_FALSE(ike_id_matches(c, &m, &peer));
	mail[4 + 16] = 'g';
	EXPECT_FALSE(ike_id_matches(c, &h, &peer));	/* an FQDN, not an address */
	EXPECT_FALSE(ike_id_matches(c, &ip, &peer));
	mail[4 + 3] = 0;			/* a NUL inside is no text ID */
	EXPECT_FALSE(ike_id_matches(c, &m, &peer));
	mail[4 + 3] = 'c';
	ike_conf_free(&conf);
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\n"
			       "remote-id = @*.example.org\n", &conf));
	EXPECT_FALSE(ike_id_matches(&conf.conns[0], &h, &peer));	/* the trailing dot */
	host[4 + 13] = 'x';
	memcpy(host + 4 + 10, "org", 3);
	host[4 + 13] = 0;
	h.len--;
	EXPECT_TRUE(ike_id_matches(&conf.conns[0], &h, &peer));
	EXPECT_FALSE(ike_id_matches(&conf.conns[0], &m, &peer));
	ike_conf_free(&conf);
	ASSERT_EQ(0, load_conf("local-ts = 10.1.0.0/16\npool = 10.3.0.0/24\n"
			       "remote-id = %any\n", &conf));
	EXPECT_TRUE(conf.conns[0].remote_id_any);
	EXPECT_TRUE(ike_id_matches(&conf.conns[0], &m, &peer));
	EXPECT_TRUE(ike_id_matches(&conf.conns[0], &ip, &peer));
	ike_conf_free(&conf);
}

/* ---- certificates and signatures (ike_cert.c, ike_sig.c) ---- */

static EVP_PKEY *new_key(const char *kind)
{
	if (!strcmp(kind, "rsa"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!strcmp(kind, "ed25519"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
}

/* a certificate for @subject ("CN=..."), with @san ("DNS:x", or NULL), valid
 * from @from to @to seconds from now, signed by @ca (NULL: self-signed) */
static X509 *new_cert(EVP_PKEY *key, const char *cn, const char *san, long from, long to,
		      X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	static long serial = 1;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"esptcp unit", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, ca ? ca : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "CA:FALSE" : "CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (san) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, ca_key ? ca_key : key, EVP_PKEY_get_base_id(ca_key ? ca_key : key) ==
		  EVP_PKEY_ED25519 ? NULL : EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	if (x)
		PEM_write_X509(f, x);
	if (k)
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, 0600);
}

static struct ike_bytes der_of(X509 *x, unsigned char **buf)
{
	int n;

	*buf = NULL;
	n = i2d_X509(x, buf);
	return IKE_BYTES(*buf, n > 0 ? (size_t)n : 0);
}

TEST(signatures)
{
	static const char *const kinds[] = { "rsa", "P-256", "P-384", "P-521", "ed25519" };
	static const uint8_t oct[] = "RealMessage | Nonce | prf(SK_p, ID')";
	const char *why;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY *k = new_key(kinds[i]), *other = new_key(kinds[i]);

		ASSERT_NE(NULL, k);
		for (int rfc7427 = 1; rfc7427 >= 0; rfc7427--) {
			struct ike_buf b;
			int rc;

			ike_buf_init(&b);
			rc = ike_sig_sign(k, rfc7427 ? SIGHASH_OURS : 0,
					  IKE_BYTES(oct, sizeof(oct)), &b, &why);
			if (!rfc7427 && !strcmp(kinds[i], "ed25519")) {
				/* Ed25519 has no method but RFC 7427's */
				EXPECT_EQ(-ENOTSUP, rc);
				ike_buf_free(&b);
				continue;
			}
			ASSERT_EQ(0, rc) TH_LOG("%s %d: %s", kinds[i], rfc7427, why);
			EXPECT_EQ(rfc7427 ? AUTH_DIGITAL_SIGNATURE :
				  !strcmp(kinds[i], "rsa") ? AUTH_RSA_SIG :
				  !strcmp(kinds[i], "P-256") ? AUTH_ECDSA_256 :
				  !strcmp(kinds[i], "P-384") ? AUTH_ECDSA_384 : AUTH_ECDSA_521,
				  b.p[0]);
			EXPECT_EQ(0, ike_sig_verify(k, b.p, b.len, IKE_BYTES(oct, sizeof(oct)),
						    &why)) TH_LOG("%s %d: %s", kinds[i], rfc7427, why);
			/* another key, other octets, a flipped bit: refused */
			EXPECT_NE(0, ike_sig_verify(other, b.p, b.len, IKE_BYTES(oct, sizeof(oct)),
						    &why));
			EXPECT_NE(0, ike_sig_verify(k, b.p, b.len,
						    IKE_BYTES(oct, sizeof(oct) - 1), &why));
			b.p[b.len - 1] ^= 1;
			EXPECT_NE(0, ike_sig_verify(k, b.p, b.len, IKE_BYTES(oct, sizeof(oct)),
						    &why));
			/* cut anywhere: refused, never read past the end */
			for (size_t cut = 0; cut < b.len; cut += 7)
				EXPECT_NE(0, ike_sig_verify(k, b.p, cut,
							    IKE_BYTES(oct, sizeof(oct)), &why));
			ike_buf_free(&b);
		}
		/* a peer that takes only "Identity": legacy methods for RSA and ECDSA */
		if (strcmp(kinds[i], "ed25519")) {
			struct ike_buf b;

			ike_buf_init(&b);
			EXPECT_EQ(0, ike_sig_sign(k, SIGHASH_BIT(SIGHASH_IDENTITY),
						  IKE_BYTES(oct, sizeof(oct)), &b, &why));
			EXPECT_NE(AUTH_DIGITAL_SIGNATURE, b.p[0]);
			ike_buf_free(&b);
		}
		EVP_PKEY_free(k);
		EVP_PKEY_free(other);
	}
}

TEST(peer_certificates)
{
	EVP_PKEY *cak = new_key("P-256"), *roguek = new_key("P-256"), *k = new_key("rsa");
	EVP_PKEY *smallk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024), *pub;
	X509 *ca = new_cert(cak, "unit CA", NULL, 0, 3600, NULL, NULL);
	X509 *rogue = new_cert(roguek, "unit CA", NULL, 0, 3600, NULL, NULL);
	X509 *good = new_cert(k, "client", "DNS:client.test, email:c@test, IP:192.0.2.7", 0,
			      3600, ca, cak);
	X509 *old = new_cert(k, "client", "DNS:client.test", -7200, -3600, ca, cak);
	X509 *unknown = new_cert(k, "client", "DNS:client.test", 0, 3600, rogue, roguek);
	X509 *small = new_cert(smallk, "client", "DNS:client.test", 0, 3600, ca, cak);
	char dir[] = "/tmp/ike_unit_ca.XXXXXX", path[64], why[256];
	uint8_t dn[256], ip[4] = { 192, 0, 2, 7 }, ip16[16] = { 192, 0, 2, 7 }, subj[255];
	size_t sublen;
	struct ike_creds *cr;
	unsigned char *b1, *b2, *b3, *b4;
	struct ike_bytes d_good = der_of(good, &b1), d_old = der_of(old, &b2);
	struct ike_bytes d_unknown = der_of(unknown, &b3), d_small = der_of(small, &b4);
	size_t dnlen, rlen;
	const uint8_t *req;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	write_pem(path, ca, NULL);
	ASSERT_EQ(0, ike_creds_load(&cr, NULL, NULL, dir, NULL, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_TRUE(ike_creds_has_ca(cr));
	req = ike_creds_certreq(cr, &rlen);
	EXPECT_EQ(20u, rlen);
	ASSERT_NE(NULL, req);
	if (req) {
		/* RFC 7296 3.7: SHA-1 of the anchor's whole SubjectPublicKeyInfo */
		unsigned char *spki = NULL, md[20];
		int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca), &spki);

		EVP_Digest(spki, (size_t)n, md, NULL, EVP_sha1(), NULL);
		EXPECT_EQ(0, memcmp(md, req, 20));
		OPENSSL_free(spki);
	}
#define VERIFY(d, type, id, len) \
	ike_creds_verify_peer(cr, &(d), 1, type, (const uint8_t *)(id), len, &pub, subj, &sublen, \
			      why, sizeof(why))
	ASSERT_EQ(0, VERIFY(d_good, ID_FQDN, "client.test", 11)) TH_LOG("%s", why);
	EVP_PKEY_free(pub);
	EXPECT_EQ(0, VERIFY(d_good, ID_FQDN, "CLIENT.test", 11));
	EVP_PKEY_free(pub);
	EXPECT_EQ(0, VERIFY(d_good, ID_RFC822_ADDR, "c@test", 6));
	EVP_PKEY_free(pub);
	EXPECT_EQ(0, VERIFY(d_good, ID_IPV4_ADDR, ip, 4));
	EVP_PKEY_free(pub);
	ASSERT_EQ(0, ike_dn_parse("O=esptcp unit, CN=client", dn, sizeof(dn), &dnlen));
	EXPECT_EQ(0, VERIFY(d_good, ID_DER_ASN1_DN, dn, dnlen));
	EVP_PKEY_free(pub);
	/* a DN X.509 deems equal (case, spaces) is kept as the certificate's own */
	ASSERT_EQ(0, ike_dn_parse("o=ESPTCP UNIT, cn=Client", dn, sizeof(dn), &dnlen));
	ASSERT_EQ(0, VERIFY(d_good, ID_DER_ASN1_DN, dn, dnlen));
	EVP_PKEY_free(pub);
	{
		unsigned char *own = NULL;
		int n = i2d_X509_NAME(X509_get_subject_name(good), &own);

		EXPECT_EQ((size_t)n, sublen);
		EXPECT_EQ(0, memcmp(own, subj, sublen));
		OPENSSL_free(own);
	}
	/* a suffix is not a name: ".test" is no SAN of client.test's */
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_FQDN, ".test", 5));
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_FQDN, "client.test.", 12));
	/* an IPv4 ID is four bytes */
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_IPV4_ADDR, ip16, 16));
	/* an identity the certificate does not carry (the CN is not an FQDN) */
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_FQDN, "other.test", 10));
	EXPECT_NE(NULL, strstr(why, "identity"));
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_FQDN, "client", 6));
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_FQDN, "client.test\0x", 13));
	ASSERT_EQ(0, ike_dn_parse("O=esptcp unit, CN=other", dn, sizeof(dn), &dnlen));
	EXPECT_EQ(-EPERM, VERIFY(d_good, ID_DER_ASN1_DN, dn, dnlen));
	/* expired, an unknown issuer (same name, other key), a weak key */
	EXPECT_EQ(-EPERM, VERIFY(d_old, ID_FQDN, "client.test", 11));
	EXPECT_NE(NULL, strstr(why, "expired")) TH_LOG("%s", why);
	EXPECT_EQ(-EPERM, VERIFY(d_unknown, ID_FQDN, "client.test", 11));
	TH_LOG("unknown issuer: %s", why);
	EXPECT_EQ(-EPERM, VERIFY(d_small, ID_FQDN, "client.test", 11));
	TH_LOG("1024-bit RSA: %s", why);
	{
		EVP_PKEY *k192 = new_key("secp256k1");
		X509 *sha1 = new_cert(k, "client", "DNS:client.test", 0, 3600, ca, NULL);
		X509 *weak = new_cert(k192, "client", "DNS:client.test", 0, 3600, ca, cak);
		unsigned char *b5, *b6;
		struct ike_bytes d_sha1, d_weak;

		/* re-signed by the CA with SHA-1 */
		X509_set_issuer_name(sha1, X509_get_subject_name(ca));
		X509_sign(sha1, cak, EVP_sha1());
		d_sha1 = der_of(sha1, &b5);
		d_weak = der_of(weak, &b6);
		EXPECT_EQ(-EPERM, VERIFY(d_sha1, ID_FQDN, "client.test", 11));
		TH_LOG("SHA-1 signature: %s", why);
		EXPECT_EQ(-EPERM, VERIFY(d_weak, ID_FQDN, "client.test", 11));
		EXPECT_NE(NULL, strstr(why, "curve")) TH_LOG("%s", why);
		OPENSSL_free(b5);
		OPENSSL_free(b6);
		X509_free(sha1);
		X509_free(weak);
		EVP_PKEY_free(k192);
	}
	/* garbage: refused */
	d_small.len /= 2;
	EXPECT_EQ(-EPERM, VERIFY(d_small, ID_FQDN, "client.test", 11));
	EXPECT_EQ(-EPERM, ike_creds_verify_peer(cr, NULL, 0, ID_FQDN, (const uint8_t *)"x", 1,
						&pub, subj, &sublen, why, sizeof(why)));
#undef VERIFY
	ike_creds_free(cr);

	/* our side: a key others may read is refused; a key not the certificate's too */
	snprintf(path, sizeof(path), "%s/me.pem", dir);
	write_pem(path, good, NULL);
	{
		char kpath[64];

		snprintf(kpath, sizeof(kpath), "%s/me.key", dir);
		write_pem(kpath, NULL, k);
		EXPECT_EQ(0, ike_creds_load(&cr, path, kpath, NULL, NULL, why, sizeof(why)));
		EXPECT_TRUE(ike_creds_has_key(cr));
		EXPECT_EQ(1u, ike_creds_ncerts(cr));
		EXPECT_TRUE(ike_creds_id_ok(cr, ID_FQDN, (const uint8_t *)"client.test", 11));
		EXPECT_FALSE(ike_creds_id_ok(cr, ID_FQDN, (const uint8_t *)"gw.test", 7));
		ike_creds_free(cr);
		chmod(kpath, 0640);
		EXPECT_EQ(-EINVAL, ike_creds_load(&cr, path, kpath, NULL, NULL, why, sizeof(why)));
		EXPECT_NE(NULL, strstr(why, "chmod 600"));
		write_pem(kpath, NULL, cak);
		EXPECT_EQ(-EINVAL, ike_creds_load(&cr, path, kpath, NULL, NULL, why, sizeof(why)));
		unlink(kpath);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	unlink(path);
	rmdir(dir);
	OPENSSL_free(b1);
	OPENSSL_free(b2);
	OPENSSL_free(b3);
	OPENSSL_free(b4);
	X509_free(ca);
	X509_free(rogue);
	X509_free(good);
	X509_free(old);
	X509_free(unknown);
	X509_free(small);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(roguek);
	EVP_PKEY_free(k);
	EVP_PKEY_free(smallk);
}

TEST(distinguished_names)
{
	uint8_t a[256], b[256];
	size_t alen, blen;
	char text[256];
	struct ike_conf conf;

	ASSERT_EQ(0, ike_dn_parse("C=CH, O=Example Corp, CN=gw.example", a, sizeof(a), &alen));
	ASSERT_EQ(0, ike_dn_parse("C=CH,O=Example Corp,CN=gw.example", b, sizeof(b), &blen));
	EXPECT_TRUE(ike_dn_equal(a, alen, b, blen));
	ASSERT_EQ(0, ike_dn_text(a, alen, text, sizeof(text)));
	EXPECT_STREQ("C=CH,O=Example Corp,CN=gw.example", text);
	ike_id_text(ID_DER_ASN1_DN, a, alen, text, sizeof(text));
	EXPECT_STREQ("C=CH,O=Example\\x20Corp,CN=gw.example", text);
	ASSERT_EQ(0, ike_dn_parse("C=CH, O=Example Corp, CN=other", b, sizeof(b), &blen));
	EXPECT_FALSE(ike_dn_equal(a, alen, b, blen));
	EXPECT_FALSE(ike_dn_equal(a, alen - 1, b, blen));
	EXPECT_EQ(-EINVAL, ike_dn_parse("NOPE=x, CN=y", b, sizeof(b), &blen));
	EXPECT_EQ(-EINVAL, ike_dn_parse("CN", b, sizeof(b), &blen));
	EXPECT_NE(0, ike_dn_text(a, alen - 1, text, sizeof(text)));

	/* remote-id as a DN, exact and as a pattern */
	ASSERT_EQ(0, load_conf("local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\n"
			       "remote-id = C=CH, O=Example Corp, CN=gw.example\n", &conf));
	{
		struct sockaddr_storage peer = { .ss_family = AF_INET };
		uint8_t body[4 + 256] = { ID_DER_ASN1_DN };
		struct ike_pl pl = { .type = PL_IDI, .data = body, .len = 4 + alen };

		memcpy(body + 4, a, alen);
		EXPECT_TRUE(ike_id_matches(&conf.conns[0], &pl, &peer));
		memcpy(body + 4, b, blen);
		pl.len = 4 + blen;
		EXPECT_FALSE(ike_id_matches(&conf.conns[0], &pl, &peer));
		ike_conf_free(&conf);
		ASSERT_EQ(0, load_conf("local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\n"
				       "remote-id = C=CH, O=Example Corp, CN=*\n", &conf));
		EXPECT_TRUE(ike_id_matches(&conf.conns[0], &pl, &peer));
		body[0] = ID_FQDN;
		EXPECT_FALSE(ike_id_matches(&conf.conns[0], &pl, &peer));
		ike_conf_free(&conf);
	}
	/* a value with an escaped ',' cannot make '*' reach across RDNs */
	ASSERT_EQ(0, load_conf("local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\n"
			       "remote-id = *,CN=admin\n", &conf));
	{
		struct sockaddr_storage peer = { .ss_family = AF_INET };
		uint8_t body[4 + 256] = { ID_DER_ASN1_DN };
		struct ike_pl pl = { .type = PL_IDI, .data = body };
		X509_NAME *n = X509_NAME_new();
		unsigned char *p = body + 4;

		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					   (const unsigned char *)"x,O=Example,CN=admin", -1, -1, 0);
		pl.len = 4 + (size_t)i2d_X509_NAME(n, &p);
		EXPECT_FALSE(ike_id_matches(&conf.conns[0], &pl, &peer));
		X509_NAME_free(n);
		n = X509_NAME_new();
		p = body + 4;
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"x", -1, -1, 0);
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"admin", -1,
					   -1, 0);
		pl.len = 4 + (size_t)i2d_X509_NAME(n, &p);
		EXPECT_TRUE(ike_id_matches(&conf.conns[0], &pl, &peer));
		X509_NAME_free(n);
		ike_conf_free(&conf);
	}
	/* auth = pubkey without its files: refused, saying what is missing */
	EXPECT_NE(0, load_conf("local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\nauth = pubkey\n",
			       &conf));
}

/* ---- EAP-MSCHAPv2 (ike_mschap.c) and the users file (ike_users.c) ---- */

static void unhex_into(const char *hex, uint8_t *out)
{
	for (size_t i = 0; hex[2 * i]; i++) {
		unsigned int x;

		sscanf(hex + 2 * i, "%2x", &x);
		out[i] = (uint8_t)x;
	}
}

/* RFC 2759 9.2 and RFC 3079 3.5.3 */
TEST(mschapv2_vectors)
{
	uint8_t auth[16], peer[16], nt[16], want[24], resp[24], msk[64], send[16];
	char s[43];

	unhex_into("5B5D7C7D7B3F2F3E3C2C602132262628", auth);
	unhex_into("21402324255E262A28295F2B3A337C7E", peer);
	ASSERT_EQ(0, ike_mschap_nt_hash("clientPass", nt));
	unhex_into("44EBBA8D5312B8D611474411F56989AE", want);
	EXPECT_EQ(0, memcmp(nt, want, 16));
	ASSERT_EQ(0, ike_mschap_nt_response(nt, auth, peer, "User", resp));
	unhex_into("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF", want);
	EXPECT_EQ(0, memcmp(resp, want, 24));
	/* a "DOMAIN\" before the name is not hashed */
	ASSERT_EQ(0, ike_mschap_nt_response(nt, auth, peer, "CORP\\User", resp));
	EXPECT_EQ(0, memcmp(resp, want, 24));
	ASSERT_EQ(0, ike_mschap_auth_response(nt, resp, peer, auth, "User", s));
	EXPECT_STREQ("S=407A5589115FD0D6209F510FE9C04566932CDA56", s);
	ASSERT_EQ(0, ike_mschap_msk(nt, resp, msk));
	/* the server's send key (RFC 3079's SendStartKey128) is the second */
	unhex_into("8B7CDC149B993A1BA118CB153F56DCCB", send);
	EXPECT_EQ(0, memcmp(msk + 16, send, 16));
	for (int i = 32; i < 64; i++)
		EXPECT_EQ(0, msk[i]);
}

TEST(users_file)
{
	char path[] = "/tmp/ike_unit_users.XXXXXX", why[256];
	struct ike_users *u;
	uint8_t h[16], want[16];
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_LE(0, fd);
	f = fdopen(fd, "w");
	fprintf(f, "# users\nalice password=\"clientPass\" groups=testgrp,admins\n"
		"bob nthash=44ebba8d5312b8d611474411f56989ae\n"
		"  carol password=\"with # and spaces\" groups=other  # a comment\n");
	fclose(f);
	chmod(path, 0600);
	ASSERT_EQ(0, ike_users_load(path, &u, why, sizeof(why))) TH_LOG("%s", why);
	unhex_into("44EBBA8D5312B8D611474411F56989AE", want);
	ASSERT_TRUE(ike_users_get(u, "alice", h));
	EXPECT_EQ(0, memcmp(h, want, 16));
	ASSERT_TRUE(ike_users_get(u, "bob", h));
	EXPECT_EQ(0, memcmp(h, want, 16));
	EXPECT_TRUE(ike_users_get(u, "carol", h));
	EXPECT_FALSE(ike_users_get(u, "mallory", h));
	EXPECT_TRUE(ike_users_in_group(u, "alice", "testgrp"));
	EXPECT_TRUE(ike_users_in_group(u, "alice", "admins"));
	EXPECT_FALSE(ike_users_in_group(u, "alice", "test"));
	EXPECT_FALSE(ike_users_in_group(u, "bob", "testgrp"));
	EXPECT_TRUE(ike_users_in_group(u, "carol", "other"));
	EXPECT_FALSE(ike_users_in_group(u, "mallory", "testgrp"));
	ike_users_free(u);
	/* others may read it: refused */
	chmod(path, 0644);
	EXPECT_EQ(-EINVAL, ike_users_load(path, &u, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "chmod 600"));
	/* a line without a secret, a bad hash: refused, naming the line */
	f = fopen(path, "w");
	fprintf(f, "alice groups=x\n");
	fclose(f);
	chmod(path, 0600);
	EXPECT_EQ(-EINVAL, ike_users_load(path, &u, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, ":1:"));
	f = fopen(path, "w");
	fprintf(f, "ok password=x\nbob nthash=44ebba8d5312b8d6114744\n");
	fclose(f);
	EXPECT_EQ(-EINVAL, ike_users_load(path, &u, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, ":2:"));
	unlink(path);
}

/* ---- RADIUS for EAP (ike_radius.c) ---- */

static void md5_of(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[16])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	EVP_DigestUpdate(c, a, alen);
	if (blen)
		EVP_DigestUpdate(c, b, blen);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

/* RFC 2548 2.4.2, the server's side: salt, then the key (length first) in blocks */
static size_t mppe_encrypt(const uint8_t *key, size_t klen, const char *secret,
			   const uint8_t req[16], uint8_t *out)
{
	uint8_t p[48] = { 0 }, b[16], buf[64];
	size_t n = (1 + klen + 15) / 16 * 16;

	out[0] = 0x80 | 0x12;
	out[1] = 0x34;
	p[0] = (uint8_t)klen;
	memcpy(p + 1, key, klen);
	for (size_t i = 0; i < n; i += 16) {
		size_t sl = strlen(secret);

		memcpy(buf, secret, sl);
		if (i) {
			memcpy(buf + sl, out + 2 + i - 16, 16);
			md5_of(buf, sl + 16, NULL, 0, b);
		} else {
			memcpy(buf + sl, req, 16);
			memcpy(buf + sl + 16, out, 2);
			md5_of(buf, sl + 18, NULL, 0, b);
		}
		for (int j = 0; j < 16; j++)
			out[2 + i + j] = p[i + j] ^ b[j];
	}
	return 2 + n;
}

TEST(radius_codec)
{
	static const char secret[] = "radius test secret";
	static const uint8_t eap_resp[] = { 2, 7, 0, 10, 1, 'a', 'l', 'i', 'c', 'e' };
	uint8_t req_auth[16], recv[16], send[16], mac[16], pkt[600], v[64];
	struct ike_radius_req q = { .id = 42, .user = "alice", .nas_id = "esptcp",
				    .calling = "192.0.2.1", .eap = eap_resp,
				    .eap_len = sizeof(eap_resp) };
	struct ike_radius_reply r;
	struct ike_buf b;
	size_t len = 20, ma, n;
	unsigned int ml;

	for (int i = 0; i < 16; i++) {
		req_auth[i] = (uint8_t)(i * 11);
		recv[i] = (uint8_t)(0xa0 + i);
		send[i] = (uint8_t)(0x50 + i);
	}
	memcpy(q.authenticator, req_auth, 16);
	ike_buf_init(&b);
	ASSERT_EQ(0, ike_radius_request(&b, &q, IKE_BYTES(secret, strlen(secret))));
	EXPECT_EQ(RADIUS_ACCESS_REQUEST, b.p[0]);
	EXPECT_EQ(42, b.p[1]);
	EXPECT_EQ(b.len, (size_t)(b.p[2] << 8 | b.p[3]));
	/* the Message-Authenticator (last) is HMAC-MD5 over the packet with it zeroed */
	ASSERT_EQ(80, b.p[b.len - 18]);
	memcpy(mac, b.p + b.len - 16, 16);
	memset(b.p + b.len - 16, 0, 16);
	HMAC(EVP_md5(), secret, (int)strlen(secret), b.p, b.len, v, &ml);
	EXPECT_EQ(0, memcmp(v, mac, 16));
	ike_buf_free(&b);

	/* an Access-Accept: EAP-Success, Class, the MPPE keys, a Message-Authenticator */
	pkt[0] = RADIUS_ACCESS_ACCEPT;
	pkt[1] = 42;
	pkt[len++] = 79;
	pkt[len++] = 6;
	pkt[len++] = 3;
	pkt[len++] = 7;
	pkt[len++] = 0;
	pkt[len++] = 4;
	pkt[len++] = 25;
	pkt[len++] = 9;
	memcpy(pkt + len, "testgrp", 7);
	len += 7;
	for (int k = 0; k < 2; k++) {
		n = mppe_encrypt(k ? send : recv, 16, secret, req_auth, v);
		pkt[len++] = 26;
		pkt[len++] = (uint8_t)(2 + 4 + 2 + n);
		pkt[len++] = 0;
		pkt[len++] = 0;
		pkt[len++] = 0x01;
		pkt[len++] = 0x37;
		pkt[len++] = k ? 16 : 17;
		pkt[len++] = (uint8_t)(2 + n);
		memcpy(pkt + len, v, n);
		len += n;
	}
	pkt[len++] = 80;
	pkt[len++] = 18;
	ma = len;
	memset(pkt + len, 0, 16);
	len += 16;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	memcpy(pkt + 4, req_auth, 16);
	HMAC(EVP_md5(), secret, (int)strlen(secret), pkt, len, pkt + ma, &ml);
	{
		uint8_t tmp[620];

		memcpy(tmp, pkt, len);
		memcpy(tmp + len, secret, strlen(secret));
		md5_of(tmp, len + strlen(secret), NULL, 0, pkt + 4);
	}
	ASSERT_EQ(0, ike_radius_reply(pkt, len, req_auth, IKE_BYTES(secret, strlen(secret)), &r));
	EXPECT_EQ(RADIUS_ACCESS_ACCEPT, r.code);
	EXPECT_EQ(4u, r.eap_len);
	EXPECT_EQ(3, r.eap[0]);
	ASSERT_EQ(1u, r.nclasses);
	EXPECT_STREQ("testgrp", r.classes[0]);
	ASSERT_EQ(16u, r.recv_len);
	ASSERT_EQ(16u, r.send_len);
	EXPECT_EQ(0, memcmp(r.recv_key, recv, 16));
	EXPECT_EQ(0, memcmp(r.send_key, send, 16));
	/* octets past the Length field are padding (RFC 2865 3) */
	memset(pkt + len, 0xee, 3);
	EXPECT_EQ(0, ike_radius_reply(pkt, len + 3, req_auth, IKE_BYTES(secret, strlen(secret)),
				      &r));
	/* a reply without Message-Authenticator is refused, even one without EAP */
	{
		uint8_t rej[20 + 16 + 64] = { RADIUS_ACCESS_REJECT, 42, 0, 20 };

		memcpy(rej + 4, req_auth, 16);
		memcpy(rej + 20, secret, strlen(secret));
		md5_of(rej, 20 + strlen(secret), NULL, 0, rej + 4);
		EXPECT_EQ(-EBADMSG, ike_radius_reply(rej, 20, req_auth,
						     IKE_BYTES(secret, strlen(secret)), &r));
	}
	/* another secret, another request, a flipped byte: refused */
	EXPECT_EQ(-EBADMSG, ike_radius_reply(pkt, len, req_auth, IKE_BYTES("other", 5), &r));
	req_auth[0] ^= 1;
	EXPECT_EQ(-EBADMSG, ike_radius_reply(pkt, len, req_auth,
					     IKE_BYTES(secret, strlen(secret)), &r));
	req_auth[0] ^= 1;
	pkt[len - 20] ^= 1;
	EXPECT_EQ(-EBADMSG, ike_radius_reply(pkt, len, req_auth,
					     IKE_BYTES(secret, strlen(secret)), &r));
	/* cut anywhere: refused */
	for (size_t cut = 0; cut < len; cut += 3)
		EXPECT_EQ(-EBADMSG, ike_radius_reply(pkt, cut, req_auth,
						     IKE_BYTES(secret, strlen(secret)), &r));
}

/* EAP needs a gateway that proves itself with its key (RFC 7296 2.16) */
TEST(eap_conf)
{
	char path[] = "/tmp/ike_unit_users.XXXXXX", lines[512];
	struct ike_conf conf;
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	ASSERT_EQ(22, write(fd, "alice password=\"x1\"\n\n", 22));
	close(fd);
	chmod(path, 0600);
	/* a PSK gateway with EAP clients: refused */
	snprintf(lines, sizeof(lines), "local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\n"
		 "remote-auth = eap\nusers = %s\n", path);
	EXPECT_NE(0, load_conf(lines, &conf));
	/* the same with the PSK for the clients' side only: loads (the check is EAP's) */
	snprintf(lines, sizeof(lines), "local-ts = 10.0.0.0/8\nremote-ts = 10.0.0.0/8\n"
		 "users = %s\n", path);
	EXPECT_EQ(0, load_conf(lines, &conf));
	ike_conf_free(&conf);
	unlink(path);
}

/* ---- the SAs' timer heap (ike_timer.c) ---- */

struct utimer {
	struct ike_timer t;
	uint64_t when;		/* what next() says after a visit */
	unsigned int visits;
	uint64_t last_pass;
};

#define NTIMERS 10000
static struct utimer *ut;
static struct ike_timers uth;
static uint64_t ut_last_due;
static bool ut_order_ok;
/* what a visit does besides counting: delete, touch or add a timer */
static struct utimer *ut_del_self, *ut_del_other, *ut_touch_self, *ut_add, *ut_ask;

static void ut_visit(struct ike_timer *t)
{
	struct utimer *u = ike_timer_owner(t, struct utimer, t);

	if (t->due < ut_last_due)
		ut_order_ok = false;
	ut_last_due = t->due;
	if (u->last_pass == uth.pass)
		ut_order_ok = false;	/* twice in one pass */
	u->last_pass = uth.pass;
	u->visits++;
	if (u == ut_del_self) {
		if (ut_del_other)
			ike_timer_del(&uth, &ut_del_other->t);
		ike_timer_del(&uth, t);
	}
	if (u == ut_touch_self)
		ike_timer_touch(&uth, t);
	if (u == ut_ask)
		ike_timer_lower(&uth, t, uth.now + 10);
	if (ut_add && u != ut_add && ut_add->t.idx == IKE_TIMER_OUT)
		ike_timer_add(&uth, &ut_add->t, 0);
}

static uint64_t ut_next(const struct ike_timer *t)
{
	return ike_timer_owner(t, const struct utimer, t)->when;
}

/* the heap's order holds: every parent due no later than its children */
static bool ut_heap_ok(void)
{
	for (uint32_t i = 1; i < uth.n; i++)
		if (uth.heap[(i - 1) / 2]->due > uth.heap[i]->due || uth.heap[i]->idx != i)
			return false;
	return true;
}

static unsigned int ut_pass(uint64_t now)
{
	uint64_t before = uth.visits;

	ut_last_due = 0;
	ut_order_ok = true;
	ike_timers_run(&uth, now, ut_visit, ut_next);
	return (unsigned int)(uth.visits - before);
}

/*
 * 10,000 SAs' timers: a pass visits the due ones only, earliest first,
 * each once, and puts them back at the time their owner says; a touch is
 * visited at the next pass; a visit may delete itself or another, touch
 * itself, or add one.
 */
/*
 * The intrusive hash table through 10,000 entries, half of them taken out
 * again, with hashes that share a bucket on purpose: each is found in its
 * bucket, the ones taken out are not, and the count follows.
 */
struct htab_item {
	struct ike_hnode node;
	uint32_t key;
};

static struct htab_item *htab_find(struct ike_htab *t, struct htab_item *v, uint32_t key)
{
	struct ike_hnode *e;
	uint64_t h = key % 7 == 0 ? 42 : (uint64_t)key * 0x9e3779b97f4a7c15ull;

	(void)v;
	ike_htab_for_each(e, t, h) {
		struct htab_item *it = ike_hnode_owner(e, struct htab_item, node);

		if (it->key == key)
			return it;
	}
	return NULL;
}

TEST(htab)
{
	static struct htab_item v[10000];
	struct ike_htab t = { 0 };

	EXPECT_EQ(NULL, ike_htab_first(&t, 1));
	for (uint32_t i = 0; i < 10000; i++) {
		uint64_t h = i % 7 == 0 ? 42 : (uint64_t)i * 0x9e3779b97f4a7c15ull;

		v[i].key = i;
		ASSERT_EQ(0, ike_htab_add(&t, &v[i].node, h));
	}
	EXPECT_EQ(10000u, t.n);
	EXPECT_LE(10000u, t.nb);
	for (uint32_t i = 0; i < 10000; i += 2)
		ike_htab_del(&t, &v[i].node);
	/* twice is once */
	ike_htab_del(&t, &v[0].node);
	EXPECT_EQ(5000u, t.n);
	for (uint32_t i = 0; i < 10000; i++) {
		struct htab_item *want = i % 2 ? &v[i] : NULL;

		ASSERT_EQ(want, htab_find(&t, v, i));
	}
	ike_htab_free(&t);
	EXPECT_EQ(0u, t.n);
}

/*
 * The keyed bucket hash, SipHash and its fallback where SIPHASH is not
 * offered (HMAC-SHA-256): the same input the same value, 1,000 inputs that
 * differ in one bit spread over 1,024 buckets, and another key another value.
 */
TEST(keyed_hash)
{
	static const char *const macs[] = { "SIPHASH", "HMAC" };

	for (size_t m = 0; m < 2; m++) {
		struct ike_sip *a = ike_sip_new_mac(macs[m]), *b = ike_sip_new_mac(macs[m]);
		static uint8_t seen[1024];
		unsigned int used = 0;
		uint32_t x = 7;

		if (!a && m == 0) {
			TH_LOG("no SIPHASH from the providers here: the fallback alone");
			ike_sip_free(b);
			continue;
		}
		ASSERT_NE(NULL, a);
		ASSERT_NE(NULL, b);
		EXPECT_EQ(ike_sip(a, &x, sizeof(x)), ike_sip(a, &x, sizeof(x)));
		EXPECT_NE(ike_sip(a, &x, sizeof(x)), ike_sip(b, &x, sizeof(x)));
		memset(seen, 0, sizeof(seen));
		for (x = 0; x < 1000; x++) {
			uint32_t k = x << 8;	/* the low byte the same for all */

			seen[ike_sip(a, &k, sizeof(k)) & 1023] = 1;
		}
		for (size_t i = 0; i < sizeof(seen); i++)
			used += seen[i];
		TH_LOG("%s: 1,000 keys in %u of 1,024 buckets", macs[m], used);
		EXPECT_LE(550u, used);	/* uniform: ~635 */
		ike_sip_free(a);
		ike_sip_free(b);
	}
}

TEST(timer_heap)
{
	unsigned int due = 0, i;

	ut = calloc(NTIMERS + 1, sizeof(*ut));
	ASSERT_NE(NULL, ut);
	srandom(7);
	for (i = 0; i < NTIMERS; i++) {
		ut[i].t.idx = IKE_TIMER_OUT;
		/* half due by 500 s, half after 1,000 s: the passes between see none */
		ASSERT_EQ(0, ike_timer_add(&uth, &ut[i].t, (i % 2 ? 1000 : 1000000) +
					   (uint64_t)(random() % 499000)));
		ut[i].when = UINT64_MAX;
	}
	ASSERT_TRUE(ut_heap_ok());
	/* nothing due: no visit at all */
	EXPECT_EQ(0, ut_pass(999));
	EXPECT_EQ(0, ut_pass(999));
	for (i = 0; i < NTIMERS; i++)
		due += ut[i].t.due <= 500000;
	/* the due ones, once each, in order; back at "never" */
	EXPECT_EQ(due, ut_pass(500000));
	EXPECT_TRUE(ut_order_ok);
	EXPECT_TRUE(ut_heap_ok());
	for (i = 0; i < NTIMERS; i++)
		if (ut[i].visits != (ut[i].t.due == UINT64_MAX))
			break;
	EXPECT_EQ(NTIMERS, i);
	EXPECT_EQ(0, ut_pass(500001));
	/* a touch: visited at the next pass, once */
	ike_timer_touch(&uth, &ut[5].t);
	ike_timer_touch(&uth, &ut[6].t);
	ut[6].when = 600000;
	EXPECT_EQ(2, ut_pass(500002));
	EXPECT_EQ(600000, ut[6].t.due);
	/* lowered: visited by then */
	ike_timer_lower(&uth, &ut[6].t, 510000);
	EXPECT_EQ(0, ut_pass(509999));
	EXPECT_EQ(1, ut_pass(510000));
	/* a visit touching itself is not visited again in its pass */
	ut_touch_self = &ut[6];
	ut[6].when = 0;		/* what a busy SA's owner would say: at once */
	ike_timer_touch(&uth, &ut[6].t);
	EXPECT_EQ(1, ut_pass(520000));
	EXPECT_TRUE(ut_order_ok);
	EXPECT_EQ(520001, ut[6].t.due);
	/* ... nor does it change the time its owner gives after it */
	ut[6].when = 525000;
	EXPECT_EQ(1, ut_pass(520001));
	EXPECT_EQ(525000, ut[6].t.due);
	ut_touch_self = NULL;
	/* a visit asking to be woken sooner than its owner's time gets it */
	ut_ask = &ut[6];
	ut[6].when = 600000;
	EXPECT_EQ(1, ut_pass(525000));
	EXPECT_EQ(525010, ut[6].t.due);
	ut_ask = NULL;
	/* asked once: the next visit goes back to its owner's time */
	EXPECT_EQ(1, ut_pass(525010));
	EXPECT_EQ(600000, ut[6].t.due);
	ut[6].when = UINT64_MAX;
	ike_timer_set(&uth, &ut[6].t, UINT64_MAX);
	/* deleting itself and another due one in a visit: neither is visited after */
	ut_del_self = &ut[7];
	ut_del_other = &ut[8];
	ike_timer_set(&uth, &ut[7].t, 1);
	ike_timer_set(&uth, &ut[8].t, 2);
	ike_timer_touch(&uth, &ut[9].t);
	ut[7].visits = ut[8].visits = ut[9].visits = 0;
	EXPECT_EQ(2, ut_pass(530000));
	EXPECT_EQ(1, ut[7].visits);
	EXPECT_EQ(0, ut[8].visits);
	EXPECT_EQ(1, ut[9].visits);
	EXPECT_EQ(IKE_TIMER_OUT, ut[7].t.idx);
	EXPECT_EQ(IKE_TIMER_OUT, ut[8].t.idx);
	EXPECT_EQ(NTIMERS - 2, uth.n);
	EXPECT_TRUE(ut_heap_ok());
	ut_del_self = ut_del_other = NULL;
	/* one added at 0 during a pass is visited in it */
	ut_add = &ut[NTIMERS];
	ut_add->t.idx = IKE_TIMER_OUT;
	ut_add->when = UINT64_MAX;
	ike_timer_touch(&uth, &ut[10].t);
	EXPECT_EQ(2, ut_pass(540000));
	EXPECT_EQ(1, ut_add->visits);
	ut_add = NULL;
	/* the rest, all at once: each visited once, and nothing due after */
	due = 0;
	for (i = 0; i < uth.n; i++)
		due += uth.heap[i]->due != UINT64_MAX;
	EXPECT_LT(NTIMERS / 4, due);
	EXPECT_EQ(due, ut_pass(UINT64_MAX - 1));
	EXPECT_TRUE(ut_order_ok);
	EXPECT_EQ(UINT64_MAX, ike_timers_next(&uth));
	EXPECT_TRUE(ut_heap_ok());
	ike_timers_free(&uth);
	free(ut);
}

TEST_HARNESS_MAIN
