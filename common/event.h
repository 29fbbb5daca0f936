/* event.h - the normalized event: one item of a request, mapped onto the
 * OCSF/ECS-named fields of the event table. */
#ifndef BEVIS_EVENT_H
#define BEVIS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define EVENT_ID_MAX		256
/* Accepted event time range, in microseconds since the Unix epoch. */
#define EVENT_TIME_MIN_US	0LL			/* 1970-01-01T00:00:00Z */
#define EVENT_TIME_MAX_US	4102444800000000LL	/* 2100-01-01T00:00:00Z */

struct str {
	const char *p;		/* NULL when absent; not NUL-terminated */
	size_t n;
};

struct event {
	struct str supplier;	/* dev mode only: the item's own supplier field */
	struct str id;
	int64_t occurred_us;	/* microseconds since the Unix epoch, UTC */
	int severity;		/* 0..6, or -1 when absent */
	struct str category, action, outcome, actor_user, target, message;
	int src_family;		/* 0 when absent, else 4 or 6 */
	unsigned char src_ip[16];
	int has_seq;
	int64_t seq;
	int personal_data;
	struct str attrs;	/* JSON object of the unmapped fields, or absent */
	struct json_object *root;	/* the strings above point into it */
};

/* Parses one native JSON event. On success returns 0 and the strings in ev
 * stay valid until event_clear(ev); attrs only until the next call on the
 * same thread. On failure returns -1, writes a precise
 * reason into err and leaves nothing to free. */
int event_parse_json(const unsigned char *item, size_t len, struct event *ev,
    char *err, size_t errlen) MUSTCHECK;
void event_clear(struct event *ev);
/* Frees the calling thread's parser memory; call before a thread ends. */
void event_parser_thread_done(void);

/* RFC 3339 to microseconds since the epoch. Returns -1 when s is not a valid
 * RFC 3339 date-time. Exposed for the unit tests. */
int rfc3339_parse(const char *s, size_t n, int64_t *us) MUSTCHECK;
/* Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 bytes + NUL) into out. */
void rfc3339_format(int64_t us, char out[40]);
/* Returns 0..6 for a severity name, or -1. */
int severity_from_name(const char *s, size_t n);

#endif
