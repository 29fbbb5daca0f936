/* store.h - one transaction: a batch's events, submissions and quarantine
 * rows, and their ledger leaves, committed together or not at all.
 *
 * A batch is tried in up to three modes:
 *   FAST      binary COPY straight into event. Resends are rare, so this is
 *             the common case and costs the database least.
 *   DEDUP     after a unique violation: requests whose id was committed
 *             before are answered from the stored outcome, and the events go
 *             through a staging table and INSERT ... ON CONFLICT DO NOTHING,
 *             which tells accepted from duplicate.
 *   PER_ITEM  when DEDUP also fails with a data error (SQLSTATE class 22
 *             or 23) other than a concurrent resend: as DEDUP, but each event
 *             is staged under its own savepoint, so the one the database
 *             refuses is quarantined and the rest still commit.
 * Which mode comes next is the writer's choice (writer.c). */
#ifndef BEVIS_STORE_H
#define BEVIS_STORE_H

#include <libpq-fe.h>

#include "db.h"
#include "ingest.h"

enum store_mode { STORE_FAST, STORE_DEDUP, STORE_PER_ITEM };

/* "FAST", "DEDUP", "PER_ITEM": for logs. */
const char *store_mode_name(enum store_mode mode);

/* Prepares a new connection: the session's staging table. */
int store_session_init(PGconn *conn, struct pgerr *e) MUSTCHECK;
/* Gives each request of b its submission id, once per batch. */
int store_alloc_ids(PGconn *conn, struct batch *b, struct pgerr *e) MUSTCHECK;
/* BEGIN, the rows of b in the given mode, the ledger leaves, COMMIT. On
 * success every item has its outcome and b->appended says whether leaves
 * were appended; on failure the transaction is rolled back and e says why. */
int store_batch(PGconn *conn, struct batch *b, enum store_mode mode,
    struct pgerr *e) MUSTCHECK;
/* Sets the outcome of every item of wk, split from the body stored as
 * submission wk->replay_sub, from what that submission stored: its event
 * rows accepted, its quarantine rows with their reasons, the rest
 * duplicate. For a replay and for STATUS (status.c). */
int store_load_replay(PGconn *conn, struct work *wk, struct pgerr *e)
    MUSTCHECK;

#endif
