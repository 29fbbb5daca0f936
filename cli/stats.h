/* stats.h - the yearly incident figures of bevis stats and bevis review:
 * fetched from bevis_stats() and bevis_stats_by() (sql/0010_stats.sql, where
 * every figure is computed), labelled in Swedish or English, and rendered
 * through output.c. docs/STATS.md says what counts. */
#ifndef BEVIS_STATS_H
#define BEVIS_STATS_H

#include <libpq-fe.h>
#include <stdio.h>

#include "output.h"

enum stats_lang { STATS_EN, STATS_SV };

/* The funnel: ten rows (ord, figure, this_year, last_year), in order. The
 * caller clears the result; NULL after printing the error. */
PGresult *stats_funnel(PGconn *conn, const char *who, int year);
/* The funnel's counts per group of by (month, supplier, category, cause):
 * grp, then potential, confirmed, personal_data, notified for year and the
 * same for the year before. */
PGresult *stats_by(PGconn *conn, const char *who, int year, const char *by);
/* Whether by is a grouping bevis_stats_by knows. */
int stats_by_known(const char *by);
/* The current year in the session's TimeZone; -1 after printing the error. */
int stats_this_year(PGconn *conn, const char *who);

/* A figure's label ("confirmed" -> "confirmed incidents"); the figure
 * itself when unknown. */
const char *stats_label(const char *figure, enum stats_lang lang);
/* A group's label: a month number as its name, a category or cause code
 * as words, "(none)" as "(not set)"; else the group itself (a supplier). */
const char *stats_group_label(const char *by, const char *grp,
    enum stats_lang lang);

/* Renders the funnel (table: label and the two years; CSV and JSON lines:
 * figure, label, year, value, previous_year, previous) on f. */
void stats_render_funnel(FILE *f, enum out_format format, PGresult *res,
    int year, enum stats_lang lang);
/* Renders a stats_by result on f (CSV and JSON: by, year, the four counts,
 * previous_year, previous_ and the four counts). */
void stats_render_by(FILE *f, enum out_format format, PGresult *res,
    int year, const char *by, enum stats_lang lang);

/* --year Y: a whole number 1971-9999 into *out; -1 after printing the
 * error ("bevis WHO: --year: ..."). */
int stats_parse_year(const char *who, const char *s, int *out);

/* The headline: "14 potential incidents, 11 confirmed, 9 personal-data
 * breaches, 7 notified to IMY" (Swedish: "14 potentiella incidenter; 11
 * incidenter, varav 9 personuppgiftsincidenter, 7 anmälda till IMY"), from
 * a funnel result, for the year (col 2) or the year before (col 3). The
 * potential count comes first: a year whose incidents are still being
 * assessed has no confirmed one, and "0 incidents" alone would hide them.
 * Appends to b. */
void stats_headline(struct buf *b, PGresult *res, int col,
    enum stats_lang lang);

#endif
