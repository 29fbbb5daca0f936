/* torture_ledger.c - every leaf kind (common/ledger.c) encoded and decoded
 * against fixed bytes. The bytes are what a real database produced: kind 1
 * written by bevisd for a one-event request, kind 2 by bevis_redact() on
 * it, kind 3 by bevis_supplier_key_leaf() (the docs/LEDGER.md example, and a
 * revocation with a non-ASCII name and a time before 1970), kind 4 by
 * bevis_decision_leaf() (the vector of the pgTAP test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hex.h"
#include "ledger.h"

/* SELECT encode(data, 'hex') FROM ledger_leaf WHERE idx = 0 */
static const char sub_hex[] =
    "42564c3101" "0000000000000001" "0000" "0000" "0006619c3172c74a"
    "0005" "7265712d31" "0014" "6170706c69636174696f6e2f782d6e646a736f6e"
    "a52dc0e6bc28ed8c53f434160ae0eed6eeefc0db9d325f58382f020c95e205d2"
    "00000001" "00000001"
    "805c27ff36c133ccf5233c33dbd785674a7a0f406026a31525deb8870452d4e0"
    "21349e0459417d760ff8875ec1d8cd28aa2f0b30530fa07ca6f81ab8abbfb84a"
    "00000000"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ... idx = 1, after bevis redact --submission 1 --reason '...' */
static const char red_hex[] =
    "42564c3102" "0000000000000001" "0008" "706f737467726573"
    "0006619c317d50ae" "0018"
    "47445052206172742e2031373a20c38573612061736b6564";

/* SELECT encode(bevis_supplier_key_leaf(1, 'acme', '(&r=...', 'f4e3...',
 * 'anna', '2026-10-05T12:00:00Z'), 'hex') */
static const char key_add_hex[] =
    "42564c3103" "01" "0004" "61636d65" "0028"
    "2826723d327156592f7b4f5161342b464441302d4f237365643d796f5b5d3f3d78364c"
    "5879322447" "0020"
    "6634653330393230353934343132356234643964636336303535336161643932"
    "0004" "616e6e61" "00065d169f16d000";

/* ... (2, 'Skolplattform Åland', ..., 'bevis_isam_anna',
 * '1969-12-31T23:59:59.999999Z') */
static const char key_revoke_hex[] =
    "42564c3103" "02" "0014" "536b6f6c706c617474666f726d20c3856c616e64"
    "0028"
    "2826723d327156592f7b4f5161342b464441302d4f237365643d796f5b5d3f3d78364c"
    "5879322447" "0020"
    "6634653330393230353934343132356234643964636336303535336161643932"
    "000f" "62657669735f6973616d5f616e6e61" "ffffffffffffffff";

/* SELECT encode(bevis_decision_leaf('INC-2026-0001', 1, 'open', '{}',
 * '{"a": 1}', '', '\x000102030405060708090a0b0c0d0e0f', 'x',
 * '2026-01-01T00:00:00Z'), 'hex'): the texts as keyed digests. */
static const char dec_hex[] =
    "42564c3104" "000d" "494e432d323032362d30303031" "00000001"
    "0004" "6f70656e"
    "a4c389e38ccbc5c5bfa9d07da6e7850755fdfcd9a9b192eed602e2cbce3bb1d0"
    "548829f41f91c46d9ebe12861dd00c99c8187a0705774b43b6ab706b7c47ebe0"
    "4ec5ceca52eaac2b4a05cd9617c96081ed50c2d1b5d96325bb4866e8ba375904"
    "0001" "78" "0006474846204000";
static const unsigned char dec_salt[LEDGER_DECISION_SALT_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};

/* SELECT encode(bevis_custody_leaf('INC-2026-0001', 1, 'export', 'x',
 * '2026-01-01T00:00:00Z', 7, sha256('b'), '{"a": 1}', 'why', 'h:/d',
 * '\x000102030405060708090a0b0c0d0e0f', 'bevis 0.1.0'), 'hex'). */
static const char cus_hex[] =
    "42564c3105" "000d" "494e432d323032362d30303031" "00000001"
    "0006" "6578706f7274" "0001" "78" "0006474846204000" "0000000000000007"
    "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    "bc3122634d506fa2e84856feb91a426079a2d7672fb97c8f38056c1772173785"
    "d97731155ab68d10b3ccd12d3ef36eef117362aa673a759efbd6f46887df4087"
    "9e4b75d3f31404c9036207b27bc613d5d7705cdf82e4f0e242e6c8ccd5518004"
    "000b" "626576697320302e312e30";
