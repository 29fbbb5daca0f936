/* torture_parse_jsonmap.c - foreign JSON through field maps
 * (daemon/jsonmap.c, daemon/parse_jsonmap.c): the shipped maps against the
 * real samples in tests/data, JSON Pointers, the json_maps file's errors
 * with their lines, and what is taken leniently or refused. Run from the
 * repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "hex.h"
#include "jsonmap.h"
#include "parse.h"
#include "sha256.h"
#include "split.h"

static struct jsonmaps shipped;

static int
setup(void **state)
{
	char err[512];

	(void)state;
	if (jsonmaps_load("conf/json_maps.conf", &shipped, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	jsonmaps_free(&shipped);
	event_parser_thread_done();
	parsers_thread_done();
	return 0;
}

static const struct jsonmap *
map_named(const char *name)
{
	for (size_t i = 0; i < shipped.n; i++)
		if (strcmp(shipped.maps[i].name, name) == 0)
			return &shipped.maps[i];
	fail_msg("no [map %s] in conf/json_maps.conf", name);
	return NULL;
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	if (f == NULL)
		fail_msg("%s: cannot open (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

#define assert_view(v, s) do {						\
	assert_non_null((v).p);						\
	assert_int_equal((v).n, strlen(s));				\
	assert_memory_equal((v).p, (s), strlen(s));			\
} while (0)

static void
assert_time(int64_t us, const char *want)
{
	char out[40];

	rfc3339_format(us, out);
	assert_string_equal(out, want);
}

/* attrs as a json-c object, for looking members up. */
static struct json_object *
attrs_of(const struct sec_event *ev)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	assert_non_null(ev->attrs.p);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, ev->attrs.p, (int)ev->attrs.n);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), ev->attrs.n);
	json_tokener_free(tok);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

/* The value at a pointer inside attrs, as JSON text ("" when absent). */
static const char *
attr_at(struct json_object *attrs, const char *pointer)
{
	static char out[256];
	struct jsonptr p;
	struct json_object *parent, *v;
	char why[200];

	assert_int_equal(jsonptr_parse(pointer, &p, why, sizeof(why)), 0);
	v = jsonptr_get(&p, attrs, &parent);
	jsonptr_free(&p);
	snprintf(out, sizeof(out), "%s", v ? json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "");
	return out;
}

/* ---- the shipped maps on the real samples ---- */

static void
test_suricata_sample(void **state)
{
	struct split sp = { 0 };
	struct sec_event ev;
	char err[512], hexid[65];
	unsigned char sha[SHA256_LEN];
	size_t len;
	unsigned char *body;

	(void)state;
	body = read_file("tests/data/crowdsec-hub_suricata-eve-detect.log", &len);
	split_body(&sp, CT_MAPPED_NDJSON, body, len);
	assert_int_equal(sp.n, 4);
	for (size_t i = 0; i < sp.n; i++) {
		const unsigned char *item = body + sp.items[i].off;
		size_t n = sp.items[i].len;

		if (jsonmap_parse(map_named("suricata"), item, n, &ev, err,
		    sizeof(err)) < 0)
			fail_msg("line %zu: %s", i + 1, err);
		/* No id in EVE: the SHA-256 of the line. */
		sha256(item, n, sha);
		hex_encode(sha, SHA256_LEN, hexid);
		assert_view(ev.id, hexid);
		assert_view(ev.category, "alert");
		assert_view(ev.action, "allowed");
		struct json_object *a = attrs_of(&ev);
		assert_null(attr_at(a, "/parse_warnings")[0] ? "warnings" : NULL);
		assert_string_equal(attr_at(a, "/src_ip"), "");
		assert_string_equal(attr_at(a, "/alert/signature"), "");
		assert_string_equal(attr_at(a, "/alert/gid"), "1");
		if (i == 0) {
			assert_time(ev.occurred_us, "2022-07-12T06:22:33.415742Z");
			assert_int_equal(ev.severity, SEVERITY_HIGH);
			assert_view(ev.message, "ET EXPLOIT Apache HTTP Server "
			    "2.4.49 - Path Traversal Attempt (CVE-2021-41773) M2");
			assert_int_equal(ev.src_family, 4);
			assert_memory_equal(ev.src_ip, "\1\2\3\4", 4);
			assert_view(ev.target, "1.2.3.5");
			assert_string_equal(attr_at(a, "/flow_id"),
			    "1398609176796675");
			assert_string_equal(attr_at(a, "/http/url"),
			    "\"/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh\"");
		} else {
			assert_int_equal(ev.severity, SEVERITY_MEDIUM);
			assert_memory_equal(ev.src_ip, "\2\2\3\4", 4);
			assert_view(ev.target, "2.2.3.5");
		}
		if (i == 3)
			assert_time(ev.occurred_us, "2022-07-12T11:26:36.407881Z");
		json_object_put(a);
		event_clear(&ev);
	}
	split_free(&sp);
	free(body);
}

