#include "copystream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t
cs_int8(const struct copystream *cs, int i)
{
	const unsigned char *p = cs->f[i];

	if (p == NULL || cs->flen[i] != 8)
		return 0;
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

int32_t
cs_int4(const struct copystream *cs, int i)
{
	if (cs->f[i] == NULL || cs->flen[i] != 4)
		return 0;
	return (int32_t)be32(cs->f[i]);
}

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
	const unsigned char *p = cs->data.data + cs->pos;
	size_t avail = cs->data.len - cs->pos, off = 2;

	if (avail < 2)
		return 0;
	int nf = (int16_t)(p[0] << 8 | p[1]);
	if (nf == -1) {
		cs->pos += 2;
		cs->trailer = 1;
		return 0;
	}
	if (nf < 0 || nf > COPYSTREAM_MAXF) {
		snprintf(cs->err, sizeof(cs->err), "COPY tuple with %d fields", nf);
		return -1;
	}
	for (int i = 0; i < nf; i++) {
		if (avail - off < 4)
			return 0;
		uint32_t n = be32(p + off);
		off += 4;
		if (n == 0xffffffffu) {
			cs->f[i] = NULL;
			cs->flen[i] = 0;
			continue;
		}
		if (avail - off < n)
			return 0;
		cs->f[i] = p + off;
		cs->flen[i] = n;
		off += n;
	}
	cs->nf = nf;
	cs->tuple = p;
	cs->tuple_len = off;
	cs->pos += off;
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
		} else if (cs->data.len - cs->pos >= 19) {
			const unsigned char *p = cs->data.data + cs->pos;
			if (memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0) {
				snprintf(cs->err, sizeof(cs->err), "not a binary COPY");
				return -1;
			}
			cs->pos += 19 + be32(p + 15);
			cs->header_done = 1;
			continue;
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
