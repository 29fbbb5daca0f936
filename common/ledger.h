/* ledger.h - the canonical leaf data of the evidence ledger (docs/LEDGER.md),
 * every kind, encoded and decoded here and nowhere else in C. bevisd encodes
 * submission leaves at ingest; the SQL functions bevis_redact(),
 * bevis_supplier_key_leaf(), bevis_decision_leaf(), bevis_custody_leaf(),
 * bevis_rule_leaf() and bevis_supplier_rotation_leaf() write kinds 2 to 7,
 * and the encoders below produce exactly their bytes; bevis verify, export
 * and verify-bundle decode and re-encode them.
 *
 * To add a kind: its number below, its struct, ledger_encode_<kind>,
 * ledger_decode_<kind> and ledger_<kind>_free in ledger.c, its table in
 * docs/LEDGER.md, and fixed bytes (taken from the database if SQL writes it)
 * in tests/unit/torture_ledger.c. */
#ifndef BEVIS_LEDGER_H
#define BEVIS_LEDGER_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"
#include "sha256.h"

#define LEDGER_MAGIC		"BVL1"
#define LEDGER_HEAD_LEN		5	/* magic and the kind byte */
#define LEDGER_KIND_SUBMISSION	1	/* ledger_leaf.kind 'submission' */
#define LEDGER_KIND_REDACTION	2	/* 'redaction' */
#define LEDGER_KIND_SUPPLIER_KEY 3	/* 'supplier_key' */
#define LEDGER_KIND_DECISION	4	/* 'decision' */
#define LEDGER_KIND_CUSTODY	5	/* 'custody' */
#define LEDGER_KIND_RULE	6	/* 'rule' */
#define LEDGER_KIND_KEY_ROTATION 7	/* 'supplier_key_rotation' */

/* The kind of leaf data d (a LEDGER_KIND_*), or -1 without the magic. */
int ledger_kind(const unsigned char *d, size_t n);
/* What ledger_leaf.kind says for a LEDGER_KIND_*; NULL for any other. */
const char *ledger_kind_name(int kind);

/* Columns of an event row, in the order of the ledger's row encoding and of
 * bevisd's COPY. Verify reads rows back with COPY (...) TO STDOUT BINARY in
 * this order and gets the very bytes that were digested at ingest. */
#define LEDGER_EVENT_COLUMNS "submission_id, item_no, supplier_id, " \
	"source_event_id, occurred_at, severity, category, action, outcome, " \
	"actor_user, src_ip, target, message, personal_data, seq, attrs, " \
	"raw_offset, raw_length"
#define LEDGER_EVENT_NCOLS 18
#define LEDGER_QUARANTINE_COLUMNS "submission_id, item_no, reason, " \
	"raw_offset, raw_length"

/* Running digests over the binary COPY rows of one submission's events:
 * as stored, and with the personal columns (actor_user, src_ip, target,
 * message, attrs) as NULL, which is what a GDPR redaction leaves. */
struct ledger_rows {
	EVP_MD_CTX *full;
	EVP_MD_CTX *redacted;
	uint32_t count;
};

void ledger_rows_init(struct ledger_rows *r);
/* Adds one binary COPY tuple (16-bit field count, then fields). Returns -1
 * when row is not a well-formed event tuple. */
int ledger_rows_add(struct ledger_rows *r, const unsigned char *row, size_t len)
    MUSTCHECK;
void ledger_rows_final(struct ledger_rows *r, unsigned char full[SHA256_LEN],
    unsigned char redacted[SHA256_LEN]);

/* Strings in the structs below: NUL-terminated UTF-8, at most 65535 bytes
 * (longer ones are cut, which no caller gives). A decoder fills them with
 * malloc'd copies that ledger_<kind>_free releases; it returns NULL, or
 * what does not decode (and then has freed them). Leaf strings never hold
 * NUL: PostgreSQL text cannot. */

/* Kind 1. */
struct ledger_submission {
	int64_t submission_id;
	const char *supplier;		/* "" when unauthenticated */
	const char *key_fingerprint;	/* the CURVE key's, "" when none */
	int64_t received_us;
	const char *request_id;
	const char *content_type;
	unsigned char body_sha256[SHA256_LEN];
	uint32_t item_count;
	uint32_t events;
	unsigned char events_sha256[SHA256_LEN];
	unsigned char events_redacted_sha256[SHA256_LEN];
	uint32_t quarantined;
	unsigned char quarantine_sha256[SHA256_LEN];
};

/* Kind 2: bevis_redact() (sql/0003_roles.sql). */
struct ledger_redaction {
	int64_t submission_id;
	const char *actor;		/* session_user */
	int64_t at_us;			/* microseconds since the Unix epoch */
	const char *reason;
};

/* Kind 3: bevis_supplier_key_leaf() (sql/0004_suppliers.sql). */
#define LEDGER_KEY_ADDED	1
#define LEDGER_KEY_REVOKED	2
struct ledger_supplier_key {
	int action;			/* LEDGER_KEY_ADDED or _REVOKED */
	const char *supplier;
	const char *public_key;		/* Z85 */
	const char *fingerprint;	/* 32 hex digits */
	const char *actor;
	int64_t at_us;
};

