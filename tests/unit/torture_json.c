/* torture_json.c - the native JSON event (daemon/parse_json.c): every field,
 * every error path with its exact reason, and the RFC 3339 helpers.
 * Every test frees what it parses: the suite also runs under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "parse.h"
#include "utf8.h"

/* The smallest valid event, and its time in microseconds. */
#define T0	"\"id\":\"e1\",\"time\":\"2024-02-29T12:34:56Z\""
#define T0_US	1709210096000000LL
#define NAMES	"unknown, informational, low, medium, high, critical, fatal"

static void
parse_ok_at(const char *json, size_t len, struct sec_event *ev, const char *file,
    int line)
{
	char err[512] = "";

	if (event_parse_json((const unsigned char *)json, len, ev, err,
	    sizeof(err)) != 0)
		fail_msg("%s:%d: %.*s: unexpected error: %s", file, line,
		    (int)len, json, err);
	assert_non_null(ev->root);
}

/* Parses and checks the exact reason; on failure nothing is left to free
 * and the reason is valid UTF-8 (it is stored as PostgreSQL text). */
static void
parse_err_at(const char *json, size_t len, const char *want, const char *file,
    int line)
{
	struct sec_event ev;
	char err[512] = "";
	int rc;

	rc = event_parse_json((const unsigned char *)json, len, &ev, err,
	    sizeof(err));
	if (rc == 0) {
		event_clear(&ev);
		fail_msg("%s:%d: %.*s: accepted, want '%s'", file, line,
		    (int)len, json, want);
	}
	assert_int_equal(rc, -1);
	if (strcmp(err, want) != 0)
		fail_msg("%s:%d: got '%s'\n   want '%s'", file, line, err, want);
	assert_null(ev.root);
	assert_int_equal(utf8_invalid_at((const unsigned char *)err,
	    strlen(err)), (size_t)-1);
}

/* For string literals (which may hold NULs and invalid bytes). */
#define PARSE_OK(json, ev) \
	parse_ok_at("" json, sizeof(json) - 1, ev, __FILE__, __LINE__)
#define PARSE_ERR(json, want) \
	parse_err_at("" json, sizeof(json) - 1, want, __FILE__, __LINE__)
/* For built strings. */
#define PARSE_OK_S(json, ev) \
	parse_ok_at(json, strlen(json), ev, __FILE__, __LINE__)
#define PARSE_ERR_S(json, want) \
	parse_err_at(json, strlen(json), want, __FILE__, __LINE__)

static void
str_eq_at(struct strview s, const char *want, const char *file, int line)
{
	if (want == NULL) {
		if (s.p != NULL)
			fail_msg("%s:%d: want absent, got '%.*s'", file, line,
			    (int)s.n, s.p);
		return;
	}
	if (s.p == NULL)
		fail_msg("%s:%d: want '%s', got absent", file, line, want);
	if (s.n != strlen(want) || memcmp(s.p, want, s.n) != 0)
		fail_msg("%s:%d: got '%.*s'\n   want '%s'", file, line,
		    (int)s.n, s.p, want);
}

#define STR_EQ(s, want)	str_eq_at(s, want, __FILE__, __LINE__)

/* An event with T0 and one more member, "key":value. */
static char *
with_member(const char *key, const char *value)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "{" T0 ",\"%s\":%s}", key, value);
	return buf;
}

/* ---- fields -------------------------------------------------------------- */

static void
test_minimal_event(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 "}", &ev);
	STR_EQ(ev.id, "e1");
	assert_int_equal(ev.occurred_us, T0_US);
	assert_int_equal(ev.severity, -1);
	STR_EQ(ev.supplier, NULL);
	STR_EQ(ev.category, NULL);
	STR_EQ(ev.action, NULL);
	STR_EQ(ev.outcome, NULL);
	STR_EQ(ev.actor_user, NULL);
	STR_EQ(ev.target, NULL);
	STR_EQ(ev.message, NULL);
	STR_EQ(ev.attrs, NULL);
	assert_int_equal(ev.src_family, 0);
	assert_int_equal(ev.has_seq, 0);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(ev.personal_data, 0);
	event_clear(&ev);
	assert_null(ev.root);
	/* Whitespace around the object is allowed. */
	PARSE_OK(" \t\r\n{ \"id\" : \"e1\" ,\n\"time\" :\"2024-02-29T12:34:56Z\" }"
	    " \r\n", &ev);
	STR_EQ(ev.id, "e1");
	event_clear(&ev);
	/* Clearing twice is harmless. */
	event_clear(&ev);
}

static void
test_all_fields_nested(void **state)
{
	static const unsigned char ip[4] = { 10, 20, 4, 2 };
	struct sec_event ev;

	(void)state;
	PARSE_OK("{\"supplier\":\"demo\",\"id\":\"evt-0003\","
	    "\"time\":\"2026-10-02T13:05:00+02:00\",\"severity\":\"high\","
	    "\"category\":\"data_access\",\"action\":\"export\","
	    "\"outcome\":\"success\",\"actor\":{\"user\":\"svc-report\"},"
	    "\"src\":{\"ip\":\"10.20.4.2\"},\"target\":\"elevregister\","
	    "\"message\":\"Bulk export of 1 204 pupil records\",\"seq\":42,"
	    "\"personal_data\":true,\"export_rows\":1204}", &ev);
	STR_EQ(ev.supplier, "demo");
	STR_EQ(ev.id, "evt-0003");
	assert_int_equal(ev.occurred_us, 1790939100000000LL);
	assert_int_equal(ev.severity, 4);
	STR_EQ(ev.category, "data_access");
	STR_EQ(ev.action, "export");
	STR_EQ(ev.outcome, "success");
	STR_EQ(ev.actor_user, "svc-report");
	assert_int_equal(ev.src_family, 4);
	assert_memory_equal(ev.src_ip, ip, 4);
	STR_EQ(ev.target, "elevregister");
	STR_EQ(ev.message, "Bulk export of 1 204 pupil records");
	assert_int_equal(ev.has_seq, 1);
	assert_int_equal(ev.seq, 42);
	assert_int_equal(ev.personal_data, 1);
	STR_EQ(ev.attrs, "{\"export_rows\":1204}");
	event_clear(&ev);
}

static void
test_dotted_keys(void **state)
{
	static const unsigned char ip[4] = { 10, 20, 7, 31 };
	struct sec_event ev;

	(void)state;
	PARSE_OK("{\"supplier\":\"demo\",\"id\":\"evt-0004\","
	    "\"time\":\"2026-10-03T22:47:19.250Z\",\"severity\":4,"
	    "\"category\":\"malware\",\"action\":\"quarantine\","
	    "\"outcome\":\"success\",\"target\":\"LAPTOP-0451\","
	    "\"message\":\"Endpoint protection quarantined\","
	    "\"actor.user\":\"anna.larsson\",\"src.ip\":\"10.20.7.31\"}", &ev);
	assert_int_equal(ev.occurred_us, 1791067639250000LL);
	assert_int_equal(ev.severity, 4);
	STR_EQ(ev.actor_user, "anna.larsson");
	assert_int_equal(ev.src_family, 4);
	assert_memory_equal(ev.src_ip, ip, 4);
	STR_EQ(ev.attrs, NULL);
	event_clear(&ev);

	/* Nested and dotted forms of the same field: the later one wins. */
	PARSE_OK("{" T0 ",\"actor\":{\"user\":\"a\"},\"actor.user\":\"b\"}", &ev);
	STR_EQ(ev.actor_user, "b");
	STR_EQ(ev.attrs, NULL);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"src.ip\":\"10.0.0.1\",\"src\":{\"ip\":\"::1\"}}", &ev);
	assert_int_equal(ev.src_family, 6);
	event_clear(&ev);
}

