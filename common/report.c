/* report.c - report metadata and entry fields (report.h). */
#include "report.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"
#include "xmalloc.h"

static const struct {
	const char *name;
	enum report_field_type type;
} fields[RF_COUNT] = {
	[RF_ID] = { "id", RFT_TEXT },
	[RF_OCCURRED_AT] = { "occurred_at", RFT_TIME },
	[RF_DETECTED_AT] = { "detected_at", RFT_TIME },
	[RF_REPORTED_AT] = { "reported_at", RFT_TIME },
	[RF_TITLE] = { "title", RFT_TEXT },
	[RF_DESCRIPTION] = { "description", RFT_TEXT },
	[RF_SYSTEM] = { "system", RFT_TEXT },
	[RF_UNIT] = { "unit", RFT_TEXT },
	[RF_CATEGORY] = { "category", RFT_TEXT },
	[RF_CIA_IMPACT] = { "cia_impact", RFT_TEXT },
	[RF_SEVERITY] = { "severity", RFT_TEXT },
	[RF_PERSONAL_DATA] = { "personal_data", RFT_YESNO },
	[RF_PROTECTED_IDENTITY] = { "protected_identity", RFT_YESNO },
	[RF_VERDICT] = { "verdict", RFT_TEXT },
	[RF_STATUS] = { "status", RFT_TEXT },
	[RF_ACTIONS] = { "actions", RFT_TEXT },
	[RF_LOG_REF] = { "log_ref", RFT_TEXT },
};

const char *
report_field_name(enum report_field f)
{
	return (unsigned)f < RF_COUNT ? fields[f].name : "?";
}

enum report_field_type
report_field_type(enum report_field f)
{
	return (unsigned)f < RF_COUNT ? fields[f].type : RFT_TEXT;
}

int
report_field_by_name(const char *name)
{
	if (strcmp(name, "school") == 0)
		return RF_UNIT;
	for (int f = 0; f < RF_COUNT; f++)
		if (strcmp(fields[f].name, name) == 0)
			return f;
	return -1;
}

const struct report_map *
report_map_find(const struct report_map *maps, size_t nmaps, const char *source)
{
	for (size_t i = 0; i < nmaps; i++)
		if (strcmp(maps[i].source, source) == 0)
			return &maps[i];
	return NULL;
}

static char *
trimmed_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

int
report_map_add(struct report_map **maps, size_t *nmaps, const char *source,
    const char *name, const char *value, char *reason, size_t rlen)
{
	int f = report_field_by_name(name);
	struct report_map *m;

	if (f < 0) {
		snprintf(reason, rlen, "[report_map %s]: '%s' is not a report "
		    "entry field (id, occurred_at, detected_at, reported_at, "
		    "title, description, system, unit, category, cia_impact, "
		    "severity, personal_data, protected_identity, verdict, "
		    "status, actions, log_ref)", source, name);
		return -1;
	}
	if (utf8_invalid_at((const unsigned char *)value, strlen(value)) !=
	    (size_t)-1) {
		snprintf(reason, rlen, "[report_map %s]: %s: the column names "
		    "must be UTF-8", source, name);
		return -1;
	}
	m = (struct report_map *)report_map_find(*maps, *nmaps, source);
	if (m == NULL) {
		*maps = xrealloc(*maps, (*nmaps + 1) * sizeof(**maps));
		m = &(*maps)[(*nmaps)++];
		memset(m, 0, sizeof(*m));
		m->source = xstrdup(source);
	}
	for (const char *p = value;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		char *col = trimmed_dup(p, n);

		if (col[0] == '\0') {
			free(col);
			snprintf(reason, rlen, "[report_map %s]: %s: an empty "
			    "column name", source, name);
			return -1;
		}
		m->cols = xrealloc(m->cols, (m->n + 1) * sizeof(*m->cols));
		m->cols[m->n].field = f;
		m->cols[m->n].column = col;
		m->n++;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	return 0;
}

struct report_map *
report_map_copy(const struct report_map *m)
{
	struct report_map *c = xcalloc(1, sizeof(*c));

	c->source = xstrdup(m->source);
	c->n = m->n;
	c->cols = xcalloc(m->n ? m->n : 1, sizeof(*c->cols));
	for (size_t i = 0; i < m->n; i++) {
		c->cols[i].field = m->cols[i].field;
		c->cols[i].column = xstrdup(m->cols[i].column);
	}
	return c;
}

void
report_map_free(struct report_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->cols[i].column);
	free(m->cols);
	free(m->source);
	m->cols = NULL;
	m->source = NULL;
	m->n = 0;
}

