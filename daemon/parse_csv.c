/* parse_csv.c - the text/csv report (docs/PROTOCOL.md, "REPORT"): a header
 * row, then one entry per record, read by libcsv (RFC 4180: quoted fields,
 * "" escapes, line breaks inside quotes). The separator is ';' or ',' (the
 * content type's parameter, else the one the header holds more of outside
 * quotes); the charset UTF-8 (a BOM allowed) or Windows-1252, converted to
 * UTF-8 field by field with iconv. The body is fed to libcsv one line at a
 * time, so that each record's byte range in the body is known exactly. */
#include "parse.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"
#include "xmalloc.h"

#define HEADER_MAX_COLS	1000

struct field {
	size_t off, len;	/* in csvst.rec */
};

struct csvst {
	const struct report_meta *m;
	const unsigned char *body;
	size_t len;
	struct report_parsed *rp;
	iconv_t cd;			/* windows-1252 to UTF-8, or (iconv_t)-1 */
	struct buf rec;			/* the fields of the record, raw */
	struct field *f;
	size_t nf, fcap;
	struct buf conv;		/* one field, converted */
	/* where we are */
	size_t chunk_end;		/* just past the chunk being fed */
	size_t chunk_line;		/* the line the chunk is on */
	size_t rec_start;		/* where the record began (maybe blank) */
	size_t rec_line;
	/* the header */
	int have_header;
	size_t ncols;
	char **names;			/* UTF-8 */
	int *field_of;			/* enum report_field, or -1: attrs */
	size_t id_col;
	int stop;			/* refused: ignore the rest */
};

static void
on_field(void *s, size_t len, void *data)
{
	struct csvst *st = data;

	if (st->nf == st->fcap) {
		st->fcap = st->fcap ? st->fcap * 2 : 16;
		st->f = xrealloc(st->f, st->fcap * sizeof(*st->f));
	}
	st->f[st->nf].off = st->rec.len;
	st->f[st->nf].len = len;
	st->nf++;
	if (len)
		buf_append(&st->rec, s, len);
}

/* Field k of the record as UTF-8, in st->conv (NUL-terminated). */
static void
field_utf8(struct csvst *st, size_t k, const char **out, size_t *n)
{
	const char *raw = (const char *)st->rec.data + st->f[k].off;
	size_t len = st->f[k].len;

	if (st->cd == (iconv_t)-1) {
		*out = raw;
		*n = len;
		return;
	}
	buf_reset(&st->conv);
	buf_reserve(&st->conv, len * 3 + 1);
	char *in = (char *)raw, *o = (char *)st->conv.data;
	size_t inleft = len, outleft = len * 3 + 1;
	/* Checked before: every byte has a character. */
	if (iconv(st->cd, &in, &inleft, &o, &outleft) == (size_t)-1)
		fatalx("iconv: %s", strerror(errno));
	st->conv.len = (size_t)(o - (char *)st->conv.data);
	*out = (const char *)st->conv.data;
	*n = st->conv.len;
}

static int
column_named(const struct csvst *st, const char *name)
{
	for (size_t c = 0; c < st->ncols; c++)
		if (strcasecmp(st->names[c], name) == 0)
			return (int)c;
	return -1;
}

static void
take_header(struct csvst *st)
{
	const struct report_map *map = st->m->map;

	if (st->nf > HEADER_MAX_COLS) {
		report_refuse(st->rp, "bad_report", "the header has %zu columns; "
		    "at most %d", st->nf, HEADER_MAX_COLS);
		return;
	}
	st->ncols = st->nf;
	st->names = xcalloc(st->ncols, sizeof(*st->names));
	st->field_of = xcalloc(st->ncols, sizeof(*st->field_of));
	for (size_t c = 0; c < st->ncols; c++) {
		const char *v;
		size_t n;

		field_utf8(st, c, &v, &n);
		st->names[c] = xstrndup(v, n);
		st->field_of[c] = -1;
	}
	if (map == NULL) {
		for (size_t c = 0; c < st->ncols; c++)
			st->field_of[c] = report_field_by_name(st->names[c]);
	} else {
		/* Each mapped field: the first of its columns the header has. */
		for (int f = 0; f < RF_COUNT; f++) {
			int found = -1, named = 0;
			char alts[300] = "";
			size_t al = 0;

			for (size_t i = 0; i < map->n && found < 0; i++) {
				if (map->cols[i].field != f)
					continue;
				named = 1;
				found = column_named(st, map->cols[i].column);
				al += (size_t)snprintf(alts + al, al < sizeof(alts) ?
				    sizeof(alts) - al : 0, "%s'%s'", al ? " or " : "",
				    map->cols[i].column);
			}
			if (found >= 0) {
				st->field_of[found] = f;
			} else if (named) {
				report_refuse(st->rp, "bad_report", "the header lacks "
				    "the column %s, which [report_map %s] maps to %s",
				    alts, map->source, report_field_name(f));
				return;
			}
		}
	}
	for (size_t c = 0; c < st->ncols; c++)
		if (st->field_of[c] == RF_ID) {
			st->id_col = c;
			st->have_header = 1;
			return;
		}
	report_refuse(st->rp, "bad_report", "the header has no id column "
	    "(a column named id, or a [report_map] for this source that names "
	    "it); is the header row missing?");
}

