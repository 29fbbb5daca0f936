#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "xmalloc.h"

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;	/* room for a NUL */

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = (unsigned char)c;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_printf: bad format");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_put_be16(struct buf *b, uint16_t v)
{
	unsigned char p[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	buf_append(b, p, 2);
}

void
buf_put_be32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v };

	buf_append(b, p, 4);
}

void
buf_put_be64(struct buf *b, uint64_t v)
{
	buf_put_be32(b, (uint32_t)(v >> 32));
	buf_put_be32(b, (uint32_t)v);
}

void
buf_put_json_string(struct buf *b, const char *s, size_t n)
{
	size_t from = 0;

	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	/* Runs of bytes that need no escape are copied whole. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		buf_append(b, s + from, i - from);
		from = i + 1;
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		default: {
			char e[7] = { '\\', 'u', '0', '0' };
			hex_encode(&c, 1, e + 4);
			buf_append(b, e, 6);
		}
		}
	}
	buf_append(b, s + from, n - from);
	buf_putc(b, '"');
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *
buf_cstr(struct buf *b)
{
	buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return (const char *)b->data;
}
