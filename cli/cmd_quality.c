/* cmd_quality.c - bevis quality: each supplier's log quality per month
 * (volume, silence, the A.8.15 fields, clock, sequence, chain, rejects,
 * reporting) and the score they make. Every figure comes from
 * bevis_quality() and bevis_quality_chain() in sql/0017_quality.sql;
 * docs/QUALITY.md has the formulas. This file only asks and renders. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config_source.h"
#include "output.h"
#include "quality.h"

/* A lag in seconds, as the histogram resolves it: 30s, 5m, 2h, 3d. */
#define QUALITY_LAG(x) \
    "CASE WHEN " x " IS NULL THEN '-' " \
    "     WHEN abs(" x ") < 60 THEN " x "::bigint || 's' " \
    "     WHEN abs(" x ") < 3600 THEN (" x " / 60)::bigint || 'm' " \
    "     WHEN abs(" x ") < 86400 THEN (" x " / 3600)::bigint || 'h' " \
    "     ELSE (" x " / 86400)::bigint || 'd' END"
#define QUALITY_PCT(x, f) \
    "coalesce(to_char(100 * " x ", '" f "'), '-')"

/* $1 supplier, $2 from, $3 to, $4 due days, $5 weights. */
#define QUALITY_ROWS "FROM bevis_quality($1, $2, $3, $4::jsonb, $5::jsonb) q "

static const char quality_table_sql[] =
    "SELECT q.supplier, q.period, coalesce(to_char(q.score, 'FM990.0'), '-'), "
    "       q.events, " QUALITY_PCT("q.volume_share", "FM99990") ", "
    "       coalesce(q.silent_hours::text, '-'), "
    QUALITY_PCT("q.share_actor_user", "FM990.0") ", "
    QUALITY_PCT("q.share_action", "FM990.0") ", "
    QUALITY_PCT("q.share_outcome", "FM990.0") ", "
    QUALITY_PCT("q.share_src_ip", "FM990.0") ", "
    QUALITY_PCT("q.share_target", "FM990.0") ", "
    QUALITY_LAG("q.lag_p50") ", " QUALITY_LAG("q.lag_p99") ", "
    "       q.future_events, q.late_events, "
    "       CASE WHEN q.seq_events = 0 THEN '-' ELSE q.seq_gaps || '/' || q.seq_missing "
    "            || '/' || q.seq_repeats || '/' || q.seq_reorders END, "
    "       CASE WHEN q.chain_events = 0 THEN '-' "
    "            ELSE q.chain_breaks || '/' || q.chain_forks END, "
    QUALITY_PCT("q.quarantine_share", "FM990.00") ", "
    QUALITY_PCT("q.duplicate_share", "FM990.00") ", "
    "       CASE q.report_status WHEN 'on_time' THEN 'on time' "
    "            WHEN 'late' THEN q.report_days_late || ' d late' "
    "            WHEN 'missing' THEN 'missing, ' || q.report_days_late || ' d' "
    "            WHEN 'not_due' THEN 'not due' ELSE '-' END "
    QUALITY_ROWS "ORDER BY q.supplier, q.period";

static const struct out_col quality_table_cols[] = {
	{ "SUPPLIER", 0, OUT_TEXT, 0 }, { "PERIOD", 0, OUT_TEXT, 0 },
	{ "SCORE", 0, OUT_TEXT, 0 }, { "EVENTS", 0, OUT_NUMBER, 0 },
	{ "VOLUME%", 0, OUT_TEXT, 0 }, { "SILENT_H", 0, OUT_TEXT, 0 },
	{ "USER%", 0, OUT_TEXT, 0 }, { "ACTION%", 0, OUT_TEXT, 0 },
	{ "OUTCOME%", 0, OUT_TEXT, 0 }, { "SRC_IP%", 0, OUT_TEXT, 0 },
	{ "TARGET%", 0, OUT_TEXT, 0 }, { "LAG_P50", 0, OUT_TEXT, 0 },
	{ "LAG_P99", 0, OUT_TEXT, 0 }, { "FUTURE", 0, OUT_NUMBER, 0 },
	{ "LATE", 0, OUT_NUMBER, 0 }, { "SEQ_G/M/R/O", 0, OUT_TEXT, 0 },
	{ "CHAIN_B/F", 0, OUT_TEXT, 0 }, { "QUAR%", 0, OUT_TEXT, 0 },
	{ "DUP%", 0, OUT_TEXT, 0 }, { "REPORT", 0, OUT_TEXT, 0 },
};

/* Every column of bevis_quality(), as it gives them (quality.h). */
static const char quality_all_sql[] =
    "SELECT q.supplier, q.period, q.score, q.scores, q.events, q.volume_median, "
    "       q.volume_share, q.covered_hours, q.active_hours, q.hourly, q.silent_hours, "
    "       q.share_actor_user, q.share_action, q.share_outcome, q.share_src_ip, "
    "       q.share_target, q.lag_p50, q.lag_p99, q.future_events, q.future_share, "
    "       q.late_events, q.late_share, q.seq_events, q.seq_gaps, q.seq_missing, "
    "       q.seq_repeats, q.seq_reorders, q.chain_events, q.chain_starts, "
    "       q.chain_breaks, q.chain_forks, q.items, q.quarantined, q.duplicates, "
    "       q.quarantine_share, q.duplicate_share, %s, %s, q.report_status, "
    "       q.report_days_late "
    QUALITY_ROWS "ORDER BY q.supplier, q.period";