/* Kind 4: one decision on an incident, bevis_decision_leaf()
 * (sql/0008_incidents.sql). The leaf holds keyed digests of the decision's
 * texts, not the texts: the ledger is readable by every bevis role, and a
 * protected incident's title or rationale must not be. Each digest is
 * SHA-256(salt || tag || text) with the decision row's 16-byte salt; tag 1
 * is before and tag 2 after (the jsonb values' text form, exactly as
 * PostgreSQL prints them), tag 3 the rationale. */
#define LEDGER_DECISION_SALT_LEN	16
enum { LEDGER_DIGEST_BEFORE = 1, LEDGER_DIGEST_AFTER, LEDGER_DIGEST_RATIONALE };

struct ledger_decision {
	const char *incident_ref;	/* INC-YYYY-NNNN */
	int32_t seq;			/* from 1, per incident */
	const char *kind;		/* open, triage, link, ... */
	unsigned char before_sha256[SHA256_LEN];
	unsigned char after_sha256[SHA256_LEN];
	unsigned char rationale_sha256[SHA256_LEN];
	const char *actor;		/* session_user */
	int64_t at_us;			/* microseconds since the Unix epoch */
};

/* The digest of one of a decision's texts (tag: LEDGER_DIGEST_*). */
void ledger_decision_digest(const unsigned char salt[LEDGER_DECISION_SALT_LEN],
    int tag, const char *text, unsigned char out[SHA256_LEN]);

/* Kind 5: evidence of an incident taken out (an export), with the fields
 * of ISO/IEC 27037's chain of custody; bevis_custody_leaf()
 * (sql/0009_custody.sql). Reason, destination and items are keyed digests
 * made as a decision's are (ledger_decision_digest with the custody row's
 * salt), with the tags below. */
enum { LEDGER_CUSTODY_ITEMS = 1, LEDGER_CUSTODY_REASON,
	LEDGER_CUSTODY_DESTINATION };

struct ledger_custody {
	const char *incident_ref;	/* INC-YYYY-NNNN */
	int32_t seq;			/* from 1, per incident */
	const char *action;		/* export */
	const char *actor;		/* session_user */
	int64_t at_us;			/* microseconds since the Unix epoch */
	int64_t tree_size;		/* the signed head the bundle proves against */
	unsigned char bundle_sha256[SHA256_LEN];	/* of its manifest.json */
	unsigned char items_sha256[SHA256_LEN];
	unsigned char reason_sha256[SHA256_LEN];
	unsigned char destination_sha256[SHA256_LEN];
	const char *tool;		/* "bevis 0.1.0" */
};

/* Each appends the leaf data to out. */
void ledger_encode_submission(struct buf *out, const struct ledger_submission *s);
void ledger_encode_redaction(struct buf *out, const struct ledger_redaction *r);
void ledger_encode_supplier_key(struct buf *out,
    const struct ledger_supplier_key *k);
void ledger_encode_decision(struct buf *out, const struct ledger_decision *d);
void ledger_encode_custody(struct buf *out, const struct ledger_custody *c);

const char *ledger_decode_submission(const unsigned char *d, size_t n,
    struct ledger_submission *s);
const char *ledger_decode_redaction(const unsigned char *d, size_t n,
    struct ledger_redaction *r);
const char *ledger_decode_supplier_key(const unsigned char *d, size_t n,
    struct ledger_supplier_key *k);
const char *ledger_decode_decision(const unsigned char *d, size_t n,
    struct ledger_decision *dc);
const char *ledger_decode_custody(const unsigned char *d, size_t n,
    struct ledger_custody *c);
void ledger_submission_free(struct ledger_submission *s);
void ledger_redaction_free(struct ledger_redaction *r);
void ledger_supplier_key_free(struct ledger_supplier_key *k);
void ledger_decision_free(struct ledger_decision *d);
void ledger_custody_free(struct ledger_custody *c);


/* Kind 7: a supplier's key rotated, bevis_supplier_rotation_leaf()
 * (sql/0014_protocol11.sql): the old key is valid until until_us. */
struct ledger_key_rotation {
	const char *supplier;
	const char *old_key;		/* Z85 */
	const char *old_fingerprint;
	const char *new_key;		/* Z85 */
	const char *new_fingerprint;
	const char *actor;		/* session_user */
	int64_t at_us;
	int64_t until_us;
};
void ledger_encode_key_rotation(struct buf *out,
    const struct ledger_key_rotation *k);
const char *ledger_decode_key_rotation(const unsigned char *d, size_t n,
    struct ledger_key_rotation *k);
void ledger_key_rotation_free(struct ledger_key_rotation *k);

/* Kind 6: one version of a rule over events, bevis_rule_leaf()
 * (sql/0012_rules.sql). */
struct ledger_rule {
	const char *name;
	int32_t version;		/* from 1, per rule */
	int enabled;			/* 1 or 0 */
	const char *spec;		/* the rule's jsonb, in its text form */
	const char *actor;		/* session_user */
	int64_t at_us;			/* microseconds since the Unix epoch */
};
void ledger_encode_rule(struct buf *out, const struct ledger_rule *r);
const char *ledger_decode_rule(const unsigned char *d, size_t n,
    struct ledger_rule *r);
void ledger_rule_free(struct ledger_rule *r);

#endif
