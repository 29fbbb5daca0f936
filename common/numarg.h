/* numarg.h - numeric command-line options, range-checked. One helper for
 * every option, so that "--limit 99999999999999999999" or "--window 1x" is
 * refused with a reason instead of wrapping or being read as 1. */
#ifndef BEVIS_NUMARG_H
#define BEVIS_NUMARG_H

#include <stddef.h>

#include "log.h"

/* Parses s as a whole decimal number in [min, max]: no leading blank, no
 * trailing text, nothing empty, no overflow. Returns 0 and sets *out, or
 * -1 and writes the reason (naming s and the range) into err. */
int numarg_parse(const char *s, long long min, long long max,
    long long *out, char *err, size_t errlen) MUSTCHECK;

/* Parses s as seconds, with an optional fraction ("2", "0.25"), into
 * milliseconds in [min_ms, max_ms]. Returns 0 or -1 as numarg_parse. */
int numarg_parse_seconds(const char *s, long long min_ms, long long max_ms,
    long long *out_ms, char *err, size_t errlen) MUSTCHECK;

#endif
