/* quality.c - the bevis_quality_* gauges of /metrics (quality.h).
 *
 * bevis_quality() reads summaries, not events, but it still reads every
 * hour of every supplier's last six months: a few milliseconds on a small
 * database, more on a large one, and a scrape must never wait for it on
 * the event loop. So a thread of its own asks every quality_refresh
 * seconds (default 60), on its own connection (statement_timeout as every
 * bevisd session), renders the gauges into a buffer and swaps it in under
 * a mutex; the loop copies the last buffer into each scrape. A refresh
 * that fails keeps the last figures (bevis_quality_refreshed_timestamp
 * says how old they are) and counts in bevis_quality_refresh_errors_total.
 * Nothing here writes: the role bevis_ingest may only run bevis_quality(). */
#include "quality.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "config_source.h"
#include "dbconn.h"
#include "log.h"
#include "xmalloc.h"

static atomic_uint_fast64_t refresh_errors;

struct quality {
	pthread_t thread;
	const struct config *cfg;
	atomic_int stop;
	struct buf due, weights;	/* $1 and $2 of quality_sql */
	int failing;			/* logged once until a success */
};

/* A failure is a warning the first time, then debug until a reading
 * succeeds again: a database away for an hour logs one line, not 60. */
static void
failed(struct quality *q, const char *what, const char *why)
{
	int n = (int)strcspn(why, "\n");	/* libpq's end in a newline */

	if (q->failing)
		log_debug("quality: %s: %.*s", what, n, why);
	else
		log_warnx("quality: %s: %.*s", what, n, why);
	q->failing = 1;
	atomic_fetch_add(&refresh_errors, 1);
}

/* The last refresh, for the loop. */
static struct {
	pthread_mutex_t mu;
	struct buf text;		/* rendered gauges; empty: none yet */
	int64_t refreshed;		/* unix seconds of the last success */
} cache = { PTHREAD_MUTEX_INITIALIZER, BUF_INIT, 0 };

/* This month of every supplier (c), beside the month before (p), whose
 * report falls due during this one. Months are those of the session's
 * TimeZone, set to the config's timezone at connect. */
static const char quality_sql[] =
    "WITH m AS (SELECT to_char(now(), 'YYYY-MM') AS cur, "
    "                  to_char(now() - interval '1 month', 'YYYY-MM') AS prev), "
    "q AS (SELECT q.* FROM m CROSS JOIN LATERAL "
    "      bevis_quality(NULL, m.prev, m.cur, $1::jsonb, $2::jsonb) q) "
    "SELECT c.supplier, c.score, c.events, c.silent_hours, "
    "       c.share_actor_user, c.share_action, c.share_outcome, "
    "       c.share_src_ip, c.share_target, c.lag_p50, c.lag_p99, "
    "       c.future_events, c.late_events, "
    "       CASE WHEN c.seq_events > 0 THEN c.seq_missing END, "
    "       CASE WHEN c.seq_events > 0 THEN c.seq_repeats END, "
    "       CASE WHEN c.seq_events > 0 THEN c.seq_reorders END, "
    "       CASE WHEN c.chain_events > 0 THEN c.chain_breaks END, "
    "       CASE WHEN c.chain_events > 0 THEN c.chain_forks END, "
    "       c.quarantine_share, c.duplicate_share, "
    "       p.period, p.report_days_late, "
    "       CASE WHEN p.report_status IN ('on_time', 'late', 'missing') "
    "            THEN (p.report_status = 'missing')::integer END "
    "  FROM q c JOIN m ON c.period = m.cur "
    "  LEFT JOIN q p ON p.supplier = c.supplier AND p.period = m.prev "
    " ORDER BY c.supplier";

enum { C_SUPPLIER, C_SCORE, C_EVENTS, C_SILENT, C_SHARE, C_LAG_P50 = C_SHARE + 5,
	C_LAG_P99, C_FUTURE, C_LATE, C_SEQ_MISSING, C_SEQ_REPEATS,
	C_SEQ_REORDERS, C_CHAIN_BREAKS, C_CHAIN_FORKS, C_QUAR, C_DUP,
	C_PERIOD, C_REPORT_LATE, C_REPORT_MISSING, C_NCOLS };

