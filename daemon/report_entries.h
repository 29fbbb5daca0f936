/* report_entries.h - a REPORT request's body, parsed: its entries as the JSON that
 * bevis_report_ingest (sql/0011_reports.sql) takes, and for each entry its
 * byte range, its id and, when it cannot be read, why. The report parsers
 * (parse_csv.c, parse_report_json.c) fill it in through report_entry_*(). */
#ifndef BEVIS_REPORT_ENTRIES_H
#define BEVIS_REPORT_ENTRIES_H

#include <stddef.h>

#include "buf.h"
#include "log.h"
#include "report.h"

struct report_item {
	size_t off, len;	/* its bytes in the body */
	size_t line;		/* 1-based line of its first byte */
	char *id;		/* the entry's own id, when read */
	char *reason;		/* why it is quarantined; NULL when readable */
};

struct report_parsed {
	struct report_item *items;	/* owned */
	size_t n, cap;
	size_t readable;	/* items without a reason */
	struct buf json;	/* JSON array of the readable entries */
	/* Set when the report as a whole is refused: nothing is stored. */
	char error[512];
	const char *error_code;	/* the reply's error code */
	size_t max_items;	/* set by the caller; 0: no limit */
	/* the entry being built */
	struct buf fields, attrs;
	int have[RF_COUNT];
	char *cur_reason;
	/* personal identity numbers (common/pnr.c) in the entry being built */
	size_t cur_pnr;		/* found in its text fields and id so far */
	int cur_pd;		/* the reporter's personal_data: -1 absent, 0, 1 */
	size_t pd_off, pd_end;	/* its member in fields, to overrule a "no" */
	int cur_pw_named;	/* an attr is named "parse_warnings" */
	struct buf pnr;		/* scratch for masking */
	void *ids;		/* the ids seen, to refuse a repeated one */
};

/* Refuses the whole report with code (a reply error code) and reason. */
void report_refuse(struct report_parsed *rp, const char *code,
    const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Starts the entry of bytes [off, off + len) whose first byte is on line.
 * Returns -1 (the report refused as too_many_items) past max_items. */
int report_entry_begin(struct report_parsed *rp, size_t off, size_t len,
    size_t line) MUSTCHECK;
/* Where a value is, for a reason: "line 3, column 2 (Datum)" for CSV
 * (col from 1), "line 3, field \"occurred_at\"" for JSON (col 0). */
struct report_where {
	size_t line;
	size_t col;
	const char *name;
};
/* Sets field f from UTF-8 value v (n bytes) found at w. A value that does
 * not read as the field's type quarantines the entry. Empty values are
 * absent. */
void report_entry_field(struct report_parsed *rp, enum report_field f,
    const char *v, size_t n, const struct report_where *w);
/* Sets a yes/no field from a JSON boolean. */
void report_entry_bool(struct report_parsed *rp, enum report_field f, int yes);
/* Keeps an unmapped column: name and value are UTF-8 (value JSON text
 * when json is set, else a string). */
void report_entry_attr(struct report_parsed *rp, const char *name, size_t nlen,
    const char *v, size_t n, int json);
/* Quarantines the entry being built, with the first reason given. */
void report_entry_quarantine(struct report_parsed *rp, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
/* Ends the entry: quarantined when a reason was given, when it has no id
 * (idw: where the id is) or repeats an earlier id. Personal identity
 * numbers in its text fields (all but the id, which is only counted) and
 * attrs are masked; when it holds any, attrs gets "pnr_count" and
 * personal_data becomes yes, even over the reporter's no (noted in
 * attrs.parse_warnings). docs/FORMATS.md, "Personal identity numbers". */
void report_entry_end(struct report_parsed *rp, const struct report_where *idw);
/* Closes the JSON array. */
void report_parsed_finish(struct report_parsed *rp);
void report_parsed_free(struct report_parsed *rp);

/* Whether v is a Swedish date "YYYY-MM-DD", optionally with " HH:MM" or
 * " HH:MM:SS" (or 'T' for the space). */
int report_time_valid(const char *v, size_t n);
/* 1 yes, 0 no, -1 unknown (empty), -2 not a yes/no value. */
int report_yesno(const char *v, size_t n);

#endif
