/* status.c - STATUS request-id (status.h). A committed request's outcome is
 * rebuilt the way a replay rebuilds it: its stored body is split again
 * under its stored content type, and what the submission stored decides
 * each item's outcome and reason (store_load_replay). */
#include "status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reply.h"
#include "spool.h"
#include "store.h"
#include "xmalloc.h"

struct spooled {
	int32_t supplier_id;
	uint64_t seq;
	char request_id[PROTO_REQUEST_ID_MAX + 1];
};

struct status_index {
	pthread_mutex_t mu;
	struct spooled *v;
	size_t n, cap;
};

struct status_index *
status_index_new(void)
{
	struct status_index *ix = xcalloc(1, sizeof(*ix));

	pthread_mutex_init(&ix->mu, NULL);
	return ix;
}

void
status_index_free(struct status_index *ix)
{
	if (ix == NULL)
		return;
	pthread_mutex_destroy(&ix->mu);
	free(ix->v);
	free(ix);
}

void
status_index_add(struct status_index *ix, int32_t supplier_id,
    const char *request_id, uint64_t seq)
{
	pthread_mutex_lock(&ix->mu);
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? ix->cap * 2 : 64;
		ix->v = xrealloc(ix->v, ix->cap * sizeof(*ix->v));
	}
	struct spooled *s = &ix->v[ix->n++];
	s->supplier_id = supplier_id;
	s->seq = seq;
	snprintf(s->request_id, sizeof(s->request_id), "%s", request_id);
	pthread_mutex_unlock(&ix->mu);
}

void
status_index_forget(struct status_index *ix, uint64_t seq)
{
	pthread_mutex_lock(&ix->mu);
	for (size_t i = 0; i < ix->n; i++)
		if (ix->v[i].seq == seq) {
			ix->v[i] = ix->v[--ix->n];
			break;
		}
	pthread_mutex_unlock(&ix->mu);
}

static int
index_find(struct status_index *ix, int32_t supplier_id,
    const char *request_id, uint64_t *seq)
{
	int found = 0;

	pthread_mutex_lock(&ix->mu);
	for (size_t i = 0; i < ix->n && !found; i++)
		if (ix->v[i].supplier_id == supplier_id &&
		    strcmp(ix->v[i].request_id, request_id) == 0) {
			*seq = ix->v[i].seq;
			found = 1;
		}
	pthread_mutex_unlock(&ix->mu);
	return found;
}

void
status_index_scan(struct status_index *ix, struct spool *sp)
{
	struct spool_batch first, next;
	size_t total = 0;

	memset(&first, 0, sizeof(first));
	memset(&next, 0, sizeof(next));
	/* One record to come back to, then the rest in small pieces: only
	 * their headers are kept. */
	if (sp == NULL || spool_read(sp, 1, 1, &first) <= 0) {
		spool_batch_free(&first);
		return;
	}
	for (size_t i = 0; i < first.n; i++)
		status_index_add(ix, first.recs[i].supplier_id,
		    first.recs[i].request_id, first.recs[i].seq);
	total = first.n;
	while (spool_read(sp, 1024, 4u << 20, &next) > 0) {
		for (size_t i = 0; i < next.n; i++)
			status_index_add(ix, next.recs[i].supplier_id,
			    next.recs[i].request_id, next.recs[i].seq);
		total += next.n;
	}
	/* Back to the oldest record: the replay reads them all again. */
	spool_rewind(sp, &first);
	spool_batch_free(&first);
	spool_batch_free(&next);
	log_info("spool: %zu request(s) wait for the database", total);
}

/* The submission stored under r's supplier and request id: 1 with its id,
 * content type and body (a request of its own, which the caller frees),
 * 0 when there is none, -1 on a database error. */
static int
find_submission(PGconn *conn, const struct request *r, int64_t *sub,
    struct request **stored, struct pgerr *e)
{
	char sid[16];
	const char *params[2] = { sid, r->request_id };
	PGresult *res;

