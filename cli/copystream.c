#include "copystream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
copystream_open(struct copystream *cs, PGconn *conn, const char *query)
{
	struct buf sql = BUF_INIT;
	PGresult *res;

	memset(cs, 0, sizeof(*cs));
	cs->conn = conn;
	buf_printf(&sql, "COPY (%s) TO STDOUT (FORMAT binary)", query);
	res = PQexec(conn, buf_cstr(&sql));
	buf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		snprintf(cs->err, sizeof(cs->err), "%s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Parses a whole tuple at data[pos], if there is one. */
static int
parse_tuple(struct copystream *cs)
{
	const char *why;
	size_t used;

	switch (pgcopy_read_tuple(cs->data.data + cs->pos, cs->data.len - cs->pos,
	    &cs->t, &used, &why)) {
	case PGCOPY_BAD:
		snprintf(cs->err, sizeof(cs->err), "%s", why);
		return -1;
	case PGCOPY_MORE:
		return 0;
	case PGCOPY_TRAILER:
		cs->pos += used;
		cs->trailer = 1;
		return 0;
	}
	cs->pos += used;
	return 1;
}

int
copystream_next(struct copystream *cs)
{
	for (;;) {
		if (cs->done)
			return 0;
		if (cs->header_done && !cs->trailer) {
			int r = parse_tuple(cs);
			if (r != 0)
				return r;
		} else if (cs->trailer) {
			if (cs->pos < cs->data.len) {
				snprintf(cs->err, sizeof(cs->err), "data after "
				    "the COPY trailer");
				return -1;
			}
		} else {
			const char *why;
			size_t used;
			int r = pgcopy_read_header(cs->data.data + cs->pos,
			    cs->data.len - cs->pos, &used, &why);
			if (r == PGCOPY_BAD) {
				snprintf(cs->err, sizeof(cs->err), "%s", why);
				return -1;
			}
			if (r == 1) {
				cs->pos += used;
				cs->header_done = 1;
				continue;
			}
		}
		/* Need more: drop what was read, then take the next message. The
		 * current tuple stays valid until this call, not beyond. */
		if (cs->pos > 0) {
			memmove(cs->data.data, cs->data.data + cs->pos,
			    cs->data.len - cs->pos);
			cs->data.len -= cs->pos;
			cs->pos = 0;
		}
		char *msg;
		int n = PQgetCopyData(cs->conn, &msg, 0);
		if (n == -1) {
			PGresult *res = PQgetResult(cs->conn);
			int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
			if (!ok)
				snprintf(cs->err, sizeof(cs->err), "%s",
				    PQerrorMessage(cs->conn));
			PQclear(res);
			while ((res = PQgetResult(cs->conn)) != NULL)
				PQclear(res);
			cs->done = 1;
			if (!ok)
				return -1;
			if (cs->data.len) {
				snprintf(cs->err, sizeof(cs->err), "COPY ended "
				    "inside a tuple");
				return -1;
			}
			return 0;
		}
		if (n < 0) {
			snprintf(cs->err, sizeof(cs->err), "%s",
			    PQerrorMessage(cs->conn));
			return -1;
		}
		buf_append(&cs->data, msg, (size_t)n);
		PQfreemem(msg);
	}
}

void
copystream_close(struct copystream *cs)
{
	if (!cs->done) {
		/* Read off the rest so the connection is usable again. */
		char *msg;
		while (PQgetCopyData(cs->conn, &msg, 0) >= 0)
			PQfreemem(msg);
		PGresult *res;
		while ((res = PQgetResult(cs->conn)) != NULL)
			PQclear(res);
	}
	buf_free(&cs->data);
}
