/* writer.c - takes queued requests in batches, parses them, and commits each
 * batch in one transaction; the replies leave only after COMMIT returns.
 *
 * A batch is tried in up to three modes:
 *   FAST      binary COPY straight into event. Resends are rare, so this is
 *             the common case and costs the database least.
 *   DEDUP     after a unique violation: requests whose id was committed
 *             before are answered from the stored outcome, and the events go
 *             through a staging table and INSERT ... ON CONFLICT DO NOTHING,
 *             which tells accepted from duplicate.
 *   PER_ITEM  when DEDUP also fails with a data error (SQLSTATE class 22
 *             or 23) other than a concurrent resend: as DEDUP, but each event
 *             is staged under its own savepoint, so the one the database
 *             refuses is quarantined and the rest still commit.
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
#include "copybin.h"
#include "dbconn.h"
#include "event.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "sha256.h"
#include "split.h"
#include "spool.h"
#include "utf8.h"
#include "xmalloc.h"

#define EVENT_COLUMNS LEDGER_EVENT_COLUMNS
#define EVENT_NCOLS LEDGER_EVENT_NCOLS

enum outcome { OUT_NONE, OUT_ACCEPTED, OUT_DUPLICATE, OUT_QUARANTINED };
enum mode { MODE_FAST, MODE_DEDUP, MODE_PER_ITEM };

struct item_res {
	uint8_t outcome;
	char *id;		/* the supplier's event id, when parsed */
	char *reason;		/* why it was quarantined */
	size_t row_off;		/* its COPY row in batch->ev */
	size_t row_len;		/* 0: no row (quarantined before the database) */
};

struct work {
	struct request *req;
	struct split sp;
	int64_t sub_id;
	unsigned char sha[SHA256_LEN];
	struct item_res *items;
	size_t nitems;
	int64_t replay_sub;	/* committed before under this request id */
	long leader;		/* earlier request in the batch with this id */
	const char *conflict;	/* request id reused for another body */
	char refused[160];	/* request refused before the database */
};

struct batch {
	struct work *w;
	size_t n, cap;
	size_t rows, bytes;
	struct buf ev;		/* binary COPY rows of all events, no header */
	int ids_ready;
};

struct pgerr {
	char sqlstate[6];
	char table[64];
	char msg[512];
};

struct supplier_cache {
	char **names;
	int32_t *ids;
	size_t n;
	int64_t loaded_ms;
};

struct writer {
	pthread_t thread;
	struct writer_pool *pool;
	int num;
	PGconn *conn;
	struct supplier_cache sc;
	struct writer_limits lim;	/* the pool's, as of the last batch */
	int appended;		/* the last batch appended ledger leaves */
	int conn_failed;	/* the last connection attempt failed */
	int64_t conn_logged_ms;	/* when that was last logged */
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

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A CLOCK_REALTIME deadline ms from now, for pthread_cond_timedwait. */
static void
abs_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void
set_err(struct pgerr *e, const char *state, const char *msg)
{
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->table[0] = '\0';
}

/* Records why res failed; a lost connection counts as class 08. */
static void
take_err(struct writer *w, PGresult *res, struct pgerr *e)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;

	if (state == NULL || PQstatus(w->conn) != CONNECTION_OK)
		state = "08006";
	if (msg == NULL)
		msg = PQerrorMessage(w->conn);
	set_err(e, state, msg);
	snprintf(e->table, sizeof(e->table), "%s", table ? table : "");
	/* libpq messages end in a newline */
	size_t n = strlen(e->msg);
	while (n && (e->msg[n - 1] == '\n' || e->msg[n - 1] == ' '))
		e->msg[--n] = '\0';
}

static int
exec_ok(struct writer *w, const char *sql, ExecStatusType want, struct pgerr *e)
{
	PGresult *res = PQexec(w->conn, sql);
	int ok = PQresultStatus(res) == want;

	if (!ok)
		take_err(w, res, e);
	PQclear(res);
	return ok ? 0 : -1;
}

/* Streams data into "COPY ... FROM STDIN (FORMAT binary)". */
static int
copy_in(struct writer *w, const char *sql, const struct buf *rows,
    struct pgerr *e)
{
	struct buf hdr = BUF_INIT, trl = BUF_INIT;
	PGresult *res = PQexec(w->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		take_err(w, res, e);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	copy_header(&hdr);
	copy_trailer(&trl);
	if (PQputCopyData(w->conn, (const char *)hdr.data, (int)hdr.len) != 1)
		rc = -1;
	for (size_t off = 0; rc == 0 && off < rows->len; off += 1 << 20) {
		size_t n = rows->len - off < (1 << 20) ? rows->len - off : (1 << 20);
		if (PQputCopyData(w->conn, (const char *)rows->data + off, (int)n) != 1)
			rc = -1;
	}
	if (rc == 0 && PQputCopyData(w->conn, (const char *)trl.data,
	    (int)trl.len) != 1)
		rc = -1;
	buf_free(&hdr);
	buf_free(&trl);
	if (PQputCopyEnd(w->conn, rc == 0 ? NULL : "client error") != 1)
		rc = -1;
	res = PQgetResult(w->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		take_err(w, res, e);
		rc = -1;
	} else if (rc < 0) {
		take_err(w, NULL, e);
	}
	PQclear(res);
	while ((res = PQgetResult(w->conn)) != NULL)
		PQclear(res);
	return rc;
}

/* ---- suppliers (dev mode: named by each item) ---- */

static void
supplier_cache_clear(struct supplier_cache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->names[i]);
	free(sc->names);
	free(sc->ids);
	memset(sc, 0, sizeof(*sc));
}