	snprintf(sid, sizeof(sid), "%d", r->supplier_id);
	if (r->supplier_id)
		res = PQexecParams(conn, "SELECT id, content_type, body FROM "
		    "submission WHERE supplier_id = $1 AND request_id = $2", 2,
		    NULL, params, NULL, NULL, 1);
	else
		res = PQexecParams(conn, "SELECT id, content_type, body FROM "
		    "submission WHERE supplier_id IS NULL AND request_id = $1",
		    1, NULL, params + 1, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgerr_take(conn, res, e);
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	const unsigned char *v = (const unsigned char *)PQgetvalue(res, 0, 0);
	uint64_t id = 0;
	for (int k = 0; k < 8; k++)
		id = id << 8 | v[k];
	*sub = (int64_t)id;
	struct request *t = xcalloc(1, sizeof(*t));
	memcpy(t->request_id, r->request_id, sizeof(t->request_id));
	memcpy(t->supplier_name, r->supplier_name, sizeof(t->supplier_name));
	memcpy(t->key_fp, r->key_fp, sizeof(t->key_fp));
	t->supplier_id = r->supplier_id;
	t->from_spool = 1;	/* taken under the limits of its day */
	t->ct = proto_content_type(PQgetvalue(res, 0, 1),
	    (size_t)PQgetlength(res, 0, 1));
	size_t len = (size_t)PQgetlength(res, 0, 2);
	if (zmq_msg_init_size(&t->body, len) < 0)
		fatalx("out of memory");
	memcpy(zmq_msg_data(&t->body), PQgetvalue(res, 0, 2), len);
	PQclear(res);
	*stored = t;
	return 1;
}

/* The outcome of submission sub, as its reply said when it was committed
 * (without "replay"), with "state":"committed" after the status. */
static int
committed_reply(PGconn *conn, struct supplier_cache *sc, long max_item_bytes,
    struct request *t, int64_t sub, struct buf *out, struct pgerr *e)
{
	static const char head[] = "{\"status\":\"ok\",";
	static const char replay[] = "\"replay\":true,";
	struct batch tb;
	int rc = -1;

	memset(&tb, 0, sizeof(tb));
	batch_add(&tb, t, 0);
	if (ingest_prepare(conn, sc, &tb, max_item_bytes, e) < 0)
		goto out;
	tb.w[0].replay_sub = sub;
	if (store_load_replay(conn, &tb.w[0], e) < 0)
		goto out;
	reply_outcomes(&tb, &tb.w[0]);
	const struct buf *rp = &t->reply;
	if (rp->len < sizeof(head) - 1 ||
	    memcmp(rp->data, head, sizeof(head) - 1) != 0) {
		buf_reset(out);
		buf_append(out, rp->data, rp->len);
		rc = 0;
		goto out;
	}
	buf_reset(out);
	buf_puts(out, "{\"status\":\"ok\",\"state\":\"committed\",");
	const char *rest = (const char *)rp->data + sizeof(head) - 1;
	size_t rlen = rp->len - (sizeof(head) - 1);
	const char *at = memmem(rest, rlen, replay, sizeof(replay) - 1);
	if (at) {
		buf_append(out, rest, (size_t)(at - rest));
		at += sizeof(replay) - 1;
		buf_append(out, at, rlen - (size_t)(at - rest));
	} else {
		buf_append(out, rest, rlen);
	}
	rc = 0;
out:
	batch_reset(&tb);
	batch_free(&tb);
	return rc;
}

void
status_answer(PGconn *conn, struct supplier_cache *sc, long max_item_bytes,
    struct status_index *ix, struct request *r)
{
	struct request *t = NULL;
	struct pgerr e;
	int64_t sub = 0;
	uint64_t seq;
	int found = conn ? find_submission(conn, r, &sub, &t, &e) : -1;

	if (found == 1) {
		found = committed_reply(conn, sc, max_item_bytes, t, sub,
		    &r->reply, &e) == 0 ? 1 : -1;
		request_free(t);
		if (found == 1)
			return;
	}
	if (index_find(ix, r->supplier_id, r->request_id, &seq)) {
		buf_reset(&r->reply);
		buf_printf(&r->reply, "{\"status\":\"ok\",\"state\":\"spooled\","
		    "\"spool_record\":%llu}", (unsigned long long)seq);
		return;
	}
	if (found < 0) {
		if (conn)
			log_warnx("request %s: STATUS: %s (SQLSTATE %s)",
			    r->request_id, e.msg, e.sqlstate);
		reply_error(&r->reply, "unavailable", "the database did not "
		    "answer and the request is not in bevisd's spool; ask again "
		    "later");
		return;
	}
	buf_reset(&r->reply);
	buf_puts(&r->reply, "{\"status\":\"ok\",\"state\":\"unknown\"}");
}