static void
test_cloudtrail_sample(void **state)
{
	struct split sp = { 0 };
	struct sec_event ev;
	char err[512];
	size_t len;
	unsigned char *body;

	(void)state;
	body = read_file("tests/data/crowdsec-hub_aws-cloudtrail.log", &len);
	assert_int_equal(len, 1949);
	split_body(&sp, CT_MAPPED_NDJSON, body, len);
	assert_int_equal(sp.n, 2);

	assert_int_equal(jsonmap_parse(map_named("cloudtrail"),
	    body + sp.items[0].off, sp.items[0].len, &ev, err, sizeof(err)), 0);
	assert_view(ev.id, "<eventId>");
	assert_time(ev.occurred_us, "2023-04-11T15:24:00.000000Z");
	assert_view(ev.category, "Management");
	assert_view(ev.action, "ConsoleLogin");
	assert_view(ev.outcome, "Failure");
	assert_view(ev.actor_user, "<userName>");
	assert_view(ev.target, "signin.amazonaws.com");
	assert_view(ev.message, "Failed authentication");
	assert_int_equal(ev.severity, -1);
	assert_int_equal(ev.src_family, 4);
	assert_memory_equal(ev.src_ip, "\1\2\3\4", 4);
	struct json_object *a = attrs_of(&ev);
	assert_string_equal(attr_at(a, "/userIdentity/type"), "\"IAMUser\"");
	assert_string_equal(attr_at(a, "/userIdentity/userName"), "");
	/* responseElements held only the outcome: left out, not "{}". */
	assert_false(json_object_object_get_ex(a, "responseElements", NULL));
	assert_string_equal(attr_at(a, "/readOnly"), "false");
	assert_true(json_object_object_get_ex(a, "requestParameters", NULL));
	assert_string_equal(attr_at(a, "/requestParameters"), "");	/* null */
	assert_false(json_object_object_get_ex(a, "eventID", NULL));
	json_object_put(a);
	event_clear(&ev);

	assert_int_equal(jsonmap_parse(map_named("cloudtrail"),
	    body + sp.items[1].off, sp.items[1].len, &ev, err, sizeof(err)), 0);
	assert_view(ev.id, "<eventid>");
	assert_view(ev.action, "GetCallerIdentity");
	assert_null(ev.outcome.p);	/* responseElements is null */
	assert_null(ev.actor_user.p);	/* an assumed role has no userName */
	assert_null(ev.message.p);
	a = attrs_of(&ev);
	assert_string_equal(attr_at(a, "/userIdentity/sessionContext/"
	    "sessionIssuer/userName"), "\"<username>\"");
	assert_false(json_object_object_get_ex(a, "parse_warnings", NULL));
	json_object_put(a);
	event_clear(&ev);
	split_free(&sp);
	free(body);
}

