/* fuzz_cef.c - libFuzzer harness for application/cef: the input is a
 * request body, split into lines, each parsed as CEF (bare or behind a
 * syslog header). Invariants in fuzz_lines.h. */
#include "fuzz_lines.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lines_fuzz(event_parse_cef, data, size);
	(void)cef_severity_map((const char *)data, size);
	return 0;
}
