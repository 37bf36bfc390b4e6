// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the IKE helper's crypto and wire format, on
 * kselftest_harness.h: known-answer tests for the PRF (RFC 4231), key
 * agreement in each group, SK payload round trips that must fail when a
 * byte changes, and parser refusals.  Built from the userspace sources.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "../userspace/ike.h"

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
	const uint16_t groups[] = { DH_MODP_2048, DH_ECP_256, DH_CURVE25519 };

	for (size_t i = 0; i < 3; i++) {
		struct ike_dh *a = ike_dh_new(groups[i]), *b = ike_dh_new(groups[i]);
		uint8_t pa[256], pb[256], sa[256], sb[256], zero[256] = { 0 };
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
		ike_dh_free(a);
		ike_dh_free(b);
	}
}

static void seal_open(struct __test_metadata *_metadata, const char *suite)
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
	ike_put8(&b, PL_NONCE);
	ike_put8(&b, 0);
	ike_put16(&b, 0);
	/* inner: one Nonce payload */
	inner[0] = 0;
	inner[1] = 0;
	inner[2] = 0;
	inner[3] = sizeof(inner);
	ASSERT_EQ(0, ike_sk_seal(&s, &k, true, &b, IKE_HDR_LEN, inner, sizeof(inner)));
	ASSERT_EQ(0, ike_parse(&m, b.p, b.len));
	ASSERT_EQ(IKE_HDR_LEN, m.sk_off);
	ASSERT_EQ(0, ike_sk_open(&s, &k, true, b.p, b.len, m.sk_off, &plain, &plen));
	ASSERT_EQ(sizeof(inner), plen);
	EXPECT_EQ(0, memcmp(plain, inner, plen));
	ASSERT_EQ(0, ike_parse_inner(&m, plain, plen));
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

TEST(sk_aes_gcm)
{
	seal_open(_metadata, "aes256gcm16-prfsha384-curve25519");
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
}

TEST_HARNESS_MAIN
