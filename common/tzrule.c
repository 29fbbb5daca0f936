/* tzrule.c - POSIX TZ rules (see tzrule.h). */
#include "tzrule.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "event.h"

#define ZONEINFO "/usr/share/zoneinfo/"

static const char *
tz_name(const char *s)
{
	if (*s == '<') {
		while (*s && *s != '>')
			s++;
		return *s ? s + 1 : NULL;
	}
	const char *b = s;
	while (isalpha((unsigned char)*s))
		s++;
	return s - b >= 3 ? s : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL when there is none. */
static const char *
tz_time(const char *s, int32_t *out, int allow_sign)
{
	int sign = 1, h = 0, m = 0, sec = 0;

	if (allow_sign && (*s == '+' || *s == '-'))
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s) && h < 200)
		h = h * 10 + (*s++ - '0');
	if (*s == ':') {
		s++;
		if (!isdigit((unsigned char)*s))
			return NULL;
		while (isdigit((unsigned char)*s) && m < 60)
			m = m * 10 + (*s++ - '0');
		if (*s == ':') {
			s++;
			if (!isdigit((unsigned char)*s))
				return NULL;
			while (isdigit((unsigned char)*s) && sec < 60)
				sec = sec * 10 + (*s++ - '0');
		}
	}
	if (h > 167 || m > 59 || sec > 59)
		return NULL;
	*out = sign * (h * 3600 + m * 60 + sec);
	return s;
}

static const char *
tz_int(const char *s, int *out, int max)
{
	int v = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > max)
			return NULL;
	}
	*out = v;
	return s;
}

static const char *
tz_date(const char *s, struct tzdate *d)
{
	memset(d, 0, sizeof(*d));
	d->secs = 7200;
	if (*s == 'M') {
		d->kind = 'M';
		if (!(s = tz_int(s + 1, &d->m, 12)) || d->m < 1 || *s++ != '.' ||
		    !(s = tz_int(s, &d->w, 5)) || d->w < 1 || *s++ != '.' ||
		    !(s = tz_int(s, &d->d, 6)))
			return NULL;
	} else if (*s == 'J') {
		d->kind = 'J';
		if (!(s = tz_int(s + 1, &d->d, 365)) || d->d < 1)
			return NULL;
	} else {
		d->kind = 'n';
		if (!(s = tz_int(s, &d->d, 365)))
			return NULL;
	}
	if (*s == '/' && !(s = tz_time(s + 1, &d->secs, 1)))
		return NULL;
	return s;
}

int
tzrule_parse_posix(const char *s, struct tzrule *tz)
{
	int32_t off;
	char name[64];

	snprintf(name, sizeof(name), "%s", tz->name);
	memset(tz, 0, sizeof(*tz));
	snprintf(tz->name, sizeof(tz->name), "%s", name);
	if (!(s = tz_name(s)) || !(s = tz_time(s, &off, 1)))
		return -1;
	tz->std_off = -off;		/* POSIX counts west of UTC */
	if (*s == '\0')
		return 0;
	if (!(s = tz_name(s)))
		return -1;
	tz->has_dst = 1;
	tz->dst_off = tz->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = tz_time(s, &off, 1)))
			return -1;
		tz->dst_off = -off;
	}
	if (*s == '\0') {	/* the US rule is POSIX's default; not ours */
		return -1;
	}
	if (*s++ != ',' || !(s = tz_date(s, &tz->start)) || *s++ != ',' ||
	    !(s = tz_date(s, &tz->end)) || *s != '\0')
		return -1;
	return 0;
}

