/* writer.c - the writer pool: threads that take queued requests in
 * batches and commit each batch in one transaction (ingest.c turns items
 * into rows, store.c writes them); the replies leave only after COMMIT.
 * This file is the pool, its queue, and the retry and spool machine.
 *
 * Which write mode a batch is tried in (store.h): FAST first; DEDUP after
 * a unique violation; PER_ITEM when DEDUP also fails with a data error.
 * Connection, serialization and resource errors (classes 08, 40, 53, 57)
 * retry the whole batch after a reconnect, with backoff.
 *
 * The spool: when the database stays unreachable (classes 08, 53, 57) for
 * spool_after_ms, the batch's requests are appended to the spool, made
 * durable with fdatasync, and answered "spooled". From then on batches go
 * to the spool at once, until a writer reaches the database again. One
 * writer at a time replays the spool, oldest record first, through the same
 * write path; a record leaves the spool only after its COMMIT. A record
 * replayed twice (a crash between COMMIT and the spool's truncation) is
 * answered from the stored outcome by its request id, so nothing is stored
 * twice. */
#include "writer.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "clock.h"
#include "db.h"
#include "dbconn.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "reply.h"
#include "spool.h"
#include "status.h"
#include "store.h"
#include "treehead.h"
#include "xmalloc.h"

struct writer {
	pthread_t thread;
	struct writer_pool *pool;
	int num;
	PGconn *conn;
	struct supplier_cache sc;
	struct writer_limits lim;	/* the pool's, as of the last batch */
	int conn_failed;	/* the last connection attempt failed */
	int64_t conn_logged_ms;	/* when that was last logged */
	struct request_list status;	/* STATUS requests taken (status.c) */
};

struct writer_pool {
	const struct config *cfg;	/* what only a restart changes */
	struct writer_limits lim;	/* what SIGHUP changes; under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct request_list queue;
	struct request_list done;
	int stopping;
	/* the spool */
	struct spool *spool;	/* NULL: none */
	struct status_index *spooled;	/* its requests, for STATUS */
	int db_down;		/* a batch was spooled; spool the next at once */
	int replaying;		/* a writer is replaying the spool */
	int64_t next_probe_ms;	/* when the database is next tried for replay */
	/* signed tree heads */
	const struct checkpoint_signer *signer;	/* NULL: none are signed */
	int dirty;		/* leaves appended since the last head */
	int signing;		/* a writer is signing */
	int64_t next_sign_ms;
	int efd;
	struct writer *writers;
	int nwriters;
};

/* ---- connection ---- */

static void
disconnect(struct writer *w)
{
	PQfinish(w->conn);
	w->conn = NULL;
}

static int
pool_stopping(struct writer_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int stopping = p->stopping;
	pthread_mutex_unlock(&p->mu);
	return stopping;
}

/* The database took a connection or a commit: batches go to it again. */
static void
pool_set_db_up(struct writer_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int was = p->db_down;
	p->db_down = 0;
	if (was)
		pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (was)
		log_info("the database answers again: new requests go to it, and "
		    "the spool is replayed");
}

/* One attempt to be connected; callers retry with their own backoff. A
 * failure is logged when it starts and then every 30 s, not on every try. */
static int
ensure_connected(struct writer *w, struct pgerr *e)
{
	if (w->conn != NULL && PQstatus(w->conn) == CONNECTION_OK)
		return 0;
	disconnect(w);
	w->conn = db_connect(w->pool->cfg, "bevisd");
	if (PQstatus(w->conn) == CONNECTION_OK &&
	    store_session_init(w->conn, e) == 0 &&
	    supplier_cache_load(&w->sc, w->conn, e) == 0) {
		log_info("writer %d: connected to the database", w->num);
		w->conn_failed = 0;
		atomic_store(&metrics.db_ok, 1);
		pool_set_db_up(w->pool);
		return 0;
	}
	atomic_store(&metrics.db_ok, 0);
	if (PQstatus(w->conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(w->conn));
		msg[strcspn(msg, "\n")] = '\0';
		pgerr_set(e, "08001", msg);
		if (!w->conn_failed || clock_mono_ms() - w->conn_logged_ms >= 30000) {
			log_warnx("writer %d: cannot connect to the database: %s",
			    w->num, msg);
			w->conn_logged_ms = clock_mono_ms();
		}
	} else {
		log_warnx("writer %d: database not ready (run `bevis migrate`?): "
		    "%s", w->num, e->msg);
	}
	w->conn_failed = 1;
	disconnect(w);
	return -1;
}

