// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: INFORMATIONAL (RFC 7296 1.4): DELETE of CHILD_SAs and of the
 * IKE SA, and the empty request that checks liveness.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike_sa.h"

void ike_info_delete(struct ike_sa *sa, uint8_t proto, const uint32_t *spis, unsigned int n,
		     enum req_kind kind)
{
	struct ike_out o;

	ike_out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	ike_pl_begin(&o.c, PL_DELETE);
	ike_put8(&o.in, proto);
	ike_put8(&o.in, proto == PROTO_IKE ? 0 : 4);
	ike_put16(&o.in, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		ike_put(&o.in, &spis[i], 4);
	ike_out_request(sa, &o, kind);
}

void ike_info_request(struct ike_sa *sa, const struct ike_msg *m)
{
	uint32_t gone[16];
	unsigned int ngone = 0;
	bool ike_gone = false;
	struct ike_out o;

	for (unsigned int i = 0; i < m->npl; i++) {
		const struct ike_pl *pl = &m->pl[i];
		unsigned int count;

		if (pl->type != PL_DELETE || pl->len < 4)
			continue;
		if (pl->data[0] == PROTO_IKE) {
			ike_gone = true;
			continue;
		}
		if (pl->data[0] != PROTO_ESP || pl->data[1] != 4)
			continue;
		count = (unsigned int)(pl->data[2] << 8 | pl->data[3]);
		if (pl->len != 4 + 4 * (size_t)count)
			continue;
		for (unsigned int k = 0; k < count; k++) {
			uint32_t spi;

			memcpy(&spi, pl->data + 4 + 4 * k, 4);
			for (struct ike_child *c = sa->children; c; c = c->next) {
				if (c->spi_out != spi)
					continue;
				if (ngone < 16)
					gone[ngone++] = c->spi_in;
				ike_child_remove(sa, c, true);
				ike_child_unlink(sa, c);
				break;
			}
		}
	}
	ike_out_begin(sa, &o, INFORMATIONAL, true, m->hdr.msgid);
	if (ngone && !ike_gone) {
		ike_pl_begin(&o.c, PL_DELETE);
		ike_put8(&o.in, PROTO_ESP);
		ike_put8(&o.in, 4);
		ike_put16(&o.in, (uint16_t)ngone);
		ike_put(&o.in, gone, 4 * ngone);
	}
	if (sa->mobike && ike_find_notify(m, N_UPDATE_SA_ADDRESSES)) {
		/*
		 * RFC 4555 3.5: NAT detection for the addresses the request came
		 * from (where the SA is now), and its COOKIE2 back as it was.
		 */
		const struct ike_pl *c2 = ike_find_notify(m, N_COOKIE2);
		const uint8_t *data;
		size_t len = 0;

		ike_put_nat_notifies(sa, &o.c);
		data = c2 ? ike_notify_data(c2, &len) : NULL;
		if (data && len >= 8 && len <= 64)
			ike_pl_notify(&o.c, 0, NULL, 0, N_COOKIE2, data, len);
	}
	if (sa->mob.standby_ack) {
		/* ike_standby_offer() took the connection this came on */
		sa->mob.standby_ack = false;
		ike_pl_notify(&o.c, 0, NULL, 0, N_ESPTCP_TCP_STANDBY, NULL, 0);
	}
	sa->d->st.info_answered++;
	ike_out_respond(sa, &o);
	/*
	 * RFC 7296 2.21.2: an initiator that cannot authenticate us says so in
	 * an INFORMATIONAL after IKE_AUTH; the SA it will not use goes now (it
	 * is authenticated: it could have sent a DELETE as well).
	 */
	if (ike_find_notify(m, N_AUTHENTICATION_FAILED)) {
		sa->d->st.auth_failed++;
		ike_sa_die(sa, "the peer refused our authentication (AUTHENTICATION_FAILED)", false);
		return;
	}
	if (ike_gone) {
		if (sa->state == SA_DELETING && !sa->children) {
			ike_log(sa, "old IKE SA deleted after rekey");
			sa->state = SA_DEAD;
			ike_sa_free(sa);
		} else {
			ike_sa_die(sa, "the peer deleted the IKE SA", true);
		}
	}
}

void ike_info_response(struct ike_sa *sa, const struct ike_msg *m)
{
	enum req_kind kind = sa->req.kind;
	struct ike_child *c = sa->req.child;

	(void)m;
	sa->req.kind = REQ_NONE;
	sa->req.child = NULL;
	if (kind == REQ_DPD) {
		sa->d->st.dpd_answered++;
		ike_mob_dpd_answered(sa);
	}
	if (kind == REQ_DELETE_CHILD && c) {
		ike_child_remove(sa, c, true);
		ike_child_unlink(sa, c);
	} else if (kind == REQ_DELETE_IKE) {
		ike_log(sa, sa->state == SA_DELETING ? "old IKE SA deleted after rekey" :
			"IKE SA deleted");
		ike_children_remove(sa);
		sa->state = SA_DEAD;
		ike_sa_free(sa);
	}
}

/* an empty request: is the peer still there? */
void ike_info_dpd(struct ike_sa *sa)
{
	struct ike_out o;

	ike_out_begin(sa, &o, INFORMATIONAL, false, sa->next_req);
	sa->d->st.dpd_sent++;
	ike_out_request(sa, &o, REQ_DPD);
}
