/* metrics.h - counters for /metrics (Prometheus text format) and the
 * state /healthz reports. Writers update the atomics; the loop owns the
 * rest and serves HTTP on a loopback port (libevent's evhttp). */
#ifndef BEVIS_METRICS_H
#define BEVIS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_BUCKETS 11

struct metrics {
	/* Items in replies sent, by outcome: a resent request is answered
	 * (and counted) again. */
	atomic_uint_fast64_t items_accepted, items_duplicate, items_quarantined;
	/* Rows written by committed transactions: each is counted once, a
	 * replay or a resend writes none. */
	atomic_uint_fast64_t rows_event, rows_quarantine, rows_submission;
	atomic_uint_fast64_t replays;	/* requests answered from an earlier commit */
	atomic_uint_fast64_t batches;
	atomic_uint_fast64_t commit_le[METRICS_BUCKETS];	/* cumulative */
	atomic_uint_fast64_t commit_us_sum, commit_count;
	atomic_int db_ok;		/* the writers' last contact succeeded */
	atomic_uint_fast64_t spool_busy;	/* requests refused: spool full */
	atomic_uint_fast64_t spool_failed;	/* spool writes that failed */
};

extern struct metrics metrics;
extern const double metrics_bucket_seconds[METRICS_BUCKETS];

/* A committed batch: what its replies said, what it wrote, and how long
 * the transaction took. */
struct metrics_batch {
	uint64_t answered[3];		/* accepted, duplicate, quarantined */
	uint64_t events, quarantined, submissions;	/* rows written */
	uint64_t replays;
	int64_t commit_us;
};
void metrics_batch(const struct metrics_batch *mb);

struct event_base;
struct receiver;
struct writer_pool;
struct spool;
/* Serves /metrics and /healthz on listen ("127.0.0.1:9741"); returns -1 and
 * logs why when it cannot. Only loopback addresses are accepted. spool may
 * be NULL. */
int metrics_http_start(struct event_base *base, const char *listen,
    struct receiver *rc, struct writer_pool *pool, struct spool *spool);
void metrics_http_stop(void);

#endif
