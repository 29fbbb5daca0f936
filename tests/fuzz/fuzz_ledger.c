/* fuzz_ledger.c - libFuzzer harness for the ledger leaf decoders
 * (common/ledger.c), which bevis verify, export and verify-bundle run on
 * bytes read from the database or a bundle: no decoder crashes or leaks,
 * a failure always says why, and what decodes encodes back to exactly the
 * bytes it came from (the encoding is canonical, so verify's byte-for-byte
 * comparison is sound). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"

#include "buf.h"
#include "ledger.h"

static void
same(const struct buf *b, const uint8_t *data, size_t size)
{
	CHECK(b->len == size && memcmp(b->data, data, size) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	const char *why;

	switch (ledger_kind(data, size)) {
	case LEDGER_KIND_RULE: {
		struct ledger_rule r;

		if ((why = ledger_decode_rule(data, size, &r)) != NULL) {
			CHECK(why[0] != '\0' && r.name == NULL && r.spec == NULL);
			break;
		}
		CHECK(r.enabled == 0 || r.enabled == 1);
		ledger_encode_rule(&b, &r);
		same(&b, data, size);
		ledger_rule_free(&r);
		break;
	}
	case LEDGER_KIND_DECISION: {
		struct ledger_decision d;

		if ((why = ledger_decode_decision(data, size, &d)) != NULL) {
			CHECK(why[0] != '\0' && d.incident_ref == NULL);
			break;
		}
		ledger_encode_decision(&b, &d);
		same(&b, data, size);
		ledger_decision_free(&d);
		break;
	}
	case LEDGER_KIND_SUPPLIER_KEY: {
		struct ledger_supplier_key k;

		if ((why = ledger_decode_supplier_key(data, size, &k)) != NULL) {
			CHECK(why[0] != '\0' && k.supplier == NULL);
			break;
		}
		ledger_encode_supplier_key(&b, &k);
		same(&b, data, size);
		ledger_supplier_key_free(&k);
		break;
	}
	case LEDGER_KIND_REDACTION: {
		struct ledger_redaction r;

		if ((why = ledger_decode_redaction(data, size, &r)) != NULL)
			break;
		ledger_encode_redaction(&b, &r);
		same(&b, data, size);
		ledger_redaction_free(&r);
		break;
	}
	case LEDGER_KIND_SUBMISSION: {
		struct ledger_submission s;

		if ((why = ledger_decode_submission(data, size, &s)) != NULL)
			break;
		ledger_encode_submission(&b, &s);
		same(&b, data, size);
		ledger_submission_free(&s);
		break;
	}
	default:
		/* Every decoder refuses what is not its kind. */
		if (size >= 5) {
			struct ledger_rule r;

			CHECK(ledger_decode_rule(data, size, &r) != NULL);
		}
		break;
	}
	buf_free(&b);
	return 0;
}
