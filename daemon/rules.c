/* rules.c - the rules evaluator (rules.h). Blocking libpq on a thread, as
 * the ledger listener does: each bevis_rules_evaluate() call is one
 * statement in autocommit, so one transaction; the position it stores
 * commits with the incidents it opens, or neither does. Every ledger
 * append NOTIFYs bevis_ledger (sql/0008), so the thread LISTENs there and
 * sleeps until something was committed, waking at least once a second. */
#include "rules.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "dbconn.h"
#include "log.h"
#include "xmalloc.h"

/* Leaves per transaction: small, so that a batch's transaction (which
 * holds the ledger lock from its first incident to COMMIT) stays short. */
#define RULES_BATCH_LEAVES	16
#define RULES_BATCH_EVENTS	2000
#define RULES_LAG_EVERY_MS	1000

struct rules {
	pthread_t thread;
	const struct config *cfg;
	atomic_int stop;
};

/* For /metrics: written by the thread, read by the loop. */
static struct {
	atomic_int_fast64_t lag_events, lag_ms, position;
	atomic_uint_fast64_t events, matches, opened, joined, batches, errors;
	atomic_int known;	/* the lag has been measured once */
} st;

static PGconn *
rules_connect(const struct config *cfg)
{
	PGconn *conn = db_connect(cfg, "bevisd-rules");
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return NULL;
	}
	res = PQexec(conn, "LISTEN bevis_ledger");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("rules: LISTEN bevis_ledger: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* One transaction: evaluates up to max leaves. Returns the number of
 * leaves evaluated, -1 on an error (logged), or -2 when another evaluator
 * holds the position. */
static int
evaluate(PGconn *conn, int max)
{
	char n[16], e[16];
	const char *params[2] = { n, e };
	PGresult *res;
	int leaves;

	snprintf(n, sizeof(n), "%d", max);
	snprintf(e, sizeof(e), "%d", max == RULES_BATCH_LEAVES ?
	    RULES_BATCH_EVENTS : 1);
	res = PQexecParams(conn, "SELECT leaves, events, matches, opened, "
	    "joined, leaf_idx FROM bevis_rules_evaluate($1::integer, "
	    "$2::integer)", 2, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_warnx("rules: evaluation failed: %s",
		    PQresultErrorMessage(res));
		atomic_fetch_add(&st.errors, 1);
		PQclear(res);
		return -1;
	}
	if (PQgetisnull(res, 0, 5)) {
		/* Another bevisd is evaluating: its turn. */
		PQclear(res);
		return -2;
	}
	leaves = atoi(PQgetvalue(res, 0, 0));
	atomic_fetch_add(&st.events, (uint64_t)atoll(PQgetvalue(res, 0, 1)));
	atomic_fetch_add(&st.matches, (uint64_t)atoll(PQgetvalue(res, 0, 2)));
	atomic_fetch_add(&st.opened, (uint64_t)atoll(PQgetvalue(res, 0, 3)));
	atomic_fetch_add(&st.joined, (uint64_t)atoll(PQgetvalue(res, 0, 4)));
	atomic_store(&st.position, atoll(PQgetvalue(res, 0, 5)));
	if (leaves > 0) {
		atomic_fetch_add(&st.batches, 1);
		if (atoi(PQgetvalue(res, 0, 3)) > 0)
			log_info("rules: opened %s incident(s), joined %s, over "
			    "leaves up to %s", PQgetvalue(res, 0, 3),
			    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
	}
	PQclear(res);
	return leaves;
}

static int
measure_lag(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT events, seconds, leaf_idx "
	    "FROM bevis_rules_lag()");

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_warnx("rules: cannot measure the lag: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	atomic_store(&st.lag_events, atoll(PQgetvalue(res, 0, 0)));
	atomic_store(&st.lag_ms, (int_fast64_t)(atof(PQgetvalue(res, 0, 1)) *
	    1000.0));
	atomic_store(&st.position, atoll(PQgetvalue(res, 0, 2)));
	atomic_store(&st.known, 1);
	PQclear(res);
	return 0;
}

/* Waits on conn for a notification, a stop, or a second. Returns -1 when
 * the connection broke. */
static int
wait_notify(struct rules *r, PGconn *conn)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
	PGnotify *n;

	if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
		return -1;
	if (atomic_load(&r->stop))
		return 0;
	if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
	    !PQconsumeInput(conn))
		return -1;
	while ((n = PQnotifies(conn)) != NULL)
		PQfreemem(n);
	return 0;
}

