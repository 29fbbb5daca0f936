/* torture_parse_syslog.c - text/syslog (daemon/parse_syslog.c),
 * table-driven: RFC 5424 (fractions, offsets, NILVALUE, structured data
 * with escapes, BOM) and RFC 3164 (no year, no zone: New Year and
 * daylight-saving changes in the supplier's zone), and the lines that are
 * quarantined with the byte named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "parse.h"
#include "parse_text.h"
#include "tzrule.h"

struct sl_case {
	const char *received;	/* RFC 3339 receipt time */
	const char *line;
	const char *err;	/* a substring of the reason; NULL: accepted */
	const char *time;	/* as rfc3339_format writes it */
	int severity;
	const char *message;
	const char *attrs[4];
};

#define R "2026-12-01T00:00:00Z"

static const struct sl_case cases[] = {
	/* RFC 5424 */
	{ R, "<38>1 2022-01-19T14:23:55+00:00 OPNsense.localdomain sshd 44255 - "
	    "[meta sequenceId=\"1\"] Invalid user tutu from 1.2.3.4 port 33166",
	    NULL, "2022-01-19T14:23:55.000000Z", 1,
	    "Invalid user tutu from 1.2.3.4 port 33166",
	    { "\"format\":\"rfc5424\"", "\"sd\":{\"meta\":{\"sequenceId\":\"1\"}}",
	    "\"procid\":\"44255\"", "\"facility\":4" } },
	{ R, "<134>1 2025-11-06T11:32:42.868451+02:00 fw filterlog 92653 - - 7,,,",
	    NULL, "2025-11-06T09:32:42.868451Z", 1, "7,,,",
	    { "\"app_name\":\"filterlog\"", "\"syslog_severity\":6" } },
	{ R, "<171>1 2025-11-05T20:47:03.000000+00:00 fw nginx - - - msg", NULL,
	    "2025-11-05T20:47:03.000000Z", 4, "msg", { 0 } },
	/* several SD elements, escapes inside values, a repeated PARAM */
	{ R, "<165>1 2003-10-11T22:14:15.003Z h app 1 ID47 [exampleSDID@32473 "
	    "iut=\"3\" eventSource=\"App \\\"x\\\" \\\\ \\]\"][origin ip=\"1.2.3.4\" "
	    "ip=\"5.6.7.8\"] \xef\xbb\xbfmsg with BOM", NULL,
	    "2003-10-11T22:14:15.003000Z", 2, "msg with BOM",
	    { "\"eventSource\":\"App \\\"x\\\" \\\\ ]\"", "\"ip#2\":\"5.6.7.8\"",
	    "\"msgid\":\"ID47\"" } },
	/* NILVALUE timestamp, no message */
	{ R, "<14>1 - - - - - -", NULL, "2026-12-01T00:00:00.000000Z", 1, NULL,
	    { "no TIMESTAMP: the receipt time is used" } },
	/* RFC 3164 */
	{ R, "Jun 21 11:17:33 demo-host.local openvpn[30264]: 1.2.3.4 peer info",
	    NULL, "2026-06-21T09:17:33.000000Z", -1, "1.2.3.4 peer info",
	    { "\"timestamp\":\"Jun 21 11:17:33\"", "\"hostname\":\"demo-host.local\"",
	    "\"app_name\":\"openvpn\"", "no PRI" } },
	{ R, "<85>May 06 12:31:17 exabeam.local Exabeam: a=\"b\"", NULL,
	    "2026-05-06T10:31:17.000000Z", 2, "a=\"b\"",
	    { "day of month not space-padded", "\"facility\":10" } },
	{ R, "Jun  8 14:34:33 sd-126005 kernel: [  203.842973] IN=lo ", NULL,
	    "2026-06-08T12:34:33.000000Z", -1, "[  203.842973] IN=lo ",
	    { "\"app_name\":\"kernel\"" } },
	{ R, "<13>Jan 15 2021 12:00:00 h t: x", NULL,
	    "2021-01-15T11:00:00.000000Z", 2, "x", { 0 } },
	/* New Year: last year's December, next year's January */
	{ "2027-01-01T00:30:00Z", "<13>Dec 31 23:59:59 h t: x", NULL,
	    "2026-12-31T22:59:59.000000Z", 2, "x", { 0 } },
	{ "2026-12-31T22:55:00Z", "<13>Jan  1 00:00:10 h t: x", NULL,
	    "2026-12-31T23:00:10.000000Z", 2, "x", { 0 } },
	{ "2027-01-05T00:00:00Z", "<13>Dec 20 10:00:00 h t: x", NULL,
	    "2026-12-20T09:00:00.000000Z", 2, "x", { 0 } },
	{ "2028-03-01T00:00:00Z", "<13>Feb 29 10:00:00 h t: x", NULL,
	    "2028-02-29T09:00:00.000000Z", 2, "x", { 0 } },
	{ "2027-03-01T00:00:00Z", "<13>Feb 29 10:00:00 h t: x", NULL,
	    "2024-02-29T09:00:00.000000Z", 2, "x", { 0 } },
	/* daylight saving in Europe/Stockholm, 2026: 29 March, 25 October */
	{ R, "<13>Mar 29 01:30:00 h t: x", NULL, "2026-03-29T00:30:00.000000Z",
	    2, "x", { 0 } },
	{ R, "<13>Mar 29 02:30:00 h t: x", NULL, "2026-03-29T01:30:00.000000Z",
	    2, "x", { 0 } },	/* skipped hour: read as standard time */
	{ R, "<13>Mar 29 03:30:00 h t: x", NULL, "2026-03-29T01:30:00.000000Z",
	    2, "x", { 0 } },
	{ R, "<13>Oct 25 02:30:00 h t: x", NULL, "2026-10-25T00:30:00.000000Z",
	    2, "x", { 0 } },	/* repeated hour: the first (summer) one */
	{ R, "<13>Oct 25 03:30:00 h t: x", NULL, "2026-10-25T02:30:00.000000Z",
	    2, "x", { 0 } },
	/* rsyslog's RFC 3339 time in a 3164 line; a tag without host */
	{ R, "<13>2026-01-02T03:04:05.5+01:00 host app: m", NULL,
	    "2026-01-02T02:04:05.500000Z", 2, "m", { "\"hostname\":\"host\"" } },
	{ R, "Jun  9 19:23:44 app: m", NULL, "2026-06-09T17:23:44.000000Z", -1,
	    "m", { "no HOSTNAME" } },
	/* severities */
	{ R, "<0>Jun  9 19:23:44 h t: m", NULL, NULL, 6, "m", { 0 } },
	{ R, "<3>Jun  9 19:23:44 h t: m", NULL, NULL, 4, "m", { 0 } },
	{ R, "<7>Jun  9 19:23:44 h t: m", NULL, NULL, 1, "m", { 0 } },
	/* a CR inside (a CRLF end is split off before) */
	{ R, "<13>Jun  9 19:23:44 h t: a\rb", NULL, NULL, 2, "a\rb", { 0 } },
	/* quarantined */
	{ R, "", "empty line", NULL, 0, NULL, { 0 } },
	{ R, "<192>Jun  9 19:23:44 h t: m", "PRI <192> at byte 0 is above 191",
	    NULL, 0, NULL, { 0 } },
	{ R, "<1a>Jun  9 19:23:44 h t: m", "PRI at byte 0", NULL, 0, NULL,
	    { 0 } },
	{ R, "<13>hello", "RFC 3164 TIMESTAMP expected at byte 4", NULL, 0,
	    NULL, { 0 } },
	{ R, "<13>Jun  9 19:23", "RFC 3164 TIMESTAMP expected at byte 4", NULL,
	    0, NULL, { 0 } },
	{ R, "<13>1 2026-13-01T00:00:00Z h a p m - x",
	    "RFC 5424 TIMESTAMP at byte 6", NULL, 0, NULL, { 0 } },
	{ R, "<13>1 2026-01-01T00:00:00Z h a", "header ends at byte 30 before "
	    "PROCID", NULL, 0, NULL, { 0 } },
	{ R, "<13>1 2026-01-01T00:00:00Z h a p m [x a=\"b] y",
	    "has no closing '\"'", NULL, 0, NULL, { 0 } },
	{ R, "<13>1 2026-01-01T00:00:00Z h a p m [x a=b] y",
	    "'\"' expected at byte 40", NULL, 0, NULL, { 0 } },
	{ R, "<13>1 2026-01-01T00:00:00Z h a p m x y",
	    "STRUCTURED-DATA at byte 35", NULL, 0, NULL, { 0 } },
	{ R, "<13>Jun  9 19:23:44 h t: \xc3\x28", "invalid UTF-8 at byte 25",
	    NULL, 0, NULL, { 0 } },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sl_case *c = &cases[i];
		struct sec_event ev;
		char err[512] = "", t[40];
		int64_t rus;

		assert_int_equal(rfc3339_parse(c->received, strlen(c->received),
		    &rus), 0);
		parse_ctx_set(rus, NULL);
		int rc = event_parse_syslog((const unsigned char *)c->line,
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
		if (c->message && (ev.message.p == NULL ||
		    ev.message.n != strlen(c->message) ||
		    memcmp(ev.message.p, c->message, ev.message.n)))
			fail_msg("case %zu: message '%.*s'", i, (int)ev.message.n,
			    ev.message.p ? ev.message.p : "");
		if (!c->message && ev.message.p)
			fail_msg("case %zu: a message", i);
		assert_int_equal(ev.id.n, 64);
		for (int k = 0; k < 4 && c->attrs[k]; k++) {
			char a[4096];
			snprintf(a, sizeof(a), "%.*s", (int)ev.attrs.n,
			    ev.attrs.p ? ev.attrs.p : "");
			if (strstr(a, c->attrs[k]) == NULL)
				fail_msg("case %zu: attrs %s lacks %s", i, a,
				    c->attrs[k]);
		}
	}
}

