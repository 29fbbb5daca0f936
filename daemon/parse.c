/* parse.c - looks parsers up in PARSER_TABLE (parse.h). */
#include "parse.h"

#include <pthread.h>
#include <stdio.h>

#define PARSER_ENTRY(p) &p,
static const struct parser *const parsers[] = { PARSER_TABLE(PARSER_ENTRY) };
#undef PARSER_ENTRY
#define NPARSERS (sizeof(parsers) / sizeof(parsers[0]))

const struct parser *
parser_for(enum content_type ct)
{
	for (size_t i = 0; i < NPARSERS; i++)
		if (parsers[i]->ct == ct && ct != CT_UNKNOWN && parsers[i]->split)
			return parsers[i];
	return NULL;
}

const struct parser *
parser_for_report(enum content_type ct)
{
	for (size_t i = 0; i < NPARSERS; i++)
		if (parsers[i]->ct == ct && parsers[i]->report)
			return parsers[i];
	return NULL;
}

static char ct_list[512];
static pthread_once_t ct_once = PTHREAD_ONCE_INIT;

static void
ct_list_build(void)
{
	size_t len = 0, n = 0, k = 0;

	for (size_t i = 0; i < NPARSERS; i++)
		n += parsers[i]->split != NULL;
	for (size_t i = 0; i < NPARSERS && len < sizeof(ct_list); i++) {
		if (!parsers[i]->split)
			continue;	/* a report format */
		len += (size_t)snprintf(ct_list + len, sizeof(ct_list) - len,
		    "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ",
		    proto_content_type_name(parsers[i]->ct));
		k++;
	}
}

const char *
parser_content_types(void)
{
	pthread_once(&ct_once, ct_list_build);
	return ct_list;
}

void
parsers_thread_done(void)
{
	for (size_t i = 0; i < NPARSERS; i++)
		if (parsers[i]->thread_done)
			parsers[i]->thread_done();
}
