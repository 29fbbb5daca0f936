/* torture_output.c - the listing renderer (cli/output.c): each byte class
 * (C0, DEL, C1 as UTF-8, a raw 0x9b, valid non-ASCII) and each CSV formula
 * lead character, in table, CSV and JSON form, compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "output.h"

static void
expect_text(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	out_escape_text(&b, in, strlen(in));
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
expect_csv(const char *in, enum out_kind kind, const char *want)
{
	struct buf b = BUF_INIT;

	out_csv_cell(&b, in, kind);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
expect_json(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	out_json_string(&b, in, strlen(in));
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_text_byte_classes(void **state)
{
	(void)state;
	expect_text("plain text", "plain text");
	/* C0: ESC, BEL, NUL-less others, and TAB, LF, CR too */
	expect_text("a\x1b[31mred\x07", "a\\x1b[31mred\\x07");
	expect_text("\x01\t\n\r\x1f", "\\x01\\x09\\x0a\\x0d\\x1f");
	/* DEL */
	expect_text("x\x7fy", "x\\x7fy");
	/* C1 in UTF-8: U+009B (CSI), U+0085 (NEL), U+0080, U+009F */
	expect_text("\xc2\x9b" "31m", "\\u009b31m");
	expect_text("\xc2\x85\xc2\x80\xc2\x9f", "\\u0085\\u0080\\u009f");
	/* a raw 0x9b is not UTF-8: a one-byte CSI to a C1 terminal */
	expect_text("a\x9b" "2J", "a\\x9b2J");
	/* valid non-ASCII passes: Å, NBSP (U+00A0), €, an emoji */
	expect_text("\xc3\x85sa", "\xc3\x85sa");
	expect_text("\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80",
	    "\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80");
	/* other invalid UTF-8: a cut sequence, an overlong, 0xff */
	expect_text("\xc3", "\\xc3");
	expect_text("\xc0\xaf", "\\xc0\\xaf");
	expect_text("\xff", "\\xff");
	expect_text("\xe2\x82" "x", "\\xe2\\x82x");
}

static void
test_csv_cells(void **state)
{
	(void)state;
	/* each formula lead character of a text column */
	expect_csv("=HYPERLINK(\"http://x\")", OUT_TEXT,
	    "\"'=HYPERLINK(\"\"http://x\"\")\"");
	expect_csv("=1+2", OUT_TEXT, "'=1+2");
	expect_csv("+1", OUT_TEXT, "'+1");
	expect_csv("-1", OUT_TEXT, "'-1");
	expect_csv("@SUM(A1)", OUT_TEXT, "'@SUM(A1)");
	expect_csv("\tx", OUT_TEXT, "'\\x09x");
	expect_csv("\rx", OUT_TEXT, "'\\x0dx");
	/* not at the start, or a number column: as is */
	expect_csv("a=1", OUT_TEXT, "a=1");
	expect_csv("-5", OUT_NUMBER, "-5");
	/* control characters escaped: a row stays one line */
	expect_csv("a\x1b" "b\x07", OUT_TEXT, "a\\x1bb\\x07");
	expect_csv("l1\nl2", OUT_TEXT, "l1\\x0al2");
	expect_csv("x\x7f", OUT_TEXT, "x\\x7f");
	expect_csv("\xc2\x9b" "x", OUT_TEXT, "\\u009bx");
	expect_csv("\x9b" "x", OUT_TEXT, "\\x9bx");
	expect_csv("\xc3\x85", OUT_TEXT, "\xc3\x85");
	/* RFC 4180 quoting */
	expect_csv("a,b", OUT_TEXT, "\"a,b\"");
	expect_csv("say \"hi\"", OUT_TEXT, "\"say \"\"hi\"\"\"");
	expect_csv("", OUT_TEXT, "");
}

static void
test_json_strings(void **state)
{
	(void)state;
	expect_json("a\x1b" "b\x07", "\"a\\u001bb\\u0007\"");
	expect_json("\t\n\r\"\\", "\"\\t\\n\\r\\\"\\\\\"");
	expect_json("x\x7f", "\"x\\u007f\"");
	expect_json("\xc2\x9b" "x\xc2\x85", "\"\\u009bx\\u0085\"");
	expect_json("\x9b", "\"\\ufffd\"");
	expect_json("\xc3\x85", "\"\xc3\x85\"");
	/* formulas are data in JSON */
	expect_json("=1+2", "\"=1+2\"");
	expect_json("-1", "\"-1\"");
	expect_json("@x", "\"@x\"");
}

static const struct out_col cols[] = {
	{ "NAME", 0, OUT_TEXT, 0 },
	{ "N", 0, OUT_NUMBER, 0 },
	{ "MSG", 6, OUT_TEXT, 1 },
};

/* Renders rows in format into a string. */
static char *
render(enum out_format format, const char *const rows[][3], size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct out o;

	assert_non_null(f);
	out_init(&o, f, format, cols, 3);
	for (size_t i = 0; i < n; i++)
		out_row(&o, rows[i]);
	out_finish(&o);
	fclose(f);
	return text;
}

static const char *const rows[][3] = {
	{ "\xc3\x85sa", "1", "ok" },
	{ "=cmd|' /C calc'!A0", "-2", "\x1b]0;pwned\x07" },
	{ "\xc2\x9b" "2J", NULL, NULL },
	{ "tab\there", "3", "12345678" },
};

static void
test_table(void **state)
{
	(void)state;
	char *t = render(OUT_TABLE, rows, 4);
	/* The escaped form is measured: "\x1b]0;pw" is cut at 6 characters. */
	assert_string_equal(t,
	    "NAME                N   MSG\n"
	    "\xc3\x85sa                 1   ok\n"
	    "=cmd|' /C calc'!A0  -2  \\x1b]…\n"
	    "\\u009b2J                \n"
	    "tab\\x09here         3   12345…\n");
	free(t);
}

static void
test_csv_rows(void **state)
{
	(void)state;
	char *t = render(OUT_CSV, rows, 4);
	assert_string_equal(t,
	    "NAME,N,MSG\r\n"
	    "\xc3\x85sa,1,ok\r\n"
	    "'=cmd|' /C calc'!A0,-2,\\x1b]0;pwned\\x07\r\n"
	    "\\u009b2J,,\r\n"
	    "tab\\x09here,3,12345678\r\n");
	free(t);
}

static void
test_json_rows(void **state)
{
	(void)state;
	char *t = render(OUT_JSON, rows, 4);
	/* N (NULL) is left out; MSG (json_null) is written as null. */
	assert_string_equal(t,
	    "{\"NAME\":\"\xc3\x85sa\",\"N\":1,\"MSG\":\"ok\"}\n"
	    "{\"NAME\":\"=cmd|' /C calc'!A0\",\"N\":-2,"
	    "\"MSG\":\"\\u001b]0;pwned\\u0007\"}\n"
	    "{\"NAME\":\"\\u009b2J\",\"MSG\":null}\n"
	    "{\"NAME\":\"tab\\there\",\"N\":3,\"MSG\":\"12345678\"}\n");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_byte_classes),
		cmocka_unit_test(test_csv_cells),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_csv_rows),
		cmocka_unit_test(test_json_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
