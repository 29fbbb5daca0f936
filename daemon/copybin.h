/* copybin.h - PostgreSQL binary COPY encoding. Binary COPY needs no escaping
 * and spares the server the text input functions (timestamptz, inet), which
 * are a large share of its time in a text COPY. */
#ifndef BEVIS_COPYBIN_H
#define BEVIS_COPYBIN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void copy_header(struct buf *b);
void copy_trailer(struct buf *b);
void copy_row(struct buf *b, uint16_t nfields);
void copy_null(struct buf *b);
void copy_int4(struct buf *b, int32_t v);
void copy_int8(struct buf *b, int64_t v);
void copy_int2(struct buf *b, int16_t v);
void copy_bool(struct buf *b, int v);
void copy_bytes(struct buf *b, const void *p, size_t n);	/* text, bytea, json */
/* us: microseconds since the Unix epoch. */
void copy_timestamptz(struct buf *b, int64_t us);
/* family: 4 or 6; addr: 4 or 16 bytes. */
void copy_inet(struct buf *b, int family, const unsigned char *addr);

#endif
