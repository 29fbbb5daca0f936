/* report.h - a monthly report's metadata and the fields of its entries,
 * shared by bevisd (which parses reports), bevis send (which labels them)
 * and the config (whose [report_map SOURCE] sections map a source's own
 * column names onto the entry fields). docs/PROTOCOL.md, "REPORT", is the
 * normative description. */
#ifndef BEVIS_REPORT_H
#define BEVIS_REPORT_H

#include <stddef.h>

#include "log.h"
#include "proto.h"

/* The fields of a report entry, in the order of sql/0011_reports.sql. */
enum report_field {
	RF_ID, RF_OCCURRED_AT, RF_DETECTED_AT, RF_REPORTED_AT, RF_TITLE,
	RF_DESCRIPTION, RF_SYSTEM, RF_UNIT, RF_CATEGORY, RF_CIA_IMPACT,
	RF_SEVERITY, RF_PERSONAL_DATA, RF_PROTECTED_IDENTITY, RF_VERDICT,
	RF_STATUS, RF_ACTIONS, RF_LOG_REF,
	RF_COUNT
};

/* How a field's value is read. */
enum report_field_type { RFT_TEXT, RFT_TIME, RFT_YESNO };

const char *report_field_name(enum report_field f);
enum report_field_type report_field_type(enum report_field f);
/* The field of a name ("school" is unit), or -1. */
int report_field_by_name(const char *name);

/* One line of a [report_map SOURCE] section: a column of the source's
 * report that holds an entry field. A field may have several columns
 * (alternatives: the first the header has is used). */
struct report_column {
	int field;		/* enum report_field */
	char *column;		/* UTF-8, as the source's header spells it */
};

struct report_map {
	char *source;		/* the supplier name of the section */
	struct report_column *cols;
	size_t n;
};

/* Adds the line "name = value" of section [report_map source] to maps:
 * name is an entry field, value one or more column names separated by
 * '|'. Returns -1 with a reason for an unknown field or an empty column. */
int report_map_add(struct report_map **maps, size_t *nmaps, const char *source,
    const char *name, const char *value, char *reason, size_t rlen) MUSTCHECK;
/* The map of a source, or NULL. */
const struct report_map *report_map_find(const struct report_map *maps,
    size_t nmaps, const char *source);
/* A deep copy; the caller frees it with report_map_free and free. */
struct report_map *report_map_copy(const struct report_map *m);
void report_map_free(struct report_map *m);
void report_maps_free(struct report_map *maps, size_t nmaps);

enum report_charset { RCS_UTF8, RCS_WINDOWS_1252 };

#define REPORT_TITLE_MAX	500
#define REPORT_AUTHOR_MAX	200

/* The metadata of a REPORT request, from its content-type parameters. */
struct report_meta {
	enum content_type ct;		/* CT_CSV or CT_JSON */
	char kind[16];			/* servicedesk or supplier */
	char period[8];			/* YYYY-MM */
	char *title;			/* UTF-8, owned */
	char *author;			/* UTF-8, owned */
	enum report_charset charset;
	char separator;			/* ';' or ','; 0: detect from the header */
	struct report_map *map;		/* the source's, owned; NULL: none */
};

/* Parses a REPORT content type, for example
 *   text/csv; charset=windows-1252; kind=servicedesk; period=2026-10;
 *   title="Incidenter oktober"; author="Servicedesk"
 * Returns 0, or -1 with a precise reason (and m left to free). */
int report_meta_parse(const char *s, size_t len, struct report_meta *m,
    char *err, size_t errlen) MUSTCHECK;
void report_meta_free(struct report_meta *m);

/* Whether s is a period YYYY-MM (month 01..12). */
int report_period_valid(const char *s);

#endif
