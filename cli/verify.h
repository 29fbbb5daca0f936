/* verify.h - state shared by the passes of bevis verify. */
#ifndef BEVIS_VERIFY_H
#define BEVIS_VERIFY_H

#include <libpq-fe.h>
#include <stdint.h>

#include "log.h"

#define VERIFY_CONNS 4

struct verify {
	PGconn *conn[VERIFY_CONNS];	/* one snapshot, shared */
	long problems;
	/* figures for the summary */
	int64_t leaves;
	int64_t submissions;
	int64_t events;
	int64_t heads;
	int64_t checkpoints;
	int64_t redactions_seen;
	int64_t decisions;		/* checked against their leaves */
	int64_t incidents;		/* replayed from their decisions */
	int64_t links;			/* link rows checked */
	int64_t decisions_hidden;	/* of protected incidents: unreadable */
	int64_t incidents_hidden;
	int64_t custody;		/* custody records checked */
	int64_t custody_hidden;		/* custody leaves of protected incidents */
	/* submissions whose redaction is recorded, sorted */
	int64_t *redacted;
	size_t nredacted;
};

void verify_problem(struct verify *v, const char *fmt, ...) PRINTF_LIKE(2, 3);
int verify_content(struct verify *v);
/* cli/verify_incidents.c */
int verify_incidents(struct verify *v);
/* Decision row j of a result with verify_incidents.c's DEC_ROW_QUERY
 * columns (leaf_idx, ref, seq, kind, before, after, rationale, actor, at
 * in microseconds, id, incident_id, salt hex) as its leaf holds it; -1 when
 * the salt is malformed. bevis evidence uses it too. */
struct ledger_decision;
int row_decision(const PGresult *dr, int j, struct ledger_decision *row);
/* The first field in which a decoded leaf and a row differ, or NULL. */
const char *decision_difference(const struct ledger_decision *k,
    const struct ledger_decision *row);
/* cli/verify_rules.c */
int verify_rules(struct verify *v);

#endif
