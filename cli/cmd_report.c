/* cmd_report.c - reading the monthly reports: bevis reports lists them and
 * their versions (report_view, sql/0011), bevis report show ID their
 * entries, or with --diff what changed since the version before, field by
 * field (bevis_report_diff(), sql/0015). Supplier text goes through the
 * renderer's escaping. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "numarg.h"
#include "output.h"

/* $1 source, $2 period (NULL: any). */
#define REPORTS_SQL(T) \
    "SELECT v.id, v.source, v.kind, v.period, v.version, " \
    "       (SELECT n.id FROM report n WHERE n.supersedes = v.id) AS superseded_by, " \
    "       " T("v.received_at") " AS received_at, v.entries_new, " \
    "       v.entries_changed, v.entries_unchanged, v.entries_removed, " \
    "       v.entries_quarantined, v.title, v.author, v.submission_id, " \
    "       v.supersedes " \
    "  FROM report_view v " \
    " WHERE ($1::text IS NULL OR v.source = $1) " \
    "   AND ($2::text IS NULL OR v.period = $2) " \
    " ORDER BY v.period, v.source, v.kind, v.version"
enum { R_ID, R_SOURCE, R_KIND, R_PERIOD, R_VERSION, R_SUPERSEDED_BY,
	R_RECEIVED, R_NEW, R_CHANGED, R_UNCHANGED, R_REMOVED, R_QUARANTINED,
	R_TITLE, R_AUTHOR, R_SUBMISSION, R_SUPERSEDES, R_NCOLS };


static const char *
cell(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

int
cmd_reports(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "source", required_argument, NULL, 's' },
		{ "period", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const struct out_col cols[R_NCOLS] = {
		{ "id", 0, OUT_NUMBER, 1 }, { "source", 0, OUT_TEXT, 1 },
		{ "kind", 0, OUT_TEXT, 1 }, { "period", 0, OUT_TEXT, 1 },
		{ "version", 0, OUT_NUMBER, 1 },
		{ "superseded_by", 0, OUT_NUMBER, 1 },
		{ "received_at", 0, OUT_TEXT, 1 }, { "new", 0, OUT_NUMBER, 1 },
		{ "changed", 0, OUT_NUMBER, 1 }, { "unchanged", 0, OUT_NUMBER, 1 },
		{ "removed", 0, OUT_NUMBER, 1 }, { "quarantined", 0, OUT_NUMBER, 1 },
		{ "title", 0, OUT_TEXT, 1 }, { "author", 0, OUT_TEXT, 1 },
		{ "submission", 0, OUT_NUMBER, 1 },
		{ "supersedes", 0, OUT_NUMBER, 1 } };
	static const struct out_col table_cols[] = {
		{ "ID", 0, OUT_TEXT, 0 }, { "SOURCE", 16, OUT_TEXT, 0 },
		{ "KIND", 0, OUT_TEXT, 0 }, { "PERIOD", 0, OUT_TEXT, 0 },
		{ "VERSION", 0, OUT_TEXT, 0 }, { "RECEIVED", 0, OUT_TEXT, 0 },
		{ "NEW", 0, OUT_TEXT, 0 }, { "CHANGED", 0, OUT_TEXT, 0 },
		{ "UNCHANGED", 0, OUT_TEXT, 0 }, { "REMOVED", 0, OUT_TEXT, 0 },
		{ "QUARANTINED", 0, OUT_TEXT, 0 }, { "TITLE", 60, OUT_TEXT, 0 } };
	const char *params[2] = { NULL, NULL };
	enum out_format format = OUT_TABLE;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': params[0] = optarg; break;
		case 'p':
			if (!cli_month_ok(optarg)) {
				fprintf(stderr, "bevis reports: --period: '%s' is "
				    "not a month like 2026-10\n", optarg);
				return 2;
			}
			params[1] = optarg;
			break;
		case 'j': format = OUT_JSON; break;
		case 'x': format = OUT_CSV; break;
		default: return cli_usage("reports", stderr);
		}
	}
	if (optind != argc)
		return cli_usage("reports", stderr);
	PGconn *conn = cli_connect_zoned(cli, "reports");
	PGresult *res = cli_exec_params("reports", conn, format == OUT_TABLE ?
	    REPORTS_SQL(CLI_LOCAL_TIME) : REPORTS_SQL(CLI_JSON_TIME), 2, params,
	    PGRES_TUPLES_OK);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	int rows = PQntuples(res);
	struct out o;

	out_init(&o, stdout, format, format == OUT_TABLE ? table_cols : cols,
	    format == OUT_TABLE ? 12 : R_NCOLS);
	for (int r = 0; r < rows; r++) {
		const char *cells[R_NCOLS];
		char version[64];

		for (int c = 0; c < R_NCOLS; c++)
			cells[c] = cell(res, r, c);
		if (format != OUT_TABLE) {
			out_row(&o, cells);
			continue;
		}
		/* The table: a superseded version names the one after it. */
		if (cells[R_SUPERSEDED_BY])
			snprintf(version, sizeof(version), "%s (superseded by %s)",
			    cells[R_VERSION], cells[R_SUPERSEDED_BY]);
		else
			snprintf(version, sizeof(version), "%s", cells[R_VERSION]);
		const char *t[12] = { cells[R_ID], cells[R_SOURCE], cells[R_KIND],
			cells[R_PERIOD], version, cells[R_RECEIVED], cells[R_NEW],
			cells[R_CHANGED], cells[R_UNCHANGED], cells[R_REMOVED],
			cells[R_QUARANTINED], cells[R_TITLE] };
		out_row(&o, t);
	}
	out_finish(&o);
	if (format == OUT_TABLE)
		fprintf(stderr, "%d report version%s\n", rows, rows == 1 ? "" : "s");
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/* $1 the report id. The entries of this version (a removed one has no
 * fields here: --diff shows it), with the incident each one opened. The
 * title, system and unit of an entry marked protected_identity show only
 * to bevis_protected, as its incident's do. */
