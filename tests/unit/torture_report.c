/* torture_report.c - monthly reports: the REPORT metadata (common/report.c),
 * the column maps, and the two report parsers (daemon/parse_csv.c,
 * daemon/parse_report_json.c) over the shipped sample month and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "report.h"
#include "report_entries.h"

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*len + 1);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void
meta(struct report_meta *m, const char *ct)
{
	char err[600];

	if (report_meta_parse(ct, strlen(ct), m, err, sizeof(err)) < 0)
		fail_msg("%s: %s", ct, err);
}

static void
meta_error(const char *ct, const char *want)
{
	struct report_meta m;
	char err[600];

	assert_int_equal(report_meta_parse(ct, strlen(ct), &m, err, sizeof(err)),
	    -1);
	if (strstr(err, want) == NULL)
		fail_msg("%s: got '%s', want '%s'", ct, err, want);
	report_meta_free(&m);
}

static void
test_meta(void **state)
{
	struct report_meta m;

	(void)state;
	meta(&m, "text/csv; charset=windows-1252; separator=\";\"; "
	    "kind=servicedesk; period=2026-10; title=\"Incidenter i oktober\"; "
	    "author=\"Servicedesk, Åsa\"");
	assert_int_equal(m.ct, CT_CSV);
	assert_int_equal(m.charset, RCS_WINDOWS_1252);
	assert_int_equal(m.separator, ';');
	assert_string_equal(m.kind, "servicedesk");
	assert_string_equal(m.period, "2026-10");
	assert_string_equal(m.title, "Incidenter i oktober");
	assert_string_equal(m.author, "Servicedesk, Åsa");
	report_meta_free(&m);
	meta(&m, "application/json;kind=supplier;period=2026-01;title=T;"
	    "author=\"a \\\"b\\\"\"");
	assert_int_equal(m.ct, CT_JSON);
	assert_int_equal(m.separator, 0);
	assert_string_equal(m.author, "a \"b\"");
	report_meta_free(&m);

	meta_error("text/csv; kind=servicedesk; title=t; author=a",
	    "the report's period is missing");
	meta_error("text/csv; period=2026-10; title=t; author=a",
	    "the report's kind is missing");
	meta_error("text/csv; kind=servicedesk; period=2026-10; author=a",
	    "the report's title is missing");
	meta_error("text/csv; kind=servicedesk; period=2026-10; title=t",
	    "the report's author is missing");
	meta_error("text/csv; kind=helpdesk; period=2026-10; title=t; author=a",
	    "unknown report kind 'helpdesk'");
	meta_error("text/csv; kind=supplier; period=2026-13; title=t; author=a",
	    "malformed period '2026-13'");
	meta_error("text/csv; kind=supplier; period=202610; title=t; author=a",
	    "malformed period '202610'");
	meta_error("text/csv; kind=supplier; period=2026-10; title=\"\"; author=a",
	    "the title must not be empty");
	meta_error("text/csv; kind=supplier; period=2026-10; title=t; author=a; "
	    "colour=red", "unknown content-type parameter 'colour'");
	meta_error("text/csv; kind=supplier; period=2026-10; title=\"t; author=a",
	    "content-type parameter title: expected a token or a quoted string");
	meta_error("text/csv; charset=latin9; kind=supplier; period=2026-10; "
	    "title=t; author=a", "unsupported charset 'latin9'");
	meta_error("application/x-ndjson; kind=supplier", "a report's content "
	    "type must be text/csv or application/json");
	meta_error("application/json; charset=windows-1252; kind=supplier; "
	    "period=2026-10; title=t; author=a", "a JSON report is UTF-8");
}

static void
test_map(void **state)
{
	struct report_map *maps = NULL;
	size_t n = 0;
	char reason[400];

	(void)state;
	assert_int_equal(report_map_add(&maps, &n, "servicedesk", "id",
	    "Ärende-ID | Ärendenummer", reason, sizeof(reason)), 0);
	assert_int_equal(report_map_add(&maps, &n, "servicedesk", "school",
	    "Skola", reason, sizeof(reason)), 0);
	assert_int_equal(report_map_add(&maps, &n, "servicedesk", "colour",
	    "Färg", reason, sizeof(reason)), -1);
	assert_non_null(strstr(reason, "[report_map servicedesk]: 'colour' is "
	    "not a report entry field"));
	assert_int_equal(report_map_add(&maps, &n, "servicedesk", "title",
	    "a||b", reason, sizeof(reason)), -1);
	assert_int_equal(n, 1);
	const struct report_map *m = report_map_find(maps, n, "servicedesk");
	assert_non_null(m);
	assert_int_equal(m->n, 4);
	assert_string_equal(m->cols[0].column, "Ärende-ID");
	assert_string_equal(m->cols[1].column, "Ärendenummer");
	assert_int_equal(m->cols[2].field, RF_UNIT);
	assert_null(report_map_find(maps, n, "other"));
	report_maps_free(maps, n);
}

static void
test_values(void **state)
{
	(void)state;
	assert_true(report_time_valid("2026-10-05", 10));
	assert_true(report_time_valid("2026-10-05 14:30", 16));
	assert_true(report_time_valid("2026-10-05T14:30:59", 19));
	assert_true(report_time_valid("2028-02-29", 10));
	assert_false(report_time_valid("2026-02-29", 10));
	assert_false(report_time_valid("2026-10-32", 10));
	assert_false(report_time_valid("2026-10-05 24:00", 16));
	assert_false(report_time_valid("05/10/2026", 10));
	assert_false(report_time_valid("2026-10-5", 9));
	assert_int_equal(report_yesno("Ja", 2), 1);
	assert_int_equal(report_yesno("J", 1), 1);
	assert_int_equal(report_yesno("yes", 3), 1);
	assert_int_equal(report_yesno("NEJ", 3), 0);
	assert_int_equal(report_yesno("n", 1), 0);
	assert_int_equal(report_yesno("", 0), -1);
	assert_int_equal(report_yesno("kanske", 6), -2);
}

static struct report_map *
servicedesk_map(size_t *n)
{
	static const char *const lines[][2] = {
		{ "id", "Ärende-ID | Ärendenummer" }, { "occurred_at", "Datum" },
		{ "title", "Rubrik" }, { "description", "Beskrivning" },
		{ "category", "Kategori" }, { "severity", "Allvarlighetsgrad" },
		{ "personal_data", "Personuppgifter" },
	};
	struct report_map *maps = NULL;
	char reason[300];

	*n = 0;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(report_map_add(&maps, n, "servicedesk",
		    lines[i][0], lines[i][1], reason, sizeof(reason)), 0);
	return maps;
}

static void
parse_csv(const char *ct, const unsigned char *b, size_t len,
    struct report_parsed *rp)
{
	struct report_meta m;
	size_t n;
	struct report_map *maps = servicedesk_map(&n);

	meta(&m, ct);
	m.map = report_map_copy(&maps[0]);
	report_maps_free(maps, n);
	memset(rp, 0, sizeof(*rp));
	parser_for_report(CT_CSV)->report(&m, b, len, rp);
	report_meta_free(&m);
}

#define CT_1252 "text/csv; charset=windows-1252; kind=servicedesk; " \
	"period=2026-10; title=t; author=a"
#define CT_UTF8 "text/csv; kind=servicedesk; period=2026-10; title=t; author=a"

/* Both encodings of the sample month read as the same 20 entries, each
 * span a whole record of the body. */
