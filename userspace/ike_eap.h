/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: EAP in IKE_AUTH (RFC 7296 2.16): the EAP-MSCHAPv2 method
 * (ike_mschap.c) and the users it checks (ike_users.c).  Pure: no SA, no
 * daemon.
 */
#ifndef ESPTCP_IKE_EAP_H
#define ESPTCP_IKE_EAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* EAP (RFC 3748) */
#define EAP_REQUEST		1
#define EAP_RESPONSE		2
#define EAP_SUCCESS		3
#define EAP_FAILURE		4
#define EAP_TYPE_IDENTITY	1
#define EAP_TYPE_NAK		3
#define EAP_TYPE_MSCHAPV2	26

/* EAP-MSCHAPv2 opcodes */
#define MSCHAPV2_CHALLENGE	1
#define MSCHAPV2_RESPONSE	2
#define MSCHAPV2_SUCCESS	3
#define MSCHAPV2_FAILURE	4

#define IKE_EAP_MSK_LEN		64
#define IKE_EAP_ID_MAX		128	/* an EAP identity we keep (bytes) */

int ike_mschap_nt_hash(const char *password, uint8_t out[16]);
int ike_mschap_nt_response(const uint8_t nt_hash[16], const uint8_t auth_chal[16],
			   const uint8_t peer_chal[16], const char *user, uint8_t out[24]);
int ike_mschap_auth_response(const uint8_t nt_hash[16], const uint8_t nt_resp[24],
			     const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			     const char *user, char out[43]);
int ike_mschap_msk(const uint8_t nt_hash[16], const uint8_t nt_resp[24], uint8_t msk[64]);

/* the users file: "NAME password=\"...\" | nthash=HEX32 [groups=G1,G2]" */
struct ike_users;

int ike_users_load(const char *path, struct ike_users **out, char *err, size_t errlen);
void ike_users_free(struct ike_users *u);
bool ike_users_get(const struct ike_users *u, const char *name, uint8_t nt_hash[16]);
bool ike_users_in_group(const struct ike_users *u, const char *name, const char *group);

#endif
