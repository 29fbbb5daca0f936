/* torture_quality.c - the label values of the bevis_quality_* gauges
 * (daemon/quality.c): backslash, double quote and line feed escaped as the
 * Prometheus text format asks, everything else as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "quality.h"

static void
check(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	quality_label_escape(&b, in);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_label_escape(void **state)
{
	(void)state;
	check("skolplattform", "skolplattform");
	check("a.b_c-d", "a.b_c-d");
	check("", "");
	check("a\"b", "a\\\"b");
	check("a\\b", "a\\\\b");
	check("a\nb", "a\\nb");
	check("\"}\nevil 1", "\\\"}\\nevil 1");
	check("åäö\t", "åäö\t");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