static void
test_kubernetes_sample(void **state)
{
	struct split sp = { 0 };
	struct sec_event ev;
	char err[512];
	size_t len;
	unsigned char *body;

	(void)state;
	body = read_file("tests/data/crowdsec-hub_k8s-audit-pod-exec-file.log",
	    &len);
	split_body(&sp, CT_MAPPED_NDJSON, body, len);
	assert_int_equal(sp.n, 1);
	assert_int_equal(jsonmap_parse(map_named("kubernetes"),
	    body + sp.items[0].off, sp.items[0].len, &ev, err, sizeof(err)), 0);
	assert_view(ev.id, "57a794de-44d3-40ee-a0ad-c0eb096eef6c");
	assert_time(ev.occurred_us, "2023-05-17T15:08:22.763960Z");
	assert_view(ev.category, "pods");
	assert_view(ev.action, "create");
	assert_view(ev.outcome, "allow");
	assert_view(ev.actor_user, "minikube-user");
	assert_view(ev.target, "test-pod-1");
	assert_view(ev.message, "/api/v1/namespaces/foo/pods/test-pod-1/exec?"
	    "command=%2Fbin%2Fbash&container=centos&stdin=true&stdout=true&"
	    "tty=true");
	assert_int_equal(ev.src_family, 4);
	assert_memory_equal(ev.src_ip, "\xc0\xa8\x31\x01", 4);
	struct json_object *a = attrs_of(&ev);
	/* An array element is not taken out of its array. */
	assert_string_equal(attr_at(a, "/sourceIPs"), "[\"192.168.49.1\"]");
	assert_string_equal(attr_at(a, "/annotations/apiserver.latency.k8s.io~1etcd"),
	    "\"561.927\xc2\xb5s\"");
	assert_string_equal(attr_at(a, "/annotations/authorization.k8s.io~1decision"),
	    "");
	assert_string_equal(attr_at(a, "/objectRef/subresource"), "\"exec\"");
	assert_string_equal(attr_at(a, "/responseStatus/metadata"), "{}");
	json_object_put(a);
	event_clear(&ev);
	split_free(&sp);
	free(body);
}

/* ---- JSON Pointers ---- */

static void
test_pointers(void **state)
{
	static const char doc[] = "{\"a/b\":{\"m~n\":1},\"arr\":[10,20,null],"
	    "\"\":{\"x\":2},\"01\":3}";
	static const struct { const char *ptr, *want; } cases[] = {
		{ "/a~1b/m~0n", "1" },
		{ "/arr/0", "10" },
		{ "/arr/1", "20" },
		{ "/arr/2", "" },	/* null: nothing */
		{ "/arr/3", "" },	/* past the end */
		{ "/arr/01", "" },	/* a leading zero is no index */
		{ "/arr/-", "" },
		{ "//x", "2" },		/* the member named "" */
		{ "/01", "3" },		/* a member name, not an index */
		{ "/a~1b/m~0n/deeper", "" },
		{ "/nope", "" },
	};
	struct json_object *root = json_tokener_parse(doc), *parent, *v;
	struct jsonptr p;
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(jsonptr_parse(cases[i].ptr, &p, why,
		    sizeof(why)), 0);
		v = jsonptr_get(&p, root, &parent);
		if (cases[i].want[0] == '\0')
			assert_null(v);
		else
			assert_string_equal(json_object_to_json_string(v),
			    cases[i].want);
		jsonptr_free(&p);
	}
	assert_int_equal(jsonptr_parse("eventID", &p, why, sizeof(why)), -1);
	assert_string_equal(why, "'eventID' is not a JSON Pointer: it must "
	    "start with '/'");
	assert_int_equal(jsonptr_parse("", &p, why, sizeof(why)), -1);
	assert_int_equal(jsonptr_parse("/a~2b", &p, why, sizeof(why)), -1);
	assert_string_equal(why, "'/a~2b' is not a JSON Pointer: '~' at "
	    "character 3 must be followed by 0 or 1");
	assert_int_equal(jsonptr_parse("/a~", &p, why, sizeof(why)), -1);
	json_object_put(root);
}

