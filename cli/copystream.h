/* copystream.h - reads the tuples of a COPY ... TO STDOUT (FORMAT binary),
 * one at a time, in bounded memory. */
#ifndef BEVIS_COPYSTREAM_H
#define BEVIS_COPYSTREAM_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define COPYSTREAM_MAXF 32

struct copystream {
	PGconn *conn;
	struct buf data;	/* unread bytes */
	size_t pos;
	int header_done;
	int trailer;
	int done;
	/* the current tuple */
	const unsigned char *tuple;
	size_t tuple_len;
	int nf;
	const unsigned char *f[COPYSTREAM_MAXF];	/* NULL for SQL NULL */
	uint32_t flen[COPYSTREAM_MAXF];
	char err[256];
};

/* Starts "COPY (query) TO STDOUT (FORMAT binary)" on conn. query must be a
 * constant; there are no parameters. Returns -1 with err set on failure. */
int copystream_open(struct copystream *cs, PGconn *conn, const char *query);
/* Returns 1 with the next tuple, 0 at the end, -1 on error (err set). */
int copystream_next(struct copystream *cs);
void copystream_close(struct copystream *cs);

int64_t cs_int8(const struct copystream *cs, int i);
int32_t cs_int4(const struct copystream *cs, int i);

#endif
