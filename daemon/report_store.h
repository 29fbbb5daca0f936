/* report_store.h - a REPORT request through the write path: its body parsed
 * into entries when the batch is formed, its entries' outcomes set before
 * the commit, the report and its entries stored by bevis_report_ingest in
 * the batch's transaction, and the reply. A report is a batch of its own. */
#ifndef BEVIS_REPORT_STORE_H
#define BEVIS_REPORT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "report_entries.h"

struct work;
struct batch;

struct report_work {
	struct report_parsed rp;
	/* what bevis_report_ingest said */
	int stored;
	int64_t report_id;
	int version;
	int duplicate;
	long n_new, n_changed, n_unchanged, n_removed;
	char *incidents;	/* JSON array of references, owned */
};

/* Parses wk's report body (wk->req->report says how); refuses it whole in
 * wk->refused when it cannot be read. */
void report_work_parse(struct work *wk, long max_items);
/* Sets the outcome of each entry from the parse, for an attempt. */
void report_work_prepare(struct work *wk);
void report_work_free(struct work *wk);
/* Stores the active reports of b after their submissions are written;
 * loads the result of a report committed before under the same request id.
 * -1 on a database error. */
int report_store(PGconn *conn, struct batch *b, struct pgerr *e) MUSTCHECK;
/* The reply of a report (docs/PROTOCOL.md, "REPORT"). */
void report_reply(struct work *wk);

#endif
