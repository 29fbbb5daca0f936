/* torture_split.c - request bodies into item spans (common/split.c), and the
 * UTF-8 check (common/utf8.c) and JSON string quoting (common/buf.c) that
 * sit next to it on the receive and reply paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "parse.h"
#include "split.h"
#include "utf8.h"

struct want {
	size_t off, len, line;
	const char *text;
};

/* Splits a copy of body in a buffer of exactly len bytes (so ASan sees any
 * read past the end) and compares every span and the error. */
static void
split_check(enum content_type ct, const char *body, size_t len,
    const char *error, const struct want *w, size_t nw, const char *file,
    int line)
{
	struct split sp = { 0 };
	unsigned char *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, body, len);
	split_body(&sp, ct, copy, len);
	if (error == NULL && sp.error != NULL)
		fail_msg("%s:%d: unexpected error '%s'", file, line, sp.error);
	if (error != NULL && (sp.error == NULL || strcmp(sp.error, error) != 0))
		fail_msg("%s:%d: error '%s', want '%s'", file, line,
		    sp.error ? sp.error : "(none)", error);
	if (sp.n != nw)
		fail_msg("%s:%d: %zu items, want %zu", file, line, sp.n, nw);
	for (size_t i = 0; i < nw; i++) {
		const struct item_span *s = &sp.items[i];

		if (s->off != w[i].off || s->len != w[i].len || s->line != w[i].line)
			fail_msg("%s:%d: item %zu is (off %zu, len %zu, line %zu), "
			    "want (%zu, %zu, %zu)", file, line, i, s->off, s->len,
			    s->line, w[i].off, w[i].len, w[i].line);
		if (w[i].text && (strlen(w[i].text) != s->len ||
		    memcmp(copy + s->off, w[i].text, s->len) != 0))
			fail_msg("%s:%d: item %zu is '%.*s', want '%s'", file, line,
			    i, (int)s->len, copy + s->off, w[i].text);
	}
	split_free(&sp);
	assert_null(sp.items);
	free(copy);
}

#define SPLIT(ct, body, error, ...) do {				\
	static const struct want w_[] = { __VA_ARGS__ };		\
	split_check(ct, "" body, sizeof(body) - 1, error, w_,		\
	    sizeof(w_) / sizeof(w_[0]), __FILE__, __LINE__);		\
} while (0)
#define SPLIT_NONE(ct, body, error) \
	split_check(ct, "" body, sizeof(body) - 1, error, NULL, 0, __FILE__, __LINE__)

/* ---- NDJSON -------------------------------------------------------------- */

static void
test_ndjson_lines(void **state)
{
	(void)state;
	SPLIT(CT_NDJSON, "a\nbb\nccc\n", NULL,
	    { 0, 1, 1, "a" }, { 2, 2, 2, "bb" }, { 5, 3, 3, "ccc" });
	SPLIT(CT_NDJSON, "{\"a\":1}", NULL, { 0, 7, 1, "{\"a\":1}" });
	SPLIT(CT_NDJSON, "{\"a\":1}\n", NULL, { 0, 7, 1, "{\"a\":1}" });
	/* No final newline. */
	SPLIT(CT_NDJSON, "a\nb", NULL, { 0, 1, 1, "a" }, { 2, 1, 2, "b" });
	/* Brackets and commas mean nothing in NDJSON. */
	SPLIT(CT_NDJSON, "[1,\n2]\n", NULL, { 0, 3, 1, "[1," }, { 4, 2, 2, "2]" });
	/* Leading and trailing blanks stay part of the item. */
	SPLIT(CT_NDJSON, "  x  \n\tyy\t\r\n", NULL,
	    { 0, 5, 1, "  x  " }, { 6, 4, 2, "\tyy\t" });
}