static void
test_csv_sample(void **state)
{
	struct report_parsed a, u;
	size_t alen, ulen;
	unsigned char *ab = slurp("tests/data/reports/servicedesk-2026-10.cp1252.csv",
	    &alen);
	unsigned char *ub = slurp("tests/data/reports/servicedesk-2026-10.utf8.csv",
	    &ulen);

	(void)state;
	parse_csv(CT_1252, ab, alen, &a);
	parse_csv(CT_UTF8, ub, ulen, &u);
	assert_string_equal(a.error, "");
	assert_string_equal(u.error, "");
	assert_int_equal(a.n, 20);
	assert_int_equal(a.readable, 20);
	assert_int_equal(u.n, 20);
	assert_int_equal(u.readable, 20);
	for (size_t k = 0; k < 20; k++) {
		char id[16];
		snprintf(id, sizeof(id), "SD-2026-%04zu", 1001 + k);
		assert_string_equal(a.items[k].id, id);
		assert_null(a.items[k].reason);
		assert_memory_equal(ab + a.items[k].off, id, strlen(id));
		assert_memory_equal(ub + u.items[k].off, id, strlen(id));
		assert_true(ab[a.items[k].off + a.items[k].len] == '\r');
	}
	/* Entry 3 holds a line break inside quotes: entry 4 is on line 6. */
	assert_int_equal(a.items[0].line, 2);
	assert_int_equal(a.items[2].line, 4);
	assert_int_equal(a.items[3].line, 6);
	assert_non_null(strstr(buf_cstr(&a.json), "\"title\":\"Lösenord delat "
	    "i klassens chatt\""));
	assert_non_null(strstr(buf_cstr(&a.json), "\"attrs\":{\"Skola\":"
	    "\"Björkskolan\",\"Handläggare\":\"Anna Ek\"}"));
	assert_non_null(strstr(buf_cstr(&a.json), "\"description\":\"Kurator "
	    "skickade utredning; med personnummer;\\nokrypterat"));
	assert_non_null(strstr(buf_cstr(&a.json), "– i ca 20 minuter"));
	assert_non_null(strstr(buf_cstr(&a.json), "\"personal_data\":\"yes\""));
	report_parsed_free(&a);
	report_parsed_free(&u);
	free(ab);
	free(ub);
}

