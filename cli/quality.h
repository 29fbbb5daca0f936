/* quality.h - what bevis quality (cmd_quality.c) shares with bevis
 * review (cmd_review.c): the query of every column of bevis_quality()
 * (sql/0017_quality.sql) and its columns, so that quality-Y.csv of the
 * review has the columns of bevis quality --csv. */
#ifndef BEVIS_CLI_QUALITY_H
#define BEVIS_CLI_QUALITY_H

#include <stddef.h>

#include "buf.h"
#include "output.h"

/* Appends the query to sql, its times as JSON wants them or local.
 * $1 supplier, $2 from, $3 to (YYYY-MM), $4 due days, $5 weights. */
void quality_all_query(struct buf *sql, int json);
extern const struct out_col quality_all_cols[];
extern const size_t quality_all_ncols;

#endif
