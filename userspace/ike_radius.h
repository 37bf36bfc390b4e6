/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: RADIUS for EAP (ike_radius.c), pure.
 */
#ifndef ESPTCP_IKE_RADIUS_H
#define ESPTCP_IKE_RADIUS_H

#include "ike.h"

#define RADIUS_ACCESS_REQUEST	1
#define RADIUS_ACCESS_ACCEPT	2
#define RADIUS_ACCESS_REJECT	3
#define RADIUS_ACCESS_CHALLENGE	11
#define RADIUS_MAX		4096	/* RFC 2865 3 */
#define RADIUS_MPPE_MAX		64
#define RADIUS_EAP_MAX		3000	/* an EAP message we relay */
#define RADIUS_CLASSES		8	/* Class attributes kept of a reply */

struct ike_radius_req {
	uint8_t id;
	uint8_t authenticator[16];
	const char *user;
	const char *nas_id;
	char calling[48];		/* the client's address, as text */
	const uint8_t *state;
	size_t state_len;
	const uint8_t *eap;
	size_t eap_len;
};

struct ike_radius_reply {
	uint8_t code, id;
	uint8_t eap[RADIUS_EAP_MAX];
	size_t eap_len;
	uint8_t state[253];
	size_t state_len;
	char classes[RADIUS_CLASSES][254];	/* every Class (text), in order */
	unsigned int nclasses;
	char filter_id[254];
	char user[254];			/* User-Name, when the server sent one */
	uint8_t recv_key[RADIUS_MPPE_MAX], send_key[RADIUS_MPPE_MAX];
	size_t recv_len, send_len;
};

int ike_radius_request(struct ike_buf *b, const struct ike_radius_req *r, struct ike_bytes secret);
int ike_radius_reply(const uint8_t *p, size_t len, const uint8_t req[16], struct ike_bytes secret,
		     struct ike_radius_reply *out);

#endif
