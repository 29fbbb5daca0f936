/* fuzz_ledger.c - libFuzzer harness for the leaf decoders of common/ledger.c,
 * which read leaf data that verify, evidence, export and verify-bundle take
 * from the database or from a bundle. Whatever decodes must encode back to
 * exactly the same bytes (one encoding per leaf), and whatever does not
 * must leave no string behind. Kinds 1 to 7. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"

#include "buf.h"
#include "ledger.h"

static void
same(const struct buf *b, const uint8_t *data, size_t size)
{
	CHECK(b->len == size);
	CHECK(memcmp(b->data, data, size) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	struct ledger_submission s;
	struct ledger_redaction r;
	struct ledger_supplier_key k;
	struct ledger_decision d;
	struct ledger_custody c;
	struct ledger_rule rl;
	struct ledger_key_rotation kr;
	const char *why;
	int kind = ledger_kind(data, size);

	if (ledger_decode_submission(data, size, &s) == NULL) {
		CHECK(kind == LEDGER_KIND_SUBMISSION);
		ledger_encode_submission(&b, &s);
		same(&b, data, size);
		ledger_submission_free(&s);
	} else {
		CHECK(s.supplier == NULL && s.request_id == NULL);
	}
	buf_reset(&b);
	if (ledger_decode_redaction(data, size, &r) == NULL) {
		ledger_encode_redaction(&b, &r);
		same(&b, data, size);
		ledger_redaction_free(&r);
	}
	buf_reset(&b);
	if (ledger_decode_supplier_key(data, size, &k) == NULL) {
		ledger_encode_supplier_key(&b, &k);
		same(&b, data, size);
		ledger_supplier_key_free(&k);
	}
	buf_reset(&b);
	if (ledger_decode_decision(data, size, &d) == NULL) {
		ledger_encode_decision(&b, &d);
		same(&b, data, size);
		ledger_decision_free(&d);
	} else {
		CHECK(d.incident_ref == NULL && d.kind == NULL && d.actor == NULL);
	}
	buf_reset(&b);
	if (ledger_decode_custody(data, size, &c) == NULL) {
		CHECK(kind == LEDGER_KIND_CUSTODY);
		ledger_encode_custody(&b, &c);
		same(&b, data, size);
		ledger_custody_free(&c);
	} else {
		CHECK(c.incident_ref == NULL && c.action == NULL &&
		    c.actor == NULL && c.tool == NULL);
	}
	buf_reset(&b);
	if ((why = ledger_decode_rule(data, size, &rl)) == NULL) {
		CHECK(kind == LEDGER_KIND_RULE);
		CHECK(rl.enabled == 0 || rl.enabled == 1);
		ledger_encode_rule(&b, &rl);
		same(&b, data, size);
		ledger_rule_free(&rl);
	} else {
		CHECK(why[0] != '\0' && rl.name == NULL && rl.spec == NULL);
	}
	buf_reset(&b);
	if ((why = ledger_decode_key_rotation(data, size, &kr)) == NULL) {
		CHECK(kind == LEDGER_KIND_KEY_ROTATION);
		ledger_encode_key_rotation(&b, &kr);
		same(&b, data, size);
		ledger_key_rotation_free(&kr);
	} else {
		CHECK(why[0] != '\0' && kr.supplier == NULL && kr.actor == NULL);
	}
	buf_free(&b);
	return 0;
}
