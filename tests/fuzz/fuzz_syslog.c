/* fuzz_syslog.c - libFuzzer harness for text/syslog: the input is a
 * request body, split into lines, each parsed as RFC 5424 or RFC 3164.
 * Invariants in fuzz_lines.h. */
#include "fuzz_lines.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lines_fuzz(event_parse_syslog, data, size);
	return 0;
}
