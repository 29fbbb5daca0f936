#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "utf8.h"
#include "xmalloc.h"

/* The length of the valid UTF-8 character at s (at most n bytes), or 0
 * when s[0] does not start one. ASCII gives 1. */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n || utf8_invalid_at(s, len) != (size_t)-1)
		return 0;
	return len;
}

static void
put_escape(struct buf *b, const char *prefix, unsigned char c)
{
	char hx[3];

	hex_encode(&c, 1, hx);
	buf_puts(b, prefix);
	buf_append(b, hx, 2);
}

void
out_escape_text(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_char_len(p + i, n - i);

		if (len == 0) {
			put_escape(b, "\\x", p[i]);	/* not UTF-8 (0x9b too) */
			i++;
		} else if (len == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			put_escape(b, "\\x", p[i]);	/* C0, DEL */
			i++;
		} else if (len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			put_escape(b, "\\u00", p[i + 1]);	/* C1 */
			i += 2;
		} else {
			buf_append(b, p + i, len);
			i += len;
		}
	}
}

void
out_json_string(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		size_t len = utf8_char_len(p + i, n - i);

		if (len == 0) {
			buf_puts(b, "\\ufffd");
			i++;
		} else if (len == 1) {
			switch (p[i]) {
			case '"': buf_puts(b, "\\\""); break;
			case '\\': buf_puts(b, "\\\\"); break;
			case '\n': buf_puts(b, "\\n"); break;
			case '\r': buf_puts(b, "\\r"); break;
			case '\t': buf_puts(b, "\\t"); break;
			default:
				if (p[i] < 0x20 || p[i] == 0x7f)
					put_escape(b, "\\u00", p[i]);
				else
					buf_putc(b, (char)p[i]);
			}
			i++;
		} else if (len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			put_escape(b, "\\u00", p[i + 1]);
			i += 2;
		} else {
			buf_append(b, p + i, len);
			i += len;
		}
	}
	buf_putc(b, '"');
}

void
out_csv_cell(struct buf *b, const char *s, enum out_kind kind)
{
	struct buf e = BUF_INIT;

	/* A spreadsheet runs a cell that starts with one of these as a
	 * formula; the quote makes it text. */
	if (kind == OUT_TEXT && s[0] && strchr("=+-@\t\r", s[0]) != NULL)
		buf_putc(&e, '\'');
	out_escape_text(&e, s, strlen(s));
	/* An empty cell (SQL NULL too) is nothing; e.data is NULL then. */
	if (e.len == 0)
		return;
	/* Escaped text holds no CR or LF; commas and quotes need quoting. */
	if (memchr(e.data, ',', e.len) == NULL && memchr(e.data, '"', e.len) ==
	    NULL) {
		buf_append(b, e.data, e.len);
	} else {
		buf_putc(b, '"');
		for (size_t i = 0; i < e.len; i++) {
			if (e.data[i] == '"')
				buf_putc(b, '"');
			buf_putc(b, (char)e.data[i]);
		}
		buf_putc(b, '"');
	}
	buf_free(&e);
}

void
out_init(struct out *o, FILE *f, enum out_format format,
    const struct out_col *cols, size_t ncols)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->format = format;
	o->cols = cols;
	o->ncols = ncols;
	if (format != OUT_CSV)
		return;
	for (size_t c = 0; c < ncols; c++) {
		if (c)
			buf_putc(&o->line, ',');
		out_csv_cell(&o->line, cols[c].name, OUT_NUMBER);
	}
	buf_puts(&o->line, "\r\n");
	fwrite(o->line.data, 1, o->line.len, f);
}

