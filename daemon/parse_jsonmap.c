/* parse_jsonmap.c - a supplier's product JSON (Suricata EVE, CloudTrail,
 * Kubernetes audit, ...) onto struct sec_event through the field map the
 * json_maps file gives that supplier (jsonmap.h, docs/FORMATS.md). The item
 * is read with the native parser's checks; what the map does not take stays
 * in attrs, and what is taken leniently is named in attrs.parse_warnings. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "hex.h"
#include "jsonmap.h"
#include "parse.h"
#include "sha256.h"
#include "utf8.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* Per thread, as in parse_json.c: what ev's strings point into. */
static _Thread_local struct buf tls_attrs, tls_warn;
static _Thread_local char tls_id[SHA256_LEN * 2 + 1];

struct mapped {
	const struct jsonmap *map;
	struct json_object *taken[JM_NFIELDS];	/* left out of attrs */
	size_t nwarn;
};

static void
warn(struct mapped *m, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
warn(struct mapped *m, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	buf_putc(&tls_warn, m->nwarn++ ? ',' : '[');
	buf_put_json_string(&tls_warn, text, utf8_cut(text, strlen(text),
	    sizeof(text)));
}

static const char *
type_name(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* The text of a string, or of a number or boolean as JSON writes it; NULL
 * for an object or array. Points into v. */
static const char *
value_text(struct json_object *v, size_t *n)
{
	const char *big;

	switch (json_object_get_type(v)) {
	case json_type_string:
		*n = (size_t)json_object_get_string_len(v);
		return json_object_get_string(v);
	case json_type_int:
		/* Outside 64 bits: the exact text parse_json.c kept. */
		if ((big = json_object_get_userdata(v)) != NULL) {
			*n = strlen(big);
			return big;
		}
		/* fall through */
	case json_type_double:
	case json_type_boolean: {
		const char *t = json_object_get_string(v);
		*n = strlen(t);
		return t;
	}
	default:
		return NULL;
	}
}

/* Looks field f up; NULL when the map does not name it or the item has
 * nothing (or null) there. */
static struct json_object *
lookup(const struct mapped *m, struct json_object *root, enum jsonmap_field f)
{
	struct json_object *parent;

	if (m->map->ptr[f].text == NULL)
		return NULL;
	return jsonptr_get(&m->map->ptr[f], root, &parent);
}

static void
take_text(struct mapped *m, struct json_object *root, enum jsonmap_field f,
    struct strview *out)
{
	struct json_object *v = lookup(m, root, f);
	size_t n;
	const char *t;

	if (v == NULL)
		return;
	if ((t = value_text(v, &n)) == NULL) {
		warn(m, "%s: %s holds an %s, left in attrs",
		    jsonmap_field_name(f), m->map->ptr[f].text, type_name(v));
		return;
	}
	out->p = t;
	out->n = n;
	m->taken[f] = v;
}

/* RFC 3339, or its ISO 8601 relatives that products write: an offset
 * without a colon (Suricata's "+0000"); or a number of seconds since the
 * epoch. */
static int
take_time(struct mapped *m, struct json_object *root, struct sec_event *ev,
    char *err, size_t errlen)
{
	struct json_object *v = lookup(m, root, JM_TIME);
	const char *ptr = m->map->ptr[JM_TIME].text;
	char fixed[72];

	if (v == NULL)
		FAIL("field map '%s': time %s names nothing in the item",
		    m->map->name, ptr);
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)) {
		double s = json_object_get_double(v);
		if (!(s >= 0 && s < (double)EVENT_TIME_MAX_US / 1e6))
			FAIL("field map '%s': time %s is out of range: %.0f "
			    "seconds", m->map->name, ptr, s);
		ev->occurred_us = (int64_t)(s * 1e6 + (s >= 0 ? 0.5 : -0.5));
	} else if (json_object_is_type(v, json_type_string)) {
		const char *t = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		size_t q = utf8_cut(t, n, 40);
		if (rfc3339_parse(t, n, &ev->occurred_us) < 0) {
			/* ...+hhmm: put the colon in and try again. */
			if (n < 5 || n + 2 > sizeof(fixed) ||
			    (t[n - 5] != '+' && t[n - 5] != '-')) {
				FAIL("field map '%s': time %s is not an RFC 3339 "
				    "date-time: '%.*s'", m->map->name, ptr,
				    (int)q, t);
			}
			memcpy(fixed, t, n - 2);
			fixed[n - 2] = ':';
			memcpy(fixed + n - 1, t + n - 2, 2);
			if (rfc3339_parse(fixed, n + 1, &ev->occurred_us) < 0)
				FAIL("field map '%s': time %s is not an RFC 3339 "
				    "date-time: '%.*s'", m->map->name, ptr,
				    (int)q, t);
		}
	} else {
		FAIL("field map '%s': time %s must be a string or a number, got "
		    "%s", m->map->name, ptr, type_name(v));
	}
	if (ev->occurred_us < EVENT_TIME_MIN_US ||
	    ev->occurred_us >= EVENT_TIME_MAX_US)
		FAIL("field map '%s': time %s is out of range (1970-01-01T00:00:00Z "
		    "up to 2100-01-01T00:00:00Z)", m->map->name, ptr);
	m->taken[JM_TIME] = v;
	return 0;
}

