/* fuzz_report.c - libFuzzer harness for the report parsers (daemon/
 * parse_csv.c, daemon/parse_report_json.c) and the REPORT metadata
 * (common/report.c). The first byte chooses the format, charset, separator
 * and whether the servicedesk's column map applies; the rest is the body.
 * Invariants: a refused report has a UTF-8 reason and no JSON; otherwise
 * every entry's span lies in the body, in order and apart, the entries
 * without a reason are exactly those in the JSON (valid, an array), and
 * every reason and id is UTF-8; no field but the id holds a personal
 * identity number unmasked, and an entry with attrs.pnr_count has
 * personal_data yes. Invariants that fail call abort(). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "parse.h"
#include "pnr.h"
#include "report.h"
#include "report_entries.h"
#include "utf8.h"

static int
valid_utf8(const char *s)
{
	return utf8_invalid_at((const unsigned char *)s, strlen(s)) == (size_t)-1;
}

/* The identity-number invariants of one entry of the JSON. */
static void
check_pnr(struct json_object *entry)
{
	struct json_object *fields, *attrs, *count, *pd;

	CHECK(json_object_object_get_ex(entry, "fields", &fields));
	json_object_object_foreach(fields, k, v) {
		const char *s = json_object_get_string(v);
		if (strcmp(k, "id") != 0)
			CHECK(pnr_count(s, strlen(s)) == 0);
	}
	if (json_object_object_get_ex(entry, "attrs", &attrs) &&
	    json_object_object_get_ex(attrs, "pnr_count", &count) &&
	    json_object_is_type(count, json_type_int) &&
	    json_object_get_int64(count) > 0) {
		CHECK(json_object_object_get_ex(fields, "personal_data", &pd));
		CHECK(strcmp(json_object_get_string(pd), "yes") == 0);
	}
}

static struct report_map *
make_map(void)
{
	static const char *const lines[][2] = {
		{ "id", "Ärende-ID | Ärendenummer | id" }, { "occurred_at", "Datum" },
		{ "title", "Rubrik" }, { "personal_data", "Personuppgifter" },
		{ "protected_identity", "Skyddad" },
	};
	struct report_map *maps = NULL;
	size_t n = 0;
	char reason[300];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK(report_map_add(&maps, &n, "servicedesk", lines[i][0],
		    lines[i][1], reason, sizeof(reason)) == 0);
	struct report_map *m = report_map_copy(&maps[0]);
	report_maps_free(maps, n);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_meta m;
	struct report_parsed rp;
	char err[600];

	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	const unsigned char *body = data + 1;
	size_t len = size - 1;

	/* The same bytes as a content type: a reason, or fields that hold. */
	if (report_meta_parse((const char *)body, len, &m, err, sizeof(err)) == 0) {
		CHECK(m.ct == CT_CSV || m.ct == CT_JSON);
		CHECK(report_period_valid(m.period));
		CHECK(m.title && valid_utf8(m.title) && m.author &&
		    valid_utf8(m.author));
	}
	report_meta_free(&m);

	memset(&m, 0, sizeof(m));
	m.ct = (mode & 1) ? CT_JSON : CT_CSV;
	m.charset = (mode & 2) && m.ct == CT_CSV ? RCS_WINDOWS_1252 : RCS_UTF8;
	m.separator = m.ct == CT_JSON ? 0 : (mode & 12) == 4 ? ';' :
	    (mode & 12) == 8 ? ',' : 0;
	if (mode & 16)
		m.map = make_map();
	memset(&rp, 0, sizeof(rp));
	rp.max_items = (mode & 32) ? 3 : 0;
	parser_for_report(m.ct)->report(&m, body, len, &rp);
	if (rp.error[0]) {
		CHECK(valid_utf8(rp.error));
		CHECK(rp.error_code != NULL);
	} else {
		size_t readable = 0, end = 0;
		for (size_t k = 0; k < rp.n; k++) {
			const struct report_item *it = &rp.items[k];
			CHECK(it->off >= end && it->off + it->len <= len);
			CHECK(it->line >= 1);
			end = it->off + it->len;
			if (it->reason) {
				CHECK(valid_utf8(it->reason));
			} else {
				CHECK(it->id && it->id[0] && valid_utf8(it->id));
				readable++;
			}
		}
		CHECK(readable == rp.readable);
		CHECK(rp.max_items == 0 || rp.n <= rp.max_items);
		struct json_tokener *tok = json_tokener_new();
		const char *js = buf_cstr(&rp.json);
		struct json_object *o = json_tokener_parse_ex(tok, js,
		    (int)strlen(js));
		CHECK(o && json_tokener_get_parse_end(tok) == strlen(js));
		CHECK(json_object_is_type(o, json_type_array));
		CHECK(json_object_array_length(o) == readable);
		for (size_t k = 0; k < readable; k++)
			check_pnr(json_object_array_get_idx(o, k));
		json_object_put(o);
		json_tokener_free(tok);
		CHECK(valid_utf8(js));
	}
	report_parsed_free(&rp);
	report_meta_free(&m);
	return 0;
}
