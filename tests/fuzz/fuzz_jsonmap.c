/* fuzz_jsonmap.c - libFuzzer harness for foreign JSON through field maps
 * (daemon/jsonmap.c, daemon/parse_jsonmap.c). An input that starts with
 * '[' or ';' is a json_maps file; any other is a body of
 * application/x-mapped-ndjson, each line parsed through every map below.
 * Invariants that fail call abort(). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#include "event.h"
#include "jsonmap.h"
#include "parse.h"
#include "split.h"
#include "utf8.h"

/* The shipped maps' pointers, and one that names arrays, deep members and
 * escapes, with a severity table. */
static const char maps_text[] =
    "[suppliers]\nfuzz = deep\n"
    "[map suricata]\ntime = /timestamp\ncategory = /event_type\n"
    "action = /alert/action\nmessage = /alert/signature\n"
    "severity = /alert/severity\n"
    "severity_values = 1=high, 2=medium, 3=low, 4=informational\n"
    "src.ip = /src_ip\ntarget = /dest_ip\n"
    "[map cloudtrail]\nid = /eventID\ntime = /eventTime\n"
    "category = /eventCategory\naction = /eventName\n"
    "outcome = /responseElements/ConsoleLogin\n"
    "actor.user = /userIdentity/userName\ntarget = /eventSource\n"
    "message = /errorMessage\nsrc.ip = /sourceIPAddress\n"
    "[map kubernetes]\nid = /auditID\ntime = /requestReceivedTimestamp\n"
    "category = /objectRef/resource\naction = /verb\n"
    "outcome = /annotations/authorization.k8s.io~1decision\n"
    "actor.user = /user/username\ntarget = /objectRef/name\n"
    "message = /requestURI\nsrc.ip = /sourceIPs/0\n"
    "[map deep]\nid = /a/0\ntime = /t\nseverity = /s\ncategory = /a/1\n"
    "action = /~0/~1\noutcome = /\nactor.user = /a/0/b\ntarget = /id\n"
    "message = /m\nsrc.ip = /ip\n";

static struct jsonmaps maps;

static int
load_from(const void *text, size_t n, struct jsonmaps *m, char *err,
    size_t errlen)
{
	char path[] = "/tmp/fuzz_jsonmap.XXXXXX";
	int fd = mkstemp(path), rc;

	CHECK(fd >= 0);
	CHECK(write(fd, text, n) == (ssize_t)n);
	close(fd);
	rc = jsonmaps_load(path, m, err, errlen);
	unlink(path);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	if (load_from(maps_text, strlen(maps_text), &maps, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return 0;
}

static void
check_str(const struct strview *s)
{
	if (s->p == NULL) {
		CHECK(s->n == 0);
		return;
	}
	CHECK(utf8_invalid_at((const void *)s->p, s->n) == (size_t)-1);
	CHECK(memchr(s->p, '\0', s->n) == NULL);
}

/* attrs is one JSON object that json-c reads strictly, in valid UTF-8. */
static void
check_attrs(const struct strview *a)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (a->p == NULL)
		return;
	check_str(a);
	CHECK(a->n >= 2 && a->p[0] == '{' && a->p[a->n - 1] == '}');
	tok = json_tokener_new();
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, a->p, (int)a->n);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != a->n) {
		fprintf(stderr, "attrs not JSON: %.*s\n", (int)a->n, a->p);
		abort();
	}
	json_tokener_free(tok);
	CHECK(json_object_is_type(o, json_type_object));
	CHECK(json_object_object_length(o) > 0);
	json_object_put(o);
}

static void
parse_item(const struct jsonmap *map, const unsigned char *p, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	struct sec_event ev;
	char err[512];

	CHECK(copy != NULL);
	if (n)
		memcpy(copy, p, n);
	memset(err, 0x55, sizeof(err));
	if (jsonmap_parse(map, copy, n, &ev, err, sizeof(err)) < 0) {
		size_t el = strnlen(err, sizeof(err));
		CHECK(el > 0 && el < sizeof(err));
		CHECK(utf8_invalid_at((const void *)err, el) == (size_t)-1);
		CHECK(ev.root == NULL);
		free(copy);
		return;
	}
	CHECK(ev.root != NULL);
	CHECK(ev.id.p != NULL && ev.id.n > 0 && ev.id.n <= EVENT_ID_MAX);
	CHECK(ev.occurred_us >= EVENT_TIME_MIN_US &&
	    ev.occurred_us < EVENT_TIME_MAX_US);
	CHECK(ev.severity >= -1 && ev.severity <= 6);
	CHECK(ev.src_family == 0 || ev.src_family == 4 || ev.src_family == 6);
	CHECK(ev.supplier.p == NULL && !ev.has_seq && !ev.personal_data);
	check_str(&ev.id);
	check_str(&ev.category);
	check_str(&ev.action);
	check_str(&ev.outcome);
	check_str(&ev.actor_user);
	check_str(&ev.target);
	check_str(&ev.message);
	check_attrs(&ev.attrs);
	event_clear(&ev);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct split sp = { 0 };
	char err[512];

	if (size && (data[0] == '[' || data[0] == ';')) {
		struct jsonmaps m;
		memset(err, 0x55, sizeof(err));
		if (load_from(data, size, &m, err, sizeof(err)) < 0) {
			size_t el = strnlen(err, sizeof(err));
			CHECK(el > 0 && el < sizeof(err));
			CHECK(m.n == 0 && m.nsup == 0);
			return 0;
		}
		for (size_t i = 0; i < m.n; i++)
			CHECK(m.maps[i].ptr[JM_TIME].text != NULL);
		for (size_t k = 0; k < m.nsup; k++)
			CHECK(jsonmaps_for(&m, m.suppliers[k]) != NULL);
		jsonmaps_free(&m);
		return 0;
	}
	split_body(&sp, CT_MAPPED_NDJSON, data, size);
	for (size_t i = 0; i < sp.n; i++)
		for (size_t k = 0; k < maps.n; k++)
			parse_item(&maps.maps[k], data + sp.items[i].off,
			    sp.items[i].len);
	split_free(&sp);
	return 0;
}
