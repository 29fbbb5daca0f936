/* ingest.h - a batch of requests on its way to rows: each request's body
 * split by its format's parser, each item parsed, checked against the
 * sending supplier and encoded as a binary COPY row of event. */
#ifndef BEVIS_INGEST_H
#define BEVIS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "request.h"
#include "sha256.h"
#include "split.h"

struct parser;

enum outcome { OUT_NONE, OUT_ACCEPTED, OUT_DUPLICATE, OUT_QUARANTINED };

struct item_res {
	uint8_t outcome;	/* enum outcome */
	char *id;		/* the supplier's event id, when parsed */
	char *reason;		/* why it was quarantined */
	size_t row_off;		/* its COPY row in batch->ev */
	size_t row_len;		/* 0: no row (quarantined before the database) */
};

/* One request of a batch. */
struct work {
	struct request *req;
	const struct parser *parser;	/* NULL: no parser for its type */
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
	struct buf pnr;		/* one item's text with identity numbers masked */
	int ids_ready;		/* every work has its sub_id */
	int appended;		/* the commit appended ledger leaves */
};

/* Neither answered from an earlier commit, nor a repeat, nor refused: the
 * request's rows are written by this batch. */
static inline int
work_active(const struct work *wk)
{
	return wk->replay_sub == 0 && wk->leader < 0 && wk->conflict == NULL &&
	    !wk->refused[0];
}

/* Adds r to b (b owns it until batch_reset hands it on) and splits its
 * body; max_items bounds the items of a request that is not from the
 * spool. */
void batch_add(struct batch *b, struct request *r, long max_items);
/* Frees what batch_add allocated; the requests are the caller's again. */
void batch_reset(struct batch *b);
void batch_free(struct batch *b);

/* Marks the item quarantined for reason (cut to valid UTF-8). */
void item_quarantine(struct item_res *it, const char *reason);

/* The active suppliers by name, for requests without a key (dev mode),
 * whose items name their supplier. */
struct supplier_cache {
	char **names;
	int32_t *ids;
	size_t n;
	int64_t loaded_ms;
};
int supplier_cache_load(struct supplier_cache *sc, PGconn *conn,
    struct pgerr *e) MUSTCHECK;
void supplier_cache_clear(struct supplier_cache *sc);

/* Parses every item of b and encodes the good ones as COPY rows in b->ev;
 * the others are quarantined with a reason. Runs again on each attempt, so
 * a supplier added meanwhile is seen. -1 only on a database error (looking
 * up a supplier). */
int ingest_prepare(PGconn *conn, struct supplier_cache *sc, struct batch *b,
    long max_item_bytes, struct pgerr *e) MUSTCHECK;

#endif