#define ENTRIES_SQL(T) \
    "SELECT e.entry_id, e.state, e.line, " T("e.occurred_at") " AS occurred_at, " \
    "       CASE WHEN NOT h.hidden THEN e.system END, " \
    "       CASE WHEN NOT h.hidden THEN e.unit END, e.severity, e.personal_data, " \
    "       (SELECT o.ref FROM incident_overview o WHERE o.id = e.incident_id) " \
    "           AS incident, " \
    "       CASE WHEN NOT h.hidden THEN e.title " \
    "            ELSE '(restricted to bevis_protected)' END, e.item_no " \
    "  FROM report_entry_view e " \
    " CROSS JOIN LATERAL (SELECT e.protected_identity = 'yes' " \
    "                            AND NOT bevis_sees_protected() AS hidden) h " \
    " WHERE e.report_id = $1::bigint AND e.state <> 'removed' " \
    " ORDER BY e.item_no"
#define ENTRY_NCOLS 11

#define DIFF_SQL \
    "SELECT d.entry_id, d.state, d.field, d.before, d.after " \
    "  FROM bevis_report_diff($1::bigint) d"

/* "label: value", the value escaped. */
static void
line(struct buf *b, const char *label, const char *value)
{
	buf_printf(b, "%-12s ", label);
	if (value == NULL || *value == '\0')
		buf_putc(b, '-');
	else
		out_escape_text(b, value, strlen(value));
	buf_putc(b, '\n');
}