static void
test_ndjson_crlf(void **state)
{
	(void)state;
	SPLIT(CT_NDJSON, "a\r\nbb\r\nccc\r\n", NULL,
	    { 0, 1, 1, "a" }, { 3, 2, 2, "bb" }, { 7, 3, 3, "ccc" });
	/* A final CR without LF is dropped too. */
	SPLIT(CT_NDJSON, "a\r\nz\r", NULL, { 0, 1, 1, "a" }, { 3, 1, 2, "z" });
	/* Only one CR before the LF is dropped; other CRs are data. */
	SPLIT(CT_NDJSON, "a\r\r\nb\rc\n", NULL,
	    { 0, 2, 1, "a\r" }, { 4, 3, 2, "b\rc" });
	/* Mixed endings. */
	SPLIT(CT_NDJSON, "a\nb\r\nc", NULL,
	    { 0, 1, 1, "a" }, { 2, 1, 2, "b" }, { 5, 1, 3, "c" });
}

static void
test_ndjson_blank_lines(void **state)
{
	(void)state;
	SPLIT(CT_NDJSON, "\n\na\n  \t\nb\r\n\r\n \r\nc", NULL,
	    { 2, 1, 3, "a" }, { 8, 1, 5, "b" }, { 16, 1, 8, "c" });
	SPLIT(CT_NDJSON, "\r\n\r\n{}\r\n\r\n", NULL, { 4, 2, 3, "{}" });
	SPLIT(CT_NDJSON, "x\n\n\n\n\n\n\n\n\n\ny", NULL,
	    { 0, 1, 1, "x" }, { 11, 1, 11, "y" });
	/* Bodies with no items are not an error for NDJSON. */
	SPLIT_NONE(CT_NDJSON, "", NULL);
	SPLIT_NONE(CT_NDJSON, "\n", NULL);
	SPLIT_NONE(CT_NDJSON, "\n\n\r\n \t \n", NULL);
	SPLIT_NONE(CT_NDJSON, "   ", NULL);
	SPLIT_NONE(CT_NDJSON, "\r", NULL);
}

static void
test_ndjson_many_lines(void **state)
{
	struct split sp = { 0 };
	struct buf b = BUF_INIT;

	(void)state;
	/* Item k on line 2k + 1, a blank line between: past the first
	 * allocation of spans. */
	for (int k = 0; k < 1000; k++)
		buf_printf(&b, "{\"k\":%d}\n%s\n", k, k % 2 ? "" : " \t\r");
	split_body(&sp, CT_NDJSON, b.data, b.len);
	assert_null(sp.error);
	assert_int_equal(sp.n, 1000);
	for (size_t k = 0; k < sp.n; k++) {
		char want[32];
		int n = snprintf(want, sizeof(want), "{\"k\":%zu}", k);

		assert_int_equal(sp.items[k].line, 2 * k + 1);
		assert_int_equal(sp.items[k].len, (size_t)n);
		assert_memory_equal(b.data + sp.items[k].off, want, (size_t)n);
	}
	/* The same struct splits again from scratch. */
	split_body(&sp, CT_NDJSON, (const unsigned char *)"a\nb", 3);
	assert_null(sp.error);
	assert_int_equal(sp.n, 2);
	assert_int_equal(sp.items[1].off, 2);
	assert_int_equal(sp.items[1].line, 2);
	split_free(&sp);
	split_free(&sp);
	buf_free(&b);
}

/* ---- JSON ---------------------------------------------------------------- */

static void
test_json_single(void **state)
{
	(void)state;
	SPLIT(CT_JSON, "{\"a\":1}", NULL, { 0, 7, 1, "{\"a\":1}" });
	SPLIT(CT_JSON, "  \n\r\n\t{\"a\":1} \n\n", NULL, { 6, 7, 3, "{\"a\":1}" });
	SPLIT(CT_JSON, "{\"a\":\n[1,2]}\n", NULL, { 0, 12, 1, "{\"a\":\n[1,2]}" });
	/* Anything that is not an array is one item, left for the parser. */
	SPLIT(CT_JSON, "42", NULL, { 0, 2, 1, "42" });
	SPLIT(CT_JSON, "}", NULL, { 0, 1, 1, "}" });
	SPLIT(CT_JSON, "{} {}", NULL, { 0, 5, 1, "{} {}" });
	SPLIT(CT_JSON, "\"[\"", NULL, { 0, 3, 1, "\"[\"" });
	SPLIT(CT_JSON, " x [", NULL, { 1, 3, 1, "x [" });
	/* Any content type but NDJSON is split as JSON. */
	SPLIT(CT_UNKNOWN, " {} ", NULL, { 1, 2, 1, "{}" });
}