static int
supplier_cache_load(struct writer *w, struct pgerr *e)
{
	PGresult *res = PQexec(w->conn,
	    "SELECT id, name FROM supplier WHERE active");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		take_err(w, res, e);
		PQclear(res);
		return -1;
	}
	supplier_cache_clear(&w->sc);
	w->sc.n = (size_t)PQntuples(res);
	w->sc.names = xcalloc(w->sc.n, sizeof(char *));
	w->sc.ids = xcalloc(w->sc.n, sizeof(int32_t));
	for (size_t i = 0; i < w->sc.n; i++) {
		w->sc.ids[i] = (int32_t)atol(PQgetvalue(res, (int)i, 0));
		w->sc.names[i] = xstrdup(PQgetvalue(res, (int)i, 1));
	}
	w->sc.loaded_ms = now_ms();
	PQclear(res);
	return 0;
}

/* Returns the supplier id, 0 when unknown, -1 on a database error. */
static int32_t
supplier_lookup(struct writer *w, const struct str *name, struct pgerr *e)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < w->sc.n; i++)
			if (strlen(w->sc.names[i]) == name->n &&
			    memcmp(w->sc.names[i], name->p, name->n) == 0)
				return w->sc.ids[i];
		/* A supplier added since the last look shows up within 1 s. */
		if (pass == 0 && now_ms() - w->sc.loaded_ms > 1000 &&
		    supplier_cache_load(w, e) < 0)
			return -1;
	}
	return 0;
}

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
	    exec_ok(w, "CREATE TEMP TABLE IF NOT EXISTS event_stage "
	    "(LIKE event INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
	    "ON COMMIT DELETE ROWS", PGRES_COMMAND_OK, e) == 0 &&
	    supplier_cache_load(w, e) == 0) {
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
		set_err(e, "08001", msg);
		if (!w->conn_failed || now_ms() - w->conn_logged_ms >= 30000) {
			log_warnx("writer %d: cannot connect to the database: %s",
			    w->num, msg);
			w->conn_logged_ms = now_ms();
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

static void
batch_add(struct writer *w, struct batch *b, struct request *r)
{
	struct work *wk;
	size_t len = zmq_msg_size(&r->body);

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->w = xrealloc(b->w, b->cap * sizeof(*b->w));
	}
	wk = &b->w[b->n++];
	memset(wk, 0, sizeof(*wk));
	wk->req = r;
	wk->leader = -1;
	/* A spooled request was taken under the limit of its day. */
	wk->sp.max_items = r->from_spool ? SIZE_MAX / 2 : (size_t)w->lim.max_items;
	split_body(&wk->sp, r->ct, zmq_msg_data(&r->body), len);
	/* A body that cannot be split is one quarantined item. */
	wk->nitems = wk->sp.error ? 1 : wk->sp.n;
	if (wk->sp.over) {
		snprintf(wk->refused, sizeof(wk->refused), "the request has more "
		    "than %ld items, the limit", w->lim.max_items);
		split_free(&wk->sp);
		wk->nitems = 0;
	}
	wk->items = xcalloc(wk->nitems, sizeof(*wk->items));
	sha256(zmq_msg_data(&r->body), len, wk->sha);
	b->rows += wk->nitems;
	b->bytes += len;
}

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
		int64_t now = now_ms(), wake = INT64_MAX;

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
			abs_deadline(&ts, wake - now);
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
	}
	w->lim = p->lim;
	for (;;) {
		struct request *r;

		while ((r = TAILQ_FIRST(&p->queue)) != NULL &&
		    b->rows < (size_t)w->lim.batch_max_rows &&
		    (b->n == 0 || b->bytes + zmq_msg_size(&r->body) <=
		    (size_t)w->lim.batch_max_bytes)) {
			TAILQ_REMOVE(&p->queue, r, entry);
			pthread_mutex_unlock(&p->mu);
			batch_add(w, b, r);
			pthread_mutex_lock(&p->mu);
		}
		/* Natural group commit: an idle writer takes what is there.
		 * batch_max_ms > 0 lets it wait that long for more. */
		if (r != NULL || w->lim.batch_max_ms == 0 || p->stopping)
			break;
		if (deadline == 0)
			deadline = now_ms() + w->lim.batch_max_ms;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		abs_deadline(&ts, left);
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return TAKE_BATCH;
}

/* The reason may quote the item, cut to a length that can split a UTF-8
 * sequence; a reason PostgreSQL refuses would fail the whole batch. */
static void
item_quarantine(struct item_res *it, const char *reason)
{
	size_t n = strlen(reason), bad;

	bad = utf8_invalid_at((const unsigned char *)reason, n);
	it->outcome = OUT_QUARANTINED;
	free(it->reason);
	it->reason = xstrndup(reason, bad == (size_t)-1 ? n : bad);
	it->row_len = 0;
}

static void
encode_event(struct buf *b, const struct work *wk, size_t item_no,
    int32_t supplier_id, const struct event *ev, const struct item_span *sp)
{
	const struct str *texts[] = { &ev->category, &ev->action, &ev->outcome,
		&ev->actor_user };

	copy_row(b, EVENT_NCOLS);
	copy_int8(b, wk->sub_id);
	copy_int4(b, (int32_t)item_no);
	copy_int4(b, supplier_id);
	copy_bytes(b, ev->id.p, ev->id.n);
	copy_timestamptz(b, ev->occurred_us);
	if (ev->severity >= 0)
		copy_int2(b, (int16_t)ev->severity);
	else
		copy_null(b);
	for (size_t i = 0; i < 4; i++) {
		if (texts[i]->p)
			copy_bytes(b, texts[i]->p, texts[i]->n);
		else
			copy_null(b);
	}
	if (ev->src_family)
		copy_inet(b, ev->src_family, ev->src_ip);
	else
		copy_null(b);
	if (ev->target.p)
		copy_bytes(b, ev->target.p, ev->target.n);
	else
		copy_null(b);
	if (ev->message.p)
		copy_bytes(b, ev->message.p, ev->message.n);
	else
		copy_null(b);
	copy_bool(b, ev->personal_data);
	if (ev->has_seq)
		copy_int8(b, ev->seq);
	else
		copy_null(b);
	if (ev->attrs.p)
		copy_bytes(b, ev->attrs.p, ev->attrs.n);	/* json */
	else
		copy_null(b);
	copy_int4(b, (int32_t)sp->off);
	copy_int4(b, (int32_t)sp->len);
}