static void
test_src_ip(void **state)
{
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0x0a };
	static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 192, 0, 2, 1 };
	static const unsigned char v4[4] = { 203, 0, 113, 77 };
	static const unsigned char zero[16] = { 0 };
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"src\":{\"ip\":\"2001:DB8::a\"}}", &ev);
	assert_int_equal(ev.src_family, 6);
	assert_memory_equal(ev.src_ip, v6, 16);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"src.ip\":\"2001:db8:0:0:0:0:0:a\"}", &ev);
	assert_int_equal(ev.src_family, 6);
	assert_memory_equal(ev.src_ip, v6, 16);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"src.ip\":\"::ffff:192.0.2.1\"}", &ev);
	assert_int_equal(ev.src_family, 6);
	assert_memory_equal(ev.src_ip, mapped, 16);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"src\":{\"ip\":\"203.0.113.77\"}}", &ev);
	assert_int_equal(ev.src_family, 4);
	assert_memory_equal(ev.src_ip, v4, 4);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"src\":{\"ip\":\"::\"}}", &ev);
	assert_int_equal(ev.src_family, 6);
	assert_memory_equal(ev.src_ip, zero, 16);
	event_clear(&ev);
}

static void
test_src_ip_errors(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", " 10.0.0.1", "10.0.0.1 ",
		"10.0.0.1/24", "fe80::1%eth0", "2001:db8:::1", "::g", "localhost",
		"1.2.3.4:80", "[::1]",
	};
	char json[256], want[256];
	char longip[80];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want),
		    "field 'src.ip' is not an IP address: '%s'", bad[i]);
		snprintf(json, sizeof(json), "{" T0 ",\"src.ip\":\"%s\"}", bad[i]);
		PARSE_ERR_S(json, want);
		snprintf(json, sizeof(json), "{" T0 ",\"src\":{\"ip\":\"%s\"}}",
		    bad[i]);
		PARSE_ERR_S(json, want);
	}
	/* 63 bytes are quoted; 64 and more are not. */
	memset(longip, '1', 63);
	longip[63] = '\0';
	snprintf(want, sizeof(want),
	    "field 'src.ip' is not an IP address: '%s'", longip);
	snprintf(json, sizeof(json), "{" T0 ",\"src.ip\":\"%s\"}", longip);
	PARSE_ERR_S(json, want);
	memset(longip, '1', 64);
	longip[64] = '\0';
	snprintf(json, sizeof(json), "{" T0 ",\"src.ip\":\"%s\"}", longip);
	PARSE_ERR_S(json, "field 'src.ip' is not an IP address");

	PARSE_ERR("{" T0 ",\"src.ip\":167772161}",
	    "field 'src.ip' must be a string, got int");
	PARSE_ERR("{" T0 ",\"src\":{\"ip\":true}}",
	    "field 'src.ip' must be a string, got boolean");
	PARSE_ERR("{" T0 ",\"src\":{\"ip\":[\"10.0.0.1\"]}}",
	    "field 'src.ip' must be a string, got array");
	PARSE_ERR("{" T0 ",\"src\":\"10.0.0.1\"}",
	    "field 'src' must be an object, got string");
	PARSE_ERR("{" T0 ",\"src\":[]}", "field 'src' must be an object, got array");
	PARSE_ERR("{" T0 ",\"actor\":\"anna\"}",
	    "field 'actor' must be an object, got string");
	PARSE_ERR("{" T0 ",\"actor\":1}", "field 'actor' must be an object, got int");
}

static void
test_severity_numbers(void **state)
{
	struct sec_event ev;
	char v[16];

	(void)state;
	for (int s = 0; s <= 6; s++) {
		snprintf(v, sizeof(v), "%d", s);
		PARSE_OK_S(with_member("severity", v), &ev);
		assert_int_equal(ev.severity, s);
		event_clear(&ev);
	}
	PARSE_ERR("{" T0 ",\"severity\":7}",
	    "field 'severity' must be 0..6 or a name, got 7");
	PARSE_ERR("{" T0 ",\"severity\":-1}",
	    "field 'severity' must be 0..6 or a name, got -1");
	PARSE_ERR("{" T0 ",\"severity\":-9223372036854775808}",
	    "field 'severity' must be 0..6 or a name, got -9223372036854775808");
	/* Above INT64_MAX json-c saturates. */
	PARSE_ERR("{" T0 ",\"severity\":18446744073709551615}",
	    "field 'severity' must be 0..6 or a name, got 9223372036854775807");
	PARSE_ERR("{" T0 ",\"severity\":4.0}",
	    "field 'severity' must be an integer or a string, got double");
	PARSE_ERR("{" T0 ",\"severity\":true}",
	    "field 'severity' must be an integer or a string, got boolean");
	PARSE_ERR("{" T0 ",\"severity\":[4]}",
	    "field 'severity' must be an integer or a string, got array");
	PARSE_ERR("{" T0 ",\"severity\":{}}",
	    "field 'severity' must be an integer or a string, got object");
	PARSE_OK("{" T0 ",\"severity\":null}", &ev);
	assert_int_equal(ev.severity, -1);
	event_clear(&ev);
}

