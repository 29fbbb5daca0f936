/* fuzz_lines.h - what the line-format harnesses (fuzz_cef, fuzz_syslog)
 * check on every item: an accepted event has an id, a time in range, a
 * severity on the scale, valid UTF-8 text and an attrs object that a
 * strict JSON reader takes; a refused one has a reason. */
#ifndef BEVIS_FUZZ_LINES_H
#define BEVIS_FUZZ_LINES_H

#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"

#include "buf.h"
#include "event.h"
#include "parse.h"
#include "parse_text.h"
#include "pnr.h"
#include "split.h"
#include "utf8.h"

typedef int (*line_parse_fn)(const unsigned char *, size_t, struct sec_event *,
    char *, size_t);

static void
lines_check_str(const struct strview *s)
{
	if (s->p == NULL)
		return;
	CHECK(utf8_invalid_at((const unsigned char *)s->p, s->n) == (size_t)-1);
}

static void
lines_check_attrs(const struct strview *a)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (a->p == NULL)
		return;
	CHECK(a->n >= 2 && a->p[0] == '{' && a->p[a->n - 1] == '}');
	CHECK(utf8_invalid_at((const unsigned char *)a->p, a->n) == (size_t)-1);
	tok = json_tokener_new();
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, a->p, (int)a->n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "attrs not JSON: %.*s\n", (int)a->n, a->p);
		abort();
	}
	CHECK((size_t)json_tokener_get_parse_end(tok) == a->n);
	CHECK(json_object_is_type(o, json_type_object));
	json_object_put(o);
	json_tokener_free(tok);
}

static void
lines_parse_item(line_parse_fn fn, const unsigned char *p, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	static struct buf scratch;
	struct sec_event ev;
	char err[512];

	CHECK(copy != NULL);
	if (n)
		memcpy(copy, p, n);
	memset(err, 0x55, sizeof(err));
	if (fn(copy, n, &ev, err, sizeof(err)) < 0) {
		size_t el = strnlen(err, sizeof(err));
		CHECK(el > 0 && el < sizeof(err));
		CHECK(utf8_invalid_at((const unsigned char *)err, el) ==
		    (size_t)-1);
		free(copy);
		return;
	}
	CHECK(ev.id.p != NULL && ev.id.n > 0 && ev.id.n <= EVENT_ID_MAX);
	CHECK(ev.occurred_us >= EVENT_TIME_MIN_US &&
	    ev.occurred_us < EVENT_TIME_MAX_US);
	CHECK(ev.severity >= -1 && ev.severity <= 6);
	CHECK(ev.src_family == 0 || ev.src_family == 4 || ev.src_family == 6);
	lines_check_str(&ev.id);
	lines_check_str(&ev.category);
	lines_check_str(&ev.action);
	lines_check_str(&ev.outcome);
	lines_check_str(&ev.actor_user);
	lines_check_str(&ev.target);
	lines_check_str(&ev.message);
	lines_check_attrs(&ev.attrs);
	/* The identity-number pass keeps all of that true. */
	pnr_event_mask(&ev, &scratch);
	lines_check_str(&ev.message);
	lines_check_attrs(&ev.attrs);
	free(copy);
}

static void
lines_fuzz(line_parse_fn fn, const uint8_t *data, size_t size)
{
	struct split sp = { 0 };

	/* 2026-12-31T23:30:00Z: New Year in the supplier's zone. */
	parse_ctx_set(1798759800000000LL, NULL);
	split_ndjson(&sp, data, size);
	for (size_t i = 0; i < sp.n; i++) {
		CHECK(sp.items[i].off <= size &&
		    sp.items[i].len <= size - sp.items[i].off);
		lines_parse_item(fn, data + sp.items[i].off, sp.items[i].len);
	}
	split_free(&sp);
	/* The whole input as one line, whatever it holds. */
	lines_parse_item(fn, data, size);
}

#endif
