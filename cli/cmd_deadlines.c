/* cmd_deadlines.c - bevis deadlines: the open deadlines (IMY, 72 hours from
 * aware_at; triage, triage_within days after opening) from
 * bevis_deadlines(), and the monthly reports expected and not come
 * (report_due_day per [source NAME] in the config, sql/0015), each with its
 * time left or how long it is overdue.
 * Exits 0 when nothing is overdue, 1 when something is, 2 on an error, so
 * that a systemd timer (systemd/bevis-deadlines.*) can alert. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config_source.h"
#include "output.h"

void
cli_time_left(long long seconds, char *out, size_t n)
{
	long long s = seconds < 0 ? -seconds : seconds;
	long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
	char span[48];

	if (d)
		snprintf(span, sizeof(span), "%lldd %lldh", d, h);
	else if (h)
		snprintf(span, sizeof(span), "%lldh %lldm", h, m);
	else
		snprintf(span, sizeof(span), "%lldm", m);
	if (seconds < 0)
		snprintf(out, n, "overdue by %s", span);
	else
		snprintf(out, n, "%s left", span);
}

/* "24h", "3d", "90m", "2w", "30s" as a PostgreSQL interval; -1 if not. */
int
parse_duration(const char *s, char *out, size_t n)
{
	static const struct { char unit; const char *name; } units[] = {
		{ 's', "seconds" }, { 'm', "minutes" }, { 'h', "hours" },
		{ 'd', "days" }, { 'w', "weeks" } };
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno || v < 0 || v > 100000 || end[0] == '\0' ||
	    end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit == *end) {
			snprintf(out, n, "%ld %s", v, units[i].name);
			return 0;
		}
	}
	return -1;
}

/* $1 triage_within, $2 --within (NULL: every open deadline), $3 the
 * config's report due days ({"SOURCE": DAY}, bevis_report_deadlines() in
 * sql/0015): the incidents' deadlines, then the reports expected and not
 * come (ref NULL, status "missing"). Overdue ones are always listed. */
#define DEADLINES_LIST_SQL(T) \
    "SELECT d.ref, d.status, d.kind, " T("d.due_at") ", " \
    "       floor(extract(epoch FROM d.due_at - now()))::bigint, " \
    "       d.due_at < now(), d.source, d.period " \
    "  FROM (SELECT i.ref, i.status, i.kind, i.due_at, NULL AS source, " \
    "               NULL AS period " \
    "          FROM bevis_deadlines($1::interval) i " \
    "        UNION ALL " \
    "        SELECT NULL, 'missing', 'report', r.due_at, r.source, r.period " \
    "          FROM bevis_report_deadlines($3::jsonb) r) d " \
    " WHERE $2::interval IS NULL OR d.due_at < now() + $2::interval " \
    " ORDER BY d.due_at, d.ref, d.source"

int
cmd_deadlines(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "within", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const struct out_col table_cols[] = {
		{ "REF", 0, OUT_TEXT, 0 }, { "STATUS", 0, OUT_TEXT, 0 },
		{ "DEADLINE", 0, OUT_TEXT, 0 }, { "DUE", 0, OUT_TEXT, 0 },
		{ "LEFT", 0, OUT_TEXT, 0 } };
	static const struct out_col json_cols[] = {
		{ "ref", 0, OUT_TEXT, 1 }, { "status", 0, OUT_TEXT, 1 },
		{ "kind", 0, OUT_TEXT, 1 }, { "due_at", 0, OUT_TEXT, 1 },
		{ "seconds_left", 0, OUT_NUMBER, 1 },
		{ "overdue", 0, OUT_BOOL, 1 },
		{ "source", 0, OUT_TEXT, 0 }, { "period", 0, OUT_TEXT, 0 } };
	char within[48], triage[32];
	struct buf due = BUF_INIT;
	const char *params[3] = { triage, NULL, NULL };
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'w':
			if (parse_duration(optarg, within, sizeof(within)) < 0) {
				fprintf(stderr, "bevis deadlines: --within: '%s' is "
				    "not a duration like 90m, 24h, 3d or 2w\n",
				    optarg);
				return 2;
			}
			params[1] = within;
			break;
		case 'j': json = 1; break;
		default: return cli_usage("deadlines", stderr);
		}
	}
	if (optind != argc)
		return cli_usage("deadlines", stderr);
	PGconn *conn = cli_connect_zoned(cli, "deadlines");
	snprintf(triage, sizeof(triage), "%ld days", cli->cfg.triage_within);
	config_source_due_json(&cli->cfg, &due);
	params[2] = buf_cstr(&due);
	PGresult *res = cli_exec_params("deadlines", conn, json ?
	    DEADLINES_LIST_SQL(CLI_JSON_TIME) :
	    DEADLINES_LIST_SQL(CLI_LOCAL_TIME), 3, params, PGRES_TUPLES_OK);
	buf_free(&due);
	if (res == NULL) {
		PQfinish(conn);
		return 2;
	}
	int rows = PQntuples(res), overdue = 0;
	struct out o;

	out_init(&o, stdout, json ? OUT_JSON : OUT_TABLE, json ? json_cols :
	    table_cols, json ? 8 : 5);
	for (int r = 0; r < rows; r++) {
		const char *cells[8];
		char left[64], report[64];

		for (int c = 0; c < 8; c++)
			cells[c] = PQgetisnull(res, r, c) ? NULL :
			    PQgetvalue(res, r, c);
		overdue += cells[5][0] == 't';
		if (!json) {
			cli_time_left(strtoll(cells[4], NULL, 10), left,
			    sizeof(left));
			if (strcmp(cells[2], "report") == 0) {
				/* An expected report: its source, its month. */
				snprintf(report, sizeof(report), "report %s",
				    cells[7]);
				cells[0] = cells[6];
				cells[2] = report;
			} else {
				cells[2] = strcmp(cells[2], "imy") == 0 ?
				    "IMY (Art. 33)" : "triage";
			}
			cells[4] = left;
		}
		out_row(&o, cells);
	}
	out_finish(&o);
	if (!json)
		fprintf(stderr, "%d open deadline%s%s%s, %d overdue\n", rows,
		    rows == 1 ? "" : "s", params[1] ? " within " : "",
		    params[1] ? params[1] : "", overdue);
	PQclear(res);
	PQfinish(conn);
	return overdue ? 1 : 0;
}
