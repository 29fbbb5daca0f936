/* reply.h - the status objects of docs/PROTOCOL.md §5, built in one place
 * for the receiver (refusals, busy) and the writers (outcomes, spooled). */
#ifndef BEVIS_REPLY_H
#define BEVIS_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct batch;
struct work;

/* Each resets b first. */
void reply_error(struct buf *b, const char *code, const char *msg);
void reply_busy(struct buf *b, int retry_after_ms, const char *msg);
void reply_spooled(struct buf *b, size_t items, uint64_t spool_record);

/* Sets wk->req->reply after its batch committed: the per-item outcomes,
 * or the refusal, or the reply of the request it repeats; and its
 * accepted/duplicate/quarantined counts. */
void reply_outcomes(const struct batch *b, struct work *wk);

#endif
