/* rules.h - the rules evaluator: a thread of bevisd that follows the
 * committed ledger in order on a connection of its own and calls
 * bevis_rules_evaluate() (sql/0012_rules.sql), which opens or extends
 * potential incidents and moves the evaluator's position in the same
 * transaction. Ingestion never waits for it; after a crash it resumes at
 * the stored position. docs/RULES.md describes the rules. */
#ifndef BEVIS_RULES_H
#define BEVIS_RULES_H

#include "buf.h"

struct config;
struct rules;

/* Starts the evaluator on its own connection to cfg->db (kept by the
 * caller); it reconnects by itself while the database is away. */
struct rules *rules_start(const struct config *cfg);
/* Stops the thread (after the evaluation under way) and frees r. */
void rules_stop(struct rules *r);
/* Appends the evaluator's figures to b (Prometheus text format). */
void rules_metrics(struct buf *b);

#endif