static void
test_severity_names(void **state)
{
	static const struct { const char *name; int want; } names[] = {
		{ "unknown", 0 }, { "informational", 1 }, { "info", 1 },
		{ "low", 2 }, { "medium", 3 }, { "high", 4 }, { "critical", 5 },
		{ "fatal", 6 }, { "UNKNOWN", 0 }, { "Info", 1 }, { "INFO", 1 },
		{ "Informational", 1 }, { "HIGH", 4 }, { "CrItIcAl", 5 },
	};
	static const char *const bad[] = {
		"", "inf", "information", "informationa", "infos", "hi", "high ",
		" high", "warning", "error", "4", "very-high", "med",
	};
	struct sec_event ev;
	char v[64];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(v, sizeof(v), "\"%s\"", names[i].name);
		PARSE_OK_S(with_member("severity", v), &ev);
		assert_int_equal(ev.severity, names[i].want);
		event_clear(&ev);
		assert_int_equal(severity_from_name(names[i].name,
		    strlen(names[i].name)), names[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(v, sizeof(v), "\"%s\"", bad[i]);
		PARSE_ERR_S(with_member("severity", v),
		    "field 'severity' must be 0..6 or one of " NAMES);
		assert_int_equal(severity_from_name(bad[i], strlen(bad[i])), -1);
	}
	/* Only n bytes count, whatever follows them. */
	assert_int_equal(severity_from_name("highest", 4), 4);
	assert_int_equal(severity_from_name("informational", 4), 1);
	assert_int_equal(severity_from_name("lowx", 3), 2);
	assert_int_equal(severity_from_name("fatal", 4), -1);
	assert_int_equal(severity_from_name("", 0), -1);
}

static void
test_seq(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"seq\":0}", &ev);
	assert_int_equal(ev.has_seq, 1);
	assert_int_equal(ev.seq, 0);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"seq\":9223372036854775807}", &ev);
	assert_int_equal(ev.has_seq, 1);
	assert_int_equal(ev.seq, INT64_MAX);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"seq\":null}", &ev);
	assert_int_equal(ev.has_seq, 0);
	event_clear(&ev);
	PARSE_ERR("{" T0 ",\"seq\":-1}",
	    "field 'seq' must be 0..9223372036854775807");
	PARSE_ERR("{" T0 ",\"seq\":9223372036854775808}",
	    "field 'seq' must be 0..9223372036854775807");
	PARSE_ERR("{" T0 ",\"seq\":99999999999999999999}",
	    "field 'seq' must be 0..9223372036854775807");
	PARSE_ERR("{" T0 ",\"seq\":1.0}", "field 'seq' must be an integer, got double");
	PARSE_ERR("{" T0 ",\"seq\":1e3}", "field 'seq' must be an integer, got double");
	PARSE_ERR("{" T0 ",\"seq\":\"5\"}", "field 'seq' must be an integer, got string");
	PARSE_ERR("{" T0 ",\"seq\":true}", "field 'seq' must be an integer, got boolean");
	PARSE_ERR("{" T0 ",\"seq\":[1]}", "field 'seq' must be an integer, got array");
}

static void
test_personal_data(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"personal_data\":true}", &ev);
	assert_int_equal(ev.personal_data, 1);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"personal_data\":false}", &ev);
	assert_int_equal(ev.personal_data, 0);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"personal_data\":null}", &ev);
	assert_int_equal(ev.personal_data, 0);
	event_clear(&ev);
	PARSE_ERR("{" T0 ",\"personal_data\":1}",
	    "field 'personal_data' must be true or false, got int");
	PARSE_ERR("{" T0 ",\"personal_data\":\"true\"}",
	    "field 'personal_data' must be true or false, got string");
	PARSE_ERR("{" T0 ",\"personal_data\":{}}",
	    "field 'personal_data' must be true or false, got object");
}

static void
test_null_is_absent(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"supplier\":null,\"severity\":null,\"category\":null,"
	    "\"action\":null,\"outcome\":null,\"target\":null,\"message\":null,"
	    "\"actor.user\":null,\"src.ip\":null,\"actor\":null,\"src\":null,"
	    "\"seq\":null,\"personal_data\":null}", &ev);
	STR_EQ(ev.supplier, NULL);
	assert_int_equal(ev.severity, -1);
	STR_EQ(ev.category, NULL);
	STR_EQ(ev.action, NULL);
	STR_EQ(ev.outcome, NULL);
	STR_EQ(ev.target, NULL);
	STR_EQ(ev.message, NULL);
	STR_EQ(ev.actor_user, NULL);
	assert_int_equal(ev.src_family, 0);
	assert_int_equal(ev.has_seq, 0);
	assert_int_equal(ev.personal_data, 0);
	STR_EQ(ev.attrs, NULL);
	event_clear(&ev);
	/* Null members of the nested objects are absent too. */
	PARSE_OK("{" T0 ",\"actor\":{\"user\":null},\"src\":{\"ip\":null}}", &ev);
	STR_EQ(ev.actor_user, NULL);
	assert_int_equal(ev.src_family, 0);
	STR_EQ(ev.attrs, NULL);
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"actor\":{},\"src\":{}}", &ev);
	STR_EQ(ev.attrs, NULL);
	event_clear(&ev);
	/* Empty strings are present, not absent. */
	PARSE_OK("{" T0 ",\"message\":\"\",\"supplier\":\"\"}", &ev);
	STR_EQ(ev.message, "");
	STR_EQ(ev.supplier, "");
	event_clear(&ev);
}

static void
test_string_field_types(void **state)
{
	static const char *const fields[] = {
		"supplier", "category", "action", "outcome", "target", "message",
		"actor.user",
	};
	static const struct { const char *value, *type; } values[] = {
		{ "1", "int" }, { "1.5", "double" }, { "true", "boolean" },
		{ "[\"x\"]", "array" }, { "{\"x\":1}", "object" },
	};
	char want[128];

	(void)state;
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			snprintf(want, sizeof(want),
			    "field '%s' must be a string, got %s", fields[f],
			    values[v].type);
			PARSE_ERR_S(with_member(fields[f], values[v].value), want);
		}
	}
	PARSE_ERR("{" T0 ",\"actor\":{\"user\":5}}",
	    "field 'actor.user' must be a string, got int");
	PARSE_ERR("{" T0 ",\"actor\":{\"user\":{\"name\":\"a\"}}}",
	    "field 'actor.user' must be a string, got object");
}

static void
test_string_values(void **state)
{
	struct sec_event ev;

	(void)state;
	/* Escapes are decoded; UTF-8 passes through. */
	PARSE_OK("{" T0 ",\"message\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac"
	    "\\ud834\\udd1e \xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"}", &ev);
	STR_EQ(ev.message, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e "
	    "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e");
	event_clear(&ev);
	/* The id length counts decoded bytes. */
	PARSE_OK("{\"id\":\"\\u00e9\",\"time\":\"2024-02-29T12:34:56Z\"}", &ev);
	STR_EQ(ev.id, "\xc3\xa9");
	event_clear(&ev);
}

/* ---- attrs --------------------------------------------------------------- */

static void
test_attrs_unknown_fields(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{\"zeta\":1," T0 ",\"alpha\":\"x\",\"list\":[1,\"/\",{\"k\":null}],"
	    "\"obj\":{\"n\":-2.5,\"e\":1E2},\"flag\":false,\"nothing\":null,"
	    "\"message\":\"m\",\"big\":18446744073709551615}", &ev);
	/* Mapped fields stay out; order and number text are kept. */
	STR_EQ(ev.attrs, "{\"zeta\":1,\"alpha\":\"x\",\"list\":[1,\"/\",{\"k\":null}],"
	    "\"obj\":{\"n\":-2.5,\"e\":1E2},\"flag\":false,\"nothing\":null,"
	    "\"big\":18446744073709551615}");
	STR_EQ(ev.message, "m");
	event_clear(&ev);

	/* Dotted keys other than actor.user and src.ip stay as they are. */
	PARSE_OK("{" T0 ",\"actor.role\":\"admin\",\"src.port\":22,"
	    "\"dst.ip\":\"10.0.0.1\"}", &ev);
	STR_EQ(ev.attrs, "{\"actor.role\":\"admin\",\"src.port\":22,"
	    "\"dst.ip\":\"10.0.0.1\"}");
	assert_int_equal(ev.src_family, 0);
	event_clear(&ev);

	/* A duplicate key: json-c keeps the last value. */
	PARSE_OK("{\"id\":\"first\"," T0 ",\"x\":1,\"x\":2}", &ev);
	STR_EQ(ev.id, "e1");
	STR_EQ(ev.attrs, "{\"x\":2}");
	event_clear(&ev);
}