/* ---- taking and preparing a batch ---- */

enum take { TAKE_STOP, TAKE_BATCH, TAKE_IDLE, TAKE_REPLAY };

/* A turn at the spool is due: nobody replays, the pause after a failed
 * turn is over, and records wait or the database is down and due for
 * another try (a turn is also the probe that ends db_down). Called with
 * p->mu held. */
static int
replay_due(struct writer_pool *p, int64_t now)
{
	return p->spool != NULL && !p->stopping && !p->replaying &&
	    now >= p->next_probe_ms && (p->db_down || spool_pending(p->spool));
}

/* Waits for work: a batch from the queue (TAKE_BATCH), a turn at replaying
 * the spool (TAKE_REPLAY), a tree head due (TAKE_IDLE), or the end
 * (TAKE_STOP, when stopping and the queue is empty). With one writer,
 * replay and the queue take turns; with more, one replays while the
 * others serve the queue. */
static enum take
take_batch(struct writer *w, struct batch *b, int last_was_replay)
{
	struct writer_pool *p = w->pool;
	int64_t deadline = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		int64_t now = clock_mono_ms(), wake = INT64_MAX;

		if (replay_due(p, now) && (p->nwriters > 1 ||
		    TAILQ_EMPTY(&p->queue) || !last_was_replay)) {
			p->replaying = 1;
			w->lim = p->lim;
			pthread_mutex_unlock(&p->mu);
			return TAKE_REPLAY;
		}
		if (!TAILQ_EMPTY(&p->queue))
			break;
		if (p->stopping) {
			pthread_mutex_unlock(&p->mu);
			return TAKE_STOP;
		}
		/* While leaves wait for a signed tree head, wake up for it. */
		if (p->signer && p->dirty && !p->signing) {
			if (now >= p->next_sign_ms) {
				pthread_mutex_unlock(&p->mu);
				return TAKE_IDLE;
			}
			wake = p->next_sign_ms;
		}
		if (p->spool && !p->replaying && p->next_probe_ms > now &&
		    p->next_probe_ms < wake && (p->db_down ||
		    spool_pending(p->spool)))
			wake = p->next_probe_ms;
		if (wake == INT64_MAX) {
			pthread_cond_wait(&p->cv, &p->mu);
		} else {
			struct timespec ts;
			clock_mono_deadline(&ts, wake - now);
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
	}
	w->lim = p->lim;
	for (;;) {
		struct request *r;

		while ((r = TAILQ_FIRST(&p->queue)) != NULL &&
		    b->rows < (size_t)w->lim.batch_max_rows &&
		    (b->n == 0 || b->bytes + zmq_msg_size(&r->body) <=
		    (size_t)w->lim.batch_max_bytes) &&
		    /* A report is a batch of its own. */
		    (b->n == 0 || (!r->report && !b->w[0].req->report))) {
			TAILQ_REMOVE(&p->queue, r, entry);
			if (r->is_status) {	/* answered after the batch */
				TAILQ_INSERT_TAIL(&w->status, r, entry);
				continue;
			}
			pthread_mutex_unlock(&p->mu);
			batch_add(b, r, w->lim.max_items);
			pthread_mutex_lock(&p->mu);
		}
		/* Natural group commit: an idle writer takes what is there.
		 * batch_max_ms > 0 lets it wait that long for more. */
		if (r != NULL || w->lim.batch_max_ms == 0 || p->stopping)
			break;
		if (deadline == 0)
			deadline = clock_mono_ms() + w->lim.batch_max_ms;
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_mono_deadline(&ts, left);
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return TAKE_BATCH;
}

static void
fail_batch(struct batch *b, const char *code, const char *msg)
{
	for (size_t i = 0; i < b->n; i++) {
		reply_error(&b->w[i].req->reply, code, msg);
		log_info("request %s: %s: %s", b->w[i].req->request_id, code, msg);
	}
}

/* "id1 id2 id3 (+7 more)": the requests a line about a batch is about. */
static const char *
batch_ids(const struct batch *b, char *out, size_t n)
{
	size_t len = 0, i;

	out[0] = '\0';
	for (i = 0; i < b->n && len + strlen(b->w[i].req->request_id) + 16 < n;
	    i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "",
		    b->w[i].req->request_id);
	if (i < b->n)
		snprintf(out + len, n - len, " (+%zu more)", b->n - i);
	return out;
}

static void
pool_set_db_down(struct writer_pool *p, const char *why)
{
	pthread_mutex_lock(&p->mu);
	int was = p->db_down;
	if (!was) {
		p->db_down = 1;
		p->next_probe_ms = clock_mono_ms() + 1000;
	}
	pthread_mutex_unlock(&p->mu);
	if (!was)
		log_warnx("the database is unreachable (%s): spooling requests "
		    "until it answers again", why);
}

static int
pool_db_down(struct writer_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int down = p->db_down;
	pthread_mutex_unlock(&p->mu);
	return down;
}

/* Appends the batch's requests to the spool, fdatasync'd, and answers them
 * "spooled"; "busy" when the spool is full or cannot be written, so the
 * sender keeps the request. A request refused before the database is
 * answered as such. */
static void
spool_batch(struct writer *w, struct batch *b, const char *why)
{
	struct writer_pool *p = w->pool;
	struct spool_rec *recs = xcalloc(b->n ? b->n : 1, sizeof(*recs));
	size_t n = 0, k = 0;
	int rc = 0, err = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct request *r = b->w[i].req;
		struct spool_rec *rec = &recs[n];

		/* A report is not spooled: its metadata has no place in a
		 * spool record. */
		if (b->w[i].refused[0] || r->report)
			continue;
		rec->received_us = r->received_us;
		rec->supplier_id = r->supplier_id;
		rec->ct = (uint8_t)r->ct;
		memcpy(rec->request_id, r->request_id, sizeof(rec->request_id));
		memcpy(rec->supplier_name, r->supplier_name,
		    sizeof(rec->supplier_name));
		memcpy(rec->key_fp, r->key_fp, sizeof(rec->key_fp));
		rec->body = zmq_msg_data((zmq_msg_t *)&r->body);
		rec->body_len = zmq_msg_size((zmq_msg_t *)&r->body);
		n++;
	}
	if (n > 0 && spool_append(p->spool, recs, n) < 0) {
		rc = -1;
		err = errno;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		struct buf *out = &wk->req->reply;

		if (wk->refused[0]) {
			reply_outcomes(b, wk);
			continue;
		}
		buf_reset(out);
		if (wk->req->report) {
			reply_busy(out, 5000, "the database is unreachable and "
			    "bevisd does not spool reports; resend this report "
			    "with the same request id later");
			continue;
		}
		if (rc == 0) {
			status_index_add(p->spooled, wk->req->supplier_id,
			    wk->req->request_id, recs[k].seq);
			reply_spooled(out, wk->nitems, recs[k].seq);
			log_info("request %s: spooled as record %llu (%s)",
			    wk->req->request_id, (unsigned long long)recs[k].seq,
			    why);
		} else if (err == ENOSPC) {
			reply_busy(out, 1000, "the database is unreachable and "
			    "bevisd's spool is full; resend this request with the "
			    "same request id later");
			log_info("request %s: busy: the database is unreachable and "
			    "the spool is full", wk->req->request_id);
			atomic_fetch_add(&metrics.spool_busy, 1);
		} else {
			reply_busy(out, 1000, "the database is unreachable and "
			    "bevisd cannot write its spool; resend this request "
			    "with the same request id later");
			log_error("request %s: busy: cannot write the spool: %s",
			    wk->req->request_id, strerror(err));
			atomic_fetch_add(&metrics.spool_failed, 1);
		}
		k++;
	}
	free(recs);
	if (rc == 0 && n > 0) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);	/* a probe is now due later */
		pthread_mutex_unlock(&p->mu);
	}
}

