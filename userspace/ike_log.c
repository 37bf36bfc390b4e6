// SPDX-License-Identifier: GPL-2.0
/*
 * esptcp tool: the IKE helper's log lines, and the rate limit for those
 * that bad input causes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <arpa/inet.h>

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

/* "10.1.0.0/16, 10.2.0.0/16[6/443]": a side's selectors, for a log line */
const char *ike_ts_set_str(const struct ike_ts_set *set, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < set->n && off < len; i++) {
		const struct ike_ts *t = &set->ts[i];
		char a[INET6_ADDRSTRLEN];
		int n;

		inet_ntop(t->family, t->start, a, sizeof(a));
		n = snprintf(buf + off, len - off, "%s%s/%u", i ? ", " : "", a, ike_ts_prefix(t));
		if (n > 0 && (size_t)n < len - off && (t->proto || t->sport == t->eport)) {
			off += (size_t)n;
			n = t->sport == t->eport ?
			    snprintf(buf + off, len - off, "[%u/%u]", t->proto, t->sport) :
			    snprintf(buf + off, len - off, "[%u]", t->proto);
		}
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}
