/* torture_pgcopy.c - binary COPY encoding and decoding (common/pgcopy.c):
 * fixed bytes for each encoder, encode -> decode round trips, and each way
 * a COPY file can be malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "pgcopy.h"

static void
assert_bytes(const struct buf *b, const void *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

static void
test_encode_fixed_bytes(void **state)
{
	static const unsigned char ip4[4] = { 192, 0, 2, 1 };
	static const unsigned char ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct buf b = BUF_INIT;

	(void)state;
	pgcopy_header(&b);
	assert_bytes(&b, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	buf_reset(&b);
	pgcopy_trailer(&b);
	assert_bytes(&b, "\377\377", 2);
	buf_reset(&b);
	pgcopy_row(&b, 18);
	assert_bytes(&b, "\0\022", 2);
	buf_reset(&b);
	pgcopy_null(&b);
	assert_bytes(&b, "\377\377\377\377", 4);
	buf_reset(&b);
	pgcopy_int2(&b, -2);
	assert_bytes(&b, "\0\0\0\002\377\376", 6);
	buf_reset(&b);
	pgcopy_int4(&b, 0x01020304);
	assert_bytes(&b, "\0\0\0\004\001\002\003\004", 8);
	buf_reset(&b);
	pgcopy_int8(&b, -1);
	assert_bytes(&b, "\0\0\0\010\377\377\377\377\377\377\377\377", 12);
	buf_reset(&b);
	pgcopy_bool(&b, 7);
	assert_bytes(&b, "\0\0\0\001\001", 5);
	buf_reset(&b);
	pgcopy_bytes(&b, "ab", 2);
	assert_bytes(&b, "\0\0\0\002ab", 6);
	buf_reset(&b);
	/* 2000-01-01T00:00:00Z is PostgreSQL's zero. */
	pgcopy_timestamptz(&b, PGCOPY_EPOCH_OFFSET_US);
	assert_bytes(&b, "\0\0\0\010\0\0\0\0\0\0\0\0", 12);
	buf_reset(&b);
	/* 1970-01-01T00:00:00.000001Z */
	pgcopy_timestamptz(&b, 1);
	assert_bytes(&b, "\0\0\0\010\xff\xfc\xa2\xfe\xc4\xc8\x20\x01", 12);
	buf_reset(&b);
	pgcopy_inet(&b, 4, ip4);
	assert_bytes(&b, "\0\0\0\010\002\040\0\004\300\0\002\001", 12);
	buf_reset(&b);
	pgcopy_inet(&b, 6, ip6);
	assert_bytes(&b, "\0\0\0\024\003\200\0\020\040\001\015\270"
	    "\0\0\0\0\0\0\0\0\0\0\0\001", 24);
	buf_free(&b);
}

/* A file of two rows (int8, int4, NULL, text, timestamptz). */
static void
sample_file(struct buf *b)
{
	pgcopy_header(b);
	for (int r = 0; r < 2; r++) {
		pgcopy_row(b, 5);
		pgcopy_int8(b, 1234567890123LL + r);
		pgcopy_int4(b, -7 - r);
		pgcopy_null(b);
		pgcopy_bytes(b, r ? "" : "Å", r ? 0 : 2);
		pgcopy_timestamptz(b, 1764633600000000LL + r);
	}
	pgcopy_trailer(b);
}

struct seen {
	int rows;
};

static int
check_row(void *ctx, const struct pgcopy_tuple *t)
{
	struct seen *s = ctx;
	int r = s->rows++;

	assert_int_equal(t->nf, 5);
	assert_int_equal(pgcopy_get_int8(t, 0), 1234567890123LL + r);
	assert_int_equal(pgcopy_get_int4(t, 1), -7 - r);
	assert_null(t->f[2]);
	assert_int_equal(t->flen[2], 0);
	assert_int_equal(t->flen[3], r ? 0 : 2);
	if (r == 0)
		assert_memory_equal(t->f[3], "Å", 2);
	assert_int_equal(pgcopy_get_timestamptz(t, 4), 1764633600000000LL + r);
	/* Wrong widths and NULL read as 0. */
	assert_int_equal(pgcopy_get_int8(t, 1), 0);
	assert_int_equal(pgcopy_get_int4(t, 2), 0);
	assert_int_equal(pgcopy_tuple_len(t->data, t->len), t->len);
	assert_int_equal(pgcopy_tuple_len(t->data, t->len - 1), 0);
	return 0;
}

