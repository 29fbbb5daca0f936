/* report_store.c - a REPORT request through the write path (report_store.h). */
#include "report_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "log.h"
#include "parse.h"
#include "report.h"
#include "xmalloc.h"

void
report_work_parse(struct work *wk, long max_items)
{
	const struct request *r = wk->req;
	const struct parser *p = parser_for_report(r->report->ct);
	struct report_work *rw = xcalloc(1, sizeof(*rw));

	wk->rep = rw;
	wk->parser = p;
	if (p == NULL) {	/* the receiver checked the content type */
		snprintf(wk->refused, sizeof(wk->refused), "no report parser "
		    "for this content type");
		wk->refused_code = "unsupported_content_type";
		return;
	}
	/* A report is parsed whole (its entries are compared as one), so it
	 * is refused whole past max_items. */
	rw->rp.max_items = r->from_spool ? 0 : (size_t)max_items;
	p->report(r->report, zmq_msg_data((zmq_msg_t *)&r->body),
	    zmq_msg_size((zmq_msg_t *)&r->body), &rw->rp);
	if (rw->rp.error[0]) {
		snprintf(wk->refused, sizeof(wk->refused), "%s", rw->rp.error);
		wk->refused_code = rw->rp.error_code;
		wk->nitems = 0;
		return;
	}
	/* The spans, for the quarantine rows (store.c). */
	wk->sp.items = xcalloc(rw->rp.n ? rw->rp.n : 1, sizeof(*wk->sp.items));
	wk->sp.n = wk->sp.cap = rw->rp.n;
	for (size_t k = 0; k < rw->rp.n; k++) {
		wk->sp.items[k].off = rw->rp.items[k].off;
		wk->sp.items[k].len = rw->rp.items[k].len;
		wk->sp.items[k].line = rw->rp.items[k].line;
	}
	wk->nitems = rw->rp.n;
}

void
report_work_prepare(struct work *wk)
{
	struct report_work *rw = wk->rep;

	free(rw->incidents);
	rw->incidents = NULL;
	rw->stored = 0;
	for (size_t k = 0; k < wk->nitems; k++) {
		const struct report_item *ri = &rw->rp.items[k];
		struct item_res *it = &wk->items[k];

		if (ri->id)
			it->id = xstrdup(ri->id);
		if (ri->reason)
			item_quarantine(it, ri->reason);
	}
}

void
report_work_free(struct work *wk)
{
	if (wk->rep == NULL)
		return;
	report_parsed_free(&wk->rep->rp);
	free(wk->rep->incidents);
	free(wk->rep);
	wk->rep = NULL;
}

static void
take_result(struct report_work *rw, const PGresult *res)
{
	rw->stored = 1;
	rw->report_id = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	rw->version = atoi(PQgetvalue(res, 0, 1));
	rw->duplicate = PQgetvalue(res, 0, 2)[0] == 't';
	rw->n_new = atol(PQgetvalue(res, 0, 3));
	rw->n_changed = atol(PQgetvalue(res, 0, 4));
	rw->n_unchanged = atol(PQgetvalue(res, 0, 5));
	rw->n_removed = atol(PQgetvalue(res, 0, 6));
	free(rw->incidents);
	rw->incidents = xstrdup(PQgetvalue(res, 0, 7));
}

/* The outcome of each readable entry: accepted, or duplicate when the
 * report was. */
static void
set_outcomes(struct work *wk)
{
	for (size_t k = 0; k < wk->nitems; k++)
		if (wk->items[k].outcome != OUT_QUARANTINED)
			wk->items[k].outcome = wk->rep->duplicate ? OUT_DUPLICATE :
			    OUT_ACCEPTED;
}

static int
store_one(PGconn *conn, struct work *wk, struct pgerr *e)
{
	const struct report_meta *m = wk->req->report;
	struct report_work *rw = wk->rep;
	char sub[24], nq[24];
	size_t q = 0;

	for (size_t k = 0; k < wk->nitems; k++)
		q += wk->items[k].outcome == OUT_QUARANTINED;
	snprintf(sub, sizeof(sub), "%lld", (long long)wk->sub_id);
	snprintf(nq, sizeof(nq), "%zu", q);
	const char *params[8] = { sub, m->kind, m->period, m->title, m->author,
		buf_cstr(&rw->rp.json), nq,
		m->charset == RCS_WINDOWS_1252 ? "windows-1252" : "utf-8" };
	PGresult *res = PQexecParams(conn, "SELECT report_id, version, duplicate, "
	    "n_new, n_changed, n_unchanged, n_removed, array_to_json(incidents) "
	    "FROM bevis_report_ingest($1, $2, $3, $4, $5, $6::jsonb, $7, $8)", 8,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pgerr_take(conn, res, e);
		PQclear(res);
		if (strcmp(e->sqlstate, "57014") == 0) {
			/* The same report would time out again: refused whole,
			 * and the batch is tried again without it. */
			snprintf(wk->refused, sizeof(wk->refused), "the report's "
			    "%zu entries could not be stored within "
			    "db_statement_timeout; nothing was stored: send it in "
			    "smaller parts, or raise db_statement_timeout",
			    wk->nitems);
			wk->refused_code = "too_large";
			log_warnx("request %s: %s", wk->req->request_id, wk->refused);
			pgerr_set(e, "22000", wk->refused);
		}
		return -1;
	}
	take_result(rw, res);
	PQclear(res);
	set_outcomes(wk);
	return 0;
}

