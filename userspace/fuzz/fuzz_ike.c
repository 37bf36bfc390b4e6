// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the IKE helper's parser: everything a peer can make
 * it read before and after decryption.  The input is one message; its
 * payloads are also read as an SK payload's plaintext, and each SA, TS, CP
 * and Notify payload is taken apart the way the exchanges do.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../ike.h"

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

				ike_id_format(pl->data[0], pl->data + 4, pl->len - 4, id, sizeof(id));
				ike_id_format(pl->data[0], pl->data + 4, pl->len - 4, small,
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ike_msg m;
	uint8_t *plain;
	int err;

	err = ike_parse(&m, data, size);
	if (err == 0 || err == -ENOTSUP) {
		payloads(&m);
		if (m.sk_off && size > IKE_HDR_LEN) {
			/* the bytes after the header, as if they were the plaintext */
			plain = malloc(size - IKE_HDR_LEN);
			if (plain) {
				memcpy(plain, data + IKE_HDR_LEN, size - IKE_HDR_LEN);
				m.npl = 0;
				(void)ike_parse_inner(&m, plain, size - IKE_HDR_LEN);
				payloads(&m);
			}
		}
		ike_msg_free(&m);
	}
	return 0;
}