/* After a retryable error (08, 40, 53, 57): answers or spools the batch
 * when it is time to (returns 0), gives a replay back (-1), or sleeps a
 * backoff before the next attempt (1). down_since is when the database was
 * first seen away, counted from the start of that failed attempt, since a
 * connect can take connect_timeout. */
static int
retry_or_spool(struct writer *w, struct batch *b, const struct pgerr *e,
    int replay, int64_t attempt, int64_t *down_since, long *backoff)
{
	struct writer_pool *p = w->pool;
	int stopping = pool_stopping(p), away = pgerr_unreachable(e);
	char ids[256];

	if (w->conn && PQstatus(w->conn) != CONNECTION_OK)
		disconnect(w);
	if (away) {
		atomic_store(&metrics.db_ok, 0);
		if (*down_since == 0)
			*down_since = attempt;
	}
	if (replay && (away || stopping))
		return -1;
	if (away && p->spool && (stopping || clock_mono_ms() - *down_since >=
	    w->lim.spool_after_ms)) {
		pool_set_db_down(p, e->msg);
		spool_batch(w, b, e->msg);
		return 0;
	}
	if (stopping) {
		fail_batch(b, "unavailable", "bevisd is stopping and the database "
		    "did not take the batch; if the connection broke during "
		    "COMMIT it may be stored: resend with the same request id");
		return 0;
	}
	/* A failed connection attempt has been logged. */
	if (strcmp(e->sqlstate, "08001") != 0)
		log_warnx("writer %d: requests %s: %s (SQLSTATE %s); retrying",
		    w->num, batch_ids(b, ids, sizeof(ids)), e->msg, e->sqlstate);
	long sleep_ms = *backoff;
	if (p->spool && away) {
		/* Not past the moment the batch is due to spool. */
		int64_t left = *down_since + w->lim.spool_after_ms -
		    clock_mono_ms();
		if (left < sleep_ms)
			sleep_ms = left < 10 ? 10 : (long)left;
	}
	usleep((useconds_t)sleep_ms * 1000);
	*backoff = *backoff * 2 > 5000 ? 5000 : *backoff * 2;
	return 1;
}