/* One gauge of the current month: its column, name and help. */
static const struct gauge {
	int col;
	const char *name, *help;
} gauges[] = {
	{ C_SCORE, "bevis_quality_score", "The month's score, 0 to 100: the "
	    "weighted mean of the sub-scores that apply (bevis quality)." },
	{ C_EVENTS, "bevis_quality_events", "Events received this month." },
	{ C_SILENT, "bevis_quality_silent_hours", "Whole hours of the month "
	    "without an event, for a supplier that normally sends every hour." },
	{ C_FUTURE, "bevis_quality_future_events", "Events this month dated "
	    "more than 5 minutes after their receipt." },
	{ C_LATE, "bevis_quality_late_events", "Events this month received "
	    "more than 24 hours after they occurred." },
	{ C_SEQ_MISSING, "bevis_quality_seq_missing", "seq numbers skipped "
	    "this month (events missing), for a supplier that sends seq." },
	{ C_SEQ_REPEATS, "bevis_quality_seq_repeats", "Events this month "
	    "whose seq number was seen before." },
	{ C_SEQ_REORDERS, "bevis_quality_seq_reorders", "Events this month "
	    "whose new seq number is below the highest seen." },
	{ C_CHAIN_BREAKS, "bevis_quality_chain_breaks", "Chained events this "
	    "month whose chain.prev names no stored event of the supplier." },
	{ C_CHAIN_FORKS, "bevis_quality_chain_forks", "Chained events this "
	    "month naming a predecessor an earlier event named." },
	{ C_QUAR, "bevis_quality_quarantine_share", "Share (0 to 1) of the "
	    "month's items that were quarantined." },
	{ C_DUP, "bevis_quality_duplicate_share", "Share (0 to 1) of the "
	    "month's items that were resends (duplicate)." },
};

static const char *const share_fields[5] = { "actor_user", "action",
	"outcome", "src_ip", "target" };

void
quality_label_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': buf_puts(b, "\\\\"); break;
		case '"': buf_puts(b, "\\\""); break;
		case '\n': buf_puts(b, "\\n"); break;
		default: buf_putc(b, *s);
		}
	}
}

/* A value from the database as a Prometheus float; 0 when it is NULL
 * or not a number (the caller skips NULLs). */
static int
value(PGresult *res, int row, int col, double *v)
{
	char *end;

	if (PQgetisnull(res, row, col))
		return 0;
	errno = 0;
	*v = strtod(PQgetvalue(res, row, col), &end);
	return *end == '\0' && errno == 0 && isfinite(*v);
}

static void
sample(struct buf *b, const char *name, PGresult *res, int row,
    const char *extra, double v)
{
	buf_printf(b, "%s{supplier=\"", name);
	quality_label_escape(b, PQgetvalue(res, row, C_SUPPLIER));
	buf_printf(b, "\"%s} %.15g\n", extra, v);
}

static void
render(struct buf *b, PGresult *res)
{
	int n = PQntuples(res);
	double v;
	char extra[96];

	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name,
		    gauges[g].help, gauges[g].name);
		for (int r = 0; r < n; r++)
			if (value(res, r, gauges[g].col, &v))
				sample(b, gauges[g].name, res, r, "", v);
		if (gauges[g].col == C_EVENTS) {
			/* the families with a second label, after events */
			buf_puts(b, "# HELP bevis_quality_share Share (0 to 1) "
			    "of this month's events that carry the field "
			    "(ISO/IEC 27001 A.8.15).\n"
			    "# TYPE bevis_quality_share gauge\n");
			for (int r = 0; r < n; r++)
				for (int f = 0; f < 5; f++) {
					if (!value(res, r, C_SHARE + f, &v))
						continue;
					snprintf(extra, sizeof(extra),
					    ",field=\"%s\"", share_fields[f]);
					sample(b, "bevis_quality_share", res, r,
					    extra, v);
				}
			buf_puts(b, "# HELP bevis_quality_lag_seconds Receipt "
			    "minus occurrence of this month's events, median "
			    "and 99th percentile, as the histogram resolves it."
			    "\n# TYPE bevis_quality_lag_seconds gauge\n");
			for (int r = 0; r < n; r++)
				for (int qn = 0; qn < 2; qn++)
					if (value(res, r, C_LAG_P50 + qn, &v))
						sample(b, "bevis_quality_lag_seconds",
						    res, r, qn ? ",quantile=\"0.99\"" :
						    ",quantile=\"0.5\"", v);
		}
	}
	buf_puts(b, "# HELP bevis_quality_report_days_late Days after its due "
	    "day that last month's report came, or, while it is missing, "
	    "that have passed (0: on time).\n"
	    "# TYPE bevis_quality_report_days_late gauge\n");
	for (int r = 0; r < n; r++) {
		if (!value(res, r, C_REPORT_LATE, &v))
			continue;
		buf_puts(b, "bevis_quality_report_days_late{supplier=\"");
		quality_label_escape(b, PQgetvalue(res, r, C_SUPPLIER));
		buf_puts(b, "\",period=\"");
		quality_label_escape(b, PQgetvalue(res, r, C_PERIOD));
		buf_printf(b, "\"} %.15g\n", v);
	}
	buf_puts(b, "# HELP bevis_quality_report_missing 1 while last month's "
	    "report is past its due day and has not come, else 0.\n"
	    "# TYPE bevis_quality_report_missing gauge\n");
	for (int r = 0; r < n; r++) {
		if (!value(res, r, C_REPORT_MISSING, &v))
			continue;
		buf_puts(b, "bevis_quality_report_missing{supplier=\"");
		quality_label_escape(b, PQgetvalue(res, r, C_SUPPLIER));
		buf_puts(b, "\",period=\"");
		quality_label_escape(b, PQgetvalue(res, r, C_PERIOD));
		buf_printf(b, "\"} %.15g\n", v);
	}
}