/* ---- the json_maps file ---- */

static int
load_text(const char *text, struct jsonmaps *m, char *err, size_t errlen)
{
	char path[] = "/tmp/torture_jsonmap.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = jsonmaps_load(path, m, err, errlen);
	/* Reasons name the file; the tests compare what follows it. */
	if (rc < 0) {
		size_t n = strlen(path);
		assert_memory_equal(err, path, n);
		memmove(err, err + n, strlen(err + n) + 1);
	}
	unlink(path);
	return rc;
}

static void
test_file_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "[map a]\ntime = /t\nwhen = /w\n",
		  ":3: unknown field 'when' in [map a]; a map sets id, time, "
		  "severity, category, action, outcome, actor.user, target, "
		  "message, src.ip and severity_values" },
		{ "[map a]\ntime = t\n",
		  ":2: field 'time': 't' is not a JSON Pointer: it must start "
		  "with '/'" },
		{ "; c\n[map a]\ntime = /t\nid = /a~3\n",
		  ":4: field 'id': '/a~3' is not a JSON Pointer: '~' at "
		  "character 3 must be followed by 0 or 1" },
		{ "\n[map a]\nid = /id\n",
		  ":2: [map a] has no 'time': every event needs one" },
		{ "[suppliers]\nacme = nosuch\n[map a]\ntime = /t\n",
		  ":2: supplier 'acme': there is no [map nosuch] in this file" },
		{ "[suppliers]\nacme = a\nacme = a\n[map a]\ntime = /t\n",
		  ":3: supplier 'acme' is given a map twice (first at line 2)" },
		{ "time = /t\n",
		  ":1: 'time' is outside a section; put it under [map NAME] or "
		  "[suppliers]" },
		{ "[maps]\n",
		  ":1: unknown section [maps]; expected [suppliers] or "
		  "[map NAME]" },
		{ "[map a]\ntime = /t\n[map a]\n",
		  ":3: [map a] is defined twice (first at line 1)" },
		{ "[map a b]\n",
		  ":1: map name 'a b' must be letters, digits, '-', '_' or '.'" },
		{ "[map a]\ntime = /t\ntime = /u\n",
		  ":3: field 'time' is mapped twice in [map a]" },
		{ "[map a]\ntime = /t\nseverity_values = 1=high, 2=dire\n",
		  ":3: severity_values: 'dire' is not 0..6 or one of unknown, "
		  "informational, low, medium, high, critical, fatal" },
		{ "[map a]\ntime = /t\nseverity_values = high\n",
		  ":3: severity_values: 'high' is not RAW=SEVERITY" },
		{ "[map a\n", ":1: a section header must end with ']'" },
		{ "[map a]\ntime\n",
		  ":2: expected [section], NAME = VALUE or a comment" },
		{ "[map a]\ntime =\n", ":2: expected NAME = VALUE, both not empty" },
	};
	struct jsonmaps m;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (load_text(cases[i].text, &m, err, sizeof(err)) == 0)
			fail_msg("case %zu loaded", i);
		assert_string_equal(err, cases[i].want);
		assert_int_equal(m.n, 0);
	}
	assert_int_equal(jsonmaps_load("/nonexistent/maps", &m, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/maps:0: cannot open: No such "
	    "file or directory");
}

static void
test_file_good(void **state)
{
	struct jsonmaps m;
	char err[512];

	(void)state;
	assert_int_equal(load_text("# comment\n[suppliers]\n acme = a \n"
	    "beta=a\n\n[map a]\ntime=/t\r\nseverity = /s\n"
	    "severity_values = 1 = high ,2=3, x=info\n", &m, err,
	    sizeof(err)), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.nsup, 2);
	assert_ptr_equal(jsonmaps_for(&m, "acme"), &m.maps[0]);
	assert_ptr_equal(jsonmaps_for(&m, "beta"), &m.maps[0]);
	assert_null(jsonmaps_for(&m, "gamma"));
	assert_null(jsonmaps_for(NULL, "acme"));
	assert_string_equal(m.maps[0].ptr[JM_TIME].text, "/t");
	assert_null(m.maps[0].ptr[JM_ID].text);
	assert_int_equal(m.maps[0].nsev, 3);
	assert_string_equal(m.maps[0].sev[0].raw, "1");
	assert_int_equal(m.maps[0].sev[0].severity, SEVERITY_HIGH);
	assert_int_equal(m.maps[0].sev[1].severity, SEVERITY_MEDIUM);
	assert_int_equal(m.maps[0].sev[2].severity, SEVERITY_INFORMATIONAL);
	jsonmaps_free(&m);
}

