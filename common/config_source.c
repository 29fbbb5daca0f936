/* config_source.c - the [source NAME] sections of bevisd.conf. */
#include "config_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xmalloc.h"

/* A name as supplier.name allows it: ^[a-z0-9][a-z0-9._-]{0,62}$. */
static int
source_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_SOURCE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

static struct config_source *
source_get(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	cfg->sources = xrealloc(cfg->sources,
	    (cfg->nsources + 1) * sizeof(*cfg->sources));
	struct config_source *s = &cfg->sources[cfg->nsources++];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, strlen(name) + 1);
	return s;
}

int
config_source_set(struct config *cfg, const char *section, const char *name,
    const char *value, char *reason, size_t rlen)
{
	if (!source_name_ok(section)) {
		snprintf(reason, rlen, "[source %s]: a source name is 1 to 63 "
		    "of a-z, 0-9, '.', '_', '-', starting with a letter or digit, "
		    "as in bevis supplier add", section);
		return -1;
	}
	if (strcmp(name, "report_due_day") != 0) {
		snprintf(reason, rlen, "unknown option '%s' in section [source "
		    "%s] (known: report_due_day)", name, section);
		return -1;
	}
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	/* 28 at most: every month has that day. */
	if (end == value || *end || errno || v < 1 || v > 28) {
		snprintf(reason, rlen, "report_due_day: '%s' is not a day of "
		    "the month from 1 to 28", value);
		return -1;
	}
	source_get(cfg, section)->report_due_day = v;
	return 0;
}

const struct config_source *
config_source_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
}

void
config_source_due_json(const struct config *cfg, struct buf *b)
{
	int first = 1;

	buf_putc(b, '{');
	for (size_t i = 0; i < cfg->nsources; i++) {
		const struct config_source *s = &cfg->sources[i];
		if (s->report_due_day == 0)
			continue;
		if (!first)
			buf_putc(b, ',');
		first = 0;
		buf_put_json_string(b, s->name, strlen(s->name));
		buf_printf(b, ":%ld", s->report_due_day);
	}
	buf_putc(b, '}');
}

void
config_source_free(struct config *cfg)
{
	free(cfg->sources);
	cfg->sources = NULL;
	cfg->nsources = 0;
}