static void
test_attrs_nested_members(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"actor\":{\"user\":\"admin.extern\",\"mfa\":false,"
	    "\"groups\":[\"a\",\"b\"]},\"src\":{\"port\":5353,\"ip\":\"10.0.0.1\","
	    "\"geo\":{\"cc\":\"SE\"}},\"x\":1}", &ev);
	STR_EQ(ev.actor_user, "admin.extern");
	assert_int_equal(ev.src_family, 4);
	STR_EQ(ev.attrs, "{\"actor\":{\"mfa\":false,\"groups\":[\"a\",\"b\"]},"
	    "\"src\":{\"port\":5353,\"geo\":{\"cc\":\"SE\"}},\"x\":1}");
	event_clear(&ev);

	/* Without user or ip, the whole nested object is kept. */
	PARSE_OK("{" T0 ",\"actor\":{\"name\":\"Anna\"},\"src\":{\"host\":\"h\"}}",
	    &ev);
	STR_EQ(ev.actor_user, NULL);
	assert_int_equal(ev.src_family, 0);
	STR_EQ(ev.attrs, "{\"actor\":{\"name\":\"Anna\"},\"src\":{\"host\":\"h\"}}");
	event_clear(&ev);

	/* "user" inside src and "ip" inside actor are not mapped. */
	PARSE_OK("{" T0 ",\"src\":{\"user\":\"u\"},\"actor\":{\"ip\":\"10.0.0.1\"}}",
	    &ev);
	STR_EQ(ev.actor_user, NULL);
	assert_int_equal(ev.src_family, 0);
	STR_EQ(ev.attrs, "{\"src\":{\"user\":\"u\"},\"actor\":{\"ip\":\"10.0.0.1\"}}");
	event_clear(&ev);

	/* A nested null member other than user/ip is kept as null. */
	PARSE_OK("{" T0 ",\"actor\":{\"user\":\"u\",\"dept\":null}}", &ev);
	STR_EQ(ev.attrs, "{\"actor\":{\"dept\":null}}");
	event_clear(&ev);
}

static void
test_attrs_escaping(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"
	    "\xc3\xa9\xf0\x9d\x84\x9e\",\"k\\\"ey\":1}", &ev);
	STR_EQ(ev.attrs, "{\"s\":\"q\\\"b\\\\s/\\u0008\\u000c\\n\\r\\t\\u0001"
	    "\\u001f\\u007f\xc3\xa9\xf0\x9d\x84\x9e\",\"k\\\"ey\":1}");
	event_clear(&ev);
}

/* ---- id and time --------------------------------------------------------- */

static void
test_id_errors(void **state)
{
	struct sec_event ev;
	char id[400], json[600];

	(void)state;
	PARSE_ERR("{\"time\":\"2024-02-29T12:34:56Z\"}",
	    "missing required field 'id'");
	PARSE_ERR("{\"id\":null,\"time\":\"2024-02-29T12:34:56Z\"}",
	    "missing required field 'id'");
	PARSE_ERR("{}", "missing required field 'id'");
	PARSE_ERR("{\"ID\":\"e1\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    "missing required field 'id'");
	/* id is checked before time. */
	PARSE_ERR("{\"id\":5,\"time\":5}", "field 'id' must be a string, got int");
	PARSE_ERR("{\"id\":1.5,\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' must be a string, got double");
	PARSE_ERR("{\"id\":[\"e1\"],\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' must be a string, got array");
	PARSE_ERR("{\"id\":{},\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' must be a string, got object");
	PARSE_ERR("{\"id\":false,\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' must be a string, got boolean");
	PARSE_ERR("{\"id\":\"\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' must not be empty");

	/* 256 bytes is the limit, counted in bytes, not characters. */
	memset(id, 'a', 256);
	id[256] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    id);
	PARSE_OK_S(json, &ev);
	assert_int_equal(ev.id.n, 256);
	event_clear(&ev);
	id[256] = 'a';
	id[257] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    id);
	PARSE_ERR_S(json, "field 'id' is longer than 256 bytes");
	for (int i = 0; i < 128; i++)
		memcpy(id + 2 * i, "\xc3\xa9", 2);
	id[256] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    id);
	PARSE_OK_S(json, &ev);
	assert_int_equal(ev.id.n, 256);
	event_clear(&ev);
	memcpy(id + 256, "\xc3\xa9", 3);
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    id);
	PARSE_ERR_S(json, "field 'id' is longer than 256 bytes");
}

static void
test_time_errors(void **state)
{
	(void)state;
	PARSE_ERR("{\"id\":\"e1\"}", "missing required field 'time'");
	PARSE_ERR("{\"id\":\"e1\",\"time\":null}", "missing required field 'time'");
	PARSE_ERR("{\"id\":\"e1\",\"Time\":\"2024-02-29T12:34:56Z\"}",
	    "missing required field 'time'");
	PARSE_ERR("{\"id\":\"e1\",\"time\":1709210096}",
	    "field 'time' must be an RFC 3339 string, got int");
	PARSE_ERR("{\"id\":\"e1\",\"time\":1709210096.5}",
	    "field 'time' must be an RFC 3339 string, got double");
	PARSE_ERR("{\"id\":\"e1\",\"time\":{}}",
	    "field 'time' must be an RFC 3339 string, got object");
	PARSE_ERR("{\"id\":\"e1\",\"time\":[]}",
	    "field 'time' must be an RFC 3339 string, got array");
	PARSE_ERR("{\"id\":\"e1\",\"time\":true}",
	    "field 'time' must be an RFC 3339 string, got boolean");
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"\"}",
	    "field 'time' is not an RFC 3339 date-time: ''");
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2026-10-05T25:61:00Z\"}",
	    "field 'time' is not an RFC 3339 date-time: '2026-10-05T25:61:00Z'");
	/* At most 40 bytes of the value are quoted... */
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2024-01-01T00:00:00.000000000000000000000Z?\"}",
	    "field 'time' is not an RFC 3339 date-time: "
	    "'2024-01-01T00:00:00.00000000000000000000'");
	/* ... and never half a character: the reason must stay UTF-8. */
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2024-01-01T00:00:00.0000000000000000000"
	    "\xc3\xa9xyz\"}",
	    "field 'time' is not an RFC 3339 date-time: "
	    "'2024-01-01T00:00:00.0000000000000000000'");
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2024-01-01T00:00:00.00000000000000000"
	    "\xf0\x9d\x84\x9exyz\"}",
	    "field 'time' is not an RFC 3339 date-time: "
	    "'2024-01-01T00:00:00.00000000000000000'");
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2024-01-01T00:00:00.000000000000000000"
	    "\xc3\xa9xyz\"}",
	    "field 'time' is not an RFC 3339 date-time: "
	    "'2024-01-01T00:00:00.000000000000000000\xc3\xa9'");
}

