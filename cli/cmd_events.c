/* cmd_events.c - bevis events: the stored events, filtered, as a table,
 * JSON lines or CSV. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"

enum { COL_TIME, COL_RECEIVED, COL_SUPPLIER, COL_ID, COL_SEV, COL_CATEGORY,
	COL_ACTION, COL_OUTCOME, COL_ACTOR, COL_SRC, COL_TARGET, COL_MESSAGE,
	COL_PERSONAL, COL_SEQ, COL_ATTRS, COL_SUBMISSION, COL_ITEM, NCOLS };

static const char *const col_names[NCOLS] = { "occurred_at", "received_at",
	"supplier", "id", "severity", "category", "action", "outcome",
	"actor_user", "src_ip", "target", "message", "personal_data", "seq",
	"attrs", "submission", "item" };

/* Every filter is a parameter; a NULL parameter switches its filter off. */
static const char events_sql[] =
    "SELECT to_char(e.occurred_at AT TIME ZONE 'UTC', "
    "           'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "       to_char(s.received_at AT TIME ZONE 'UTC', "
    "           'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "       sp.name, e.source_event_id, e.severity, e.category, e.action, "
    "       e.outcome, e.actor_user, host(e.src_ip), e.target, e.message, "
    "       e.personal_data, e.seq, e.attrs, e.submission_id, e.item_no "
    "  FROM event e "
    "  JOIN supplier sp ON sp.id = e.supplier_id "
    "  JOIN submission s ON s.id = e.submission_id "
    " WHERE ($1::text IS NULL OR sp.name = $1) "
    "   AND ($2::timestamptz IS NULL OR e.occurred_at >= $2) "
    "   AND ($3::timestamptz IS NULL OR e.occurred_at < $3) "
    "   AND ($4::smallint IS NULL OR e.severity >= $4) "
    "   AND ($5::text IS NULL OR e.category = $5) "
    " ORDER BY e.occurred_at, sp.name, e.source_event_id "
    " LIMIT $6";

static const char *const sev_names[] = { "unknown", "info", "low", "medium",
	"high", "critical", "fatal" };

static void
csv_field(const char *v, int first)
{
	if (!first)
		putchar(',');
	if (strpbrk(v, ",\"\r\n") == NULL) {
		fputs(v, stdout);
		return;
	}
	putchar('"');
	for (; *v; v++) {
		if (*v == '"')
			putchar('"');
		putchar(*v);
	}
	putchar('"');
}

static void
print_csv(PGresult *res, int rows)
{
	for (int c = 0; c < NCOLS; c++)
		csv_field(col_names[c], c == 0);
	fputs("\r\n", stdout);
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < NCOLS; c++)
			csv_field(PQgetvalue(res, r, c), c == 0);
		fputs("\r\n", stdout);
	}
}

static void
print_json(PGresult *res, int rows)
{
	struct buf b = BUF_INIT;

	for (int r = 0; r < rows; r++) {
		buf_reset(&b);
		buf_putc(&b, '{');
		for (int c = 0, n = 0; c < NCOLS; c++) {
			const char *v = PQgetvalue(res, r, c);
			if (PQgetisnull(res, r, c))
				continue;
			if (n++)
				buf_putc(&b, ',');
			buf_put_json_string(&b, col_names[c], strlen(col_names[c]));
			buf_putc(&b, ':');
			if (c == COL_ATTRS || c == COL_SEV || c == COL_SEQ ||
			    c == COL_SUBMISSION || c == COL_ITEM)
				buf_puts(&b, v);
			else if (c == COL_PERSONAL)
				buf_puts(&b, v[0] == 't' ? "true" : "false");
			else
				buf_put_json_string(&b, v, strlen(v));
		}
		buf_puts(&b, "}\n");
		fwrite(b.data, 1, b.len, stdout);
	}
	buf_free(&b);
}

/* Counts characters, not bytes, so UTF-8 text lines up. */
static size_t
display_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
print_cell(const char *v, size_t width, int last)
{
	size_t w = 0;
	const char *p = v;

	/* Cut at width characters; control characters print as spaces. */
	for (; *p && w < width; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (w + 1 == width && display_width(p) > 1) {
				fputs("…", stdout);
				w++;
				break;
			}
			w++;
		}
		putchar((unsigned char)*p < 0x20 ? ' ' : *p);
	}
	while (*p && ((unsigned char)*p & 0xc0) == 0x80)
		putchar(*p++);
	if (!last)
		for (; w < width + 2; w++)
			putchar(' ');
}