static void
test_json_array(void **state)
{
	(void)state;
	SPLIT(CT_JSON, "[{\"a\":1},{\"b\":2}]", NULL,
	    { 1, 7, 1, "{\"a\":1}" }, { 9, 7, 1, "{\"b\":2}" });
	SPLIT(CT_JSON, "[1]", NULL, { 1, 1, 1, "1" });
	SPLIT(CT_JSON, "[1,\"two\",null,true,-3.5e2]", NULL,
	    { 1, 1, 1, "1" }, { 3, 5, 1, "\"two\"" }, { 9, 4, 1, "null" },
	    { 14, 4, 1, "true" }, { 19, 6, 1, "-3.5e2" });
	/* Nested arrays and objects are one element each. */
	SPLIT(CT_JSON, "[[1,[2,3]],{\"a\":[1,{\"b\":\"]\"}]},\"x\"]", NULL,
	    { 1, 9, 1, "[1,[2,3]]" }, { 11, 19, 1, "{\"a\":[1,{\"b\":\"]\"}]}" },
	    { 31, 3, 1, "\"x\"" });
	/* Brackets, braces, commas and escaped quotes inside strings. */
	SPLIT(CT_JSON, "[\"a,b]c\", \"q\\\"]\\\\\", {\"k\":\"}{,\"}, \"\\\\\"]", NULL,
	    { 1, 7, 1, "\"a,b]c\"" }, { 10, 8, 1, "\"q\\\"]\\\\\"" },
	    { 20, 11, 1, "{\"k\":\"}{,\"}" }, { 33, 4, 1, "\"\\\\\"" });
	SPLIT(CT_JSON, "[\"\\\\\\\"\",\"[\"]", NULL,
	    { 1, 6, 1, "\"\\\\\\\"\"" }, { 8, 3, 1, "\"[\"" });
}

static void
test_json_whitespace(void **state)
{
	(void)state;
	SPLIT(CT_JSON, "\n [ \n {\"a\":1} ,\n\t{\"b\":2}\n ] \n", NULL,
	    { 6, 7, 3, "{\"a\":1}" }, { 17, 7, 4, "{\"b\":2}" });
	SPLIT(CT_JSON, "[ 1 , 2 ]", NULL, { 2, 1, 1, "1" }, { 6, 1, 1, "2" });
	SPLIT(CT_JSON, "[\r\n1\r\n,\r\n2\r\n]\r\n", NULL,
	    { 3, 1, 2, "1" }, { 9, 1, 4, "2" });
	/* An element over several lines starts on its first line. */
	SPLIT(CT_JSON, "[{\"a\":\n1},\n2,\n\n3]", NULL,
	    { 1, 8, 1, "{\"a\":\n1}" }, { 11, 1, 3, "2" }, { 15, 1, 5, "3" });
	/* Newlines inside strings count (the parser rejects them later). */
	SPLIT(CT_JSON, "[\"a\nb\", 1]", NULL, { 1, 5, 1, "\"a\nb\"" },
	    { 8, 1, 2, "1" });
}

static void
test_json_empty_array(void **state)
{
	(void)state;
	SPLIT_NONE(CT_JSON, "[]", NULL);
	SPLIT_NONE(CT_JSON, " [ \n\t ] \n", NULL);
	SPLIT_NONE(CT_JSON, "\r\n[]\r\n", NULL);
	/* Empty elements are zero-length items, for the parser to reject. */
	SPLIT(CT_JSON, "[1,,2]", NULL,
	    { 1, 1, 1, "1" }, { 3, 0, 1, "" }, { 4, 1, 1, "2" });
	SPLIT(CT_JSON, "[,]", NULL, { 1, 0, 1, "" }, { 2, 0, 1, "" });
	SPLIT(CT_JSON, "[1,]", NULL, { 1, 1, 1, "1" }, { 3, 0, 1, "" });
	SPLIT(CT_JSON, "[ , ]", NULL, { 2, 0, 1, "" }, { 4, 0, 1, "" });
}