/* A supplier's own zone, from [syslog_timezone]. */
static void
test_supplier_zone(void **state)
{
	struct config cfg;
	struct config_zone z[] = { { "acme", "UTC" },
		{ "nyc", "America/New_York" } };
	char err[256];
	struct sec_event ev;
	int64_t rus;
	char t[40];
	static const char line[] = "<13>Jul  1 12:00:00 h t: x";
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.syslog_zones = z;
	cfg.nsyslog_zones = 2;
	assert_int_equal(parse_zones_configure(&cfg, err, sizeof(err)), 0);
	assert_int_equal(rfc3339_parse(R, strlen(R), &rus), 0);
	parse_ctx_set(rus, "acme");
	assert_int_equal(event_parse_syslog((const unsigned char *)line,
	    sizeof(line) - 1, &ev, err, sizeof(err)), 0);
	rfc3339_format(ev.occurred_us, t);
	assert_string_equal(t, "2026-07-01T12:00:00.000000Z");
	parse_ctx_set(rus, "nyc");
	assert_int_equal(event_parse_syslog((const unsigned char *)line,
	    sizeof(line) - 1, &ev, err, sizeof(err)), 0);
	rfc3339_format(ev.occurred_us, t);
	assert_string_equal(t, "2026-07-01T16:00:00.000000Z");
	parse_ctx_set(rus, "other");	/* the default, Europe/Stockholm */
	assert_int_equal(event_parse_syslog((const unsigned char *)line,
	    sizeof(line) - 1, &ev, err, sizeof(err)), 0);
	rfc3339_format(ev.occurred_us, t);
	assert_string_equal(t, "2026-07-01T10:00:00.000000Z");

	struct config_zone bad[] = { { "x", "Mars/Olympus" } };
	cfg.syslog_zones = bad;
	cfg.nsyslog_zones = 1;
	assert_int_equal(parse_zones_configure(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown time zone 'Mars/Olympus'"));
}

static void
test_tzrule(void **state)
{
	struct tzrule tz;
	(void)state;

	memset(&tz, 0, sizeof(tz));
	assert_int_equal(tzrule_parse_posix("CET-1CEST,M3.5.0,M10.5.0/3", &tz), 0);
	assert_int_equal(tz.std_off, 3600);
	assert_int_equal(tz.dst_off, 7200);
	/* 2026-03-29T01:00:00Z is the change */
	assert_int_equal(tzrule_offset_at(&tz, 1774746000 - 1), 3600);
	assert_int_equal(tzrule_offset_at(&tz, 1774746000), 7200);
	assert_int_equal(tzrule_parse_posix("nonsense", &tz), -1);
	assert_int_equal(tzrule_parse_posix("EST5EDT", &tz), -1);
	assert_int_equal(tzrule_parse_posix("<+03>-3", &tz), 0);
	assert_int_equal(tz.std_off, 3 * 3600);
}

static void
test_lookup(void **state)
{
	(void)state;
	assert_ptr_equal(parser_for(CT_SYSLOG), &parser_syslog);
	assert_int_equal(CT_SYSLOG, 4);
	assert_int_equal(proto_content_type("text/syslog", 11), CT_SYSLOG);
	assert_string_equal(parser_content_types(), "application/json, "
	    "application/x-ndjson, application/cef, text/syslog or "
	    "application/x-mapped-ndjson");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_supplier_zone),
		cmocka_unit_test(test_tzrule),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
