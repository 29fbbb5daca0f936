/* jsonmap.c - the json_maps file and JSON Pointers (jsonmap.h). The file is
 * read line by line here rather than by inih, so that every reason names
 * the line it is about, including those found only at the end (a map
 * without 'time', a supplier naming a map that is not there). */
#include "jsonmap.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "xmalloc.h"

static const char *const field_names[JM_NFIELDS] = {
	[JM_ID] = "id", [JM_TIME] = "time", [JM_SEVERITY] = "severity",
	[JM_CATEGORY] = "category", [JM_ACTION] = "action",
	[JM_OUTCOME] = "outcome", [JM_ACTOR_USER] = "actor.user",
	[JM_TARGET] = "target", [JM_MESSAGE] = "message", [JM_SRC_IP] = "src.ip",
};

const char *
jsonmap_field_name(enum jsonmap_field f)
{
	return f < JM_NFIELDS ? field_names[f] : NULL;
}

void
jsonptr_free(struct jsonptr *p)
{
	for (size_t i = 0; i < p->ntokens; i++)
		free(p->tokens[i]);
	free(p->tokens);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

int
jsonptr_parse(const char *text, struct jsonptr *p, char *why, size_t whylen)
{
	memset(p, 0, sizeof(*p));
	if (text[0] != '/') {
		snprintf(why, whylen, "'%s' is not a JSON Pointer: it must start "
		    "with '/'", text);
		return -1;
	}
	for (const char *s = text; *s; s++) {
		if (*s == '~' && s[1] != '0' && s[1] != '1') {
			snprintf(why, whylen, "'%s' is not a JSON Pointer: '~' at "
			    "character %zu must be followed by 0 or 1", text,
			    (size_t)(s - text) + 1);
			return -1;
		}
	}
	p->text = xstrdup(text);
	for (const char *s = text; *s == '/';) {
		const char *end = strchr(s + 1, '/');
		size_t n = end ? (size_t)(end - s - 1) : strlen(s + 1);
		char *tok = xmalloc(n + 1), *o = tok;

		for (size_t i = 0; i < n; i++) {
			if (s[1 + i] == '~') {
				*o++ = s[2 + i] == '1' ? '/' : '~';
				i++;
			} else {
				*o++ = s[1 + i];
			}
		}
		*o = '\0';
		p->tokens = xrealloc(p->tokens, (p->ntokens + 1) * sizeof(char *));
		p->tokens[p->ntokens++] = tok;
		s += 1 + n;
	}
	return 0;
}

/* An array index as RFC 6901 writes it: "0" or digits without a leading
 * zero. Returns -1 for anything else ("-" names no element here). */
static long
array_index(const char *t)
{
	long v = 0;

	if (t[0] == '\0' || (t[0] == '0' && t[1] != '\0'))
		return -1;
	for (; *t; t++) {
		if (!isdigit((unsigned char)*t) || v > 100000000)
			return -1;
		v = v * 10 + (*t - '0');
	}
	return v;
}

struct json_object *
jsonptr_get(const struct jsonptr *p, struct json_object *root,
    struct json_object **parent)
{
	struct json_object *v = root;

	*parent = NULL;
	for (size_t i = 0; i < p->ntokens && v != NULL; i++) {
		struct json_object *next = NULL;

		if (json_object_is_type(v, json_type_object)) {
			if (!json_object_object_get_ex(v, p->tokens[i], &next))
				return NULL;
			*parent = v;
		} else if (json_object_is_type(v, json_type_array)) {
			long k = array_index(p->tokens[i]);
			if (k < 0 || (size_t)k >= json_object_array_length(v))
				return NULL;
			next = json_object_array_get_idx(v, (size_t)k);
			*parent = NULL;
		} else {
			return NULL;
		}
		v = next;
	}
	return v;
}

/* ---- the file ---- */

struct load {
	const char *path;
	int line;
	struct jsonmaps *m;
	struct jsonmap *cur;		/* the [map NAME] being read */
	int in_suppliers;
	int *sup_lines;			/* the line of each supplier */
	char **sup_maps;		/* the map name each supplier gave */
	char *err;
	size_t errlen;
};

#define LOAD_FAIL(ld, ...) do {						\
	char why_[400];							\
	snprintf(why_, sizeof(why_), __VA_ARGS__);			\
	snprintf((ld)->err, (ld)->errlen, "%s:%d: %s", (ld)->path,	\
	    (ld)->line, why_);						\
	return -1;							\
} while (0)

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return 1;
}

