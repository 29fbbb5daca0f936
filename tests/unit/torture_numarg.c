/* torture_numarg.c - common/numarg.c: every numeric option goes through
 * these two, so each refusal is checked with its exact reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "numarg.h"

static void
ok_at(const char *s, long long min, long long max, long long want, int line)
{
	long long v = -12345;
	char err[160] = "";

	if (numarg_parse(s, min, max, &v, err, sizeof(err)) != 0)
		fail_msg("line %d: '%s': %s", line, s, err);
	if (v != want)
		fail_msg("line %d: '%s': got %lld, want %lld", line, s, v, want);
}

static void
err_at(const char *s, long long min, long long max, const char *want, int line)
{
	long long v = -12345;
	char err[160] = "";

	if (numarg_parse(s, min, max, &v, err, sizeof(err)) != -1)
		fail_msg("line %d: '%s' accepted as %lld", line, s ? s : "(null)", v);
	if (strcmp(err, want) != 0)
		fail_msg("line %d: got '%s', want '%s'", line, err, want);
	assert_int_equal(v, -12345);	/* untouched */
}
#define OK(s, min, max, want)	ok_at(s, min, max, want, __LINE__)
#define ERR(s, min, max, want)	err_at(s, min, max, want, __LINE__)

static void
test_whole_numbers(void **state)
{
	(void)state;
	OK("0", 0, 10, 0);
	OK("10", 0, 10, 10);
	OK("-5", -10, 10, -5);
	OK("+7", 0, 10, 7);
	OK("007", 0, 10, 7);
	OK("9223372036854775807", 0, LLONG_MAX, LLONG_MAX);
	OK("-9223372036854775808", LLONG_MIN, 0, LLONG_MIN);
	ERR("11", 0, 10, "'11' is out of range (0 to 10)");
	ERR("-1", 0, 10, "'-1' is out of range (0 to 10)");
	ERR("0", 1, 1000, "'0' is out of range (1 to 1000)");
	/* Overflow is refused, not clamped or wrapped. */
	ERR("99999999999999999999", 1, LLONG_MAX,
	    "'99999999999999999999' is out of range (1 to 9223372036854775807)");
	ERR("-99999999999999999999", LLONG_MIN, 0,
	    "'-99999999999999999999' is out of range (-9223372036854775808 to 0)");
	ERR("9223372036854775808", 0, LLONG_MAX,
	    "'9223372036854775808' is out of range (0 to 9223372036854775807)");
	/* Not numbers, or numbers with something around them. */
	ERR("", 0, 10, "'' is not a whole number");
	ERR(NULL, 0, 10, "'' is not a whole number");
	ERR("abc", 0, 10, "'abc' is not a whole number");
	ERR("1x", 0, 10, "'1x' is not a whole number");
	ERR("1.5", 0, 10, "'1.5' is not a whole number");
	ERR("1e3", 0, 10000, "'1e3' is not a whole number");
	ERR(" 1", 0, 10, "' 1' is not a whole number");
	ERR("1 ", 0, 10, "'1 ' is not a whole number");
	ERR("-", 0, 10, "'-' is not a whole number");
	ERR("0x10", 0, 100, "'0x10' is not a whole number");
}

static void
test_seconds(void **state)
{
	long long ms = -1;
	char err[160] = "";

	(void)state;
	assert_int_equal(numarg_parse_seconds("2", 1, 3600000, &ms, err,
	    sizeof(err)), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(numarg_parse_seconds("0.25", 1, 3600000, &ms, err,
	    sizeof(err)), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(numarg_parse_seconds(".5", 1, 3600000, &ms, err,
	    sizeof(err)), 0);
	assert_int_equal(ms, 500);
	ms = -1;
	assert_int_equal(numarg_parse_seconds("0", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'0' is out of range (0.001 to 3600 seconds)");
	assert_int_equal(numarg_parse_seconds("1e300", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'1e300' is out of range (0.001 to 3600 seconds)");
	assert_int_equal(numarg_parse_seconds("inf", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'inf' is not a number of seconds");
	assert_int_equal(numarg_parse_seconds("nan", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'nan' is not a number of seconds");
	assert_int_equal(numarg_parse_seconds("2s", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'2s' is not a number of seconds");
	assert_int_equal(numarg_parse_seconds("", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'' is not a number of seconds");
	assert_int_equal(numarg_parse_seconds(".", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'.' is not a number of seconds");
	assert_int_equal(numarg_parse_seconds("-1", 1, 3600000, &ms, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'-1' is out of range (0.001 to 3600 seconds)");
	assert_int_equal(ms, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_numbers),
		cmocka_unit_test(test_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