/* Parses every item and encodes the good ones as COPY rows. Runs again on
 * each attempt, so a supplier added meanwhile is seen. */
static int
prepare_batch(struct writer *w, struct batch *b, struct pgerr *e)
{
	char reason[512];

	buf_reset(&b->ev);
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		const unsigned char *body = zmq_msg_data(&wk->req->body);

		wk->replay_sub = 0;
		wk->leader = -1;
		wk->conflict = NULL;
		if (wk->refused[0])
			continue;
		for (size_t k = 0; k < wk->nitems; k++) {
			struct item_res *it = &wk->items[k];
			free(it->id);
			free(it->reason);
			memset(it, 0, sizeof(*it));
		}
		if (wk->sp.error) {
			snprintf(reason, sizeof(reason), "invalid JSON body: %s",
			    wk->sp.error);
			item_quarantine(&wk->items[0], reason);
			continue;
		}
		for (size_t k = 0; k < wk->nitems; k++) {
			struct item_res *it = &wk->items[k];
			const struct item_span *sp = &wk->sp.items[k];
			struct event ev;
			int32_t sid = wk->req->supplier_id;

			if (sp->len > (size_t)w->lim.max_item_bytes) {
				snprintf(reason, sizeof(reason), "the item has %zu "
				    "bytes; the limit is %ld", sp->len,
				    w->lim.max_item_bytes);
				item_quarantine(it, reason);
				continue;
			}
			if (event_parse_json(body + sp->off, sp->len, &ev, reason,
			    sizeof(reason)) < 0) {
				item_quarantine(it, reason);
				continue;
			}
			it->id = xstrndup(ev.id.p, ev.id.n);
			if (sid != 0 && ev.supplier.p &&
			    (ev.supplier.n != strlen(wk->req->supplier_name) ||
			    memcmp(ev.supplier.p, wk->req->supplier_name,
			    ev.supplier.n) != 0)) {
				/* The key says who sent it, not the item. */
				snprintf(reason, sizeof(reason), "supplier mismatch: "
				    "item names '%.*s', key belongs to '%s'",
				    (int)utf8_cut(ev.supplier.p, ev.supplier.n, 64),
				    ev.supplier.p, wk->req->supplier_name);
				item_quarantine(it, reason);
				event_clear(&ev);
				continue;
			}
			if (sid == 0) {
				if (ev.supplier.p == NULL) {
					item_quarantine(it, "missing required field "
					    "'supplier'");
					event_clear(&ev);
					continue;
				}
				sid = supplier_lookup(w, &ev.supplier, e);
				if (sid < 0) {
					event_clear(&ev);
					return -1;
				}
				if (sid == 0) {
					snprintf(reason, sizeof(reason),
					    "unknown supplier '%.*s'",
					    (int)utf8_cut(ev.supplier.p,
					    ev.supplier.n, 64), ev.supplier.p);
					item_quarantine(it, reason);
					event_clear(&ev);
					continue;
				}
			}
			it->row_off = b->ev.len;
			encode_event(&b->ev, wk, k, sid, &ev, sp);
			it->row_len = b->ev.len - it->row_off;
			event_clear(&ev);
		}
	}
	return 0;
}

static int
alloc_ids(struct writer *w, struct batch *b, struct pgerr *e)
{
	char sql[128];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT nextval('submission_id_seq') "
	    "FROM generate_series(1, %zu)", b->n);
	res = PQexec(w->conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    (size_t)PQntuples(res) != b->n) {
		take_err(w, res, e);
		PQclear(res);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		b->w[i].sub_id = atoll(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	b->ids_ready = 1;
	return 0;
}

/* ---- running a batch ---- */

static int
work_active(const struct work *wk)
{
	return wk->replay_sub == 0 && wk->leader < 0 && wk->conflict == NULL &&
	    !wk->refused[0];
}

static const char *
supplier_param(const struct work *wk, char *tmp, size_t n)
{
	if (wk->req->supplier_id == 0)
		return NULL;
	snprintf(tmp, n, "%d", wk->req->supplier_id);
	return tmp;
}

/* Finds requests whose id was committed before, or repeats an earlier
 * request of this batch. */
static int
find_replays(struct writer *w, struct batch *b, struct pgerr *e)
{
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		char sid[16];
		const char *params[2] = { supplier_param(wk, sid, sizeof(sid)),
			wk->req->request_id };
		PGresult *res;

		if (params[0])
			res = PQexecParams(w->conn, "SELECT id, sha256 FROM "
			    "submission WHERE supplier_id = $1 AND request_id = $2",
			    2, NULL, params, NULL, NULL, 1);
		else
			res = PQexecParams(w->conn, "SELECT id, sha256 FROM "
			    "submission WHERE supplier_id IS NULL AND "
			    "request_id = $1", 1, NULL, params + 1, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			take_err(w, res, e);
			PQclear(res);
			return -1;
		}
		if (PQntuples(res) == 1) {
			const char *v = PQgetvalue(res, 0, 0);
			uint64_t id = 0;
			for (int k = 0; k < 8; k++)
				id = id << 8 | (unsigned char)v[k];
			wk->replay_sub = (int64_t)id;
			if (PQgetlength(res, 0, 1) != 32 ||
			    memcmp(PQgetvalue(res, 0, 1), wk->sha, 32) != 0)
				wk->conflict = "request id already used for a "
				    "different body";
		}
		PQclear(res);
		if (wk->replay_sub)
			continue;
		for (size_t j = 0; j < i; j++) {
			struct work *o = &b->w[j];
			if (o->req->supplier_id == wk->req->supplier_id &&
			    strcmp(o->req->request_id, wk->req->request_id) == 0 &&
			    work_active(o)) {
				wk->leader = (long)j;
				if (memcmp(o->sha, wk->sha, 32) != 0)
					wk->conflict = "request id already used "
					    "for a different body";
				break;
			}
		}
	}
	return 0;
}

