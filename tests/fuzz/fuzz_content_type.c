/* fuzz_content_type.c - libFuzzer harness for proto_content_type_params(),
 * the content type frame with parameters (protocol 1.1): a type it takes
 * is the media type before the first ';', spaces trimmed, and every
 * parameter is charset=utf-8; a refusal's sentence is printable ASCII and
 * says why; without a ';' it agrees with proto_content_type(). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"

#include "proto.h"

/* The parameters of s (after its first ';') written the long way: each
 * one, spaces around it removed, is empty or charset=utf-8 in some case,
 * the value perhaps quoted. */
static int
params_ok(const char *s, size_t len)
{
	const char *p = memchr(s, ';', len), *end = s + len;

	while (p && p < end) {
		const char *q = memchr(p + 1, ';', (size_t)(end - p - 1));
		const char *a = p + 1, *b = q ? q : end;
		char one[64];
		size_t n = 0;

		for (const char *c = a; c < b; c++) {
			if (*c == ' ' || *c == '\t')
				continue;
			if (n + 1 >= sizeof(one))
				return 0;
			one[n++] = *c;
		}
		one[n] = '\0';
		if (n && strcasecmp(one, "charset=utf-8") != 0 &&
		    strcasecmp(one, "charset=\"utf-8\"") != 0)
			return 0;
		p = q;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char why[300];
	enum content_type ct = proto_content_type_params(s, size, why,
	    sizeof(why));
	const char *semi = memchr(s, ';', size);

	CHECK(strlen(why) < sizeof(why));
	for (const char *w = why; *w; w++)
		CHECK(*w >= 0x20 && *w < 0x7f);
	if (semi == NULL) {
		CHECK(ct == proto_content_type(s, size));
		CHECK(why[0] == '\0');
		return 0;
	}
	size_t m = (size_t)(semi - s);
	while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
		m--;
	enum content_type media = proto_content_type(s, m);
	if (ct != CT_UNKNOWN) {
		CHECK(ct == media);
		CHECK(why[0] == '\0');
		/* Spaces inside a parameter are not taken ("char set"), so
		 * the long way may accept what the parser refuses, but never
		 * the other way round. */
		CHECK(params_ok(s, size));
	} else if (media != CT_UNKNOWN) {
		CHECK(why[0] != '\0');
	}
	return 0;
}