const struct out_col quality_all_cols[] = {
	{ "supplier", 0, OUT_TEXT, 1 }, { "period", 0, OUT_TEXT, 1 },
	{ "score", 0, OUT_NUMBER, 1 }, { "scores", 0, OUT_RAWJSON, 1 },
	{ "events", 0, OUT_NUMBER, 1 }, { "volume_median", 0, OUT_NUMBER, 1 },
	{ "volume_share", 0, OUT_NUMBER, 1 }, { "covered_hours", 0, OUT_NUMBER, 1 },
	{ "active_hours", 0, OUT_NUMBER, 1 }, { "hourly", 0, OUT_BOOL, 1 },
	{ "silent_hours", 0, OUT_NUMBER, 1 },
	{ "share_actor_user", 0, OUT_NUMBER, 1 }, { "share_action", 0, OUT_NUMBER, 1 },
	{ "share_outcome", 0, OUT_NUMBER, 1 }, { "share_src_ip", 0, OUT_NUMBER, 1 },
	{ "share_target", 0, OUT_NUMBER, 1 },
	{ "lag_p50", 0, OUT_NUMBER, 1 }, { "lag_p99", 0, OUT_NUMBER, 1 },
	{ "future_events", 0, OUT_NUMBER, 1 }, { "future_share", 0, OUT_NUMBER, 1 },
	{ "late_events", 0, OUT_NUMBER, 1 }, { "late_share", 0, OUT_NUMBER, 1 },
	{ "seq_events", 0, OUT_NUMBER, 1 }, { "seq_gaps", 0, OUT_NUMBER, 1 },
	{ "seq_missing", 0, OUT_NUMBER, 1 }, { "seq_repeats", 0, OUT_NUMBER, 1 },
	{ "seq_reorders", 0, OUT_NUMBER, 1 },
	{ "chain_events", 0, OUT_NUMBER, 1 }, { "chain_starts", 0, OUT_NUMBER, 1 },
	{ "chain_breaks", 0, OUT_NUMBER, 1 }, { "chain_forks", 0, OUT_NUMBER, 1 },
	{ "items", 0, OUT_NUMBER, 1 }, { "quarantined", 0, OUT_NUMBER, 1 },
	{ "duplicates", 0, OUT_NUMBER, 1 },
	{ "quarantine_share", 0, OUT_NUMBER, 1 }, { "duplicate_share", 0, OUT_NUMBER, 1 },
	{ "report_due_at", 0, OUT_TEXT, 1 }, { "report_received_at", 0, OUT_TEXT, 1 },
	{ "report_status", 0, OUT_TEXT, 1 }, { "report_days_late", 0, OUT_NUMBER, 1 },
};
const size_t quality_all_ncols = sizeof(quality_all_cols) /
    sizeof(quality_all_cols[0]);

void
quality_all_query(struct buf *sql, int json)
{
	buf_printf(sql, quality_all_sql,
	    json ? CLI_JSON_TIME("q.report_due_at") :
	    CLI_LOCAL_TIME("q.report_due_at"),
	    json ? CLI_JSON_TIME("q.report_received_at") :
	    CLI_LOCAL_TIME("q.report_received_at"));
}

/* One supplier and month: each part of the score with its weight. */
static const char quality_parts_sql[] =
    "SELECT p.name, coalesce(to_char((q.scores ->> p.name)::numeric, 'FM990.0'), "
    "       'does not apply'), (bevis_quality_weights($5::jsonb) ->> p.name) "
    QUALITY_ROWS
    "CROSS JOIN unnest(ARRAY['volume', 'silence', 'completeness', 'clock', "
    "       'sequence', 'chain', 'rejects', 'reporting']) WITH ORDINALITY p (name, n) "
    "ORDER BY p.n";

static const struct out_col quality_parts_cols[] = {
	{ "MEASURE", 0, OUT_TEXT, 0 }, { "SUB-SCORE", 0, OUT_TEXT, 0 },
	{ "WEIGHT", 0, OUT_NUMBER, 0 },
};

/* $1 supplier, $2 period. */
static const char quality_chain_sql[] =
    "SELECT c.kind, %s, c.submission_id || ':' || c.item_no, c.source_event_id, "
    "       coalesce(c.prev, ''), coalesce(c.other, '') "
    "  FROM bevis_quality_chain($1, $2) c";

