/* event.c - what every part says about a normalized event: the severity
 * scale and its names, and RFC 3339 times. */
#include "event.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The OCSF severity_id names, 0..6: the one list that both the parsers and
 * the CLI use. */
static const char *const severity_names[SEVERITY_COUNT] = {
	"unknown", "informational", "low", "medium", "high", "critical", "fatal"
};

const char *
severity_name(int severity)
{
	if (severity < 0 || severity >= SEVERITY_COUNT)
		return NULL;
	return severity_names[severity];
}

int
severity_from_name(const char *s, size_t n)
{
	for (int i = 0; i < SEVERITY_COUNT; i++)
		if (strlen(severity_names[i]) == n &&
		    strncasecmp(s, severity_names[i], n) == 0)
			return i;
	/* "info" is what syslog and most people write. */
	if (n == 4 && strncasecmp(s, "info", 4) == 0)
		return SEVERITY_INFORMATIONAL;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
	int v = 0;

	if (at + count > n)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return -1;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return 0;
}

int
rfc3339_parse(const char *s, size_t n, int64_t *us)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0;
	size_t i = 19;

	if (digits(s, n, 0, 4, &Y) || n < 20 || s[4] != '-' ||
	    digits(s, n, 5, 2, &M) || s[7] != '-' || digits(s, n, 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &m) ||
	    s[16] != ':' || digits(s, n, 17, 2, &sec))
		return -1;
	if (s[i] == '.') {
		size_t start = ++i;
		int64_t scale = 100000;

		while (i < n && s[i] >= '0' && s[i] <= '9') {
			frac += (s[i] - '0') * scale;	/* digits past µs drop */
			scale /= 10;
			i++;
		}
		if (i == start)
			return -1;
	}
	if (i >= n)
		return -1;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    digits(s, n, i + 4, 2, &om))
			return -1;
		i += 6;
	} else
		return -1;
	if (i != n)
		return -1;
	int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap) ||
	    h > 23 || m > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	/* A leap second (:60) counts as the first second of the next minute,
	 * as PostgreSQL reads it. */
	int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*us = t * 1000000 + frac;
	return 0;
}

void
rfc3339_format(int64_t us, char out[40])
{
	int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
	int64_t micro = us - secs * 1000000;
	int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
	int64_t sod = secs - z * 86400;
	/* civil_from_days */
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t mo = mp < 10 ? mp + 3 : mp - 9;
	y += mo <= 2;
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int)(y % 10000),
	    (int)(mo % 100), (int)(d % 100), (int)(sod / 3600 % 100),
	    (int)(sod / 60 % 60), (int)(sod % 60), (int)(micro % 1000000));
}