/* A committed batch: the tree head is due, every request gets its reply,
 * and the counters and the debug log learn of it. */
static void
batch_committed(struct writer *w, struct batch *b, enum store_mode mode,
    int64_t parse_ms, int64_t write_ms)
{
	char ids[256];

	if (b->appended) {
		pthread_mutex_lock(&w->pool->mu);
		w->pool->dirty = 1;
		pthread_mutex_unlock(&w->pool->mu);
	}
	struct metrics_batch mb = { .commit_us = write_ms * 1000 };
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		const struct request *r = wk->req;

		reply_outcomes(b, wk);
		/* A spool record has no one to answer. */
		if (!r->from_spool) {
			mb.answered[0] += r->accepted;
			mb.answered[1] += r->duplicate;
			mb.answered[2] += r->quarantined;
		}
		if (work_active(wk)) {
			mb.events += r->accepted;
			mb.quarantined += r->quarantined;
			mb.submissions++;
		} else if (!wk->conflict && (wk->replay_sub || wk->leader >= 0)) {
			mb.replays++;
		}
	}
	metrics_batch(&mb);
	atomic_store(&metrics.db_ok, 1);
	if (log_get_level() >= LOG_LVL_DEBUG)
		log_debug("writer %d: committed requests %s, %zu items (mode %s): "
		    "parsed in %lld ms, written in %lld ms", w->num,
		    batch_ids(b, ids, sizeof(ids)), b->rows, store_mode_name(mode),
		    (long long)parse_ms, (long long)write_ms);
}

/* Commits the batch and sets every reply. Returns 0 when each request has
 * its answer (committed, refused, spooled or busy). In replay mode nothing
 * is answered and a failure leaves the records in the spool: -1 when the
 * database is away (or bevisd stops), -2 when it refused the batch. */