void
report_maps_free(struct report_map *maps, size_t nmaps)
{
	for (size_t i = 0; i < nmaps; i++)
		report_map_free(&maps[i]);
	free(maps);
}

int
report_period_valid(const char *s)
{
	if (strlen(s) != 7 || s[4] != '-')
		return 0;
	for (int i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)s[i]))
			return 0;
	int month = (s[5] - '0') * 10 + (s[6] - '0');
	return month >= 1 && month <= 12 && s[0] != '0';
}

/* ---- the content type and its parameters (RFC 9110 §8.3) ---- */

static int
is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
skip_ows(const char *s, size_t len, size_t *p)
{
	while (*p < len && (s[*p] == ' ' || s[*p] == '\t'))
		(*p)++;
}

/* Reads a token or a quoted-string (UTF-8 allowed inside the quotes) at
 * *p into out. Returns -1 when there is neither. */
static int
read_value(const char *s, size_t len, size_t *p, char **out)
{
	size_t start = *p;

	if (*p < len && s[*p] == '"') {
		char *v = xmalloc(len - *p + 1);
		size_t n = 0;

		for ((*p)++; *p < len; (*p)++) {
			unsigned char c = (unsigned char)s[*p];
			if (c == '"') {
				(*p)++;
				v[n] = '\0';
				*out = v;
				return 0;
			}
			if (c == '\\') {
				if (++(*p) == len)
					break;
				c = (unsigned char)s[*p];
			}
			if (c < 0x20 || c == 0x7f)
				break;
			v[n++] = (char)c;
		}
		free(v);
		return -1;
	}
	while (*p < len && is_tchar((unsigned char)s[*p]))
		(*p)++;
	if (*p == start)
		return -1;
	*out = xstrndup(s + start, *p - start);
	return 0;
}

