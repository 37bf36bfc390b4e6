/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: the IKE helper's choices, as pure functions (ike_select.c):
 * proposals, traffic selectors, and which conn an address or an identity
 * belongs to.  No I/O and no SA state; ike_unit tests them with tables.
 */
#ifndef ESPTCP_IKE_SELECT_H
#define ESPTCP_IKE_SELECT_H

#include "ike.h"

bool ike_ts_ok(const struct ike_ts *t);
bool ike_ts_within(const struct ike_ts *t, const struct ike_ts *outer);
bool ike_ts_overlap(const struct ike_ts *a, const struct ike_ts *b);
bool ike_ts_narrow(const struct ike_ts *peer, unsigned int n, const struct ike_ts *ours,
		   struct ike_ts *out);
bool ike_ts_set_narrow(const struct ike_ts *peer, unsigned int n, const struct ike_ts_set *ours,
		       struct ike_ts_set *out);
bool ike_ts_set_within(const struct ike_ts *t, unsigned int n, const struct ike_ts_set *outer);
bool ike_ts_set_overlap(const struct ike_ts_set *a, const struct ike_ts_set *b);
bool ike_ts_set_equal(const struct ike_ts_set *a, const struct ike_ts_set *b);
bool ike_ts_set_has(const struct ike_ts_set *set, const struct ike_ts *t);
/* the Diffie-Hellman of a CHILD_SA negotiation: what ike_choose_esp() makes of groups */
enum ike_child_ke {
	CHILD_KE_IGNORE,	/* IKE_AUTH: no KE; the peer's groups are ignored */
	CHILD_KE_NONE,		/* CREATE_CHILD_SA without KE: no group at all */
	CHILD_KE_GROUP,		/* CREATE_CHILD_SA with a KE of ke_group */
};

bool ike_choose_esp(const struct ike_conn_conf *c, const struct ike_proposal *props,
		    unsigned int n, enum ike_child_ke ke, uint16_t ke_group,
		    struct ike_suite *out, uint8_t *num, uint32_t *peer_spi);
uint16_t ike_child_ke_wanted(const struct ike_conn_conf *c, const struct ike_proposal *props,
			     unsigned int n);
bool ike_conn_accepts(const struct ike_conn_conf *c, const struct sockaddr_storage *local,
		      const struct sockaddr_storage *peer);
bool ike_id_matches(const struct ike_conn_conf *c, const struct ike_pl *id,
		    const struct sockaddr_storage *peer);

#endif