static void
test_json_errors(void **state)
{
	(void)state;
	SPLIT_NONE(CT_JSON, "", "empty body");
	SPLIT_NONE(CT_JSON, " \r\n\t", "empty body");
	SPLIT_NONE(CT_JSON, "[", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[ \n", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[1,2", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[1,", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[{\"a\":1]", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[1,[2]", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[\"abc]", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[\"abc\\\"]", "unterminated JSON array");
	SPLIT_NONE(CT_JSON, "[1}", "unbalanced '}' in JSON array");
	SPLIT_NONE(CT_JSON, "[{\"a\":1}}]", "unbalanced '}' in JSON array");
	SPLIT_NONE(CT_JSON, "[1,2,3,}", "unbalanced '}' in JSON array");
	SPLIT_NONE(CT_JSON, "[1] x", "trailing data after JSON array");
	SPLIT_NONE(CT_JSON, "[1][2]", "trailing data after JSON array");
	SPLIT_NONE(CT_JSON, "[1],", "trailing data after JSON array");
	SPLIT_NONE(CT_JSON, "[] x", "trailing data after JSON array");
	SPLIT_NONE(CT_JSON, "[]]", "trailing data after JSON array");
	SPLIT_NONE(CT_JSON, "[{}]\n\n{}", "trailing data after JSON array");
}

static void
test_json_many_elements(void **state)
{
	struct split sp = { 0 };
	struct buf b = BUF_INIT;

	(void)state;
	buf_putc(&b, '[');
	for (int k = 0; k < 1000; k++)
		buf_printf(&b, "%s{\"k\":[%d,\"]\"]}%s", k ? "," : "", k,
		    k % 10 == 9 ? "\n" : "");
	buf_putc(&b, ']');
	split_body(&sp, CT_JSON, b.data, b.len);
	assert_null(sp.error);
	assert_int_equal(sp.n, 1000);
	for (size_t k = 0; k < sp.n; k++) {
		char want[32];
		int n = snprintf(want, sizeof(want), "{\"k\":[%zu,\"]\"]}", k);

		assert_int_equal(sp.items[k].line, k / 10 + 1);
		assert_int_equal(sp.items[k].len, (size_t)n);
		assert_memory_equal(b.data + sp.items[k].off, want, (size_t)n);
	}
	/* An error on reuse leaves no items. */
	split_body(&sp, CT_JSON, (const unsigned char *)"[1", 2);
	assert_string_equal(sp.error, "unterminated JSON array");
	assert_int_equal(sp.n, 0);
	/* And the next good split clears the error. */
	split_body(&sp, CT_JSON, (const unsigned char *)"[1]", 3);
	assert_null(sp.error);
	assert_int_equal(sp.n, 1);
	split_free(&sp);
	buf_free(&b);
}

/* ---- real samples (tests/data/SOURCES.md) -------------------------------- */

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	if (f == NULL)
		fail_msg("%s: cannot open (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Foreign JSON logs split cleanly and fail as items without an id. */
static void
test_sample_files(void **state)
{
	static const size_t suri_off[] = { 0, 2128, 3436, 4744 };
	static const size_t suri_len[] = { 2127, 1307, 1307, 1307 };
	struct split sp = { 0 };
	struct sec_event ev;
	char err[512];
	unsigned char *body;
	size_t len;

	(void)state;
	body = read_file("tests/data/crowdsec-hub_suricata-eve-detect.log", &len);
	assert_int_equal(len, 6052);
	split_body(&sp, CT_NDJSON, body, len);
	assert_null(sp.error);
	assert_int_equal(sp.n, 4);
	for (size_t i = 0; i < sp.n; i++) {
		assert_int_equal(sp.items[i].off, suri_off[i]);
		assert_int_equal(sp.items[i].len, suri_len[i]);
		assert_int_equal(sp.items[i].line, i + 1);
		assert_int_equal(event_parse_json(body + sp.items[i].off,
		    sp.items[i].len, &ev, err, sizeof(err)), -1);
		assert_string_equal(err, "missing required field 'id'");
	}
	/* As one JSON body it is one item with three objects too many. */
	split_body(&sp, CT_JSON, body, len);
	assert_null(sp.error);
	assert_int_equal(sp.n, 1);
	assert_int_equal(sp.items[0].len, len - 1);
	assert_int_equal(event_parse_json(body, sp.items[0].len, &ev, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "invalid JSON at byte 2128: unexpected character");
	free(body);

	/* One object, no final newline, a UTF-8 'µ' and \u0026 escapes. */
	body = read_file("tests/data/crowdsec-hub_k8s-audit-pod-exec-file.log", &len);
	assert_int_equal(len, 924);
	assert_int_equal(utf8_invalid_at(body, len), (size_t)-1);
	for (int ct = CT_JSON; ct <= CT_NDJSON; ct++) {
		split_body(&sp, (enum content_type)ct, body, len);
		assert_null(sp.error);
		assert_int_equal(sp.n, 1);
		assert_int_equal(sp.items[0].off, 0);
		assert_int_equal(sp.items[0].len, 924);
		assert_int_equal(sp.items[0].line, 1);
	}
	assert_int_equal(event_parse_json(body, len, &ev, err, sizeof(err)), -1);
	assert_string_equal(err, "missing required field 'id'");
	free(body);
	split_free(&sp);
}

/* ---- utf8_invalid_at ----------------------------------------------------- */

#define BAD_AT(s, at) \
	assert_int_equal(utf8_invalid_at((const unsigned char *)"" s, \
	    sizeof(s) - 1), (size_t)(at))
#define GOOD(s)	BAD_AT(s, -1)

static void
test_utf8_cases(void **state)
{
	(void)state;
	assert_int_equal(utf8_invalid_at((const unsigned char *)"", 0), (size_t)-1);
	assert_int_equal(utf8_invalid_at(NULL, 0), (size_t)-1);
	GOOD("plain ASCII \x01\x1f\x7f");
	GOOD("\xc2\x80");			/* U+0080 */
	GOOD("\xc3\xa9\xdf\xbf");		/* U+00E9 U+07FF */
	GOOD("\xe0\xa0\x80");			/* U+0800 */
	GOOD("\xe2\x82\xac");			/* U+20AC */
	GOOD("\xed\x9f\xbf");			/* U+D7FF */
	GOOD("\xee\x80\x80");			/* U+E000 */
	GOOD("\xef\xbf\xbd\xef\xbf\xbf");	/* U+FFFD U+FFFF */
	GOOD("\xef\xbb\xbf");			/* BOM */
	GOOD("\xf0\x90\x80\x80");		/* U+10000 */
	GOOD("\xf0\x9d\x84\x9e");		/* U+1D11E */
	GOOD("\xf4\x8f\xbf\xbf");		/* U+10FFFF */
	BAD_AT("abc\0def", 3);			/* NUL */
	BAD_AT("\0", 0);
	BAD_AT("\xc0\x80", 0);			/* overlong NUL */
	BAD_AT("ab\xc0\xaf", 2);		/* overlong '/' */
	BAD_AT("\xc1\xbf", 0);
	BAD_AT("\xe0\x80\xaf", 0);
	BAD_AT("\xe0\x9f\xbf", 0);
	BAD_AT("\xf0\x80\x80\xaf", 0);
	BAD_AT("\xf0\x8f\xbf\xbf", 0);
	BAD_AT("x\xed\xa0\x80", 1);		/* U+D800 */
	BAD_AT("\xed\xbf\xbf", 0);		/* U+DFFF */
	BAD_AT("\xf4\x90\x80\x80", 0);		/* U+110000 */
	BAD_AT("\xf5\x80\x80\x80", 0);
	BAD_AT("\xf8\x88\x80\x80\x80", 0);
	BAD_AT("\xfe", 0);
	BAD_AT("\xff", 0);
	BAD_AT("\x80", 0);			/* stray continuation */
	BAD_AT("\xc3\xa9\xbf", 2);
	BAD_AT("a\xc3", 1);			/* truncated at the end */
	BAD_AT("a\xe2\x82", 1);
	BAD_AT("\xf0\x9d\x84", 0);
	BAD_AT("\xc3(", 0);			/* bad continuation */
	BAD_AT("\xe2(\xa1", 0);
	BAD_AT("\xe2\x82(", 0);
	BAD_AT("\xf0\x9d\x84(", 0);
	/* Only n bytes are looked at. */
	assert_int_equal(utf8_invalid_at((const unsigned char *)"ab\xc3\xa9", 3), 2);
	assert_int_equal(utf8_invalid_at((const unsigned char *)"ab\0", 2),
	    (size_t)-1);
}

static size_t
utf8_encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Every code point, and every overlong form of the 2-, 3- and 4-byte
 * sequences. */
static void
test_utf8_exhaustive(void **state)
{
	unsigned char s[5];

	(void)state;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n = utf8_encode(cp, s);
		size_t want = cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) ? 0 :
		    (size_t)-1;

		if (utf8_invalid_at(s, n) != want)
			fail_msg("U+%04X: got %zu", (unsigned)cp,
			    utf8_invalid_at(s, n));
		/* Cut short, it is never valid. */
		for (size_t k = 1; k < n; k++)
			assert_int_equal(utf8_invalid_at(s, k), 0);
	}
	for (uint32_t cp = 0; cp < 0x10000; cp++) {
		/* cp in 4 bytes, and below U+0800 in 3, below U+0080 in 2. */
		s[0] = (unsigned char)(0xf0 | cp >> 18);
		s[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		s[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		s[3] = (unsigned char)(0x80 | (cp & 0x3f));
		assert_int_equal(utf8_invalid_at(s, 4), 0);
		if (cp < 0x800) {
			s[0] = (unsigned char)(0xe0 | cp >> 12);
			s[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			s[2] = (unsigned char)(0x80 | (cp & 0x3f));
			assert_int_equal(utf8_invalid_at(s, 3), 0);
		}
		if (cp < 0x80) {
			s[0] = (unsigned char)(0xc0 | cp >> 6);
			s[1] = (unsigned char)(0x80 | (cp & 0x3f));
			assert_int_equal(utf8_invalid_at(s, 2), 0);
		}
	}
	/* Above U+10FFFF. */
	for (uint32_t cp = 0x110000; cp < 0x200000; cp += 0x3ff) {
		utf8_encode(cp, s);
		assert_int_equal(utf8_invalid_at(s, 4), 0);
	}
}

/* utf8_cut: the longest prefix of at most max bytes that ends on a
 * character boundary. */
static void
test_utf8_cut(void **state)
{
	static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e" "b";
	const size_t n = sizeof(s) - 1;		/* 11 bytes, 5 characters */
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11 };

	(void)state;
	assert_int_equal(utf8_cut("", 0, 0), 0);
	assert_int_equal(utf8_cut("", 0, 40), 0);
	assert_int_equal(utf8_cut("abc", 3, 0), 0);
	assert_int_equal(utf8_cut("abc", 3, 2), 2);
	assert_int_equal(utf8_cut("abc", 3, 3), 3);
	assert_int_equal(utf8_cut("abc", 3, 40), 3);
	for (size_t max = 0; max <= n + 2; max++) {
		size_t k = utf8_cut(s, n, max);

		assert_int_equal(k, want[max < n ? max : n]);
		/* Valid, and no longer prefix within max is. */
		assert_int_equal(utf8_invalid_at((const unsigned char *)s, k),
		    (size_t)-1);
		for (size_t j = k + 1; j <= max && j <= n; j++)
			assert_int_not_equal(utf8_invalid_at(
			    (const unsigned char *)s, j), (size_t)-1);
	}
}

/* ---- buf_put_json_string ------------------------------------------------- */

static void
json_quote_eq(const char *s, size_t n, const char *want)
{
	struct buf b = BUF_INIT;

	buf_put_json_string(&b, s, n);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

#define QUOTE_EQ(s, want)	json_quote_eq("" s, sizeof(s) - 1, want)

static void
test_json_string_escaping(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	QUOTE_EQ("", "\"\"");
	QUOTE_EQ("plain text", "\"plain text\"");
	QUOTE_EQ("a\"b\\c", "\"a\\\"b\\\\c\"");
	QUOTE_EQ("\n\r\t", "\"\\n\\r\\t\"");
	QUOTE_EQ("\b\f\v", "\"\\u0008\\u000c\\u000b\"");
	QUOTE_EQ("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	QUOTE_EQ("nul\0here", "\"nul\\u0000here\"");
	QUOTE_EQ("/</script>", "\"/</script>\"");
	QUOTE_EQ("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", "\"\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9d\x84\x9e\"");
	/* Appends to what is there. */
	buf_puts(&b, "{\"reason\":");
	buf_put_json_string(&b, "it's \"bad\"", 10);
	buf_putc(&b, '}');
	assert_string_equal(buf_cstr(&b), "{\"reason\":\"it's \\\"bad\\\"\"}");
	buf_free(&b);
}

/* What we quote, json-c reads back byte for byte. */
static void
test_json_string_roundtrip(void **state)
{
	char s[300];
	size_t n = 0;
	struct buf b = BUF_INIT;

	(void)state;
	for (int c = 0; c < 0x80; c++)
		s[n++] = (char)c;
	memcpy(s + n, "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\\\"\\", 12);
	n += 12;
	for (size_t len = 0; len <= n; len++) {
		struct json_object *o;

		buf_reset(&b);
		buf_put_json_string(&b, s + n - len, len);
		o = json_tokener_parse(buf_cstr(&b));
		assert_non_null(o);
		assert_true(json_object_is_type(o, json_type_string));
		assert_int_equal(json_object_get_string_len(o), len);
		assert_memory_equal(json_object_get_string(o), s + n - len, len);
		json_object_put(o);
	}
	/* A long run of characters that need escaping. */
	buf_reset(&b);
	memset(s, '"', sizeof(s));
	buf_put_json_string(&b, s, sizeof(s));
	assert_int_equal(b.len, 2 * sizeof(s) + 2);
	buf_free(&b);
}

/* A body of commas must not cost a span per byte: the split stops. */
static void
test_split_max_items(void **state)
{
	struct split sp = { 0 };
	static const unsigned char commas[] = "[,,,,,,,,,,,,,,,,,,,]";

	(void)state;
	sp.max_items = 5;
	split_body(&sp, CT_JSON, commas, sizeof(commas) - 1);
	assert_int_equal(sp.over, 1);
	assert_int_equal(sp.n, 5);
	split_body(&sp, CT_NDJSON, (const unsigned char *)"a\nb\nc\nd\ne\n", 10);
	assert_int_equal(sp.over, 0);
	assert_int_equal(sp.n, 5);
	split_body(&sp, CT_NDJSON, (const unsigned char *)"a\nb\nc\nd\ne\nf", 11);
	assert_int_equal(sp.over, 1);
	assert_true(sp.cap <= 64);
	split_free(&sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_max_items),
		cmocka_unit_test(test_ndjson_lines),
		cmocka_unit_test(test_ndjson_crlf),
		cmocka_unit_test(test_ndjson_blank_lines),
		cmocka_unit_test(test_ndjson_many_lines),
		cmocka_unit_test(test_json_single),
		cmocka_unit_test(test_json_array),
		cmocka_unit_test(test_json_whitespace),
		cmocka_unit_test(test_json_empty_array),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_many_elements),
		cmocka_unit_test(test_sample_files),
		cmocka_unit_test(test_utf8_cases),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_json_string_escaping),
		cmocka_unit_test(test_json_string_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
