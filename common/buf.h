/* buf.h - a growable byte buffer, used for replies, COPY data and SQL text
 * built from constant fragments. */
#ifndef BEVIS_BUF_H
#define BEVIS_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_put_be16(struct buf *b, uint16_t v);
void buf_put_be32(struct buf *b, uint32_t v);
void buf_put_be64(struct buf *b, uint64_t v);
/* Appends s as a quoted JSON string. s must be valid UTF-8. */
void buf_put_json_string(struct buf *b, const char *s, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Returns the data as a NUL-terminated string; the buffer keeps ownership. */
const char *buf_cstr(struct buf *b);

#endif