static void
print_table(PGresult *res, int rows)
{
	static const int cols[] = { COL_TIME, COL_SUPPLIER, COL_ID, COL_SEV,
		COL_CATEGORY, COL_ACTION, COL_OUTCOME, COL_ACTOR, COL_SRC,
		COL_MESSAGE };
	static const char *const heads[] = { "OCCURRED (UTC)", "SUPPLIER", "ID",
		"SEV", "CATEGORY", "ACTION", "OUTCOME", "ACTOR", "SRC", "MESSAGE" };
	static const size_t maxw[] = { 19, 16, 24, 8, 16, 16, 10, 20, 39, 60 };
	const size_t n = sizeof(cols) / sizeof(cols[0]);
	size_t width[10];

	for (size_t i = 0; i < n; i++)
		width[i] = strlen(heads[i]);
	for (int r = 0; r < rows; r++)
		for (size_t i = 0; i < n; i++) {
			size_t w = cols[i] == COL_SEV ? 8 :
			    display_width(PQgetvalue(res, r, cols[i]));
			if (w > width[i])
				width[i] = w > maxw[i] ? maxw[i] : w;
		}
	for (size_t i = 0; i < n; i++)
		print_cell(heads[i], width[i], i + 1 == n);
	putchar('\n');
	for (int r = 0; r < rows; r++) {
		for (size_t i = 0; i < n; i++) {
			const char *v = PQgetvalue(res, r, cols[i]);
			char t[20];
			if (cols[i] == COL_SEV && *v)
				v = sev_names[atoi(v) % 7];
			if (cols[i] == COL_TIME) {
				/* seconds are enough in a table */
				snprintf(t, sizeof(t), "%.19s", v);
				t[10] = ' ';
				v = t;
			}
			print_cell(v, width[i], i + 1 == n);
		}
		putchar('\n');
	}
}

static int
events_usage(void)
{
	fprintf(stderr, "usage: bevis events [--supplier S] [--since T] "
	    "[--until T] [--severity-min N]\n"
	    "                    [--category C] [--limit N] [--json|--csv]\n"
	    "T is a date or an RFC 3339 time; N for severity is 0-6 or a name\n");
	return 2;
}

int
cmd_events(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "supplier", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "severity-min", required_argument, NULL, 'v' },
		{ "category", required_argument, NULL, 'C' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *params[6] = { NULL };
	char sev[8], limit[24];
	long lim = 100;
	int ch, format = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': params[0] = optarg; break;
		case 'S': params[1] = optarg; break;
		case 'U': params[2] = optarg; break;
		case 'v': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg) {
				v = -1;
				for (int i = 0; i < 7; i++)
					if (strcmp(optarg, sev_names[i]) == 0)
						v = i;
				if (strcmp(optarg, "informational") == 0)
					v = 1;
			}
			if (v < 0 || v > 6)
				return events_usage();
			snprintf(sev, sizeof(sev), "%ld", v);
			params[3] = sev;
			break;
		}
		case 'C': params[4] = optarg; break;
		case 'l': lim = atol(optarg); break;
		case 'j': format = 'j'; break;
		case 'x': format = 'x'; break;
		default: return events_usage();
		}
	}
	if (optind != argc || lim < 1)
		return events_usage();
	/* One row more than asked tells whether there are more. */
	snprintf(limit, sizeof(limit), "%ld", lim + 1);
	params[5] = limit;

	PGconn *conn = cli_connect(cli);
	PGresult *res = PQexecParams(conn, events_sql, 6, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis events: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 2;
	}
	int rows = PQntuples(res), more = rows > lim;
	if (more)
		rows = (int)lim;
	if (format == 'j')
		print_json(res, rows);
	else if (format == 'x')
		print_csv(res, rows);
	else {
		print_table(res, rows);
		fprintf(stderr, "%d event%s%s\n", rows, rows == 1 ? "" : "s",
		    more ? " shown; more match (raise --limit)" : "");
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}