/* SELECT encode(bevis_rule_leaf('brute', 2, true, '{"count": 3,
 * "group_by": "actor.user"}', 'isam', '2026-10-05 12:00:00.5+00'), 'hex') */
static const char rule_hex[] =
    "42564c3106" "0005" "6272757465" "00000002" "01"
    "0026" "7b22636f756e74223a20332c202267726f75705f6279223a20226163746f722e"
    "75736572227d" "0004" "6973616d" "00065d169f1e7120";

#define KEY	"(&r=2qVY/{OQa4+FDA0-O#sed=yo[]?=x6LXy2$G"
#define FP	"f4e309205944125b4d9dcc60553aad92"

static void
unhex(const char *hex, struct buf *b)
{
	assert_int_equal(hex_decode_buf(hex, strlen(hex), b), 0);
}

static void
unhex32(const char *hex, unsigned char out[32])
{
	assert_int_equal(hex_decode(hex, 64, out, 32), 0);
}

static void
test_submission(void **state)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_submission s, d;

	(void)state;
	unhex(sub_hex, &want);
	memset(&s, 0, sizeof(s));
	s.submission_id = 1;
	s.supplier = "";
	s.key_fingerprint = NULL;	/* none: encoded as "" */
	s.received_us = 1796173332662090LL;
	s.request_id = "req-1";
	s.content_type = "application/x-ndjson";
	unhex32("a52dc0e6bc28ed8c53f434160ae0eed6eeefc0db9d325f58382f020c95e205d2",
	    s.body_sha256);
	s.item_count = 1;
	s.events = 1;
	unhex32("805c27ff36c133ccf5233c33dbd785674a7a0f406026a31525deb8870452d4e0",
	    s.events_sha256);
	unhex32("21349e0459417d760ff8875ec1d8cd28aa2f0b30530fa07ca6f81ab8abbfb84a",
	    s.events_redacted_sha256);
	s.quarantined = 0;
	unhex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    s.quarantine_sha256);
	ledger_encode_submission(&got, &s);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);

	assert_int_equal(ledger_kind(want.data, want.len), LEDGER_KIND_SUBMISSION);
	assert_null(ledger_decode_submission(want.data, want.len, &d));
	assert_int_equal(d.submission_id, 1);
	assert_string_equal(d.supplier, "");
	assert_string_equal(d.key_fingerprint, "");
	assert_int_equal(d.received_us, 1796173332662090LL);
	assert_string_equal(d.request_id, "req-1");
	assert_string_equal(d.content_type, "application/x-ndjson");
	assert_memory_equal(d.body_sha256, s.body_sha256, 32);
	assert_int_equal(d.item_count, 1);
	assert_int_equal(d.events, 1);
	assert_memory_equal(d.events_sha256, s.events_sha256, 32);
	assert_memory_equal(d.events_redacted_sha256, s.events_redacted_sha256, 32);
	assert_int_equal(d.quarantined, 0);
	assert_memory_equal(d.quarantine_sha256, s.quarantine_sha256, 32);
	/* decode -> encode gives the bytes back */
	buf_reset(&got);
	ledger_encode_submission(&got, &d);
	assert_memory_equal(got.data, want.data, want.len);
	ledger_submission_free(&d);
	assert_null(d.supplier);
	buf_free(&want);
	buf_free(&got);
}

static void
test_redaction(void **state)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_redaction r = { 1, "postgres", 1796173333352622LL,
		"GDPR art. 17: \xc3\x85sa asked" }, d;

	(void)state;
	unhex(red_hex, &want);
	ledger_encode_redaction(&got, &r);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len), LEDGER_KIND_REDACTION);
	assert_null(ledger_decode_redaction(want.data, want.len, &d));
	assert_int_equal(d.submission_id, 1);
	assert_string_equal(d.actor, "postgres");
	assert_int_equal(d.at_us, 1796173333352622LL);
	assert_string_equal(d.reason, "GDPR art. 17: \xc3\x85sa asked");
	ledger_redaction_free(&d);
	buf_free(&want);
	buf_free(&got);
}

static void
check_key(const char *hex, const struct ledger_supplier_key *k)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_supplier_key d;

	unhex(hex, &want);
	ledger_encode_supplier_key(&got, k);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len),
	    LEDGER_KIND_SUPPLIER_KEY);
	assert_null(ledger_decode_supplier_key(want.data, want.len, &d));
	assert_int_equal(d.action, k->action);
	assert_string_equal(d.supplier, k->supplier);
	assert_string_equal(d.public_key, k->public_key);
	assert_string_equal(d.fingerprint, k->fingerprint);
	assert_string_equal(d.actor, k->actor);
	assert_int_equal(d.at_us, k->at_us);
	ledger_supplier_key_free(&d);
	buf_free(&want);
	buf_free(&got);
}