static int
process_batch(struct writer *w, struct batch *b, int replay)
{
	struct writer_pool *p = w->pool;
	enum store_mode mode = STORE_FAST;
	int other = 0, unique = 0;
	long backoff = 50;
	struct pgerr e;
	int64_t t0 = clock_mono_ms(), t1 = 0, down_since = 0;
	char ids[256];

	for (;;) {
		int64_t attempt = clock_mono_ms();

		if (!replay && p->spool && pool_db_down(p)) {
			spool_batch(w, b, "the database is unreachable");
			return 0;
		}
		/* Stopping with the database away: no connect attempt, which
		 * may take connect_timeout, before spooling or answering. */
		if (w->conn == NULL && !atomic_load(&metrics.db_ok) &&
		    pool_stopping(p)) {
			pgerr_set(&e, "08001", "the database is unreachable");
		} else if (ensure_connected(w, &e) == 0 &&
		    (b->ids_ready || store_alloc_ids(w->conn, b, &e) == 0) &&
		    ingest_prepare(w->conn, &w->sc, b, w->lim.max_item_bytes,
		    &e) == 0 && (t1 = clock_mono_ms()) &&
		    store_batch(w->conn, b, mode, &e) == 0)
			break;
		if (pgerr_retryable(&e)) {
			int rc = retry_or_spool(w, b, &e, replay, attempt,
			    &down_since, &backoff);
			if (rc <= 0)
				return rc;
			continue;
		}
		if (pgerr_data_error(&e) && mode != STORE_PER_ITEM) {
			int uv = strcmp(e.sqlstate, "23505") == 0;

			log_debug("writer %d: requests %s: %s (SQLSTATE %s) in "
			    "mode %s", w->num, batch_ids(b, ids, sizeof(ids)),
			    e.msg, e.sqlstate, store_mode_name(mode));
			/* A concurrent writer committing the same request id
			 * shows as a unique violation on submission: look again. */
			if (mode == STORE_FAST || (uv && ++unique < 3))
				mode = STORE_DEDUP;
			else
				mode = STORE_PER_ITEM;
			continue;
		}
		log_error("writer %d: requests %s refused by the database: %s "
		    "(SQLSTATE %s)", w->num, batch_ids(b, ids, sizeof(ids)),
		    e.msg, e.sqlstate);
		if (++other >= 3) {
			char msg[600];
			/* Spooled records were acknowledged: they stay. */
			if (replay)
				return -2;
			snprintf(msg, sizeof(msg), "database refused the batch: %s "
			    "(SQLSTATE %s); nothing was stored", e.msg, e.sqlstate);
			fail_batch(b, "internal", msg);
			return 0;
		}
		usleep((useconds_t)backoff * 1000);
		backoff *= 2;
	}
	batch_committed(w, b, mode, t1 - t0, clock_mono_ms() - t1);
	return 0;
}

static void
deliver(struct writer *w, struct batch *b)
{
	struct writer_pool *p = w->pool;
	uint64_t one = 1;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < b->n; i++)
		TAILQ_INSERT_TAIL(&p->done, b->w[i].req, entry);
	pthread_mutex_unlock(&p->mu);
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd write");
}

/* At most one head per checkpoint_interval, and only while there are new
 * leaves; one writer signs at a time. */
static void
maybe_sign(struct writer *w, int force)
{
	struct writer_pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	if (p->signer == NULL || !p->dirty || p->signing ||
	    (!force && clock_mono_ms() < p->next_sign_ms)) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->signing = 1;
	p->dirty = 0;
	pthread_mutex_unlock(&p->mu);
	struct pgerr e;
	int rc = ensure_connected(w, &e) < 0 ? -1 :
	    treehead_sign(w->conn, p->signer);
	pthread_mutex_lock(&p->mu);
	p->signing = 0;
	if (rc < 0)
		p->dirty = 1;
	p->next_sign_ms = clock_mono_ms() + p->lim.checkpoint_interval * 1000;
	pthread_mutex_unlock(&p->mu);
}

/* What became of a spool record: written now, already committed before
 * (a crash between COMMIT and the spool's truncation, answered from the
 * stored outcome: nothing written twice), or refused. */
static void
log_replayed(const struct work *wk)
{
	const struct request *r = wk->req;
	static const char st_ok[] = "{\"status\":\"ok\"";

	if (r->reply.len < sizeof(st_ok) - 1 ||
	    memcmp(r->reply.data, st_ok, sizeof(st_ok) - 1) != 0)
		log_warnx("request %s: spool record %llu answered %.*s",
		    r->request_id, (unsigned long long)r->spool_seq,
		    (int)r->reply.len, (const char *)r->reply.data);
	else if (wk->replay_sub)
		log_info("request %s: spool record %llu was committed before "
		    "(submission %lld): a replay, nothing written again",
		    r->request_id, (unsigned long long)r->spool_seq,
		    (long long)wk->replay_sub);
	else if (wk->leader >= 0)
		log_info("request %s: spool record %llu repeats an earlier "
		    "record of the same request id: nothing written again",
		    r->request_id, (unsigned long long)r->spool_seq);
	else
		log_info("request %s: spool record %llu written: %u accepted, "
		    "%u duplicate, %u quarantined", r->request_id,
		    (unsigned long long)r->spool_seq, r->accepted, r->duplicate,
		    r->quarantined);
}

