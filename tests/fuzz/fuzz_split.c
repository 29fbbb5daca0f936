/* fuzz_split.c - libFuzzer harness for split_body() and utf8_invalid_at():
 * span invariants for both content types, the NDJSON split against a
 * plain re-implementation, the JSON split against the bytes between its
 * items, and the UTF-8 check (and cut) against a decoder written the long
 * way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "split.h"
#include "utf8.h"

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 1 + the newlines before off. */
static size_t
line_at(const unsigned char *b, size_t off)
{
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		line += b[i] == '\n';
	return line;
}

/* In bounds, in order, not overlapping, and on the line where they start. */
static void
check_spans(const struct split *sp, const unsigned char *b, size_t len)
{
	for (size_t i = 0; i < sp->n; i++) {
		const struct item_span *s = &sp->items[i];

		CHECK(s->off <= len && s->len <= len - s->off);
		CHECK(s->line == line_at(b, s->off));
		if (i) {
			const struct item_span *p = &sp->items[i - 1];

			CHECK(s->off > p->off);
			CHECK(s->off >= p->off + p->len);
			CHECK(s->line >= p->line);
		}
	}
}

/* NDJSON: the non-blank lines, each without its newline and one CR. */
static void
check_ndjson(const struct split *sp, const unsigned char *b, size_t len)
{
	size_t k = 0, pos = 0, line = 1;

	CHECK(sp->error == NULL);
	while (pos < len) {
		size_t end = pos, stop;
		int blank = 1;

		while (end < len && b[end] != '\n') {
			if (!is_ws(b[end]))
				blank = 0;
			end++;
		}
		stop = end;
		if (stop > pos && b[stop - 1] == '\r')
			stop--;
		if (!blank) {
			CHECK(k < sp->n);
			CHECK(sp->items[k].off == pos);
			CHECK(sp->items[k].len == stop - pos);
			CHECK(sp->items[k].line == line);
			CHECK(memchr(b + pos, '\n', stop - pos) == NULL);
			k++;
		}
		pos = end + 1;
		line++;
	}
	CHECK(k == sp->n);
}

/* Skips whitespace, then expects c (or the end when c is 0). */
static size_t
expect_gap(const unsigned char *b, size_t pos, size_t end, int c)
{
	while (pos < end && is_ws(b[pos]))
		pos++;
	if (c == 0) {
		CHECK(pos == end);
		return pos;
	}
	CHECK(pos < end && b[pos] == c);
	pos++;
	while (pos < end && is_ws(b[pos]))
		pos++;
	return pos;
}

/* JSON: either an error and no items, one item (the trimmed body) when it
 * is not an array, or the elements with only whitespace, '[', ',' and ']'
 * around them. */
static void
check_json(const struct split *sp, const unsigned char *b, size_t len)
{
	size_t first = 0, last = len;

	while (first < len && is_ws(b[first]))
		first++;
	while (last > first && is_ws(b[last - 1]))
		last--;
	if (sp->error) {
		CHECK(sp->n == 0);
		CHECK(strcmp(sp->error, "empty body") == 0 ||
		    strcmp(sp->error, "unterminated JSON array") == 0 ||
		    strcmp(sp->error, "unbalanced '}' in JSON array") == 0 ||
		    strcmp(sp->error, "trailing data after JSON array") == 0);
		if (strcmp(sp->error, "empty body") == 0)
			CHECK(first == len);
		else
			CHECK(first < len && b[first] == '[');
		return;
	}
	CHECK(first < len);
	if (b[first] != '[') {
		CHECK(sp->n == 1);
		CHECK(sp->items[0].off == first);
		CHECK(sp->items[0].len == last - first);
		return;
	}
	size_t pos = expect_gap(b, 0, len, '[');
	if (sp->n == 0) {
		expect_gap(b, expect_gap(b, pos, len, ']'), len, 0);
		return;
	}
	for (size_t i = 0; i < sp->n; i++) {
		const struct item_span *s = &sp->items[i];

		CHECK(s->off == pos);
		if (s->len) {
			CHECK(!is_ws(b[s->off]));
			CHECK(!is_ws(b[s->off + s->len - 1]));
		}
		pos = expect_gap(b, s->off + s->len, len,
		    i + 1 < sp->n ? ',' : ']');
	}
	expect_gap(b, pos, len, 0);
}

/* The UTF-8 check written the long way: decode, then test the value. */
static size_t
utf8_reference(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t len;

		if (c < 0x80) {
			if (c == 0)
				return i;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (n - i < len)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return (size_t)-1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct split sp = { 0 };

	split_body(&sp, CT_NDJSON, data, size);
	check_spans(&sp, data, size);
	check_ndjson(&sp, data, size);
	/* The same struct again, as split reuses its array. */
	split_body(&sp, CT_JSON, data, size);
	check_spans(&sp, data, size);
	check_json(&sp, data, size);
	split_free(&sp);

	CHECK(utf8_invalid_at(data, size) == utf8_reference(data, size));
	/* Every suffix, which moves the 8-byte fast path's alignment. */
	for (size_t k = 1; k < 8 && k <= size; k++)
		CHECK(utf8_invalid_at(data + k, size - k) ==
		    utf8_reference(data + k, size - k));
	/* utf8_cut on valid text: the longest valid prefix within max. */
	if (utf8_reference(data, size) == (size_t)-1) {
		for (size_t max = 0; max <= size + 1 && max < 64; max++) {
			size_t k = utf8_cut((const char *)data, size, max);

			CHECK(k <= max && k <= size);
			CHECK(utf8_reference(data, k) == (size_t)-1);
			CHECK(k == size || k == max || k + 4 > max);
			for (size_t j = k + 1; j <= max && j <= size; j++)
				CHECK(utf8_reference(data, j) != (size_t)-1);
		}
	}
	return 0;
}
