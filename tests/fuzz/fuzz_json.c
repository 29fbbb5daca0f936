/* fuzz_json.c - libFuzzer harness for the JSON path of bevisd: the input is
 * a request body, split as NDJSON and as JSON, and every item is parsed as
 * a native event. Invariants that fail call abort(). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "event.h"
#include "parse.h"
#include "split.h"
#include "utf8.h"

static int
valid_utf8(const void *p, size_t n)
{
	return utf8_invalid_at(p, n) == (size_t)-1;
}

static void
check_str(const struct strview *s)
{
	if (s->p == NULL) {
		CHECK(s->n == 0);
		return;
	}
	CHECK(valid_utf8(s->p, s->n));
}

/* A strict RFC 8259 check, as PostgreSQL's jsonb applies it (json-c takes
 * more, such as "1." or "-.5"), so that attrs always loads. */
struct jv {
	const char *p, *end;
	int depth;
};

static int jv_value(struct jv *j);

static void
jv_ws(struct jv *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
jv_eat(struct jv *j, char c)
{
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return 1;
	}
	return 0;
}

static int
jv_digits(struct jv *j)
{
	const char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static int
jv_number(struct jv *j)
{
	jv_eat(j, '-');
	if (!jv_eat(j, '0')) {
		if (j->p >= j->end || *j->p < '1' || *j->p > '9')
			return 0;
		jv_digits(j);
	}
	if (jv_eat(j, '.') && !jv_digits(j))
		return 0;
	if (jv_eat(j, 'e') || jv_eat(j, 'E')) {
		if (!jv_eat(j, '+'))
			jv_eat(j, '-');
		if (!jv_digits(j))
			return 0;
	}
	return 1;
}

static int
jv_hex4(struct jv *j, unsigned *u)
{
	*u = 0;
	for (int i = 0; i < 4; i++, j->p++) {
		char c = j->p < j->end ? *j->p : 0;

		if (c >= '0' && c <= '9')
			*u = *u << 4 | (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*u = *u << 4 | (unsigned)((c | 0x20) - 'a' + 10);
		else
			return 0;
	}
	return 1;
}

static int
jv_string(struct jv *j)
{
	if (!jv_eat(j, '"'))
		return 0;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned u, lo;

		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (j->p >= j->end)
			return 0;
		c = (unsigned char)*j->p++;
		if (c != 'u') {
			if (c == 0 || !strchr("\"\\/bfnrt", c))
				return 0;
			continue;
		}
		/* jsonb refuses \u0000 and unpaired surrogates. */
		if (!jv_hex4(j, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
			return 0;
		if (u >= 0xd800 && u <= 0xdbff && (!jv_eat(j, '\\') ||
		    !jv_eat(j, 'u') || !jv_hex4(j, &lo) || lo < 0xdc00 ||
		    lo > 0xdfff))
			return 0;
	}
	return 0;
}

static int
jv_value(struct jv *j)
{
	int ok;

	if (++j->depth > 64)
		return 0;
	jv_ws(j);
	if (j->p >= j->end)
		return 0;
	switch (*j->p) {
	case '{':
		j->p++;
		jv_ws(j);
		if ((ok = jv_eat(j, '}')))
			break;
		do {
			jv_ws(j);
			ok = jv_string(j);
			jv_ws(j);
			ok = ok && jv_eat(j, ':') && jv_value(j);
			jv_ws(j);
		} while (ok && jv_eat(j, ','));
		ok = ok && jv_eat(j, '}');
		break;
	case '[':
		j->p++;
		jv_ws(j);
		if ((ok = jv_eat(j, ']')))
			break;
		do {
			ok = jv_value(j);
			jv_ws(j);
		} while (ok && jv_eat(j, ','));
		ok = ok && jv_eat(j, ']');
		break;
	case '"':
		ok = jv_string(j);
		break;
	case 't':
		ok = (size_t)(j->end - j->p) >= 4 && memcmp(j->p, "true", 4) == 0;
		j->p += ok ? 4 : 0;
		break;
	case 'f':
		ok = (size_t)(j->end - j->p) >= 5 && memcmp(j->p, "false", 5) == 0;
		j->p += ok ? 5 : 0;
		break;
	case 'n':
		ok = (size_t)(j->end - j->p) >= 4 && memcmp(j->p, "null", 4) == 0;
		j->p += ok ? 4 : 0;
		break;
	default:
		ok = jv_number(j);
	}
	j->depth--;
	return ok;
}

static int
strict_json(const char *p, size_t n)
{
	struct jv j = { p, p + n, 0 };

	if (!jv_value(&j))
		return 0;
	jv_ws(&j);
	return j.p == j.end;
}

/* attrs is one strict JSON object, without the fields that have columns of
 * their own. */
static void
check_attrs(const struct strview *a)
{
	static const char *const mapped[] = {
		"id", "time", "supplier", "severity", "category", "action",
		"outcome", "target", "message", "actor.user", "src.ip", "seq",
		"personal_data",
	};
	struct json_tokener *tok;
	struct json_object *o, *sub;

	if (a->p == NULL)
		return;
	CHECK(a->n >= 2 && a->p[0] == '{' && a->p[a->n - 1] == '}');
	CHECK(valid_utf8(a->p, a->n));
	if (!strict_json(a->p, a->n)) {
		fprintf(stderr, "attrs not strict JSON: %.*s\n", (int)a->n, a->p);
		abort();
	}
	tok = json_tokener_new();
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, a->p, (int)a->n);
	CHECK(json_tokener_get_error(tok) == json_tokener_success);
	CHECK((size_t)json_tokener_get_parse_end(tok) == a->n);
	json_tokener_free(tok);
	CHECK(json_object_is_type(o, json_type_object));
	CHECK(json_object_object_length(o) > 0);
	for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++)
		CHECK(!json_object_object_get_ex(o, mapped[i], NULL));
	if (json_object_object_get_ex(o, "actor", &sub)) {
		CHECK(json_object_is_type(sub, json_type_object));
		CHECK(!json_object_object_get_ex(sub, "user", NULL));
	}
	if (json_object_object_get_ex(o, "src", &sub)) {
		CHECK(json_object_is_type(sub, json_type_object));
		CHECK(!json_object_object_get_ex(sub, "ip", NULL));
	}
	json_object_put(o);
}

static void
check_time(int64_t us)
{
	char out[40];
	int64_t back = -1;

	CHECK(us >= EVENT_TIME_MIN_US && us < EVENT_TIME_MAX_US);
	rfc3339_format(us, out);
	CHECK(strlen(out) == 27);
	CHECK(rfc3339_parse(out, 27, &back) == 0);
	CHECK(back == us);
}

/* Parses one item from a copy of exactly its size, so that ASan sees a read
 * past the span and not only past the body. */
static void
parse_item(const unsigned char *p, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	struct sec_event ev;
	char err[512];

	CHECK(copy != NULL);
	if (n)
		memcpy(copy, p, n);
	memset(err, 0x55, sizeof(err));
	if (event_parse_json(copy, n, &ev, err, sizeof(err)) < 0) {
		size_t el = strnlen(err, sizeof(err));

		CHECK(el > 0 && el < sizeof(err));
		CHECK(valid_utf8(err, el));	/* stored as text */
		CHECK(ev.root == NULL);		/* nothing to free */
		free(copy);
		return;
	}
	CHECK(ev.root != NULL);
	CHECK(ev.id.p != NULL && ev.id.n > 0 && ev.id.n <= EVENT_ID_MAX);
	check_time(ev.occurred_us);
	CHECK(ev.severity >= -1 && ev.severity <= 6);
	CHECK(ev.src_family == 0 || ev.src_family == 4 || ev.src_family == 6);
	CHECK(ev.personal_data == 0 || ev.personal_data == 1);
	CHECK(ev.has_seq ? ev.seq >= 0 : ev.seq == 0);
	check_str(&ev.supplier);
	check_str(&ev.id);
	check_str(&ev.category);
	check_str(&ev.action);
	check_str(&ev.outcome);
	check_str(&ev.actor_user);
	check_str(&ev.target);
	check_str(&ev.message);
	check_str(&ev.attrs);
	check_attrs(&ev.attrs);
	event_clear(&ev);
	CHECK(ev.root == NULL);
	free(copy);
}

static void
split_and_parse(enum content_type ct, const unsigned char *body, size_t len)
{
	struct split sp = { 0 };

	split_body(&sp, ct, body, len);
	if (sp.error)
		CHECK(sp.n == 0);
	for (size_t i = 0; i < sp.n; i++) {
		const struct item_span *s = &sp.items[i];

		CHECK(s->off <= len && s->len <= len - s->off);
		if (i)
			CHECK(s->off >= sp.items[i - 1].off + sp.items[i - 1].len);
		parse_item(body + s->off, s->len);
	}
	split_free(&sp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t us;

	split_and_parse(CT_NDJSON, data, size);
	split_and_parse(CT_JSON, data, size);
	/* The input as a time on its own. */
	if (rfc3339_parse((const char *)data, size, &us) == 0 &&
	    us >= EVENT_TIME_MIN_US && us < EVENT_TIME_MAX_US)
		check_time(us);
	(void)severity_from_name((const char *)data, size);
	return 0;
}
