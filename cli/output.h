/* output.h - the one renderer of listings (bevis events, bevis supplier
 * list, ...) as a table, CSV or JSON lines, and the escaping that keeps
 * supplier bytes from driving the reader's terminal or spreadsheet.
 *
 * Human-readable forms (table, CSV, messages) show every C0 control
 * (TAB and LF too), DEL and invalid UTF-8 bytes as \xHH and the C1
 * controls U+0080-U+009F as \u00HH, so ESC, BEL or a one-byte CSI never
 * reach a terminal. CSV cells of text columns that start with = + - @ TAB
 * or CR get a leading ' (OWASP CSV injection). JSON (RFC 8259) is the
 * exact form: controls, C1 and DEL as \u00XX, invalid bytes as U+FFFD. */
#ifndef BEVIS_OUTPUT_H
#define BEVIS_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON };

/* How a column's value is written in JSON (and whether CSV guards it). */
enum out_kind {
	OUT_TEXT,	/* a JSON string; CSV formula guard applies */
	OUT_NUMBER,	/* written as is (the database's own digits) */
	OUT_BOOL,	/* "t"/"f" (as libpq gives them) -> true/false */
	OUT_RAWJSON	/* a JSON document from the database, as is */
};

struct out_col {
	const char *name;	/* CSV header, JSON key, table heading */
	size_t maxw;		/* table: widest cell, in characters; 0: no cap */
	enum out_kind kind;
	int json_null;		/* JSON: NULL as null; else the key is left out */
};

struct out {
	FILE *f;
	enum out_format format;
	const struct out_col *cols;
	size_t ncols;
	/* table rows are kept until out_finish: widths need every row */
	char **cells;
	size_t nrows, cap;
	struct buf line;
};

/* Starts a listing of ncols columns on f; CSV prints its header now. cols
 * must stay valid until out_finish. */
void out_init(struct out *o, FILE *f, enum out_format format,
    const struct out_col *cols, size_t ncols);
/* One row of ncols cells; NULL is SQL NULL (JSON leaves the key out or
 * writes null, per column; a table and CSV show an empty cell). The cells are copied. */
void out_row(struct out *o, const char *const *cells);
/* Prints a table, and frees what o holds. */
void out_finish(struct out *o);

/* Appends s (n bytes) to b as human-readable text, escaped as above.
 * cmd_send prints the server's quarantine reasons (which quote supplier
 * bytes) through this. */
void out_escape_text(struct buf *b, const char *s, size_t n);
/* One CSV cell (RFC 4180 quoting) of a column of kind. */
void out_csv_cell(struct buf *b, const char *s, enum out_kind kind);
/* A JSON string, exact, with C1 and DEL escaped too. */
void out_json_string(struct buf *b, const char *s, size_t n);

#endif
