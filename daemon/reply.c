/* reply.c - the status objects of docs/PROTOCOL.md §5. */
#include "reply.h"

#include <string.h>

#include "ingest.h"
#include "report_store.h"

void
reply_error(struct buf *b, const char *code, const char *msg)
{
	buf_reset(b);
	buf_puts(b, "{\"status\":\"error\",\"error\":");
	buf_put_json_string(b, code, strlen(code));
	buf_puts(b, ",\"message\":");
	buf_put_json_string(b, msg, strlen(msg));
	buf_putc(b, '}');
}

void
reply_busy(struct buf *b, int retry_after_ms, const char *msg)
{
	buf_reset(b);
	buf_printf(b, "{\"status\":\"busy\",\"retry_after_ms\":%d,"
	    "\"message\":", retry_after_ms);
	buf_put_json_string(b, msg, strlen(msg));
	buf_putc(b, '}');
}

void
reply_spooled(struct buf *b, size_t items, uint64_t spool_record)
{
	buf_reset(b);
	buf_printf(b, "{\"status\":\"spooled\",\"items\":%zu,"
	    "\"spool_record\":%llu,\"message\":\"the database is "
	    "unreachable; the request is stored in bevisd's spool on "
	    "disk and will be written in order when the database "
	    "is back\"}", items, (unsigned long long)spool_record);
}

void
reply_outcomes(const struct batch *b, struct work *wk)
{
	static const char *const names[] = { "pending", "accepted", "duplicate",
		"quarantined" };
	struct buf *out = &wk->req->reply;
	size_t count[4] = { 0 };

	if (wk->refused[0]) {
		reply_error(out, wk->refused_code ? wk->refused_code :
		    "too_many_items", wk->refused);
		return;
	}
	if (wk->conflict) {
		reply_error(out, "request_id_conflict", wk->conflict);
		return;
	}
	if (wk->leader >= 0) {
		const struct buf *lr = &b->w[wk->leader].req->reply;
		buf_reset(out);
		buf_append(out, lr->data, lr->len);
		return;
	}
	if (wk->rep) {
		report_reply(wk);
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