/* A request id committed before: the report it stored, if any (none when
 * it was a duplicate of the version before it). */
static int
load_one(PGconn *conn, struct work *wk, struct pgerr *e)
{
	struct report_work *rw = wk->rep;
	char sub[24];
	const char *params[1] = { sub };

	snprintf(sub, sizeof(sub), "%lld", (long long)wk->replay_sub);
	PGresult *res = PQexecParams(conn, "SELECT r.id, r.version, false, "
	    "count(*) FILTER (WHERE e.state = 'new'), "
	    "count(*) FILTER (WHERE e.state = 'changed'), "
	    "count(*) FILTER (WHERE e.state = 'unchanged'), "
	    "count(*) FILTER (WHERE e.state = 'removed'), '[]' "
	    "FROM report r LEFT JOIN report_entry e ON e.report_id = r.id "
	    "WHERE r.submission_id = $1 GROUP BY r.id", 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgerr_take(conn, res, e);
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) == 1) {
		take_result(rw, res);
	} else {
		rw->stored = 1;
		rw->duplicate = 1;
		rw->incidents = xstrdup("[]");
	}
	PQclear(res);
	return 0;
}

int
report_store(PGconn *conn, struct batch *b, struct pgerr *e)
{
	for (size_t i = 0; i < b->n; i++) {
		struct work *wk = &b->w[i];

		if (wk->rep == NULL || wk->refused[0] || wk->conflict ||
		    wk->leader >= 0)
			continue;
		if (wk->replay_sub) {
			if (load_one(conn, wk, e) < 0)
				return -1;
		} else if (store_one(conn, wk, e) < 0) {
			return -1;
		}
	}
	return 0;
}

void
report_reply(struct work *wk)
{
	static const char *const names[] = { "pending", "accepted", "duplicate",
		"quarantined" };
	const struct report_meta *m = wk->req->report;
	struct report_work *rw = wk->rep;
	struct buf *out = &wk->req->reply;
	size_t count[4] = { 0 };

	for (size_t k = 0; k < wk->nitems; k++)
		count[wk->items[k].outcome]++;
	wk->req->accepted = (uint32_t)count[OUT_ACCEPTED];
	wk->req->duplicate = (uint32_t)count[OUT_DUPLICATE];
	wk->req->quarantined = (uint32_t)count[OUT_QUARANTINED];
	buf_reset(out);
	buf_printf(out, "{\"status\":\"ok\",\"submission\":%lld,%s",
	    (long long)(wk->replay_sub ? wk->replay_sub : wk->sub_id),
	    wk->replay_sub ? "\"replay\":true," : "");
	if (rw->report_id)
		buf_printf(out, "\"report\":%lld,", (long long)rw->report_id);
	buf_puts(out, "\"source\":");
	buf_put_json_string(out, wk->req->supplier_name,
	    strlen(wk->req->supplier_name));
	buf_printf(out, ",\"kind\":\"%s\",\"period\":\"%s\",\"version\":%d,"
	    "\"duplicate\":%s,\"entries\":%zu,\"new\":%ld,\"changed\":%ld,"
	    "\"unchanged\":%ld,\"removed\":%ld,\"incidents\":%s,"
	    "\"items\":%zu,\"accepted\":%zu,\"duplicate_items\":%zu,"
	    "\"quarantined\":%zu,\"outcomes\":[", m->kind, m->period,
	    rw->version, rw->duplicate ? "true" : "false", wk->nitems,
	    rw->n_new, rw->n_changed, rw->n_unchanged, rw->n_removed,
	    rw->incidents ? rw->incidents : "[]", wk->nitems,
	    count[OUT_ACCEPTED], count[OUT_DUPLICATE], count[OUT_QUARANTINED]);
	for (size_t k = 0; k < wk->nitems; k++) {
		const struct item_res *it = &wk->items[k];

		buf_printf(out, "%s{\"item\":%zu,\"outcome\":\"%s\"", k ? "," : "",
		    k, names[it->outcome]);
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