static void
test_supplier_key(void **state)
{
	const struct ledger_supplier_key add = { LEDGER_KEY_ADDED, "acme", KEY,
		FP, "anna", 1791201600000000LL };
	const struct ledger_supplier_key revoke = { LEDGER_KEY_REVOKED,
		"Skolplattform \xc3\x85land", KEY, FP, "bevis_isam_anna", -1 };

	(void)state;
	check_key(key_add_hex, &add);
	check_key(key_revoke_hex, &revoke);
	/* docs/LEDGER.md: "in 102 bytes" */
	assert_int_equal(strlen(key_add_hex) / 2, 102);
}

/* SELECT encode(bevis_supplier_rotation_leaf('acme', KEY, FP,
 * 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7', '0123...cdef', 'anna',
 * '2026-10-05T12:00:00Z', '2026-10-06T12:00:00Z'), 'hex') (0014) */
static const char rotation_hex[] =
    "42564c3107000461636d6500282826723d327156592f7b4f5161342b46444130"
    "2d4f237365643d796f5b5d3f3d78364c58793224470020663465333039323035"
    "3934343132356234643964636336303535336161643932002872713a724d3e7d"
    "553f404c6e7334374531256b522e6f406e2546636d6d734c2f407b48385d7966"
    "3700203031323334353637383961626364656630313233343536373839616263"
    "6465660004616e6e6100065d169f16d00000065d2abcee3000";

static void
test_key_rotation(void **state)
{
	const struct ledger_key_rotation k = { "acme", KEY, FP,
		"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
		"0123456789abcdef0123456789abcdef", "anna", 1791201600000000LL,
		1791288000000000LL };
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_key_rotation d;

	(void)state;
	unhex(rotation_hex, &want);
	ledger_encode_key_rotation(&got, &k);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len),
	    LEDGER_KIND_KEY_ROTATION);
	assert_string_equal(ledger_kind_name(LEDGER_KIND_KEY_ROTATION),
	    "supplier_key_rotation");
	assert_null(ledger_decode_key_rotation(want.data, want.len, &d));
	assert_string_equal(d.supplier, k.supplier);
	assert_string_equal(d.old_key, k.old_key);
	assert_string_equal(d.new_fingerprint, k.new_fingerprint);
	assert_string_equal(d.actor, k.actor);
	assert_int_equal(d.at_us, k.at_us);
	assert_int_equal(d.until_us, k.until_us);
	ledger_key_rotation_free(&d);
	/* One byte short: its times do not decode. */
	assert_non_null(ledger_decode_key_rotation(want.data, want.len - 1, &d));
	buf_free(&want);
	buf_free(&got);
}

static void
test_decision(void **state)
{
	struct ledger_decision dc = { "INC-2026-0001", 1, "open", { 0 }, { 0 },
		{ 0 }, "x", 1767225600000000LL };
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_decision d;

	(void)state;
	ledger_decision_digest(dec_salt, LEDGER_DIGEST_BEFORE, "{}",
	    dc.before_sha256);
	ledger_decision_digest(dec_salt, LEDGER_DIGEST_AFTER, "{\"a\": 1}",
	    dc.after_sha256);
	ledger_decision_digest(dec_salt, LEDGER_DIGEST_RATIONALE, "",
	    dc.rationale_sha256);
	unhex(dec_hex, &want);
	ledger_encode_decision(&got, &dc);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len), LEDGER_KIND_DECISION);
	assert_null(ledger_decode_decision(want.data, want.len, &d));
	assert_string_equal(d.incident_ref, "INC-2026-0001");
	assert_int_equal(d.seq, 1);
	assert_string_equal(d.kind, "open");
	assert_memory_equal(d.before_sha256, dc.before_sha256, SHA256_LEN);
	assert_memory_equal(d.after_sha256, dc.after_sha256, SHA256_LEN);
	assert_memory_equal(d.rationale_sha256, dc.rationale_sha256, SHA256_LEN);
	assert_string_equal(d.actor, "x");
	assert_int_equal(d.at_us, 1767225600000000LL);
	/* decode -> encode gives the bytes back */
	buf_reset(&got);
	ledger_encode_decision(&got, &d);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	ledger_decision_free(&d);
	assert_null(d.kind);
	buf_free(&want);
	buf_free(&got);
}

