/* cmd_events.c - bevis events: the stored events, filtered, as a table,
 * JSON lines or CSV. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "event.h"
#include "output.h"

enum { COL_TIME, COL_RECEIVED, COL_SUPPLIER, COL_ID, COL_SEV, COL_CATEGORY,
	COL_ACTION, COL_OUTCOME, COL_ACTOR, COL_SRC, COL_TARGET, COL_MESSAGE,
	COL_PERSONAL, COL_SEQ, COL_ATTRS, COL_SUBMISSION, COL_ITEM, NCOLS };

/* Every column, in the order of events_sql: --csv and --json. */
static const struct out_col all_cols[NCOLS] = {
	{ "occurred_at", 0, OUT_TEXT, 0 }, { "received_at", 0, OUT_TEXT, 0 },
	{ "supplier", 0, OUT_TEXT, 0 }, { "id", 0, OUT_TEXT, 0 },
	{ "severity", 0, OUT_NUMBER, 0 }, { "category", 0, OUT_TEXT, 0 },
	{ "action", 0, OUT_TEXT, 0 }, { "outcome", 0, OUT_TEXT, 0 },
	{ "actor_user", 0, OUT_TEXT, 0 }, { "src_ip", 0, OUT_TEXT, 0 },
	{ "target", 0, OUT_TEXT, 0 }, { "message", 0, OUT_TEXT, 0 },
	{ "personal_data", 0, OUT_BOOL, 0 }, { "seq", 0, OUT_NUMBER, 0 },
	{ "attrs", 0, OUT_RAWJSON, 0 }, { "submission", 0, OUT_NUMBER, 0 },
	{ "item", 0, OUT_NUMBER, 0 } };

/* The table's columns, each with its widest cell. */
static const int table_src[] = { COL_TIME, COL_SUPPLIER, COL_ID, COL_SEV,
	COL_CATEGORY, COL_ACTION, COL_OUTCOME, COL_ACTOR, COL_SRC, COL_MESSAGE };
#define TABLE_NCOLS (sizeof(table_src) / sizeof(table_src[0]))
static const struct out_col table_cols[TABLE_NCOLS] = {
	{ "OCCURRED (UTC)", 19, OUT_TEXT, 0 }, { "SUPPLIER", 16, OUT_TEXT, 0 },
	{ "ID", 24, OUT_TEXT, 0 }, { "SEV", 13, OUT_TEXT, 0 },
	{ "CATEGORY", 16, OUT_TEXT, 0 }, { "ACTION", 16, OUT_TEXT, 0 },
	{ "OUTCOME", 10, OUT_TEXT, 0 }, { "ACTOR", 20, OUT_TEXT, 0 },
	{ "SRC", 39, OUT_TEXT, 0 }, { "MESSAGE", 60, OUT_TEXT, 0 } };

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


/* The rows through the one renderer (output.c): every column as stored
 * for CSV and JSON; a table shows fewer, with severity names and times to
 * the second. */
static void
print_events(PGresult *res, int rows, enum out_format format)
{
	const char *cells[NCOLS];
	struct out o;

	if (format == OUT_TABLE)
		out_init(&o, stdout, format, table_cols, TABLE_NCOLS);
	else
		out_init(&o, stdout, format, all_cols, NCOLS);
	for (int r = 0; r < rows; r++) {
		if (format != OUT_TABLE) {
			for (int c = 0; c < NCOLS; c++)
				cells[c] = PQgetisnull(res, r, c) ? NULL :
				    PQgetvalue(res, r, c);
			out_row(&o, cells);
			continue;
		}
		char t[20];
		for (size_t i = 0; i < TABLE_NCOLS; i++)
			cells[i] = PQgetvalue(res, r, table_src[i]);
		/* seconds are enough in a table */
		snprintf(t, sizeof(t), "%.19s", cells[0]);
		if (strlen(t) > 10)
			t[10] = ' ';
		cells[0] = t;
		if (*cells[3] && severity_name(atoi(cells[3])))
			cells[3] = severity_name(atoi(cells[3]));
		out_row(&o, cells);
	}
	out_finish(&o);
}

static int
events_usage(void)
{
	return cli_usage("events", stderr);
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
	enum out_format format = OUT_TABLE;
	int ch;

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
			if (*end || end == optarg)
				v = severity_from_name(optarg, strlen(optarg));
			if (v < 0 || v > 6)
				return events_usage();
			snprintf(sev, sizeof(sev), "%ld", v);
			params[3] = sev;
			break;
		}
		case 'C': params[4] = optarg; break;
		case 'l': lim = atol(optarg); break;
		case 'j': format = OUT_JSON; break;
		case 'x': format = OUT_CSV; break;
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
	print_events(res, rows, format);
	if (format == OUT_TABLE) {
		fprintf(stderr, "%d event%s%s\n", rows, rows == 1 ? "" : "s",
		    more ? " shown; more match (raise --limit)" : "");
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}