static void
test_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	struct seen s = { 0 };
	const char *why = NULL;

	(void)state;
	sample_file(&b);
	assert_int_equal(pgcopy_walk(b.data, b.len, 5, check_row, &s, &why), 2);
	assert_int_equal(s.rows, 2);
	assert_null(why);
	buf_free(&b);
}

/* Reading byte by byte: PGCOPY_MORE until each part is whole. */
static void
test_incremental(void **state)
{
	struct buf b = BUF_INIT;
	struct pgcopy_tuple t;
	const char *why;
	size_t used, pos, n;
	int r;

	(void)state;
	sample_file(&b);
	for (n = 0; n < 19; n++)
		assert_int_equal(pgcopy_read_header(b.data, n, &used, &why),
		    PGCOPY_MORE);
	assert_int_equal(pgcopy_read_header(b.data, b.len, &used, &why), 1);
	assert_int_equal(used, 19);
	pos = used;
	for (int row = 0; row < 2; row++) {
		size_t tl = pgcopy_tuple_len(b.data + pos, b.len - pos);
		assert_true(tl > 0);
		for (n = 0; n < tl; n++)
			assert_int_equal(pgcopy_read_tuple(b.data + pos, n, &t,
			    &used, &why), PGCOPY_MORE);
		r = pgcopy_read_tuple(b.data + pos, tl, &t, &used, &why);
		assert_int_equal(r, PGCOPY_TUPLE);
		assert_int_equal(used, tl);
		pos += used;
	}
	assert_int_equal(pgcopy_read_tuple(b.data + pos, b.len - pos, &t, &used,
	    &why), PGCOPY_TRAILER);
	assert_int_equal(used, 2);
	assert_int_equal(pos + 2, b.len);
	buf_free(&b);
}

static void
expect_bad(const struct buf *b, int nf, const char *want)
{
	const char *why = NULL;

	assert_int_equal(pgcopy_walk(b->data, b->len, nf, NULL, NULL, &why), -1);
	assert_string_equal(why, want);
}

static void
test_malformed(void **state)
{
	struct buf b = BUF_INIT, x = BUF_INIT;

	(void)state;
	sample_file(&b);
	expect_bad(&b, 4, "a row has the wrong number of columns");

	buf_append(&x, b.data, b.len);
	x.data[0] = 'p';
	expect_bad(&x, 5, "not a binary COPY file (no PGCOPY signature)");
	x.len = 5;
	x.data[0] = 'P';
	expect_bad(&x, 5, "not a binary COPY file (no PGCOPY signature)");

	buf_reset(&x);
	buf_append(&x, b.data, b.len);
	x.data[14] = 1;
	expect_bad(&x, 5, "the COPY header has flags set");

	buf_reset(&x);
	buf_append(&x, b.data, 17);
	expect_bad(&x, 5, "the COPY header is cut short");

	buf_reset(&x);
	buf_append(&x, b.data, b.len - 2);
	expect_bad(&x, 5, "the COPY trailer is missing");

	buf_reset(&x);
	buf_append(&x, b.data, b.len - 5);
	expect_bad(&x, 5, "a row is cut short");

	buf_reset(&x);
	buf_append(&x, b.data, b.len);
	buf_putc(&x, 0);
	expect_bad(&x, 5, "there are bytes after the COPY trailer");

	/* A field count of -2. */
	buf_reset(&x);
	pgcopy_header(&x);
	buf_append(&x, "\377\376", 2);
	expect_bad(&x, 5, "a COPY tuple has a bad field count");

	buf_free(&b);
	buf_free(&x);
}

static int
refuse(void *ctx, const struct pgcopy_tuple *t)
{
	(void)ctx;
	(void)t;
	return -1;
}

static void
test_callback_stops(void **state)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;

	(void)state;
	sample_file(&b);
	assert_int_equal(pgcopy_walk(b.data, b.len, 5, refuse, NULL, &why), -1);
	assert_string_equal(why, "a row cannot be read");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_fixed_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
