/* store.c - one transaction per batch (store.h): events in one of three
 * modes, then the submissions, quarantine rows and ledger leaves. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "ledger.h"
#include "log.h"
#include "pgcopy.h"
#include "proto.h"
#include "report_store.h"

const char *
store_mode_name(enum store_mode mode)
{
	switch (mode) {
	case STORE_FAST: return "FAST";
	case STORE_DEDUP: return "DEDUP";
	case STORE_PER_ITEM: return "PER_ITEM";
	}
	return "?";
}

int
store_session_init(PGconn *conn, struct pgerr *e)
{
	return db_exec(conn, "CREATE TEMP TABLE IF NOT EXISTS event_stage "
	    "(LIKE event INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
	    "ON COMMIT DELETE ROWS", PGRES_COMMAND_OK, e);
}


int
store_alloc_ids(PGconn *conn, struct batch *b, struct pgerr *e)
{
	char sql[128];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT nextval('submission_id_seq') "
	    "FROM generate_series(1, %zu)", b->n);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    (size_t)PQntuples(res) != b->n) {
		pgerr_take(conn, res, e);
		PQclear(res);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		b->w[i].sub_id = atoll(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	b->ids_ready = 1;
	return 0;
}

static const char *
supplier_param(const struct work *wk, char *tmp, size_t n)
{
	if (wk->req->supplier_id == 0)
		return NULL;
	snprintf(tmp, n, "%d", wk->req->supplier_id);
	return tmp;
}

/* A replay is the same bytes as the same content type: the same bytes as
 * another type split into other items, and its stored outcome would not
 * be theirs. */
static const char conflict_ct[] = "request id already used for the same "
    "body with another content type";

static int
ct_is(enum content_type ct, const char *stored, size_t len)
{
	const char *name = proto_content_type_name(ct);

	return strlen(name) == len && memcmp(name, stored, len) == 0;
}

/* Finds requests whose id was committed before, or repeats an earlier
 * request of this batch. */
