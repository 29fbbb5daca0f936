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
	/* submissions whose redaction is recorded, sorted */
	int64_t *redacted;
	size_t nredacted;
};

void verify_problem(struct verify *v, const char *fmt, ...) PRINTF_LIKE(2, 3);
int verify_content(struct verify *v);
/* cli/verify_incidents.c */
int verify_incidents(struct verify *v);
/* cli/verify_rules.c */
int verify_rules(struct verify *v);

#endif