static int
load_section(struct load *ld, char *name)
{
	ld->cur = NULL;
	ld->in_suppliers = 0;
	if (strcmp(name, "suppliers") == 0) {
		ld->in_suppliers = 1;
		return 0;
	}
	if (strncmp(name, "map", 3) != 0 || !isspace((unsigned char)name[3]))
		LOAD_FAIL(ld, "unknown section [%s]; expected [suppliers] or "
		    "[map NAME]", name);
	name = trim(name + 3);
	if (!name_ok(name))
		LOAD_FAIL(ld, "map name '%s' must be letters, digits, '-', '_' "
		    "or '.'", name);
	for (size_t i = 0; i < ld->m->n; i++)
		if (strcmp(ld->m->maps[i].name, name) == 0)
			LOAD_FAIL(ld, "[map %s] is defined twice (first at line "
			    "%d)", name, ld->m->maps[i].line);
	ld->m->maps = xrealloc(ld->m->maps, (ld->m->n + 1) *
	    sizeof(*ld->m->maps));
	ld->cur = &ld->m->maps[ld->m->n++];
	memset(ld->cur, 0, sizeof(*ld->cur));
	ld->cur->name = xstrdup(name);
	ld->cur->line = ld->line;
	return 0;
}

/* severity_values = RAW=SEVERITY, ...: SEVERITY is 0..6 or a name. */
static int
load_severities(struct load *ld, const char *value)
{
	struct jsonmap *mp = ld->cur;
	char *copy, *save = NULL, why[300] = "";

	if (mp->nsev)
		LOAD_FAIL(ld, "severity_values is given twice in [map %s]",
		    mp->name);
	copy = xstrdup(value);
	for (char *e = strtok_r(copy, ",", &save); e && !why[0];
	    e = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(e, '='), *raw, *sev;
		int s;

		if (eq == NULL) {
			snprintf(why, sizeof(why), "severity_values: '%s' is not "
			    "RAW=SEVERITY", trim(e));
			break;
		}
		*eq = '\0';
		raw = trim(e);
		sev = trim(eq + 1);
		if (sev[0] >= '0' && sev[0] <= '6' && sev[1] == '\0')
			s = sev[0] - '0';
		else
			s = severity_from_name(sev, strlen(sev));
		if (raw[0] == '\0' || s < 0) {
			snprintf(why, sizeof(why), "severity_values: '%s' is not "
			    "0..6 or one of unknown, informational, low, medium, "
			    "high, critical, fatal", raw[0] ? sev : "");
			break;
		}
		mp->sev = xrealloc(mp->sev, (mp->nsev + 1) * sizeof(*mp->sev));
		mp->sev[mp->nsev].raw = xstrdup(raw);
		mp->sev[mp->nsev++].severity = s;
	}
	free(copy);
	if (why[0])
		LOAD_FAIL(ld, "%s", why);
	if (mp->nsev == 0)
		LOAD_FAIL(ld, "severity_values is empty");
	return 0;
}

static int
load_option(struct load *ld, char *key, char *value)
{
	char why[300];

	if (ld->in_suppliers) {
		struct jsonmaps *m = ld->m;
		if (!name_ok(value))
			LOAD_FAIL(ld, "supplier '%s': map name '%s' must be "
			    "letters, digits, '-', '_' or '.'", key, value);
		for (size_t i = 0; i < m->nsup; i++)
			if (strcmp(m->suppliers[i], key) == 0)
				LOAD_FAIL(ld, "supplier '%s' is given a map twice "
				    "(first at line %d)", key, ld->sup_lines[i]);
		m->suppliers = xrealloc(m->suppliers, (m->nsup + 1) *
		    sizeof(char *));
		m->supplier_map = xrealloc(m->supplier_map, (m->nsup + 1) *
		    sizeof(size_t));
		ld->sup_lines = xrealloc(ld->sup_lines, (m->nsup + 1) *
		    sizeof(int));
		ld->sup_maps = xrealloc(ld->sup_maps, (m->nsup + 1) *
		    sizeof(char *));
		m->suppliers[m->nsup] = xstrdup(key);
		m->supplier_map[m->nsup] = 0;
		ld->sup_lines[m->nsup] = ld->line;
		ld->sup_maps[m->nsup++] = xstrdup(value);
		return 0;
	}
	if (ld->cur == NULL)
		LOAD_FAIL(ld, "'%s' is outside a section; put it under [map NAME] "
		    "or [suppliers]", key);
	if (strcmp(key, "severity_values") == 0)
		return load_severities(ld, value);
	for (int f = 0; f < JM_NFIELDS; f++) {
		if (strcmp(key, field_names[f]) != 0)
			continue;
		if (ld->cur->ptr[f].text)
			LOAD_FAIL(ld, "field '%s' is mapped twice in [map %s]",
			    key, ld->cur->name);
		if (jsonptr_parse(value, &ld->cur->ptr[f], why, sizeof(why)) < 0)
			LOAD_FAIL(ld, "field '%s': %s", key, why);
		return 0;
	}
	LOAD_FAIL(ld, "unknown field '%s' in [map %s]; a map sets id, time, "
	    "severity, category, action, outcome, actor.user, target, "
	    "message, src.ip and severity_values", key, ld->cur->name);
}

