/* ledger.h - the canonical leaf data of the evidence ledger (docs/LEDGER.md).
 * bevisd encodes submission leaves at ingest; bevis verify encodes them
 * again from the stored rows and compares, byte for byte. */
#ifndef BEVIS_LEDGER_H
#define BEVIS_LEDGER_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"
#include "sha256.h"

#define LEDGER_MAGIC		"BVL1"
#define LEDGER_KIND_SUBMISSION	1
#define LEDGER_KIND_REDACTION	2

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

/* Appends the leaf data of a submission to out. */
void ledger_encode_submission(struct buf *out, const struct ledger_submission *s);

#endif