/* The product's id, or the SHA-256 of the item when it has none, so that a
 * resend is a duplicate. */
static int
take_id(struct mapped *m, struct json_object *root, const unsigned char *item,
    size_t len, struct sec_event *ev, char *err, size_t errlen)
{
	struct json_object *v = lookup(m, root, JM_ID);
	const char *ptr = m->map->ptr[JM_ID].text;
	unsigned char sha[SHA256_LEN];

	if (v != NULL) {
		if (!json_object_is_type(v, json_type_string) &&
		    !json_object_is_type(v, json_type_int))
			FAIL("field map '%s': id %s must be a string or an "
			    "integer, got %s", m->map->name, ptr, type_name(v));
		ev->id.p = value_text(v, &ev->id.n);
		if (ev->id.n == 0)
			FAIL("field map '%s': id %s is empty", m->map->name, ptr);
		if (ev->id.n > EVENT_ID_MAX)
			FAIL("field map '%s': id %s is longer than %d bytes",
			    m->map->name, ptr, EVENT_ID_MAX);
		m->taken[JM_ID] = v;
		return 0;
	}
	if (ptr)
		warn(m, "id: %s names nothing; the id is the SHA-256 of the "
		    "item", ptr);
	sha256(item, len, sha);
	hex_encode(sha, SHA256_LEN, tls_id);
	ev->id.p = tls_id;
	ev->id.n = SHA256_LEN * 2;
	return 0;
}

static void
take_severity(struct mapped *m, struct json_object *root, struct sec_event *ev)
{
	struct json_object *v = lookup(m, root, JM_SEVERITY);
	const char *ptr = m->map->ptr[JM_SEVERITY].text, *t;
	size_t n;

	if (v == NULL)
		return;
	if ((t = value_text(v, &n)) == NULL) {
		warn(m, "severity: %s holds an %s, left in attrs", ptr,
		    type_name(v));
		return;
	}
	if (m->map->nsev) {
		for (size_t i = 0; i < m->map->nsev; i++) {
			if (strlen(m->map->sev[i].raw) == n &&
			    memcmp(m->map->sev[i].raw, t, n) == 0) {
				ev->severity = m->map->sev[i].severity;
				m->taken[JM_SEVERITY] = v;
				return;
			}
		}
	} else if (json_object_is_type(v, json_type_int)) {
		int64_t s = json_object_get_int64(v);
		if (s >= 0 && s <= 6) {
			ev->severity = (int)s;
			m->taken[JM_SEVERITY] = v;
			return;
		}
	} else if (json_object_is_type(v, json_type_string) &&
	    (ev->severity = severity_from_name(t, n)) >= 0) {
		m->taken[JM_SEVERITY] = v;
		return;
	}
	ev->severity = -1;
	warn(m, "severity: %s holds '%.*s', which the map does not know; left "
	    "in attrs", ptr, (int)utf8_cut(t, n, 40), t);
}

static void
take_ip(struct mapped *m, struct json_object *root, struct sec_event *ev)
{
	struct json_object *v = lookup(m, root, JM_SRC_IP);
	char tmp[64];

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) < sizeof(tmp)) {
		memcpy(tmp, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v) + 1);
		if (inet_pton(AF_INET, tmp, ev->src_ip) == 1)
			ev->src_family = 4;
		else if (inet_pton(AF_INET6, tmp, ev->src_ip) == 1)
			ev->src_family = 6;
	}
	if (ev->src_family) {
		m->taken[JM_SRC_IP] = v;
		return;
	}
	/* CloudTrail writes a service's name here ("AWS Internal"). */
	memset(ev->src_ip, 0, sizeof(ev->src_ip));
	warn(m, "src.ip: %s is not an IP address; left in attrs",
	    m->map->ptr[JM_SRC_IP].text);
}

static int
is_taken(const struct mapped *m, struct json_object *v)
{
	if (v == NULL)
		return 0;
	for (int f = 0; f < JM_NFIELDS; f++)
		if (m->taken[f] == v)
			return 1;
	return 0;
}