static void
test_csv_bad(void **state)
{
	struct report_parsed rp;
	static const char hdr[] = "Ärende-ID;Datum;Rubrik;Beskrivning;Kategori;"
	    "Allvarlighetsgrad;Personuppgifter\n";
	char body[1024];

	(void)state;
	/* A bad date, a bad yes/no, a short row, a repeated id, no id. */
	snprintf(body, sizeof(body), "%s"
	    "A1;2026-10-01;ok;d;k;Hög;Ja\n"
	    "A2;2026-13-01;bad date;d;k;Hög;Ja\n"
	    "A3;2026-10-01;bad pd;d;k;Hög;Kanske\n"
	    "A4;2026-10-01;short\n"
	    "A1;2026-10-02;again;d;k;Hög;Nej\n"
	    ";2026-10-02;no id;d;k;Hög;Nej\n", hdr);
	parse_csv(CT_UTF8, (const unsigned char *)body, strlen(body), &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.n, 6);
	assert_int_equal(rp.readable, 1);
	assert_null(rp.items[0].reason);
	assert_string_equal(rp.items[1].reason, "line 3, column 2 (Datum): "
	    "'2026-13-01' is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM)");
	assert_string_equal(rp.items[2].reason, "line 4, column 7 "
	    "(Personuppgifter): 'Kanske' is not Ja, Nej, J, N, yes, no or empty");
	assert_string_equal(rp.items[3].reason, "line 5: 3 fields, but the "
	    "header has 7 columns");
	assert_string_equal(rp.items[4].reason, "line 6, column 1 (Ärende-ID): "
	    "the id 'A1' repeats an earlier entry's");
	assert_string_equal(rp.items[5].reason, "line 7, column 1 (Ärende-ID): "
	    "the entry has no id");
	report_parsed_free(&rp);

	/* The header lacks the mapped id column, or there is none. */
	parse_csv(CT_UTF8, (const unsigned char *)"Nummer;Datum;Rubrik;"
	    "Beskrivning;Kategori;Allvarlighetsgrad;Personuppgifter\n1;2;3;4;5;6;7\n",
	    71, &rp);
	assert_string_equal(rp.error, "the header lacks the column 'Ärende-ID' "
	    "or 'Ärendenummer', which [report_map servicedesk] maps to id");
	assert_string_equal(rp.error_code, "bad_report");
	report_parsed_free(&rp);
	parse_csv(CT_UTF8, (const unsigned char *)"SD-1;2026-10-01;Rubrik\n",
	    23, &rp);
	assert_non_null(strstr(rp.error, "the header lacks the column"));
	report_parsed_free(&rp);
	parse_csv(CT_UTF8, (const unsigned char *)"", 0, &rp);
	assert_string_equal(rp.error, "the report is empty: it has no header row");
	report_parsed_free(&rp);

	/* Bytes the declared charset has no character for. */
	snprintf(body, sizeof(body), "%sA1;2026-10-01;caf\xe9;d;k;H;J\n", hdr);
	parse_csv(CT_UTF8, (const unsigned char *)body, strlen(body), &rp);
	assert_string_equal(rp.error, "byte 0xe9 at line 2, column 18 is not "
	    "valid UTF-8");
	assert_string_equal(rp.error_code, "bad_charset");
	report_parsed_free(&rp);
	parse_csv(CT_1252, (const unsigned char *)"id\nA\x81\n", 6, &rp);
	assert_string_equal(rp.error, "byte 0x81 at line 2, column 2 is not "
	    "valid Windows-1252");
	report_parsed_free(&rp);

	/* An unterminated quote. */
	snprintf(body, sizeof(body), "%s1;\"2026-10-01;x;d;k;h;j\n", hdr);
	parse_csv(CT_UTF8, (const unsigned char *)body, strlen(body), &rp);
	assert_string_equal(rp.error, "malformed CSV: the record that starts "
	    "on line 2 ends inside a quoted field");
	report_parsed_free(&rp);
}

