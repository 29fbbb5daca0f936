/* db.h - the libpq plumbing every stage of the write path shares: errors
 * by SQLSTATE, one statement, and binary COPY in. */
#ifndef BEVIS_DB_H
#define BEVIS_DB_H

#include <libpq-fe.h>

#include "buf.h"
#include "log.h"

/* Why a statement failed: its SQLSTATE (a lost connection counts as class
 * 08), the table it names, and the server's primary message. */
struct pgerr {
	char sqlstate[6];
	char table[64];
	char msg[512];
};

void pgerr_set(struct pgerr *e, const char *state, const char *msg);
/* Records why res (may be NULL) failed on conn. */
void pgerr_take(PGconn *conn, const PGresult *res, struct pgerr *e);

/* Connection (08), serialization (40), resources (53), operator (57):
 * worth retrying the whole batch. */
int pgerr_retryable(const struct pgerr *e);
/* Data exceptions (22) and integrity violations (23): an item's fault. */
int pgerr_data_error(const struct pgerr *e);
/* The database is away (08), out of resources (53) or shutting down (57):
 * worth spooling for, unlike a serialization failure (40) or a statement
 * timeout (57014), which the same batch would meet again at replay. */
int pgerr_unreachable(const struct pgerr *e);

/* Runs sql without parameters; 0 when the result has status want. */
int db_exec(PGconn *conn, const char *sql, ExecStatusType want,
    struct pgerr *e);
/* Streams rows (binary COPY tuples, no header or trailer) into
 * "COPY ... FROM STDIN (FORMAT binary)". */
int db_copy_in(PGconn *conn, const char *sql, const struct buf *rows,
    struct pgerr *e) MUSTCHECK;

#endif