static int
text_param(char **dst, const char *name, char *v, size_t max, char *err,
    size_t errlen)
{
	size_t n = strlen(v);
	const char *p = v, *q = v + n;

	while (p < q && isspace((unsigned char)*p))
		p++;
	if (p == q) {
		snprintf(err, errlen, "the %s must not be empty", name);
		return -1;
	}
	if (utf8_invalid_at((const unsigned char *)v, n) != (size_t)-1) {
		snprintf(err, errlen, "the %s must be UTF-8", name);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(err, errlen, "the %s holds a control character",
			    name);
			return -1;
		}
	size_t chars = 0;
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)v[i] & 0xc0) != 0x80;
	if (chars > max) {
		snprintf(err, errlen, "the %s has %zu characters; at most %zu",
		    name, chars, max);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

int
report_meta_parse(const char *s, size_t len, struct report_meta *m, char *err,
    size_t errlen)
{
	size_t p = 0, semi;
	int seen_charset = 0;

	memset(m, 0, sizeof(*m));
	for (semi = 0; semi < len && s[semi] != ';'; semi++)
		;
	size_t tlen = semi;
	while (tlen && (s[tlen - 1] == ' ' || s[tlen - 1] == '\t'))
		tlen--;
	m->ct = proto_content_type(s, tlen);
	if (m->ct != CT_CSV && m->ct != CT_JSON) {
		snprintf(err, errlen, "a report's content type must be "
		    PROTO_CT_CSV " or " PROTO_CT_JSON ", with the parameters "
		    "kind, period, title and author");
		return -1;
	}
	p = semi;
	while (p < len) {
		char name[32], *v = NULL;
		size_t ns;

		p++;	/* the ';' */
		skip_ows(s, len, &p);
		ns = p;
		while (p < len && is_tchar((unsigned char)s[p]))
			p++;
		if (p == ns || p - ns >= sizeof(name) || p >= len || s[p] != '=') {
			snprintf(err, errlen, "malformed content-type parameter "
			    "at byte %zu: expected name=value", ns);
			return -1;
		}
		memcpy(name, s + ns, p - ns);
		name[p - ns] = '\0';
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		p++;
		if (read_value(s, len, &p, &v) < 0) {
			snprintf(err, errlen, "content-type parameter %s: expected "
			    "a token or a quoted string", name);
			return -1;
		}
		skip_ows(s, len, &p);
		if (p < len && s[p] != ';') {
			free(v);
			snprintf(err, errlen, "content-type parameter %s: "
			    "unexpected text after its value", name);
			return -1;
		}
		int rc = 0;
		if (strcmp(name, "kind") == 0) {
			if (strcmp(v, "servicedesk") != 0 && strcmp(v, "supplier") != 0) {
				snprintf(err, errlen, "unknown report kind '%.40s': "
				    "the kind is servicedesk or supplier", v);
				rc = -1;
			} else {
				snprintf(m->kind, sizeof(m->kind), "%s", v);
			}
		} else if (strcmp(name, "period") == 0) {
			if (!report_period_valid(v)) {
				snprintf(err, errlen, "malformed period '%.40s': the "
				    "period is a month, YYYY-MM (for example 2026-10)",
				    v);
				rc = -1;
			} else {
				snprintf(m->period, sizeof(m->period), "%s", v);
			}
		} else if (strcmp(name, "title") == 0) {
			rc = text_param(&m->title, "title", v, REPORT_TITLE_MAX,
			    err, errlen);
		} else if (strcmp(name, "author") == 0) {
			rc = text_param(&m->author, "author", v, REPORT_AUTHOR_MAX,
			    err, errlen);
		} else if (strcmp(name, "charset") == 0) {
			seen_charset = 1;
			if (strcasecmp(v, "utf-8") == 0 || strcasecmp(v, "utf8") == 0)
				m->charset = RCS_UTF8;
			else if (strcasecmp(v, "windows-1252") == 0 ||
			    strcasecmp(v, "cp1252") == 0)
				m->charset = RCS_WINDOWS_1252;
			else {
				snprintf(err, errlen, "unsupported charset '%.40s': "
				    "utf-8 or windows-1252", v);
				rc = -1;
			}
		} else if (strcmp(name, "separator") == 0) {
			if (strcmp(v, ";") == 0 || strcmp(v, ",") == 0) {
				m->separator = v[0];
			} else {
				snprintf(err, errlen, "unsupported separator '%.10s': "
				    "\";\" or \",\"", v);
				rc = -1;
			}
		} else {
			snprintf(err, errlen, "unknown content-type parameter '%s' "
			    "(kind, period, title, author, charset, separator)",
			    name);
			rc = -1;
		}
		free(v);
		if (rc < 0)
			return -1;
	}
	if (m->ct == CT_JSON && (m->charset != RCS_UTF8 || m->separator)) {
		snprintf(err, errlen, "a JSON report is UTF-8 and has no "
		    "separator");
		return -1;
	}
	(void)seen_charset;
	const char *missing = !m->kind[0] ? "kind" : !m->period[0] ? "period" :
	    !m->title ? "title" : !m->author ? "author" : NULL;
	if (missing) {
		snprintf(err, errlen, "the report's %s is missing: give it as a "
		    "content-type parameter (%s=...)", missing, missing);
		return -1;
	}
	return 0;
}

void
report_meta_free(struct report_meta *m)
{
	free(m->title);
	free(m->author);
	m->title = m->author = NULL;
	if (m->map) {
		report_map_free(m->map);
		free(m->map);
		m->map = NULL;
	}
}
