/* ingest.c - items to rows: the parser for each request's content type,
 * the supplier check, and the binary COPY encoding of each event. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pgcopy.h"
#include "event.h"
#include "ledger.h"
#include "log.h"
#include "parse.h"
#include "report_store.h"
#include "parse_text.h"
#include "pnr.h"
#include "utf8.h"
#include "xmalloc.h"

/* ---- suppliers (dev mode: named by each item) ---- */


void
supplier_cache_clear(struct supplier_cache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->names[i]);
	free(sc->names);
	free(sc->ids);
	memset(sc, 0, sizeof(*sc));
}

int
supplier_cache_load(struct supplier_cache *sc, PGconn *conn, struct pgerr *e)
{
	PGresult *res = PQexec(conn,
	    "SELECT id, name FROM supplier WHERE active");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgerr_take(conn, res, e);
		PQclear(res);
		return -1;
	}
	supplier_cache_clear(sc);
	sc->n = (size_t)PQntuples(res);
	sc->names = xcalloc(sc->n, sizeof(char *));
	sc->ids = xcalloc(sc->n, sizeof(int32_t));
	for (size_t i = 0; i < sc->n; i++) {
		sc->ids[i] = (int32_t)atol(PQgetvalue(res, (int)i, 0));
		sc->names[i] = xstrdup(PQgetvalue(res, (int)i, 1));
	}
	sc->loaded_ms = clock_mono_ms();
	PQclear(res);
	return 0;
}

/* Returns the supplier id, 0 when unknown, -1 on a database error. */
static int32_t
supplier_lookup(struct supplier_cache *sc, PGconn *conn,
    const struct strview *name, struct pgerr *e)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sc->n; i++)
			if (strlen(sc->names[i]) == name->n &&
			    memcmp(sc->names[i], name->p, name->n) == 0)
				return sc->ids[i];
		/* A supplier added since the last look shows up within 1 s. */
		if (pass == 0 && clock_mono_ms() - sc->loaded_ms > 1000 &&
		    supplier_cache_load(sc, conn, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- requests into a batch ---- */

void
batch_add(struct batch *b, struct request *r, long max_items)
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
	wk->sp.max_items = r->from_spool ? SIZE_MAX / 2 : (size_t)max_items;
	if (r->report) {
		report_work_parse(wk, max_items);
		goto parsed;
	}
	wk->parser = parser_for(r->ct);
	if (wk->parser)
		wk->parser->split(&wk->sp, zmq_msg_data(&r->body), len);
	else
		wk->sp.error = "no parser for this content type";
	/* A body that cannot be split is one quarantined item. */
	wk->nitems = wk->sp.error ? 1 : wk->sp.n;
	if (wk->sp.over) {
		snprintf(wk->refused, sizeof(wk->refused), "the request has more "
		    "than %ld items, the limit", max_items);
		split_free(&wk->sp);
		wk->nitems = 0;
	}
parsed:
	wk->items = xcalloc(wk->nitems, sizeof(*wk->items));
	sha256(zmq_msg_data(&r->body), len, wk->sha);
	b->rows += wk->nitems;
	b->bytes += len;
}

void
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
		report_work_free(wk);
	}
	b->n = b->rows = b->bytes = 0;
	b->ids_ready = 0;
	buf_reset(&b->ev);
}

void
batch_free(struct batch *b)
{
	batch_reset(b);
	free(b->w);
	buf_free(&b->ev);
	buf_free(&b->pnr);
	memset(b, 0, sizeof(*b));
}

/* The reason may quote the item, cut to a length that can split a UTF-8
 * sequence; a reason PostgreSQL refuses would fail the whole batch. */
void
item_quarantine(struct item_res *it, const char *reason)
{
	size_t n = strlen(reason), bad;

	bad = utf8_invalid_at((const unsigned char *)reason, n);
	it->outcome = OUT_QUARANTINED;
	free(it->reason);
	it->reason = xstrndup(reason, bad == (size_t)-1 ? n : bad);
	it->row_len = 0;
}

/* ---- items into rows ---- */

static void
encode_event(struct buf *b, const struct work *wk, size_t item_no,
    int32_t supplier_id, const struct sec_event *ev, const struct item_span *sp)
{
	const struct strview *texts[] = { &ev->category, &ev->action, &ev->outcome,
		&ev->actor_user };

	pgcopy_row(b, LEDGER_EVENT_NCOLS);
	pgcopy_int8(b, wk->sub_id);
	pgcopy_int4(b, (int32_t)item_no);
	pgcopy_int4(b, supplier_id);
	pgcopy_bytes(b, ev->id.p, ev->id.n);
	pgcopy_timestamptz(b, ev->occurred_us);
	if (ev->severity >= 0)
		pgcopy_int2(b, (int16_t)ev->severity);
	else
		pgcopy_null(b);
	for (size_t i = 0; i < 4; i++) {
		if (texts[i]->p)
			pgcopy_bytes(b, texts[i]->p, texts[i]->n);
		else
			pgcopy_null(b);
	}
	if (ev->src_family)
		pgcopy_inet(b, ev->src_family, ev->src_ip);
	else
		pgcopy_null(b);
	if (ev->target.p)
		pgcopy_bytes(b, ev->target.p, ev->target.n);
	else
		pgcopy_null(b);
	if (ev->message.p)
		pgcopy_bytes(b, ev->message.p, ev->message.n);
	else
		pgcopy_null(b);
	pgcopy_bool(b, ev->personal_data);
	if (ev->has_seq)
		pgcopy_int8(b, ev->seq);
	else
		pgcopy_null(b);
	if (ev->attrs.p)
		pgcopy_bytes(b, ev->attrs.p, ev->attrs.n);	/* json */
	else
		pgcopy_null(b);
	pgcopy_int4(b, (int32_t)sp->off);
	pgcopy_int4(b, (int32_t)sp->len);
}

