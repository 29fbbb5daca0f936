/* parse_json.c - the native JSON event (docs/PROTOCOL.md, "The native JSON
 * event") onto struct sec_event. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "event.h"
#include "parse.h"
#include "utf8.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static const char *
type_name(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* Takes an optional string field; null means absent. */
static int
take_string(const char *name, struct json_object *v, struct strview *out,
    char *err, size_t errlen)
{
	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		FAIL("field '%s' must be a string, got %s", name, type_name(v));
	out->p = json_object_get_string(v);
	out->n = (size_t)json_object_get_string_len(v);
	return 0;
}

static int
skip_digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return *i > start;
}

/* An RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
json_number_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i >= n || s[i] < '1' || s[i] > '9' || !skip_digits(s, n, &i))
		return 0;
	if (i < n && s[i] == '.' && (++i, !skip_digits(s, n, &i)))
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!skip_digits(s, n, &i))
			return 0;
	}
	return i == n;
}

/* Strings reach PostgreSQL text and jsonb, which refuse NUL and invalid
 * UTF-8 (json-c decodes \u0000 and lone surrogate escapes without
 * complaint), and non-finite numbers, which jsonb cannot hold. Without a
 * \u escape in the item, every string is a slice of the already validated
 * item, so only then are strings checked again (escapes != 0). */
