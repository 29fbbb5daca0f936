/* status.h - STATUS request-id (protocol 1.1, docs/PROTOCOL.md): what
 * became of an earlier request, asked without its body. The answer is the
 * stored outcome word for word (state "committed"), "spooled" with its spool
 * record, or "unknown". A writer answers it (writer.c). */
#ifndef BEVIS_STATUS_H
#define BEVIS_STATUS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "ingest.h"
#include "request.h"

struct spool;

/* The requests in the spool, by supplier and request id: the spool is on
 * disk in arrival order, and a STATUS must not read it. Thread-safe. */
struct status_index;

struct status_index *status_index_new(void);
void status_index_free(struct status_index *ix);
/* Learns the records waiting in sp at start; call it before anyone reads
 * the spool. The spool's read position is left where it was. */
void status_index_scan(struct status_index *ix, struct spool *sp);
void status_index_add(struct status_index *ix, int32_t supplier_id,
    const char *request_id, uint64_t seq);
/* The record seq was committed: its request is in the database now. */
void status_index_forget(struct status_index *ix, uint64_t seq);

/* Sets r->reply for the STATUS request r. conn is NULL when the database
 * is unreachable; then only the spool can answer. */
void status_answer(PGconn *conn, struct supplier_cache *sc,
    long max_item_bytes, struct status_index *ix, struct request *r);

#endif
