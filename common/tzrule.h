/* tzrule.h - a time zone as the POSIX TZ rule that ends its tzfile (the
 * rule every zone uses today), so that a writer thread can turn a local
 * syslog time into UTC without touching the process's TZ (localtime and
 * mktime share one global zone and are not usable per supplier). */
#ifndef BEVIS_TZRULE_H
#define BEVIS_TZRULE_H

#include <stdint.h>
#include <stddef.h>

#include "log.h"

struct tzdate {
	char kind;		/* 'M' (month.week.day), 'J' (1..365), 'n' (0..365) */
	int m, w, d;		/* M: month, week 1..5, weekday 0..6; J/n: day in d */
	int32_t secs;		/* local time of day of the change */
};

struct tzrule {
	char name[64];		/* as configured: "Europe/Stockholm" */
	int32_t std_off;	/* seconds east of UTC */
	int32_t dst_off;
	int has_dst;
	struct tzdate start, end;
};

/* Loads a zone: "UTC", an IANA name under /usr/share/zoneinfo (its
 * footer rule), or a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3").
 * Returns -1 with a reason in err. */
int tzrule_load(const char *zone, struct tzrule *tz, char *err, size_t errlen)
    MUSTCHECK;
/* Parses a POSIX TZ string into tz. Returns -1 when it is not one. */
int tzrule_parse_posix(const char *s, struct tzrule *tz) MUSTCHECK;
/* The offset east of UTC, in seconds, at the UTC instant t (seconds). */
int32_t tzrule_offset_at(const struct tzrule *tz, int64_t t);
/* The local calendar year at the UTC instant t (seconds). */
int64_t tzrule_year_at(const struct tzrule *tz, int64_t t);
/* UTC seconds of a local wall time given as seconds since 1970-01-01
 * 00:00 local. A time the spring change skips is read in standard time;
 * one the autumn change repeats is read as the first (summer) one. */
int64_t tzrule_local_to_utc(const struct tzrule *tz, int64_t local);

#endif