/* The tzfile's last line holds its POSIX rule (RFC 8536, section 3.3). */
static int
read_footer(const char *path, char *out, size_t outlen)
{
	char data[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	char magic[4];

	if (fd < 0)
		return -1;
	if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, "TZif", 4) != 0) {
		close(fd);
		return -1;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	off_t at = size > (off_t)sizeof(data) ? size - (off_t)sizeof(data) : 0;
	n = size > 0 ? pread(fd, data, (size_t)(size - at), at) : -1;
	close(fd);
	if (n < 2 || data[n - 1] != '\n')
		return -1;
	ssize_t b = n - 2;
	while (b >= 0 && data[b] != '\n')
		b--;
	if (b < 0 || (size_t)(n - 2 - b) >= outlen)
		return -1;
	memcpy(out, data + b + 1, (size_t)(n - 2 - b));
	out[n - 2 - b] = '\0';
	return 0;
}

int
tzrule_load(const char *zone, struct tzrule *tz, char *err, size_t errlen)
{
	char path[256], rule[128];

	memset(tz, 0, sizeof(*tz));
	snprintf(tz->name, sizeof(tz->name), "%s", zone);
	if (strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0)
		return 0;
	/* A name, not a path: no way out of the zoneinfo tree. */
	if (zone[0] && zone[0] != '/' && strstr(zone, "..") == NULL &&
	    strlen(zone) < 100) {
		snprintf(path, sizeof(path), ZONEINFO "%s", zone);
		if (read_footer(path, rule, sizeof(rule)) == 0) {
			if (tzrule_parse_posix(rule, tz) == 0)
				return 0;
			snprintf(err, errlen, "time zone '%s' has a rule bevis "
			    "cannot read: '%s'", zone, rule);
			return -1;
		}
	}
	if (strchr(zone, ',') && tzrule_parse_posix(zone, tz) == 0)
		return 0;
	snprintf(err, errlen, "unknown time zone '%s' (an IANA name such as "
	    "Europe/Stockholm, UTC, or a POSIX TZ rule)", zone);
	return -1;
}

/* Local seconds since 1970 (of that zone's standard or summer wall clock)
 * when the change dt happens in year y. */
static int64_t
change_local(const struct tzdate *dt, int64_t y)
{
	int64_t day;

	if (dt->kind == 'M') {
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
			31, 30, 31 };
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		int64_t first = days_from_civil(y, dt->m, 1);
		int wd = (int)(((first % 7) + 7 + 4) % 7);	/* 1970-01-01: Thu */
		int64_t d = (dt->d - wd + 7) % 7 + 7 * (dt->w - 1);
		int len = mdays[dt->m - 1] + (dt->m == 2 && leap);
		while (d >= len)
			d -= 7;
		day = first + d;
	} else if (dt->kind == 'J') {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		day = days_from_civil(y, 1, 1) + dt->d - 1 +
		    (leap && dt->d >= 60);
	} else {
		day = days_from_civil(y, 1, 1) + dt->d;
	}
	return day * 86400 + dt->secs;
}

/* The proleptic Gregorian year of a time in seconds since 1970 (Howard
 * Hinnant's civil_from_days, year only). */
static int64_t
year_of(int64_t secs)
{
	int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	return yoe + era * 400 + (mp >= 10);
}

int64_t
tzrule_year_at(const struct tzrule *tz, int64_t t)
{
	return year_of(t + tzrule_offset_at(tz, t));
}

static int
in_dst(const struct tzrule *tz, int64_t t)
{
	int64_t y = year_of(t + tz->std_off);
	int64_t start = change_local(&tz->start, y) - tz->std_off;
	int64_t end = change_local(&tz->end, y) - tz->dst_off;

	if (start < end)
		return t >= start && t < end;
	return t >= start || t < end;		/* southern hemisphere */
}

int32_t
tzrule_offset_at(const struct tzrule *tz, int64_t t)
{
	if (!tz->has_dst)
		return tz->std_off;
	return in_dst(tz, t) ? tz->dst_off : tz->std_off;
}

int64_t
tzrule_local_to_utc(const struct tzrule *tz, int64_t local)
{
	if (tz->has_dst) {
		int64_t t = local - tz->dst_off;
		if (in_dst(tz, t))
			return t;
	}
	return local - tz->std_off;
}
