#include "ledger.h"

#include <stdlib.h>
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

/* ---- encoding ----------------------------------------------------------- */

static void
put_head(struct buf *b, unsigned char kind)
{
	buf_append(b, LEDGER_MAGIC, 4);
	buf_append(b, &kind, 1);
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
ledger_decision_digest(const unsigned char salt[LEDGER_DECISION_SALT_LEN],
    int tag, const char *text, unsigned char out[SHA256_LEN])
{
	struct buf b = BUF_INIT;

	buf_append(&b, salt, LEDGER_DECISION_SALT_LEN);
	buf_putc(&b, (char)tag);
	buf_append(&b, text, strlen(text));
	sha256(b.data, b.len, out);
	buf_free(&b);
}

int
ledger_kind(const unsigned char *d, size_t n)
{
	if (n < LEDGER_HEAD_LEN || memcmp(d, LEDGER_MAGIC, 4) != 0)
		return -1;
	return d[4];
}

const char *
ledger_kind_name(int kind)
{
	static const char *const names[] = {
		[LEDGER_KIND_SUBMISSION] = "submission",
		[LEDGER_KIND_REDACTION] = "redaction",
		[LEDGER_KIND_SUPPLIER_KEY] = "supplier_key",
		[LEDGER_KIND_DECISION] = "decision",
		[LEDGER_KIND_CUSTODY] = "custody",
		[LEDGER_KIND_RULE] = "rule",
		[LEDGER_KIND_KEY_ROTATION] = "supplier_key_rotation",
	};

	if (kind < 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[kind];
}

void
ledger_encode_submission(struct buf *out, const struct ledger_submission *s)
{
	put_head(out, LEDGER_KIND_SUBMISSION);
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

void
ledger_encode_redaction(struct buf *out, const struct ledger_redaction *r)
{
	put_head(out, LEDGER_KIND_REDACTION);
	buf_put_be64(out, (uint64_t)r->submission_id);
	put_str(out, r->actor);
	buf_put_be64(out, (uint64_t)r->at_us);
	put_str(out, r->reason);
}

void
ledger_encode_supplier_key(struct buf *out, const struct ledger_supplier_key *k)
{
	unsigned char action = (unsigned char)k->action;

	put_head(out, LEDGER_KIND_SUPPLIER_KEY);
	buf_append(out, &action, 1);
	put_str(out, k->supplier);
	put_str(out, k->public_key);
	put_str(out, k->fingerprint);
	put_str(out, k->actor);
	buf_put_be64(out, (uint64_t)k->at_us);
}

void
ledger_encode_decision(struct buf *out, const struct ledger_decision *d)
{
	put_head(out, LEDGER_KIND_DECISION);
	put_str(out, d->incident_ref);
	buf_put_be32(out, (uint32_t)d->seq);
	put_str(out, d->kind);
	buf_append(out, d->before_sha256, SHA256_LEN);
	buf_append(out, d->after_sha256, SHA256_LEN);
	buf_append(out, d->rationale_sha256, SHA256_LEN);
	put_str(out, d->actor);
	buf_put_be64(out, (uint64_t)d->at_us);
}

void
ledger_encode_custody(struct buf *out, const struct ledger_custody *c)
{
	put_head(out, LEDGER_KIND_CUSTODY);
	put_str(out, c->incident_ref);
	buf_put_be32(out, (uint32_t)c->seq);
	put_str(out, c->action);
	put_str(out, c->actor);
	buf_put_be64(out, (uint64_t)c->at_us);
	buf_put_be64(out, (uint64_t)c->tree_size);
	buf_append(out, c->bundle_sha256, SHA256_LEN);
	buf_append(out, c->items_sha256, SHA256_LEN);
	buf_append(out, c->reason_sha256, SHA256_LEN);
	buf_append(out, c->destination_sha256, SHA256_LEN);
	put_str(out, c->tool);
}

/* ---- decoding ----------------------------------------------------------- */

/* A reader of leaf data: the first failure sticks. */
struct rd {
	const unsigned char *p;
	size_t len, pos;
	int bad;
};

static uint64_t
rd_int(struct rd *r, int n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->pos < (size_t)n) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v = v << 8 | r->p[r->pos++];
	return v;
}

static void
rd_bytes(struct rd *r, unsigned char *out, size_t n)
{
	if (r->bad || r->len - r->pos < n) {
		r->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->pos, n);
	r->pos += n;
}

/* A 16-bit length and that many bytes, with no NUL, as a new string; NULL
 * (and bad) when it does not decode. */
static char *
rd_str(struct rd *r)
{
	size_t n = (size_t)rd_int(r, 2);

	if (r->bad || r->len - r->pos < n || memchr(r->p + r->pos, '\0', n)) {
		r->bad = 1;
		return NULL;
	}
	char *s = xstrndup((const char *)r->p + r->pos, n);
	r->pos += n;
	return s;
}

static int
rd_head(struct rd *r, const unsigned char *d, size_t n, int kind)
{
	r->p = d;
	r->len = n;
	r->pos = LEDGER_HEAD_LEN;
	r->bad = ledger_kind(d, n) != kind;
	return r->bad ? -1 : 0;
}

/* What is wrong after the fields, if anything. */
static const char *
rd_end(const struct rd *r)
{
	if (r->bad)
		return "it is cut short or a string does not decode";
	if (r->pos != r->len)
		return "it has bytes after its last field";
	return NULL;
}

const char *
ledger_decode_submission(const unsigned char *d, size_t n,
    struct ledger_submission *s)
{
	struct rd r;
	const char *why;

	memset(s, 0, sizeof(*s));
	if (rd_head(&r, d, n, LEDGER_KIND_SUBMISSION) < 0)
		return "its version or kind is not BVL1, 1";
	s->submission_id = (int64_t)rd_int(&r, 8);
	s->supplier = rd_str(&r);
	s->key_fingerprint = rd_str(&r);
	s->received_us = (int64_t)rd_int(&r, 8);
	s->request_id = rd_str(&r);
	s->content_type = rd_str(&r);
	rd_bytes(&r, s->body_sha256, SHA256_LEN);
	s->item_count = (uint32_t)rd_int(&r, 4);
	s->events = (uint32_t)rd_int(&r, 4);
	rd_bytes(&r, s->events_sha256, SHA256_LEN);
	rd_bytes(&r, s->events_redacted_sha256, SHA256_LEN);
	s->quarantined = (uint32_t)rd_int(&r, 4);
	rd_bytes(&r, s->quarantine_sha256, SHA256_LEN);
	if ((why = rd_end(&r)) != NULL)
		ledger_submission_free(s);
	return why;
}

const char *
ledger_decode_redaction(const unsigned char *d, size_t n,
    struct ledger_redaction *rl)
{
	struct rd r;
	const char *why;

	memset(rl, 0, sizeof(*rl));
	if (rd_head(&r, d, n, LEDGER_KIND_REDACTION) < 0)
		return "its version or kind is not BVL1, 2";
	rl->submission_id = (int64_t)rd_int(&r, 8);
	rl->actor = rd_str(&r);
	rl->at_us = (int64_t)rd_int(&r, 8);
	rl->reason = rd_str(&r);
	if ((why = rd_end(&r)) != NULL)
		ledger_redaction_free(rl);
	return why;
}

const char *
ledger_decode_supplier_key(const unsigned char *d, size_t n,
    struct ledger_supplier_key *k)
{
	struct rd r;
	const char *why = NULL;

	memset(k, 0, sizeof(*k));
	if (rd_head(&r, d, n, LEDGER_KIND_SUPPLIER_KEY) < 0)
		return "its version or kind is not BVL1, 3";
	k->action = (int)rd_int(&r, 1);
	/* Each field says what it is: verify names it in its problem. */
	if (r.bad)
		why = "its action does not decode";
	else if (k->action != LEDGER_KEY_ADDED && k->action != LEDGER_KEY_REVOKED)
		why = "its action is neither 1 (added) nor 2 (revoked)";
	else if ((k->supplier = rd_str(&r)) == NULL)
		why = "its supplier name does not decode";
	else if ((k->public_key = rd_str(&r)) == NULL)
		why = "its public key does not decode";
	else if ((k->fingerprint = rd_str(&r)) == NULL)
		why = "its fingerprint does not decode";
	else if ((k->actor = rd_str(&r)) == NULL)
		why = "its actor does not decode";
	else if (r.len - r.pos < 8)
		why = "its time does not decode";
	else if ((k->at_us = (int64_t)rd_int(&r, 8)), r.pos != r.len)
		why = "it has bytes after its time";
	if (why)
		ledger_supplier_key_free(k);
	return why;
}

const char *
ledger_decode_decision(const unsigned char *d, size_t n,
    struct ledger_decision *dc)
{
	struct rd r;
	const char *why = NULL;

	memset(dc, 0, sizeof(*dc));
	if (rd_head(&r, d, n, LEDGER_KIND_DECISION) < 0)
		return "its version or kind is not BVL1, 4";
	/* Each field says what it is: verify names it in its problem. */
	if ((dc->incident_ref = rd_str(&r)) == NULL)
		why = "its incident reference does not decode";
	else if ((dc->seq = (int32_t)(uint32_t)rd_int(&r, 4)), r.bad)
		why = "its sequence number does not decode";
	else if ((dc->kind = rd_str(&r)) == NULL)
		why = "its decision kind does not decode";
	else if (rd_bytes(&r, dc->before_sha256, SHA256_LEN), r.bad)
		why = "its before value's digest does not decode";
	else if (rd_bytes(&r, dc->after_sha256, SHA256_LEN), r.bad)
		why = "its after value's digest does not decode";
	else if (rd_bytes(&r, dc->rationale_sha256, SHA256_LEN), r.bad)
		why = "its rationale's digest does not decode";
	else if ((dc->actor = rd_str(&r)) == NULL)
		why = "its actor does not decode";
	else if (r.len - r.pos < 8)
		why = "its time does not decode";
	else if ((dc->at_us = (int64_t)rd_int(&r, 8)), r.pos != r.len)
		why = "it has bytes after its time";
	if (why)
		ledger_decision_free(dc);
	return why;
}

const char *
ledger_decode_custody(const unsigned char *d, size_t n, struct ledger_custody *c)
{
	struct rd r;
	const char *why = NULL;

	memset(c, 0, sizeof(*c));
	if (rd_head(&r, d, n, LEDGER_KIND_CUSTODY) < 0)
		return "its version or kind is not BVL1, 5";
	/* Each field says what it is: verify names it in its problem. */
	if ((c->incident_ref = rd_str(&r)) == NULL)
		why = "its incident reference does not decode";
	else if ((c->seq = (int32_t)(uint32_t)rd_int(&r, 4)), r.bad)
		why = "its sequence number does not decode";
	else if ((c->action = rd_str(&r)) == NULL)
		why = "its action does not decode";
	else if ((c->actor = rd_str(&r)) == NULL)
		why = "its actor does not decode";
	else if ((c->at_us = (int64_t)rd_int(&r, 8)), r.bad)
		why = "its time does not decode";
	else if ((c->tree_size = (int64_t)rd_int(&r, 8)), r.bad)
		why = "its tree size does not decode";
	else if (rd_bytes(&r, c->bundle_sha256, SHA256_LEN), r.bad)
		why = "its bundle digest does not decode";
	else if (rd_bytes(&r, c->items_sha256, SHA256_LEN), r.bad)
		why = "its items' digest does not decode";
	else if (rd_bytes(&r, c->reason_sha256, SHA256_LEN), r.bad)
		why = "its reason's digest does not decode";
	else if (rd_bytes(&r, c->destination_sha256, SHA256_LEN), r.bad)
		why = "its destination's digest does not decode";
	else if ((c->tool = rd_str(&r)) == NULL)
		why = "its tool does not decode";
	else if (r.pos != r.len)
		why = "it has bytes after its tool";
	if (why)
		ledger_custody_free(c);
	return why;
}

/* The decoders' strings are malloc'd; the structs say const for the
 * encoders' sake. */
static void
free_str(const char **s)
{
	free((char *)(uintptr_t)*s);
	*s = NULL;
}

void
ledger_submission_free(struct ledger_submission *s)
{
	free_str(&s->supplier);
	free_str(&s->key_fingerprint);
	free_str(&s->request_id);
	free_str(&s->content_type);
}

void
ledger_redaction_free(struct ledger_redaction *r)
{
	free_str(&r->actor);
	free_str(&r->reason);
}

void
ledger_supplier_key_free(struct ledger_supplier_key *k)
{
	free_str(&k->supplier);
	free_str(&k->public_key);
	free_str(&k->fingerprint);
	free_str(&k->actor);
}

void
ledger_decision_free(struct ledger_decision *d)
{
	free_str(&d->incident_ref);
	free_str(&d->kind);
	free_str(&d->actor);
}

void
ledger_custody_free(struct ledger_custody *c)
{
	free_str(&c->incident_ref);
	free_str(&c->action);
	free_str(&c->actor);
	free_str(&c->tool);
}

void
ledger_encode_key_rotation(struct buf *out, const struct ledger_key_rotation *k)
{
	put_head(out, LEDGER_KIND_KEY_ROTATION);
	put_str(out, k->supplier);
	put_str(out, k->old_key);
	put_str(out, k->old_fingerprint);
	put_str(out, k->new_key);
	put_str(out, k->new_fingerprint);
	put_str(out, k->actor);
	buf_put_be64(out, (uint64_t)k->at_us);
	buf_put_be64(out, (uint64_t)k->until_us);
}

const char *
ledger_decode_key_rotation(const unsigned char *d, size_t n,
    struct ledger_key_rotation *k)
{
	struct rd r;
	const char *why = NULL;

	memset(k, 0, sizeof(*k));
	if (rd_head(&r, d, n, LEDGER_KIND_KEY_ROTATION) < 0)
		return "its version or kind is not BVL1, 7";
	if ((k->supplier = rd_str(&r)) == NULL)
		why = "its supplier name does not decode";
	else if ((k->old_key = rd_str(&r)) == NULL)
		why = "its old key does not decode";
	else if ((k->old_fingerprint = rd_str(&r)) == NULL)
		why = "its old fingerprint does not decode";
	else if ((k->new_key = rd_str(&r)) == NULL)
		why = "its new key does not decode";
	else if ((k->new_fingerprint = rd_str(&r)) == NULL)
		why = "its new fingerprint does not decode";
	else if ((k->actor = rd_str(&r)) == NULL)
		why = "its actor does not decode";
	else if (r.len - r.pos < 16)
		why = "its times do not decode";
	else if ((k->at_us = (int64_t)rd_int(&r, 8)),
	    (k->until_us = (int64_t)rd_int(&r, 8)), r.pos != r.len)
		why = "it has bytes after its times";
	if (why)
		ledger_key_rotation_free(k);
	return why;
}

void
ledger_key_rotation_free(struct ledger_key_rotation *k)
{
	free_str(&k->supplier);
	free_str(&k->old_key);
	free_str(&k->old_fingerprint);
	free_str(&k->new_key);
	free_str(&k->new_fingerprint);
	free_str(&k->actor);
}

void
ledger_encode_rule(struct buf *out, const struct ledger_rule *r)
{
	unsigned char enabled = r->enabled ? 1 : 0;

	put_head(out, LEDGER_KIND_RULE);
	put_str(out, r->name);
	buf_put_be32(out, (uint32_t)r->version);
	buf_append(out, &enabled, 1);
	put_str(out, r->spec);
	put_str(out, r->actor);
	buf_put_be64(out, (uint64_t)r->at_us);
}

const char *
ledger_decode_rule(const unsigned char *d, size_t n, struct ledger_rule *rl)
{
	struct rd r;
	const char *why = NULL;

	memset(rl, 0, sizeof(*rl));
	if (rd_head(&r, d, n, LEDGER_KIND_RULE) < 0)
		return "its version or kind is not BVL1, 6";
	/* Each field says what it is: verify names it in its problem. */
	if ((rl->name = rd_str(&r)) == NULL)
		why = "its rule name does not decode";
	else if ((rl->version = (int32_t)(uint32_t)rd_int(&r, 4)), r.bad)
		why = "its version does not decode";
	else if ((rl->enabled = (int)rd_int(&r, 1)), r.bad)
		why = "its enabled flag does not decode";
	else if (rl->enabled != 0 && rl->enabled != 1)
		why = "its enabled flag is neither 0 nor 1";
	else if ((rl->spec = rd_str(&r)) == NULL)
		why = "its rule text does not decode";
	else if ((rl->actor = rd_str(&r)) == NULL)
		why = "its actor does not decode";
	else if (r.len - r.pos < 8)
		why = "its time does not decode";
	else if ((rl->at_us = (int64_t)rd_int(&r, 8)), r.pos != r.len)
		why = "it has bytes after its time";
	if (why)
		ledger_rule_free(rl);
	return why;
}

void
ledger_rule_free(struct ledger_rule *r)
{
	free_str(&r->name);
	free_str(&r->spec);
	free_str(&r->actor);
}