/* ---- leniency and refusals ---- */

static const char lenient_maps[] =
    "[map m]\nid = /id\ntime = /t\nseverity = /s\nmessage = /msg\n"
    "src.ip = /ip\nactor.user = /u\n";

static void
test_lenient(void **state)
{
	struct jsonmaps m;
	struct sec_event ev;
	char err[512];
	static const char item[] = "{\"t\":\"2026-01-02T03:04:05+0100\","
	    "\"s\":\"dire\",\"msg\":{\"k\":1},\"ip\":\"AWS Internal\","
	    "\"u\":42,\"keep\":true}";

	(void)state;
	assert_int_equal(load_text(lenient_maps, &m, err, sizeof(err)), 0);
	assert_int_equal(jsonmap_parse(&m.maps[0], (const unsigned char *)item,
	    strlen(item), &ev, err, sizeof(err)), 0);
	assert_time(ev.occurred_us, "2026-01-02T02:04:05.000000Z");
	assert_int_equal(ev.severity, -1);
	assert_null(ev.message.p);
	assert_int_equal(ev.src_family, 0);
	assert_view(ev.actor_user, "42");	/* a number's text */
	assert_int_equal(ev.id.n, 64);		/* the SHA-256, in hex */
	assert_view(ev.attrs, "{\"s\":\"dire\",\"msg\":{\"k\":1},"
	    "\"ip\":\"AWS Internal\",\"keep\":true,\"parse_warnings\":["
	    "\"id: /id names nothing; the id is the SHA-256 of the item\","
	    "\"severity: /s holds 'dire', which the map does not know; left in "
	    "attrs\",\"message: /msg holds an object, left in attrs\","
	    "\"src.ip: /ip is not an IP address; left in attrs\"]}");
	event_clear(&ev);

	/* Everything taken: no attrs at all. */
	static const char all[] = "{\"id\":7,\"t\":1700000000.25,\"s\":\"high\"}";
	assert_int_equal(jsonmap_parse(&m.maps[0], (const unsigned char *)all,
	    strlen(all), &ev, err, sizeof(err)), 0);
	assert_view(ev.id, "7");
	assert_time(ev.occurred_us, "2023-11-14T22:13:20.250000Z");
	assert_int_equal(ev.severity, SEVERITY_HIGH);
	assert_null(ev.attrs.p);
	event_clear(&ev);

	/* The item's own parse_warnings keeps its name. */
	static const char own[] = "{\"t\":\"2026-01-02T03:04:05Z\","
	    "\"parse_warnings\":1}";
	assert_int_equal(jsonmap_parse(&m.maps[0], (const unsigned char *)own,
	    strlen(own), &ev, err, sizeof(err)), 0);
	assert_view(ev.attrs, "{\"parse_warnings\":1,\"bevis_parse_warnings\":["
	    "\"id: /id names nothing; the id is the SHA-256 of the item\"]}");
	event_clear(&ev);
	jsonmaps_free(&m);
}

