/* db.c - libpq plumbing: errors by SQLSTATE, one statement, COPY in. */
#include "db.h"

#include <stdio.h>
#include <string.h>

#include "pgcopy.h"

void
pgerr_set(struct pgerr *e, const char *state, const char *msg)
{
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->table[0] = '\0';
}

/* A lost connection counts as class 08. */
void
pgerr_take(PGconn *conn, const PGresult *res, struct pgerr *e)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;

	if (state == NULL || PQstatus(conn) != CONNECTION_OK)
		state = "08006";
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	pgerr_set(e, state, msg);
	snprintf(e->table, sizeof(e->table), "%s", table ? table : "");
	/* libpq messages end in a newline */
	size_t n = strlen(e->msg);
	while (n && (e->msg[n - 1] == '\n' || e->msg[n - 1] == ' '))
		e->msg[--n] = '\0';
}

int
pgerr_retryable(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "08", 2) == 0 ||
	    strncmp(e->sqlstate, "40", 2) == 0 ||
	    strncmp(e->sqlstate, "53", 2) == 0 ||
	    strncmp(e->sqlstate, "57", 2) == 0;
}

int
pgerr_data_error(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "22", 2) == 0 ||
	    strncmp(e->sqlstate, "23", 2) == 0;
}

int
pgerr_unreachable(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "08", 2) == 0 ||
	    strncmp(e->sqlstate, "53", 2) == 0 ||
	    (strncmp(e->sqlstate, "57", 2) == 0 &&
	    strcmp(e->sqlstate, "57014") != 0);
}

int
db_exec(PGconn *conn, const char *sql, ExecStatusType want, struct pgerr *e)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == want;

	if (!ok)
		pgerr_take(conn, res, e);
	PQclear(res);
	return ok ? 0 : -1;
}

int
db_copy_in(PGconn *conn, const char *sql, const struct buf *rows,
    struct pgerr *e)
{
	struct buf hdr = BUF_INIT, trl = BUF_INIT;
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		pgerr_take(conn, res, e);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	pgcopy_header(&hdr);
	pgcopy_trailer(&trl);
	if (PQputCopyData(conn, (const char *)hdr.data, (int)hdr.len) != 1)
		rc = -1;
	for (size_t off = 0; rc == 0 && off < rows->len; off += 1 << 20) {
		size_t n = rows->len - off < (1 << 20) ? rows->len - off : (1 << 20);
		if (PQputCopyData(conn, (const char *)rows->data + off, (int)n) != 1)
			rc = -1;
	}
	if (rc == 0 && PQputCopyData(conn, (const char *)trl.data,
	    (int)trl.len) != 1)
		rc = -1;
	buf_free(&hdr);
	buf_free(&trl);
	if (PQputCopyEnd(conn, rc == 0 ? NULL : "client error") != 1)
		rc = -1;
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgerr_take(conn, res, e);
		rc = -1;
	} else if (rc < 0) {
		pgerr_take(conn, NULL, e);
	}
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	return rc;
}