static int
find_replays(PGconn *conn, struct batch *b, struct pgerr *e)
{
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		char sid[16];
		const char *params[2] = { supplier_param(wk, sid, sizeof(sid)),
			wk->req->request_id };
		PGresult *res;

		if (params[0])
			res = PQexecParams(conn, "SELECT id, sha256, content_type "
			    "FROM submission WHERE supplier_id = $1 AND "
			    "request_id = $2", 2, NULL, params, NULL, NULL, 1);
		else
			res = PQexecParams(conn, "SELECT id, sha256, content_type "
			    "FROM submission WHERE supplier_id IS NULL AND "
			    "request_id = $1", 1, NULL, params + 1, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			pgerr_take(conn, res, e);
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
			else if (!ct_is(wk->req->ct, PQgetvalue(res, 0, 2),
			    (size_t)PQgetlength(res, 0, 2)))
				wk->conflict = conflict_ct;
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
				else if (o->req->ct != wk->req->ct)
					wk->conflict = conflict_ct;
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
stage_per_item(PGconn *conn, struct batch *b, struct pgerr *e)
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
			if (db_exec(conn, "SAVEPOINT item", PGRES_COMMAND_OK, e) < 0)
				goto fail;
			if (db_copy_in(conn, "COPY event_stage (" LEDGER_EVENT_COLUMNS ") FROM "
			    "STDIN (FORMAT binary)", &one, &ie) == 0) {
				if (db_exec(conn, "RELEASE SAVEPOINT item",
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
			if (db_exec(conn, "ROLLBACK TO SAVEPOINT item",
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
insert_staged(PGconn *conn, struct batch *b, struct pgerr *e)
{
	PGresult *res = PQexec(conn, "INSERT INTO event (" LEDGER_EVENT_COLUMNS ") "
	    "SELECT " LEDGER_EVENT_COLUMNS " FROM event_stage "
	    "ORDER BY submission_id, item_no "
	    "ON CONFLICT (supplier_id, source_event_id) DO NOTHING "
	    "RETURNING submission_id, item_no");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgerr_take(conn, res, e);
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
	buf_puts(a, a->len ? ",\"\\\\x" : "{\"\\\\x");
	hex_append(a, p, n);
	buf_putc(a, '"');
}

/* The submission row of a request: its body as sent, and who sent it. */
static void
encode_submission(struct buf *s, const struct work *wk)
{
	const struct request *r = wk->req;
	const char *ct = proto_content_type_name(r->ct);

	pgcopy_row(s, 9);
	pgcopy_int8(s, wk->sub_id);
	if (r->supplier_id)
		pgcopy_int4(s, r->supplier_id);
	else
		pgcopy_null(s);
	if (r->key_fp[0])
		pgcopy_bytes(s, r->key_fp, strlen(r->key_fp));
	else
		pgcopy_null(s);
	pgcopy_bytes(s, r->request_id, strlen(r->request_id));
	pgcopy_bytes(s, ct, strlen(ct));
	pgcopy_timestamptz(s, r->received_us);
	pgcopy_bytes(s, wk->sha, sizeof(wk->sha));
	pgcopy_bytes(s, zmq_msg_data((zmq_msg_t *)&r->body),
	    zmq_msg_size((zmq_msg_t *)&r->body));
	pgcopy_int4(s, (int32_t)wk->nitems);
}

/* The quarantine rows of a request: each refused item's reason and its
 * byte range in the body (the whole body when it could not be split). */
static void
encode_quarantine(struct buf *q, const struct work *wk)
{
	size_t body_len = zmq_msg_size((zmq_msg_t *)&wk->req->body);

	for (size_t k = 0; k < wk->nitems; k++) {
		const struct item_res *it = &wk->items[k];
		size_t off = 0, len = body_len;

		if (it->outcome != OUT_QUARANTINED)
			continue;
		if (!wk->sp.error) {
			off = wk->sp.items[k].off;
			len = wk->sp.items[k].len;
		}
		pgcopy_row(q, 5);
		pgcopy_int8(q, wk->sub_id);
		pgcopy_int4(q, (int32_t)k);
		pgcopy_bytes(q, it->reason, strlen(it->reason));
		pgcopy_int4(q, (int32_t)off);
		pgcopy_int4(q, (int32_t)len);
	}
}

/* Copies the submissions and quarantine rows of the active requests, and
 * appends their ledger leaves: the last step before COMMIT, since the
 * ledger's advisory lock is held until then. */
static int
write_submissions(PGconn *conn, struct batch *b, struct pgerr *e)
{
	struct buf s = BUF_INIT, q = BUF_INIT, leaf = BUF_INIT;
	struct buf datas = BUF_INIT, subs = BUF_INIT;
	long long nleaves = 0;
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];
		size_t qstart = q.len;

		if (!work_active(wk))
			continue;
		encode_submission(&s, wk);
		encode_quarantine(&q, wk);
		buf_reset(&leaf);
		encode_leaf(b, wk, q.data + qstart, q.len - qstart, &leaf);
		array_hex(&datas, leaf.data, leaf.len);
		buf_printf(&subs, "%c%lld", subs.len ? ',' : '{',
		    (long long)wk->sub_id);
		nleaves++;
	}
	if (s.len && db_copy_in(conn, "COPY submission (id, supplier_id, key_fingerprint, "
	    "request_id, content_type, received_at, sha256, body, item_count) FROM STDIN "
	    "(FORMAT binary)", &s, e) < 0)
		rc = -1;
	/* Reports refer to their submissions; their decisions are leaves. */
	if (rc == 0 && report_store(conn, b, e) < 0)
		rc = -1;
	if (rc == 0 && q.len && db_copy_in(conn, "COPY quarantine (" LEDGER_QUARANTINE_COLUMNS
	    ") FROM STDIN (FORMAT binary)", &q, e) < 0)
		rc = -1;
	if (rc == 0 && nleaves) {
		buf_putc(&datas, '}');
		buf_putc(&subs, '}');
		const char *params[2] = { buf_cstr(&datas), buf_cstr(&subs) };
		PGresult *res = PQexecParams(conn, "SELECT "
		    "ledger_append_submissions($1::bytea[], $2::bigint[])", 2, NULL,
		    params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			pgerr_take(conn, res, e);
			rc = -1;
		} else {
			b->appended = nleaves > 0;
		}
		PQclear(res);
	}
	/* The quality summaries (sql/0017), under the ledger's lock: batches
	 * are added in commit order. */
	if (rc == 0 && nleaves) {
		const char *params[1] = { buf_cstr(&subs) };
		PGresult *res = PQexecParams(conn, "SELECT "
		    "bevis_quality_add($1::bigint[])", 1, NULL, params, NULL,
		    NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			pgerr_take(conn, res, e);
			rc = -1;
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

int
store_load_replay(PGconn *conn, struct work *wk, struct pgerr *e)
{
	char sub[24];
	const char *params[1] = { sub };
	PGresult *res;

	snprintf(sub, sizeof(sub), "%lld", (long long)wk->replay_sub);
	/* Only what was stored decides: an item neither stored as an event
	 * nor quarantined by that request was a duplicate then. */
	for (size_t k = 0; k < wk->nitems; k++) {
		wk->items[k].outcome = OUT_DUPLICATE;
		free(wk->items[k].reason);
		wk->items[k].reason = NULL;
	}
	res = PQexecParams(conn, "SELECT item_no, NULL FROM event WHERE "
	    "submission_id = $1 UNION ALL SELECT item_no, reason FROM quarantine "
	    "WHERE submission_id = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgerr_take(conn, res, e);
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

/* DEDUP and PER_ITEM: requests committed before are answered from what
 * was stored; the rest go through the staging table. */
static int
store_events_staged(PGconn *conn, struct batch *b, enum store_mode mode,
    struct pgerr *e)
{
	struct buf rows = BUF_INIT;
	int rc = 0;

	if (find_replays(conn, b, e) < 0)
		return -1;
	if (mode == STORE_PER_ITEM) {
		rc = stage_per_item(conn, b, e);
	} else {
		for (size_t i = 0; i < b->n; i++)
			if (work_active(&b->w[i]))
				append_rows(&rows, b, &b->w[i]);
		if (rows.len)
			rc = db_copy_in(conn, "COPY event_stage ("
			    LEDGER_EVENT_COLUMNS ") FROM STDIN (FORMAT binary)",
			    &rows, e);
	}
	buf_free(&rows);
	if (rc < 0 || insert_staged(conn, b, e) < 0)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].replay_sub && !b->w[i].conflict &&
		    store_load_replay(conn, &b->w[i], e) < 0)
			return -1;
	return 0;
}

/* FAST: every row is taken as accepted; a resend aborts the COPY with a
 * unique violation and the batch is tried again as DEDUP. */
static int
store_events_fast(PGconn *conn, struct batch *b, struct pgerr *e)
{
	for (size_t i = 0; i < b->n; i++)
		for (size_t k = 0; k < b->w[i].nitems; k++)
			if (b->w[i].items[k].row_len)
				b->w[i].items[k].outcome = OUT_ACCEPTED;
	if (b->ev.len == 0)
		return 0;
	return db_copy_in(conn, "COPY event (" LEDGER_EVENT_COLUMNS ") FROM "
	    "STDIN (FORMAT binary)", &b->ev, e);
}

int
store_batch(PGconn *conn, struct batch *b, enum store_mode mode,
    struct pgerr *e)
{
	b->appended = 0;
	if (db_exec(conn, "BEGIN", PGRES_COMMAND_OK, e) < 0)
		return -1;
	if ((mode == STORE_FAST ? store_events_fast(conn, b, e) :
	    store_events_staged(conn, b, mode, e)) < 0 ||
	    write_submissions(conn, b, e) < 0)
		goto fail;
	if (db_exec(conn, "COMMIT", PGRES_COMMAND_OK, e) < 0)
		return -1;
	return 0;
fail:
	if (PQstatus(conn) == CONNECTION_OK) {
		struct pgerr ignored;
		(void)db_exec(conn, "ROLLBACK", PGRES_COMMAND_OK, &ignored);
	}
	return -1;
}