static void
append_rows(struct buf *out, const struct batch *b, const struct work *wk)
{
	for (size_t k = 0; k < wk->nitems; k++)
		if (wk->items[k].row_len)
			buf_append(out, b->ev.data + wk->items[k].row_off,
			    wk->items[k].row_len);
}

/* Stages each event under its own savepoint; the ones refused are
 * quarantined with the database's reason. */
static int
stage_per_item(struct writer *w, struct batch *b, struct pgerr *e)
{
	struct buf one = BUF_INIT;
	char reason[700];

	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];

		if (!work_active(wk))
			continue;
		for (size_t k = 0; k < wk->nitems; k++) {
			struct item_res *it = &wk->items[k];
			struct pgerr ie;

			if (!it->row_len)
				continue;
			buf_reset(&one);
			buf_append(&one, b->ev.data + it->row_off, it->row_len);
			if (exec_ok(w, "SAVEPOINT item", PGRES_COMMAND_OK, e) < 0)
				goto fail;
			if (copy_in(w, "COPY event_stage (" EVENT_COLUMNS ") FROM "
			    "STDIN (FORMAT binary)", &one, &ie) == 0) {
				if (exec_ok(w, "RELEASE SAVEPOINT item",
				    PGRES_COMMAND_OK, e) < 0)
					goto fail;
				continue;
			}
			if (strncmp(ie.sqlstate, "22", 2) != 0 &&
			    strncmp(ie.sqlstate, "23", 2) != 0) {
				*e = ie;
				goto fail;
			}
			snprintf(reason, sizeof(reason), "database refused the "
			    "item: %s (SQLSTATE %s)", ie.msg, ie.sqlstate);
			log_warnx("request %s item %zu: %s", wk->req->request_id,
			    k, reason);
			item_quarantine(it, reason);
			if (exec_ok(w, "ROLLBACK TO SAVEPOINT item",
			    PGRES_COMMAND_OK, e) < 0)
				goto fail;
		}
	}
	buf_free(&one);
	return 0;
fail:
	buf_free(&one);
	return -1;
}

static struct work *
work_by_sub(struct batch *b, int64_t sub)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].sub_id == sub && work_active(&b->w[i]))
			return &b->w[i];
	return NULL;
}

/* Moves the staged events into event; what RETURNING names is accepted,
 * the rest of the staged events were duplicates. */
static int
insert_staged(struct writer *w, struct batch *b, struct pgerr *e)
{
	PGresult *res = PQexec(w->conn, "INSERT INTO event (" EVENT_COLUMNS ") "
	    "SELECT " EVENT_COLUMNS " FROM event_stage "
	    "ORDER BY submission_id, item_no "
	    "ON CONFLICT (supplier_id, source_event_id) DO NOTHING "
	    "RETURNING submission_id, item_no");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		take_err(w, res, e);
		PQclear(res);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		for (size_t k = 0; work_active(wk) && k < wk->nitems; k++)
			if (wk->items[k].row_len)
				wk->items[k].outcome = OUT_DUPLICATE;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		struct work *wk = work_by_sub(b, atoll(PQgetvalue(res, r, 0)));
		long k = atol(PQgetvalue(res, r, 1));

		if (wk && k >= 0 && (size_t)k < wk->nitems)
			wk->items[k].outcome = OUT_ACCEPTED;
	}
	PQclear(res);
	return 0;
}

/* The ledger leaf of a committed request: the digests of its body, of its
 * event rows exactly as copied, and of its quarantine rows. */
static void
encode_leaf(const struct batch *b, const struct work *wk,
    const unsigned char *qrows, size_t qlen, struct buf *out)
{
	struct ledger_submission ls;
	struct ledger_rows rows;
	uint32_t nq = 0;

	memset(&ls, 0, sizeof(ls));
	ls.submission_id = wk->sub_id;
	ls.supplier = wk->req->supplier_name;
	ls.key_fingerprint = wk->req->key_fp;
	ls.received_us = wk->req->received_us;
	ls.request_id = wk->req->request_id;
	ls.content_type = proto_content_type_name(wk->req->ct);
	memcpy(ls.body_sha256, wk->sha, SHA256_LEN);
	ls.item_count = (uint32_t)wk->nitems;
	ledger_rows_init(&rows);
	for (size_t k = 0; k < wk->nitems; k++) {
		const struct item_res *it = &wk->items[k];

		if (it->outcome == OUT_QUARANTINED)
			nq++;
		if (it->outcome == OUT_ACCEPTED && it->row_len &&
		    ledger_rows_add(&rows, b->ev.data + it->row_off,
		    it->row_len) < 0)
			fatalx("writer: an event row of our own is malformed");
	}
	ls.events = rows.count;
	ledger_rows_final(&rows, ls.events_sha256, ls.events_redacted_sha256);
	ls.quarantined = nq;
	sha256(qrows, qlen, ls.quarantine_sha256);
	ledger_encode_submission(out, &ls);
}

