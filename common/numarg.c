#include "numarg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* strtoll and strtod skip leading blanks and take "" as 0; refuse both. */
static int
starts_like_number(const char *s)
{
	return s && ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' ||
	    *s == '.');
}

int
numarg_parse(const char *s, long long min, long long max, long long *out,
    char *err, size_t errlen)
{
	char *end;
	long long v;

	if (!starts_like_number(s)) {
		snprintf(err, errlen, "'%s' is not a whole number", s ? s : "");
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		snprintf(err, errlen, "'%s' is not a whole number", s);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		snprintf(err, errlen, "'%s' is out of range (%lld to %lld)", s,
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
numarg_parse_seconds(const char *s, long long min_ms, long long max_ms,
    long long *out_ms, char *err, size_t errlen)
{
	char *end;
	double v;

	if (!starts_like_number(s) || (s[0] == '.' && s[1] == '\0')) {
		snprintf(err, errlen, "'%s' is not a number of seconds", s ? s : "");
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v)) {
		snprintf(err, errlen, "'%s' is not a number of seconds", s);
		return -1;
	}
	v *= 1000.0;
	if (errno == ERANGE || v < (double)min_ms || v > (double)max_ms) {
		snprintf(err, errlen, "'%s' is out of range (%g to %g seconds)", s,
		    (double)min_ms / 1000.0, (double)max_ms / 1000.0);
		return -1;
	}
	*out_ms = (long long)llround(v);
	return 0;
}