/* The supplier an item belongs to: the key's, else (dev mode) the one the
 * item names. Returns its id, 0 after quarantining the item, -1 on a
 * database error. */
static int32_t
item_supplier(PGconn *conn, struct supplier_cache *sc, const struct work *wk,
    struct item_res *it, const struct sec_event *ev, struct pgerr *e)
{
	char reason[512];
	int32_t sid = wk->req->supplier_id;

	if (sid != 0) {
		if (ev->supplier.p && (ev->supplier.n !=
		    strlen(wk->req->supplier_name) || memcmp(ev->supplier.p,
		    wk->req->supplier_name, ev->supplier.n) != 0)) {
			/* The key says who sent it, not the item. */
			snprintf(reason, sizeof(reason), "supplier mismatch: "
			    "item names '%.*s', key belongs to '%s'",
			    (int)utf8_cut(ev->supplier.p, ev->supplier.n, 64),
			    ev->supplier.p, wk->req->supplier_name);
			item_quarantine(it, reason);
			return 0;
		}
		return sid;
	}
	/* The PULL endpoint without CURVE names the supplier (pull_supplier). */
	struct strview name = ev->supplier;
	if (name.p == NULL && wk->req->supplier_name[0])
		name = (struct strview){ wk->req->supplier_name,
		    strlen(wk->req->supplier_name) };
	if (name.p == NULL) {
		item_quarantine(it, "missing required field 'supplier'");
		return 0;
	}
	if ((sid = supplier_lookup(sc, conn, &name, e)) == 0) {
		snprintf(reason, sizeof(reason), "unknown supplier '%.*s'",
		    (int)utf8_cut(name.p, name.n, 64), name.p);
		item_quarantine(it, reason);
	}
	return sid;
}

/* One item: parsed, its supplier checked, encoded as a row of b->ev, or
 * quarantined. -1 only on a database error. */
static int
ingest_item(PGconn *conn, struct supplier_cache *sc, struct batch *b,
    struct work *wk, size_t k, long max_item_bytes, struct pgerr *e)
{
	const unsigned char *body = zmq_msg_data(&wk->req->body);
	const struct item_span *sp = &wk->sp.items[k];
	struct item_res *it = &wk->items[k];
	struct sec_event ev;
	char reason[512];
	int32_t sid;

	if (sp->len > (size_t)max_item_bytes) {
		snprintf(reason, sizeof(reason), "the item has %zu bytes; the "
		    "limit is %ld", sp->len, max_item_bytes);
		item_quarantine(it, reason);
		return 0;
	}
	if ((wk->parser->parse_for ? wk->parser->parse_for(
	    wk->req->supplier_name, body + sp->off, sp->len, &ev, reason,
	    sizeof(reason)) : wk->parser->parse(body + sp->off, sp->len, &ev,
	    reason, sizeof(reason))) < 0) {
		const char *fid = wk->parser->failed_id ?
		    wk->parser->failed_id() : NULL;
		if (fid)
			it->id = xstrdup(fid);
		item_quarantine(it, reason);
		return 0;
	}
	/* Personal identity numbers: counted and masked in every format. */
	pnr_event_mask(&ev, &b->pnr);
	it->id = xstrndup(ev.id.p, ev.id.n);
	sid = item_supplier(conn, sc, wk, it, &ev, e);
	if (sid > 0) {
		it->row_off = b->ev.len;
		encode_event(&b->ev, wk, k, sid, &ev, sp);
		it->row_len = b->ev.len - it->row_off;
	}
	wk->parser->clear(&ev);
	return sid < 0 ? -1 : 0;
}

int
ingest_prepare(PGconn *conn, struct supplier_cache *sc, struct batch *b,
    long max_item_bytes, struct pgerr *e)
{
	char reason[512];

	buf_reset(&b->ev);
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];

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
		if (wk->rep) {
			report_work_prepare(wk);
			continue;
		}
		if (wk->sp.error) {
			if (wk->parser)
				snprintf(reason, sizeof(reason), "invalid %s body: %s",
				    wk->parser->label, wk->sp.error);
			else
				snprintf(reason, sizeof(reason), "%s", wk->sp.error);
			item_quarantine(&wk->items[0], reason);
			continue;
		}
		parse_ctx_set(wk->req->received_us, wk->req->supplier_name);
		for (size_t k = 0; k < wk->nitems; k++)
			if (ingest_item(conn, sc, b, wk, k, max_item_bytes, e) < 0)
				return -1;
	}
	return 0;
}
