#include "metrics.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pull.h"
#include "quality.h"
#include "receive.h"
#include "rules.h"
#include "spool.h"
#include "writer.h"

#define HTTP_MAX_HEADERS	8192	/* bytes of request line and headers */
#define HTTP_TIMEOUT_S		5	/* to read a request or write a reply */

struct metrics metrics;
const double metrics_bucket_seconds[METRICS_BUCKETS] = { 0.001, 0.002, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

static struct evhttp *http;

struct sources {
	struct receiver *rc;
	struct writer_pool *pool;
	struct spool *spool;
};
static struct sources src;

void
metrics_batch(const struct metrics_batch *mb)
{
	int64_t commit_us = mb->commit_us;

	atomic_fetch_add(&metrics.items_accepted, mb->answered[0]);
	atomic_fetch_add(&metrics.items_duplicate, mb->answered[1]);
	atomic_fetch_add(&metrics.items_quarantined, mb->answered[2]);
	atomic_fetch_add(&metrics.rows_event, mb->events);
	atomic_fetch_add(&metrics.rows_quarantine, mb->quarantined);
	atomic_fetch_add(&metrics.rows_submission, mb->submissions);
	atomic_fetch_add(&metrics.replays, mb->replays);
	atomic_fetch_add(&metrics.batches, 1);
	atomic_fetch_add(&metrics.commit_us_sum, (uint64_t)commit_us);
	atomic_fetch_add(&metrics.commit_count, 1);
	for (int i = 0; i < METRICS_BUCKETS; i++)
		if ((double)commit_us / 1e6 <= metrics_bucket_seconds[i])
			atomic_fetch_add(&metrics.commit_le[i], 1);
}

static void
render_spool(struct buf *b, struct spool *sp)
{
	struct spool_stats st;

	memset(&st, 0, sizeof(st));
	if (sp)
		spool_stats(sp, &st);
	buf_printf(b, "# HELP bevis_spool_bytes Bytes of spool files on disk "
	    "(0 without a spool).\n# TYPE bevis_spool_bytes gauge\n"
	    "bevis_spool_bytes %llu\n"
	    "# HELP bevis_spool_max_bytes The spool's bound (spool_max_bytes).\n"
	    "# TYPE bevis_spool_max_bytes gauge\nbevis_spool_max_bytes %llu\n"
	    "# HELP bevis_spool_records Spooled requests not yet committed.\n"
	    "# TYPE bevis_spool_records gauge\nbevis_spool_records %llu\n"
	    "# HELP bevis_spool_appended_total Requests spooled.\n"
	    "# TYPE bevis_spool_appended_total counter\n"
	    "bevis_spool_appended_total %llu\n"
	    "# HELP bevis_spool_replayed_total Spooled requests committed.\n"
	    "# TYPE bevis_spool_replayed_total counter\n"
	    "bevis_spool_replayed_total %llu\n"
	    "# HELP bevis_spool_corrupt_total Damaged spool records moved aside.\n"
	    "# TYPE bevis_spool_corrupt_total counter\n"
	    "bevis_spool_corrupt_total %llu\n"
	    "# HELP bevis_spool_busy_total Requests answered busy because the "
	    "spool was full.\n# TYPE bevis_spool_busy_total counter\n"
	    "bevis_spool_busy_total %llu\n"
	    "# HELP bevis_spool_write_errors_total Requests answered busy "
	    "because the spool could not be written.\n"
	    "# TYPE bevis_spool_write_errors_total counter\n"
	    "bevis_spool_write_errors_total %llu\n",
	    (unsigned long long)st.bytes, (unsigned long long)st.max_bytes,
	    (unsigned long long)st.records, (unsigned long long)st.appended,
	    (unsigned long long)st.replayed, (unsigned long long)st.corrupt,
	    (unsigned long long)atomic_load(&metrics.spool_busy),
	    (unsigned long long)atomic_load(&metrics.spool_failed));
}

static void
render(struct buf *b, struct receiver *rc)
{
	buf_printf(b, "# HELP bevis_items_total Items in the replies sent, by "
	    "outcome; a resent request is answered, and counted, again.\n"
	    "# TYPE bevis_items_total counter\n"
	    "bevis_items_total{outcome=\"accepted\"} %llu\n"
	    "bevis_items_total{outcome=\"duplicate\"} %llu\n"
	    "bevis_items_total{outcome=\"quarantined\"} %llu\n",
	    (unsigned long long)atomic_load(&metrics.items_accepted),
	    (unsigned long long)atomic_load(&metrics.items_duplicate),
	    (unsigned long long)atomic_load(&metrics.items_quarantined));
	buf_printf(b, "# HELP bevis_rows_written_total Rows written by committed "
	    "transactions, each once; replays and resends write none.\n"
	    "# TYPE bevis_rows_written_total counter\n"
	    "bevis_rows_written_total{table=\"event\"} %llu\n"
	    "bevis_rows_written_total{table=\"quarantine\"} %llu\n"
	    "bevis_rows_written_total{table=\"submission\"} %llu\n"
	    "# HELP bevis_replays_total Requests answered from the outcome of an "
	    "earlier commit (request-id retries, spool records committed before).\n"
	    "# TYPE bevis_replays_total counter\n"
	    "bevis_replays_total %llu\n",
	    (unsigned long long)atomic_load(&metrics.rows_event),
	    (unsigned long long)atomic_load(&metrics.rows_quarantine),
	    (unsigned long long)atomic_load(&metrics.rows_submission),
	    (unsigned long long)atomic_load(&metrics.replays));
	buf_printf(b, "# HELP bevis_batches_total Transactions committed.\n"
	    "# TYPE bevis_batches_total counter\n"
	    "bevis_batches_total %llu\n",
	    (unsigned long long)atomic_load(&metrics.batches));
	buf_puts(b, "# HELP bevis_commit_seconds Time from BEGIN to COMMIT of a batch.\n"
	    "# TYPE bevis_commit_seconds histogram\n");
	for (int i = 0; i < METRICS_BUCKETS; i++)
		buf_printf(b, "bevis_commit_seconds_bucket{le=\"%g\"} %llu\n",
		    metrics_bucket_seconds[i],
		    (unsigned long long)atomic_load(&metrics.commit_le[i]));
	uint64_t count = atomic_load(&metrics.commit_count);
	buf_printf(b, "bevis_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "bevis_commit_seconds_sum %.6f\nbevis_commit_seconds_count %llu\n",
	    (unsigned long long)count,
	    (double)atomic_load(&metrics.commit_us_sum) / 1e6,
	    (unsigned long long)count);
	buf_printf(b, "# HELP bevis_database_up 1 when the writers' last contact "
	    "with the database succeeded.\n"
	    "# TYPE bevis_database_up gauge\nbevis_database_up %d\n",
	    atomic_load(&metrics.db_ok));
	render_spool(b, src.spool);
	rules_metrics(b);
	quality_metrics(b);
	receiver_metrics(rc, b);
	pull_metrics(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evbuffer_new();
	struct buf b = BUF_INIT;

	if (out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		evhttp_send_error(req, 405, NULL);
		evbuffer_free(out);
		return;
	}
	if (strcmp(uri, "/metrics") == 0) {
		render(&b, src.rc);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "text/plain; version=0.0.4");
		evbuffer_add(out, b.data, b.len);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/healthz") == 0) {
		/* Serving while the database is up, or while the spool can
		 * take what it cannot. */
		int bad = writer_pool_unhealthy(src.pool);
		int up = atomic_load(&metrics.db_ok);
		evbuffer_add_printf(out, "%s\n", up ? "ok" : bad ?
		    "database unreachable and no room in the spool" :
		    "database unreachable; spooling");
		evhttp_send_reply(req, bad ? 503 : 200, bad ?
		    "Service Unavailable" : "OK", out);
	} else {
		evhttp_send_error(req, 404, NULL);
	}
	evbuffer_free(out);
	buf_free(&b);
}

int
metrics_http_start(struct event_base *base, const char *listen,
    struct receiver *rc, struct writer_pool *pool, struct spool *spool)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	long port;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
	    (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
		log_error("http_listen: '%s' is not HOST:PORT", listen);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
	if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0 &&
	    strcmp(host, "localhost") != 0) {
		log_error("http_listen: %s is not a loopback address", host);
		return -1;
	}
	if ((http = evhttp_new(base)) == NULL ||
	    evhttp_bind_socket(http, host, (unsigned short)port) != 0) {
		log_error("http_listen: cannot bind %s", listen);
		return -1;
	}
	/* GET only (on_request answers 405 to the others: evhttp's own
	 * refusal says 501), and small: a scraper sends a short request and
	 * reads a reply; anything else would make bevisd buffer it. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_timeout(http, HTTP_TIMEOUT_S);
	src.rc = rc;
	src.pool = pool;
	src.spool = spool;
	evhttp_set_gencb(http, on_request, NULL);
	log_info("metrics on http://%s/metrics", listen);
	return 0;
}

void
metrics_http_stop(void)
{
	if (http)
		evhttp_free(http);
	http = NULL;
}
