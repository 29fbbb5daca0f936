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
	/* submissions whose redaction is recorded, sorted */
	int64_t *redacted;
	size_t nredacted;
};

void verify_problem(struct verify *v, const char *fmt, ...) PRINTF_LIKE(2, 3);
int verify_content(struct verify *v);

#endif
