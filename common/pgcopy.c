#include "pgcopy.h"

#include <string.h>

void
pgcopy_header(struct buf *b)
{
	buf_append(b, PGCOPY_SIGNATURE, PGCOPY_SIGNATURE_LEN);
	buf_put_be32(b, 0);	/* flags */
	buf_put_be32(b, 0);	/* header extension length */
}

void
pgcopy_trailer(struct buf *b)
{
	buf_put_be16(b, 0xffff);
}

void
pgcopy_row(struct buf *b, uint16_t nfields)
{
	buf_put_be16(b, nfields);
}

void
pgcopy_null(struct buf *b)
{
	buf_put_be32(b, PGCOPY_NULL_LEN);
}

void
pgcopy_int2(struct buf *b, int16_t v)
{
	buf_put_be32(b, 2);
	buf_put_be16(b, (uint16_t)v);
}

void
pgcopy_int4(struct buf *b, int32_t v)
{
	buf_put_be32(b, 4);
	buf_put_be32(b, (uint32_t)v);
}

void
pgcopy_int8(struct buf *b, int64_t v)
{
	buf_put_be32(b, 8);
	buf_put_be64(b, (uint64_t)v);
}

void
pgcopy_bool(struct buf *b, int v)
{
	unsigned char c = v ? 1 : 0;

	buf_put_be32(b, 1);
	buf_append(b, &c, 1);
}

void
pgcopy_bytes(struct buf *b, const void *p, size_t n)
{
	buf_put_be32(b, (uint32_t)n);
	buf_append(b, p, n);
}

void
pgcopy_timestamptz(struct buf *b, int64_t us)
{
	pgcopy_int8(b, us - PGCOPY_EPOCH_OFFSET_US);
}

void
pgcopy_inet(struct buf *b, int family, const unsigned char *addr)
{
	/* PGSQL_AF_INET is AF_INET (2); PGSQL_AF_INET6 is AF_INET + 1. */
	int n = family == 4 ? 4 : 16;
	unsigned char hdr[4] = { family == 4 ? 2 : 3, (unsigned char)(n * 8), 0,
		(unsigned char)n };

	buf_put_be32(b, 4 + (uint32_t)n);
	buf_append(b, hdr, 4);
	buf_append(b, addr, (size_t)n);
}

/* ---- decoding ----------------------------------------------------------- */

uint32_t
pgcopy_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
pgcopy_read_header(const unsigned char *p, size_t len, size_t *used,
    const char **why)
{
	size_t n = len < PGCOPY_SIGNATURE_LEN ? len : PGCOPY_SIGNATURE_LEN;

	if (memcmp(p, PGCOPY_SIGNATURE, n) != 0) {
		*why = "not a binary COPY file (no PGCOPY signature)";
		return PGCOPY_BAD;
	}
	if (len < PGCOPY_HEADER_MIN)
		return PGCOPY_MORE;
	if (pgcopy_be32(p + 11) != 0) {
		*why = "the COPY header has flags set";
		return PGCOPY_BAD;
	}
	uint32_t ext = pgcopy_be32(p + 15);
	if (ext > len - PGCOPY_HEADER_MIN)
		return PGCOPY_MORE;
	*used = PGCOPY_HEADER_MIN + ext;
	return 1;
}

int
pgcopy_read_tuple(const unsigned char *p, size_t len, struct pgcopy_tuple *t,
    size_t *used, const char **why)
{
	size_t off = 2;

	if (len < 2)
		return PGCOPY_MORE;
	int nf = (int16_t)(p[0] << 8 | p[1]);
	if (nf == -1) {
		*used = 2;
		return PGCOPY_TRAILER;
	}
	if (nf < 0 || (t != NULL && nf > PGCOPY_MAXF)) {
		*why = "a COPY tuple has a bad field count";
		return PGCOPY_BAD;
	}
	for (int i = 0; i < nf; i++) {
		if (len - off < 4)
			return PGCOPY_MORE;
		uint32_t n = pgcopy_be32(p + off);
		off += 4;
		if (n == PGCOPY_NULL_LEN) {
			if (t) {
				t->f[i] = NULL;
				t->flen[i] = 0;
			}
			continue;
		}
		if (len - off < n)
			return PGCOPY_MORE;
		if (t) {
			t->f[i] = p + off;
			t->flen[i] = n;
		}
		off += n;
	}
	if (t) {
		t->data = p;
		t->len = off;
		t->nf = nf;
	}
	*used = off;
	return PGCOPY_TUPLE;
}

size_t
pgcopy_tuple_len(const unsigned char *row, size_t len)
{
	const char *why;
	size_t used;

	return pgcopy_read_tuple(row, len, NULL, &used, &why) == PGCOPY_TUPLE ?
	    used : 0;
}

long
pgcopy_walk(const unsigned char *p, size_t len, int nf, pgcopy_tuple_cb *fn,
    void *ctx, const char **why)
{
	struct pgcopy_tuple t;
	size_t pos, used;
	long count = 0;

	switch (pgcopy_read_header(p, len, &pos, why)) {
	case PGCOPY_BAD:
		return -1;
	case PGCOPY_MORE:
		*why = len < PGCOPY_SIGNATURE_LEN ?
		    "not a binary COPY file (no PGCOPY signature)" :
		    "the COPY header is cut short";
		return -1;
	}
	for (;;) {
		switch (pgcopy_read_tuple(p + pos, len - pos, &t, &used, why)) {
		case PGCOPY_BAD:
			return -1;
		case PGCOPY_MORE:
			*why = len - pos < 2 ? "the COPY trailer is missing" :
			    "a row is cut short";
			return -1;
		case PGCOPY_TRAILER:
			if (pos + used != len) {
				*why = "there are bytes after the COPY trailer";
				return -1;
			}
			return count;
		}
		if (t.nf != nf) {
			*why = "a row has the wrong number of columns";
			return -1;
		}
		if (fn && fn(ctx, &t) < 0) {
			*why = "a row cannot be read";
			return -1;
		}
		count++;
		pos += used;
	}
}

int64_t
pgcopy_get_int8(const struct pgcopy_tuple *t, int i)
{
	const unsigned char *p = t->f[i];

	if (p == NULL || t->flen[i] != 8)
		return 0;
	return (int64_t)((uint64_t)pgcopy_be32(p) << 32 | pgcopy_be32(p + 4));
}

int32_t
pgcopy_get_int4(const struct pgcopy_tuple *t, int i)
{
	if (t->f[i] == NULL || t->flen[i] != 4)
		return 0;
	return (int32_t)pgcopy_be32(t->f[i]);
}

int64_t
pgcopy_get_timestamptz(const struct pgcopy_tuple *t, int i)
{
	return pgcopy_get_int8(t, i) + PGCOPY_EPOCH_OFFSET_US;
}
