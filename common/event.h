/* event.h - the normalized event: one item of a request, mapped onto the
 * OCSF/ECS-named fields of the event table, whatever format it came in.
 * The parsers (daemon/parse_<format>.c) fill it in; the CLI shares the
 * severity names and the time format. */
#ifndef BEVIS_EVENT_H
#define BEVIS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define EVENT_ID_MAX		256
/* Accepted event time range, in microseconds since the Unix epoch. */
#define EVENT_TIME_MIN_US	0LL			/* 1970-01-01T00:00:00Z */
#define EVENT_TIME_MAX_US	4102444800000000LL	/* 2100-01-01T00:00:00Z */

/* The severity scale, OCSF's severity_id: 0..6. */
enum {
	SEVERITY_UNKNOWN = 0, SEVERITY_INFORMATIONAL, SEVERITY_LOW,
	SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL, SEVERITY_FATAL,
	SEVERITY_COUNT
};

/* Bytes borrowed from someone else's memory (the parser's): not owned, not
 * NUL-terminated. */
struct strview {
	const char *p;		/* NULL when absent */
	size_t n;
};

/* A security event, normalized. (Not libevent's struct event, which the
 * daemon's event loop uses.) */
struct sec_event {
	struct strview supplier;	/* dev mode only: the item's own supplier field */
	struct strview id;
	int64_t occurred_us;	/* microseconds since the Unix epoch, UTC */
	int severity;		/* 0..6, or -1 when absent */
	struct strview category, action, outcome, actor_user, target, message;
	int src_family;		/* 0 when absent, else 4 or 6 */
	unsigned char src_ip[16];
	int has_seq;
	int64_t seq;
	int personal_data;
	struct strview attrs;	/* JSON object of the unmapped fields, or absent */
	void *root;		/* the parser's: the strings above point into it */
};

/* RFC 3339 to microseconds since the epoch. Returns -1 when s is not a valid
 * RFC 3339 date-time. */
int rfc3339_parse(const char *s, size_t n, int64_t *us) MUSTCHECK;
/* Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 bytes + NUL) into out. */
void rfc3339_format(int64_t us, char out[40]);
/* Returns 0..6 for a severity name (any case; "info" too), or -1. */
int severity_from_name(const char *s, size_t n);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t days_from_civil(int64_t y, int m, int d);
/* The name of severity 0..6, or NULL. */
const char *severity_name(int severity);

#endif