/* Appends bytes as an element of a text-format array literal. */
static void
array_hex(struct buf *a, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	buf_puts(a, a->len ? ",\"\\\\x" : "{\"\\\\x");
	for (size_t i = 0; i < n; i++) {
		buf_putc(a, hex[p[i] >> 4]);
		buf_putc(a, hex[p[i] & 15]);
	}
	buf_putc(a, '"');
}

/* Copies the submissions and quarantine rows of the active requests, and
 * appends their ledger leaves: the last step before COMMIT, since the
 * ledger's advisory lock is held until then. */
static int
write_submissions(struct writer *w, struct batch *b, struct pgerr *e)
{
	struct buf s = BUF_INIT, q = BUF_INIT, leaf = BUF_INIT;
	struct buf datas = BUF_INIT, subs = BUF_INIT;
	long long nleaves = 0;
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		struct request *r = wk->req;
		const char *ct = proto_content_type_name(r->ct);
		size_t qstart = q.len;

		if (!work_active(wk))
			continue;
		copy_row(&s, 9);
		copy_int8(&s, wk->sub_id);
		if (r->supplier_id)
			copy_int4(&s, r->supplier_id);
		else
			copy_null(&s);
		if (r->key_fp[0])
			copy_bytes(&s, r->key_fp, strlen(r->key_fp));
		else
			copy_null(&s);
		copy_bytes(&s, r->request_id, strlen(r->request_id));
		copy_bytes(&s, ct, strlen(ct));
		copy_timestamptz(&s, r->received_us);
		copy_bytes(&s, wk->sha, sizeof(wk->sha));
		copy_bytes(&s, zmq_msg_data(&r->body), zmq_msg_size(&r->body));
		copy_int4(&s, (int32_t)wk->nitems);
		for (size_t k = 0; k < wk->nitems; k++) {
			const struct item_res *it = &wk->items[k];
			size_t off = 0, len = zmq_msg_size(&r->body);

			if (it->outcome != OUT_QUARANTINED)
				continue;
			if (!wk->sp.error) {
				off = wk->sp.items[k].off;
				len = wk->sp.items[k].len;
			}
			copy_row(&q, 5);
			copy_int8(&q, wk->sub_id);
			copy_int4(&q, (int32_t)k);
			copy_bytes(&q, it->reason, strlen(it->reason));
			copy_int4(&q, (int32_t)off);
			copy_int4(&q, (int32_t)len);
		}
		buf_reset(&leaf);
		encode_leaf(b, wk, q.data + qstart, q.len - qstart, &leaf);
		array_hex(&datas, leaf.data, leaf.len);
		buf_printf(&subs, "%c%lld", subs.len ? ',' : '{',
		    (long long)wk->sub_id);
		nleaves++;
	}
	if (s.len && copy_in(w, "COPY submission (id, supplier_id, key_fingerprint, "
	    "request_id, content_type, received_at, sha256, body, item_count) FROM STDIN "
	    "(FORMAT binary)", &s, e) < 0)
		rc = -1;
	if (rc == 0 && q.len && copy_in(w, "COPY quarantine (" LEDGER_QUARANTINE_COLUMNS
	    ") FROM STDIN (FORMAT binary)", &q, e) < 0)
		rc = -1;
	if (rc == 0 && nleaves) {
		buf_putc(&datas, '}');
		buf_putc(&subs, '}');
		const char *params[2] = { buf_cstr(&datas), buf_cstr(&subs) };
		PGresult *res = PQexecParams(w->conn, "SELECT "
		    "ledger_append_submissions($1::bytea[], $2::bigint[])", 2, NULL,
		    params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			take_err(w, res, e);
			rc = -1;
		} else {
			w->appended = nleaves > 0;
		}
		PQclear(res);
	}
	buf_free(&s);
	buf_free(&q);
	buf_free(&leaf);
	buf_free(&datas);
	buf_free(&subs);
	return rc;
}

/* Sets the outcomes of a request committed before from what was stored. */
static int
load_replay(struct writer *w, struct work *wk, struct pgerr *e)
{
	char sub[24];
	const char *params[1] = { sub };
	PGresult *res;

	snprintf(sub, sizeof(sub), "%lld", (long long)wk->replay_sub);
	for (size_t k = 0; k < wk->nitems; k++) {
		if (wk->items[k].outcome != OUT_QUARANTINED)
			wk->items[k].outcome = OUT_DUPLICATE;
	}
	res = PQexecParams(w->conn, "SELECT item_no, NULL FROM event WHERE "
	    "submission_id = $1 UNION ALL SELECT item_no, reason FROM quarantine "
	    "WHERE submission_id = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		take_err(w, res, e);
		PQclear(res);
		return -1;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		long k = atol(PQgetvalue(res, r, 0));
		if (k < 0 || (size_t)k >= wk->nitems)
			continue;
		if (PQgetisnull(res, r, 1)) {
			wk->items[k].outcome = OUT_ACCEPTED;
			free(wk->items[k].reason);
			wk->items[k].reason = NULL;
		} else {
			item_quarantine(&wk->items[k], PQgetvalue(res, r, 1));
		}
	}
	PQclear(res);
	return 0;
}