static void
test_custody(void **state)
{
	struct ledger_custody cu = { "INC-2026-0001", 1, "export", "x",
		1767225600000000LL, 7, { 0 }, { 0 }, { 0 }, { 0 }, "bevis 0.1.0" };
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_custody c;
	const char *why;

	(void)state;
	sha256("b", 1, cu.bundle_sha256);
	ledger_decision_digest(dec_salt, LEDGER_CUSTODY_ITEMS, "{\"a\": 1}",
	    cu.items_sha256);
	ledger_decision_digest(dec_salt, LEDGER_CUSTODY_REASON, "why",
	    cu.reason_sha256);
	ledger_decision_digest(dec_salt, LEDGER_CUSTODY_DESTINATION, "h:/d",
	    cu.destination_sha256);
	unhex(cus_hex, &want);
	ledger_encode_custody(&got, &cu);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len), LEDGER_KIND_CUSTODY);
	assert_null(ledger_decode_custody(want.data, want.len, &c));
	assert_string_equal(c.incident_ref, "INC-2026-0001");
	assert_int_equal(c.seq, 1);
	assert_string_equal(c.action, "export");
	assert_string_equal(c.actor, "x");
	assert_int_equal(c.at_us, 1767225600000000LL);
	assert_int_equal(c.tree_size, 7);
	assert_memory_equal(c.reason_sha256, cu.reason_sha256, SHA256_LEN);
	assert_string_equal(c.tool, "bevis 0.1.0");
	buf_reset(&got);
	ledger_encode_custody(&got, &c);
	assert_memory_equal(got.data, want.data, want.len);
	ledger_custody_free(&c);
	/* Every cut fails, and so do a trailing byte and another kind. */
	for (size_t n = 0; n < want.len; n++) {
		assert_non_null(ledger_decode_custody(want.data, n, &c));
		assert_null(c.tool);
	}
	buf_putc(&want, 0);
	why = ledger_decode_custody(want.data, want.len, &c);
	assert_string_equal(why, "it has bytes after its tool");
	want.data[4] = 4;
	assert_string_equal(ledger_decode_custody(want.data, want.len, &c),
	    "its version or kind is not BVL1, 5");
	buf_free(&want);
	buf_free(&got);
}

static void
test_rule(void **state)
{
	struct ledger_rule rl = { "brute", 2, 1,
		"{\"count\": 3, \"group_by\": \"actor.user\"}", "isam",
		1791201600500000LL };
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ledger_rule r;

	(void)state;
	unhex(rule_hex, &want);
	ledger_encode_rule(&got, &rl);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(ledger_kind(want.data, want.len), LEDGER_KIND_RULE);
	assert_null(ledger_decode_rule(want.data, want.len, &r));
	assert_string_equal(r.name, "brute");
	assert_int_equal(r.version, 2);
	assert_int_equal(r.enabled, 1);
	assert_string_equal(r.spec, rl.spec);
	assert_string_equal(r.actor, "isam");
	assert_int_equal(r.at_us, 1791201600500000LL);
	buf_reset(&got);
	ledger_encode_rule(&got, &r);
	assert_memory_equal(got.data, want.data, want.len);
	ledger_rule_free(&r);
	assert_null(r.spec);
	/* Every cut fails, naming its field; so do a bad flag and a tail. */
	for (size_t n = 0; n < want.len; n++)
		assert_non_null(ledger_decode_rule(want.data, n, &r));
	assert_string_equal(ledger_decode_rule(want.data, 13, &r),
	    "its version does not decode");
	assert_string_equal(ledger_decode_rule(want.data, 16, &r),
	    "its enabled flag does not decode");
	want.data[16] = 2;
	assert_string_equal(ledger_decode_rule(want.data, want.len, &r),
	    "its enabled flag is neither 0 nor 1");
	want.data[16] = 1;
	buf_putc(&want, 0);
	assert_string_equal(ledger_decode_rule(want.data, want.len, &r),
	    "it has bytes after its time");
	buf_free(&want);
	buf_free(&got);
}

static void
test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(ledger_kind_name(LEDGER_KIND_SUBMISSION), "submission");
	assert_string_equal(ledger_kind_name(LEDGER_KIND_REDACTION), "redaction");
	assert_string_equal(ledger_kind_name(LEDGER_KIND_SUPPLIER_KEY),
	    "supplier_key");
	assert_string_equal(ledger_kind_name(LEDGER_KIND_DECISION), "decision");
	assert_string_equal(ledger_kind_name(LEDGER_KIND_RULE), "rule");
	assert_null(ledger_kind_name(0));
	assert_string_equal(ledger_kind_name(LEDGER_KIND_CUSTODY), "custody");
	assert_null(ledger_kind_name(99));
	assert_null(ledger_kind_name(-1));
	assert_int_equal(ledger_kind((const unsigned char *)"BVL2\001", 5), -1);
	assert_int_equal(ledger_kind((const unsigned char *)"BVL1", 4), -1);
}

