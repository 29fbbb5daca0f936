#ifndef BEVIS_UTF8_H
#define BEVIS_UTF8_H

#include <stddef.h>

/* Returns the offset of the first byte that is not part of well-formed UTF-8
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF, no NUL),
 * or (size_t)-1 when all of s is valid. */
size_t utf8_invalid_at(const unsigned char *s, size_t n);
/* Returns the longest length <= max at which valid UTF-8 s (of n bytes)
 * can be cut without splitting a character. */
size_t utf8_cut(const char *s, size_t n, size_t max);

#endif
