/* torture_pnr.c - personnummer and samordningsnummer in text (common/pnr.c):
 * true positives, look-alikes that are not, masking, and the event-wide
 * scan that sets personal_data and attrs.pnr_count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "pnr.h"

struct pnr_case {
	const char *text;
	size_t count;
	const char *masked;		/* NULL: the text unchanged */
};

static const struct pnr_case cases[] = {
	/* true positives */
	{ "8112189876", 1, "811218-XXXX" },
	{ "811218-9876", 1, "811218-XXXX" },
	{ "811218+9876", 1, "811218-XXXX" },		/* 100 years or older */
	{ "198112189876", 1, "811218-XXXX" },
	{ "19811218-9876", 1, "811218-XXXX" },
	{ "701063-2391", 1, "701063-XXXX" },		/* samordningsnummer */
	{ "197010632391", 1, "701063-XXXX" },
	{ "000229-1235", 1, "000229-XXXX" },		/* 2000-02-29 */
	{ "elev 121212-1212 loggade in", 1, "elev 121212-XXXX loggade in" },
	{ "pnr=8112189876,", 1, "pnr=811218-XXXX," },
	{ "a 811218-9876 b 701063-2391.", 2,
	    "a 811218-XXXX b 701063-XXXX." },
	{ "(19811218-9876)", 1, "(811218-XXXX)" },
	{ "user: 200001019 5", 0, NULL },
	/* true negatives that look alike */
	{ "ring 070-123 45 67", 0, NULL },		/* phone numbers */
	{ "0701234567", 0, NULL },			/* fails Luhn */
	{ "+46701234567", 0, NULL },
	{ "order 10002345678", 0, NULL },		/* 11 digits */
	{ "ORD-8112189876", 0, NULL },			/* glued to a word */
	{ "A8112189876", 0, NULL },
	{ "8112189876123", 0, NULL },			/* longer run */
	{ "811218-9875", 0, NULL },			/* Luhn fails */
	{ "811318-9876", 0, NULL },			/* month 13 */
	{ "810230-1234", 0, NULL },			/* 30 February */
	{ "010229-1234", 0, NULL },			/* 2001 is no leap year */
	{ "19000229-1234", 0, NULL },			/* nor 1900 */
	{ "17811218-9876", 0, NULL },			/* century 17 */
	{ "811299-9876", 0, NULL },			/* day 99 */
	{ "2024-811218-9876", 0, NULL },		/* glued to digits */
	{ "811218-9876-1", 0, NULL },
	{ "1.8112189876", 0, NULL },
	{ "rt=1543270652000", 0, NULL },		/* epoch ms */
	{ "811218-XXXX", 0, NULL },			/* already masked */
	{ "", 0, NULL },
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pnr_case *c = &cases[i];
		struct buf out = BUF_INIT;
		size_t n = strlen(c->text);

		if (pnr_count(c->text, n) != c->count)
			fail_msg("'%s': count %zu, want %zu", c->text,
			    pnr_count(c->text, n), c->count);
		assert_int_equal(pnr_mask(c->text, n, &out), c->count);
		const char *want = c->masked ? c->masked : c->text;
		if (out.len != strlen(want) || memcmp(out.data, want, out.len))
			fail_msg("'%s': masked '%.*s', want '%s'", c->text,
			    (int)out.len, out.data, want);
		buf_free(&out);
	}
}

