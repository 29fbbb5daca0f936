/* cmd_reconcile.c - bevis reconcile: a supplier's monthly report against
 * its own events (docs/RECONCILE.md). Every matching rule is in
 * bevis_reconcile() (sql/0018_reconcile.sql); this prints its findings,
 * and with --open calls bevis_reconcile_open(), which opens a potential
 * incident per unreported event through the incidents' write path.
 * Exits 0 when there is nothing to follow up, 1 when there are findings or
 * the supplier sent no report for the month, 2 on an error, as bevis
 * deadlines does. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "event.h"
#include "numarg.h"
#include "output.h"

/* $1 supplier, $2 period. */
#define SUMMARY_SQL \
    "SELECT s.report, s.kind, s.version, " CLI_LOCAL_TIME("s.received_at") ", " \
    "       s.entries, s.events " \
    "  FROM bevis_reconcile_summary($1, $2) s"

/* $1 supplier, $2 period, $3 the least severity. F the function. */
#define FINDINGS_SQL(F, T) \
    "SELECT f.finding, " T("f.at") ", f.report, f.entry, f.entry_id, f.log_ref, " \
    "       f.submission, f.item, f.event_id, f.severity, f.personal_data, " \
    "       f.incident, f.opened, f.rule, f.title, f.why " \
    "  FROM " F "($1, $2, $3::integer) f"
enum { F_FINDING, F_AT, F_REPORT, F_ENTRY, F_ENTRY_ID, F_LOG_REF, F_SUBMISSION,
	F_ITEM, F_EVENT_ID, F_SEVERITY, F_PERSONAL, F_INCIDENT, F_OPENED, F_RULE,
	F_TITLE, F_WHY, F_NCOLS };

static const char *
cell(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}


/* One finding as a table row: what it is about, and its incident. */
static void
table_row(struct out *o, const PGresult *res, int r)
{
	char about[1024], incident[96];
	const char *c[F_NCOLS];

	for (int i = 0; i < F_NCOLS; i++)
		c[i] = cell(res, r, i);
	if (c[F_ENTRY])
		snprintf(about, sizeof(about), "entry %s/%s %s", c[F_REPORT],
		    c[F_ENTRY], c[F_ENTRY_ID]);
	else if (c[F_SUBMISSION])
		snprintf(about, sizeof(about), "event %s:%s %s", c[F_SUBMISSION],
		    c[F_ITEM], c[F_EVENT_ID]);
	else
		snprintf(about, sizeof(about), "rule %s", c[F_RULE] ? c[F_RULE] : "-");
	snprintf(incident, sizeof(incident), "%s%s", c[F_INCIDENT] ?
	    c[F_INCIDENT] : "-", c[F_OPENED][0] == 't' ? " (opened)" : "");
	const char *t[6] = { c[F_FINDING], c[F_AT] ? c[F_AT] : "-", about,
		incident, c[F_TITLE] ? c[F_TITLE] : "-", c[F_WHY] };
	out_row(o, t);
}

