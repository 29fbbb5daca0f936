/* torture_parse.c - the parser table (daemon/parse.c): every content type
 * finds its parser, each parser splits and parses as its format says, and
 * an unknown type finds none. A new format adds its own
 * torture_parse_<format>.c beside this. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "event.h"
#include "parse.h"
#include "split.h"

static void
test_lookup(void **state)
{
	(void)state;
	assert_ptr_equal(parser_for(CT_JSON), &parser_json);
	assert_ptr_equal(parser_for(CT_NDJSON), &parser_ndjson);
	assert_ptr_equal(parser_for(CT_MAPPED_NDJSON), &parser_mapped_ndjson);
	assert_null(parser_for(CT_UNKNOWN));
	assert_null(parser_for((enum content_type)200));
	assert_string_equal(parser_json.name, "json");
	assert_string_equal(parser_ndjson.name, "ndjson");
	/* Each parser answers for the type it names. */
	assert_int_equal(parser_json.ct, CT_JSON);
	assert_int_equal(parser_ndjson.ct, CT_NDJSON);
}

/* The content types the unsupported_content_type reply lists. */
static void
test_content_types(void **state)
{
	(void)state;
	assert_string_equal(parser_content_types(),
	    "application/json, application/x-ndjson, application/cef, "
	    "text/syslog or application/x-mapped-ndjson");
}

/* The spool stores the content type as a byte: the values never move. */
static void
test_content_type_values(void **state)
{
	(void)state;
	assert_int_equal(CT_UNKNOWN, 0);
	assert_int_equal(CT_JSON, 1);
	assert_int_equal(CT_NDJSON, 2);
	assert_int_equal(CT_MAPPED_NDJSON, 5);
	assert_string_equal(proto_content_type_name(CT_JSON), "application/json");
	assert_int_equal(proto_content_type("application/x-ndjson", 20),
	    CT_NDJSON);
}

/* Protocol 1.1: charset=utf-8 in any case, quoted or not, with spaces;
 * any other parameter or charset refused with a sentence. */
static void
test_content_type_params(void **state)
{
	static const struct { const char *in; enum content_type ct;
		const char *why; } cases[] = {
		{ "application/json", CT_JSON, "" },
		{ "application/json; charset=utf-8", CT_JSON, "" },
		{ "Application/X-NDJSON ;CHARSET=\"UTF-8\" ;", CT_NDJSON, "" },
		{ "application/json ;  charset = utf-8 ", CT_JSON, "" },
		{ "application/json; charset=latin1", CT_UNKNOWN,
		  "charset 'latin1' is not supported: bodies must be UTF-8 "
		  "(charset=utf-8, or no charset)" },
		{ "application/json; q=1", CT_UNKNOWN, "the content type "
		  "parameter 'q' is not supported; the only one taken is "
		  "charset=utf-8" },
		{ "application/json; charset=\"utf-8", CT_UNKNOWN, "the content "
		  "type parameter value has no closing quote" },
		{ "application/json; charset=utf-8 x", CT_UNKNOWN, "the content "
		  "type parameter value 'utf-8 x' is malformed" },
		{ "text/plain; charset=utf-8", CT_UNKNOWN, "" },
		{ "application/json ", CT_UNKNOWN, "" },
	};
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(proto_content_type_params(cases[i].in,
		    strlen(cases[i].in), why, sizeof(why)), cases[i].ct);
		assert_string_equal(why, cases[i].why);
	}
}

/* Through the table, a body is split and each item parsed as its format
 * says: two lines for ndjson, one array of two for json. */
static void
test_split_and_parse(void **state)
{
	static const char nd[] =
	    "{\"id\":\"a\",\"time\":\"2026-10-05T14:30:00Z\"}\n"
	    "{\"id\":\"b\",\"time\":\"2026-10-05T14:31:00Z\",\"severity\":4}\n";
	static const char js[] =
	    "[{\"id\":\"a\",\"time\":\"2026-10-05T14:30:00Z\"},"
	    "{\"id\":\"b\",\"time\":\"2026-10-05T14:31:00Z\",\"severity\":4}]";
	const struct {
		const struct parser *p;
		const char *body;
		size_t len;
	} cases[] = {
		{ &parser_ndjson, nd, sizeof(nd) - 1 },
		{ &parser_json, js, sizeof(js) - 1 },
	};

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		const struct parser *p = cases[c].p;
		const unsigned char *body = (const unsigned char *)cases[c].body;
		struct split sp = { 0 };
		struct sec_event ev;
		char err[256];

		p->split(&sp, body, cases[c].len);
		assert_null(sp.error);
		assert_int_equal(sp.n, 2);
		for (size_t i = 0; i < 2; i++) {
			assert_int_equal(p->parse(body + sp.items[i].off,
			    sp.items[i].len, &ev, err, sizeof(err)), 0);
			assert_int_equal(ev.id.n, 1);
			assert_memory_equal(ev.id.p, i ? "b" : "a", 1);
			assert_int_equal(ev.severity, i ? 4 : -1);
			assert_true(ev.occurred_us == 1791210600000000LL +
			    (int64_t)i * 60000000);
			p->clear(&ev);
		}
		split_free(&sp);
	}
	parsers_thread_done();
}

/* One list of severity names serves the parsers and the CLI. */
static void
test_severity_names(void **state)
{
	(void)state;
	for (int i = 0; i < SEVERITY_COUNT; i++) {
		const char *n = severity_name(i);
		assert_non_null(n);
		assert_int_equal(severity_from_name(n, strlen(n)), i);
	}
	assert_string_equal(severity_name(SEVERITY_INFORMATIONAL),
	    "informational");
	assert_int_equal(severity_from_name("INFO", 4), SEVERITY_INFORMATIONAL);
	assert_null(severity_name(-1));
	assert_null(severity_name(SEVERITY_COUNT));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_content_type_values),
		cmocka_unit_test(test_content_type_params),
		cmocka_unit_test(test_split_and_parse),
		cmocka_unit_test(test_severity_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