static void
test_json(void **state)
{
	static const struct { const char *in, *out; size_t count; } j[] = {
		{ "{\"a\":\"811218-9876\"}", "{\"a\":\"811218-XXXX\"}", 1 },
		{ "{\"a\":8112189876}", "{\"a\":\"811218-XXXX\"}", 1 },
		{ "{\"a\":198112189876,\"b\":1}", "{\"a\":\"811218-XXXX\",\"b\":1}",
		    1 },
		{ "{\"a\":-8112189876}", "{\"a\":-8112189876}", 0 },
		{ "{\"a\":8112189876.5}", "{\"a\":8112189876.5}", 0 },
		{ "{\"a\":\"x\\n8112189876\"}", "{\"a\":\"x\\n811218-XXXX\"}", 1 },
		{ "{\"8112189876\":1}", "{\"811218-XXXX\":1}", 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(j) / sizeof(j[0]); i++) {
		struct buf out = BUF_INIT;
		size_t n = pnr_mask_json(j[i].in, strlen(j[i].in), &out);
		if (n != j[i].count || out.len != strlen(j[i].out) ||
		    memcmp(out.data, j[i].out, out.len))
			fail_msg("'%s': %zu '%.*s'", j[i].in, n, (int)out.len,
			    out.data);
		assert_int_equal(pnr_mask_json(j[i].in, strlen(j[i].in), NULL),
		    j[i].count);
		buf_free(&out);
	}
}

#define SV(s) ((struct strview){ s, sizeof(s) - 1 })

static void
test_event(void **state)
{
	struct sec_event ev;
	struct buf scratch = BUF_INIT;
	(void)state;

	memset(&ev, 0, sizeof(ev));
	ev.id = SV("e1");
	ev.message = SV("login by 19811218-9876 from 10.0.0.1");
	ev.actor_user = SV("8112189876");
	ev.category = SV("auth");
	ev.attrs = SV("{\"pupil\":\"701063-2391\",\"n\":5}");
	assert_int_equal(pnr_event_mask(&ev, &scratch), 3);
	assert_true(ev.personal_data);
	assert_int_equal(ev.message.n, strlen("login by 811218-XXXX from 10.0.0.1"));
	assert_memory_equal(ev.message.p, "login by 811218-XXXX from 10.0.0.1",
	    ev.message.n);
	assert_memory_equal(ev.actor_user.p, "811218-XXXX", 11);
	assert_memory_equal(ev.category.p, "auth", 4);
	const char *a = "{\"pupil\":\"701063-XXXX\",\"n\":5,\"pnr_count\":3}";
	assert_int_equal(ev.attrs.n, strlen(a));
	assert_memory_equal(ev.attrs.p, a, ev.attrs.n);

	/* Nothing found: nothing touched. */
	memset(&ev, 0, sizeof(ev));
	ev.id = SV("e2");
	ev.message = SV("call 070-123 45 67");
	assert_int_equal(pnr_event_mask(&ev, &scratch), 0);
	assert_false(ev.personal_data);
	assert_null(ev.attrs.p);

	/* No attrs yet; the id counts but stays as sent. */
	memset(&ev, 0, sizeof(ev));
	ev.id = SV("8112189876");
	assert_int_equal(pnr_event_mask(&ev, &scratch), 1);
	assert_memory_equal(ev.id.p, "8112189876", 10);
	assert_int_equal(ev.attrs.n, strlen("{\"pnr_count\":1}"));
	assert_memory_equal(ev.attrs.p, "{\"pnr_count\":1}", ev.attrs.n);

	/* Empty attrs object. */
	memset(&ev, 0, sizeof(ev));
	ev.id = SV("e3");
	ev.target = SV("811218-9876");
	ev.attrs = SV("{}");
	assert_int_equal(pnr_event_mask(&ev, &scratch), 1);
	assert_memory_equal(ev.attrs.p, "{\"pnr_count\":1}", ev.attrs.n);
	buf_free(&scratch);
}

/* The digit count that lets a field with fewer than ten digits go
 * unscanned (eight bytes at a time): a number at every alignment and at
 * either end of a field is still found and masked; bytes 0xb0-0xb9 (0x30-0x39
 * with the high bit) and UTF-8 are not digits; nine digits are never a
 * number, and such a field is copied as it is. */
static void
test_few_digits(void **state)
{
	char text[80], want[80];

	(void)state;
	for (size_t pad = 0; pad <= 17; pad++) {
		for (size_t tail = 0; tail <= 9; tail++) {
			struct buf out = BUF_INIT;

			/* pad bytes and a blank before, a blank and tail after */
			snprintf(text, sizeof(text), "%.*s%s811218-9876%s%.*s",
			    (int)pad, "elev\xc3\xa4r_x_elev\xc3\xa4r_x_",
			    pad ? " " : "", tail ? " " : "", (int)tail, "hej_hej_h");
			snprintf(want, sizeof(want), "%.*s%s811218-XXXX%s%.*s",
			    (int)pad, "elev\xc3\xa4r_x_elev\xc3\xa4r_x_",
			    pad ? " " : "", tail ? " " : "", (int)tail, "hej_hej_h");
			assert_int_equal(pnr_count(text, strlen(text)), 1);
			assert_int_equal(pnr_mask(text, strlen(text), &out), 1);
			assert_int_equal(out.len, strlen(want));
			assert_memory_equal(out.data, want, out.len);
			buf_free(&out);
		}
	}
	/* 0xb8 0xb1 ... look like "811218" to a test that ignores the top bit. */
	static const char high[] = "\xb8\xb1\xb1\xb2\xb1\xb8-\xb9\xb8\xb7\xb6 x";
	assert_int_equal(pnr_count(high, strlen(high)), 0);
	/* Nine digits: not scanned, copied unchanged, in text and in JSON. */
	static const char nine[] = "sko-000000123 user4321@skola.example.se";
	struct buf out = BUF_INIT;
	assert_int_equal(pnr_mask(nine, strlen(nine), &out), 0);
	assert_int_equal(out.len, strlen(nine));
	assert_memory_equal(out.data, nine, out.len);
	buf_reset(&out);
	static const char json[] = "{\"tenant\":\"kommun-1\",\"ua\":\"Mozilla/5.0\"}";
	assert_int_equal(pnr_mask_json(json, strlen(json), &out), 0);
	assert_int_equal(out.len, strlen(json));
	assert_memory_equal(out.data, json, out.len);
	assert_int_equal(pnr_mask_json(json, strlen(json), NULL), 0);
	buf_free(&out);
	/* Ten digits as a JSON number at the end of attrs. */
	static const char num[] = "{\"pnr\":8112189876}";
	assert_int_equal(pnr_mask_json(num, strlen(num), NULL), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_few_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
