/* config_source.h - per-source sections of bevisd.conf, [source NAME]:
 * what is expected of one source (a supplier or the servicedesk), by name.
 * Today one option, report_due_day: the day of the month by which the
 * previous month's report is due (bevis deadlines lists the missing ones). */
#ifndef BEVIS_CONFIG_SOURCE_H
#define BEVIS_CONFIG_SOURCE_H

#include <stddef.h>

#include "buf.h"
#include "log.h"

struct config;

#define CONFIG_SOURCE_NAME_MAX 63	/* as supplier.name in sql/0001 */

struct config_source {
	char name[CONFIG_SOURCE_NAME_MAX + 1];
	long report_due_day;		/* 1..28; 0: no report expected */
};

/* Sets option name of section "source NAME" (section is what follows
 * "source "). Returns 0, or -1 with the reason in reason. */
int config_source_set(struct config *cfg, const char *section,
    const char *name, const char *value, char *reason, size_t rlen)
    MUSTCHECK;
/* The source called name, or NULL. */
const struct config_source *config_source_find(const struct config *cfg,
    const char *name);
/* Appends {"NAME": DAY, ...} for the sources with a report_due_day, the
 * argument of bevis_report_deadlines() (sql/0015_report_reading.sql). */
void config_source_due_json(const struct config *cfg, struct buf *b);
/* Frees cfg's sources (config_free calls it). */
void config_source_free(struct config *cfg);

#endif