static void
header(struct buf *b, const PGresult *rep)
{
	buf_printf(b, "report %s  ", cell(rep, 0, R_ID));
	out_escape_text(b, cell(rep, 0, R_SOURCE), strlen(cell(rep, 0, R_SOURCE)));
	buf_printf(b, "  %s %s  version %s", cell(rep, 0, R_KIND),
	    cell(rep, 0, R_PERIOD), cell(rep, 0, R_VERSION));
	if (cell(rep, 0, R_SUPERSEDES))
		buf_printf(b, ", supersedes report %s", cell(rep, 0, R_SUPERSEDES));
	if (cell(rep, 0, R_SUPERSEDED_BY))
		buf_printf(b, ", superseded by report %s",
		    cell(rep, 0, R_SUPERSEDED_BY));
	buf_putc(b, '\n');
	line(b, "title:", cell(rep, 0, R_TITLE));
	line(b, "author:", cell(rep, 0, R_AUTHOR));
	line(b, "received:", cell(rep, 0, R_RECEIVED));
	line(b, "submission:", cell(rep, 0, R_SUBMISSION));
	buf_printf(b, "%-12s %s new, %s changed, %s unchanged, %s removed, "
	    "%s quarantined\n", "entries:", cell(rep, 0, R_NEW),
	    cell(rep, 0, R_CHANGED), cell(rep, 0, R_UNCHANGED),
	    cell(rep, 0, R_REMOVED), cell(rep, 0, R_QUARANTINED));
}

/* The diff as text: each entry that is not unchanged, then each changed
 * field as "field: before -> after" ("-" for a field not there). */
static void
diff_text(struct buf *b, const PGresult *rep, const PGresult *d)
{
	const char *prev = NULL;

	if (strcmp(cell(rep, 0, R_VERSION), "1") == 0)
		buf_puts(b, "\nversion 1: every entry is new\n");
	else
		buf_printf(b, "\nchanges since version %lld:\n",
		    strtoll(cell(rep, 0, R_VERSION), NULL, 10) - 1);
	for (int r = 0; r < PQntuples(d); r++) {
		const char *id = cell(d, r, 0), *state = cell(d, r, 1);
		if (strcmp(state, "unchanged") == 0)
			continue;
		if (prev == NULL || strcmp(prev, id) != 0) {
			buf_puts(b, "  ");
			out_escape_text(b, id, strlen(id));
			buf_printf(b, "  %s\n", state);
		}
		prev = id;
		if (cell(d, r, 2) == NULL)
			continue;
		const char *before = cell(d, r, 3), *after = cell(d, r, 4);
		buf_puts(b, "      ");
		out_escape_text(b, cell(d, r, 2), strlen(cell(d, r, 2)));
		buf_puts(b, ": ");
		if (before)
			out_escape_text(b, before, strlen(before));
		else
			buf_putc(b, '-');
		buf_puts(b, " -> ");
		if (after)
			out_escape_text(b, after, strlen(after));
		else
			buf_putc(b, '-');
		buf_putc(b, '\n');
	}
}