int
cmd_reconcile(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "supplier", required_argument, NULL, 's' },
		{ "period", required_argument, NULL, 'p' },
		{ "min-severity", required_argument, NULL, 'v' },
		{ "open", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const struct out_col cols[F_NCOLS] = {
		{ "finding", 0, OUT_TEXT, 1 }, { "at", 0, OUT_TEXT, 1 },
		{ "report", 0, OUT_NUMBER, 1 }, { "entry", 0, OUT_NUMBER, 1 },
		{ "entry_id", 0, OUT_TEXT, 1 }, { "log_ref", 0, OUT_TEXT, 1 },
		{ "submission", 0, OUT_NUMBER, 1 }, { "item", 0, OUT_NUMBER, 1 },
		{ "event_id", 0, OUT_TEXT, 1 }, { "severity", 0, OUT_NUMBER, 1 },
		{ "personal_data", 0, OUT_BOOL, 1 }, { "incident", 0, OUT_TEXT, 1 },
		{ "opened", 0, OUT_BOOL, 1 }, { "rule", 0, OUT_TEXT, 1 },
		{ "title", 0, OUT_TEXT, 1 }, { "why", 0, OUT_TEXT, 1 } };
	static const struct out_col table_cols[] = {
		{ "FINDING", 0, OUT_TEXT, 0 }, { "AT", 0, OUT_TEXT, 0 },
		{ "ABOUT", 48, OUT_TEXT, 0 }, { "INCIDENT", 0, OUT_TEXT, 0 },
		{ "TITLE", 48, OUT_TEXT, 0 }, { "WHY", 0, OUT_TEXT, 0 } };
	const char *supplier = NULL, *period = NULL;
	char sev[24] = "", err[160];
	enum out_format format = OUT_TABLE;
	int ch, do_open = 0, rc = 2;
	PGresult *sum = NULL, *res = NULL;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': supplier = optarg; break;
		case 'p':
			if (!cli_month_ok(optarg)) {
				fprintf(stderr, "bevis reconcile: --period: '%s' is "
				    "not a month like 2026-10\n", optarg);
				return 2;
			}
			period = optarg;
			break;
		case 'v': {
			long long v = severity_from_name(optarg, strlen(optarg));
			if (v < 0 && numarg_parse(optarg, 0, SEVERITY_COUNT - 1, &v,
			    err, sizeof(err)) < 0) {
				fprintf(stderr, "bevis reconcile: --min-severity: %s, "
				    "or a name (informational, low, medium, high, "
				    "critical, fatal)\n", err);
				return 2;
			}
			snprintf(sev, sizeof(sev), "%lld", v);
			break;
		}
		case 'o': do_open = 1; break;
		case 'j': format = OUT_JSON; break;
		case 'x': format = OUT_CSV; break;
		default: return cli_usage("reconcile", stderr);
		}
	}
	if (optind != argc || supplier == NULL || period == NULL)
		return cli_usage("reconcile", stderr);
	PGconn *conn = cli_connect_zoned(cli, "reconcile");
	if (sev[0] == '\0') {
		/* The config's [quality] reconcile_min_severity (high). */
		const char *name = cli->cfg.reconcile_min_severity;
		long long v = severity_from_name(name, strlen(name));
		if (v < 0) {
			fprintf(stderr, "bevis reconcile: [quality] "
			    "reconcile_min_severity: '%s' is not a severity "
			    "(informational, low, medium, high, critical, fatal)\n",
			    name);
			PQfinish(conn);
			return 2;
		}
		snprintf(sev, sizeof(sev), "%lld", v);
	}
	const char *params[3] = { supplier, period, sev };
	/* Reading: one snapshot for the summary and the findings. --open
	 * writes, each statement in its own: bevis_reconcile_open() reads the
	 * findings after its lock, so it must see what committed before. */
	if (!do_open && cli_exec("reconcile", conn, "BEGIN ISOLATION LEVEL "
	    "REPEATABLE READ READ ONLY", PGRES_COMMAND_OK) < 0)
		goto out;
	sum = PQexecParams(conn, SUMMARY_SQL, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(sum) != PGRES_TUPLES_OK || PQntuples(sum) != 1) {
		cli_incident_error("reconcile", conn, sum);
		goto out;
	}
	const char *sql = do_open ? (format == OUT_TABLE ?
	    FINDINGS_SQL("bevis_reconcile_open", CLI_LOCAL_TIME) :
	    FINDINGS_SQL("bevis_reconcile_open", CLI_JSON_TIME)) :
	    (format == OUT_TABLE ? FINDINGS_SQL("bevis_reconcile", CLI_LOCAL_TIME) :
	    FINDINGS_SQL("bevis_reconcile", CLI_JSON_TIME));
	res = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		cli_incident_error("reconcile", conn, res);
		goto out;
	}

	int rows = PQntuples(res), claimed = 0, unreported = 0, rules = 0;
	struct buf opened = BUF_INIT;
	int nopened = 0;
	struct out o;

	out_init(&o, stdout, format, format == OUT_TABLE ? table_cols : cols,
	    format == OUT_TABLE ? 6 : F_NCOLS);
	for (int r = 0; r < rows; r++) {
		const char *f = cell(res, r, F_FINDING);

		claimed += strcmp(f, "claimed_no_evidence") == 0;
		unreported += strcmp(f, "unreported_event") == 0;
		rules += strcmp(f, "unmentioned_rule_incident") == 0;
		if (cell(res, r, F_OPENED)[0] == 't') {
			buf_puts(&opened, nopened++ ? ", " : "");
			buf_puts(&opened, cell(res, r, F_INCIDENT));
		}
		if (format == OUT_TABLE) {
			table_row(&o, res, r);
			continue;
		}
		const char *cells[F_NCOLS];
		for (int c = 0; c < F_NCOLS; c++)
			cells[c] = cell(res, r, c);
		out_row(&o, cells);
	}
	out_finish(&o);
	fflush(stdout);

	/* The summary: which report was compared (or that none came), and
	 * what was found. Supplier text goes through the escaping. */
	struct buf b = BUF_INIT;
	int has_report = cell(sum, 0, 0) != NULL;
	out_escape_text(&b, supplier, strlen(supplier));
	buf_printf(&b, " %s: ", period);
	if (has_report) {
		buf_printf(&b, "report %s (%s, version %s, received %s), %s "
		    "entr%s, against ", cell(sum, 0, 0), cell(sum, 0, 1),
		    cell(sum, 0, 2), cell(sum, 0, 3), cell(sum, 0, 4),
		    strcmp(cell(sum, 0, 4), "1") == 0 ? "y" : "ies");
	} else {
		buf_puts(&b, "no report from ");
		out_escape_text(&b, supplier, strlen(supplier));
		buf_puts(&b, " for this month (bevis reports lists those that "
		    "came); ");
	}
	buf_printf(&b, "%s event%s in the month: %d claimed with no evidence, "
	    "%d unreported event%s, %d unmentioned rule incident%s\n",
	    cell(sum, 0, 5), strcmp(cell(sum, 0, 5), "1") == 0 ? "" : "s",
	    claimed, unreported, unreported == 1 ? "" : "s", rules,
	    rules == 1 ? "" : "s");
	if (do_open) {
		if (nopened)
			buf_printf(&b, "opened %d potential incident%s: %s\n",
			    nopened, nopened == 1 ? "" : "s",
			    buf_cstr(&opened));
		else
			buf_puts(&b, "opened no incident: no unreported event is "
			    "left without one\n");
	}
	fwrite(b.data, 1, b.len, stderr);
	buf_free(&b);
	buf_free(&opened);
	rc = rows > 0 || !has_report ? 1 : 0;
out:
	PQclear(sum);
	PQclear(res);
	PQfinish(conn);
	return rc;
}