static int
load_line(struct load *ld, char *s)
{
	char *eq;

	s = trim(s);
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);
		if (s[n - 1] != ']')
			LOAD_FAIL(ld, "a section header must end with ']'");
		s[n - 1] = '\0';
		return load_section(ld, trim(s + 1));
	}
	if ((eq = strchr(s, '=')) == NULL)
		LOAD_FAIL(ld, "expected [section], NAME = VALUE or a comment");
	*eq = '\0';
	char *key = trim(s), *value = trim(eq + 1);
	if (*key == '\0' || *value == '\0')
		LOAD_FAIL(ld, "expected NAME = VALUE, both not empty");
	return load_option(ld, key, value);
}

/* What only the whole file shows: each map reads a time, each supplier's
 * map is there. */
static int
load_finish(struct load *ld)
{
	struct jsonmaps *m = ld->m;

	for (size_t i = 0; i < m->n; i++) {
		if (m->maps[i].ptr[JM_TIME].text == NULL) {
			ld->line = m->maps[i].line;
			LOAD_FAIL(ld, "[map %s] has no 'time': every event needs "
			    "one", m->maps[i].name);
		}
	}
	for (size_t k = 0; k < m->nsup; k++) {
		size_t i;
		for (i = 0; i < m->n; i++)
			if (strcmp(m->maps[i].name, ld->sup_maps[k]) == 0)
				break;
		if (i == m->n) {
			ld->line = ld->sup_lines[k];
			LOAD_FAIL(ld, "supplier '%s': there is no [map %s] in "
			    "this file", m->suppliers[k], ld->sup_maps[k]);
		}
		m->supplier_map[k] = i;
	}
	return 0;
}

int
jsonmaps_load(const char *path, struct jsonmaps *out, char *err, size_t errlen)
{
	struct load ld = { .path = path, .m = out, .err = err, .errlen = errlen };
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	ssize_t n;
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		ld.line++;
		if (strlen(line) != (size_t)n) {
			snprintf(err, errlen, "%s:%d: the line holds a NUL byte",
			    path, ld.line);
			rc = -1;
			break;
		}
		rc = load_line(&ld, line);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s:%d: cannot read: %s", path, ld.line,
		    strerror(errno));
		rc = -1;
	}
	fclose(f);
	free(line);
	if (rc == 0)
		rc = load_finish(&ld);
	for (size_t k = 0; k < out->nsup; k++)
		free(ld.sup_maps[k]);
	free(ld.sup_maps);
	free(ld.sup_lines);
	if (rc < 0)
		jsonmaps_free(out);
	return rc;
}

void
jsonmaps_free(struct jsonmaps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct jsonmap *mp = &m->maps[i];
		for (int f = 0; f < JM_NFIELDS; f++)
			jsonptr_free(&mp->ptr[f]);
		for (size_t k = 0; k < mp->nsev; k++)
			free(mp->sev[k].raw);
		free(mp->sev);
		free(mp->name);
	}
	free(m->maps);
	for (size_t k = 0; k < m->nsup; k++)
		free(m->suppliers[k]);
	free(m->suppliers);
	free(m->supplier_map);
	memset(m, 0, sizeof(*m));
}

const struct jsonmap *
jsonmaps_for(const struct jsonmaps *m, const char *supplier)
{
	if (m == NULL)
		return NULL;
	for (size_t k = 0; k < m->nsup; k++)
		if (strcmp(m->suppliers[k], supplier) == 0)
			return &m->maps[m->supplier_map[k]];
	return NULL;
}

static const struct jsonmaps *installed;

void
jsonmaps_install(const struct jsonmaps *m)
{
	installed = m;
}

const struct jsonmaps *
jsonmaps_installed(void)
{
	return installed;
}
