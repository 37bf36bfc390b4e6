// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp: RFC 9329 frame classification - pure logic, no locking, no state.
 *
 * Every message in the stream is a 16-bit big-endian length that counts
 * itself, followed by either a 4-byte zero non-ESP marker and an IKE message,
 * a single 0xFF byte (a NAT keepalive that should never have been sent over
 * TCP, dropped silently), or an ESP packet whose first four bytes are the
 * non-zero SPI.  Lengths 0 and 1 cannot frame anything and are fatal.
 */
#include <linux/kernel.h>
#include "compat.h"

#include "esptcp.h"

/**
 * esptcp_frame_classify() - tell what one framed message is
 * @len: the value of the length field (it counts its own two bytes)
 * @body: the first bytes after the length field
 * @avail: how many bytes @body holds (at least min(len - 2, 4) is enough)
 *
 * Context: any; pure function.
 * Return: the kind of the message; %ESPTCP_FRAME_BAD for lengths 0 and 1,
 * which end the connection.
 */
enum esptcp_frame esptcp_frame_classify(unsigned int len, const u8 *body,
					unsigned int avail)
{
	unsigned int blen;

	if (len < ESPTCP_LEN_SIZE)
		return ESPTCP_FRAME_BAD;
	blen = len - ESPTCP_LEN_SIZE;
	if (blen == 1 && avail >= 1 && body[0] == 0xff)
		return ESPTCP_FRAME_KEEPALIVE;
	/* a marker alone, or anything too short for an SPI plus data */
	if (blen <= ESPTCP_MARKER_SIZE || avail < ESPTCP_MARKER_SIZE)
		return ESPTCP_FRAME_SHORT;
	if (get_unaligned_be32(body) == 0)
		return ESPTCP_FRAME_IKE;
	return ESPTCP_FRAME_ESP;
}

/**
 * esptcp_frame_len() - read the length field at the start of a message
 * @hdr: the two bytes of the length field
 *
 * Context: any; pure function.
 * Return: the message length including the field itself.
 */
unsigned int esptcp_frame_len(const u8 *hdr)
{
	return get_unaligned_be16(hdr);
}

#ifdef ESPTCP_SELFTEST_BUILD
struct esptcp_frame_vec {
	unsigned int len;
	u8 body[6];
	unsigned int avail;
	enum esptcp_frame want;
};

static const struct esptcp_frame_vec esptcp_frame_vecs[] = {
	{ 0, {}, 0, ESPTCP_FRAME_BAD },
	{ 1, {}, 0, ESPTCP_FRAME_BAD },
	{ 2, {}, 0, ESPTCP_FRAME_SHORT },		/* empty body */
	{ 3, { 0xff }, 1, ESPTCP_FRAME_KEEPALIVE },
	{ 3, { 0x00 }, 1, ESPTCP_FRAME_SHORT },		/* 1 byte, not 0xff */
	{ 6, { 0, 0, 0, 0 }, 4, ESPTCP_FRAME_SHORT },	/* marker only */
	{ 6, { 0, 0, 0, 1 }, 4, ESPTCP_FRAME_SHORT },	/* SPI only */
	{ 7, { 0, 0, 0, 0, 0x20 }, 5, ESPTCP_FRAME_IKE },
	{ 7, { 0, 0, 1, 0, 0x20 }, 5, ESPTCP_FRAME_ESP },
	{ 65535, { 0xde, 0xad, 0xbe, 0xef }, 4, ESPTCP_FRAME_ESP },
	{ 65535, { 0, 0, 0, 0 }, 4, ESPTCP_FRAME_IKE },
	{ 100, { 0, 0 }, 2, ESPTCP_FRAME_SHORT },	/* not enough read yet */
};

/**
 * esptcp_frame_selftest() - check the classifier against known messages
 *
 * Context: process, module init.
 * Return: true when every vector classifies as expected.
 */
bool esptcp_frame_selftest(void)
{
	static const u8 hdr[] = { 0x12, 0x34 };
	bool ok = true;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(esptcp_frame_vecs); i++) {
		const struct esptcp_frame_vec *v = &esptcp_frame_vecs[i];
		enum esptcp_frame got;

		got = esptcp_frame_classify(v->len, v->body, v->avail);
		if (got != v->want) {
			pr_err("esptcp: frame selftest %u: len %u gave %d, want %d\n",
			       i + 1, v->len, got, v->want);
			ok = false;
		}
	}
	if (esptcp_frame_len(hdr) != 0x1234) {
		pr_err("esptcp: frame selftest: length field not big-endian\n");
		ok = false;
	}
	if (ok)
		pr_info("esptcp: frame selftest: pass\n");
	return ok;
}
#endif
