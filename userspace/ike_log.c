// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKE helper's log lines, and the rate limit for those
 * that bad input causes.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ike_sa.h"

void ike_log(struct ike_sa *sa, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "esptcp[%s] %016llx: ", sa->conf ? sa->conf->name : "?",
		(unsigned long long)(sa->initiator ? sa->spi_i : sa->spi_r));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* bad input is logged at most 10 times in 10 seconds; counters see all of it */
bool ike_log_bad(struct ike_daemon *d)
{
	if (d->now - d->log_window >= 10000) {
		d->log_window = d->now;
		d->log_count = 0;
	}
	return d->log_count++ < 10;
}