/* Without a map, columns named like the entry fields are mapped; ','
 * separates when the header holds more of them. */
static void
test_csv_unmapped(void **state)
{
	struct report_meta m;
	struct report_parsed rp;
	static const char b[] = "id,title,extra\r\nX-1,\"a, b\",e\r\n";

	(void)state;
	meta(&m, CT_UTF8);
	memset(&rp, 0, sizeof(rp));
	report_parse_csv(&m, (const unsigned char *)b, strlen(b), &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.readable, 1);
	assert_string_equal(buf_cstr(&rp.json), "[{\"item\":0,\"line\":2,"
	    "\"off\":16,\"len\":12,\"id\":\"X-1\",\"fields\":{\"id\":\"X-1\","
	    "\"title\":\"a, b\"},\"attrs\":{\"extra\":\"e\"}}]");
	report_parsed_free(&rp);
	rp.max_items = 0;
	memset(&rp, 0, sizeof(rp));
	rp.max_items = 1;
	report_parse_csv(&m, (const unsigned char *)"id\n1\n2\n", 7, &rp);
	assert_string_equal(rp.error, "the report has more than 1 entries "
	    "(max_items)");
	assert_string_equal(rp.error_code, "too_many_items");
	report_parsed_free(&rp);
	report_meta_free(&m);
}

static void
test_json_sample(void **state)
{
	struct report_meta m;
	struct report_parsed rp;
	size_t len;
	unsigned char *b = slurp("tests/data/reports/supplier-2026-10.json", &len);

	(void)state;
	meta(&m, "application/json; kind=supplier; period=2026-10; title=t; "
	    "author=a");
	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, b, len, &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.n, 6);
	assert_int_equal(rp.readable, 6);
	for (size_t k = 0; k < 6; k++) {
		char id[16];
		snprintf(id, sizeof(id), "SP-30%zu", k + 1);
		assert_string_equal(rp.items[k].id, id);
		assert_int_equal(b[rp.items[k].off], '{');
		assert_int_equal(b[rp.items[k].off + rp.items[k].len - 1], '}');
	}
	assert_int_equal(rp.items[0].line, 3);
	assert_non_null(strstr(buf_cstr(&rp.json), "\"attrs\":{\"ticket_system\""
	    ":\"Jira\"}"));
	assert_non_null(strstr(buf_cstr(&rp.json), "\"protected_identity\":\"yes\""));
	report_parsed_free(&rp);

	static const char bad[] = "{\"entries\":[{\"id\":\"a\",\"occurred_at\":"
	    "\"igår\"},{\"title\":\"no id\"},[1],{\"id\":7,\"personal_data\":true,"
	    "\"x\":{\"y\":1}}]}";
	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, (const unsigned char *)bad, strlen(bad), &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.n, 4);
	assert_string_equal(rp.items[0].reason, "line 1, field \"occurred_at\": "
	    "'igår' is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM)");
	assert_string_equal(rp.items[1].reason, "line 1, field \"id\": the entry "
	    "has no id");
	assert_string_equal(rp.items[2].reason, "line 1: an entry must be a "
	    "JSON object");
	assert_null(rp.items[3].reason);
	assert_string_equal(rp.items[3].id, "7");
	assert_non_null(strstr(buf_cstr(&rp.json), "\"fields\":{\"id\":\"7\","
	    "\"personal_data\":\"yes\"},\"attrs\":{\"x\":{\"y\":1}}"));
	report_parsed_free(&rp);

	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, (const unsigned char *)"{\"rows\":[]}", 11, &rp);
	assert_string_equal(rp.error, "a JSON report is an object with an "
	    "\"entries\" array");
	report_parsed_free(&rp);
	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, (const unsigned char *)"{\"entries\":[", 12, &rp);
	assert_non_null(strstr(rp.error, "the report is not valid JSON"));
	report_parsed_free(&rp);
	report_meta_free(&m);
	free(b);
}

/* Personal identity numbers in entries: masked in the text fields and
 * attrs, counted in attrs.pnr_count, personal_data yes (over a "no", with
 * a note); the id is counted but kept; a reason quoting one masks it. */