static int
check_value(struct json_object *v, const char *key, char *err, size_t errlen,
    int depth, int escapes)
{
	switch (json_object_get_type(v)) {
	case json_type_string: {
		if (!escapes)
			return 0;
		const unsigned char *p = (const unsigned char *)json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		if (utf8_invalid_at(p, n) != (size_t)-1)
			FAIL("field '%s' holds a NUL or a lone surrogate "
			    "after unescaping", key);
		return 0;
	}
	case json_type_double: {
		size_t n;
		const char *t;

		if (!isfinite(json_object_get_double(v)))
			FAIL("field '%s' holds a number out of range", key);
		/* attrs keeps the number's text, which json-c takes in forms
		 * that jsonb refuses ("1.", "-.5", "00.5"). */
		t = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &n);
		if (!json_number_ok(t, n))
			FAIL("field '%s' holds a number that is not strict JSON: "
			    "'%.*s'", key, (int)(n < 40 ? n : 40), t);
		return 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++)
			if (check_value(json_object_array_get_idx(v, i), key,
			    err, errlen, depth + 1, escapes) < 0)
				return -1;
		return 0;
	}
	case json_type_object: {
		json_object_object_foreach(v, k, child) {
			if (escapes && utf8_invalid_at((const unsigned char *)k,
			    strlen(k)) != (size_t)-1)
				FAIL("a key inside '%s' holds a lone surrogate "
				    "after unescaping", key);
			if (child && check_value(child, depth ? key : k, err,
			    errlen, depth + 1, escapes) < 0)
				return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

static int
take_ip(const char *name, struct json_object *v, struct sec_event *ev, char *err,
    size_t errlen)
{
	struct strview s = { 0 };
	char tmp[64];

	if (take_string(name, v, &s, err, errlen) < 0)
		return -1;
	if (s.p == NULL)
		return 0;
	if (s.n >= sizeof(tmp))
		FAIL("field '%s' is not an IP address", name);
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = '\0';
	if (inet_pton(AF_INET, tmp, ev->src_ip) == 1)
		ev->src_family = 4;
	else if (inet_pton(AF_INET6, tmp, ev->src_ip) == 1)
		ev->src_family = 6;
	else
		FAIL("field '%s' is not an IP address: '%s'", name, tmp);
	return 0;
}

/* The parser's working memory, kept per thread so that items do not pay
 * for a tokener and an attrs buffer each. */
static _Thread_local struct json_tokener *tls_tok;
static _Thread_local struct buf tls_attrs;

void
event_parser_thread_done(void)
{
	if (tls_tok)
		json_tokener_free(tls_tok);
	tls_tok = NULL;
	buf_free(&tls_attrs);
}

/* Writes v as JSON. Strings were checked to be valid UTF-8 without NUL. */
static void
put_json_value(struct buf *b, struct json_object *v)
{
	size_t n;

	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_puts(b, "null");
		break;
	case json_type_boolean:
		buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int: {
		int64_t i = json_object_get_int64(v);
		if (i == INT64_MAX)	/* json-c keeps larger values unsigned */
			buf_printf(b, "%llu",
			    (unsigned long long)json_object_get_uint64(v));
		else
			buf_printf(b, "%lld", (long long)i);
		break;
	}
	case json_type_double: {
		const char *t = json_object_to_json_string_length(v,
		    JSON_C_TO_STRING_PLAIN, &n);
		buf_append(b, t, n);
		break;
	}
	case json_type_string:
		buf_put_json_string(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		n = json_object_array_length(v);
		buf_putc(b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(b, ',');
			put_json_value(b, json_object_array_get_idx(v, i));
		}
		buf_putc(b, ']');
		break;
	case json_type_object: {
		int first = 1;
		buf_putc(b, '{');
		json_object_object_foreach(v, k, child) {
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_put_json_string(b, k, strlen(k));
			buf_putc(b, ':');
			put_json_value(b, child);
		}
		buf_putc(b, '}');
		break;
	}
	}
}

/* Keeps an unmapped member in attrs; the text is opened with ',' and
 * parse_object turns the first one into '{'. */
static void
keep_attr(const char *key, struct json_object *v)
{
	buf_putc(&tls_attrs, ',');
	buf_put_json_string(&tls_attrs, key, strlen(key));
	buf_putc(&tls_attrs, ':');
	put_json_value(&tls_attrs, v);
}

/* "actor": {"user": ...} and "src": {"ip": ...}: takes the mapped member and
 * keeps the others in attrs under the same parent key. */
static int
take_nested(struct sec_event *ev, const char *parent, struct json_object *obj,
    char *err, size_t errlen)
{
	if (json_object_is_type(obj, json_type_null))
		return 0;
	if (!json_object_is_type(obj, json_type_object))
		FAIL("field '%s' must be an object, got %s", parent, type_name(obj));
	int opened = 0;
	json_object_object_foreach(obj, k, v) {
		if (strcmp(parent, "actor") == 0 && strcmp(k, "user") == 0) {
			if (take_string("actor.user", v, &ev->actor_user, err,
			    errlen) < 0)
				return -1;
		} else if (strcmp(parent, "src") == 0 && strcmp(k, "ip") == 0) {
			if (take_ip("src.ip", v, ev, err, errlen) < 0)
				return -1;
		} else {
			if (!opened) {
				buf_putc(&tls_attrs, ',');
				buf_put_json_string(&tls_attrs, parent, strlen(parent));
				buf_puts(&tls_attrs, ":{");
			} else {
				buf_putc(&tls_attrs, ',');
			}
			opened = 1;
			buf_put_json_string(&tls_attrs, k, strlen(k));
			buf_putc(&tls_attrs, ':');
			put_json_value(&tls_attrs, v);
		}
	}
	if (opened)
		buf_putc(&tls_attrs, '}');
	return 0;
}

static int
map_field(struct sec_event *ev, const char *k, struct json_object *v,
    struct json_object **id, struct json_object **time, char *err,
    size_t errlen)
{
	if (strcmp(k, "id") == 0)
		*id = v;
	else if (strcmp(k, "time") == 0)
		*time = v;
	else if (strcmp(k, "supplier") == 0)
		return take_string(k, v, &ev->supplier, err, errlen);
	else if (strcmp(k, "category") == 0)
		return take_string(k, v, &ev->category, err, errlen);
	else if (strcmp(k, "action") == 0)
		return take_string(k, v, &ev->action, err, errlen);
	else if (strcmp(k, "outcome") == 0)
		return take_string(k, v, &ev->outcome, err, errlen);
	else if (strcmp(k, "target") == 0)
		return take_string(k, v, &ev->target, err, errlen);
	else if (strcmp(k, "message") == 0)
		return take_string(k, v, &ev->message, err, errlen);
	else if (strcmp(k, "actor.user") == 0)
		return take_string(k, v, &ev->actor_user, err, errlen);
	else if (strcmp(k, "src.ip") == 0)
		return take_ip(k, v, ev, err, errlen);
	else if (strcmp(k, "actor") == 0 || strcmp(k, "src") == 0)
		return take_nested(ev, k, v, err, errlen);
	else if (strcmp(k, "severity") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (json_object_is_type(v, json_type_int)) {
			int64_t s = json_object_get_int64(v);
			if (s < 0 || s > 6)
				FAIL("field 'severity' must be 0..6 or a name, "
				    "got %lld", (long long)s);
			ev->severity = (int)s;
		} else if (json_object_is_type(v, json_type_string)) {
			ev->severity = severity_from_name(json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
			if (ev->severity < 0)
				FAIL("field 'severity' must be 0..6 or one of "
				    "unknown, informational, low, medium, high, "
				    "critical, fatal");
		} else
			FAIL("field 'severity' must be an integer or a string, "
			    "got %s", type_name(v));
	} else if (strcmp(k, "seq") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (!json_object_is_type(v, json_type_int))
			FAIL("field 'seq' must be an integer, got %s", type_name(v));
		int64_t s = json_object_get_int64(v);
		if (s < 0 || (s == INT64_MAX && json_object_get_uint64(v) != INT64_MAX))
			FAIL("field 'seq' must be 0..%lld", (long long)INT64_MAX);
		ev->has_seq = 1;
		ev->seq = s;
	} else if (strcmp(k, "personal_data") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (!json_object_is_type(v, json_type_boolean))
			FAIL("field 'personal_data' must be true or false, got %s",
			    type_name(v));
		ev->personal_data = json_object_get_boolean(v);
	} else
		keep_attr(k, v);
	return 0;
}

static int
parse_object(struct sec_event *ev, int escapes, char *err, size_t errlen)
{
	struct json_object *id = NULL, *time = NULL;
	char tbuf[64];

	if (!json_object_is_type(ev->root, json_type_object))
		FAIL("item must be a JSON object, got %s", type_name(ev->root));
	if (check_value(ev->root, "", err, errlen, 0, escapes) < 0)
		return -1;
	json_object_object_foreach(ev->root, k, v) {
		if (map_field(ev, k, v, &id, &time, err, errlen) < 0)
			return -1;
	}
	if (id == NULL || json_object_is_type(id, json_type_null))
		FAIL("missing required field 'id'");
	if (!json_object_is_type(id, json_type_string))
		FAIL("field 'id' must be a string, got %s", type_name(id));
	ev->id.p = json_object_get_string(id);
	ev->id.n = (size_t)json_object_get_string_len(id);
	if (ev->id.n == 0)
		FAIL("field 'id' must not be empty");
	if (ev->id.n > EVENT_ID_MAX)
		FAIL("field 'id' is longer than %d bytes", EVENT_ID_MAX);
	if (time == NULL || json_object_is_type(time, json_type_null))
		FAIL("missing required field 'time'");
	if (!json_object_is_type(time, json_type_string))
		FAIL("field 'time' must be an RFC 3339 string, got %s",
		    type_name(time));
	const char *ts = json_object_get_string(time);
	size_t tn = (size_t)json_object_get_string_len(time);
	/* Quote at most 40 bytes, cut on a character boundary: the reason is
	 * stored as text and must stay valid UTF-8. */
	size_t tq = tn < 40 ? tn : 40;
	while (tq > 0 && tq < tn && ((unsigned char)ts[tq] & 0xc0) == 0x80)
		tq--;
	snprintf(tbuf, sizeof(tbuf), "%.*s", (int)tq, ts);
	if (rfc3339_parse(ts, tn, &ev->occurred_us) < 0)
		FAIL("field 'time' is not an RFC 3339 date-time: '%s'", tbuf);
	if (ev->occurred_us < EVENT_TIME_MIN_US ||
	    ev->occurred_us >= EVENT_TIME_MAX_US)
		FAIL("field 'time' is out of range (1970-01-01T00:00:00Z up to "
		    "2100-01-01T00:00:00Z): '%s'", tbuf);
	if (tls_attrs.len) {
		tls_attrs.data[0] = '{';
		buf_putc(&tls_attrs, '}');
		ev->attrs.p = (const char *)tls_attrs.data;
		ev->attrs.n = tls_attrs.len;
	}
	return 0;
}

static int
has_u_escape(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *q;

	while ((q = memchr(p, '\\', (size_t)(end - p))) != NULL) {
		if (q + 1 < end && q[1] == 'u')
			return 1;
		p = q + 2;
		if (p >= end)
			break;
	}
	return 0;
}

int
event_parse_json(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	struct json_tokener *tok;
	size_t bad;

	memset(ev, 0, sizeof(*ev));
	ev->severity = -1;
	if (len == 0)
		FAIL("invalid JSON: empty item");
	if ((bad = utf8_invalid_at(item, len)) != (size_t)-1)
		FAIL("invalid UTF-8 at byte %zu of the item", bad);
	if (len > INT32_MAX)
		FAIL("item too large");
	if (tls_tok == NULL) {
		if ((tls_tok = json_tokener_new()) == NULL)
			FAIL("out of memory");
		json_tokener_set_flags(tls_tok, JSON_TOKENER_STRICT);
	} else {
		json_tokener_reset(tls_tok);
	}
	buf_reset(&tls_attrs);
	tok = tls_tok;
	ev->root = json_tokener_parse_ex(tok, (const char *)item, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number or literal ends only at a delimiter; the NUL
		 * (never in an item: see utf8_invalid_at) says the item is over. */
		ev->root = json_tokener_parse_ex(tok, "", 1);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			event_clear(ev);
			FAIL("invalid JSON: unexpected end of item");
		}
		jerr = json_tokener_success;
	}
	if (jerr != json_tokener_success) {
		event_clear(ev);
		FAIL("invalid JSON at byte %zu: %s", end,
		    json_tokener_error_desc(jerr));
	}
	if (ev->root == NULL)	/* the item is the literal null */
		FAIL("item must be a JSON object, got null");
	if (parse_object(ev, has_u_escape(item, len), err, errlen) < 0) {
		event_clear(ev);
		return -1;
	}
	return 0;
}

void
event_clear(struct sec_event *ev)
{
	json_object_put(ev->root);
	ev->root = NULL;
}

/* The native JSON event arrives as one object or an array of them
 * (application/json), or as one object per line (application/x-ndjson). */
const struct parser parser_json = {
	.name = "json",
	.label = "JSON",
	.ct = CT_JSON,
	.split = split_json,
	.parse = event_parse_json,
	.clear = event_clear,
	.thread_done = event_parser_thread_done,
};

const struct parser parser_ndjson = {
	.name = "ndjson",
	.label = "JSON",
	.ct = CT_NDJSON,
	.split = split_ndjson,
	.parse = event_parse_json,
	.clear = event_clear,
	.thread_done = event_parser_thread_done,
};
