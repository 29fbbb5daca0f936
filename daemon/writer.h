/* writer.h - database writer threads.
 *
 * Why threads and not async libpq on the event loop: a batch is parsed,
 * hashed and written with COPY, and parsing and hashing cost as much CPU as
 * the receive path. A writer thread runs them next to the event loop on the
 * other core, with plain blocking libpq that is easy to read, while the loop
 * only moves frames. The queue between them is bounded by max_inflight_bytes:
 * past it the loop stops reading the socket (docs/ARCHITECTURE.md). */
#ifndef BEVIS_WRITER_H
#define BEVIS_WRITER_H

#include "config.h"
#include "request.h"

struct writer_pool;

struct checkpoint_signer;

/* Starts cfg->writers threads. The pool keeps pointers to cfg and signer;
 * with a signer, the writers sign a tree head at most every
 * checkpoint_interval while leaves are appended. */
struct writer_pool *writer_pool_start(const struct config *cfg,
    const struct checkpoint_signer *signer);
/* Queues r; the pool owns it until writer_pool_take_done returns it. */
void writer_pool_submit(struct writer_pool *p, struct request *r);
/* A descriptor that becomes readable when replies are ready. */
int writer_pool_fd(struct writer_pool *p);
/* Returns a request whose reply is set, or NULL; the caller owns it. */
struct request *writer_pool_take_done(struct writer_pool *p);
/* From now on a writer that cannot reach the database answers its batch
 * "unavailable" instead of retrying; the queue is still worked off. */
void writer_pool_drain(struct writer_pool *p);
/* Lets the writers finish the queue, then joins them. */
void writer_pool_stop(struct writer_pool *p);
/* Frees a stopped pool and any reply not taken. */
void writer_pool_free(struct writer_pool *p);

#endif
