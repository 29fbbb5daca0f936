#include "ledger.h"

#include <string.h>

#include "pgcopy.h"
#include "xmalloc.h"

/* Field positions (0-based) of the personal columns in LEDGER_EVENT_COLUMNS. */
static const int personal_fields[] = { 9, 10, 11, 12, 15 };

void
ledger_rows_init(struct ledger_rows *r)
{
	r->full = EVP_MD_CTX_new();
	r->redacted = EVP_MD_CTX_new();
	if (r->full == NULL || r->redacted == NULL ||
	    EVP_DigestInit_ex(r->full, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(r->redacted, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit sha256 failed");
	r->count = 0;
}

int
ledger_rows_add(struct ledger_rows *r, const unsigned char *row, size_t len)
{
	static const unsigned char null_field[4] = { 0xff, 0xff, 0xff, 0xff };
	struct pgcopy_tuple t;
	const char *why;
	size_t used, k = 0;

	if (pgcopy_read_tuple(row, len, &t, &used, &why) != PGCOPY_TUPLE ||
	    used != len || t.nf != LEDGER_EVENT_NCOLS)
		return -1;
	EVP_DigestUpdate(r->full, row, len);
	EVP_DigestUpdate(r->redacted, row, 2);
	for (int i = 0; i < LEDGER_EVENT_NCOLS; i++) {
		/* The field with its length word, as it stands in the row. */
		const unsigned char *field = t.f[i] ? t.f[i] - 4 : NULL;

		if (k < sizeof(personal_fields) / sizeof(personal_fields[0]) &&
		    personal_fields[k] == i) {
			EVP_DigestUpdate(r->redacted, null_field, 4);
			k++;
		} else if (field == NULL) {
			EVP_DigestUpdate(r->redacted, null_field, 4);
		} else {
			EVP_DigestUpdate(r->redacted, field, 4 + t.flen[i]);
		}
	}
	r->count++;
	return 0;
}

void
ledger_rows_final(struct ledger_rows *r, unsigned char full[SHA256_LEN],
    unsigned char redacted[SHA256_LEN])
{
	EVP_DigestFinal_ex(r->full, full, NULL);
	EVP_DigestFinal_ex(r->redacted, redacted, NULL);
	EVP_MD_CTX_free(r->full);
	EVP_MD_CTX_free(r->redacted);
	r->full = r->redacted = NULL;
}

static void
put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > 0xffff)
		n = 0xffff;
	buf_put_be16(b, (uint16_t)n);
	buf_append(b, s, n);
}

void
ledger_encode_submission(struct buf *out, const struct ledger_submission *s)
{
	unsigned char kind = LEDGER_KIND_SUBMISSION;

	buf_append(out, LEDGER_MAGIC, 4);
	buf_append(out, &kind, 1);
	buf_put_be64(out, (uint64_t)s->submission_id);
	put_str(out, s->supplier);
	put_str(out, s->key_fingerprint ? s->key_fingerprint : "");
	buf_put_be64(out, (uint64_t)s->received_us);
	put_str(out, s->request_id);
	put_str(out, s->content_type);
	buf_append(out, s->body_sha256, SHA256_LEN);
	buf_put_be32(out, s->item_count);
	buf_put_be32(out, s->events);
	buf_append(out, s->events_sha256, SHA256_LEN);
	buf_append(out, s->events_redacted_sha256, SHA256_LEN);
	buf_put_be32(out, s->quarantined);
	buf_append(out, s->quarantine_sha256, SHA256_LEN);
}