/* Writes the members of obj that the map did not take; an object emptied
 * by that is left out, one empty in the item stays. Returns the members
 * written. */
static size_t
put_rest(struct buf *b, const struct mapped *m, struct json_object *obj)
{
	size_t written = 0;

	json_object_object_foreach(obj, k, v) {
		if (is_taken(m, v))
			continue;
		size_t mark = b->len;
		buf_putc(b, written ? ',' : '{');
		buf_put_json_string(b, k, strlen(k));
		buf_putc(b, ':');
		if (json_object_is_type(v, json_type_object) &&
		    json_object_object_length(v) > 0) {
			if (put_rest(b, m, v) == 0) {
				b->len = mark;
				continue;
			}
		} else {
			event_json_put(b, v);
		}
		written++;
	}
	if (written)
		buf_putc(b, '}');
	return written;
}

static int
map_item(const struct jsonmap *map, const unsigned char *item, size_t len,
    struct sec_event *ev, char *err, size_t errlen)
{
	struct json_object *root = ev->root;
	struct mapped m = { .map = map };

	if (take_time(&m, root, ev, err, errlen) < 0 ||
	    take_id(&m, root, item, len, ev, err, errlen) < 0)
		return -1;
	take_severity(&m, root, ev);
	take_text(&m, root, JM_CATEGORY, &ev->category);
	take_text(&m, root, JM_ACTION, &ev->action);
	take_text(&m, root, JM_OUTCOME, &ev->outcome);
	take_text(&m, root, JM_ACTOR_USER, &ev->actor_user);
	take_text(&m, root, JM_TARGET, &ev->target);
	take_text(&m, root, JM_MESSAGE, &ev->message);
	take_ip(&m, root, ev);

	size_t top = put_rest(&tls_attrs, &m, root);
	if (m.nwarn) {
		buf_putc(&tls_warn, ']');
		if (top == 0) {
			buf_reset(&tls_attrs);
			buf_putc(&tls_attrs, '{');
		} else {
			tls_attrs.len--;	/* reopen the object */
			buf_putc(&tls_attrs, ',');
		}
		/* The item's own member of that name, if any, keeps it. */
		const char *key = json_object_object_get_ex(root,
		    "parse_warnings", NULL) ? "bevis_parse_warnings" :
		    "parse_warnings";
		buf_put_json_string(&tls_attrs, key, strlen(key));
		buf_putc(&tls_attrs, ':');
		buf_append(&tls_attrs, tls_warn.data, tls_warn.len);
		buf_putc(&tls_attrs, '}');
		top++;
	}
	if (top) {
		ev->attrs.p = (const char *)tls_attrs.data;
		ev->attrs.n = tls_attrs.len;
	}
	return 0;
}

int
jsonmap_parse(const struct jsonmap *map, const unsigned char *item, size_t len,
    struct sec_event *ev, char *err, size_t errlen)
{
	struct json_object *root;

	memset(ev, 0, sizeof(*ev));
	ev->severity = -1;
	buf_reset(&tls_attrs);
	buf_reset(&tls_warn);
	if (event_json_read(item, len, &root, err, errlen) < 0)
		return -1;
	ev->root = root;
	if (map_item(map, item, len, ev, err, errlen) < 0) {
		event_clear(ev);
		return -1;
	}
	return 0;
}

static int
parse_for_supplier(const char *supplier, const unsigned char *item,
    size_t len, struct sec_event *ev, char *err, size_t errlen)
{
	const struct jsonmap *map;

	memset(ev, 0, sizeof(*ev));
	if (supplier[0] == '\0')
		FAIL("%s is read through the sending supplier's field map, and "
		    "this request has no supplier key (allow_plaintext)",
		    PROTO_CT_MAPPED_NDJSON);
	if ((map = jsonmaps_for(jsonmaps_installed(), supplier)) == NULL)
		FAIL("no field map for supplier '%s': json_maps assigns none",
		    supplier);
	return jsonmap_parse(map, item, len, ev, err, errlen);
}

static int
parse_unmapped(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	return parse_for_supplier("", item, len, ev, err, errlen);
}

static void
jsonmap_thread_done(void)
{
	buf_free(&tls_attrs);
	buf_free(&tls_warn);
}

const struct parser parser_mapped_ndjson = {
	.name = "mapped-ndjson",
	.label = "JSON",
	.ct = CT_MAPPED_NDJSON,
	.split = split_ndjson,
	.parse = parse_unmapped,
	.parse_for = parse_for_supplier,
	.clear = event_clear,
	.thread_done = jsonmap_thread_done,
};