static void
take_entry(struct csvst *st, size_t off, size_t len, size_t line)
{
	struct report_parsed *rp = st->rp;
	struct report_where w = { line, st->id_col + 1, st->names[st->id_col] };

	if (report_entry_begin(rp, off, len, line) < 0) {
		st->stop = 1;
		return;
	}
	if (st->nf != st->ncols) {
		report_entry_quarantine(rp, "line %zu: %zu fields, but the header "
		    "has %zu columns", line, st->nf, st->ncols);
	} else {
		for (size_t c = 0; c < st->ncols; c++) {
			const char *v;
			size_t n;

			field_utf8(st, c, &v, &n);
			if (st->field_of[c] >= 0) {
				struct report_where fw = { line, c + 1, st->names[c] };
				report_entry_field(rp, st->field_of[c], v, n, &fw);
			} else if (n) {
				report_entry_attr(rp, st->names[c],
				    strlen(st->names[c]), v, n, 0);
			}
		}
	}
	report_entry_end(rp, &w);
}

static void
on_record(int c, void *data)
{
	struct csvst *st = data;
	size_t end = c < 0 ? st->len : st->chunk_end - 1;
	size_t start = st->rec_start, line = st->rec_line;

	/* Blank lines before the record (libcsv skips them). */
	while (start < end && (st->body[start] == '\r' || st->body[start] == '\n'))
		if (st->body[start++] == '\n')
			line++;
	if (!st->stop) {
		if (!st->have_header)
			take_header(st);
		else
			take_entry(st, start, end - start, line);
		if (st->rp->error[0])
			st->stop = 1;
	}
	st->nf = 0;
	buf_reset(&st->rec);
	st->rec_start = c < 0 ? st->len : st->chunk_end;
	st->rec_line = st->chunk_line + (c == '\n');
}

/* The line and column (bytes, from 1) of offset off. */
static void
line_col(const unsigned char *b, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, start = 0;

	for (size_t i = 0; i < off; i++)
		if (b[i] == '\n') {
			l++;
			start = i + 1;
		}
	*line = l;
	*col = off - start + 1;
}

/* Refuses a body with a byte the declared charset has no character for. */
static int
check_charset(const struct report_meta *m, const unsigned char *b, size_t len,
    size_t from, struct report_parsed *rp)
{
	size_t bad = (size_t)-1, line, col;

	if (m->charset == RCS_UTF8) {
		size_t at = utf8_invalid_at(b + from, len - from);
		if (at != (size_t)-1)
			bad = from + at;
	} else {
		for (size_t i = from; i < len && bad == (size_t)-1; i++)
			if (b[i] == 0 || b[i] == 0x81 || b[i] == 0x8d ||
			    b[i] == 0x8f || b[i] == 0x90 || b[i] == 0x9d)
				bad = i;
	}
	if (bad == (size_t)-1)
		return 0;
	line_col(b, bad, &line, &col);
	report_refuse(rp, "bad_charset", "byte 0x%02x at line %zu, column %zu "
	    "is not valid %s", b[bad], line, col,
	    m->charset == RCS_UTF8 ? "UTF-8" : "Windows-1252");
	return -1;
}

/* The separator the header line holds more of, outside quotes. */
static char
detect_separator(const unsigned char *b, size_t len)
{
	size_t semi = 0, comma = 0;
	int q = 0;

	for (size_t i = 0; i < len; i++) {
		if (b[i] == '"')
			q = !q;
		else if (!q && (b[i] == '\n' || b[i] == '\r'))
			break;
		else if (!q && b[i] == ';')
			semi++;
		else if (!q && b[i] == ',')
			comma++;
	}
	return comma > semi ? ',' : ';';
}

void
report_parse_csv(const struct report_meta *m, const unsigned char *body,
    size_t len, struct report_parsed *rp)
{
	struct csv_parser p;
	struct csvst st;
	size_t pos = 0;

	memset(&st, 0, sizeof(st));
	st.m = m;
	st.body = body;
	st.len = len;
	st.rp = rp;
	st.cd = (iconv_t)-1;
	st.chunk_line = st.rec_line = 1;
	if (m->charset == RCS_UTF8 && len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		pos = 3;	/* the BOM */
	st.rec_start = pos;
	if (check_charset(m, body, len, pos, rp) < 0)
		return;
	if (m->charset == RCS_WINDOWS_1252 &&
	    (st.cd = iconv_open("UTF-8", "WINDOWS-1252")) == (iconv_t)-1)
		fatalx("iconv_open WINDOWS-1252: %s", strerror(errno));
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		fatalx("csv_init: out of memory");
	csv_set_delim(&p, (unsigned char)(m->separator ? m->separator :
	    detect_separator(body + pos, len - pos)));
	while (pos < len && !st.stop) {
		size_t e = pos;

		while (e < len && body[e] != '\n' && body[e] != '\r')
			e++;
		if (e < len)
			e++;	/* the line end is part of the chunk */
		st.chunk_end = e;
		if (csv_parse(&p, body + pos, e - pos, on_field, on_record, &st) !=
		    e - pos) {
			report_refuse(rp, "bad_report", "malformed CSV on line %zu: "
			    "%s", st.chunk_line, csv_strerror(csv_error(&p)));
			break;
		}
		if (body[e - 1] == '\n')
			st.chunk_line++;
		pos = e;
	}
	if (!st.stop && !rp->error[0] &&
	    csv_fini(&p, on_field, on_record, &st) != 0)
		report_refuse(rp, "bad_report", "malformed CSV: the record that "
		    "starts on line %zu ends inside a quoted field",
		    st.rec_line);
	if (!rp->error[0] && !st.have_header)
		report_refuse(rp, "bad_report", "the report is empty: it has no "
		    "header row");
	report_parsed_finish(rp);
	csv_free(&p);
	if (st.cd != (iconv_t)-1)
		iconv_close(st.cd);
	for (size_t c = 0; c < st.ncols; c++)
		free(st.names[c]);
	free(st.names);
	free(st.field_of);
	free(st.f);
	buf_free(&st.rec);
	buf_free(&st.conv);
}

const struct parser parser_csv = {
	.name = "csv",
	.label = "CSV report",
	.ct = CT_CSV,
	.report = report_parse_csv,
};
