/* writer.h - database writer threads.
 *
 * Why threads and not async libpq on the event loop: a batch is parsed,
 * hashed and written with COPY, and parsing and hashing cost as much CPU as
 * the receive path. A writer thread runs them next to the event loop on the
 * other core, with plain blocking libpq that is easy to read, while the loop
 * only moves frames. The queue between them is bounded by max_inflight_bytes:
 * past it the loop answers new requests busy (docs/ARCHITECTURE.md). */
#ifndef BEVIS_WRITER_H
#define BEVIS_WRITER_H

#include "config.h"
#include "request.h"

struct writer_pool;

struct checkpoint_signer;
struct spool;

/* The options a SIGHUP may change while the writers run. */
struct writer_limits {
	long batch_max_rows, batch_max_bytes, batch_max_ms;
	long max_items, max_item_bytes;
	long checkpoint_interval;
	long spool_after_ms;
};

void writer_limits_from(struct writer_limits *l, const struct config *cfg);

/* Starts cfg->writers threads. The pool keeps pointers to cfg, signer and
 * spool; with a signer, the writers sign a tree head at most every
 * checkpoint_interval while leaves are appended; with a spool, batches the
 * database does not take are spooled and replayed later. */
struct writer_pool *writer_pool_start(const struct config *cfg,
    const struct checkpoint_signer *signer, struct spool *spool);
/* Takes new limits (SIGHUP); each writer uses them from its next batch. */
void writer_pool_reconfigure(struct writer_pool *p,
    const struct writer_limits *l);
/* 1 when the database is known to be unreachable and the spool, if any,
 * has no room for another request: what /healthz calls unhealthy. */
int writer_pool_unhealthy(struct writer_pool *p);
/* Queues r; the pool owns it until writer_pool_take_done returns it. */
void writer_pool_submit(struct writer_pool *p, struct request *r);
/* A descriptor that becomes readable when replies are ready. */
int writer_pool_fd(struct writer_pool *p);
/* Leaves were appended by someone (ledger_listen.c): a tree head is due
 * within checkpoint_interval. */
void writer_pool_ledger_grew(struct writer_pool *p);
/* Returns a request whose reply is set, or NULL; the caller owns it. */
struct request *writer_pool_take_done(struct writer_pool *p);
/* From now on a writer that cannot reach the database spools its batch at
 * once, or answers it "unavailable" when it cannot; the queue is still
 * worked off, and replay of the spool stops after the current batch. */
void writer_pool_drain(struct writer_pool *p);
/* Lets the writers finish the queue, then joins them. */
void writer_pool_stop(struct writer_pool *p);
/* Frees a stopped pool and any reply not taken. */
void writer_pool_free(struct writer_pool *p);

#endif