/* Every cut of every kind fails to decode, and so do trailing bytes, a
 * wrong kind byte and a NUL inside a string. */
static void
test_malformed(void **state)
{
	struct buf b = BUF_INIT;
	struct ledger_submission s;
	struct ledger_redaction r;
	struct ledger_supplier_key k;

	(void)state;
	unhex(sub_hex, &b);
	for (size_t n = 0; n < b.len; n++)
		assert_non_null(ledger_decode_submission(b.data, n, &s));
	assert_string_equal(ledger_decode_redaction(b.data, b.len, &r),
	    "its version or kind is not BVL1, 2");
	buf_putc(&b, 0);
	assert_string_equal(ledger_decode_submission(b.data, b.len, &s),
	    "it has bytes after its last field");

	unhex(red_hex, &b);
	for (size_t n = 0; n < b.len; n++)
		assert_non_null(ledger_decode_redaction(b.data, n, &r));
	assert_string_equal(ledger_decode_submission(b.data, b.len, &s),
	    "its version or kind is not BVL1, 1");
	b.data[16] = 0;		/* "postgres" -> "po\0tgres" */
	assert_string_equal(ledger_decode_redaction(b.data, b.len, &r),
	    "it is cut short or a string does not decode");

	unhex(key_add_hex, &b);
	for (size_t n = 0; n < b.len; n++)
		assert_non_null(ledger_decode_supplier_key(b.data, n, &k));
	assert_string_equal(ledger_decode_supplier_key(b.data, 5, &k),
	    "its action does not decode");
	assert_string_equal(ledger_decode_supplier_key(b.data, 9, &k),
	    "its supplier name does not decode");
	assert_string_equal(ledger_decode_supplier_key(b.data, b.len - 1, &k),
	    "its time does not decode");
	buf_putc(&b, 0);
	assert_string_equal(ledger_decode_supplier_key(b.data, b.len, &k),
	    "it has bytes after its time");
	b.data[5] = 3;
	assert_string_equal(ledger_decode_supplier_key(b.data, b.len, &k),
	    "its action is neither 1 (added) nor 2 (revoked)");
	b.data[4] = 2;
	assert_string_equal(ledger_decode_supplier_key(b.data, b.len, &k),
	    "its version or kind is not BVL1, 3");
	buf_free(&b);
}

/* The decision leaf cut at every byte, each field's cut named; lengths
 * that claim more than there is; trailing bytes. */
static void
test_decision_malformed(void **state)
{
	struct buf b = BUF_INIT;
	struct ledger_decision d;
	/* Offsets in dec_hex: ref at 5, seq at 20, kind at 24, the digests of
	 * before at 30, after at 62 and the rationale at 94, actor at 126, at
	 * at 129; 137 long. */
	static const struct { size_t cut; const char *why; } cuts[] = {
		{ 5, "its incident reference does not decode" },
		{ 19, "its incident reference does not decode" },
		{ 23, "its sequence number does not decode" },
		{ 29, "its decision kind does not decode" },
		{ 61, "its before value's digest does not decode" },
		{ 93, "its after value's digest does not decode" },
		{ 125, "its rationale's digest does not decode" },
		{ 128, "its actor does not decode" },
		{ 129, "its time does not decode" },
		{ 136, "its time does not decode" },
	};

	(void)state;
	unhex(dec_hex, &b);
	assert_int_equal(b.len, 137);
	for (size_t n = 0; n < b.len; n++)
		assert_non_null(ledger_decode_decision(b.data, n, &d));
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_string_equal(ledger_decode_decision(b.data, cuts[i].cut, &d),
		    cuts[i].why);
	/* The ref claims 14 bytes, one more than it has. */
	b.data[6] = 14;
	assert_non_null(ledger_decode_decision(b.data, b.len, &d));
	b.data[6] = 13;
	/* The actor claims 2 bytes: it takes the time's first byte, a NUL. */
	b.data[127] = 2;
	assert_string_equal(ledger_decode_decision(b.data, b.len, &d),
	    "its actor does not decode");
	b.data[127] = 1;
	assert_null(ledger_decode_decision(b.data, b.len, &d));
	ledger_decision_free(&d);
	buf_putc(&b, 0);
	assert_string_equal(ledger_decode_decision(b.data, b.len, &d),
	    "it has bytes after its time");
	b.len--;
	b.data[4] = 3;
	assert_string_equal(ledger_decode_decision(b.data, b.len, &d),
	    "its version or kind is not BVL1, 4");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submission),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_supplier_key),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_decision),
		cmocka_unit_test(test_custody),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_decision_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
