/* parse.h - the table of input formats. Each format lives in its own
 * parse_<format>.c and fills in one struct parser; the writer looks a
 * parser up by the request's content type and never names a format.
 *
 * Adding a format: a PROTO_CT_ constant and enum value in common/proto.h,
 * a parse_<format>.c that defines `const struct parser parser_<format>`, one
 * X(parser_<format>) line in PARSER_TABLE below, the file in the Makefile's
 * DAEMON_LIB, tests/unit/torture_parse_<format>.c, and docs/PROTOCOL.md. */
#ifndef BEVIS_PARSE_H
#define BEVIS_PARSE_H

#include <stddef.h>

#include "event.h"
#include "proto.h"
#include "report_entries.h"
#include "split.h"

struct parser {
	const char *name;		/* for logs: "json", "ndjson" */
	const char *label;		/* in reasons: "invalid JSON body" */
	enum content_type ct;
	/* Finds the items of a body, each with its exact byte range; sets
	 * sp->error when the body as a whole is unusable. */
	void (*split)(struct split *sp, const unsigned char *body, size_t len);
	/* Parses one item. On success returns 0 and ev's strings stay valid
	 * until clear(ev); on failure returns -1 with a precise reason in err
	 * and nothing to clear. */
	int (*parse)(const unsigned char *item, size_t len, struct sec_event *ev,
	    char *err, size_t errlen);
	void (*clear)(struct sec_event *ev);
	/* For a format read by a per-supplier setting (the field map of
	 * parse_jsonmap.c): parse with the sending supplier's name ("" when
	 * the request has no key). NULL for the others; when set, ingest
	 * calls it instead of parse. */
	int (*parse_for)(const char *supplier, const unsigned char *item,
	    size_t len, struct sec_event *ev, char *err, size_t errlen);
	/* Frees the calling thread's parser memory; NULL when there is none. */
	void (*thread_done)(void);
	/* A report format (REPORT; split and parse are NULL): reads the whole
	 * body into rp, as the report's metadata m says (charset, separator,
	 * the source's column map); refuses it through report_refuse. */
	void (*report)(const struct report_meta *m, const unsigned char *body,
	    size_t len, struct report_parsed *rp);
	/* After parse failed: the item's event id when it could still be
	 * read, else NULL; valid until the next parse on this thread. NULL
	 * when the format never tells. */
	const char *(*failed_id)(void);
};

/* Every format bevisd takes, in the order a reply lists them. */
#define PARSER_TABLE(X) \
	X(parser_json) \
	X(parser_ndjson) \
	X(parser_cef) \
	X(parser_syslog) \
	X(parser_mapped_ndjson) \
	X(parser_csv) \
	X(parser_report_json)

#define PARSER_DECLARE(p) extern const struct parser p;
PARSER_TABLE(PARSER_DECLARE)
#undef PARSER_DECLARE

/* The parser for a content type, or NULL when bevisd takes no such body. */
const struct parser *parser_for(enum content_type ct);
/* The report parser for a content type, or NULL. */
const struct parser *parser_for_report(enum content_type ct);
/* "application/json or application/x-ndjson": for error messages. */
const char *parser_content_types(void);
/* Frees every parser's per-thread memory; a writer calls it before it ends. */
void parsers_thread_done(void);

/* The native JSON event (parse_json.c), exposed for the unit tests and the
 * fuzzer. */
int event_parse_json(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen) MUSTCHECK;
void event_clear(struct sec_event *ev);
void event_parser_thread_done(void);
/* The line formats (parse_cef.c, parse_syslog.c), for the tests and the
 * fuzzers; their strings live until the thread's next parse. */
int event_parse_cef(const unsigned char *item, size_t len,
    struct sec_event *ev, char *err, size_t errlen) MUSTCHECK;
int event_parse_syslog(const unsigned char *item, size_t len,
    struct sec_event *ev, char *err, size_t errlen) MUSTCHECK;
int cef_severity_map(const char *s, size_t n);

/* The report formats (parse_csv.c, parse_report_json.c), exposed for the
 * unit tests, the fuzzer and the benchmark. */
void report_parse_csv(const struct report_meta *m, const unsigned char *body,
    size_t len, struct report_parsed *rp);
void report_parse_json(const struct report_meta *m, const unsigned char *body,
    size_t len, struct report_parsed *rp);
/* The failed_id of the native JSON parsers. */
const char *event_json_failed_id(void);
/* The native parser's JSON reading, which the field-mapped parser shares:
 * item read as one JSON object with the checks an RFC 8259 reader makes
 * (strict numbers and strings, no repeated member name, big integers kept
 * exact). On success *root is the caller's (json_object_put); on failure
 * *root is NULL and err says why. */
struct json_object;
struct buf;
int event_json_read(const unsigned char *item, size_t len,
    struct json_object **root, char *err, size_t errlen) MUSTCHECK;
/* Appends v to b as strict JSON, big integers with their exact text. */
void event_json_put(struct buf *b, struct json_object *v);

#endif
