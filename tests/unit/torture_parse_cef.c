/* torture_parse_cef.c - application/cef (daemon/parse_cef.c), table-driven:
 * header and extension escapes, empty values, labels, times, severities,
 * syslog headers in front, and lines that must be quarantined with the
 * byte or field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "parse.h"
#include "parse_text.h"

/* 2026-12-01T00:00:00Z */
#define RECEIVED_US	1796083200000000LL

struct cef_case {
	const char *line;
	const char *err;	/* a substring of the reason; NULL: accepted */
	const char *time;	/* RFC 3339 UTC, as rfc3339_format writes */
	int severity;
	const char *message, *action, *actor, *target;
	const char *attrs[4];	/* substrings of attrs */
	const char *id;		/* NULL: the SHA-256 of the line */
};

#define H "CEF:0|Vend|Prod|1.0|100|Name here|5|"

static const struct cef_case cases[] = {
	{ H "msg=hello world act=blocked", NULL, "2026-12-01T00:00:00.000000Z",
	    3, "hello world", "blocked", NULL, NULL,
	    { "\"device_vendor\":\"Vend\"", "\"signature_id\":\"100\"",
	    "no 'rt', 'start' or syslog time" }, NULL },
	/* header escapes */
	{ "CEF:0|Ve\\|nd|Pr\\\\od|1|2|N|3|", NULL, NULL, 2, "N", NULL, NULL,
	    NULL, { "\"device_vendor\":\"Ve|nd\"",
	    "\"device_product\":\"Pr\\\\od\"" }, NULL },
	/* extension escapes: \= \\ \n \r, and a value with spaces */
	{ H "msg=a\\=b c\\\\d\\ne\\rf request=http://x/?u\\=1 rt=1543270652000",
	    NULL, "2018-11-26T22:17:32.000000Z", 3, "a=b c\\d\ne\rf", NULL,
	    NULL, "http://x/?u=1", { "\"rt\":\"1543270652000\"" }, NULL },
	/* empty values, labels, a label without a value */
	{ H "cs2= cs2Label=Empty cs1=v1 cs1Label=Rule Name cn1Label=Alone "
	    "cn2=7 cn2Label=Count", NULL, NULL, 3, "Name here", NULL, NULL, NULL,
	    { "\"Empty\":\"\"", "\"Rule Name\":\"v1\"", "\"cn1Label\":\"Alone\"",
	    "\"Count\":\"7\"" }, NULL },
	/* severities: numbers and names */
	{ "CEF:0|V|P|1|2|N|0|", NULL, NULL, 2, NULL, NULL, NULL, NULL, { 0 },
	    NULL },
	{ "CEF:0|V|P|1|2|N|10|", NULL, NULL, 5, NULL, NULL, NULL, NULL, { 0 },
	    NULL },
	{ "CEF:0|V|P|1|2|N|8|", NULL, NULL, 4, NULL, NULL, NULL, NULL, { 0 },
	    NULL },
	{ "CEF:0|V|P|1|2|N|Very-High|", NULL, NULL, 5, NULL, NULL, NULL, NULL,
	    { 0 }, NULL },
	{ "CEF:0|V|P|1|2|N|Unknown|", NULL, NULL, 0, NULL, NULL, NULL, NULL,
	    { 0 }, NULL },
	{ "CEF:0|V|P|1|2|N|11|", NULL, NULL, 0, NULL, NULL, NULL, NULL,
	    { "neither 0..10 nor a name" }, NULL },
	/* times: ArcSight's formats */
	{ H "rt=May 11 2022 07:11:59.900 +0000", NULL,
	    "2022-05-11T07:11:59.900000Z", 3, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ H "rt=Apr 11 2020 10:42:13", NULL, "2020-04-11T08:42:13.000000Z", 3,
	    NULL, NULL, NULL, NULL, { 0 }, NULL },	/* Stockholm, summer */
	{ H "start=Jan 15 2021 10:00:00 UTC", NULL, "2021-01-15T10:00:00.000000Z",
	    3, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ H "rt=2025-09-04T08:32:58.445Z", NULL, "2025-09-04T08:32:58.445000Z",
	    3, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ H "rt=Nov 30 23:00:00", NULL, "2026-11-30T22:00:00.000000Z", 3, NULL,
	    NULL, NULL, NULL, { 0 }, NULL },
	{ H "rt=yesterday", NULL, "2026-12-01T00:00:00.000000Z", 3, NULL, NULL,
	    NULL, NULL, { "'rt' is not a time CEF knows" }, NULL },
	/* users, addresses, the id */
	{ H "suser=alice src=10.0.0.1 dst=10.0.0.2 externalId=X-1", NULL, NULL,
	    3, NULL, NULL, "alice", "10.0.0.2", { 0 }, "X-1" },
	{ H "duser=bob c6a2=fd00::1", NULL, NULL, 3, NULL, NULL, "bob", NULL,
	    { 0 }, NULL },
	{ H "src=not-an-ip", NULL, NULL, 3, NULL, NULL, NULL, NULL,
	    { "\"src\":\"not-an-ip\"", "'src' is not an IP address" }, NULL },
	/* unknown keys kept; a repeated key kept twice */
	{ H "vendorKey_1=x vendorKey_1=y", NULL, NULL, 3, NULL, NULL, NULL, NULL,
	    { "\"vendorKey_1\":\"x\"", "\"vendorKey_1#2\":\"y\"" }, NULL },
	/* leniency, with a warning */
	{ "CEF: 0|V|P|1|2|N|1|msg=x", NULL, NULL, 2, "x", NULL, NULL, NULL,
	    { "space after 'CEF:'" }, NULL },
	{ "0|V|P|1|2|N|1|msg=x", NULL, NULL, 2, "x", NULL, NULL, NULL,
	    { "no 'CEF:' before the version" }, NULL },
	{ "0|V|P|1|2|N|1|msg=see CEF:0|x|y", NULL, NULL, 2, "see CEF:0|x|y", NULL,
	    NULL, NULL, { "no 'CEF:' before the version" }, NULL },
	{ H "msg=lang=en", NULL, NULL, 3, "lang=en", NULL, NULL, NULL,
	    { "unescaped '=' in the value of 'msg'" }, NULL },
	{ "\xef\xbb\xbf" H "msg=x", NULL, NULL, 3, "x", NULL, NULL, NULL,
	    { "byte order mark" }, NULL },
	/* syslog header in front */
	{ "Sep  8 08:32:20 UDM-Gent CEF: 0|V|P|1|2|N|9|msg=x", NULL,
	    "2026-09-08T06:32:20.000000Z", 5, "x", NULL, NULL, NULL,
	    { "\"hostname\":\"UDM-Gent\"", "\"timestamp\":\"Sep  8 08:32:20\"" },
	    NULL },
	{ "<134>May 18 16:02:00 host tag[1] CEF:0|V|P|1|2|N|Medium|id=220",
	    NULL, "2026-05-18T14:02:00.000000Z", 3, NULL, NULL, NULL, NULL,
	    { "\"syslog_tag\":\"tag[1]\"", "\"facility\":16", "\"id\":\"220\"" },
	    NULL },
	{ "<134>CEF:0|V|P|1|2|N|1|msg=x", NULL, "2026-12-01T00:00:00.000000Z",
	    2, "x", NULL, NULL, NULL, { "\"facility\":16", "no 'rt', 'start'" },
	    NULL },
	{ "<13>1 2026-01-02T03:04:05Z h app - - - CEF:0|V|P|1|2|N|1|", NULL,
	    "2026-01-02T03:04:05.000000Z", 2, NULL, NULL, NULL, NULL,
	    { "\"app_name\":\"app\"" }, NULL },
	/* maximal header: long fields are kept whole */
	{ "CEF:0|VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV"
	    "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV|"
	    "P|1|2|N|1|", NULL, NULL, 2, NULL, NULL, NULL, NULL, { 0 }, NULL },
	/* a CR inside the line (CRLF ends are split off before) */
	{ H "msg=a\rb", NULL, NULL, 3, "a\rb", NULL, NULL, NULL, { 0 }, NULL },
	/* quarantined, with the place named */
	{ "", "empty line", NULL, 0, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ "hello world", "no 'CEF:' in the line", NULL, 0, NULL, NULL, NULL,
	    NULL, { 0 }, NULL },
	{ "CEF:0|V|P|1|2|N", "field 6 (name) at byte 14 has no closing '|'", NULL, 0, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ "CEF:0|V|P", "field 3 (device_product) at byte 8", NULL, 0, NULL, NULL, NULL,
	    NULL, { 0 }, NULL },
	{ "CEF:x|V|P|1|2|N|1|", "CEF version at byte 4 must be a number", NULL,
	    0, NULL, NULL, NULL, NULL, { 0 }, NULL },
	{ H "=novalue", "key=value expected at byte 36", NULL, 0, NULL, NULL,
	    NULL, NULL, { 0 }, NULL },
	{ H "msg=\xff", "invalid UTF-8 at byte 40", NULL, 0, NULL, NULL, NULL,
	    NULL, { 0 }, NULL },
	{ H "rt=4102444800000", "event time out of range", NULL, 0, NULL, NULL,
	    NULL, NULL, { 0 }, NULL },
};

