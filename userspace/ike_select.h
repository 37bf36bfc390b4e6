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
bool ike_choose_esp(const struct ike_conn_conf *c, const struct ike_proposal *props,
		    unsigned int n, bool with_dh, uint16_t ke_group, struct ike_suite *out,
		    uint8_t *num, uint32_t *peer_spi);
bool ike_conn_accepts(const struct ike_conn_conf *c, const struct sockaddr_storage *local,
		      const struct sockaddr_storage *peer);
bool ike_id_matches(const struct ike_conn_conf *c, const struct ike_pl *id,
		    const struct sockaddr_storage *peer);

#endif
