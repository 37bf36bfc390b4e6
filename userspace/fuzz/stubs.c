// SPDX-License-Identifier: GPL-2.0
/*
 * What the fuzz target's EAP state machines call outside the files it
 * links: the RADIUS relay, which has nothing to send to here.
 */
#include <errno.h>

#include "../ike_sa.h"

int ike_aaa_send(struct ike_sa *sa)
{
	(void)sa;
	return -EIO;
}
