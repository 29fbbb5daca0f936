/* ledger_listen.h - hears of leaves appended by others. Every append to the
 * ledger NOTIFYs bevis_ledger (sql/0008); a thread of bevisd LISTENs and
 * tells the writer pool, so a decision, redaction or key change made from
 * the CLI gets a signed tree head within checkpoint_interval, not only after
 * the next submission. */
#ifndef BEVIS_LEDGER_LISTEN_H
#define BEVIS_LEDGER_LISTEN_H

struct config;
struct writer_pool;
struct ledger_listen;

/* Starts the listening thread on its own connection to cfg->db (kept by
 * the caller); it reconnects by itself while the database is away. */
struct ledger_listen *ledger_listen_start(const struct config *cfg,
    struct writer_pool *pool);
/* Stops the thread (within a second) and frees l. */
void ledger_listen_stop(struct ledger_listen *l);

#endif
