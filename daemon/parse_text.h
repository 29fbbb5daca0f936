/* parse_text.h - what the line formats (parse_cef.c, parse_syslog.c)
 * share: the per-thread builder of attrs and warnings, the syslog header
 * that may stand before a CEF record, and the context a line needs beyond
 * its bytes (when it arrived, the zone of its supplier's clocks). */
#ifndef BEVIS_PARSE_TEXT_H
#define BEVIS_PARSE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "event.h"
#include "tzrule.h"

/* ---- context (parse_zone.c) ---- */

struct parse_ctx {
	int64_t received_us;		/* the request's receipt time */
	const struct tzrule *tz;	/* the supplier's zone */
};

/* Set before the items of a request are parsed (ingest.c); a thread that
 * never set it gets the time now and the default zone. */
void parse_ctx_set(int64_t received_us, const char *supplier);
const struct parse_ctx *parse_ctx_get(void);
/* Loads [bevisd] syslog_timezone and the [syslog_timezone] section; until
 * then every supplier is in Europe/Stockholm. -1 with a reason in err. */
int parse_zones_configure(const struct config *cfg, char *err, size_t errlen)
    MUSTCHECK;
const struct tzrule *parse_zone_for(const char *supplier);
/* A local time without a year (RFC 3164, CEF "MMM dd HH:mm:ss") in UTC µs:
 * the latest year that puts it no more than 7 days after the receipt
 * time, so that "Dec 31 23:59:59" received on 1 January is last year's
 * and "Jan  1 00:00:01" received a minute early is next year's. -1 when
 * no year up to four back has that date (29 February). */
int64_t local_time_infer_year(const struct tzrule *tz, int64_t received_us,
    int month, int day, int hour, int min, int sec, int64_t frac_us);
/* A local wall time with a year in UTC µs, in zone tz. */
int64_t local_time_to_utc(const struct tzrule *tz, int year, int month,
    int day, int hour, int min, int sec, int64_t frac_us);

/* ---- the builder ---- */

/* A value the parser decoded: an offset into tp->text, so that the buffer
 * may grow. */
struct tview {
	size_t off, n;
	int set;
};

struct textparse {
	struct buf text;	/* decoded values */
	struct buf attrs;	/* the attrs object under construction */
	struct buf keys;	/* attrs keys so far, length-prefixed */
	uint64_t key_bloom;	/* one bit per key hash: most keys are new */
	struct buf warn;	/* parse_warnings entries */
	struct tview category, action, outcome, actor_user, target, message;
	char id[65];
};

/* The calling thread's builder, emptied. */
struct textparse *tp_begin(void);
void tp_thread_done(void);
/* Appends bytes to tp->text and returns their view. */
struct tview tp_text(struct textparse *tp, const void *p, size_t n);
/* attrs[key] = the string val; a repeated key becomes "key#2", "key#3". */
void tp_attr(struct textparse *tp, const char *key, size_t klen,
    const char *val, size_t vlen);
/* attrs[key] = a JSON value given as text (a number, an object). */
void tp_attr_json(struct textparse *tp, const char *key, size_t klen,
    const char *json, size_t jlen);
/* Adds an attrs.parse_warnings entry. */
void tp_warn(struct textparse *tp, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* The SHA-256 of the raw line in hex, as the event's id. */
void tp_id_from_line(struct textparse *tp, const unsigned char *line,
    size_t n, struct sec_event *ev);
/* Closes attrs (with parse_warnings) and points ev's text fields into tp. */
void tp_finish(struct textparse *tp, struct sec_event *ev);

/* ---- the syslog header (parse_syslog.c) ---- */

struct syslog_hdr {
	int pri;			/* -1: none */
	int version;			/* 1: RFC 5424, 0: RFC 3164 */
	int has_time;
	int64_t time_us;
	size_t ts_off, ts_n;		/* the timestamp as written */
	size_t host_off, host_n;	/* n 0: none */
	size_t end;			/* where the header ends */
};

/* Reads PRI, timestamp and hostname (and for RFC 5424 app-name, procid,
 * msgid and structured data into attrs) from s[0..n). Returns 0, or -1
 * with a reason naming the byte. */
int syslog_header_parse(const unsigned char *s, size_t n,
    struct textparse *tp, struct syslog_hdr *h, char *err, size_t errlen)
    MUSTCHECK;
/* Syslog severity 0..7 onto 0..6. */
int syslog_severity_map(int sev);
/* "Mmm dd hh:mm:ss" (or "Mmm dd yyyy hh:mm:ss") at s: bytes used, or 0. */
size_t bsd_time_parse(const unsigned char *s, size_t n, int *month, int *day,
    int *year, int *hour, int *min, int *sec, int64_t *frac, int *zero_pad);

#endif
