#include "split.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Returns -1, adding nothing, once max_items are there. */
static int
add_item(struct split *sp, size_t off, size_t len, size_t line)
{
	if (sp->max_items && sp->n == sp->max_items) {
		sp->over = 1;
		return -1;
	}
	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 64;
		sp->items = xrealloc(sp->items, sp->cap * sizeof(*sp->items));
	}
	sp->items[sp->n].off = off;
	sp->items[sp->n].len = len;
	sp->items[sp->n].line = line;
	sp->n++;
	return 0;
}

static void
split_reset(struct split *sp)
{
	sp->n = 0;
	sp->error = NULL;
	sp->over = 0;
}

void
split_ndjson(struct split *sp, const unsigned char *b, size_t len)
{
	split_reset(sp);
	size_t pos = 0, line = 1;

	while (pos < len) {
		const unsigned char *nl = memchr(b + pos, '\n', len - pos);
		size_t start = pos, end = nl ? (size_t)(nl - b) : len;
		size_t p = start;

		while (p < end && is_ws(b[p]))
			p++;
		if (p < end) {	/* not a blank line */
			size_t stop = end;
			if (b[stop - 1] == '\r')
				stop--;
			if (add_item(sp, start, stop - start, line) < 0)
				return;
		}
		pos = end + 1;	/* past the newline */
		line++;
	}
}

/* Scans one array element starting at *pos and leaves *pos on the ',' or ']'
 * that ends it. Returns 0, or -1 when the body ends first or a '}' closes
 * the array. */
static int
scan_element(const unsigned char *b, size_t len, size_t *pos, size_t *line)
{
	size_t depth = 0;
	int in_str = 0, esc = 0;

	for (; *pos < len; (*pos)++) {
		unsigned char c = b[*pos];

		if (c == '\n')
			(*line)++;
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return c == ']' ? 0 : -1;
			depth--;
			break;
		case ',':
			if (depth == 0)
				return 0;
			break;
		}
	}
	return -1;
}

void
split_json(struct split *sp, const unsigned char *b, size_t len)
{
	split_reset(sp);
	size_t pos = 0, line = 1;

	while (pos < len && is_ws(b[pos]))
		if (b[pos++] == '\n')
			line++;
	if (pos == len) {
		sp->error = "empty body";
		return;
	}
	if (b[pos] != '[') {
		size_t end = len;

		while (end > pos && is_ws(b[end - 1]))
			end--;
		(void)add_item(sp, pos, end - pos, line);
		return;
	}
	pos++;
	/* An empty array is zero items. */
	size_t p = pos, l = line;
	while (p < len && is_ws(b[p]))
		if (b[p++] == '\n')
			l++;
	if (p < len && b[p] == ']') {
		pos = p + 1;
		line = l;
	} else {
		for (;;) {
			while (pos < len && is_ws(b[pos]))
				if (b[pos++] == '\n')
					line++;
			size_t start = pos, start_line = line;

			if (scan_element(b, len, &pos, &line) < 0) {
				sp->error = pos >= len ? "unterminated JSON array"
				    : "unbalanced '}' in JSON array";
				sp->n = 0;
				return;
			}
			size_t end = pos;
			while (end > start && is_ws(b[end - 1]))
				end--;
			if (add_item(sp, start, end - start, start_line) < 0)
				return;
			if (b[pos++] == ']')
				break;
		}
	}
	while (pos < len && is_ws(b[pos]))
		pos++;
	if (pos < len) {
		sp->error = "trailing data after JSON array";
		sp->n = 0;
	}
}

void
split_body(struct split *sp, enum content_type ct, const unsigned char *body,
    size_t len)
{
	if (ct == CT_NDJSON || ct == CT_CEF || ct == CT_SYSLOG ||
	    ct == CT_MAPPED_NDJSON)
		split_ndjson(sp, body, len);	/* one item per line */
	else
		split_json(sp, body, len);
}

void
split_free(struct split *sp)
{
	free(sp->items);
	sp->items = NULL;
	sp->n = sp->cap = 0;
}