static int
run_batch(struct writer *w, struct batch *b, enum mode mode, struct pgerr *e)
{
	if (exec_ok(w, "BEGIN", PGRES_COMMAND_OK, e) < 0)
		return -1;
	if (mode == MODE_FAST) {
		for (size_t i = 0; i < b->n; i++)
			for (size_t k = 0; k < b->w[i].nitems; k++)
				if (b->w[i].items[k].row_len)
					b->w[i].items[k].outcome = OUT_ACCEPTED;
		if (b->ev.len && copy_in(w, "COPY event (" EVENT_COLUMNS ") FROM "
		    "STDIN (FORMAT binary)", &b->ev, e) < 0)
			goto fail;
	} else {
		struct buf rows = BUF_INIT;
		int rc = 0;

		if (find_replays(w, b, e) < 0)
			goto fail;
		if (mode == MODE_PER_ITEM) {
			rc = stage_per_item(w, b, e);
		} else {
			for (size_t i = 0; i < b->n; i++)
				if (work_active(&b->w[i]))
					append_rows(&rows, b, &b->w[i]);
			if (rows.len)
				rc = copy_in(w, "COPY event_stage (" EVENT_COLUMNS
				    ") FROM STDIN (FORMAT binary)", &rows, e);
		}
		buf_free(&rows);
		if (rc < 0 || insert_staged(w, b, e) < 0)
			goto fail;
		for (size_t i = 0; i < b->n; i++)
			if (b->w[i].replay_sub && !b->w[i].conflict &&
			    load_replay(w, &b->w[i], e) < 0)
				goto fail;
	}
	if (write_submissions(w, b, e) < 0)
		goto fail;
	if (exec_ok(w, "COMMIT", PGRES_COMMAND_OK, e) < 0)
		return -1;
	return 0;
fail:
	if (PQstatus(w->conn) == CONNECTION_OK) {
		struct pgerr ignored;
		(void)exec_ok(w, "ROLLBACK", PGRES_COMMAND_OK, &ignored);
	}
	return -1;
}

/* ---- replies ---- */

static void
build_reply(struct batch *b, struct work *wk)
{
	static const char *const names[] = { "pending", "accepted", "duplicate",
		"quarantined" };
	struct buf *out = &wk->req->reply;
	size_t count[4] = { 0 };

	if (wk->refused[0]) {
		reply_error(out, "too_many_items", wk->refused);
		return;
	}
	if (wk->conflict) {
		reply_error(out, "request_id_conflict", wk->conflict);
		return;
	}
	if (wk->leader >= 0) {
		struct buf *lr = &b->w[wk->leader].req->reply;
		buf_reset(out);
		buf_append(out, lr->data, lr->len);
		return;
	}
	for (size_t k = 0; k < wk->nitems; k++)
		count[wk->items[k].outcome]++;
	wk->req->accepted = (uint32_t)count[OUT_ACCEPTED];
	wk->req->duplicate = (uint32_t)count[OUT_DUPLICATE];
	wk->req->quarantined = (uint32_t)count[OUT_QUARANTINED];
	buf_reset(out);
	buf_printf(out, "{\"status\":\"ok\",\"submission\":%lld,%s\"items\":%zu,"
	    "\"accepted\":%zu,\"duplicate\":%zu,\"quarantined\":%zu,"
	    "\"outcomes\":[", (long long)(wk->replay_sub ? wk->replay_sub :
	    wk->sub_id), wk->replay_sub ? "\"replay\":true," : "", wk->nitems,
	    count[OUT_ACCEPTED], count[OUT_DUPLICATE], count[OUT_QUARANTINED]);
	for (size_t k = 0; k < wk->nitems; k++) {
		const struct item_res *it = &wk->items[k];

		char num[24];
		int nl = snprintf(num, sizeof(num), "%zu", k);

		buf_puts(out, k ? ",{\"item\":" : "{\"item\":");
		buf_append(out, num, (size_t)nl);
		buf_puts(out, ",\"outcome\":\"");
		buf_puts(out, names[it->outcome]);
		buf_putc(out, '"');
		if (it->id) {
			buf_puts(out, ",\"id\":");
			buf_put_json_string(out, it->id, strlen(it->id));
		}
		if (it->reason) {
			buf_puts(out, ",\"reason\":");
			buf_put_json_string(out, it->reason, strlen(it->reason));
		}
		buf_putc(out, '}');
	}
	buf_puts(out, "]}");
}

static int
retryable(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "08", 2) == 0 ||
	    strncmp(e->sqlstate, "40", 2) == 0 ||
	    strncmp(e->sqlstate, "53", 2) == 0 ||
	    strncmp(e->sqlstate, "57", 2) == 0;
}

static int
data_error(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "22", 2) == 0 ||
	    strncmp(e->sqlstate, "23", 2) == 0;
}

static void
fail_batch(struct batch *b, const char *code, const char *msg)
{
	for (size_t i = 0; i < b->n; i++) {
		reply_error(&b->w[i].req->reply, code, msg);
		log_info("request %s: %s: %s", b->w[i].req->request_id, code, msg);
	}
}

/* The database is away (08), out of resources (53) or shutting down (57):
 * worth spooling for, unlike a serialization failure (40) or a statement
 * timeout (57014), which the same batch would meet again at replay. */