/* The event's time: accepted forms and values. */
static void
test_time_values(void **state)
{
	static const struct { const char *t; int64_t us; } ok[] = {
		{ "2024-02-29T12:34:56Z", T0_US },
		{ "2024-02-29t12:34:56z", T0_US },
		{ "2024-02-29 12:34:56Z", T0_US },
		{ "2024-02-29T12:34:56+00:00", T0_US },
		{ "2024-02-29T12:34:56-00:00", T0_US },
		{ "2024-02-29T14:34:56+02:00", T0_US },
		{ "2024-02-29T07:04:56-05:30", T0_US },
		{ "2024-03-01T12:33:56+23:59", T0_US },
		{ "2024-02-29T12:34:56.5Z", T0_US + 500000 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01T01:00:00+01:00", 0 },
		{ "2099-12-31T23:59:59.999999Z", EVENT_TIME_MAX_US - 1 },
		{ "2100-01-01T00:30:00+01:00", EVENT_TIME_MAX_US - 1800000000LL },
		{ "2000-02-29T00:00:00Z", 951782400000000LL },
		/* A leap second is the first second of the next minute. */
		{ "2016-12-31T23:59:60Z", 1483228800000000LL },
		{ "2016-12-31T23:59:60.25Z", 1483228800250000LL },
	};
	static const char *const out_of_range[] = {
		"1969-12-31T23:59:59.999999Z", "1970-01-01T00:59:59+01:00",
		"1969-12-31T23:00:00-00:59", "0000-01-01T00:00:00Z",
		"2100-01-01T00:00:00Z", "2099-12-31T23:59:60Z",
		"2099-12-31T23:00:00-01:00", "2100-02-28T00:00:00Z",
		"9999-12-31T23:59:59.999999Z",
	};
	struct sec_event ev;
	char json[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(json, sizeof(json), "{\"id\":\"e1\",\"time\":\"%s\"}",
		    ok[i].t);
		PARSE_OK_S(json, &ev);
		if (ev.occurred_us != ok[i].us)
			fail_msg("%s: got %lld, want %lld", ok[i].t,
			    (long long)ev.occurred_us, (long long)ok[i].us);
		event_clear(&ev);
	}
	for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]);
	    i++) {
		snprintf(json, sizeof(json), "{\"id\":\"e1\",\"time\":\"%s\"}",
		    out_of_range[i]);
		snprintf(want, sizeof(want), "field 'time' is out of range "
		    "(1970-01-01T00:00:00Z up to 2100-01-01T00:00:00Z): '%s'",
		    out_of_range[i]);
		PARSE_ERR_S(json, want);
	}
}

/* ---- RFC 3339 ------------------------------------------------------------ */

static const char *const rfc3339_bad[] = {
	"", "2024", "2024-02-29", "2024-02-29T12:34:56",	/* no offset */
	"2024/02/29T12:34:56Z", "2024-02/29T12:34:56Z", "2024-02-29X12:34:56Z",
	"2024-02-29_12:34:56Z", "2024-02-29T12.34:56Z", "2024-02-29T12:34.56Z",
	"2024-02-29T12-34-56Z", "2024-02-29T12:34Z", "20240229T123456Z",
	"2024-2-29T12:34:56Z", "2024-02-9T12:34:56Z", "2024-02-29T2:34:56Z",
	"24-02-29T12:34:56Z", "+2024-02-29T12:34:56Z", "-2024-02-29T12:34:56Z",
	"2024-02-29T12:34:56 Z", " 2024-02-29T12:34:56Z", "2024-02-29T12:34:56Z ",
	"2024-02-29T12:34:56ZZ", "2024-02-29T12:34:56UTC", "2024-02-29T12:34:56GMT",
	"2024-0a-29T12:34:56Z", "2024-02-29T1a:34:56Z", "2024-02-29T12:34:5aZ",
	"2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-99-01T00:00:00Z",
	"2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z", "2024-04-31T00:00:00Z",
	"2024-06-31T00:00:00Z", "2024-09-31T00:00:00Z", "2024-11-31T00:00:00Z",
	"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
	"2100-02-29T00:00:00Z",
	"2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:61Z",
	"2024-01-01T99:00:00Z",
	"2024-01-01T00:00:00+02", "2024-01-01T00:00:00+0200",
	"2024-01-01T00:00:00+02:0", "2024-01-01T00:00:00+2:00",
	"2024-01-01T00:00:00+02:00:00", "2024-01-01T00:00:00+24:00",
	"2024-01-01T00:00:00+02:60", "2024-01-01T00:00:00*02:00",
	"2024-01-01T00:00:00+02-00", "2024-01-01T00:00:00+", "2024-01-01T00:00:00-",
	"2024-01-01T00:00:00+02:00Z", "2024-01-01T00:00:00Z+02:00",
	"2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.", "2024-01-01T00:00:00,5Z",
	"2024-01-01T00:00:00.5", "2024-01-01T00:00:00.5.5Z",
	"2024-01-01T00:00:00.-5Z", "2024-01-01T00:00:00.5 Z",
	"2024-01-01T00:00:00\xc3\xa9",
};

static void
test_rfc3339_parse_good(void **state)
{
	static const struct { const char *t; int64_t us; } ok[] = {
		{ "2024-02-29T12:34:56Z", T0_US },
		{ "2024-02-29T12:34:56z", T0_US },
		{ "2024-02-29t12:34:56Z", T0_US },
		{ "2024-02-29 12:34:56Z", T0_US },
		{ "2024-02-29T14:34:56+02:00", T0_US },
		{ "2024-02-29T07:04:56-05:30", T0_US },
		{ "2024-02-29T12:34:56.1Z", T0_US + 100000 },
		{ "2024-02-29T12:34:56.12Z", T0_US + 120000 },
		{ "2024-02-29T12:34:56.123Z", T0_US + 123000 },
		{ "2024-02-29T12:34:56.1234Z", T0_US + 123400 },
		{ "2024-02-29T12:34:56.12345Z", T0_US + 123450 },
		{ "2024-02-29T12:34:56.123456Z", T0_US + 123456 },
		/* Digits past the microsecond are dropped, not rounded. */
		{ "2024-02-29T12:34:56.1234567Z", T0_US + 123456 },
		{ "2024-02-29T12:34:56.12345678Z", T0_US + 123456 },
		{ "2024-02-29T12:34:56.123456789Z", T0_US + 123456 },
		{ "2024-02-29T12:34:56.999999999Z", T0_US + 999999 },
		{ "2024-02-29T12:34:56.000000001Z", T0_US },
		{ "2024-02-29T12:34:56.00000000000000000000000000009Z", T0_US },
		{ "2024-02-29T14:34:56.5+02:00", T0_US + 500000 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59Z", -1000000 },
		{ "1969-12-31T23:59:59.5Z", -500000 },
		{ "2099-12-31T23:59:59Z", 4102444799000000LL },
		{ "2100-01-01T00:00:00Z", EVENT_TIME_MAX_US },
		{ "2000-02-29T00:00:00Z", 951782400000000LL },
		{ "2016-12-31T23:59:60Z", 1483228800000000LL },
		{ "2016-06-30T12:00:60Z", 1467288060000000LL },
		{ "2024-12-31T23:59:59Z", 1735689599000000LL },
		{ "2024-03-01T00:00:00+23:59", 1709164860000000LL },
	};
	int64_t us;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		us = 42;
		if (rfc3339_parse(ok[i].t, strlen(ok[i].t), &us) != 0)
			fail_msg("'%s' rejected", ok[i].t);
		if (us != ok[i].us)
			fail_msg("'%s': got %lld, want %lld", ok[i].t,
			    (long long)us, (long long)ok[i].us);
	}
	/* Only the first n bytes count. */
	assert_int_equal(rfc3339_parse("2024-02-29T12:34:56Zjunk", 20, &us), 0);
	assert_int_equal(us, T0_US);
	assert_int_equal(rfc3339_parse("2024-02-29T12:34:56.5Zjunk", 22, &us), 0);
	assert_int_equal(us, T0_US + 500000);
	assert_int_equal(rfc3339_parse("2024-02-29T12:34:56Z", 19, &us), -1);
	assert_int_equal(rfc3339_parse("2024-02-29T12:34:56+02:00", 24, &us), -1);
	assert_int_equal(rfc3339_parse("2024-02-29T12:34:56.5Z", 21, &us), -1);
}