static void
test_refused(void **state)
{
	static const struct { const char *item, *want; } cases[] = {
		{ "{\"id\":\"a\"}",
		  "field map 'm': time /t names nothing in the item" },
		{ "{\"t\":null}",
		  "field map 'm': time /t names nothing in the item" },
		{ "{\"t\":\"yesterday\"}",
		  "field map 'm': time /t is not an RFC 3339 date-time: "
		  "'yesterday'" },
		{ "{\"t\":\"2026-01-02T03:04:05+01\"}",
		  "field map 'm': time /t is not an RFC 3339 date-time: "
		  "'2026-01-02T03:04:05+01'" },
		{ "{\"t\":true}",
		  "field map 'm': time /t must be a string or a number, got "
		  "boolean" },
		{ "{\"t\":-1}",
		  "field map 'm': time /t is out of range: -1 seconds" },
		{ "{\"t\":\"2100-01-01T00:00:00Z\"}",
		  "field map 'm': time /t is out of range "
		  "(1970-01-01T00:00:00Z up to 2100-01-01T00:00:00Z)" },
		{ "{\"t\":\"2026-01-02T03:04:05Z\",\"id\":{}}",
		  "field map 'm': id /id must be a string or an integer, got "
		  "object" },
		{ "{\"t\":\"2026-01-02T03:04:05Z\",\"id\":\"\"}",
		  "field map 'm': id /id is empty" },
		/* The native parser's checks come first. */
		{ "{\"t\":1,\"t\":2}", "duplicate member name 't' at byte 7" },
		{ "[1]", "item must be a JSON object, got array" },
		{ "{\"t\":", "invalid JSON: unexpected end of item" },
	};
	struct jsonmaps m;
	struct sec_event ev;
	char err[512];

	(void)state;
	assert_int_equal(load_text(lenient_maps, &m, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (jsonmap_parse(&m.maps[0], (const unsigned char *)cases[i].item,
		    strlen(cases[i].item), &ev, err, sizeof(err)) == 0)
			fail_msg("case %zu parsed", i);
		assert_string_equal(err, cases[i].want);
		assert_null(ev.root);
	}
	jsonmaps_free(&m);
}

/* Through the parser table: the map is the sending supplier's. */
static void
test_by_supplier(void **state)
{
	const struct parser *p = parser_for(CT_MAPPED_NDJSON);
	static const char item[] = "{\"eventID\":\"e1\","
	    "\"eventTime\":\"2026-10-05T14:30:00Z\"}";
	struct jsonmaps m;
	struct sec_event ev;
	char err[512];

	(void)state;
	assert_ptr_equal(p, &parser_mapped_ndjson);
	assert_non_null(p->parse_for);
	assert_int_equal(load_text("[suppliers]\nacme = ct\n[map ct]\n"
	    "id = /eventID\ntime = /eventTime\n", &m, err, sizeof(err)), 0);
	jsonmaps_install(&m);
	assert_int_equal(p->parse_for("acme", (const unsigned char *)item,
	    strlen(item), &ev, err, sizeof(err)), 0);
	assert_view(ev.id, "e1");
	p->clear(&ev);
	assert_int_equal(p->parse_for("other", (const unsigned char *)item,
	    strlen(item), &ev, err, sizeof(err)), -1);
	assert_string_equal(err, "no field map for supplier 'other': json_maps "
	    "assigns none");
	assert_int_equal(p->parse_for("", (const unsigned char *)item,
	    strlen(item), &ev, err, sizeof(err)), -1);
	assert_string_equal(err, "application/x-mapped-ndjson is read through "
	    "the sending supplier's field map, and this request has no "
	    "supplier key (allow_plaintext)");
	assert_int_equal(p->parse((const unsigned char *)item, strlen(item),
	    &ev, err, sizeof(err)), -1);
	jsonmaps_install(NULL);
	assert_int_equal(p->parse_for("acme", (const unsigned char *)item,
	    strlen(item), &ev, err, sizeof(err)), -1);
	assert_string_equal(err, "no field map for supplier 'acme': json_maps "
	    "assigns none");
	jsonmaps_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suricata_sample),
		cmocka_unit_test(test_cloudtrail_sample),
		cmocka_unit_test(test_kubernetes_sample),
		cmocka_unit_test(test_pointers),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_by_supplier),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
