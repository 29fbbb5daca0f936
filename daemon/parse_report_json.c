/* parse_report_json.c - the application/json report (docs/PROTOCOL.md,
 * "REPORT"): an object whose "entries" array holds one object per entry.
 * Each entry's byte range is found by split_json over the array, so an
 * entry points into the body as an event does, and each entry is parsed on
 * its own: a bad entry is quarantined, not the report. */
#include "parse.h"

#include <json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Leaves *p just past the string that starts at *p (a '"'). */
static void
skip_string(const unsigned char *b, size_t len, size_t *p)
{
	for ((*p)++; *p < len; (*p)++) {
		if (b[*p] == '\\')
			(*p)++;
		else if (b[*p] == '"') {
			(*p)++;
			return;
		}
	}
}

/* Leaves *p just past the value that starts at *p, in a body json-c has
 * found well-formed. */
static void
skip_value(const unsigned char *b, size_t len, size_t *p)
{
	size_t depth = 0;

	while (*p < len) {
		unsigned char c = b[*p];
		if (c == '"') {
			skip_string(b, len, p);
			if (depth == 0)
				return;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (depth == 0)
				return;
			if (--depth == 0) {
				(*p)++;
				return;
			}
		} else if (depth == 0 && (c == ',' || is_ws(c)))
			return;
		(*p)++;
	}
}

/* The byte range of the value of the top-level key "entries". */
static int
find_entries(const unsigned char *b, size_t len, size_t *start, size_t *end)
{
	size_t p = 0;

	while (p < len && is_ws(b[p]))
		p++;
	if (p == len || b[p] != '{')
		return -1;
	p++;
	for (;;) {
		while (p < len && (is_ws(b[p]) || b[p] == ','))
			p++;
		if (p == len || b[p] != '"')
			return -1;
		size_t k = p;
		skip_string(b, len, &p);
		int is_entries = p - k == 9 && memcmp(b + k, "\"entries\"", 9) == 0;
		while (p < len && (is_ws(b[p]) || b[p] == ':'))
			p++;
		size_t v = p;
		skip_value(b, len, &p);
		if (is_entries) {
			*start = v;
			*end = p;
			return 0;
		}
	}
}

static int
key_field(const struct report_map *map, const char *key)
{
	if (map == NULL)
		return report_field_by_name(key);
	for (size_t i = 0; i < map->n; i++)
		if (strcasecmp(map->cols[i].column, key) == 0)
			return map->cols[i].field;
	return -1;
}

static const char *
id_key(const struct report_map *map)
{
	for (size_t i = 0; map && i < map->n; i++)
		if (map->cols[i].field == RF_ID)
			return map->cols[i].column;
	return "id";
}

static void
take_entry(const struct report_meta *m, struct json_tokener *tok,
    const unsigned char *b, const struct item_span *sp, size_t line,
    size_t off, struct report_parsed *rp)
{
	struct report_where idw = { line, 0, id_key(m->map) };
	struct json_object *o;

	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, (const char *)b + sp->off, (int)sp->len);
	if (o == NULL || json_tokener_get_parse_end(tok) != sp->len) {
		report_entry_quarantine(rp, "line %zu: the entry is not valid "
		    "JSON: %s", line, o ? "trailing data" :
		    json_tokener_error_desc(json_tokener_get_error(tok)));
	} else if (!json_object_is_type(o, json_type_object)) {
		report_entry_quarantine(rp, "line %zu: an entry must be a JSON "
		    "object", line);
	} else {
		json_object_object_foreach(o, k, v) {
			int f = key_field(m->map, k);
			struct report_where w = { line, 0, k };
			enum json_type t = json_object_get_type(v);

			if (t == json_type_null)
				continue;
			if (f < 0) {
				const char *txt = json_object_to_json_string_ext(v,
				    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
				report_entry_attr(rp, k, strlen(k), txt, strlen(txt), 1);
			} else if (t == json_type_string) {
				report_entry_field(rp, f, json_object_get_string(v),
				    (size_t)json_object_get_string_len(v), &w);
			} else if (t == json_type_boolean &&
			    report_field_type(f) == RFT_YESNO) {
				report_entry_bool(rp, f, json_object_get_boolean(v));
			} else if ((t == json_type_int || t == json_type_double) &&
			    report_field_type(f) == RFT_TEXT) {
				const char *txt = json_object_to_json_string_ext(v,
				    JSON_C_TO_STRING_PLAIN);
				report_entry_field(rp, f, txt, strlen(txt), &w);
			} else {
				report_entry_quarantine(rp, "line %zu, field \"%s\": "
				    "a %s, not a %s", line, k,
				    report_field_type(f) == RFT_YESNO ? "yes/no value" :
				    report_field_type(f) == RFT_TIME ? "date string" :
				    "string", json_type_to_name(t));
				break;
			}
		}
	}
	(void)off;
	report_entry_end(rp, &idw);
	if (o)
		json_object_put(o);
}

void
report_parse_json(const struct report_meta *m, const unsigned char *body,
    size_t len, struct report_parsed *rp)
{
	struct json_tokener *tok;
	struct json_object *root;
	struct split sp;
	size_t start, end, at, line = 1;

	memset(&sp, 0, sizeof(sp));
	if ((at = utf8_invalid_at(body, len)) != (size_t)-1) {
		report_refuse(rp, "bad_charset", "byte %zu is not valid UTF-8",
		    at);
		goto out;
	}
	if ((tok = json_tokener_new()) == NULL)
		fatalx("json_tokener_new: out of memory");
	root = len <= (size_t)INT32_MAX ? json_tokener_parse_ex(tok,
	    (const char *)body, (int)len) : NULL;
	if (root == NULL || json_tokener_get_parse_end(tok) != len) {
		size_t e = json_tokener_get_parse_end(tok);
		while (root && e < len && is_ws(body[e]))
			e++;
		if (root == NULL || e != len) {
			report_refuse(rp, "bad_report", "the report is not valid JSON: "
			    "%s", root ? "trailing data" :
			    json_tokener_error_desc(json_tokener_get_error(tok)));
			json_object_put(root);
			json_tokener_free(tok);
			goto out;
		}
	}
	struct json_object *entries;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "entries", &entries) ||
	    !json_object_is_type(entries, json_type_array) ||
	    find_entries(body, len, &start, &end) < 0 || body[start] != '[') {
		report_refuse(rp, "bad_report", "a JSON report is an object with "
		    "an \"entries\" array");
		json_object_put(root);
		json_tokener_free(tok);
		goto out;
	}
	json_object_put(root);
	for (size_t i = 0; i < start; i++)
		line += body[i] == '\n';
	split_json(&sp, body + start, end - start);
	for (size_t k = 0; k < sp.n && !sp.error; k++) {
		struct item_span *s = &sp.items[k];
		size_t l = line + s->line - 1;

		if (report_entry_begin(rp, start + s->off, s->len, l) < 0)
			break;
		take_entry(m, tok, body + start, s, l, start, rp);
	}
	json_tokener_free(tok);
out:
	split_free(&sp);
	report_parsed_finish(rp);
}

const struct parser parser_report_json = {
	.name = "report-json",
	.label = "JSON report",
	.ct = CT_JSON,
	.report = report_parse_json,
};