static void
test_rfc3339_parse_bad(void **state)
{
	char json[256], want[256];
	int64_t us;

	(void)state;
	for (size_t i = 0; i < sizeof(rfc3339_bad) / sizeof(rfc3339_bad[0]); i++) {
		const char *t = rfc3339_bad[i];

		us = 42;
		if (rfc3339_parse(t, strlen(t), &us) != -1)
			fail_msg("'%s' accepted as %lld", t, (long long)us);
		assert_int_equal(us, 42);
		/* And through the event, with the value quoted. */
		snprintf(json, sizeof(json), "{\"id\":\"e1\",\"time\":\"%s\"}", t);
		snprintf(want, sizeof(want),
		    "field 'time' is not an RFC 3339 date-time: '%s'", t);
		PARSE_ERR_S(json, want);
	}
}

/* Every prefix of a valid time, in a buffer of exactly that size, so that
 * ASan sees any read past n. */
static void
test_rfc3339_parse_prefixes(void **state)
{
	static const char *const good[] = {
		"2024-02-29T12:34:56Z", "2024-02-29T12:34:56.123456789+02:00",
		"2024-02-29T12:34:56-05:30", "2024-02-29T12:34:56.1z",
	};
	int64_t us;

	(void)state;
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		size_t len = strlen(good[g]);

		for (size_t n = 0; n <= len; n++) {
			char *p = malloc(n ? n : 1);

			assert_non_null(p);
			memcpy(p, good[g], n);
			int rc = rfc3339_parse(p, n, &us);
			free(p);
			if (rc != (n == len ? 0 : -1))
				fail_msg("'%.*s' (n=%zu): rc %d", (int)n, good[g],
				    n, rc);
		}
	}
	for (size_t i = 0; i < sizeof(rfc3339_bad) / sizeof(rfc3339_bad[0]); i++) {
		size_t n = strlen(rfc3339_bad[i]);
		char *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, rfc3339_bad[i], n);
		assert_int_equal(rfc3339_parse(p, n, &us), -1);
		free(p);
	}
}

static void
test_rfc3339_format(void **state)
{
	static const struct { int64_t us; const char *want; } cases[] = {
		{ 0, "1970-01-01T00:00:00.000000Z" },
		{ 1, "1970-01-01T00:00:00.000001Z" },
		{ T0_US + 123456, "2024-02-29T12:34:56.123456Z" },
		{ 951782400000000LL, "2000-02-29T00:00:00.000000Z" },
		{ 1483228800000000LL, "2017-01-01T00:00:00.000000Z" },
		{ EVENT_TIME_MAX_US - 1, "2099-12-31T23:59:59.999999Z" },
		{ EVENT_TIME_MAX_US, "2100-01-01T00:00:00.000000Z" },
		{ -1, "1969-12-31T23:59:59.999999Z" },
		{ -1000000, "1969-12-31T23:59:59.000000Z" },
		{ -86400000000LL, "1969-12-31T00:00:00.000000Z" },
	};
	char out[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		rfc3339_format(cases[i].us, out);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_rfc3339_roundtrip(void **state)
{
	char out[40];
	int64_t us, back;

	(void)state;
	/* A prime step visits every part of the day and the year. */
	for (us = EVENT_TIME_MIN_US; us < EVENT_TIME_MAX_US; us += 3999999999989LL) {
		rfc3339_format(us, out);
		assert_int_equal(strlen(out), 27);
		if (rfc3339_parse(out, 27, &back) != 0 || back != us)
			fail_msg("%lld -> %s -> %lld", (long long)us, out,
			    (long long)back);
	}
	/* Each day's midnight and last microsecond across leap years. */
	for (us = 946684800000000LL; us < 1167609600000000LL; us += 86400000000LL) {
		for (int d = -1; d <= 0; d++) {
			rfc3339_format(us + d, out);
			assert_int_equal(rfc3339_parse(out, 27, &back), 0);
			assert_int_equal(back, us + d);
		}
	}
}

/* ---- malformed input ----------------------------------------------------- */

#define P0	"{" T0 ",\"x\":\""

static void
test_invalid_utf8(void **state)
{
	char want[80];
	size_t off = sizeof(P0) - 1;

	(void)state;
	snprintf(want, sizeof(want), "invalid UTF-8 at byte %zu of the item", off);
	/* Overlong '/', 2 and 3 bytes. */
	PARSE_ERR(P0 "\xc0\xaf" "\"}", want);
	PARSE_ERR(P0 "\xe0\x80\xaf" "\"}", want);
	PARSE_ERR(P0 "\xf0\x80\x80\xaf" "\"}", want);
	/* A UTF-16 surrogate encoded in UTF-8 (CESU-8). */
	PARSE_ERR(P0 "\xed\xa0\x80" "\"}", want);
	PARSE_ERR(P0 "\xed\xa0\xbd\xed\xb8\x80" "\"}", want);
	/* Truncated sequences, inside the string and at the end of the item. */
	PARSE_ERR(P0 "\xe2\x82" "\"}", want);
	PARSE_ERR(P0 "\xf0\x9d\x84" "\"}", want);
	PARSE_ERR(P0 "\xc3", want);
	/* Above U+10FFFF, bytes that never occur, a stray continuation byte. */
	PARSE_ERR(P0 "\xf4\x90\x80\x80" "\"}", want);
	PARSE_ERR(P0 "\xf5\x80\x80\x80" "\"}", want);
	PARSE_ERR(P0 "\xff" "\"}", want);
	PARSE_ERR(P0 "\x80" "\"}", want);
	/* A raw NUL byte. */
	PARSE_ERR(P0 "\0" "\"}", want);
	/* The offset is of the first bad byte, after valid multi-byte text. */
	snprintf(want, sizeof(want), "invalid UTF-8 at byte %zu of the item",
	    off + 9);
	PARSE_ERR(P0 "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e" "\xc0\x80" "\"}", want);
	snprintf(want, sizeof(want), "invalid UTF-8 at byte %zu of the item",
	    sizeof("\xef\xbb\xbf{" T0) - 1);
	PARSE_ERR("\xef\xbb\xbf{" T0 "\xa0}", want);
	PARSE_ERR("\x80{" T0 "}", "invalid UTF-8 at byte 0 of the item");
	/* In a key. */
	PARSE_ERR("{\"\xc0\xaf\":1}", "invalid UTF-8 at byte 2 of the item");
}

static void
test_nul_escape(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_ERR("{" T0 ",\"x\":\"a\\u0000b\"}",
	    "field 'x' holds a NUL or a lone surrogate after unescaping");
	PARSE_ERR("{\"id\":\"e\\u0000\",\"time\":\"2024-02-29T12:34:56Z\"}",
	    "field 'id' holds a NUL or a lone surrogate after unescaping");
	PARSE_ERR("{\"id\":\"e1\",\"time\":\"2024-02-29T12:34:56Z\\u0000\"}",
	    "field 'time' holds a NUL or a lone surrogate after unescaping");
	PARSE_ERR("{" T0 ",\"message\":\"\\u0000\"}",
	    "field 'message' holds a NUL or a lone surrogate after unescaping");
	/* Inside nested values the top-level field is named. */
	PARSE_ERR("{" T0 ",\"actor\":{\"user\":\"\\u0000\"}}",
	    "field 'actor' holds a NUL or a lone surrogate after unescaping");
	PARSE_ERR("{" T0 ",\"l\":[\"ok\",[\"\\u0000\"]]}",
	    "field 'l' holds a NUL or a lone surrogate after unescaping");
	PARSE_ERR("{" T0 ",\"a\":{\"b\":{\"c\":\"x\\u0000\"}}}",
	    "field 'a' holds a NUL or a lone surrogate after unescaping");
	/* json-c cuts a key at an escaped NUL; the value is kept under the
	 * shortened key. */
	PARSE_OK("{" T0 ",\"k\\u0000ey\":1}", &ev);
	STR_EQ(ev.attrs, "{\"k\":1}");
	event_clear(&ev);
}

/* json-c 0.16 replaces a lone surrogate escape with U+FFFD, so it never
 * reaches the NUL/surrogate check; a valid pair decodes normally. */
static void
test_surrogate_escapes(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_OK("{" T0 ",\"message\":\"a\\ud800b\"}", &ev);
	STR_EQ(ev.message, "a\xef\xbf\xbd" "b");
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"x\":\"\\udc00\"}", &ev);
	STR_EQ(ev.attrs, "{\"x\":\"\xef\xbf\xbd\"}");
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"x\":\"\\ud800\\u0041\"}", &ev);
	STR_EQ(ev.attrs, "{\"x\":\"\xef\xbf\xbd" "A\"}");
	event_clear(&ev);
	PARSE_OK("{" T0 ",\"message\":\"\\ud83d\\ude00\"}", &ev);
	STR_EQ(ev.message, "\xf0\x9f\x98\x80");
	event_clear(&ev);
}

