/* fuzz_pnr.c - libFuzzer harness for the identity-number scanner
 * (common/pnr.c): counting and masking agree, a masked text holds no
 * number any more, and masking JSON keeps it JSON. */
#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"

#include "buf.h"
#include "pnr.h"
#include "utf8.h"

static int
is_json(const unsigned char *p, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	int ok;

	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	ok = json_tokener_get_error(tok) == json_tokener_success &&
	    (size_t)json_tokener_get_parse_end(tok) == n &&
	    json_object_is_type(o, json_type_object);
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT, j = BUF_INIT;
	size_t c = pnr_count((const char *)data, size);

	CHECK(pnr_mask((const char *)data, size, &out) == c);
	CHECK(out.len <= size + c);	/* 10 to 13 bytes become 11 */
	CHECK(pnr_count((const char *)out.data, out.len) == 0);
	if (utf8_invalid_at(data, size) == (size_t)-1)
		CHECK(utf8_invalid_at(out.data, out.len) == (size_t)-1);
	size_t cj = pnr_mask_json((const char *)data, size, &j);
	CHECK(pnr_mask_json((const char *)data, size, NULL) == cj);
	if (size < 4096 && utf8_invalid_at(data, size) == (size_t)-1 &&
	    is_json(data, size))
		CHECK(is_json(j.data, j.len));
	buf_free(&out);
	buf_free(&j);
	return 0;
}