/* One refresh. Returns -1 when the query failed (logged). */
static int
refresh(struct quality *q, PGconn *conn)
{
	const char *params[2] = { buf_cstr(&q->due), buf_cstr(&q->weights) };
	PGresult *res = PQexecParams(conn, quality_sql, 2, NULL, params, NULL,
	    NULL, 0);
	struct buf b = BUF_INIT;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != C_NCOLS) {
		failed(q, "cannot refresh the /metrics gauges",
		    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (q->failing)
		log_info("quality: the /metrics gauges are read again");
	q->failing = 0;
	render(&b, res);
	PQclear(res);
	pthread_mutex_lock(&cache.mu);
	struct buf old = cache.text;
	cache.text = b;
	cache.refreshed = (int64_t)time(NULL);
	pthread_mutex_unlock(&cache.mu);
	buf_free(&old);
	return 0;
}

static PGconn *
quality_connect(struct quality *q)
{
	PGconn *conn = db_connect(q->cfg, "bevisd-quality");
	const char *params[1] = { q->cfg->timezone };
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK) {
		failed(q, "cannot connect", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	res = PQexecParams(conn, "SELECT set_config('TimeZone', $1, false)", 1,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		failed(q, "[client] timezone", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Sleeps ms in steps of 100 ms; returns early on a stop. */
static void
nap(struct quality *q, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	while (!atomic_load(&q->stop) && clock_mono_ms() < until)
		usleep(100000);
}

static void *
quality_main(void *arg)
{
	struct quality *q = arg;
	PGconn *conn = NULL;

	while (!atomic_load(&q->stop)) {
		/* Nothing to hurry for: the next try is the next reading. */
		if (conn == NULL && (conn = quality_connect(q)) == NULL) {
			nap(q, 1000 * (int64_t)q->cfg->quality_refresh);
			continue;
		}
		if (refresh(q, conn) < 0 && PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		nap(q, 1000 * (int64_t)q->cfg->quality_refresh);
	}
	PQfinish(conn);
	return NULL;
}

struct quality *
quality_start(const struct config *cfg)
{
	struct quality *q = xcalloc(1, sizeof(*q));

	q->cfg = cfg;
	config_source_due_json(cfg, &q->due);
	config_quality_weights_json(cfg, &q->weights);
	if ((errno = pthread_create(&q->thread, NULL, quality_main, q)) != 0)
		fatal("pthread_create");
	return q;
}

void
quality_stop(struct quality *q)
{
	if (q == NULL)
		return;
	atomic_store(&q->stop, 1);
	pthread_join(q->thread, NULL);
	buf_free(&q->due);
	buf_free(&q->weights);
	free(q);
	pthread_mutex_lock(&cache.mu);
	buf_free(&cache.text);
	cache.refreshed = 0;
	pthread_mutex_unlock(&cache.mu);
}

void
quality_metrics(struct buf *b)
{
	pthread_mutex_lock(&cache.mu);
	if (cache.refreshed) {
		buf_append(b, cache.text.data, cache.text.len);
		buf_printf(b, "# HELP bevis_quality_refreshed_timestamp_seconds "
		    "When the bevis_quality_* gauges were last read from the "
		    "database (Unix time).\n"
		    "# TYPE bevis_quality_refreshed_timestamp_seconds gauge\n"
		    "bevis_quality_refreshed_timestamp_seconds %lld\n",
		    (long long)cache.refreshed);
	}
	pthread_mutex_unlock(&cache.mu);
	buf_printf(b, "# HELP bevis_quality_refresh_errors_total Refreshes of "
	    "the bevis_quality_* gauges that failed (the last figures stay).\n"
	    "# TYPE bevis_quality_refresh_errors_total counter\n"
	    "bevis_quality_refresh_errors_total %llu\n",
	    (unsigned long long)atomic_load(&refresh_errors));
}
