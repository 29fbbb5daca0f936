/* copystream.h - reads the tuples of a COPY ... TO STDOUT (FORMAT binary),
 * one at a time, in bounded memory. The format is pgcopy.c's. */
#ifndef BEVIS_COPYSTREAM_H
#define BEVIS_COPYSTREAM_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pgcopy.h"

struct copystream {
	PGconn *conn;
	struct buf data;	/* unread bytes */
	size_t pos;
	int header_done;
	int trailer;
	int done;
	struct pgcopy_tuple t;	/* the current tuple; read it with pgcopy_get_* */
	char err[256];
};

/* Starts "COPY (query) TO STDOUT (FORMAT binary)" on conn. query must be a
 * constant; there are no parameters. Returns -1 with err set on failure. */
int copystream_open(struct copystream *cs, PGconn *conn, const char *query);
/* Returns 1 with the next tuple, 0 at the end, -1 on error (err set). */
int copystream_next(struct copystream *cs);
void copystream_close(struct copystream *cs);

#endif
