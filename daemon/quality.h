/* quality.h - the bevis_quality_* gauges of /metrics: each supplier's log
 * quality this month (sql/0017_quality.sql, bevis_quality()). A thread of
 * its own, on a connection of its own, asks every quality_refresh seconds
 * and keeps the rendered text; a scrape on the event loop only copies it,
 * so a slow query never holds up the loop, the writers or the rules.
 * docs/STATS.md lists the gauges. */
#ifndef BEVIS_QUALITY_H
#define BEVIS_QUALITY_H

#include "buf.h"

struct config;
struct quality;

/* Starts the refresher on its own connection to cfg->db. The month is
 * that of cfg->timezone ([client] timezone, as bevis quality), the report
 * due days and weights are read from cfg now ([source NAME] and
 * [quality]); cfg is kept by the caller. */
struct quality *quality_start(const struct config *cfg);
/* Stops the thread (after the query under way) and frees q. */
void quality_stop(struct quality *q);
/* Appends the last refresh's gauges to b (Prometheus text format);
 * nothing before the first refresh succeeded. */
void quality_metrics(struct buf *b);
/* Appends s to b as a Prometheus label value: backslash, double quote and
 * line feed escaped. */
void quality_label_escape(struct buf *b, const char *s);

#endif