static void
row_json(struct out *o, const char *const *cells)
{
	struct buf *b = &o->line;
	int n = 0;

	buf_putc(b, '{');
	for (size_t c = 0; c < o->ncols; c++) {
		const char *v = cells[c];

		if (v == NULL && !o->cols[c].json_null)
			continue;
		if (n++)
			buf_putc(b, ',');
		out_json_string(b, o->cols[c].name, strlen(o->cols[c].name));
		buf_putc(b, ':');
		if (v == NULL) {
			buf_puts(b, "null");
			continue;
		}
		switch (o->cols[c].kind) {
		case OUT_NUMBER:
		case OUT_RAWJSON:
			buf_puts(b, v);
			break;
		case OUT_BOOL:
			buf_puts(b, v[0] == 't' ? "true" : "false");
			break;
		case OUT_TEXT:
			out_json_string(b, v, strlen(v));
			break;
		}
	}
	buf_puts(b, "}\n");
}

void
out_row(struct out *o, const char *const *cells)
{
	buf_reset(&o->line);
	switch (o->format) {
	case OUT_JSON:
		row_json(o, cells);
		break;
	case OUT_CSV:
		for (size_t c = 0; c < o->ncols; c++) {
			if (c)
				buf_putc(&o->line, ',');
			out_csv_cell(&o->line, cells[c] ? cells[c] : "",
			    o->cols[c].kind);
		}
		buf_puts(&o->line, "\r\n");
		break;
	case OUT_TABLE:
		/* Kept escaped: widths are measured on what is shown. */
		if (o->nrows == o->cap) {
			o->cap = o->cap ? 2 * o->cap : 16;
			o->cells = xrealloc(o->cells, o->cap * o->ncols *
			    sizeof(*o->cells));
		}
		for (size_t c = 0; c < o->ncols; c++) {
			struct buf e = BUF_INIT;
			const char *v = cells[c] ? cells[c] : "";

			out_escape_text(&e, v, strlen(v));
			o->cells[o->nrows * o->ncols + c] = xstrdup(buf_cstr(&e));
			buf_free(&e);
		}
		o->nrows++;
		return;
	}
	fwrite(o->line.data, 1, o->line.len, o->f);
}

/* Characters, not bytes, so UTF-8 text lines up. */
static size_t
display_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* One escaped cell, cut to width characters with a closing "…", padded
 * unless it is the last of its line. */
static void
table_cell(struct buf *b, const char *v, size_t width, int last)
{
	size_t w = display_width(v);

	if (w > width) {
		size_t keep = 0, chars = 0;
		while (v[keep] && chars < width - 1) {
			keep++;
			while (((unsigned char)v[keep] & 0xc0) == 0x80)
				keep++;
			chars++;
		}
		buf_append(b, v, keep);
		buf_puts(b, "…");
		w = width;
	} else {
		buf_puts(b, v);
	}
	if (!last)
		for (; w < width + 2; w++)
			buf_putc(b, ' ');
}

void
out_finish(struct out *o)
{
	if (o->format == OUT_TABLE) {
		size_t *width = xcalloc(o->ncols, sizeof(*width));
		for (size_t c = 0; c < o->ncols; c++) {
			width[c] = display_width(o->cols[c].name);
			for (size_t r = 0; r < o->nrows; r++) {
				size_t w = display_width(o->cells[r * o->ncols + c]);
				if (o->cols[c].maxw && w > o->cols[c].maxw)
					w = o->cols[c].maxw;
				if (w > width[c])
					width[c] = w;
			}
		}
		buf_reset(&o->line);
		for (size_t c = 0; c < o->ncols; c++)
			table_cell(&o->line, o->cols[c].name, width[c],
			    c + 1 == o->ncols);
		buf_putc(&o->line, '\n');
		for (size_t r = 0; r < o->nrows; r++) {
			for (size_t c = 0; c < o->ncols; c++)
				table_cell(&o->line, o->cells[r * o->ncols + c],
				    width[c], c + 1 == o->ncols);
			buf_putc(&o->line, '\n');
		}
		fwrite(o->line.data, 1, o->line.len, o->f);
		free(width);
	}
	for (size_t i = 0; i < o->nrows * o->ncols; i++)
		free(o->cells[i]);
	free(o->cells);
	buf_free(&o->line);
	o->cells = NULL;
	o->nrows = o->cap = 0;
}