static int
unreachable(const struct pgerr *e)
{
	return strncmp(e->sqlstate, "08", 2) == 0 ||
	    strncmp(e->sqlstate, "53", 2) == 0 ||
	    (strncmp(e->sqlstate, "57", 2) == 0 &&
	    strcmp(e->sqlstate, "57014") != 0);
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
		p->next_probe_ms = now_ms() + 1000;
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

		if (b->w[i].refused[0])
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
			build_reply(b, wk);
			continue;
		}
		buf_reset(out);
		if (rc == 0) {
			buf_printf(out, "{\"status\":\"spooled\",\"items\":%zu,"
			    "\"spool_record\":%llu,\"message\":\"the database is "
			    "unreachable; the request is stored in bevisd's spool on "
			    "disk and will be written in order when the database "
			    "is back\"}", wk->nitems,
			    (unsigned long long)recs[k].seq);
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

/* Commits the batch and sets every reply. Returns 0 when each request has
 * its answer (committed, refused, spooled or busy). In replay mode nothing
 * is answered and a failure leaves the records in the spool: -1 when the
 * database is away (or bevisd stops), -2 when it refused the batch. */
static int
process_batch(struct writer *w, struct batch *b, int replay)
{
	struct writer_pool *p = w->pool;
	enum mode mode = MODE_FAST;
	int other = 0, unique = 0;
	long backoff = 50;
	struct pgerr e;
	int64_t t0 = now_ms(), t1 = 0, down_since = 0;
	char ids[256];

	for (;;) {
		int64_t attempt = now_ms();

		if (!replay && p->spool && pool_db_down(p)) {
			spool_batch(w, b, "the database is unreachable");
			return 0;
		}
		/* Stopping with the database away: no connect attempt, which
		 * may take connect_timeout, before spooling or answering. */
		if (w->conn == NULL && !atomic_load(&metrics.db_ok) &&
		    pool_stopping(p)) {
			set_err(&e, "08001", "the database is unreachable");
		} else if (ensure_connected(w, &e) == 0 &&
		    (b->ids_ready || alloc_ids(w, b, &e) == 0) &&
		    prepare_batch(w, b, &e) == 0 &&
		    (t1 = now_ms()) && run_batch(w, b, mode, &e) == 0)
			break;
		if (retryable(&e)) {
			int stopping = pool_stopping(p), away = unreachable(&e);

			if (w->conn && PQstatus(w->conn) != CONNECTION_OK)
				disconnect(w);
			if (away) {
				atomic_store(&metrics.db_ok, 0);
				/* From the start of the failed attempt: a connect
				 * can take connect_timeout. */
				if (down_since == 0)
					down_since = attempt;
			}
			if (replay && (away || stopping))
				return -1;
			if (away && p->spool && (stopping || now_ms() -
			    down_since >= w->lim.spool_after_ms)) {
				pool_set_db_down(p, e.msg);
				spool_batch(w, b, e.msg);
				return 0;
			}
			if (stopping) {
				fail_batch(b, "unavailable", "bevisd is stopping and "
				    "the database did not take the batch; if the "
				    "connection broke during COMMIT it may be stored: "
				    "resend with the same request id");
				return 0;
			}
			/* A failed connection attempt has been logged. */
			if (strcmp(e.sqlstate, "08001") != 0)
				log_warnx("writer %d: requests %s: %s (SQLSTATE %s); "
				    "retrying", w->num, batch_ids(b, ids,
				    sizeof(ids)), e.msg, e.sqlstate);
			long sleep_ms = backoff;
			if (p->spool && away) {
				/* Not past the moment the batch is due to spool. */
				int64_t left = down_since + w->lim.spool_after_ms -
				    now_ms();
				if (left < sleep_ms)
					sleep_ms = left < 10 ? 10 : (long)left;
			}
			usleep((useconds_t)sleep_ms * 1000);
			backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
			continue;
		}
		if (data_error(&e) && mode != MODE_PER_ITEM) {
			int uv = strcmp(e.sqlstate, "23505") == 0;

			log_debug("writer %d: requests %s: %s (SQLSTATE %s) in "
			    "mode %d", w->num, batch_ids(b, ids, sizeof(ids)),
			    e.msg, e.sqlstate, mode);
			/* A concurrent writer committing the same request id
			 * shows as a unique violation on submission: look again. */
			if (mode == MODE_FAST || (uv && ++unique < 3))
				mode = MODE_DEDUP;
			else
				mode = MODE_PER_ITEM;
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
	if (w->appended) {
		pthread_mutex_lock(&w->pool->mu);
		w->pool->dirty = 1;
		pthread_mutex_unlock(&w->pool->mu);
		w->appended = 0;
	}
	uint64_t acc = 0, dup = 0, quar = 0;
	for (size_t i = 0; i < b->n; i++) {
		build_reply(b, &b->w[i]);
		acc += b->w[i].req->accepted;
		dup += b->w[i].req->duplicate;
		quar += b->w[i].req->quarantined;
	}
	metrics_batch(acc, dup, quar, (now_ms() - t1) * 1000);
	atomic_store(&metrics.db_ok, 1);
	if (log_get_level() >= LOG_LVL_DEBUG)
		log_debug("writer %d: committed requests %s, %zu items (mode %d): "
		    "parsed in %lld ms, written in %lld ms", w->num,
		    batch_ids(b, ids, sizeof(ids)), b->rows, mode,
		    (long long)(t1 - t0), (long long)(now_ms() - t1));
	return 0;
}

static void
batch_reset(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		for (size_t k = 0; k < wk->nitems; k++) {
			free(wk->items[k].id);
			free(wk->items[k].reason);
		}
		free(wk->items);
		split_free(&wk->sp);
	}
	b->n = b->rows = b->bytes = 0;
	b->ids_ready = 0;
	buf_reset(&b->ev);
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

/* Signs a tree head over everything committed so far, if that is more than
 * the newest head covers. Any bevisd on the database may sign; a size
 * already signed is left as it is. */
static int
sign_head(struct writer *w)
{
	const struct checkpoint_signer *signer = w->pool->signer;
	struct buf note = BUF_INIT;
	char err[256], size[24], root_hex[2 + 2 * SHA256_LEN + 1];
	unsigned char root[SHA256_LEN];
	PGresult *res;
	struct pgerr e;
	int rc = -1;

	if (ensure_connected(w, &e) < 0)
		return -1;
	res = PQexecParams(w->conn, "SELECT n, ledger_root(n), "
	    "n > coalesce((SELECT max(tree_size) FROM tree_head), 0) "
	    "FROM (SELECT coalesce(max(idx) + 1, 0) AS n FROM ledger_leaf) s",
	    0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetlength(res, 0, 1) != SHA256_LEN) {
		log_warnx("writer %d: cannot read the tree to sign: %s", w->num,
		    PQerrorMessage(w->conn));
		goto out;
	}
	const unsigned char *n = (const unsigned char *)PQgetvalue(res, 0, 0);
	uint64_t tree_size = 0;
	for (int k = 0; k < 8; k++)
		tree_size = tree_size << 8 | n[k];
	memcpy(root, PQgetvalue(res, 0, 1), SHA256_LEN);
	if (!*PQgetvalue(res, 0, 2)) {
		rc = 0;		/* nothing new */
		goto out;
	}
	if (checkpoint_sign(signer->name, tree_size, root, signer, &note, err,
	    sizeof(err)) < 0) {
		log_error("cannot sign the tree head: %s", err);
		goto out;
	}
	snprintf(size, sizeof(size), "%llu", (unsigned long long)tree_size);
	memcpy(root_hex, "\\x", 2);
	for (int k = 0; k < SHA256_LEN; k++)
		snprintf(root_hex + 2 + 2 * k, 3, "%02x", root[k]);
	const char *params[3] = { size, root_hex, buf_cstr(&note) };
	PQclear(res);
	res = PQexecParams(w->conn, "INSERT INTO tree_head (tree_size, root, "
	    "checkpoint) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("writer %d: cannot store the tree head: %s", w->num,
		    PQerrorMessage(w->conn));
		goto out;
	}
	log_debug("signed tree head at size %llu", (unsigned long long)tree_size);
	rc = 0;
out:
	PQclear(res);
	buf_free(&note);
	return rc;
}

/* At most one head per checkpoint_interval, and only while there are new
 * leaves; one writer signs at a time. */
static void
maybe_sign(struct writer *w, int force)
{
	struct writer_pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	if (p->signer == NULL || !p->dirty || p->signing ||
	    (!force && now_ms() < p->next_sign_ms)) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->signing = 1;
	p->dirty = 0;
	pthread_mutex_unlock(&p->mu);
	int rc = sign_head(w);
	pthread_mutex_lock(&p->mu);
	p->signing = 0;
	if (rc < 0)
		p->dirty = 1;
	p->next_sign_ms = now_ms() + p->lim.checkpoint_interval * 1000;
	pthread_mutex_unlock(&p->mu);
}

/* A request rebuilt from a spool record; there is no one to answer. */
static struct request *
request_from_spool(const struct spool_rec *rec)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->from_spool = 1;
	r->spool_seq = rec->seq;
	snprintf(r->request_id, sizeof(r->request_id), "%s", rec->request_id);
	snprintf(r->supplier_name, sizeof(r->supplier_name), "%s",
	    rec->supplier_name);
	snprintf(r->key_fp, sizeof(r->key_fp), "%s", rec->key_fp);
	r->supplier_id = rec->supplier_id;
	r->ct = (enum content_type)rec->ct;
	r->received_us = rec->received_us;
	if (zmq_msg_init_size(&r->body, rec->body_len) < 0)
		fatalx("out of memory");
	memcpy(zmq_msg_data(&r->body), rec->body, rec->body_len);
	return r;
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
		if (exec_ok(w, "SELECT 1", PGRES_TUPLES_OK, &e) == 0) {
			pool_set_db_up(p);
			ok = 1;
		} else if (PQstatus(w->conn) != CONNECTION_OK) {
			disconnect(w);
		}
		goto out;
	}
	for (size_t i = 0; i < sb.n; i++)
		batch_add(w, b, request_from_spool(&sb.recs[i]));
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
	pool_set_db_up(p);	/* it took a commit */
	for (size_t i = 0; i < b->n; i++) {
		const struct request *r = b->w[i].req;
		static const char st_ok[] = "{\"status\":\"ok\"";
		if (r->reply.len >= sizeof(st_ok) - 1 &&
		    memcmp(r->reply.data, st_ok, sizeof(st_ok) - 1) == 0)
			log_info("request %s: spool record %llu written: %u "
			    "accepted, %u duplicate, %u quarantined", r->request_id,
			    (unsigned long long)r->spool_seq, r->accepted,
			    r->duplicate, r->quarantined);
		else
			log_warnx("request %s: spool record %llu answered %.*s",
			    r->request_id, (unsigned long long)r->spool_seq,
			    (int)r->reply.len, (const char *)r->reply.data);
	}
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
		p->next_probe_ms = now_ms() + (away ? 1000 : 5000);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
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
			(void)process_batch(w, &b, 0);
			deliver(w, &b);
			batch_reset(&b);
		} else if (got == TAKE_REPLAY) {
			replay_turn(w, &b);
		}
		maybe_sign(w, 0);
	}
	/* A last head, so that what was committed before a stop is signed. */
	maybe_sign(w, 1);
	free(b.w);
	buf_free(&b.ev);
	event_parser_thread_done();
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
	p->spool = spool;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->done);
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("eventfd");
	p->nwriters = (int)cfg->writers;
	p->writers = xcalloc((size_t)p->nwriters, sizeof(*p->writers));
	for (int i = 0; i < p->nwriters; i++) {
		p->writers[i].pool = p;
		p->writers[i].num = i;
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
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
