/* similar.c - "possibly the same" in bevis show: the other open incidents
 * that may be the same as one, from bevis_incident_similar()
 * (sql/0015_report_reading.sql), each with its reasons. Only suggestions:
 * merging stays the ISAM's decision (bevis merge). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"

PGresult *
similar_query(const char *who, PGconn *conn, const char *ref)
{
	const char *p[1] = { ref };

	return cli_exec_params(who, conn,
	    "SELECT s.ref, s.status, s.title, s.reasons, "
	    "       (SELECT string_agg(CASE r ->> 'reason' "
	    "                   WHEN 'same_log_ref' THEN 'same log reference' "
	    "                   WHEN 'same_user' THEN 'same user' "
	    "                   WHEN 'same_system' THEN 'same system' "
	    "                   WHEN 'same_school' THEN 'same school or unit' "
	    "                   ELSE 'overlapping time' END "
	    "                   || ': ' || (r ->> 'value'), E'\\n' ORDER BY n) "
	    "          FROM jsonb_array_elements(s.reasons) WITH ORDINALITY x (r, n)) "
	    "           AS why "
	    "  FROM bevis_incident_similar($1) s", 1, p, PGRES_TUPLES_OK);
}

void
similar_text(struct buf *b, const PGresult *res)
{
	buf_puts(b, "\npossibly the same (suggested; merging is your decision: "
	    "bevis merge):\n");
	if (PQntuples(res) == 0)
		buf_puts(b, "  none\n");
	for (int r = 0; r < PQntuples(res); r++) {
		const char *title = PQgetvalue(res, r, 2);
		const char *why = PQgetvalue(res, r, 4);

		buf_printf(b, "  %s  %s  ", PQgetvalue(res, r, 0),
		    PQgetvalue(res, r, 1));
		out_escape_text(b, title, strlen(title));
		buf_putc(b, '\n');
		/* One reason a line; each escaped on its own. */
		while (*why) {
			const char *nl = strchr(why, '\n');
			size_t n = nl ? (size_t)(nl - why) : strlen(why);
			buf_puts(b, "      ");
			out_escape_text(b, why, n);
			buf_putc(b, '\n');
			why += n + (nl != NULL);
		}
	}
}

void
similar_json(struct buf *b, const PGresult *res)
{
	buf_puts(b, ",\"possibly_same\":[");
	for (int r = 0; r < PQntuples(res); r++) {
		const char *v;
		if (r)
			buf_putc(b, ',');
		buf_puts(b, "{\"ref\":");
		v = PQgetvalue(res, r, 0);
		out_json_string(b, v, strlen(v));
		buf_puts(b, ",\"status\":");
		v = PQgetvalue(res, r, 1);
		out_json_string(b, v, strlen(v));
		buf_puts(b, ",\"title\":");
		v = PQgetvalue(res, r, 2);
		out_json_string(b, v, strlen(v));
		/* jsonb from the database: already JSON. */
		buf_puts(b, ",\"reasons\":");
		buf_puts(b, PQgetvalue(res, r, 3));
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}
