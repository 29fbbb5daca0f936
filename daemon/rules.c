/* rules.c - the rules evaluator (rules.h). Blocking libpq on a thread, as
 * the ledger listener does: each bevis_rules_step() call is one statement
 * in autocommit, so one transaction; the position it stores commits with
 * the incidents it opens, or neither does. Every ledger append NOTIFYs
 * bevis_ledger (sql/0008), so while a rule is enabled the thread LISTENs
 * there and sleeps until something was committed, waking at least once a
 * second. While no rule is enabled it does no work per batch: it stops
 * listening to bevis_ledger and sleeps on bevis_rules, which a rule change
 * NOTIFYs (sql/0019), taking a step every RULES_IDLE_MS that moves the
 * position to the end of the ledger without reading an event. */
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
/* No rule enabled: how often the position follows the ledger. */
#define RULES_IDLE_MS		5000

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
	atomic_int running;	/* the thread was started (rules = on) */
	atomic_int active;	/* enabled rules at the last step; -1: unknown */
} st = { .active = -1 };

static PGconn *
rules_connect(const struct config *cfg)
{
	PGconn *conn = db_connect(cfg, "bevisd-rules");
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return NULL;
	}
	res = PQexec(conn, "LISTEN bevis_rules; LISTEN bevis_ledger");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("rules: LISTEN: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Listens to every ledger append (on), or not (off). */
static int
listen_ledger(PGconn *conn, int on)
{
	PGresult *res = PQexec(conn, on ? "LISTEN bevis_ledger" :
	    "UNLISTEN bevis_ledger");
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_warnx("rules: %sLISTEN bevis_ledger: %s", on ? "" : "UN",
		    PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Nothing committed is left to evaluate, as far as the last step saw. */
static void
lag_zero(void)
{
	atomic_store(&st.lag_events, 0);
	atomic_store(&st.lag_ms, 0);
	atomic_store(&st.known, 1);
}

/* One transaction: evaluates up to max leaves (sql/0019: with no rule
 * enabled it only moves the position to the end of the ledger). Returns
 * the number of leaves passed, -1 on an error (logged), or -2 when
 * another evaluator holds the position; *rules is the number of enabled
 * rules. */
static int
evaluate(PGconn *conn, int max, int *rules)
{
	char n[16], e[16];
	const char *params[2] = { n, e };
	PGresult *res;
	int leaves;

	snprintf(n, sizeof(n), "%d", max);
	snprintf(e, sizeof(e), "%d", max == RULES_BATCH_LEAVES ?
	    RULES_BATCH_EVENTS : 1);
	res = PQexecParams(conn, "SELECT leaves, events, matches, opened, "
	    "joined, leaf_idx, rules FROM bevis_rules_step($1::integer, "
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
	*rules = atoi(PQgetvalue(res, 0, 6));
	atomic_store(&st.active, *rules);
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

/* Waits on conn up to ms for a notification (one that came with the last
 * result counts too) or a stop. Returns 1 when notified, 0 when not, -1
 * when the connection broke. */
static int
wait_notify(struct rules *r, PGconn *conn, int ms)
{
	int64_t until = clock_mono_ms() + ms;
	int heard = 0;

	for (;;) {
		PGnotify *n;

		while ((n = PQnotifies(conn)) != NULL) {
			heard = 1;
			PQfreemem(n);
		}
		int64_t left = until - clock_mono_ms();
		if (heard || left <= 0 || atomic_load(&r->stop))
			return heard;
		/* In slices of a second, so that a stop is seen. */
		struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
		int rc = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0 && !PQconsumeInput(conn))
			return -1;
	}
}

/* Evaluates until caught up, then sleeps until the ledger grows. A batch
 * that fails (a statement timeout on a huge submission, say) is retried
 * one leaf at a time before the batch grows back. With no rule enabled it
 * sleeps until a rule changes, and every RULES_IDLE_MS lets the position
 * follow the ledger. The lag is read at most every RULES_LAG_EVERY_MS
 * while there is a backlog, never per batch. */
static void
rules_loop(struct rules *r, PGconn *conn)
{
	int max = RULES_BATCH_LEAVES, listening = 1, rules = 0;
	int64_t measured = 0;

	while (!atomic_load(&r->stop)) {
		int n = evaluate(conn, max, &rules);

		if (n == -2) {
			if (wait_notify(r, conn, 1000) < 0)
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
		if (rules == 0) {
			lag_zero();
			if (listening) {
				if (listen_ledger(conn, 0) < 0)
					return;
				listening = 0;
				log_info("rules: no rule is enabled; the evaluator "
				    "sleeps until one is");
			}
			if (wait_notify(r, conn, RULES_IDLE_MS) < 0)
				return;
			continue;
		}
		if (!listening) {
			/* Before the next step, so that no commit after it
			 * goes unheard. */
			if (listen_ledger(conn, 1) < 0)
				return;
			listening = 1;
			log_info("rules: %d rule(s) enabled; evaluating", rules);
			continue;
		}
		if (max < RULES_BATCH_LEAVES && n == max)
			max *= 2;
		if (n == 0) {
			/* Caught up with everything its snapshot saw. */
			lag_zero();
			if (wait_notify(r, conn, 1000) < 0)
				return;
			continue;
		}
		int64_t now = clock_mono_ms();
		if (now - measured >= RULES_LAG_EVERY_MS) {
			if (measure_lag(conn) < 0 &&
			    PQstatus(conn) != CONNECTION_OK)
				return;
			measured = now;
		}
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
	atomic_store(&st.running, 1);
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
	int active = atomic_load(&st.active);

	buf_printf(b, "# HELP bevis_rules_enabled Whether this bevisd runs the "
	    "rules evaluator (the config's rules = on).\n"
	    "# TYPE bevis_rules_enabled gauge\nbevis_rules_enabled %d\n",
	    atomic_load(&st.running));
	if (!atomic_load(&st.running))
		return;
	if (active >= 0)
		buf_printf(b, "# HELP bevis_rules_active Rules enabled at the "
		    "evaluator's last step (0: it sleeps until a rule is "
		    "enabled).\n# TYPE bevis_rules_active gauge\n"
		    "bevis_rules_active %d\n", active);
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