/* Evaluates until caught up, then sleeps until the ledger grows. A batch
 * that fails (a statement timeout on a huge submission, say) is retried
 * one leaf at a time before the batch grows back. */
static void
rules_loop(struct rules *r, PGconn *conn)
{
	int max = RULES_BATCH_LEAVES;
	int64_t measured = 0;

	while (!atomic_load(&r->stop)) {
		int n = evaluate(conn, max);

		if (n == -2) {
			if (wait_notify(r, conn) < 0)
				return;
			continue;
		}
		if (n < 0) {
			if (PQstatus(conn) != CONNECTION_OK)
				return;
			max = 1;
			for (int i = 0; i < 10 && !atomic_load(&r->stop); i++)
				usleep(100000);
			continue;
		}
		if (max < RULES_BATCH_LEAVES && n == max)
			max *= 2;
		int caught_up = n < max;
		int64_t now = clock_mono_ms();
		if (caught_up || now - measured >= RULES_LAG_EVERY_MS) {
			if (measure_lag(conn) < 0 &&
			    PQstatus(conn) != CONNECTION_OK)
				return;
			measured = now;
		}
		if (caught_up && atomic_load(&st.lag_events) == 0 &&
		    wait_notify(r, conn) < 0)
			return;
	}
}

static void *
rules_main(void *arg)
{
	struct rules *r = arg;
	int64_t logged = 0;

	while (!atomic_load(&r->stop)) {
		PGconn *conn = rules_connect(r->cfg);

		if (conn == NULL) {
			if (clock_mono_ms() - logged >= 30000) {
				log_info("rules: cannot evaluate yet (the database "
				    "is away); retrying");
				logged = clock_mono_ms();
			}
			for (int i = 0; i < 10 && !atomic_load(&r->stop); i++)
				usleep(100000);
			continue;
		}
		rules_loop(r, conn);
		PQfinish(conn);
	}
	return NULL;
}

struct rules *
rules_start(const struct config *cfg)
{
	struct rules *r = xcalloc(1, sizeof(*r));

	r->cfg = cfg;
	if ((errno = pthread_create(&r->thread, NULL, rules_main, r)) != 0)
		fatal("pthread_create");
	return r;
}

void
rules_stop(struct rules *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stop, 1);
	pthread_join(r->thread, NULL);
	free(r);
}

void
rules_metrics(struct buf *b)
{
	if (atomic_load(&st.known))
		buf_printf(b, "# HELP bevis_rules_lag_events Committed events "
		    "the rules have not evaluated yet.\n"
		    "# TYPE bevis_rules_lag_events gauge\n"
		    "bevis_rules_lag_events %lld\n"
		    "# HELP bevis_rules_lag_seconds Age of the oldest committed "
		    "ledger leaf the rules have not evaluated yet.\n"
		    "# TYPE bevis_rules_lag_seconds gauge\n"
		    "bevis_rules_lag_seconds %.3f\n",
		    (long long)atomic_load(&st.lag_events),
		    (double)atomic_load(&st.lag_ms) / 1e3);
	buf_printf(b, "# HELP bevis_rules_position The last ledger leaf the "
	    "rules have evaluated (-1: none).\n"
	    "# TYPE bevis_rules_position gauge\nbevis_rules_position %lld\n"
	    "# HELP bevis_rules_events_total Events evaluated by this process.\n"
	    "# TYPE bevis_rules_events_total counter\n"
	    "bevis_rules_events_total %llu\n"
	    "# HELP bevis_rules_matches_total Rule matches found.\n"
	    "# TYPE bevis_rules_matches_total counter\n"
	    "bevis_rules_matches_total %llu\n"
	    "# HELP bevis_rules_incidents_total Incidents the rules opened or "
	    "joined.\n# TYPE bevis_rules_incidents_total counter\n"
	    "bevis_rules_incidents_total{action=\"opened\"} %llu\n"
	    "bevis_rules_incidents_total{action=\"joined\"} %llu\n"
	    "# HELP bevis_rules_errors_total Evaluations that failed and were "
	    "retried.\n# TYPE bevis_rules_errors_total counter\n"
	    "bevis_rules_errors_total %llu\n",
	    (long long)atomic_load(&st.position),
	    (unsigned long long)atomic_load(&st.events),
	    (unsigned long long)atomic_load(&st.matches),
	    (unsigned long long)atomic_load(&st.opened),
	    (unsigned long long)atomic_load(&st.joined),
	    (unsigned long long)atomic_load(&st.errors));
}
