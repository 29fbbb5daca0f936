#include "hex.h"

static const char digits[] = "0123456789abcdef";

static int
nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
hex_encode(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
hex_append(struct buf *b, const unsigned char *p, size_t n)
{
	buf_reserve(b, 2 * n + 1);
	hex_encode(p, n, (char *)b->data + b->len);
	b->len += 2 * n;
}

int
hex_decode(const char *s, size_t slen, unsigned char *out, size_t n)
{
	if (slen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble((unsigned char)s[2 * i]);
		int lo = nibble((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
hex_decode_buf(const char *s, size_t slen, struct buf *b)
{
	buf_reset(b);
	if (slen % 2)
		return -1;
	buf_reserve(b, slen / 2 + 1);
	if (hex_decode(s, slen, b->data, slen / 2) < 0)
		return -1;
	b->len = slen / 2;
	return 0;
}