static int
report_show(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "diff", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const struct out_col entry_cols[ENTRY_NCOLS] = {
		{ "entry_id", 0, OUT_TEXT, 1 }, { "state", 0, OUT_TEXT, 1 },
		{ "line", 0, OUT_NUMBER, 1 }, { "occurred_at", 0, OUT_TEXT, 1 },
		{ "system", 0, OUT_TEXT, 1 }, { "unit", 0, OUT_TEXT, 1 },
		{ "severity", 0, OUT_TEXT, 1 }, { "personal_data", 0, OUT_TEXT, 1 },
		{ "incident", 0, OUT_TEXT, 1 }, { "title", 0, OUT_TEXT, 1 },
		{ "item", 0, OUT_NUMBER, 1 } };
	static const struct out_col entry_table[] = {
		{ "ENTRY", 24, OUT_TEXT, 0 }, { "STATE", 0, OUT_TEXT, 0 },
		{ "LINE", 0, OUT_TEXT, 0 }, { "OCCURRED", 0, OUT_TEXT, 0 },
		{ "SYSTEM", 20, OUT_TEXT, 0 }, { "UNIT", 20, OUT_TEXT, 0 },
		{ "SEVERITY", 12, OUT_TEXT, 0 }, { "PERSONAL", 0, OUT_TEXT, 0 },
		{ "INCIDENT", 0, OUT_TEXT, 0 }, { "TITLE", 60, OUT_TEXT, 0 } };
	static const struct out_col diff_cols[] = {
		{ "entry_id", 0, OUT_TEXT, 1 }, { "state", 0, OUT_TEXT, 1 },
		{ "field", 0, OUT_TEXT, 1 }, { "before", 0, OUT_TEXT, 1 },
		{ "after", 0, OUT_TEXT, 1 } };
	int ch, json = 0, diff = 0, rc = 1;
	long long id;
	char err[160], idtext[32];
	PGresult *rep = NULL, *res = NULL;
	struct buf b = BUF_INIT;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'd': diff = 1; break;
		case 'j': json = 1; break;
		default: return cli_usage("report", stderr);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("report", stderr);
	if (numarg_parse(argv[optind], 1, INT64_MAX, &id, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis report show: report id: %s\n  hint: "
		    "bevis reports lists them\n", err);
		return 2;
	}
	snprintf(idtext, sizeof(idtext), "%lld", id);
	PGconn *conn = cli_connect_zoned(cli, "report show");
	const char *p1[1] = { idtext };
	/* One snapshot for the two queries. */
	if (cli_exec("report show", conn, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", PGRES_COMMAND_OK) < 0)
		goto out;
	rep = cli_exec_params("report show", conn, json ?
	    "SELECT * FROM (" REPORTS_SQL(CLI_JSON_TIME) ") x WHERE x.id = $3::bigint" :
	    "SELECT * FROM (" REPORTS_SQL(CLI_LOCAL_TIME) ") x WHERE x.id = $3::bigint",
	    3, (const char *[]){ NULL, NULL, idtext }, PGRES_TUPLES_OK);
	if (rep == NULL)
		goto out;
	if (PQntuples(rep) != 1) {
		fprintf(stderr, "bevis report show: no report %s\n  hint: bevis "
		    "reports lists them\n", idtext);
		goto out;
	}
	res = cli_exec_params("report show", conn, diff ? DIFF_SQL : json ?
	    ENTRIES_SQL(CLI_JSON_TIME) : ENTRIES_SQL(CLI_LOCAL_TIME), 1, p1,
	    PGRES_TUPLES_OK);
	if (res == NULL)
		goto out;
	int rows = PQntuples(res);
	if (json) {
		struct out o;
		int n = diff ? 5 : ENTRY_NCOLS;
		out_init(&o, stdout, OUT_JSON, diff ? diff_cols : entry_cols, n);
		for (int r = 0; r < rows; r++) {
			const char *cells[ENTRY_NCOLS];
			for (int c = 0; c < n; c++)
				cells[c] = cell(res, r, c);
			out_row(&o, cells);
		}
		out_finish(&o);
		rc = 0;
		goto out;
	}
	header(&b, rep);
	if (diff) {
		diff_text(&b, rep, res);
		fwrite(b.data, 1, b.len, stdout);
		rc = 0;
		goto out;
	}
	buf_putc(&b, '\n');
	fwrite(b.data, 1, b.len, stdout);
	fflush(stdout);
	struct out o;
	out_init(&o, stdout, OUT_TABLE, entry_table, 10);
	for (int r = 0; r < rows; r++) {
		const char *cells[10];
		for (int c = 0; c < 10; c++)
			cells[c] = cell(res, r, c) ? cell(res, r, c) : "-";
		out_row(&o, cells);
	}
	out_finish(&o);
	rc = 0;
out:
	buf_free(&b);
	PQclear(rep);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int
cmd_report(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "show") != 0)
		return cli_usage("report", stderr);
	return report_show(cli, argc - 1, argv + 1);
}
