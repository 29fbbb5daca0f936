/* split.h - finds the items of a request body without interpreting them, so
 * that every item keeps its exact byte range (offset, length) in the body.
 * The daemon and `bevis send` share it, so both number items alike. */
#ifndef BEVIS_SPLIT_H
#define BEVIS_SPLIT_H

#include <stddef.h>

#include "proto.h"

struct item_span {
	size_t off;
	size_t len;
	size_t line;		/* 1-based line of the item's first byte */
};

struct split {
	struct item_span *items;	/* owned; free with split_free */
	size_t n;
	size_t cap;
	/* Set when the body as a whole is unusable; items is then empty. */
	const char *error;
	/* Set by the caller: stop after this many items (0: no limit), so a
	 * body of commas cannot cost 24 bytes of spans per byte. over is set
	 * when the body holds more. */
	size_t max_items;
	int over;
};

/* NDJSON, CEF, syslog: one item per non-blank line; a trailing CR is not
 * part of the item.
 * JSON: an object is one item; each element of a top-level array is one item.
 * Any other body is a single item for the parser to reject, unless it is
 * structurally broken, in which case error is set. */
void split_body(struct split *sp, enum content_type ct,
    const unsigned char *body, size_t len);
/* The two splitters split_body chooses from; the daemon's parser table
 * names them directly. */
void split_ndjson(struct split *sp, const unsigned char *body, size_t len);
void split_json(struct split *sp, const unsigned char *body, size_t len);
void split_free(struct split *sp);

#endif
