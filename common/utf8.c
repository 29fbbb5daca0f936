#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Nonzero when one of the 8 bytes in v is 0x00 or has its high bit set. */
static int
not_plain_ascii(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;

	return (v & highs) || ((v - ones) & ~v & highs);
}

size_t
utf8_invalid_at(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		/* Most log text is ASCII: take it 8 bytes at a time. */
		while (n - i >= 8) {
			uint64_t v;
			memcpy(&v, s + i, 8);
			if (not_plain_ascii(v))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = s[i];

		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;	/* no UTF-16 surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return i;	/* NUL, stray continuation, C0/C1, F5..FF */
		if (n - i < len)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += len;
	}
	return (size_t)-1;
}

size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	size_t k = n < max ? n : max;

	while (k > 0 && k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}