static void
test_pnr_in_entries(void **state)
{
	struct report_meta m;
	struct report_parsed rp;
	static const char csv[] =
	    "id;title;description;personal_data;extra\r\n"
	    "A-1;Elev 121212-1212;\"Betyg för 198112189876 och\n"
	    "701063-2391 låg öppet\";Nej;8112189876\r\n"
	    "A-2;Inget nummer;ring 070-123 45 67;Nej;\r\n"
	    "A-3;x;order 811218-9875;;pnr=811218-9876\r\n"
	    "8112189876;y;z;Ja;\r\n";

	(void)state;
	meta(&m, "text/csv; charset=utf-8; kind=servicedesk; period=2026-10; "
	    "title=t; author=a");
	memset(&rp, 0, sizeof(rp));
	report_parse_csv(&m, (const unsigned char *)csv, strlen(csv), &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.readable, 4);
	const char *j = buf_cstr(&rp.json);
	/* four numbers, the reporter's Nej overruled */
	assert_non_null(strstr(j, "\"id\":\"A-1\",\"fields\":{\"id\":\"A-1\","
	    "\"title\":\"Elev 121212-XXXX\",\"description\":\"Betyg för "
	    "811218-XXXX och\\n701063-XXXX låg öppet\",\"personal_data\":"
	    "\"yes\"},\"attrs\":{\"extra\":\"811218-XXXX\",\"pnr_count\":4,"
	    "\"parse_warnings\":[\"personal_data: the report says no, but the "
	    "entry holds 4 personal identity numbers; stored as yes\"]}}"));
	/* none; the reporter's Nej stands, no pnr_count */
	assert_non_null(strstr(j, "\"id\":\"A-2\",\"fields\":{\"id\":\"A-2\","
	    "\"title\":\"Inget nummer\",\"description\":\"ring 070-123 45 67\","
	    "\"personal_data\":\"no\"}}"));
	/* only in attrs; personal_data was absent */
	assert_non_null(strstr(j, "\"fields\":{\"id\":\"A-3\",\"title\":\"x\","
	    "\"description\":\"order 811218-9875\",\"personal_data\":\"yes\"},"
	    "\"attrs\":{\"extra\":\"pnr=811218-XXXX\",\"pnr_count\":1}}"));
	/* the id is kept as sent, and counted */
	assert_non_null(strstr(j, "\"id\":\"8112189876\",\"fields\":{\"id\":"
	    "\"8112189876\",\"title\":\"y\",\"description\":\"z\","
	    "\"personal_data\":\"yes\"},\"attrs\":{\"pnr_count\":1}}"));
	assert_null(strstr(j, "1212-1212"));
	assert_null(strstr(j, "2391"));
	report_parsed_free(&rp);
	report_meta_free(&m);

	/* JSON: a whole number in attrs becomes the masked string; a column
	 * of the reporter's own named parse_warnings is kept. */
	static const char js[] = "{\"entries\":[{\"id\":\"J-1\",\"personal_data\":"
	    "false,\"parse_warnings\":1,\"elev\":198112189876,\"occurred_at\":"
	    "\"121212-1212\"}]}";
	meta(&m, "application/json; kind=supplier; period=2026-10; title=t; "
	    "author=a");
	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, (const unsigned char *)js, strlen(js), &rp);
	assert_string_equal(rp.error, "");
	assert_int_equal(rp.readable, 0);
	assert_non_null(rp.items[0].reason);
	assert_non_null(strstr(rp.items[0].reason, "'121212-XXXX' is not a date"));
	report_parsed_free(&rp);
	static const char js2[] = "{\"entries\":[{\"id\":\"J-1\",\"personal_data\":"
	    "false,\"parse_warnings\":1,\"elev\":198112189876}]}";
	memset(&rp, 0, sizeof(rp));
	report_parse_json(&m, (const unsigned char *)js2, strlen(js2), &rp);
	assert_int_equal(rp.readable, 1);
	j = buf_cstr(&rp.json);
	assert_non_null(strstr(j, "\"personal_data\":\"yes\""));
	assert_null(strstr(j, "\"personal_data\":\"no\""));
	assert_non_null(strstr(j, "\"attrs\":{\"parse_warnings\":1,\"elev\":"
	    "\"811218-XXXX\",\"pnr_count\":1,\"bevis_parse_warnings\":["));
	report_parsed_free(&rp);
	report_meta_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_csv_sample),
		cmocka_unit_test(test_csv_bad),
		cmocka_unit_test(test_csv_unmapped),
		cmocka_unit_test(test_json_sample),
		cmocka_unit_test(test_pnr_in_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