static void
test_invalid_json(void **state)
{
	struct sec_event ev;
	char want[80];
	size_t end = sizeof("{" T0 "}") - 1;

	(void)state;
	assert_int_equal(event_parse_json((const unsigned char *)"", 0, &ev, want,
	    sizeof(want)), -1);
	assert_string_equal(want, "invalid JSON: empty item");
	PARSE_ERR(" ", "invalid JSON: unexpected end of item");
	PARSE_ERR(" \r\n\t", "invalid JSON: unexpected end of item");
	PARSE_ERR("{", "invalid JSON: unexpected end of item");
	PARSE_ERR("{\"id\":\"e1\"", "invalid JSON: unexpected end of item");
	PARSE_ERR("{\"id\":\"e1", "invalid JSON: unexpected end of item");
	PARSE_ERR("{\"id\":1", "invalid JSON: unexpected end of item");
	PARSE_ERR("{\"id\":tru", "invalid JSON: unexpected end of item");
	PARSE_ERR("[1,", "invalid JSON: unexpected end of item");
	PARSE_ERR("-", "invalid JSON: unexpected end of item");
	PARSE_ERR("{\"id\":}", "invalid JSON at byte 6: unexpected character");
	PARSE_ERR("{\"id\":\"e1\",}", "invalid JSON at byte 11: unexpected character");
	PARSE_ERR("{\"id\" \"e1\"}", "invalid JSON at byte 6: object property name separator ':' expected");
	PARSE_ERR("{\"id\":\"e1\" \"x\":1}", "invalid JSON at byte 11: object value separator ',' expected");
	PARSE_ERR("{\"x\":[1,]}", "invalid JSON at byte 8: unexpected character");
	PARSE_ERR("{\"x\":'a'}", "invalid JSON at byte 5: unexpected character");
	PARSE_ERR("{\"x\":01}", "invalid JSON at byte 7: number expected");
	PARSE_ERR("{\"x\":nul}", "invalid JSON at byte 8: null expected");
	PARSE_ERR("{\"x\":\"\\q\"}", "invalid JSON at byte 7: invalid string sequence");
	PARSE_ERR("}", "invalid JSON at byte 0: unexpected character");
	/* Trailing garbage after the object. */
	snprintf(want, sizeof(want), "invalid JSON at byte %zu: unexpected character",
	    end + 1);
	PARSE_ERR("{" T0 "} x", want);
	PARSE_ERR("{" T0 "} ,", want);
	snprintf(want, sizeof(want), "invalid JSON at byte %zu: unexpected character",
	    end);
	PARSE_ERR("{" T0 "}{}", want);
	PARSE_ERR("{" T0 "}]", want);
	PARSE_ERR("{" T0 "}\"\"", want);
	/* Only the given length is read. */
	assert_int_equal(event_parse_json((const unsigned char *)"{" T0 "}garbage",
	    end, &ev, want, sizeof(want)), 0);
	event_clear(&ev);
}

static void
test_not_an_object(void **state)
{
	(void)state;
	PARSE_ERR("[]", "item must be a JSON object, got array");
	PARSE_ERR("[{" T0 "}]", "item must be a JSON object, got array");
	PARSE_ERR(" [1] ", "item must be a JSON object, got array");
	PARSE_ERR("1", "item must be a JSON object, got int");
	PARSE_ERR("1 ", "item must be a JSON object, got int");
	PARSE_ERR("-5", "item must be a JSON object, got int");
	PARSE_ERR("1.5", "item must be a JSON object, got double");
	PARSE_ERR("1e5\n", "item must be a JSON object, got double");
	PARSE_ERR("\"x\"", "item must be a JSON object, got string");
	PARSE_ERR("true", "item must be a JSON object, got boolean");
	PARSE_ERR("false ", "item must be a JSON object, got boolean");
	PARSE_ERR("null", "item must be a JSON object, got null");
	PARSE_ERR(" null ", "item must be a JSON object, got null");
}