/* One turn at the spool: takes the oldest records, commits them through
 * the usual path and drops them from the spool; if the database does not
 * take them, they stay and the next turn comes after a pause. */
static void
replay_turn(struct writer *w, struct batch *b)
{
	struct writer_pool *p = w->pool;
	struct spool_batch sb;
	struct pgerr e;
	int ok = 0, away = 1;

	memset(&sb, 0, sizeof(sb));
	if (ensure_connected(w, &e) < 0)
		goto out;
	/* Items are only known once split: bound the records and bytes. */
	int n = spool_read(p->spool, 1024, (size_t)w->lim.batch_max_bytes, &sb);
	if (n < 0) {
		away = 0;	/* the spool could not be read: logged */
		goto out;
	}
	if (n == 0) {
		/* Only a probe: a connection that was already open proves
		 * nothing until the database answers on it. */
		if (db_exec(w->conn, "SELECT 1", PGRES_TUPLES_OK, &e) == 0) {
			pool_set_db_up(p);
			ok = 1;
		} else if (PQstatus(w->conn) != CONNECTION_OK) {
			disconnect(w);
		}
		goto out;
	}
	for (size_t i = 0; i < sb.n; i++)
		batch_add(b, request_from_spool(&sb.recs[i]),
		    w->lim.max_items);
	int rc = process_batch(w, b, 1);
	if (rc < 0) {
		away = rc == -1;
		spool_rewind(p->spool, &sb);
		for (size_t i = 0; i < b->n; i++)
			request_free(b->w[i].req);
		batch_reset(b);
		goto out;
	}
	spool_commit(p->spool, &sb);
	for (size_t i = 0; i < sb.n; i++)
		status_index_forget(p->spooled, sb.recs[i].seq);
	pool_set_db_up(p);	/* it took a commit */
	for (size_t i = 0; i < b->n; i++)
		log_replayed(&b->w[i]);
	deliver(w, b);		/* for the per-supplier counters */
	batch_reset(b);
	ok = 1;
out:
	spool_batch_free(&sb);
	pthread_mutex_lock(&p->mu);
	p->replaying = 0;
	if (!ok) {
		/* Not now: the database is away (new requests go to the spool
		 * at once), or it refused the records, or the spool could not
		 * be read. Try again in a while. */
		if (away)
			p->db_down = 1;
		p->next_probe_ms = clock_mono_ms() + (away ? 1000 : 5000);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Answers the STATUS requests take_batch set aside (status.c); with the
 * database away only the spool answers. */
static void
answer_statuses(struct writer *w)
{
	struct writer_pool *p = w->pool;
	struct request *r;
	struct pgerr e;
	uint64_t one = 1;

	if (TAILQ_EMPTY(&w->status))
		return;
	PGconn *conn = (!(p->spool && pool_db_down(p)) &&
	    ensure_connected(w, &e) == 0) ? w->conn : NULL;
	pthread_mutex_lock(&p->mu);
	while ((r = TAILQ_FIRST(&w->status)) != NULL) {
		TAILQ_REMOVE(&w->status, r, entry);
		pthread_mutex_unlock(&p->mu);
		status_answer(conn, &w->sc, w->lim.max_item_bytes, p->spooled, r);
		pthread_mutex_lock(&p->mu);
		TAILQ_INSERT_TAIL(&p->done, r, entry);
	}
	pthread_mutex_unlock(&p->mu);
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd write");
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct batch b;
	struct pgerr e;
	enum take got;
	int last_was_replay = 0;

	memset(&b, 0, sizeof(b));
	/* Connect now, so a wrong conninfo shows in the log at start. */
	(void)ensure_connected(w, &e);
	while ((got = take_batch(w, &b, last_was_replay)) != TAKE_STOP) {
		last_was_replay = got == TAKE_REPLAY;
		if (got == TAKE_BATCH) {
			if (b.n > 0) {
				(void)process_batch(w, &b, 0);
				deliver(w, &b);
				batch_reset(&b);
			}
			answer_statuses(w);
		} else if (got == TAKE_REPLAY) {
			replay_turn(w, &b);
		}
		maybe_sign(w, 0);
	}
	/* A last head, so that what was committed before a stop is signed. */
	maybe_sign(w, 1);
	batch_free(&b);
	parsers_thread_done();
	supplier_cache_clear(&w->sc);
	disconnect(w);
	return NULL;
}

void
writer_limits_from(struct writer_limits *l, const struct config *cfg)
{
	l->batch_max_rows = cfg->batch_max_rows;
	l->batch_max_bytes = cfg->batch_max_bytes;
	l->batch_max_ms = cfg->batch_max_ms;
	l->max_items = cfg->max_items;
	l->max_item_bytes = cfg->max_item_bytes;
	l->checkpoint_interval = cfg->checkpoint_interval;
	l->spool_after_ms = cfg->spool_after_ms;
}

struct writer_pool *
writer_pool_start(const struct config *cfg,
    const struct checkpoint_signer *signer, struct spool *spool)
{
	struct writer_pool *p = xcalloc(1, sizeof(*p));

	p->cfg = cfg;
	writer_limits_from(&p->lim, cfg);
	p->signer = signer;
	/* At start, sign if the ledger grew past the newest head while no
	 * bevisd ran (treehead_sign does nothing otherwise). */
	p->dirty = signer != NULL;
	p->spool = spool;
	p->spooled = status_index_new();
	status_index_scan(p->spooled, spool);
	pthread_mutex_init(&p->mu, NULL);
	clock_cond_init(&p->cv);
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->done);
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("eventfd");
	p->nwriters = (int)cfg->writers;
	p->writers = xcalloc((size_t)p->nwriters, sizeof(*p->writers));
	for (int i = 0; i < p->nwriters; i++) {
		p->writers[i].pool = p;
		p->writers[i].num = i;
		TAILQ_INIT(&p->writers[i].status);
		if ((errno = pthread_create(&p->writers[i].thread, NULL,
		    writer_main, &p->writers[i])) != 0)
			fatal("pthread_create");
	}
	return p;
}

void
writer_pool_reconfigure(struct writer_pool *p, const struct writer_limits *l)
{
	pthread_mutex_lock(&p->mu);
	p->lim = *l;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
writer_pool_unhealthy(struct writer_pool *p)
{
	struct spool_stats st;

	if (atomic_load(&metrics.db_ok))
		return 0;
	if (p->spool == NULL)
		return 1;
	spool_stats(p->spool, &st);
	/* Room for no more than a small request: as good as full. */
	return st.bytes + 4096 > st.max_bytes;
}

void
writer_pool_ledger_grew(struct writer_pool *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->signer && !p->dirty) {
		p->dirty = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void
writer_pool_submit(struct writer_pool *p, struct request *r)
{
	pthread_mutex_lock(&p->mu);
	TAILQ_INSERT_TAIL(&p->queue, r, entry);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
writer_pool_fd(struct writer_pool *p)
{
	return p->efd;
}

struct request *
writer_pool_take_done(struct writer_pool *p)
{
	struct request *r;
	uint64_t v;

	pthread_mutex_lock(&p->mu);
	if ((r = TAILQ_FIRST(&p->done)) != NULL)
		TAILQ_REMOVE(&p->done, r, entry);
	else if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd read");
	pthread_mutex_unlock(&p->mu);
	return r;
}

void
writer_pool_drain(struct writer_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
writer_pool_stop(struct writer_pool *p)
{
	writer_pool_drain(p);
	for (int i = 0; i < p->nwriters; i++)
		pthread_join(p->writers[i].thread, NULL);
	/* Whatever is left in done is the caller's to send. */
	free(p->writers);
	p->writers = NULL;
	p->nwriters = 0;
}

void
writer_pool_free(struct writer_pool *p)
{
	struct request *r;

	while ((r = writer_pool_take_done(p)) != NULL)
		request_free(r);
	close(p->efd);
	status_index_free(p->spooled);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