static const struct out_col quality_chain_table_cols[] = {
	{ "KIND", 0, OUT_TEXT, 0 }, { "RECEIVED", 0, OUT_TEXT, 0 },
	{ "EVENT", 0, OUT_TEXT, 0 }, { "ID", 40, OUT_TEXT, 0 },
	{ "CHAIN.PREV", 0, OUT_TEXT, 0 }, { "OTHER", 0, OUT_TEXT, 0 },
};
static const struct out_col quality_chain_cols[] = {
	{ "kind", 0, OUT_TEXT, 1 }, { "received_at", 0, OUT_TEXT, 1 },
	{ "event", 0, OUT_TEXT, 1 }, { "id", 0, OUT_TEXT, 1 },
	{ "prev", 0, OUT_TEXT, 1 }, { "other", 0, OUT_TEXT, 1 },
};


static int
print_rows(PGresult *res, enum out_format format, const struct out_col *cols,
    size_t ncols)
{
	struct out o;
	const char *cells[64];

	out_init(&o, stdout, format, cols, ncols);
	for (int r = 0; r < PQntuples(res); r++) {
		for (size_t c = 0; c < ncols; c++)
			cells[c] = PQgetisnull(res, r, (int)c) ? NULL :
			    PQgetvalue(res, r, (int)c);
		out_row(&o, cells);
	}
	out_finish(&o);
	return PQntuples(res);
}

int
cmd_quality(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "supplier", required_argument, NULL, 's' },
		{ "period", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "chain", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	enum out_format format = OUT_TABLE;
	const char *supplier = NULL, *from = NULL, *to = NULL, *period = NULL;
	int ch, chain = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': supplier = optarg; break;
		case 'p': period = optarg; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'C': chain = 1; break;
		case 'j': format = OUT_JSON; break;
		case 'v': format = OUT_CSV; break;
		default: return cli_usage("quality", stderr);
		}
	}
	if (optind != argc)
		return cli_usage("quality", stderr);
	if (period && (from || to)) {
		fprintf(stderr, "bevis quality: --period is one month; --from and "
		    "--to a range: give one or the other\n");
		return 2;
	}
	if (period)
		from = to = period;
	const char *const months[2] = { from, to };
	for (int i = 0; i < 2; i++) {
		if (months[i] && !cli_month_ok(months[i])) {
			fprintf(stderr, "bevis quality: '%s' is not a month "
			    "(YYYY-MM)\n", months[i]);
			return 2;
		}
	}
	if (chain && (!supplier || !period)) {
		fprintf(stderr, "bevis quality: --chain lists the breaks of one "
		    "supplier and month: give --supplier and --period\n");
		return 2;
	}

	PGconn *conn = cli_connect_zoned(cli, "quality");
	struct buf due = BUF_INIT, weights = BUF_INIT, sql = BUF_INIT;
	PGresult *res;

	config_source_due_json(&cli->cfg, &due);
	config_quality_weights_json(&cli->cfg, &weights);
	const char *params[5] = { supplier, from, to, buf_cstr(&due),
		buf_cstr(&weights) };

	if (chain) {
		int json = format == OUT_JSON;
		buf_printf(&sql, quality_chain_sql, json ?
		    CLI_JSON_TIME("c.received_at") :
		    CLI_LOCAL_TIME("c.received_at"));
		res = cli_exec_params("quality", conn, buf_cstr(&sql), 2,
		    (const char *const[]){ supplier, period }, PGRES_TUPLES_OK);
		if (res == NULL) {
			rc = 2;
		} else {
			int n = print_rows(res, format, format == OUT_TABLE ?
			    quality_chain_table_cols : quality_chain_cols, 6);
			if (format == OUT_TABLE)
				fprintf(stderr, "%d chain break%s or fork%s\n",
				    n, n == 1 ? "" : "s", n == 1 ? "" : "s");
			PQclear(res);
		}
		goto out;
	}
	if (format == OUT_TABLE) {
		res = cli_exec_params("quality", conn, quality_table_sql, 5,
		    params, PGRES_TUPLES_OK);
	} else {
		quality_all_query(&sql, format == OUT_JSON);
		res = cli_exec_params("quality", conn, buf_cstr(&sql), 5,
		    params, PGRES_TUPLES_OK);
	}
	if (res == NULL) {
		rc = 2;
		goto out;
	}
	int n = print_rows(res, format, format == OUT_TABLE ?
	    quality_table_cols : quality_all_cols, format == OUT_TABLE ?
	    sizeof(quality_table_cols) / sizeof(quality_table_cols[0]) :
	    quality_all_ncols);
	PQclear(res);
	if (format != OUT_TABLE)
		goto out;
	if (supplier && period && n == 1) {
		/* One month: what the score is made of. */
		res = cli_exec_params("quality", conn, quality_parts_sql, 5,
		    params, PGRES_TUPLES_OK);
		if (res == NULL) {
			rc = 2;
			goto out;
		}
		printf("\n");
		print_rows(res, OUT_TABLE, quality_parts_cols, 3);
		PQclear(res);
	}
	fprintf(stderr, "%d supplier-month%s; SEQ: gaps/missing/repeats/"
	    "reorderings, CHAIN: breaks/forks (docs/QUALITY.md)\n", n,
	    n == 1 ? "" : "s");
out:
	buf_free(&due);
	buf_free(&weights);
	buf_free(&sql);
	PQfinish(conn);
	return rc;
}