/* json-c's default depth limit is 32 levels, the item object included. */
static void
test_nesting_depth(void **state)
{
	struct sec_event ev;
	char json[512], want[80];

	(void)state;
	for (int d = 29; d <= 40; d++) {
		/* T0 and then d nested arrays. */
		int n = snprintf(json, sizeof(json), "{" T0 ",\"x\":");
		size_t fail_at = (size_t)n + 31;	/* the 33rd level */

		for (int i = 0; i < d; i++)
			json[n++] = '[';
		for (int i = 0; i < d; i++)
			json[n++] = ']';
		json[n++] = '}';
		json[n] = '\0';
		if (d <= 31) {
			PARSE_OK_S(json, &ev);
			event_clear(&ev);
		} else {
			snprintf(want, sizeof(want),
			    "invalid JSON at byte %zu: nesting too deep", fail_at);
			PARSE_ERR_S(json, want);
		}
	}
	for (int d = 30; d <= 33; d++) {
		/* T0 and then d nested objects {"a":{"a":...{}}}. */
		int n = snprintf(json, sizeof(json), "{" T0);
		size_t fail_at = 0;

		for (int i = 0; i < d; i++) {
			n += snprintf(json + n, sizeof(json) - (size_t)n,
			    i ? "\"a\":{" : ",\"a\":{");
			if (i == 31)
				fail_at = (size_t)n - 1;
		}
		for (int i = 0; i < d; i++)
			json[n++] = '}';
		json[n++] = '}';
		json[n] = '\0';
		if (d <= 31) {
			PARSE_OK_S(json, &ev);
			event_clear(&ev);
		} else {
			snprintf(want, sizeof(want),
			    "invalid JSON at byte %zu: nesting too deep", fail_at);
			PARSE_ERR_S(json, want);
		}
	}
}

static void
test_nonfinite_numbers(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_ERR("{" T0 ",\"x\":1e999}", "field 'x' holds a number out of range");
	PARSE_ERR("{" T0 ",\"x\":-1e999}", "field 'x' holds a number out of range");
	PARSE_ERR("{" T0 ",\"x\":NaN}", "field 'x' holds a number out of range");
	PARSE_ERR("{" T0 ",\"x\":Infinity}", "field 'x' holds a number out of range");
	PARSE_ERR("{" T0 ",\"x\":-Infinity}", "field 'x' holds a number out of range");
	PARSE_ERR("{" T0 ",\"a\":[1,{\"b\":1e400}]}",
	    "field 'a' holds a number out of range");
	PARSE_ERR("{" T0 ",\"severity\":1e999}",
	    "field 'severity' holds a number out of range");
	PARSE_OK("{" T0 ",\"x\":1e308,\"y\":-1e-400}", &ev);
	STR_EQ(ev.attrs, "{\"x\":1e308,\"y\":-1e-400}");
	event_clear(&ev);
}

/* The parser keeps per-thread memory: a writer thread parses, then frees
 * it before it ends (ASan's leak check sees any left over). */
static void *
parse_in_thread(void *arg)
{
	static const char item[] = "{" T0 ",\"actor\":{\"user\":\"u\",\"x\":1}}";
	static const char attrs[] = "{\"actor\":{\"x\":1}}";
	struct sec_event ev;
	char err[256];
	int *ok = arg;

	if (event_parse_json((const unsigned char *)item, sizeof(item) - 1, &ev,
	    err, sizeof(err)) == 0) {
		*ok = ev.attrs.n == sizeof(attrs) - 1 &&
		    memcmp(ev.attrs.p, attrs, ev.attrs.n) == 0;
		event_clear(&ev);
	}
	event_parser_thread_done();
	event_parser_thread_done();	/* harmless twice */
	return NULL;
}

static void
test_parser_thread(void **state)
{
	pthread_t t;
	int ok = 0;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, parse_in_thread, &ok), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(ok);
}

static int
teardown_parser(void **state)
{
	(void)state;
	event_parser_thread_done();
	return 0;
}

#define NOT_STRICT(field, text) \
	"field '" field "' holds a number that is not strict JSON: '" text "'"

/* json-c reads numbers that jsonb refuses; attrs keeps a number's text, so
 * these are refused up front. */
static void
test_number_text(void **state)
{
	struct sec_event ev;

	(void)state;
	PARSE_ERR("{" T0 ",\"x\":1.}", NOT_STRICT("x", "1."));
	PARSE_ERR("{" T0 ",\"x\":0.}", NOT_STRICT("x", "0."));
	PARSE_ERR("{" T0 ",\"x\":-0.}", NOT_STRICT("x", "-0."));
	PARSE_ERR("{" T0 ",\"x\":-.5}", NOT_STRICT("x", "-.5"));
	PARSE_ERR("{" T0 ",\"x\":00.5}", NOT_STRICT("x", "00.5"));
	PARSE_ERR("{" T0 ",\"x\":1.e5}", NOT_STRICT("x", "1.e5"));
	PARSE_ERR("{" T0 ",\"x\":2.e-3}", NOT_STRICT("x", "2.e-3"));
	PARSE_ERR("{" T0 ",\"a\":[1,{\"b\":2.}]}", NOT_STRICT("a", "2."));
	PARSE_ERR("{" T0 ",\"actor\":{\"user\":\"u\",\"n\":7.}}",
	    NOT_STRICT("actor", "7."));
	/* Before the field's own check. */
	PARSE_ERR("{" T0 ",\"seq\":1.}", NOT_STRICT("seq", "1."));
	/* The text is quoted up to 40 bytes. */
	PARSE_ERR("{" T0 ",\"x\":0012345678901234567890123456789012345678901234.5}",
	    NOT_STRICT("x", "0012345678901234567890123456789012345678"));
	/* Strict forms keep their text. */
	PARSE_OK("{" T0 ",\"a\":0.5,\"b\":-0.0,\"c\":1e5,\"d\":1E+2,"
	    "\"e\":1.5e-3,\"f\":0e0,\"g\":-1E-07,\"h\":10.010}", &ev);
	STR_EQ(ev.attrs, "{\"a\":0.5,\"b\":-0.0,\"c\":1e5,\"d\":1E+2,"
	    "\"e\":1.5e-3,\"f\":0e0,\"g\":-1E-07,\"h\":10.010}");
	event_clear(&ev);
	/* json-c reads an integer with a leading zero after '-' as the
	 * integer; attrs gets the plain number. */
	PARSE_OK("{" T0 ",\"x\":-01}", &ev);
	STR_EQ(ev.attrs, "{\"x\":-1}");
	event_clear(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_event),
		cmocka_unit_test(test_all_fields_nested),
		cmocka_unit_test(test_dotted_keys),
		cmocka_unit_test(test_src_ip),
		cmocka_unit_test(test_src_ip_errors),
		cmocka_unit_test(test_severity_numbers),
		cmocka_unit_test(test_severity_names),
		cmocka_unit_test(test_seq),
		cmocka_unit_test(test_personal_data),
		cmocka_unit_test(test_null_is_absent),
		cmocka_unit_test(test_string_field_types),
		cmocka_unit_test(test_string_values),
		cmocka_unit_test(test_attrs_unknown_fields),
		cmocka_unit_test(test_attrs_nested_members),
		cmocka_unit_test(test_attrs_escaping),
		cmocka_unit_test(test_id_errors),
		cmocka_unit_test(test_time_errors),
		cmocka_unit_test(test_time_values),
		cmocka_unit_test(test_rfc3339_parse_good),
		cmocka_unit_test(test_rfc3339_parse_bad),
		cmocka_unit_test(test_rfc3339_parse_prefixes),
		cmocka_unit_test(test_rfc3339_format),
		cmocka_unit_test(test_rfc3339_roundtrip),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_nul_escape),
		cmocka_unit_test(test_surrogate_escapes),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_nonfinite_numbers),
		cmocka_unit_test(test_number_text),
		cmocka_unit_test(test_parser_thread),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_parser);
}