static void
check_str(const char *what, size_t i, const struct strview *got,
    const char *want)
{
	if (want == NULL)
		return;
	if (got->p == NULL || got->n != strlen(want) ||
	    memcmp(got->p, want, got->n) != 0)
		fail_msg("case %zu: %s '%.*s', want '%s'", i, what,
		    got->p ? (int)got->n : 6, got->p ? got->p : "(null)", want);
}

static void
test_table(void **state)
{
	(void)state;
	parse_ctx_set(RECEIVED_US, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cef_case *c = &cases[i];
		struct sec_event ev;
		char err[512] = "", t[40];
		int rc = event_parse_cef((const unsigned char *)c->line,
		    strlen(c->line), &ev, err, sizeof(err));

		if (c->err) {
			if (rc == 0)
				fail_msg("case %zu: accepted, want '%s'", i, c->err);
			if (strstr(err, c->err) == NULL)
				fail_msg("case %zu: reason '%s', want '%s'", i, err,
				    c->err);
			continue;
		}
		if (rc < 0)
			fail_msg("case %zu: quarantined: %s", i, err);
		if (c->time) {
			rfc3339_format(ev.occurred_us, t);
			if (strcmp(t, c->time) != 0)
				fail_msg("case %zu: time %s, want %s", i, t, c->time);
		}
		if (ev.severity != c->severity)
			fail_msg("case %zu: severity %d, want %d", i, ev.severity,
			    c->severity);
		check_str("message", i, &ev.message, c->message);
		check_str("action", i, &ev.action, c->action);
		check_str("actor", i, &ev.actor_user, c->actor);
		check_str("target", i, &ev.target, c->target);
		if (c->id)
			check_str("id", i, &ev.id, c->id);
		else
			assert_int_equal(ev.id.n, 64);
		for (int k = 0; k < 4 && c->attrs[k]; k++) {
			char a[4096];
			snprintf(a, sizeof(a), "%.*s", (int)ev.attrs.n,
			    ev.attrs.p ? ev.attrs.p : "");
			if (strstr(a, c->attrs[k]) == NULL)
				fail_msg("case %zu: attrs %s lacks %s", i, a,
				    c->attrs[k]);
		}
		parser_cef.clear(&ev);
	}
}

/* A resend is a duplicate: the same line, the same id. */
static void
test_id_stable(void **state)
{
	static const char line[] = H "msg=x";
	struct sec_event ev;
	char err[256], first[65];
	(void)state;

	assert_int_equal(event_parse_cef((const unsigned char *)line,
	    sizeof(line) - 1, &ev, err, sizeof(err)), 0);
	snprintf(first, sizeof(first), "%.*s", (int)ev.id.n, ev.id.p);
	assert_int_equal(event_parse_cef((const unsigned char *)line,
	    sizeof(line) - 1, &ev, err, sizeof(err)), 0);
	assert_memory_equal(first, ev.id.p, 64);
	/* sha256("CEF:0|Vend|Prod|1.0|100|Name here|5|msg=x") */
	assert_string_equal(first,
	    "dabd507b4a7850766f1d6f5de7af41a1463424609e1d7fe7812986afe27e1eab");
}

static void
test_lookup(void **state)
{
	(void)state;
	assert_ptr_equal(parser_for(CT_CEF), &parser_cef);
	assert_int_equal(CT_CEF, 3);
	assert_int_equal(proto_content_type("application/cef", 15), CT_CEF);
	assert_string_equal(proto_content_type_name(CT_CEF), "application/cef");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_id_stable),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
