/* pgcopy.h - PostgreSQL binary COPY: the encoding bevisd writes and the
 * decoding bevis verify, export and verify-bundle read back, in one place.
 * Binary COPY needs no escaping and spares the server the text input
 * functions (timestamptz, inet), which are a large share of its time in a
 * text COPY. The format: an 11-byte signature, 32-bit flags, a 32-bit
 * header extension length and that many bytes; tuples (16-bit field count,
 * then per field a 32-bit length, -1 for NULL, and the bytes); a 16-bit -1
 * trailer. */
#ifndef BEVIS_PGCOPY_H
#define BEVIS_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"

/* PostgreSQL's timestamps count from 2000-01-01T00:00:00Z; ours from the
 * Unix epoch. */
#define PGCOPY_EPOCH_OFFSET_US	946684800000000LL
#define PGCOPY_SIGNATURE	"PGCOPY\n\377\r\n\0"
#define PGCOPY_SIGNATURE_LEN	11
#define PGCOPY_HEADER_MIN	19	/* signature, flags, extension length */
#define PGCOPY_NULL_LEN		0xffffffffu
#define PGCOPY_MAXF		32	/* the widest tuple bevis reads */

/* ---- encoding ----------------------------------------------------------- */

void pgcopy_header(struct buf *b);
void pgcopy_trailer(struct buf *b);
void pgcopy_row(struct buf *b, uint16_t nfields);
void pgcopy_null(struct buf *b);
void pgcopy_int4(struct buf *b, int32_t v);
void pgcopy_int8(struct buf *b, int64_t v);
void pgcopy_int2(struct buf *b, int16_t v);
void pgcopy_bool(struct buf *b, int v);
void pgcopy_bytes(struct buf *b, const void *p, size_t n);	/* text, bytea, json */
/* us: microseconds since the Unix epoch. */
void pgcopy_timestamptz(struct buf *b, int64_t us);
/* family: 4 or 6; addr: 4 or 16 bytes. */
void pgcopy_inet(struct buf *b, int family, const unsigned char *addr);

/* ---- decoding ----------------------------------------------------------- */

/* One tuple, pointing into the bytes it was read from. */
struct pgcopy_tuple {
	const unsigned char *data;	/* the whole tuple, field count first */
	size_t len;
	int nf;
	const unsigned char *f[PGCOPY_MAXF];	/* NULL for SQL NULL */
	uint32_t flen[PGCOPY_MAXF];
};

enum pgcopy_read {
	PGCOPY_BAD = -1,	/* malformed; *why says how */
	PGCOPY_MORE = 0,	/* incomplete: more bytes are needed */
	PGCOPY_TUPLE = 1,	/* a tuple, *used bytes long */
	PGCOPY_TRAILER = 2	/* the trailer, *used (2) bytes long */
};

/* The header at p: returns 1 with its length in *used, PGCOPY_MORE, or
 * PGCOPY_BAD. */
int pgcopy_read_header(const unsigned char *p, size_t len, size_t *used,
    const char **why) MUSTCHECK;
/* The tuple or trailer at p; t may be NULL to only measure. */
int pgcopy_read_tuple(const unsigned char *p, size_t len,
    struct pgcopy_tuple *t, size_t *used, const char **why) MUSTCHECK;
/* The byte length of the complete tuple at row (at most len), or 0 when it
 * is not one. Fields beyond PGCOPY_MAXF are measured too. */
size_t pgcopy_tuple_len(const unsigned char *row, size_t len);

typedef int pgcopy_tuple_cb(void *ctx, const struct pgcopy_tuple *t);
/* Walks a complete binary COPY file: header with no flags, tuples of nf
 * fields each, trailer, nothing after. Calls fn (if not NULL) on each
 * tuple; a negative return stops the walk. Returns the number of tuples,
 * or -1 with the reason in *why. */
long pgcopy_walk(const unsigned char *p, size_t len, int nf,
    pgcopy_tuple_cb *fn, void *ctx, const char **why);

/* Field readers: 0 when field i is NULL or of another width. */
uint32_t pgcopy_be32(const unsigned char *p);
int64_t pgcopy_get_int8(const struct pgcopy_tuple *t, int i);
int32_t pgcopy_get_int4(const struct pgcopy_tuple *t, int i);
/* A timestamptz field as microseconds since the Unix epoch. */
int64_t pgcopy_get_timestamptz(const struct pgcopy_tuple *t, int i);

#endif
